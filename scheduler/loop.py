"""The scheduler's shell: informers in, binds, status and Events out. The decisions are the pure core's
(algorithm.schedule over a snapshot.Snapshot, queue.SchedulingQueue); this module only keeps them fed
and carries them out.

    scheduler = Scheduler(api, pods_informer, nodes_informer, Settings(), metrics, recorder, rng=Random())
    asyncio.create_task(scheduler.warm())     # on every process, leader or not: the snapshot kept warm
    await scheduler.run()                     # the leading task: schedule until cancelled

Shape (Kubernetes' scheduleOne with its asynchronous binding cycle):

    informer handlers ── keep `snapshot` (bound pods, nodes) and the queue up to date; NO I/O
    run():  slot = bind semaphore ─► key = queue.pop ─► pod from the informer cache (READ-ONLY)
            ─► schedule(pod, snapshot, rng) ─┬─ node: assume(pod, node); bind task started ─┐
                                             └─ none: park as unschedulable; Event; status   │
    bind task: ApiClient.bind(ns, name, node, uid) ─┬─ ok: Event Scheduled; queue done      ◄┘
                                                    ├─ Conflict/NotFound: forget; drop (someone else
                                                    │  bound it, or it is gone: the informer says which)
                                                    └─ other error: forget; back off and retry

Ordering and races, deliberately:
- Deciding a pod, assuming it and parking it happen with no await in between, against one snapshot:
  the next pod sees the room taken, and no cluster event can slip between a verdict and the parking.
- The bind semaphore is taken *before* the pod is popped, so a decision is made against the newest
  snapshot when a bind slot frees, not against one that aged while waiting for a slot.
- An assumed pod stays in the snapshot until the informer shows it bound (then the informer's copy
  replaces it), the bind fails (forget), or `assumed_ttl` passes after a successful bind without the
  informer confirming it (Kubernetes' assumed-pod expiry), so its room is neither double-booked nor
  lost forever. A bind failure forgets the assumption only while it is still ours: once the informer
  has placed the pod (bound by another scheduler), forgetting would erase a real pod's room.
- A Conflict on bind means the pod was bound already, is being deleted, or was re-created (uid):
  in every case the informer will tell, so the key is dropped; an update that arrived while the bind
  was on the wire re-queues it once (queue's dirty rule), and the cache decides at pop time.
- Room appears (node added or changed in what scheduling reads, a bound pod deleted or finished, an
  assumption forgotten): every unschedulable pod moves to the active or backoff queue. Heartbeats and
  other status-only node updates do not move anything.
- Only the leader runs `run()`; it checks `may_act()` (the elector's `is_leader`) before each pod and
  each write, as client/candidate.py explains. The informers run on standbys too, so a new leader
  starts with a warm cache; each term (`run()`) starts from the caches alone: snapshot rebuilt,
  assumptions dropped, queue refilled with every pending pod, so nothing an earlier term of this
  process assumed or had in flight survives into the next.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from random import Random

from client.api import Conflict, NotFound
from client.errors import ApiError
from client.events import EventRecorder
from client.times import format_time
from client.informer import DeletedFinalStateUnknown, Informer, key_of, split_key
from scheduler.algorithm import schedule
from scheduler.metrics import Metrics
from scheduler.queue import Outcome, SchedulingQueue
from scheduler.snapshot import PodInfo, Snapshot, assume, build_snapshot, forget, remove_node, update_node
from skiffpb.k8s.core.v1 import core_pb2

__all__ = ["DEFAULT_SCHEDULER", "Scheduler", "Settings", "node_changed", "responsible",
           "scheduled_message", "unschedulable_status"]

log = logging.getLogger(__name__)

DEFAULT_SCHEDULER = "default-scheduler"
POD_SCHEDULED, UNSCHEDULABLE = "PodScheduled", "Unschedulable"
_TERMINATED = ("Succeeded", "Failed")


@dataclass(frozen=True)
class Settings:
    """What the loop needs of the process's Config."""

    scheduler_name: str = DEFAULT_SCHEDULER
    bind_concurrency: int = 64          # binds on the wire at once
    initial_backoff: float = 1.0        # Kubernetes' podInitialBackoffSeconds
    max_backoff: float = 10.0           # Kubernetes' podMaxBackoffSeconds
    max_unschedulable: float = 60.0     # parked longer than this: retried anyway (Kubernetes: 60 s)
    assumed_ttl: float = 30.0           # a bound assumption the informer never confirms is dropped
    bind_timeout: float = 10.0          # deadline of one bind call
    summary_interval: float = 10.0      # seconds between info summaries (when something happened)
    housekeeping_interval: float = 1.0  # flush, assumed-pod expiry, summary


