"""The async client for an etcd v3-compatible store: Skiff's own store, or the real etcd.

Only the apiserver imports it. One `StoreClient` talks to one cluster through an endpoint list
(`"127.0.0.1:2379"` or `"http://127.0.0.1:2379"`, a list or one comma-separated string), with one
grpc.aio channel per member. Calls go to the *pinned* member, the first endpoint at start (shuffle
the list to spread clients over members); when a member fails, the client pins the next one.

    async with StoreClient(["127.0.0.1:2379", "127.0.0.1:22379"], timeout=5.0) as c:
        await c.put(b"k", b"v")
        resp = await c.range(b"pods/", prefix=True)
        ok = await c.txn([compare(b"k", "mod", "==", rev)], [op_put(b"k", b"w")], retry_safe=True)
        async for batch in c.watch(b"pods/", prefix=True, start_revision=resp.header.revision + 1):
            ...

Responses are the generated protobuf messages (`rpc_pb2.PutResponse`, ...). Errors are the
`StoreError` hierarchy, built from a gRPC status code plus etcd's exact message in one place:
`error_from_status`. Those, the pure retry decisions named below and `Backoff` live in
`store/client_errors.py`; this module re-exports them, so import them from `store.client`.

Deadlines
- Every call has one deadline (`timeout`, the client default, or a per-call `timeout=`). It covers
  connecting, every attempt and every backoff sleep: a call returns or raises by then. A member
  that lets a call run into its deadline loses the pin, so a hung member stalls one call, not all.
- Connecting to a member is bounded by `dial_timeout` (and the deadline). A member refusing
  connections fails at once, so failover costs milliseconds, not a dial timeout.

Retry rules (the pure decisions are `should_retry` and `may_have_applied`, in client_errors)
- Between attempts the client sleeps `Backoff.delay(attempt)`: exponential from 25 ms, doubling, capped
  at 1 s, with +-20 % jitter; a retry after an UNAVAILABLE goes to the next member.
- Reads (Range, a Txn whose branches only read), lease calls, MemberList and Status are retried on
  any UNAVAILABLE until the deadline. (A retried LeaseGrant may leave an orphan lease that expires;
  a retried LeaseRevoke may answer LeaseNotFound because the first attempt did revoke.)
- Writes (Put, DeleteRange, a writing Txn, Compact) are retried only when the request is known not
  to have been applied:
  * it was never sent: the member could not be connected to (our readiness check before each
    attempt, or grpc's own "failed to connect to all addresses");
  * the member refused it before proposing it: `etcdserver: no leader` (every write carries the
    `hasleader` metadata, which makes a leaderless member reject it up front) or
    `etcdserver: too many requests` (ResourceExhausted, also rejected before the proposal).
  Any other failure of a sent write (connection reset, `request timed out`, deadline) raises with
  `maybe_applied=True`: the write may have been applied, and the caller must re-read to know.
- `txn(..., retry_safe=True)` is retried like a read. The caller promises the txn is guarded by a
  compare that makes a second application impossible (the apiserver's mod_revision guard). If an
  earlier attempt was applied, the retry's compare fails and the txn answers `succeeded=False`: after
  a retried txn, re-read to tell "someone else wrote" from "my own first attempt wrote". The error of
  a txn that gives up carries `maybe_applied` if any attempt may have been applied.

Watch
- `watch()` opens a Watch stream on the pinned member and yields `WatchResponse` batches (never the
  `created` response, never a revision split across batches). If the stream breaks (member killed,
  `etcdserver: no leader`, server shutdown) it reopens on another member from the last delivered
  event's revision + 1, so events arrive exactly once, in revision order, with no gap. It gives up
  with Unavailable after `watch_resume_timeout` seconds without an open stream.
- A start revision that has been compacted raises `Compacted(compact_revision)`: relist, then watch
  again from the list's revision + 1.
- Progress notifications (`progress_notify=True`) are yielded as batches without events but never
  advance the resume point: etcd 3.4 can send one before events it covers (etcd issue #15220), and
  resuming past them would lose those events.
"""
from __future__ import annotations

import asyncio
import logging
import random
import weakref
from typing import Awaitable, Callable, Iterable, Sequence, TypeVar

