"""Chaos: etcd's watch guarantees hold across leader kills, with watches resumed on another member.

One prefix watch (prev_kv) per member, opened at the revision where the test's prefix starts; two
writers put, delete and run multi-key txns under the prefix while the leader is kill -9ed and
restarted. A watch whose stream breaks (member killed, "no leader", cancel) is resumed on the next
member from last_revision+1 -- the "resumable" guarantee. At the end a tombstone key is written and
every watcher must reach its revision. Then, per watcher: ordered, unique (rev, key), atomic (a
revision never split across responses), reliable (exactly the events of a final full-history watch,
no gap), prev_kv and create/version fields right; and the full history itself must agree with a
Range of the prefix and with every acknowledged write.
"""
from __future__ import annotations

import queue
import random
import secrets
import threading
from collections import Counter
from dataclasses import dataclass, field

import grpc
import pytest

from skiffpb.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc
from tests.chaos.nemesis import channel, kill_leader_rounds
from tests.chaos.watchcheck import Write, event_tuple, history_problems, kv_tuple, watcher_problems
from tests.harness import WaitTimeout, wait_for

ROUNDS = 3
RPC_TIMEOUT = 1.5
PACING = 0.01          # seconds between a writer's calls (rate limit, not synchronisation)
RESUME_PACING = 0.05   # seconds before a broken watch is reopened elsewhere (retry backoff)
MIN_PROGRESS = 20
KEYS = 5
HASLEADER = (("hasleader", "true"),)  # as clientv3 sends: the member cancels the stream if it has no leader


def prefix_end(prefix: bytes) -> bytes:
    return prefix[:-1] + bytes([prefix[-1] + 1])


class WatchStream:
    """One Watch bidi stream holding one watcher; `close()` may be called from any thread."""

    def __init__(self, endpoint: str, timeout: float | None = None):
        self.channel = channel(endpoint)
        self.requests: queue.Queue = queue.Queue()
        self.call = rpc_pb2_grpc.WatchStub(self.channel).Watch(iter(self.requests.get, None), metadata=HASLEADER,
                                                               timeout=timeout)

    def create(self, prefix: bytes, start_revision: int) -> rpc_pb2.WatchResponse:
        """Sends the create request and returns the `created` response (the server assigns watch_id)."""
        self.requests.put(rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(
            key=prefix, range_end=prefix_end(prefix), start_revision=start_revision, prev_kv=True)))
        first = next(self.call, None)
        if first is None:
            raise WatchBroken("stream ended before the watch was created")
        if not first.created or first.canceled:
            raise WatchBroken(f"create failed: {first}")
        return first

    def close(self) -> None:
        self.requests.put(None)
        self.call.cancel()
        self.channel.close()


class WatchBroken(Exception):
    pass


@dataclass
class Watcher:
    """A watch that follows the prefix from `start` across members, resuming where it left off."""
    wid: int
    endpoints: list[str]
    prefix: bytes
    start: int
    stop: threading.Event
    events: list = field(default_factory=list)        # event tuples, in arrival order
    responses: list = field(default_factory=list)     # per response with events: its event revisions
    segments: list = field(default_factory=list)      # (endpoint, start_revision, watch_id, created header rev)
    breaks: Counter = field(default_factory=Counter)
    anomalies: list = field(default_factory=list)
    crash: BaseException | None = None

    def __post_init__(self):
        self.last_rev = self.start - 1
        self._lock = threading.Lock()
        self._stream: WatchStream | None = None
        self.thread = threading.Thread(target=self.run, name=f"watcher-{self.wid}", daemon=True)

    def run(self) -> None:
        i = self.wid
        try:
            while not self.stop.is_set():
                endpoint = self.endpoints[i % len(self.endpoints)]
                i += 1  # resume on the next member, whatever broke
                self.follow(endpoint)
                # RETRY BACKOFF before reopening elsewhere; returns at once when the test stops.
                self.stop.wait(RESUME_PACING)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the test after join
            self.crash = exc

    def follow(self, endpoint: str) -> None:
        with self._lock:
            if self.stop.is_set():
                return
            stream = self._stream = WatchStream(endpoint)
        start = self.last_rev + 1
        try:
            created = stream.create(self.prefix, start)
            self.segments.append((endpoint, start, created.watch_id, created.header.revision))
            for resp in stream.call:
                if resp.canceled:
                    raise WatchBroken(f"canceled: {resp.cancel_reason!r} compact_revision={resp.compact_revision}")
                if resp.watch_id != created.watch_id:
                    self.anomalies.append(f"response for watch_id {resp.watch_id}, expected {created.watch_id}")
                if not resp.events:
                    continue
                evs = [event_tuple(e) for e in resp.events]
                self.responses.append([e[0] for e in evs])
                self.events.extend(evs)
                self.last_rev = evs[-1][0]
        except grpc.RpcError as e:
            self.breaks[e.code().name] += 1
        except WatchBroken as e:
            self.breaks[str(e)[:60]] += 1
        finally:
            with self._lock:
                self._stream = None
            stream.close()

    def close(self) -> None:
        """Stops the watcher: no new stream opens, the current one is cancelled."""
        with self._lock:
            self.stop.set()
            if self._stream is not None:
                self._stream.call.cancel()


