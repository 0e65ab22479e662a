"""gRPC edge of the store: etcd v3's KV, Watch, Lease, Cluster and Maintenance services.

Thin by design: each handler checks the request, proposes a command through Raft or reads the
MVCC state under the lock, and builds the response. Errors reach the client with etcd's gRPC code
and exact message; they are mapped to status codes here and nowhere else (`_abort`).
"""
from __future__ import annotations

import asyncio
import logging
import math
import os
import random
import time

import grpc

from skiffpb.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc
from store.metrics import PROPOSALS_FAILED
from store.mvcc import MvccError
from store.raft import ProposalFailed, RaftNode
from store.watch import WatchHub, WatchStream

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 1572864       # etcd's --max-request-bytes default (1.5 MiB)
RAFT_OVERHEAD = 20                # etcd counts the marshalled Raft request: the request plus ~20 B
VERSION = "3.4.0-skiff"


class Member:
    """Everything the servicers share: identity, the Raft node, the watch hub."""

    def __init__(self, node: RaftNode, *, cluster_id: int, member_id: int, members: list[dict],
                 request_timeout: float, min_lease_ttl: int, data_dir: str):
        self.node = node
        self.cluster_id = cluster_id
        self.member_id = member_id
        self.members = members          # [{"id", "name", "peer_url", "addr"}] from --initial-cluster
        self.request_timeout = request_timeout
        self.min_lease_ttl = min_lease_ttl
        self.data_dir = data_dir
        self.hub: WatchHub | None = None

    def header(self, rev: int | None = None) -> rpc_pb2.ResponseHeader:
        if rev is None:
            rev = self.node.mvcc.rev
        return rpc_pb2.ResponseHeader(cluster_id=self.cluster_id, member_id=self.member_id,
                                      revision=rev, raft_term=self.node.raftCurrentTerm)

    def db_size(self) -> int:
        return _dir_size(self.data_dir)

    def leader_id(self) -> int:
        addr = self.node.leader_addr()
        for m in self.members:
            if m["addr"] == addr:
                return m["id"]
        return 0


async def _abort(context, code: str, message: str):
    await context.abort(getattr(grpc.StatusCode, code), message)


async def _guard(context, coro):
    """Runs a handler body; maps the store's exceptions to etcd's status codes and messages."""
    try:
        return await coro
    except MvccError as e:
        await _abort(context, e.code, e.message)
    except ProposalFailed as e:
        PROPOSALS_FAILED.inc()
        code = "RESOURCE_EXHAUSTED" if "too many requests" in e.message else "UNAVAILABLE"
        await _abort(context, code, e.message)


class RequireLeader(grpc.aio.ServerInterceptor):
    """etcd's `hasleader` metadata: a request carrying `hasleader: true` is refused with
    UNAVAILABLE `etcdserver: no leader` before it is proposed, while this member knows no leader.
    Clients rely on that refusal meaning "not applied" (store/client.py retries such writes)."""

    def __init__(self, node: RaftNode):
        self.node = node

    async def intercept_service(self, continuation, details):
        md = dict(details.invocation_metadata or ())
        if md.get("hasleader") == "true" and self.node.leader_addr() is None:
            handler = await continuation(details)
            return _refusing(handler)
        return await continuation(details)


def _refusing(handler):
    async def unary(request, context):
        await context.abort(grpc.StatusCode.UNAVAILABLE, "etcdserver: no leader")

    async def streaming(request_iterator, context):
        await context.abort(grpc.StatusCode.UNAVAILABLE, "etcdserver: no leader")
        yield  # pragma: no cover - makes this an async generator

    if handler is None:
        return None
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(streaming, handler.request_deserializer,
                                                     handler.response_serializer)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(streaming, handler.request_deserializer,
                                                    handler.response_serializer)
    return grpc.unary_unary_rpc_method_handler(unary, handler.request_deserializer, handler.response_serializer)


def _check_size(req) -> None:
    if req.ByteSize() + RAFT_OVERHEAD > MAX_REQUEST_BYTES:
        raise MvccError("INVALID_ARGUMENT", "etcdserver: request is too large")