import grpc

from skiffpb.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc
# The error hierarchy, the one status->error mapping, the pure retry decisions and Backoff live in
# store/client_errors.py; they are re-exported here, where the apiserver and the tests import them.
from store.client_errors import (  # noqa: F401
    NOT_APPLIED, Backoff, Cancelled, Compacted, DeadlineExceeded, FailedPrecondition, FutureRevision,
    InvalidArgument, LeaseExists, LeaseNotFound, LeaseTTLTooLarge, NoSpace, NotFound, OutOfRange,
    PermissionDenied, RequestTooLarge, ResourceExhausted, StoreError, TooManyRequests, Unavailable,
    Unimplemented, WatchCanceled, error_from_status, may_have_applied, never_sent, should_retry,
    watch_resumable,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
Key = bytes | str

# ---- Pure helpers: endpoints, request builders. --------------------------------------------------


def parse_endpoints(endpoints: str | Iterable[str]) -> list[str]:
    """`"a:1,http://b:2"` or `["a:1", "http://b:2"]` -> `["a:1", "b:2"]` (gRPC targets, in order)."""
    items = endpoints.split(",") if isinstance(endpoints, str) else list(endpoints)
    out: list[str] = []
    for raw in items:
        ep = raw.strip()
        if not ep:
            continue
        if ep.startswith("https://"):
            raise ValueError(f"store endpoint {raw!r}: TLS is not supported; use http://host:port")
        ep = ep.removeprefix("http://").rstrip("/")
        host, sep, port = ep.rpartition(":")
        if not sep or not host or not port.isdigit() or "/" in ep:
            raise ValueError(f"store endpoint {raw!r}: expected host:port or http://host:port")
        if ep not in out:
            out.append(ep)
    if not out:
        raise ValueError("no store endpoints given: pass host:port[,host:port...]")
    return out


def to_bytes(value: Key) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


def prefix_end(prefix: bytes) -> bytes:
    """The range_end that selects every key starting with `prefix` (etcd's rule)."""
    end = bytearray(prefix)
    while end and end[-1] == 0xFF:
        end.pop()
    if not end:
        return b"\0"  # every byte was 0xff (or no prefix): all keys from `prefix` on
    end[-1] += 1
    return bytes(end)


def key_range(key: Key, range_end: Key = b"", *, prefix: bool = False,
              from_key: bool = False) -> tuple[bytes, bytes]:
    """(key, range_end) for one key, an explicit range, a prefix, or every key >= key."""
    k, end = to_bytes(key), to_bytes(range_end)
    if sum((bool(end), prefix, from_key)) > 1:
        raise ValueError("give at most one of range_end, prefix=True, from_key=True")
    if prefix:
        if not k:
            return b"\0", b"\0"  # the empty prefix: all keys
        return k, prefix_end(k)
    if from_key:
        return (k or b"\0"), b"\0"
    return k, end


_SORT_ORDERS = {"none": 0, "ascend": 1, "descend": 2}
_SORT_TARGETS = {"key": 0, "version": 1, "create": 2, "mod": 3, "value": 4}


def range_request(key: Key, range_end: Key = b"", *, prefix: bool = False, from_key: bool = False,
                  revision: int = 0, limit: int = 0, serializable: bool = False,
                  keys_only: bool = False, count_only: bool = False, sort_order: str = "none",
                  sort_target: str = "key") -> rpc_pb2.RangeRequest:
    k, end = key_range(key, range_end, prefix=prefix, from_key=from_key)
    return rpc_pb2.RangeRequest(key=k, range_end=end, revision=revision, limit=limit,
                                serializable=serializable, keys_only=keys_only,
                                count_only=count_only, sort_order=_SORT_ORDERS[sort_order],
                                sort_target=_SORT_TARGETS[sort_target])


_CMP_TARGETS = {"version": (rpc_pb2.Compare.VERSION, "version"),
                "create": (rpc_pb2.Compare.CREATE, "create_revision"),
                "mod": (rpc_pb2.Compare.MOD, "mod_revision"),
                "value": (rpc_pb2.Compare.VALUE, "value"),
                "lease": (rpc_pb2.Compare.LEASE, "lease")}
_CMP_RESULTS = {"==": rpc_pb2.Compare.EQUAL, "!=": rpc_pb2.Compare.NOT_EQUAL,
                "<": rpc_pb2.Compare.LESS, ">": rpc_pb2.Compare.GREATER}


def compare(key: Key, target: str, op: str, value: int | Key, *, range_end: Key = b"",
            prefix: bool = False) -> rpc_pb2.Compare:
    """A txn guard: `compare(b"k", "mod", "==", 7)`, `compare(b"k", "version", "==", 0)` (absent),
    `compare(b"k", "value", "!=", b"x")`. target: version|create|mod|value|lease; op: == != < >."""
    if target not in _CMP_TARGETS or op not in _CMP_RESULTS:
        raise ValueError(f"compare({key!r}, {target!r}, {op!r}, ...): target must be one of "
                         f"{sorted(_CMP_TARGETS)} and op one of {sorted(_CMP_RESULTS)}")
    k, end = key_range(key, range_end, prefix=prefix)
    enum, field = _CMP_TARGETS[target]
    cmp = rpc_pb2.Compare(key=k, range_end=end, target=enum, result=_CMP_RESULTS[op])
    setattr(cmp, field, to_bytes(value) if target == "value" else int(value))
    return cmp


def op_get(key: Key, range_end: Key = b"", **kw) -> rpc_pb2.RequestOp:
    """A Range inside a txn; takes `range_request`'s keywords."""
    return rpc_pb2.RequestOp(request_range=range_request(key, range_end, **kw))


def op_put(key: Key, value: Key, *, lease: int = 0, prev_kv: bool = False) -> rpc_pb2.RequestOp:
    return rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(
        key=to_bytes(key), value=to_bytes(value), lease=lease, prev_kv=prev_kv))