class Writer(threading.Thread):
    """Puts, deletes and multi-key txns under the prefix, moving to the next member on errors."""

    def __init__(self, wid: int, endpoints: list[str], keys: list[str], stop: threading.Event):
        super().__init__(name=f"writer-{wid}", daemon=True)
        self.wid, self.endpoints, self.keys, self.stop = wid, endpoints, keys, stop
        self.rng = random.Random(wid)
        self.writes: list[Write] = []
        self.acked = 0
        self.errors: Counter = Counter()
        self.crash: BaseException | None = None
        self.seq = 0

    def run(self) -> None:
        i = self.wid
        ch = channel(self.endpoints[i % len(self.endpoints)])
        try:
            # PACING: a rate limit, not a synchronisation.
            while not self.stop.wait(PACING):
                kv = rpc_pb2_grpc.KVStub(ch)
                ops = self.next_ops()
                try:
                    rev, deleted = self.send(kv, ops)
                    self.writes.append(Write(ops, rev, deleted))
                    self.acked += 1
                except grpc.RpcError as e:
                    self.errors[e.code().name] += 1
                    self.writes.append(Write(ops, None))
                    ch.close()
                    i += 1
                    ch = channel(self.endpoints[i % len(self.endpoints)])
        except BaseException as exc:  # noqa: BLE001
            self.crash = exc
        finally:
            ch.close()

    def value(self) -> str:
        self.seq += 1
        return f"w{self.wid}-{self.seq}"

    def next_ops(self) -> list:
        r = self.rng.random()
        a, b = self.rng.sample(self.keys, 2)
        if r < 0.55:
            return [("PUT", a, self.value())]
        if r < 0.7:
            return [("DELETE", a, None)]
        if r < 0.85:
            return [("PUT", a, self.value()), ("PUT", b, self.value())]
        return [("DELETE", a, None), ("PUT", b, self.value())]

    def send(self, kv, ops) -> tuple[int, int]:
        if len(ops) == 1:
            kind, key, value = ops[0]
            if kind == "PUT":
                resp = kv.Put(rpc_pb2.PutRequest(key=key.encode(), value=value.encode()), timeout=RPC_TIMEOUT)
                return resp.header.revision, 0
            resp = kv.DeleteRange(rpc_pb2.DeleteRangeRequest(key=key.encode()), timeout=RPC_TIMEOUT)
            return resp.header.revision, resp.deleted
        reqs = [rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=k.encode(), value=v.encode())) if kind == "PUT"
                else rpc_pb2.RequestOp(request_delete_range=rpc_pb2.DeleteRangeRequest(key=k.encode()))
                for kind, k, v in ops]
        resp = kv.Txn(rpc_pb2.TxnRequest(success=reqs), timeout=RPC_TIMEOUT)
        deleted = sum(r.response_delete_range.deleted for r in resp.responses if r.HasField("response_delete_range"))
        return resp.header.revision, deleted


def put_acknowledged(cluster, key: bytes, value: bytes) -> int:
    """Puts until one attempt is acknowledged (each attempt on the next live member); returns its revision."""
    members = iter(range(10**6))

    def attempt():
        live = cluster.alive()
        m = live[next(members) % len(live)]
        ch = channel(m.endpoint)
        try:
            resp = rpc_pb2_grpc.KVStub(ch).Put(rpc_pb2.PutRequest(key=key, value=value), timeout=RPC_TIMEOUT)
            return resp.header.revision
        finally:
            ch.close()
    return wait_for(attempt, 20, f"an acknowledged put of {key!r}")