# -- pure helpers -------------------------------------------------------------------------------------

def responsible(pod: core_pb2.Pod, scheduler_name: str) -> bool:
    """Whether `scheduler_name` schedules this pod: its spec.schedulerName, where an empty one means
    the default scheduler (the apiserver defaults it so; an old object may lack it)."""
    name = pod.spec.scheduler_name
    return name == scheduler_name or (not name and scheduler_name == DEFAULT_SCHEDULER)


def _ready(node: core_pb2.Node) -> str:
    return next((c.status for c in node.status.conditions if c.type == "Ready"), "")


def node_changed(old: core_pb2.Node, new: core_pb2.Node) -> bool:
    """Whether an update changed what the filters and scorers read (allocatable, capacity, labels,
    taints, unschedulable, the Ready status). A heartbeat does not: it must not wake parked pods."""
    return (old.status.allocatable != new.status.allocatable or old.status.capacity != new.status.capacity
            or old.metadata.labels != new.metadata.labels or old.spec.taints != new.spec.taints
            or old.spec.unschedulable != new.spec.unschedulable or _ready(old) != _ready(new))


def unschedulable_status(pod: core_pb2.Pod, message: str, now: str) -> core_pb2.Pod | None:
    """A copy of `pod` with PodScheduled False, reason Unschedulable and `message` (lastTransitionTime
    `now` if the status changes), ready for UpdateStatus; None when the condition says so already."""
    current = next((c for c in pod.status.conditions if c.type == POD_SCHEDULED), None)
    if (current is not None and current.status == "False" and current.reason == UNSCHEDULABLE
            and current.message == message):
        return None
    new = core_pb2.Pod()
    new.CopyFrom(pod)          # NEVER mutate the informer's pod
    cond = next((c for c in new.status.conditions if c.type == POD_SCHEDULED), None)
    if cond is None:
        cond = new.status.conditions.add(type=POD_SCHEDULED)
    if cond.status != "False":
        cond.last_transition_time = now
    cond.status, cond.reason, cond.message = "False", UNSCHEDULABLE, message
    cond.ClearField("last_probe_time")
    return new


def scheduled_message(pod: core_pb2.Pod, node: str) -> str:
    """Kubernetes' `Scheduled` Event text."""
    return f"Successfully assigned {pod.metadata.namespace}/{pod.metadata.name} to {node}"


def _terminating(pod: core_pb2.Pod) -> bool:
    return pod.metadata.HasField("deletion_timestamp")


@dataclass
class _Assumed:
    uid: str
    node: str
    info: PodInfo
    deadline: float | None = None    # set once the bind succeeded; None while it is on the wire


@dataclass
class _Tally:
    scheduled: int = 0
    unschedulable: int = 0
    errors: int = 0
    since: float = field(default=0.0)


# -- the shell ----------------------------------------------------------------------------------------