def op_delete(key: Key, range_end: Key = b"", *, prefix: bool = False, from_key: bool = False,
              prev_kv: bool = False) -> rpc_pb2.RequestOp:
    k, end = key_range(key, range_end, prefix=prefix, from_key=from_key)
    return rpc_pb2.RequestOp(request_delete_range=rpc_pb2.DeleteRangeRequest(
        key=k, range_end=end, prev_kv=prev_kv))


def op_txn(compare: Sequence[rpc_pb2.Compare] = (), success: Sequence[rpc_pb2.RequestOp] = (),
           failure: Sequence[rpc_pb2.RequestOp] = ()) -> rpc_pb2.RequestOp:
    """A nested txn inside a txn's branch."""
    return rpc_pb2.RequestOp(request_txn=rpc_pb2.TxnRequest(
        compare=compare, success=success, failure=failure))


def is_read_only(ops: Iterable[rpc_pb2.RequestOp]) -> bool:
    """True when none of `ops` (nested txns included) writes."""
    for op in ops:
        kind = op.WhichOneof("request")
        if kind == "request_txn":
            if not is_read_only([*op.request_txn.success, *op.request_txn.failure]):
                return False
        elif kind != "request_range":
            return False
    return True


# ---- The shell: channels, the attempt loop, the watch. -------------------------------------------

_HASLEADER = (("hasleader", "true"),)

CHANNEL_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.max_send_message_length", 2 * 1024 * 1024),  # etcd's client limit: oversize fails here
    ("grpc.max_receive_message_length", -1),            # big lists and catch-up batches
    # A restarted member is noticed within a second instead of grpc's default backoff (up to 120 s).
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    # A silently dead member (host gone, no RST) breaks open watches after ~15 s.
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
)


