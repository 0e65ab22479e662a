"""Lease expiry and watch progress notifications on a 3-member Skiff store, over etcd's gRPC API."""
from __future__ import annotations

import queue
import threading
import time

from skiffpb.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc
from skiffpb.etcd.mvccpb import kv_pb2
from tests.harness import StoreCluster, wait_for


class WatchThread:
    """One Watch stream read on a thread: responses land in `.responses` (a queue)."""

    def __init__(self, channel, create: rpc_pb2.WatchCreateRequest):
        self.requests: queue.Queue = queue.Queue()
        self.responses: queue.Queue = queue.Queue()
        self.requests.put(rpc_pb2.WatchRequest(create_request=create))
        self.call = rpc_pb2_grpc.WatchStub(channel).Watch(iter(self.requests.get, None))
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            for resp in self.call:
                self.responses.put(resp)
        except Exception:  # noqa: BLE001 - the stream ends when the test cancels it
            pass

    def next(self, timeout: float = 10.0) -> rpc_pb2.WatchResponse:
        return self.responses.get(timeout=timeout)

    def close(self):
        self.requests.put(None)
        self.call.cancel()
        self.thread.join(5)


def test_an_expired_lease_deletes_its_keys_and_watchers_see_the_deletes(tmp_path):
    """Keys on a 2 s lease vanish at one revision with delete events once keep-alives stop, while a kept-alive lease lives on."""
    c = StoreCluster(tmp_path / "c")
    c.start()
    w = None
    try:
        m = c.followers()[0]
        lease = rpc_pb2_grpc.LeaseStub(m.channel())
        short = lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=1), timeout=5)
        assert short.TTL == 2  # etcd's minimum: ceil(1.5 x election timeout)
        kept = lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=2), timeout=5)
        kv = m.kv()
        for k in (b"/l/a", b"/l/b"):
            kv.Put(rpc_pb2.PutRequest(key=k, value=b"x", lease=short.ID), timeout=5)
        kv.Put(rpc_pb2.PutRequest(key=b"/l/kept", value=b"x", lease=kept.ID), timeout=5)
        start = kv.Range(rpc_pb2.RangeRequest(key=b"/l/"), timeout=5).header.revision
        w = WatchThread(c.members[2].channel(), rpc_pb2.WatchCreateRequest(
            key=b"/l/", range_end=b"/l0", start_revision=start + 1))
        assert w.next().created

        deletes = []
        ka_requests: queue.Queue = queue.Queue()
        ka = lease.LeaseKeepAlive(iter(ka_requests.get, None))
        deadline = time.monotonic() + 15
        while len(deletes) < 2 and time.monotonic() < deadline:
            ka_requests.put(rpc_pb2.LeaseKeepAliveRequest(ID=kept.ID))
            assert next(ka).TTL == 2
            try:
                resp = w.next(timeout=0.5)
                deletes += [e for e in resp.events if e.type == kv_pb2.Event.DELETE]
            except queue.Empty:
                pass
        ka_requests.put(None)
        ka.cancel()
        assert sorted(e.kv.key for e in deletes) == [b"/l/a", b"/l/b"]
        assert len({e.kv.mod_revision for e in deletes}) == 1, "a lease's keys go at one revision"
        left = kv.Range(rpc_pb2.RangeRequest(key=b"/l/", range_end=b"/l0"), timeout=5)
        assert [x.key for x in left.kvs] == [b"/l/kept"]
        ttl = lease.LeaseTimeToLive(rpc_pb2.LeaseTimeToLiveRequest(ID=short.ID), timeout=5)
        assert ttl.TTL == -1
    finally:
        if w:
            w.close()
        c.stop()


def test_idle_watchers_that_asked_get_progress_notifications(tmp_path):
    """With a 300 ms progress interval, an idle watcher gets an empty response carrying the current revision."""
    c = StoreCluster(tmp_path / "c", extra_args=["--experimental-watch-progress-notify-interval", "300ms"])
    c.start()
    w = quiet = None
    try:
        m = c.members[0]
        rev = m.kv().Put(rpc_pb2.PutRequest(key=b"p", value=b"1"), timeout=5).header.revision
        w = WatchThread(m.channel(), rpc_pb2.WatchCreateRequest(key=b"p", progress_notify=True))
        quiet = WatchThread(m.channel(), rpc_pb2.WatchCreateRequest(key=b"p"))
        assert w.next().created and quiet.next().created
        t0 = time.monotonic()
        resp = w.next(timeout=5)
        assert (list(resp.events), resp.created, resp.canceled) == ([], False, False)
        assert resp.header.revision == rev
        assert time.monotonic() - t0 >= 0.2
        # The watcher that did not ask gets nothing; a write still reaches both.
        m.kv().Put(rpc_pb2.PutRequest(key=b"p", value=b"2"), timeout=5)
        got = quiet.next(timeout=5)
        assert [e.kv.value for e in got.events] == [b"2"]
        wait_for(lambda: any(e.kv.value == b"2" for e in w.next(timeout=5).events), 10,
                 "the write to reach the progress watcher")
    finally:
        for x in (w, quiet):
            if x:
                x.close()
        c.stop()


def test_watch_filters_cancel_and_explicit_ids_on_one_stream(store_cluster):
    """On one stream: a NOPUT watcher sees only deletes, a NODELETE watcher only puts, and a canceled watcher nothing more."""
    m = store_cluster.members[1]
    requests: queue.Queue = queue.Queue()
    call = rpc_pb2_grpc.WatchStub(m.channel()).Watch(iter(requests.get, None))
    F = rpc_pb2.WatchCreateRequest
    try:
        def create(**kw) -> rpc_pb2.WatchResponse:
            requests.put(rpc_pb2.WatchRequest(create_request=F(key=b"f/", range_end=b"f0", **kw)))
            resp = next(call)
            assert resp.created
            return resp
        noput = create(filters=[F.NOPUT], watch_id=7)
        assert noput.watch_id == 7
        nodelete = create(filters=[F.NODELETE])
        gone = create()
        assert len({noput.watch_id, nodelete.watch_id, gone.watch_id}) == 3
        requests.put(rpc_pb2.WatchRequest(create_request=F(key=b"f/", watch_id=7)))
        dup = next(call)
        assert (dup.canceled, dup.cancel_reason) == (True, "mvcc: duplicate watch ID provided on the WatchStream")
        requests.put(rpc_pb2.WatchRequest(cancel_request=rpc_pb2.WatchCancelRequest(watch_id=gone.watch_id)))
        canceled = next(call)
        assert (canceled.watch_id, canceled.canceled) == (gone.watch_id, True)

        kv = m.kv()
        kv.Put(rpc_pb2.PutRequest(key=b"f/a", value=b"1"), timeout=5)
        kv.DeleteRange(rpc_pb2.DeleteRangeRequest(key=b"f/a"), timeout=5)
        seen: dict[int, list] = {}
        while sum(len(v) for v in seen.values()) < 2:
            resp = next(call)
            seen.setdefault(resp.watch_id, []).extend(e.type for e in resp.events)
        assert seen == {noput.watch_id: [kv_pb2.Event.DELETE], nodelete.watch_id: [kv_pb2.Event.PUT]}
        # The canceled watcher got nothing: a progress request is answered after everything queued.
        requests.put(rpc_pb2.WatchRequest(progress_request=rpc_pb2.WatchProgressRequest()))
        progress = next(call)
        assert (progress.watch_id, list(progress.events)) == (-1, [])
    finally:
        requests.put(None)
        call.cancel()
