"""What every controller of the controller manager shares: informers, the API client, event recorders,
the clock and the options; and `QueueController`, the worker loop of STYLE.md §2.

    class ReplicaSetController(QueueController):
        name = "replicaset"
        def __init__(self, ctx: ControllerContext):
            super().__init__(ctx)
            self.pods = ctx.informer("pods")
            self.rss = ctx.informer("replicasets")
            self.rss.add_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
                                 on_delete=self.enqueue)
        async def sync(self, key: str) -> None | Requeue:
            ...                                   # read the caches, decide purely, write through ctx.api

    def make(ctx: ControllerContext) -> ReplicaSetController: ...   # each controller package exports make

One informer per resource for the whole process (`ctx.informer(resource)`), started by
`ControllerContext.start_informers` after every controller has registered its handlers, and waited
for (`wait_for_sync`) before any worker runs: a controller never acts on a half-filled cache.

`QueueController.run()` runs `workers` tasks: each takes a key from the work queue (never a key
another worker holds), calls `sync(key)`, and owns the retries: an exception re-queues the key with
per-key exponential backoff and is logged (never swallowed silently); `Requeue(after=s)` asks for a
timed re-check; success forgets the key's backoff. Conflicts are routine and logged at debug.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from google.protobuf.message import Message

from client.errors import Conflict
from client.events import EventRecorder
from client.informer import DeletedFinalStateUnknown, Informer, key_of
from client.workqueue import WorkQueue, run_worker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Options:
    """The controller manager's tunables (flags of `python -m controller`)."""
    workers: int = 5
    resync_period: float = 300.0
    node_monitor_grace_period: float = 10.0     # Kubernetes: 40 s; Skiff's default is shorter (issue 5)
    pod_eviction_timeout: float = 10.0          # Kubernetes: 5 min
    node_monitor_period: float = 1.0            # how often node health is re-checked


@dataclass(frozen=True)
class Requeue:
    """Returned by `sync`: check this key again after `after` seconds (a timed re-check, not an error)."""
    after: float


@dataclass
class ControllerContext:
    api: Any                                     # client.api.ApiClient (or client.fake.FakeApi in tests)
    options: Options = field(default_factory=Options)
    clock: Callable[[], float] = time.time
    _informers: dict[str, Informer] = field(default_factory=dict)
    _recorders: dict[str, EventRecorder] = field(default_factory=dict)
    _tasks: list[asyncio.Task] = field(default_factory=list)

    def informer(self, resource: str) -> Informer:
        """The process's one informer for `resource` (all namespaces), created on first use."""
        inf = self._informers.get(resource)
        if inf is None:
            inf = self._informers[resource] = Informer(self.api, resource,
                                                       resync_period=self.options.resync_period)
        return inf

    def recorder(self, component: str) -> EventRecorder:
        rec = self._recorders.get(component)
        if rec is None:
            rec = self._recorders[component] = EventRecorder(self.api, component, clock=self.clock)
        return rec

    async def start_informers(self, timeout: float | None = None) -> None:
        """Starts every informer asked for so far and waits until all have listed."""
        for resource, inf in self._informers.items():
            self._tasks.append(asyncio.create_task(inf.run(), name=f"informer-{resource}"))
        for inf in self._informers.values():
            await inf.wait_for_sync(timeout)

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await asyncio.gather(*(rec.close() for rec in self._recorders.values()))


def object_of(obj: Message | DeletedFinalStateUnknown) -> Message:
    """The object of an informer notification (the last known state for a tombstone)."""
    return obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj


class QueueController:
    """A level-triggered controller: handlers enqueue keys, `workers` tasks run `sync(key)`."""

    name = "controller"

    def __init__(self, ctx: ControllerContext):
        self.ctx = ctx
        self.api = ctx.api
        self.queue: WorkQueue[str] = WorkQueue()
        self.events = ctx.recorder(f"{self.name}-controller")

    # -- handlers -----------------------------------------------------------------------------------
    def enqueue(self, obj: Message | DeletedFinalStateUnknown) -> None:
        self.queue.add(key_of(obj))

    def enqueue_key(self, key: str) -> None:
        self.queue.add(key)

    # -- to implement -------------------------------------------------------------------------------
    async def sync(self, key: str) -> Requeue | None:
        raise NotImplementedError

    # -- the worker loop ----------------------------------------------------------------------------
    async def run(self, workers: int | None = None) -> None:
        """Runs the workers until cancelled (then shuts the queue down)."""
        n = workers or self.ctx.options.workers
        tasks = [asyncio.create_task(run_worker(self.queue, self._sync, self._failed), name=f"{self.name}-worker-{i}")
                 for i in range(n)]
        try:
            await asyncio.gather(*tasks)
        finally:
            self.queue.shutdown()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _sync(self, key: str) -> float | None:
        result = await self.sync(key)
        return result.after if isinstance(result, Requeue) else None

    def _failed(self, key: str, e: Exception, delay: float) -> None:
        if isinstance(e, Conflict):
            log.debug("%s %s: conflict (%s); again in %.3fs", self.name, key, e, delay)
        else:
            log.warning("%s %s: sync failed: %r; again in %.3fs", self.name, key, e, delay)