class _Member:
    """One endpoint's channel and stubs, created on first use (grpc.aio needs a running loop)."""

    def __init__(self, endpoint: str, options: Sequence[tuple[str, int]]):
        self.endpoint = endpoint
        self.channel = grpc.aio.insecure_channel(endpoint, options=list(options))
        self.kv = rpc_pb2_grpc.KVStub(self.channel)
        self.watch = rpc_pb2_grpc.WatchStub(self.channel)
        self.lease = rpc_pb2_grpc.LeaseStub(self.channel)
        self.cluster = rpc_pb2_grpc.ClusterStub(self.channel)
        self.maintenance = rpc_pb2_grpc.MaintenanceStub(self.channel)

    async def connect(self, limit: float) -> bool:
        """Wait up to `limit` seconds for a usable connection. False at once if connecting failed:
        the caller fails over instead of waiting out grpc's reconnect backoff."""
        loop = asyncio.get_running_loop()
        end = loop.time() + limit
        state = self.channel.get_state(try_to_connect=True)
        while state != grpc.ChannelConnectivity.READY:
            left = end - loop.time()
            if state in (grpc.ChannelConnectivity.TRANSIENT_FAILURE,
                         grpc.ChannelConnectivity.SHUTDOWN) or left <= 0:
                return False
            try:
                await asyncio.wait_for(self.channel.wait_for_state_change(state), left)
            except asyncio.TimeoutError:
                return False
            state = self.channel.get_state(try_to_connect=True)
        return True