def _txn_is_read_only(req: rpc_pb2.TxnRequest) -> bool:
    for op in list(req.success) + list(req.failure):
        which = op.WhichOneof("request")
        if which in ("request_put", "request_delete_range"):
            return False
        if which == "request_txn" and not _txn_is_read_only(op.request_txn):
            return False
    return True


class KVService(rpc_pb2_grpc.KVServicer):
    def __init__(self, m: Member):
        self.m = m

    async def _write(self, cmd: tuple):
        res = await self.m.node.submit(cmd, self.m.request_timeout)
        if res.error is not None:
            raise res.error
        return res

    async def Range(self, request, context):
        async def body():
            if not request.serializable:
                await self.m.node.read_barrier(self.m.request_timeout)
            with self.m.node.lock:
                resp = self.m.node.mvcc.range(request)
                resp.header.CopyFrom(self.m.header())
            return resp
        return await _guard(context, body())

    async def Put(self, request, context):
        async def body():
            _check_size(request)
            res = await self._write(("put", request.SerializeToString()))
            res.response.header.CopyFrom(self.m.header(res.revision))
            return res.response
        return await _guard(context, body())

    async def DeleteRange(self, request, context):
        async def body():
            _check_size(request)
            res = await self._write(("delete", request.SerializeToString()))
            res.response.header.CopyFrom(self.m.header(res.revision))
            return res.response
        return await _guard(context, body())

    async def Txn(self, request, context):
        async def body():
            _check_size(request)
            res = await self._write(("txn", request.SerializeToString()))
            resp = res.response
            resp.header.CopyFrom(self.m.header(res.revision))
            _fill_inner_headers(resp, res.revision)
            return resp
        return await _guard(context, body())

    async def Compact(self, request, context):
        async def body():
            res = await self._write(("compact", request.revision))
            log.info("compacted at revision %d", request.revision)
            res.response.header.CopyFrom(self.m.header(res.revision))
            return res.response
        return await _guard(context, body())


def _fill_inner_headers(resp: rpc_pb2.TxnResponse, rev: int) -> None:
    """Responses nested in a Txn carry only the revision in their header, as etcd's do."""
    for op in resp.responses:
        which = op.WhichOneof("response")
        inner = getattr(op, which)
        inner.header.revision = rev
        if which == "response_txn":
            _fill_inner_headers(inner, rev)


class WatchService(rpc_pb2_grpc.WatchServicer):
    def __init__(self, m: Member):
        self.m = m

    async def Watch(self, request_iterator, context):
        stream = WatchStream(self.m.hub)
        failure: list[str] = []

        async def read_requests():
            try:
                async for req in request_iterator:
                    which = req.WhichOneof("request_union")
                    if which == "create_request":
                        stream.create(req.create_request)
                    elif which == "cancel_request":
                        stream.cancel(req.cancel_request.watch_id)
                    elif which == "progress_request":
                        stream.progress()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - a malformed stream ends only this stream
                log.info("watch stream ended by a bad request: %r", e)
                failure.append(f"malformed watch request: {e}")
            finally:
                stream.send(None)  # wakes the sender to finish

        reader = asyncio.ensure_future(read_requests())
        try:
            while True:
                resp = await stream.queue.get()
                if resp is None:
                    break
                yield resp
                if stream.queue.empty():
                    stream.resync()
        finally:
            stream.close()
            reader.cancel()
        if failure:
            await _abort(context, "INVALID_ARGUMENT", failure[0])


