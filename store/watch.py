"""Watch fan-out: every watcher of every stream, fed from the applied history (asyncio thread only).

A watcher is *synced* when it has been sent every matching event up to the hub's revision; then
live batches from `notify` go straight into its stream's queue. A watcher whose stream's queue is
too long (a slow reader) becomes *unsynced*: it stops receiving live events and, once its stream
has drained, catches up from the retained history from its `next_rev` — so a slow client costs
memory bounded by the queue limit and never loses or repeats an event. If the history it needs
was compacted meanwhile, it is canceled with `compact_revision`, as etcd does.

Ordering invariant: `next_rev` only grows; an event is queued only if its revision >= next_rev,
and then next_rev moves past it. Every catch-up read and `notify` runs on the loop thread, and
catch-up reads MVCC under the Raft lock, so no revision can fall between the two.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from skiffpb.etcd.etcdserverpb import rpc_pb2
from store.mvcc import DELETE, PUT, Event, event_to_pb, in_range

log = logging.getLogger(__name__)

NOPUT = rpc_pb2.WatchCreateRequest.NOPUT
NODELETE = rpc_pb2.WatchCreateRequest.NODELETE
QUEUE_LIMIT = 1024         # responses queued per stream before its watchers go unsynced
MAX_EVENTS_PER_RESPONSE = 1000


@dataclass(eq=False)
class Watcher:
    stream: "WatchStream"
    id: int
    key: bytes
    range_end: bytes
    prev_kv: bool
    noput: bool
    nodelete: bool
    progress_notify: bool
    next_rev: int
    synced: bool = True
    last_sent: float = field(default_factory=time.monotonic)

    def wants(self, ev: Event) -> bool:
        if ev.type == PUT and self.noput:
            return False
        if ev.type == DELETE and self.nodelete:
            return False
        return in_range(ev.key, self.key, self.range_end)


class WatchStream:
    """One gRPC Watch stream: its watchers and the queue its sender drains."""

    def __init__(self, hub: "WatchHub"):
        self.hub = hub
        self.queue: asyncio.Queue = asyncio.Queue()
        self.watchers: dict[int, Watcher] = {}
        self.next_id = 0
        self.closed = False

    def send(self, resp: rpc_pb2.WatchResponse) -> None:
        if not self.closed:
            self.queue.put_nowait(resp)

    def create(self, req: rpc_pb2.WatchCreateRequest) -> None:
        hub = self.hub
        if req.range_end and req.range_end != b"\0" and req.key >= req.range_end:
            self.send(self._failed(-1, "mvcc: watcher range is empty"))
            return
        if req.watch_id:
            if req.watch_id in self.watchers:
                self.send(self._failed(-1, "mvcc: duplicate watch ID provided on the WatchStream"))
                return
            wid = req.watch_id
        else:
            while self.next_id in self.watchers:
                self.next_id += 1
            wid = self.next_id
            self.next_id += 1
        w = Watcher(self, wid, req.key, req.range_end, req.prev_kv, NOPUT in req.filters,
                    NODELETE in req.filters, req.progress_notify, next_rev=req.start_revision)
        self.watchers[wid] = w
        with hub.node.lock:
            cur = hub.node.mvcc.rev
            self.send(rpc_pb2.WatchResponse(header=hub.header(cur), watch_id=wid, created=True))
            if req.start_revision <= 0:
                w.next_rev = cur + 1
            else:
                hub.catch_up(w)  # compacted start: canceled right after `created`, as etcd does
        if w.id in self.watchers:
            hub.watchers.add(w)

    def cancel(self, wid: int, reason: str = "", compact_revision: int = 0) -> None:
        w = self.watchers.pop(wid, None)
        if w is None:
            return  # etcd sends nothing for an unknown id
        self.hub.watchers.discard(w)
        self.send(rpc_pb2.WatchResponse(header=self.hub.header(), watch_id=wid, canceled=True,
                                        cancel_reason=reason, compact_revision=compact_revision))

    def progress(self) -> None:
        """A WatchProgressRequest: the revision every watcher of this stream has been sent up to."""
        if all(w.synced for w in self.watchers.values()):
            self.send(rpc_pb2.WatchResponse(header=self.hub.header(self.hub.rev), watch_id=-1))

    def close(self) -> None:
        self.closed = True
        for w in self.watchers.values():
            self.hub.watchers.discard(w)
        self.watchers.clear()

    def _failed(self, wid: int, reason: str) -> rpc_pb2.WatchResponse:
        return rpc_pb2.WatchResponse(header=self.hub.header(), watch_id=wid, created=True, canceled=True,
                                     cancel_reason=reason)

    def resync(self) -> None:
        """Called by the sender once the queue is empty: unsynced watchers catch up."""
        lagging = [w for w in self.watchers.values() if not w.synced]
        if not lagging:
            return
        with self.hub.node.lock:
            for w in lagging:
                self.hub.catch_up(w)


class WatchHub:
    def __init__(self, node, header_fn, progress_interval: float):
        self.node = node
        self.header = header_fn          # header(rev=None) -> ResponseHeader
        self.watchers: set[Watcher] = set()
        self.rev = node.mvcc.rev         # the newest revision `notify` has fanned out
        self.progress_interval = progress_interval

    def catch_up(self, w: Watcher) -> None:
        """Sends `w` the retained history from w.next_rev to now. Caller holds the Raft lock."""
        mvcc = self.node.mvcc
        if w.next_rev < mvcc.compact_rev:
            w.stream.cancel(w.id, "etcdserver: mvcc: required revision has been compacted",
                            compact_revision=mvcc.compact_rev)
            return
        batch: list = []
        last = None
        for rev, events in mvcc.events_between(w.next_rev, mvcc.rev):
            # etcd reads prev_kv at rev-1: at the compact revision itself that is gone.
            with_prev = w.prev_kv and rev - 1 >= mvcc.compact_rev
            matching = [event_to_pb(e, with_prev) for e in events if w.wants(e)]
            if not matching:
                continue
            if batch and len(batch) + len(matching) > MAX_EVENTS_PER_RESPONSE:
                self._send_events(w, batch, last)
                batch = []
            batch.extend(matching)
            last = rev
        if batch:
            self._send_events(w, batch, last)
        w.next_rev = max(w.next_rev, mvcc.rev + 1)
        w.synced = True

    def _send_events(self, w: Watcher, events: list, rev: int) -> None:
        w.stream.send(rpc_pb2.WatchResponse(header=self.header(rev), watch_id=w.id, events=events))
        w.last_sent = time.monotonic()

    def notify(self, changed: list) -> None:
        """Fans out [(rev, [Event])] applied by Raft, in revision order."""
        if not changed:
            return
        self.rev = max(self.rev, changed[-1][0])
        for w in list(self.watchers):
            if not w.synced:
                continue
            if w.stream.queue.qsize() >= QUEUE_LIMIT:
                w.synced = False  # slow reader: it catches up from history once drained
                continue
            batch = []
            last = None
            for rev, events in changed:
                if rev < w.next_rev:
                    continue
                for e in events:
                    if w.wants(e):
                        batch.append(event_to_pb(e, w.prev_kv))
                        last = rev
                w.next_rev = rev + 1
            if batch:
                self._send_events(w, batch, last)

    def reset(self) -> None:
        """The state was replaced by a snapshot: every watcher catches up from where it was."""
        with self.node.lock:
            self.rev = self.node.mvcc.rev
            for w in list(self.watchers):
                w.synced = False
        for stream in {w.stream for w in self.watchers}:
            stream.resync()

    async def progress_loop(self) -> None:
        """Sends progress notifications to idle watchers that asked for them."""
        tick = min(max(self.progress_interval / 4, 0.05), 1.0)
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            for w in list(self.watchers):
                if w.progress_notify and w.synced and now - w.last_sent >= self.progress_interval \
                        and w.stream.queue.empty():
                    w.stream.send(rpc_pb2.WatchResponse(header=self.header(self.rev), watch_id=w.id))
                    w.last_sent = now