class StoreClient:
    """An etcd v3 client with failover, retries and deadlines; see the module docstring."""

    def __init__(self, endpoints: str | Iterable[str], *, timeout: float = 5.0,
                 dial_timeout: float = 2.0, watch_resume_timeout: float = 30.0,
                 backoff: Backoff = Backoff(), rng: random.Random | None = None,
                 channel_options: Sequence[tuple[str, int]] = CHANNEL_OPTIONS):
        self.endpoints = parse_endpoints(endpoints)
        self.timeout = timeout
        self.dial_timeout = dial_timeout
        self.watch_resume_timeout = watch_resume_timeout
        self.backoff = backoff
        self._rng = rng or random.Random()
        self._options = tuple(channel_options)
        self._members: dict[str, _Member] = {}
        self._pinned = 0  # index into self.endpoints
        self._watches: weakref.WeakSet[Watch] = weakref.WeakSet()
        self._closed = False

    def __repr__(self) -> str:
        return f"StoreClient({','.join(self.endpoints)}, pinned={self.endpoint})"

    async def __aenter__(self) -> "StoreClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        """Close every watch and channel. Idempotent."""
        self._closed = True
        for w in list(self._watches):
            await w.close()
        members, self._members = list(self._members.values()), {}
        for m in members:
            await m.channel.close()

    @property
    def endpoint(self) -> str:
        """The member calls go to now."""
        return self.endpoints[self._pinned]

    # -- members and failover -----------------------------------------------------------------
    def _member(self, endpoint: str) -> _Member:
        if self._closed:
            raise Cancelled("the store client is closed")
        m = self._members.get(endpoint)
        if m is None:
            m = self._members[endpoint] = _Member(endpoint, self._options)
        return m

    def _pinned_member(self) -> _Member:
        return self._member(self.endpoint)

    def _fail_over(self, failed: _Member, err: StoreError) -> None:
        # Only the first of several concurrent calls failing on the same member moves the pin.
        if self.endpoint == failed.endpoint and len(self.endpoints) > 1:
            self._pinned = (self._pinned + 1) % len(self.endpoints)
            log.warning("store member %s failed (%s); switching to %s", failed.endpoint, err,
                        self.endpoint)

    async def _invoke(self, what: str, attempt: Callable[[_Member, float], Awaitable[T]], *,
                      idempotent: bool, write: bool, timeout: float | None,
                      endpoint: str | None = None) -> T:
        """Run `attempt(member, seconds_left)` under the call's deadline, retrying per the rules."""
        loop = asyncio.get_running_loop()
        budget = self.timeout if timeout is None else timeout
        deadline = loop.time() + budget
        maybe_applied = False
        tries = 0
        while True:
            m = self._member(endpoint) if endpoint else self._pinned_member()
            sent = False
            try:
                left = deadline - loop.time()
                if left <= 0:
                    err: StoreError = DeadlineExceeded(f"{what}: deadline of {budget:.3g}s exceeded")
                elif not await m.connect(min(left, self.dial_timeout)):
                    err = Unavailable(f"{what}: cannot connect")
                else:
                    sent = True
                    return await attempt(m, deadline - loop.time())
            except grpc.aio.AioRpcError as e:
                err = error_from_status(e.code(), e.details() or "")
                sent = not never_sent(e.code(), e.details() or "")
            except StoreError as e:
                err = e
            err.endpoint = m.endpoint
            tries += 1
            maybe_applied = maybe_applied or (write and may_have_applied(err, sent=sent))
            err.maybe_applied = maybe_applied
            # A call aimed at one endpoint (status of that member) gets one attempt.
            retry = endpoint is None and should_retry(err, idempotent=idempotent, sent=sent)
            if endpoint is None and (retry or (sent and isinstance(err, DeadlineExceeded))):
                # A member that sat on a request until the deadline may be hung (paused, swapping):
                # this call has no time left, but the next one goes elsewhere.
                self._fail_over(m, err)
            if not retry:
                raise err
            delay = self.backoff.delay(tries - 1, self._rng)
            if loop.time() + delay >= deadline:
                err.message += f" (gave up after {tries} attempts within the {budget:.3g}s deadline)"
                raise err
            log.debug("%s on %s failed (%s); retry %d in %.3fs", what, m.endpoint, err, tries, delay)
            await asyncio.sleep(delay)

    def _unary(self, service: str, method: str, request, *, leader: bool = True):
        metadata = _HASLEADER if leader else ()

        def attempt(m: _Member, left: float):
            return getattr(getattr(m, service), method)(request, timeout=left, metadata=metadata)
        return attempt

    # -- KV -------------------------------------------------------------------------------------
    async def range(self, key: Key, range_end: Key = b"", *, prefix: bool = False,
                    from_key: bool = False, revision: int = 0, limit: int = 0,
                    serializable: bool = False, keys_only: bool = False, count_only: bool = False,
                    sort_order: str = "none", sort_target: str = "key",
                    timeout: float | None = None) -> rpc_pb2.RangeResponse:
        """Keys in [key, range_end), under a prefix, or from a key on; linearizable unless
        `serializable`. sort_order: none|ascend|descend; sort_target: key|version|create|mod|value."""
        req = range_request(key, range_end, prefix=prefix, from_key=from_key, revision=revision,
                            limit=limit, serializable=serializable, keys_only=keys_only,
                            count_only=count_only, sort_order=sort_order, sort_target=sort_target)
        # A serializable read is how one asks a member cut off from its leader: no hasleader.
        return await self._invoke("Range", self._unary("kv", "Range", req, leader=not serializable),
                                  idempotent=True, write=False, timeout=timeout)

    async def get(self, key: Key, *, revision: int = 0, serializable: bool = False,
                  timeout: float | None = None) -> rpc_pb2.RangeResponse:
        """One key: `resp.kvs[0]` if it exists; `resp.header.revision` is the store's revision."""
        return await self.range(key, revision=revision, serializable=serializable, timeout=timeout)

    async def put(self, key: Key, value: Key, *, lease: int = 0, prev_kv: bool = False,
                  timeout: float | None = None) -> rpc_pb2.PutResponse:
        req = rpc_pb2.PutRequest(key=to_bytes(key), value=to_bytes(value), lease=lease, prev_kv=prev_kv)
        return await self._invoke("Put", self._unary("kv", "Put", req),
                                  idempotent=False, write=True, timeout=timeout)

    async def delete(self, key: Key, range_end: Key = b"", *, prefix: bool = False,
                     from_key: bool = False, prev_kv: bool = False,
                     timeout: float | None = None) -> rpc_pb2.DeleteRangeResponse:
        req = op_delete(key, range_end, prefix=prefix, from_key=from_key,
                        prev_kv=prev_kv).request_delete_range
        return await self._invoke("DeleteRange", self._unary("kv", "DeleteRange", req),
                                  idempotent=False, write=True, timeout=timeout)

    async def txn(self, compare: Sequence[rpc_pb2.Compare] = (),
                  success: Sequence[rpc_pb2.RequestOp] = (),
                  failure: Sequence[rpc_pb2.RequestOp] = (), *, retry_safe: bool = False,
                  timeout: float | None = None) -> rpc_pb2.TxnResponse:
        """If every compare holds run `success`, else `failure`, atomically. `retry_safe=True`:
        the compares make a repeat harmless, so retry like a read (see the module docstring)."""
        req = rpc_pb2.TxnRequest(compare=compare, success=success, failure=failure)
        read_only = is_read_only([*success, *failure])
        return await self._invoke("Txn", self._unary("kv", "Txn", req),
                                  idempotent=read_only or retry_safe, write=not read_only,
                                  timeout=timeout)

    async def compact(self, revision: int, *, physical: bool = False,
                      timeout: float | None = None) -> rpc_pb2.CompactionResponse:
        """Drop history before `revision`; Compacted if it already is, FutureRevision if too new."""
        req = rpc_pb2.CompactionRequest(revision=revision, physical=physical)
        return await self._invoke("Compact", self._unary("kv", "Compact", req),
                                  idempotent=False, write=True, timeout=timeout)

    # -- leases ---------------------------------------------------------------------------------
    async def lease_grant(self, ttl: int, *, lease_id: int = 0,
                          timeout: float | None = None) -> rpc_pb2.LeaseGrantResponse:
        req = rpc_pb2.LeaseGrantRequest(TTL=ttl, ID=lease_id)
        return await self._invoke("LeaseGrant", self._unary("lease", "LeaseGrant", req),
                                  idempotent=True, write=True, timeout=timeout)

    async def lease_revoke(self, lease_id: int, *,
                           timeout: float | None = None) -> rpc_pb2.LeaseRevokeResponse:
        req = rpc_pb2.LeaseRevokeRequest(ID=lease_id)
        return await self._invoke("LeaseRevoke", self._unary("lease", "LeaseRevoke", req),
                                  idempotent=True, write=True, timeout=timeout)

    async def lease_keepalive_once(self, lease_id: int, *,
                                   timeout: float | None = None) -> rpc_pb2.LeaseKeepAliveResponse:
        """Renew a lease once; LeaseNotFound if it expired or was revoked."""
        async def attempt(m: _Member, left: float) -> rpc_pb2.LeaseKeepAliveResponse:
            call = m.lease.LeaseKeepAlive(timeout=left, metadata=_HASLEADER)
            try:
                await call.write(rpc_pb2.LeaseKeepAliveRequest(ID=lease_id))
                resp = await call.read()
                if resp is grpc.aio.EOF:
                    code = await call.code()
                    if code == grpc.StatusCode.OK:
                        raise Unavailable("LeaseKeepAlive stream ended without an answer")
                    raise error_from_status(code, await call.details() or "")
                return resp
            finally:
                call.cancel()

        resp = await self._invoke("LeaseKeepAlive", attempt, idempotent=True, write=True,
                                  timeout=timeout)
        if resp.TTL <= 0:  # the server's way to say "no such lease" on this stream
            raise LeaseNotFound("etcdserver: requested lease not found", endpoint=self.endpoint)
        return resp

    async def lease_time_to_live(self, lease_id: int, *, keys: bool = False,
                                 timeout: float | None = None) -> rpc_pb2.LeaseTimeToLiveResponse:
        """Remaining TTL (TTL=-1 when the lease is gone, which is not an error)."""
        req = rpc_pb2.LeaseTimeToLiveRequest(ID=lease_id, keys=keys)
        return await self._invoke("LeaseTimeToLive", self._unary("lease", "LeaseTimeToLive", req),
                                  idempotent=True, write=False, timeout=timeout)

    async def leases(self, *, timeout: float | None = None) -> rpc_pb2.LeaseLeasesResponse:
        req = rpc_pb2.LeaseLeasesRequest()
        return await self._invoke("LeaseLeases", self._unary("lease", "LeaseLeases", req),
                                  idempotent=True, write=False, timeout=timeout)

    # -- cluster --------------------------------------------------------------------------------
    async def member_list(self, *, timeout: float | None = None) -> rpc_pb2.MemberListResponse:
        req = rpc_pb2.MemberListRequest()
        return await self._invoke("MemberList", self._unary("cluster", "MemberList", req, leader=False),
                                  idempotent=True, write=False, timeout=timeout)

    async def status(self, endpoint: str | None = None, *,
                     timeout: float | None = None) -> rpc_pb2.StatusResponse:
        """The pinned member's status (with failover), or exactly `endpoint`'s (one attempt)."""
        target = parse_endpoints([endpoint])[0] if endpoint else None
        req = rpc_pb2.StatusRequest()
        return await self._invoke("Status", self._unary("maintenance", "Status", req, leader=False),
                                  idempotent=True, write=False, timeout=timeout, endpoint=target)

    # -- watch ----------------------------------------------------------------------------------
    def watch(self, key: Key, range_end: Key = b"", *, prefix: bool = False, from_key: bool = False,
              start_revision: int = 0, prev_kv: bool = False, progress_notify: bool = False,
              no_put: bool = False, no_delete: bool = False,
              resume_timeout: float | None = None) -> "Watch":
        """Events on keys from `start_revision` on (0: from now). Use as `async for resp in
        c.watch(...)`, or `async with c.watch(...) as w:` to have it open before going on."""
        k, end = key_range(key, range_end, prefix=prefix, from_key=from_key)
        filters = [f for f, on in ((rpc_pb2.WatchCreateRequest.NOPUT, no_put),
                                   (rpc_pb2.WatchCreateRequest.NODELETE, no_delete)) if on]
        create = rpc_pb2.WatchCreateRequest(key=k, range_end=end, start_revision=start_revision,
                                            prev_kv=prev_kv, progress_notify=progress_notify,
                                            filters=filters)
        w = Watch(self, create, self.watch_resume_timeout if resume_timeout is None else resume_timeout)
        self._watches.add(w)
        return w