class LeaseService(rpc_pb2_grpc.LeaseServicer):
    def __init__(self, m: Member):
        self.m = m

    async def LeaseGrant(self, request, context):
        async def body():
            ttl = max(request.TTL, self.m.min_lease_ttl)
            lease_id = request.ID
            for _ in range(5):
                if request.ID == 0:
                    # Like etcd's, ids look like 16 hex digits: the member id's top bits + random.
                    lease_id = ((self.m.member_id & 0x7FFF) << 48) | random.getrandbits(48)
                    lease_id = lease_id or 1
                res = await self.m.node.submit(("lease_grant", lease_id, ttl), self.m.request_timeout)
                if res.error is not None and request.ID == 0 and res.error.code == "FAILED_PRECONDITION":
                    continue  # an auto-chosen id collided: choose again
                break
            if res.error is not None:
                raise res.error
            resp = res.response
            resp.header.CopyFrom(self.m.header(res.revision))
            return resp
        return await _guard(context, body())

    async def LeaseRevoke(self, request, context):
        async def body():
            res = await self.m.node.submit(("lease_revoke", request.ID), self.m.request_timeout)
            if res.error is not None:
                raise res.error
            return rpc_pb2.LeaseRevokeResponse(header=self.m.header(res.revision))
        return await _guard(context, body())

    async def LeaseKeepAlive(self, request_iterator, context):
        async for req in request_iterator:
            try:
                res = await self.m.node.submit(("lease_keepalive", req.ID), self.m.request_timeout)
            except ProposalFailed as e:
                await _abort(context, "UNAVAILABLE", e.message)
                return
            # TTL 0 for an unknown or expired lease, as etcd answers.
            yield rpc_pb2.LeaseKeepAliveResponse(header=self.m.header(res.revision), ID=req.ID,
                                                 TTL=res.response or 0)

    async def LeaseTimeToLive(self, request, context):
        async def body():
            await self.m.node.read_barrier(self.m.request_timeout)
            node = self.m.node
            with node.lock:
                lease = node.mvcc.leases.get(request.ID)
                resp = rpc_pb2.LeaseTimeToLiveResponse(header=self.m.header(), ID=request.ID)
                if lease is None:
                    resp.TTL = -1
                    return resp
                ttl, keys = lease
                deadline = node.lease_deadlines.get(request.ID, time.monotonic() + ttl)
                resp.TTL = max(0, int(deadline - time.monotonic()))
                resp.grantedTTL = ttl
                if request.keys:
                    resp.keys.extend(sorted(keys))
                return resp
        return await _guard(context, body())

    async def LeaseLeases(self, request, context):
        async def body():
            await self.m.node.read_barrier(self.m.request_timeout)
            with self.m.node.lock:
                ids = sorted(self.m.node.mvcc.leases)
            return rpc_pb2.LeaseLeasesResponse(header=self.m.header(),
                                               leases=[rpc_pb2.LeaseStatus(ID=i) for i in ids])
        return await _guard(context, body())


class ClusterService(rpc_pb2_grpc.ClusterServicer):
    def __init__(self, m: Member):
        self.m = m

    async def MemberList(self, request, context):
        with self.m.node.lock:
            published = dict(self.m.node.mvcc.members)
        resp = rpc_pb2.MemberListResponse(header=rpc_pb2.ResponseHeader(
            cluster_id=self.m.cluster_id, member_id=self.m.member_id, raft_term=self.m.node.raftCurrentTerm))
        for mem in self.m.members:
            out = resp.members.add(ID=mem["id"], peerURLs=[mem["peer_url"]])
            if mem["id"] in published:
                name, _peers, clients = published[mem["id"]]
                out.name = name
                out.clientURLs.extend(clients)
        return resp


class MaintenanceService(rpc_pb2_grpc.MaintenanceServicer):
    def __init__(self, m: Member):
        self.m = m

    async def Status(self, request, context):
        st = self.m.node.raft_status()
        size = self.m.db_size()
        return rpc_pb2.StatusResponse(
            header=self.m.header(), version=VERSION, dbSize=size, dbSizeInUse=size,
            leader=self.m.leader_id(), raftIndex=st.get("commit_idx", 0),
            raftTerm=st.get("raft_term", 0), raftAppliedIndex=st.get("last_applied", 0))

    async def HashKV(self, request, context):
        async def body():
            with self.m.node.lock:
                h = self.m.node.mvcc.hash_kv(request.revision)
                return rpc_pb2.HashKVResponse(header=self.m.header(), hash=h,
                                              compact_revision=self.m.node.mvcc.compact_rev)
        return await _guard(context, body())


def _dir_size(path: str) -> int:
    total = 0
    try:
        for entry in os.scandir(path):
            if entry.is_file():
                total += entry.stat().st_size
    except OSError:
        pass
    return total


def min_lease_ttl(election_timeout_ms: int) -> int:
    """etcd's minimum lease TTL: 1.5 election timeouts, rounded up to whole seconds."""
    return math.ceil(1.5 * election_timeout_ms / 1000)
