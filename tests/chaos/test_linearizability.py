"""Chaos: linearizable KV operations while the leader is killed with SIGKILL and restarted, repeatedly.

Six sequential clients, each bound to one member, put (unique values), get (linearizable) and
compare-and-swap (Txn on mod_revision) over five keys and record every call with monotonic
timestamps. Writes that fail are recorded with an unknown outcome; failed reads are dropped. After
the faults, a final read of every key on every member joins the history, and the whole history is
checked by tests/chaos/lincheck.py (linearizability per key plus the revision rules).
"""
from __future__ import annotations

import random
import secrets
import threading
import time
from collections import Counter

import grpc
import pytest

from skiffpb.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc
from tests.chaos import lincheck
from tests.chaos.lincheck import Cas, CasResult, Get, GetResult, Operation, Put, PutResult
from tests.chaos.nemesis import channel, kill_leader_rounds
from tests.harness import wait_for

CLIENTS = 6
KEYS = 5
ROUNDS = 4
RPC_TIMEOUT = 1.5         # seconds per call
PACING = 0.02             # seconds between a client's calls: ~50 ops/s per client keeps histories at a few thousand ops
MIN_PROGRESS = 20         # acknowledged writes required in each phase of each round
MIN_ACKED = 300           # acknowledged operations required over the whole run


class Client(threading.Thread):
    """One sequential client bound to one member; records (client, call, return, op, result)."""

    def __init__(self, cid: int, endpoint: str, keys: list[str], stop: threading.Event, seed: int):
        super().__init__(name=f"lin-client-{cid}", daemon=True)
        self.cid, self.endpoint, self.keys, self.stop = cid, endpoint, keys, stop
        self.rng = random.Random(seed)
        self.history: list[Operation] = []
        self.acked_writes = 0
        self.errors: Counter = Counter()
        self.seen_mod: dict[str, int] = {}  # last mod_revision seen per key: the CAS's expectation
        self.seq = 0
        self.crash: BaseException | None = None

    def run(self) -> None:
        ch = channel(self.endpoint)
        kv = rpc_pb2_grpc.KVStub(ch)
        healthy = True
        try:
            # PACING: a rate limit, as etcd's robustness traffic has; not a synchronisation.
            while not self.stop.wait(PACING):
                key = self.rng.choice(self.keys)
                # After a failure only reads go out (failed reads are dropped) until one succeeds: a
                # client keeps trying an unavailable member without piling up unknown-outcome writes.
                kind = "get" if not healthy else self.rng.choices(["get", "put", "cas"], [40, 35, 25])[0]
                healthy = self.one(kv, kind, key)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the test after join
            self.crash = exc
        finally:
            ch.close()

    def one(self, kv, kind: str, key: str) -> bool:
        k = key.encode()
        if kind == "get":
            op = Get(key)
            call = time.monotonic_ns()
            try:
                resp = kv.Range(rpc_pb2.RangeRequest(key=k), timeout=RPC_TIMEOUT)
            except grpc.RpcError as e:
                self.errors[f"get {e.code().name}"] += 1
                return False  # a failed read says nothing: not recorded
            ret = time.monotonic_ns()
            result = get_result(resp.kvs, resp.header.revision)
            self.history.append(Operation(self.cid, call, ret, op, result))
            self.seen_mod[key] = result.mod_revision
            return True

        self.seq += 1
        value = f"c{self.cid}-{self.seq}"
        if kind == "put":
            op = Put(key, value)
            call = time.monotonic_ns()
            try:
                resp = kv.Put(rpc_pb2.PutRequest(key=k, value=value.encode()), timeout=RPC_TIMEOUT)
            except grpc.RpcError as e:
                self.errors[f"put {e.code().name}"] += 1
                self.history.append(Operation.unknown(self.cid, call, op))
                return False
            ret = time.monotonic_ns()
            self.history.append(Operation(self.cid, call, ret, op, PutResult(resp.header.revision)))
            self.seen_mod[key] = resp.header.revision
            self.acked_writes += 1
            return True

        expected = self.seen_mod.get(key, 0)
        op = Cas(key, expected, value)
        req = rpc_pb2.TxnRequest(
            compare=[rpc_pb2.Compare(result=rpc_pb2.Compare.EQUAL, target=rpc_pb2.Compare.MOD, key=k,
                                     mod_revision=expected)],
            success=[rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=k, value=value.encode()))],
            failure=[rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=k))])
        call = time.monotonic_ns()
        try:
            resp = kv.Txn(req, timeout=RPC_TIMEOUT)
        except grpc.RpcError as e:
            self.errors[f"cas {e.code().name}"] += 1
            self.history.append(Operation.unknown(self.cid, call, op))
            return False
        ret = time.monotonic_ns()
        if resp.succeeded:
            result = CasResult(True, resp.header.revision)
            self.seen_mod[key] = resp.header.revision
            self.acked_writes += 1
        else:
            kvs = resp.responses[0].response_range.kvs
            cur = get_result(kvs, resp.header.revision)
            result = CasResult(False, resp.header.revision, current=(cur.value, cur.mod_revision))
            self.seen_mod[key] = cur.mod_revision
        self.history.append(Operation(self.cid, call, ret, op, result))
        return True