class Watch:
    """One logical watch over as many streams as failures need. Single consumer.

    `next_revision` is where it would resume (last delivered event's revision + 1); `endpoint` is
    the member streaming now.
    """

    def __init__(self, client: StoreClient, create: rpc_pb2.WatchCreateRequest, resume_timeout: float):
        self._client = client
        self._create = create
        self._resume_timeout = resume_timeout
        self.next_revision = create.start_revision  # 0 until the first created response says "now"
        self.endpoint: str | None = None
        self._member: _Member | None = None
        self._call = None
        self._closed = False
        self._progress_wanted = False

    async def request_progress(self) -> bool:
        """Asks the member for a progress notification (etcd's WatchProgressRequest): a response
        without events whose header.revision every event up to has already been delivered. It is
        yielded like an event batch. False if no stream is open right now (nothing was asked)."""
        if self._call is None:
            return False
        self._progress_wanted = True
        try:
            await self._call.write(rpc_pb2.WatchRequest(progress_request=rpc_pb2.WatchProgressRequest()))
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError) as e:
            log.debug("watch %r: progress request not sent: %r", self._create.key, e)
            return False
        return True

    def __repr__(self) -> str:
        return (f"Watch({self._create.key!r}..{self._create.range_end!r}, "
                f"next_revision={self.next_revision}, on={self.endpoint})")

    async def __aenter__(self) -> "Watch":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    def __aiter__(self) -> "Watch":
        return self

    async def start(self) -> None:
        """Open the stream now (otherwise the first iteration does)."""
        if self._call is None and not self._closed:
            await self._open()

    async def close(self) -> None:
        self._closed = True
        self._teardown()

    def _teardown(self) -> None:
        call, self._call = self._call, None
        if call is not None:
            call.cancel()

    async def __anext__(self) -> rpc_pb2.WatchResponse:
        while True:
            if self._closed or self._client._closed:
                raise StopAsyncIteration
            if self._call is None:
                await self._open()
            try:
                resp = await self._call.read()
            except grpc.aio.AioRpcError as e:
                if self._closed:
                    raise StopAsyncIteration
                self._broken(error_from_status(e.code(), e.details() or ""))
                continue
            except asyncio.CancelledError:
                if self._closed:  # close() from another task cancels the read
                    raise StopAsyncIteration
                raise
            if resp is grpc.aio.EOF:
                self._broken(Unavailable("the server ended the watch stream"))
                continue
            batch = self._accept(resp)
            if batch is not None:
                return batch

    def _accept(self, resp: rpc_pb2.WatchResponse) -> rpc_pb2.WatchResponse | None:
        """What to yield for `resp`, if anything; advances the resume point."""
        if resp.canceled:
            if resp.compact_revision:
                self._closed = True
                self._teardown()
                raise Compacted(f"watch from revision {self.next_revision}: etcdserver: mvcc: "
                                f"required revision has been compacted (compact revision "
                                f"{resp.compact_revision}); relist and watch again",
                                compact_revision=resp.compact_revision, endpoint=self.endpoint)
            self._broken(error_from_status(None, resp.cancel_reason) if resp.cancel_reason
                         else Unavailable("the server cancelled the watch"))
            return None
        if resp.created:
            return None
        if resp.events:
            # Never yield a revision twice, should a server replay one after a resume.
            fresh = [e for e in resp.events if e.kv.mod_revision >= self.next_revision]
            if len(fresh) < len(resp.events):
                log.warning("watch %r: dropped %d events below revision %d from %s", self._create.key,
                            len(resp.events) - len(fresh), self.next_revision, self.endpoint)
                del resp.events[:]
                resp.events.extend(fresh)
            if not fresh:
                return None
            self.next_revision = fresh[-1].kv.mod_revision + 1
            return resp
        # A progress notification. NEVER advance next_revision from it: see the module docstring.
        if resp.watch_id == -1 and self._progress_wanted:
            self._progress_wanted = False
            return resp
        return resp if self._create.progress_notify else None

    def _broken(self, err: StoreError) -> None:
        """The stream is gone: end the watch, or leave it to `_open` to resume elsewhere."""
        member = self._member
        self._teardown()
        if not watch_resumable(err):
            self._closed = True
            err.endpoint = err.endpoint or self.endpoint
            raise err
        log.warning("watch %r on %s broke (%s); resuming from revision %d", self._create.key,
                    self.endpoint, err, self.next_revision)
        if member is not None:
            self._client._fail_over(member, err)

    async def _open(self) -> None:
        client = self._client
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self._resume_timeout
        tries = 0
        while True:
            member = client._pinned_member()
            try:
                self._call = await self._open_on(member)
                self._member, self.endpoint = member, member.endpoint
                return
            except StoreError as err:
                err.endpoint = member.endpoint
                if not watch_resumable(err):
                    self._closed = True
                    raise
                client._fail_over(member, err)
                delay = client.backoff.delay(tries, client._rng)
                tries += 1
                if loop.time() + delay >= give_up:
                    self._closed = True
                    raise Unavailable(f"watch {self._create.key!r} from revision {self.next_revision}: "
                                      f"no member accepted it for {self._resume_timeout:.3g}s; "
                                      f"last error: {err}") from err
                log.debug("watch %r: opening on %s failed (%s); retry in %.3fs",
                          self._create.key, member.endpoint, err, delay)
                await asyncio.sleep(delay)

    async def _open_on(self, m: _Member):
        """A stream on `m` whose watch the server has created, or a StoreError."""
        client = self._client
        if not await m.connect(min(client.timeout, client.dial_timeout)):
            raise Unavailable("watch: cannot connect")
        create = rpc_pb2.WatchCreateRequest()
        create.CopyFrom(self._create)
        create.start_revision = self.next_revision
        # hasleader: a member that loses its leader cancels the stream, and we move elsewhere.
        call = m.watch.Watch(metadata=_HASLEADER)
        try:
            await call.write(rpc_pb2.WatchRequest(create_request=create))
            resp = await asyncio.wait_for(call.read(), client.timeout)
            if resp is grpc.aio.EOF:
                raise Unavailable("the server ended the watch stream before creating the watch")
            if not resp.created:
                raise StoreError(f"expected a created response, got {resp}")
            if resp.canceled:
                raise error_from_status(None, resp.cancel_reason or "watch create refused")
        except grpc.aio.AioRpcError as e:
            call.cancel()
            raise error_from_status(e.code(), e.details() or "") from None
        except asyncio.TimeoutError:
            call.cancel()
            raise DeadlineExceeded(f"watch create not answered within {client.timeout:.3g}s") from None
        except StoreError:
            call.cancel()
            raise
        if self.next_revision == 0:
            # "From now" is fixed by the first stream; a resume must not skip what came after it.
            self.next_revision = resp.header.revision + 1
        return call