class Scheduler:
    """See the module docstring. Handlers are registered on the informers at construction."""

    def __init__(self, api, pods: Informer, nodes: Informer, settings: Settings, metrics: Metrics,
                 recorder: EventRecorder, *, rng: Random, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time, may_act: Callable[[], bool] = lambda: True):
        self.api, self.pods, self.nodes = api, pods, nodes
        self.settings = settings
        self.metrics = metrics
        self.recorder = recorder
        self.may_act = may_act
        self._rng, self._clock, self._wall = rng, clock, wall
        self.queue = SchedulingQueue(initial_backoff=settings.initial_backoff,
                                     max_backoff=settings.max_backoff,
                                     max_unschedulable=settings.max_unschedulable)
        self.snapshot: Snapshot = build_snapshot((), ())
        self.ready = asyncio.Event()     # the snapshot was built from both synced caches
        self.assumed: dict[str, _Assumed] = {}
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(settings.bind_concurrency)
        self._binds = 0
        self._status_writes: dict[str, str] = {}   # pod key -> message being written
        self._status_slots = asyncio.Semaphore(16)
        self._tally = _Tally(since=clock())
        pods.add_handler(self.on_pod_add, self.on_pod_update, self.on_pod_delete)
        nodes.add_handler(self.on_node_add, self.on_node_update, self.on_node_delete)

    # -- warm-up -------------------------------------------------------------------------------------
    async def warm(self) -> None:
        """Wait for both informers' first list, then build the snapshot from their caches; from then
        on the handlers keep it current. Runs on standbys too."""
        await self.nodes.wait_for_sync()
        await self.pods.wait_for_sync()
        # One synchronous step: every event until now is in the caches, every later one reaches the
        # handlers after `ready` is set.
        self.snapshot = build_snapshot(self.nodes.list(), self.pods.list())
        self.ready.set()
        log.info("scheduler cache synced: %d nodes, %d pods placed, %d pending", len(self.snapshot),
                 len(self.snapshot.pod_nodes), self.queue.lengths().active)
        self._wake.set()

    # -- informer handlers: only the snapshot and the queue, no I/O ----------------------------------
    def on_pod_add(self, pod: core_pb2.Pod) -> None:
        self._on_pod(None, pod)

    def on_pod_update(self, old: core_pb2.Pod, new: core_pb2.Pod) -> None:
        self._on_pod(old, new)

    def on_pod_delete(self, obj: core_pb2.Pod | DeletedFinalStateUnknown) -> None:
        key = key_of(obj)
        self.queue.delete(key)
        self.assumed.pop(key, None)
        if self.ready.is_set() and key in self.snapshot.pod_nodes:
            self.snapshot = forget(self.snapshot, key)
            self._move_all("pod deleted", key)

    def _on_pod(self, old: core_pb2.Pod | None, new: core_pb2.Pod) -> None:
        key = key_of(new)
        if new.spec.node_name:
            self.queue.delete(key)          # bound, by us or anyone: no longer work
            if self.ready.is_set():
                self._place(key, old, new)
            return
        if not responsible(new, self.settings.scheduler_name) or _terminating(new):
            self.queue.delete(key)
            return
        # A status-only update (our own PodScheduled=False among them) must not wake a parked pod.
        changed = old is None or old.spec != new.spec or old.metadata.uid != new.metadata.uid
        self.queue.add(key, now=self._clock(), changed=changed)
        self._wake.set()

    def _place(self, key: str, old: core_pb2.Pod | None, pod: core_pb2.Pod) -> None:
        """Record a bound pod as the informer shows it."""
        self.assumed.pop(key, None)         # the informer has caught up: its copy is the truth now
        placed = self.snapshot.pod_nodes.get(key)
        node = pod.spec.node_name
        if pod.status.phase in _TERMINATED or node not in self.snapshot.nodes:
            # Finished: its room is free. Bound to a node we do not know (yet): `_put_node` recovers
            # it from the informer's node index if that node appears.
            if placed is not None:
                self.snapshot = forget(self.snapshot, key)
                self._move_all("pod finished" if pod.status.phase in _TERMINATED else "pod left", key)
            return
        if (placed == node and old is not None and old.spec.node_name in ("", node)
                and _terminating(old) == _terminating(pod)):
            return                          # nothing the scheduler counts has changed
        self.snapshot = assume(self.snapshot, PodInfo.from_pod(pod), node)
        if placed is not None and placed != node:
            self._move_all("pod bound elsewhere than assumed", key)

    def on_node_add(self, node: core_pb2.Node) -> None:
        if self.ready.is_set():
            self._put_node(node)
            self._move_all("node added", node.metadata.name)

    def on_node_update(self, old: core_pb2.Node, new: core_pb2.Node) -> None:
        if not self.ready.is_set():
            return
        if new.metadata.name in self.snapshot.nodes and not node_changed(old, new):
            return
        self._put_node(new)
        self._move_all("node updated", new.metadata.name)

    def on_node_delete(self, obj: core_pb2.Node | DeletedFinalStateUnknown) -> None:
        if self.ready.is_set():
            self.snapshot = remove_node(self.snapshot, key_of(obj))

    def _put_node(self, node: core_pb2.Node) -> None:
        name = node.metadata.name
        known = name in self.snapshot.nodes
        self.snapshot = update_node(self.snapshot, node)
        if known:
            return
        # A node (re)appearing starts empty: put back the pods bound to it, and our assumptions.
        for pod in self.pods.by_index("node", name):
            if pod.status.phase not in _TERMINATED:
                self.snapshot = assume(self.snapshot, PodInfo.from_pod(pod), name)
        for key, a in self.assumed.items():
            if a.node == name and key not in self.snapshot.pod_nodes:
                self.snapshot = assume(self.snapshot, a.info, name)

    def _move_all(self, why: str, what: str) -> None:
        moved = self.queue.move_all(now=self._clock())
        if moved:
            log.debug("%s %s: %d unschedulable pod(s) back to the queue", why, what, moved)
            self._wake.set()

    # -- the leading task ----------------------------------------------------------------------------
    async def run(self) -> None:
        """Schedule until cancelled (one leadership term). Binds and status writes run as tasks of
        this one: cancelling it stops them all (a bind already on the wire may still land; its
        precondition keeps it harmless, and the next term sees it through the informer)."""
        await self.ready.wait()
        self._begin_term()
        log.info("scheduling as %s: %d nodes, %d pods placed, %d pending", self.settings.scheduler_name,
                 len(self.snapshot), len(self.snapshot.pod_nodes), self.queue.lengths().active)
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._housekeeping())
            while True:
                if not self.may_act():
                    # Past the renew deadline: the elector cancels this task any moment now.
                    await asyncio.sleep(0.05)
                    continue
                await self._slots.acquire()
                try:
                    key = await self._next_key()
                except BaseException:
                    self._slots.release()
                    raise
                if not self._schedule_one(key, tasks):
                    self._slots.release()
                # Let informer events and bind answers in between two pods: with the queue full and
                # a slot free, nothing above would yield.
                await asyncio.sleep(0)

    def _begin_term(self) -> None:
        """Start a term from the informer caches alone: a fresh snapshot, no assumptions, and a fresh
        queue holding every pending pod. Whatever an earlier term assumed or had in flight is gone
        (its binds were cancelled or landed, and the caches show which), as a new process would."""
        self.snapshot = build_snapshot(self.nodes.list(), self.pods.list())
        self.assumed.clear()
        self.queue = SchedulingQueue(initial_backoff=self.settings.initial_backoff,
                                     max_backoff=self.settings.max_backoff,
                                     max_unschedulable=self.settings.max_unschedulable)
        now = self._clock()
        for pod in self.pods.list():
            if (not pod.spec.node_name and not _terminating(pod)
                    and responsible(pod, self.settings.scheduler_name)):
                self.queue.add(key_of(pod), now=now)
        self._tally = _Tally(since=now)

    async def _next_key(self) -> str:
        loop = asyncio.get_running_loop()
        while True:
            now = self._clock()
            key = self.queue.pop(now=now)
            if key is not None:
                return key
            self._wake.clear()
            due = self.queue.next_due()
            timer = None if due is None else loop.call_later(max(due - now, 0.0), self._wake.set)
            try:
                await self._wake.wait()
            finally:
                if timer is not None:
                    timer.cancel()

    def _schedule_one(self, key: str, tasks: asyncio.TaskGroup) -> bool:
        """Decide one pod (synchronously); True when a bind task took the slot."""
        started = self._clock()
        pod = self.pods.get_by_key(key)     # READ-ONLY
        if (pod is None or pod.spec.node_name or _terminating(pod) or key in self.assumed
                or not responsible(pod, self.settings.scheduler_name)):
            self.queue.done(key, Outcome.GONE, now=started)
            return False
        try:
            info = PodInfo.from_pod(pod)
        except ValueError as e:             # the apiserver validates quantities; a bug if seen
            log.error("%s: cannot read the pod's requests (%s); retrying after backoff", key, e)
            self._finish_attempt(key, Outcome.ERROR, started)
            return False
        result = schedule(info, self.snapshot, self._rng)
        self.metrics.algorithm.observe(self._clock() - started)
        attempt = self.queue.attempts(key)
        if result.node_name is None:
            message = result.message
            self._finish_attempt(key, Outcome.UNSCHEDULABLE, started)
            log.debug("%s: unschedulable (attempt %d): %s", key, attempt, message)
            self._record_unschedulable(key, pod, message, tasks)
            return False
        node = result.node_name
        self.snapshot = assume(self.snapshot, info, node)
        self.assumed[key] = _Assumed(pod.metadata.uid, node, info)
        log.debug("%s: assumed on %s (attempt %d; %d of %d nodes feasible, score %s)", key, node, attempt,
                  len(result.feasible), result.num_nodes, result.scores.get(node, "-"))
        self._binds += 1
        tasks.create_task(self._bind(key, pod, node, started))
        return True

    def _finish_attempt(self, key: str, outcome: Outcome, started: float) -> None:
        now = self._clock()
        result = {Outcome.SCHEDULED: "scheduled", Outcome.UNSCHEDULABLE: "unschedulable",
                  Outcome.ERROR: "error"}.get(outcome)
        if result is not None:
            self.metrics.attempts.labels(result).inc()
            self.metrics.e2e.labels(result).observe(now - started)
        if outcome is Outcome.SCHEDULED:
            self._tally.scheduled += 1
            self.metrics.scheduled.inc()
            first = self.queue.first_seen(key)
            if first is not None:
                self.metrics.pod_duration.observe(now - first)
        elif outcome is Outcome.UNSCHEDULABLE:
            self._tally.unschedulable += 1
        elif outcome is Outcome.ERROR:
            self._tally.errors += 1
        self.queue.done(key, outcome, now=now)
        self._wake.set()

    async def _bind(self, key: str, pod: core_pb2.Pod, node: str, started: float) -> None:
        ns, name = split_key(key)
        uid = pod.metadata.uid
        outcome, error = Outcome.SCHEDULED, None
        try:
            if not self.may_act():
                outcome, error = Outcome.ERROR, "not the leader any more"
            else:
                await self.api.bind(ns, name, node, uid=uid, timeout=self.settings.bind_timeout)
        except (Conflict, NotFound) as e:
            outcome, error = Outcome.GONE, e
        except ApiError as e:
            outcome, error = Outcome.ERROR, e
        finally:
            self._binds -= 1
            self._slots.release()
        a = self.assumed.get(key)
        ours = a is not None and a.uid == uid      # else the informer has placed the pod meanwhile
        if outcome is Outcome.SCHEDULED:
            if ours:
                a.deadline = self._clock() + self.settings.assumed_ttl
            log.debug("%s: bound to %s", key, node)
            self.recorder.event(pod, "Normal", "Scheduled", scheduled_message(pod, node))
        else:
            if ours:
                del self.assumed[key]
                self.snapshot = forget(self.snapshot, key)
                self._move_all("assumed pod forgotten", key)
            if outcome is Outcome.GONE:
                self.metrics.conflicts.inc()
                log.debug("%s: not bound to %s: %s", key, node, error)
            else:
                log.warning("%s: binding to %s failed (%s); retrying after backoff", key, node, error)
        self._finish_attempt(key, outcome, started)

    def _record_unschedulable(self, key: str, pod: core_pb2.Pod, message: str,
                              tasks: asyncio.TaskGroup) -> None:
        # Every attempt makes an Event; the recorder folds repeats into one Event with a count.
        self.recorder.event(pod, "Warning", "FailedScheduling", message)
        if self._status_writes.get(key) == message:
            return
        desired = unschedulable_status(pod, message, format_time(self._wall()))
        if desired is not None:
            self._status_writes[key] = message
            tasks.create_task(self._write_status(key, desired, message))

    async def _write_status(self, key: str, pod: core_pb2.Pod, message: str) -> None:
        """PodScheduled=False through UpdateStatus, guarded by the resourceVersion read; on Conflict
        re-read and re-decide (the pod may have been bound meanwhile: then nothing is written)."""
        ns, name = split_key(key)
        uid = pod.metadata.uid
        try:
            async with self._status_slots:
                for _ in range(3):
                    if not self.may_act():
                        return
                    try:
                        await self.api.update_status(pod)
                        return
                    except Conflict:
                        fresh = await self.api.get("pods", ns, name)
                    if fresh.spec.node_name or fresh.metadata.uid != uid or _terminating(fresh):
                        return
                    pod = unschedulable_status(fresh, message, format_time(self._wall()))
                    if pod is None:
                        return
                log.info("%s: PodScheduled=False not written: the pod keeps changing", key)
        except NotFound:
            return
        except ApiError as e:
            # Absorbed on purpose: the status is advisory, and the next attempt writes it again
            # (the cache still shows the old condition).
            log.warning("%s: could not write PodScheduled=False: %s", key, e)
        finally:
            if self._status_writes.get(key) == message:
                del self._status_writes[key]

    # -- housekeeping --------------------------------------------------------------------------------
    async def _housekeeping(self) -> None:
        """Once a `housekeeping_interval`: the unschedulable flush, assumed-pod expiry, the summary."""
        while True:
            await asyncio.sleep(self.settings.housekeeping_interval)
            now = self._clock()
            moved = self.queue.flush(now=now)
            if moved:
                log.info("%d pod(s) unschedulable for over %.0fs: trying them again", moved,
                         self.settings.max_unschedulable)
                self._wake.set()
            expired = [k for k, a in self.assumed.items() if a.deadline is not None and a.deadline < now]
            for key in expired:
                a = self.assumed.pop(key)
                log.warning("%s: bound to %s %.0fs ago but never seen bound: forgetting the assumption",
                            key, a.node, self.settings.assumed_ttl)
                self.snapshot = forget(self.snapshot, key)
                self._move_all("assumed pod expired", key)
            if now - self._tally.since >= self.settings.summary_interval:
                self._summary(now)

    def _summary(self, now: float) -> None:
        t = self._tally
        if t.scheduled or t.unschedulable or t.errors:
            q = self.queue.lengths()
            span = now - t.since
            log.info("scheduled %d pods in %.1fs (%.1f/s), %d unschedulable attempts, %d errors; queues: "
                     "active %d, backoff %d, unschedulable %d; binds in flight %d; %d nodes, %d pods placed",
                     t.scheduled, span, t.scheduled / span if span > 0 else 0.0, t.unschedulable, t.errors,
                     q.active, q.backoff, q.unschedulable, self._binds, len(self.snapshot),
                     len(self.snapshot.pod_nodes))
        self._tally = _Tally(since=now)

    def update_gauges(self) -> None:
        """Queue lengths and cache sizes into the metrics (called before each scrape)."""
        q = self.queue.lengths()
        self.metrics.pending.labels("active").set(q.active)
        self.metrics.pending.labels("backoff").set(q.backoff)
        self.metrics.pending.labels("unschedulable").set(q.unschedulable)
        self.metrics.binds_in_flight.set(self._binds)
        self.metrics.cache_size.labels("nodes").set(len(self.snapshot))
        self.metrics.cache_size.labels("pods").set(len(self.snapshot.pod_nodes))
        self.metrics.cache_size.labels("assumed_pods").set(len(self.assumed))