def full_history(endpoint: str, prefix: bytes, start: int, until: int) -> list:
    """Every event under `prefix` from revision `start` through `until`, by one fresh watch."""
    stream = WatchStream(endpoint, timeout=20)  # DEADLINE_EXCEEDED if it never gets there
    events = []
    try:
        stream.create(prefix, start)
        for resp in stream.call:
            events.extend(event_tuple(e) for e in resp.events)
            if events and events[-1][0] >= until:
                break
    finally:
        stream.close()
    return [e for e in events if e[0] <= until]


@pytest.mark.timeout(240)
def test_watch_guarantees_under_leader_kills(cluster):
    """A prefix watch per member, resumed elsewhere when it breaks, sees every write exactly once and in order
    while the leader is killed and restarted three times."""
    token = secrets.token_hex(4)
    prefix = f"/chaos/watch/{token}/".encode()
    keys = [f"/chaos/watch/{token}/k{i}" for i in range(KEYS)]
    endpoints = [m.endpoint for m in cluster.members]

    lead = cluster.leader()
    # The prefix is new, so the watch history starts empty at the next revision.
    resp = lead.kv().Range(rpc_pb2.RangeRequest(key=prefix, range_end=prefix_end(prefix)), timeout=5)
    assert not resp.kvs
    start = resp.header.revision + 1

    stop_writers = threading.Event()
    stop_watchers = threading.Event()
    writers = [Writer(i, endpoints, keys, stop_writers) for i in range(2)]
    watchers = [Watcher(i, endpoints, prefix, start, stop_watchers) for i in range(len(endpoints))]

    def acked() -> int:
        return sum(w.acked for w in writers)

    rounds = []
    try:
        for w in watchers:
            w.thread.start()
        wait_for(lambda: all(w.segments for w in watchers), 20, "every watcher to be created")
        for w in writers:
            w.start()
        wait_for(lambda: acked() >= 2 * MIN_PROGRESS, 20, "writes to warm up")
        rounds = kill_leader_rounds(cluster, ROUNDS, acked, MIN_PROGRESS)
        stop_writers.set()
        for w in writers:
            w.join(timeout=2 * RPC_TIMEOUT + 5)
        cluster.wait_ready()
        tomb_rev = put_acknowledged(cluster, prefix + b"tombstone", b"end")
        try:
            wait_for(lambda: all(w.last_rev >= tomb_rev for w in watchers), 30,
                     f"every watcher to reach the tombstone at revision {tomb_rev}")
        except WaitTimeout as e:
            raise AssertionError(f"{e}: watchers at {[w.last_rev for w in watchers]}, "
                                 f"breaks {[dict(w.breaks) for w in watchers]}") from None
    finally:
        stop_writers.set()
        for w in watchers:
            w.close()
        for w in writers:
            w.join(timeout=2 * RPC_TIMEOUT + 5)
        for w in watchers:
            w.thread.join(timeout=10)
    assert not any(t.is_alive() for t in writers + [w.thread for w in watchers]), "a thread did not stop"
    crashed = [(t.name, t.crash) for t in writers if t.crash] + [(w.wid, w.crash) for w in watchers if w.crash]
    assert not crashed, f"threads crashed: {crashed}"

    summary = (f"{acked()} acknowledged writes, writer errors {dict(sum((w.errors for w in writers), Counter()))}; "
               f"watch breaks {[dict(w.breaks) for w in watchers]}; segments {[len(w.segments) for w in watchers]}; "
               "rounds:\n  " + "\n  ".join(map(str, rounds)))
    print(summary)

    lead = cluster.leader()
    reference = full_history(lead.endpoint, prefix, start, tomb_rev)
    resp = lead.kv().Range(rpc_pb2.RangeRequest(key=prefix, range_end=prefix_end(prefix), revision=tomb_rev),
                           timeout=5)
    final_kvs = {kv.key.decode(): kv_tuple(kv) for kv in resp.kvs}

    problems = history_problems(reference, [w for wr in writers for w in wr.writes], final_kvs, {"end"})
    assert reference and reference[-1][0] == tomb_rev, f"full history does not end at the tombstone: {reference[-3:]}"
    for w in watchers:
        problems += [f"watcher {w.wid}: {p}" for p in watcher_problems(w.events, w.responses, reference, tomb_rev)
                     + w.anomalies]
    assert not problems, "\n".join(problems[:20]) + f"\n{summary}"
    assert sum(len(w.segments) for w in watchers) > len(watchers), "no watch was ever resumed: the faults missed"
    assert acked() >= 2 * MIN_PROGRESS * (1 + ROUNDS)
