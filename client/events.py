"""Events about objects, as Kubernetes' record.EventRecorder writes them (`skiff get events`).

    recorder = EventRecorder(api, component="scheduler")
    recorder.event(pod, "Warning", "FailedScheduling", "0/3 nodes are available: ...")
    await recorder.close()      # waits for what is queued to be written

`event()` never blocks and never raises: events are queued and written by WRITERS background tasks,
as Kubernetes does, so a slow or failing apiserver never slows a controller down (an event that
cannot be written is logged and dropped; the queue is bounded, and drops are logged once per
thousand). Repeats of one key are written by one writer at a time, so counts never go backwards. A repeat of the same (object,
type, reason, message) within the cache is folded into the first Event: its count goes up and
lastTimestamp moves, as Kubernetes' EventCorrelator does, so a pod that stays unschedulable makes
one Event, not thousands.

The pure part, `new_event` and `Correlator`, has no I/O and takes `now` as a parameter.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import secrets
import time
from dataclasses import dataclass

from google.protobuf.message import Message

from client import kinds
from client.errors import ApiError, Conflict, NotFound
from client.times import format_time
from skiffpb.k8s.core.v1 import core_pb2

log = logging.getLogger(__name__)

QUEUE = 1000          # events waiting to be written before new ones are dropped
CACHE = 4096          # (object, type, reason, message) keys remembered for folding repeats
WRITERS = 4           # events written at once


def reference(obj: Message) -> core_pb2.ObjectReference:
    """An ObjectReference to `obj` (kind and apiVersion from its type)."""
    kind = kinds.of_message(obj)
    ref = core_pb2.ObjectReference(kind=kind.kind, name=obj.metadata.name, uid=obj.metadata.uid,
                                   api_version=kind.api_version,
                                   resource_version=obj.metadata.resource_version)
    if obj.metadata.namespace:
        ref.namespace = obj.metadata.namespace
    return ref


def new_event(obj: Message, type_: str, reason: str, message: str, component: str, now: float,
              host: str = "", suffix: str = "") -> core_pb2.Event:
    """A fresh Event about `obj`, named `<object name>.<suffix>` in the object's namespace."""
    ref = reference(obj)
    ev = core_pb2.Event(api_version="v1", kind="Event", involved_object=ref, reason=reason, message=message,
                        type=type_, count=1, first_timestamp=format_time(now), last_timestamp=format_time(now),
                        reporting_component=component)
    ev.metadata.name = f"{ref.name}.{suffix or secrets.token_hex(8)}"
    ev.metadata.namespace = ref.namespace or "default"
    ev.source.component = component
    if host:
        ev.source.host = host
    return ev


@dataclass
class _Seen:
    namespace: str
    name: str
    count: int


class Correlator:
    """Folds repeats: `observe(event)` says whether to create it, or which Event to bump and to what count."""

    def __init__(self, size: int = CACHE):
        self._seen: collections.OrderedDict[tuple, _Seen] = collections.OrderedDict()
        self._size = size

    @staticmethod
    def key(ev: core_pb2.Event) -> tuple:
        o = ev.involved_object
        return (o.kind, o.namespace, o.name, o.uid, ev.type, ev.reason, ev.message, ev.source.component)

    def observe(self, ev: core_pb2.Event) -> _Seen | None:
        """None: a new Event (remembered); else the earlier Event to update, its count already raised."""
        k = self.key(ev)
        seen = self._seen.get(k)
        if seen is None:
            self._seen[k] = _Seen(ev.metadata.namespace, ev.metadata.name, 1)
            if len(self._seen) > self._size:
                self._seen.popitem(last=False)
            return None
        self._seen.move_to_end(k)
        seen.count += 1
        return seen

    def forget(self, ev: core_pb2.Event) -> None:
        self._seen.pop(self.key(ev), None)


class EventRecorder:
    def __init__(self, api, component: str, host: str = "", clock=time.time):
        self.api = api
        self.component = component
        self.host = host
        self.clock = clock
        self._queue: asyncio.Queue[core_pb2.Event | None] = asyncio.Queue(QUEUE)
        self._correlator = Correlator()
        self._tasks: list[asyncio.Task] = []
        self._busy: set[tuple] = set()          # keys a writer is writing now
        self._key_free = asyncio.Condition()
        self.dropped = 0

    def event(self, obj: Message, type_: str, reason: str, message: str) -> None:
        """Queues an Event about `obj` (type_ Normal or Warning); never blocks, never raises."""
        ev = new_event(obj, type_, reason, message, self.component, self.clock(), self.host)
        try:
            self._queue.put_nowait(ev)
        except asyncio.QueueFull:
            if self.dropped % 1000 == 0:
                log.warning("event queue full (%d queued); dropped %s about %s/%s (%d dropped so far)",
                            QUEUE, reason, ev.metadata.namespace, ev.involved_object.name, self.dropped + 1)
            self.dropped += 1
            return
        if not self._tasks:
            loop = asyncio.get_running_loop()
            self._tasks = [loop.create_task(self._run(), name=f"events-{self.component}-{i}")
                           for i in range(WRITERS)]

    async def close(self, timeout: float = 5.0) -> None:
        """Writes what is queued (for at most `timeout` s), then stops."""
        if not self._tasks:
            return
        for _ in self._tasks:
            await self._queue.put(None)
        _, pending = await asyncio.wait(self._tasks, timeout=timeout)
        for t in pending:
            t.cancel()
        self._tasks = []

    async def _run(self) -> None:
        while True:
            ev = await self._queue.get()
            if ev is None:
                return
            key = Correlator.key(ev)
            async with self._key_free:
                await self._key_free.wait_for(lambda: key not in self._busy)
                self._busy.add(key)
            try:
                await self._write(ev)
            except ApiError as e:
                log.warning("could not write event %s about %s/%s: %s", ev.reason, ev.metadata.namespace,
                            ev.involved_object.name, e)
            except Exception as e:  # noqa: BLE001 - a recorder must never take its component down
                log.warning("could not write event %s: %r", ev.reason, e)
            finally:
                async with self._key_free:
                    self._busy.discard(key)
                    self._key_free.notify_all()

    async def _write(self, ev: core_pb2.Event) -> None:
        seen = self._correlator.observe(ev)
        if seen is not None:
            try:
                old = await self.api.get("events", seen.namespace, seen.name)
                old.count = seen.count
                old.last_timestamp = ev.last_timestamp
                await self.api.update(old)
                return
            except (NotFound, Conflict):
                # Deleted or changed by someone else meanwhile: start a new Event.
                self._correlator.forget(ev)
                self._correlator.observe(ev)
        await self.api.create(ev)
