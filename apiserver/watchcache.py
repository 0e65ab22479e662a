"""The watch cache: one store watch per resource, fanned out to every client watch and list.

    store ── watch /registry/<resource>/ ──► WatchCache(kind): objects{key: obj}, window[events]
                                                 ├─► list(): current objects at cache.rev
                                                 └─► subscribe(rv): replay window > rv, then live

A thousand client watches cost one store watch plus a queue each. The window keeps the most recent
WINDOW events; a watch from a resourceVersion older than the window is answered 410 Gone (reason
Expired), as Kubernetes does, so the client relists. A consistent list first learns the store's
current revision, then waits until the cache has caught up to it, so a list never misses a write
that was acknowledged before it began.

Selectors are applied per subscriber with Kubernetes' rules: an object that stops matching is sent
as DELETED, one that starts matching as ADDED. A subscriber whose selectors pin one value (a label
`key=v` or `key in (v1,v2)`, a field `spec.nodeName=n`, its namespace) is indexed under it, its
`Trigger`, as Kubernetes' cacher indexes watchers: an event is offered only to the subscribers
indexed under the values of its object (new and previous) plus those without a trigger, so 1,000
kubelet-like watchers of their own pods cost one dictionary lookup per event, not 1,000 selector
checks.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import random
from dataclasses import dataclass, field
from typing import Callable

from google.protobuf.message import Message

from apiserver import errors
from apiserver.storage import Event, Storage, prefix_for
from store import client as sc
from client.kinds import Kind

log = logging.getLogger(__name__)

WINDOW = 10_000
SUBSCRIBER_QUEUE = 10_000  # events queued for one client watch before it is dropped (it relists)

Predicate = Callable[[Message], bool]


@dataclass(frozen=True)
class Trigger:
    """Subscribers indexed by `name` only see objects whose `get(obj)` is one of `values`."""
    name: str                           # "label:app", "field:spec.nodeName", "namespace"
    get: Callable[[Message], str | None]
    values: frozenset[str]


def _key(obj: Message) -> tuple[str, str]:
    return obj.metadata.namespace, obj.metadata.name


@dataclass(eq=False)
class Subscriber:
    predicate: Predicate
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(SUBSCRIBER_QUEUE))
    dropped: bool = False
    min_rev: int = 0     # events at or below it were already delivered (the watch's start)
    trigger: Trigger | None = None

    def offer(self, ev: Event) -> None:
        """Queues `ev` as this subscriber sees it through its selectors."""
        if ev.revision <= self.min_rev:
            return
        now = self.predicate(ev.obj)
        before = ev.prev is not None and self.predicate(ev.prev)
        if ev.type == "DELETED":
            out = ev if now else None
        elif ev.type == "ADDED" or ev.prev is None:
            out = ev if now else None
        elif now and before:
            out = ev
        elif now:
            out = Event("ADDED", ev.obj, ev.revision)
        elif before:
            out = Event("DELETED", ev.obj, ev.revision)
        else:
            out = None
        if out is None or self.dropped:
            return
        try:
            self.queue.put_nowait(out)
        except asyncio.QueueFull:
            self.dropped = True  # too slow: its watch ends and the client relists
            self.queue = asyncio.Queue(1)
            self.queue.put_nowait(None)


class WatchCache:
    def __init__(self, kind: Kind, storage: Storage):
        self.kind = kind
        self.storage = storage
        self.objects: dict[tuple[str, str], Message] = {}
        self.rev = 0
        self.window: collections.deque[Event] = collections.deque(maxlen=WINDOW)
        self.window_start = 0          # events with revision > window_start are all in the window
        self.subscribers: set[Subscriber] = set()
        self._untriggered: set[Subscriber] = set()
        # trigger name -> (its getter, value -> the subscribers indexed under it)
        self._triggered: dict[str, tuple[Callable[[Message], str | None], dict[str, set[Subscriber]]]] = {}
        self.ready = asyncio.Event()
        self._advanced = asyncio.Condition()
        self._watch: sc.Watch | None = None

    async def run(self) -> None:
        """List, then watch from the list's revision; relist when the watch is compacted away."""
        delay = 0.05
        while True:
            try:
                items, rev = await self.storage.list(self.kind)
                await self._replace(items, rev)
                delay = 0.05
                self._watch = self.storage.watch(self.kind, rev + 1)
                async with self._watch:
                    async for resp in self._watch:
                        batch = self.storage.events(self.kind, resp)
                        if batch:
                            await self._apply(batch)
                        elif not resp.events:
                            # A progress notification: every event up to its revision was sent.
                            await self._advance(resp.header.revision)
            except asyncio.CancelledError:
                raise
            except sc.Compacted:
                log.info("%s: store watch compacted; relisting", self.kind.resource)
            except Exception as e:  # noqa: BLE001 - the cache must outlive store trouble
                log.warning("%s: watch cache error %r; retrying in %.2fs", self.kind.resource, e, delay)
                await asyncio.sleep(delay * (0.8 + 0.4 * random.random()))
                delay = min(delay * 2, 2.0)

    async def _replace(self, items: list[Message], rev: int) -> None:
        fresh = {_key(o): o for o in items}
        # Tell subscribers what changed while we were not watching (a relist after compaction).
        if self.ready.is_set():
            for k, old in self.objects.items():
                if k not in fresh:
                    self._fan_out(Event("DELETED", old, rev))
            for k, new in fresh.items():
                old = self.objects.get(k)
                if old is None:
                    self._fan_out(Event("ADDED", new, rev))
                elif old.metadata.resource_version != new.metadata.resource_version:
                    self._fan_out(Event("MODIFIED", new, rev, old))
        self.objects = fresh
        self.window.clear()
        self.window_start = rev
        await self._advance(rev)
        self.ready.set()

    async def _apply(self, batch: list[Event]) -> None:
        for ev in batch:
            k = _key(ev.obj)
            prev = self.objects.get(k)
            if ev.type == "DELETED":
                self.objects.pop(k, None)
                ev = Event("DELETED", ev.obj, ev.revision, prev)
            else:
                self.objects[k] = ev.obj
                ev = Event(ev.type if prev is None or ev.type != "ADDED" else "MODIFIED", ev.obj, ev.revision, prev)
            if len(self.window) == self.window.maxlen:
                self.window_start = self.window[0].revision
            self.window.append(ev)
            self._fan_out(ev)
        await self._advance(batch[-1].revision)

    def _fan_out(self, ev: Event) -> None:
        targets = set(self._untriggered)
        for get, by_value in self._triggered.values():
            for obj in (ev.obj, ev.prev):
                if obj is not None:
                    subs = by_value.get(get(obj))
                    if subs:
                        targets |= subs
        for s in targets:
            s.offer(ev)

    async def _advance(self, rev: int) -> None:
        async with self._advanced:
            self.rev = max(self.rev, rev)
            self._advanced.notify_all()

    async def wait_for_revision(self, rev: int, timeout: float = 10.0) -> None:
        """Waits until the cache reflects revision `rev` (it has seen every event up to it)."""
        await asyncio.wait_for(self.ready.wait(), timeout)
        if self.rev >= rev:
            return
        try:
            async with self._advanced:
                await asyncio.wait_for(self._advanced.wait_for(lambda: self.rev >= rev), timeout)
        except asyncio.TimeoutError:
            raise errors.Unavailable(f"Too large resource version: {rev}, current: {self.rev}") from None

    async def sync(self, timeout: float = 10.0) -> None:
        """Waits until the cache reflects every write acknowledged before this call (a consistent
        read): learn the store's current revision with a linearizable read, then ask the store watch
        for progress notifications until the cache has caught up to it."""
        resp = await self.storage.store.range(prefix_for(self.kind), prefix=True, count_only=True)
        target = resp.header.revision
        loop = asyncio.get_running_loop()
        give_up = loop.time() + timeout
        while self.rev < target:
            if self._watch is not None:
                await self._watch.request_progress()
            try:
                await self.wait_for_revision(target, timeout=min(0.2, max(0.01, give_up - loop.time())))
            except errors.Unavailable:
                if loop.time() >= give_up:
                    raise

    def list(self, predicate: Predicate) -> tuple[list[Message], int]:
        items = [o for k, o in sorted(self.objects.items()) if predicate(o)]
        return items, self.rev

    def subscribe(self, rv: int | None, predicate: Predicate,
                  trigger: Trigger | None = None) -> tuple[Subscriber, list[Event]]:
        """A live subscription plus what comes before it: for `rv` None, an ADDED event per current
        object; else every retained event after `rv` (410 Gone if the window no longer reaches it).
        `trigger`: what `predicate` requires of one field, for the index (it must imply it)."""
        sub = Subscriber(predicate, min_rev=self.rev if rv is None else max(rv, self.rev), trigger=trigger)
        if rv is None:
            initial = [Event("ADDED", o, self.rev) for _, o in sorted(self.objects.items()) if predicate(o)]
        else:
            if rv < self.window_start:
                raise errors.Gone(f"too old resource version: {rv} ({self.window_start})")
            initial = []
            for ev in self.window:
                if ev.revision > rv:
                    sub_ev = _through(sub, ev)
                    if sub_ev is not None:
                        initial.append(sub_ev)
        self.subscribers.add(sub)
        if trigger is None:
            self._untriggered.add(sub)
        else:
            _, by_value = self._triggered.setdefault(trigger.name, (trigger.get, {}))
            for v in trigger.values:
                by_value.setdefault(v, set()).add(sub)
        return sub, initial

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)
        self._untriggered.discard(sub)
        t = sub.trigger
        if t is not None and t.name in self._triggered:
            by_value = self._triggered[t.name][1]
            for v in t.values:
                subs = by_value.get(v)
                if subs is not None:
                    subs.discard(sub)
                    if not subs:
                        del by_value[v]
            if not by_value:
                del self._triggered[t.name]


def _through(sub: Subscriber, ev: Event) -> Event | None:
    """`ev` as `sub` would have been offered it (same selector rules as Subscriber.offer)."""
    probe = Subscriber(sub.predicate, asyncio.Queue(1), min_rev=0)
    probe.offer(ev)
    return None if probe.queue.empty() else probe.queue.get_nowait()