def get_result(kvs, header_revision: int) -> GetResult:
    if not kvs:
        return GetResult(None, 0, header_revision, 0)
    kv = kvs[0]
    return GetResult(kv.value.decode(), kv.mod_revision, header_revision, kv.version)


def final_reads(cluster, keys: list[str]) -> list[Operation]:
    """A linearizable read of every key on every member, recorded as operations of one client per member."""
    ops = []
    for m in cluster.members:
        ch = channel(m.endpoint)
        try:
            kv = rpc_pb2_grpc.KVStub(ch)
            for key in keys:
                call = time.monotonic_ns()
                resp = wait_for(lambda: kv.Range(rpc_pb2.RangeRequest(key=key.encode()), timeout=RPC_TIMEOUT),
                                20, f"a final read of {key} on {m.name}")
                ops.append(Operation(f"final-{m.name}", call, time.monotonic_ns(), Get(key),
                                     get_result(resp.kvs, resp.header.revision)))
        finally:
            ch.close()
    return ops


@pytest.mark.timeout(240)
def test_linearizable_under_leader_kills(cluster):
    """Six clients put, get and CAS five keys while the leader is kill -9ed and restarted four times, and
    the recorded history is linearizable."""
    token = secrets.token_hex(4)
    keys = [f"/chaos/lin/{token}/k{i}" for i in range(KEYS)]
    stop = threading.Event()
    clients = [Client(i, cluster.members[i % len(cluster.members)].endpoint, keys, stop, seed=i)
               for i in range(CLIENTS)]

    def acked_writes() -> int:
        return sum(c.acked_writes for c in clients)

    rounds = []
    started = time.monotonic()
    try:
        for c in clients:
            c.start()
        wait_for(lambda: acked_writes() >= 5 * MIN_PROGRESS, 20, "traffic to warm up")
        rounds = kill_leader_rounds(cluster, ROUNDS, acked_writes, MIN_PROGRESS)
    finally:
        stop.set()
        for c in clients:
            c.join(timeout=2 * RPC_TIMEOUT + 5)
    assert not any(c.is_alive() for c in clients), "a client thread did not stop"
    crashed = [(c.name, c.crash) for c in clients if c.crash is not None]
    assert not crashed, f"client threads crashed: {crashed}"
    traffic_s = time.monotonic() - started

    cluster.wait_ready()
    finals = final_reads(cluster, keys)
    history = [o for c in clients for o in c.history] + finals

    errors = sum((c.errors for c in clients), Counter())
    acked = sum(o.result is not None for c in clients for o in c.history)
    summary = (f"{len(history)} ops in {traffic_s:.1f}s ({acked} acknowledged, "
               f"{sum(o.result is None for o in history)} unknown), errors {dict(errors)}; rounds:\n  "
               + "\n  ".join(map(str, rounds)))
    print(summary)

    check_start = time.monotonic()
    report = lincheck.check(history)
    print(f"checked in {time.monotonic() - check_start:.2f}s: {report.stats}")
    assert report.ok, f"{report}\n{summary}"

    # No acknowledged write lost: each key ends at or after its last acknowledged write, with the
    # same value on every member.
    last_acked: dict[str, int] = {}
    for o in history:
        if isinstance(o.result, PutResult) or (isinstance(o.result, CasResult) and o.result.succeeded):
            last_acked[o.op.key] = max(last_acked.get(o.op.key, 0), o.result.revision)
    for key in keys:
        seen = {(o.result.value, o.result.mod_revision) for o in finals if o.op.key == key}
        assert len(seen) == 1, f"members disagree on {key}: {seen}"
        (value, mod), = seen
        assert mod >= last_acked.get(key, 0), (
            f"{key}: final value {value!r} at revision {mod} predates the acknowledged write at revision "
            f"{last_acked[key]}")

    assert len(rounds) == ROUNDS
    assert acked >= MIN_ACKED, f"too little progress: {summary}"
