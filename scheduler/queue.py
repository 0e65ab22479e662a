"""The scheduling queue: which pending pod to try next, and when a pod no node fits is tried again. Pure.

    q = SchedulingQueue(initial_backoff=1.0, max_backoff=10.0, max_unschedulable=60.0)
    q.add("default/web-1", now=t)                  # the informer saw a pending pod (new or changed)
    key = q.pop(now=t)                             # the next pod to schedule; None if none is ready
    q.done(key, Outcome.UNSCHEDULABLE, now=t)      # park it until the cluster changes
    q.move_all(now=t)                              # a node was added, a bound pod went away: retry
    q.next_due()                                   # when the earliest backing-off pod becomes ready

Kubernetes' scheduling queue (pkg/scheduler/internal/queue, 1.20), reduced to FIFO order (Skiff has
no pod priority). Keys (`namespace/name`) live in exactly one of:

- **active**: ready to be tried, first in first out. A key already queued is not queued twice.
- **backoff**: tried and failed; ready again once its backoff has passed. The backoff of a pod
  that has been tried n times is `initial_backoff * 2**(n-1)`, at most `max_backoff`, counted from
  the end of its last attempt (Kubernetes' podInitialBackoffSeconds 1 s, podMaxBackoffSeconds 10 s).
- **unschedulable**: no node fitted. Parked until `move_all` (a cluster event that may have made
  room: node added or changed, a bound pod deleted or finished, an assumed pod forgotten); then to
  active if its backoff has passed, else to backoff, so a stream of events retries a pod at most
  once per backoff, never in a busy loop. `flush` moves the pods parked longer than
  `max_unschedulable` (Kubernetes: 60 s) as a safety net for an event that was missed.
- **in flight**: popped and not yet `done` (its bind may be on the wire). An `add` of a key in
  flight marks it dirty: `done` queues it once more, so an update that arrived meanwhile is looked
  at (client-go's workqueue rule). A key is never handed out twice at once.

Why Kubernetes' moveRequestCycle is not needed here: the shell decides a pod and parks it with no
await in between, so no cluster event can arrive between reading the snapshot and parking the pod.

The queue holds keys, not pods: the caller reads the pod from its informer cache at `pop` time and
calls `done(key, Outcome.GONE, ...)` for a key that is no longer work (bound, deleted, not ours).
"""
from __future__ import annotations

import enum
import heapq
from collections import deque
from dataclasses import dataclass

__all__ = ["Outcome", "QueueLengths", "SchedulingQueue", "backoff_duration"]


class Outcome(enum.Enum):
    """How an attempt ended (`done`)."""

    SCHEDULED = "scheduled"          # bound: the key leaves the queue
    GONE = "gone"                    # no longer work (bound by someone else, deleted, a Conflict)
    UNSCHEDULABLE = "unschedulable"  # no node fits: park until the cluster changes
    ERROR = "error"                  # the bind or a call failed: retry after the backoff


@dataclass(frozen=True)
class QueueLengths:
    active: int
    backoff: int
    unschedulable: int
    in_flight: int


def backoff_duration(attempts: int, initial: float, maximum: float) -> float:
    """Kubernetes' calculateBackoffDuration: `initial` after the first attempt, doubling, capped."""
    duration = initial
    for _ in range(1, attempts):
        duration *= 2
        if duration >= maximum:
            return maximum
    return min(duration, maximum)


class SchedulingQueue:
    """Active, backoff and unschedulable pods plus those in flight; see the module docstring."""

    def __init__(self, *, initial_backoff: float = 1.0, max_backoff: float = 10.0,
                 max_unschedulable: float = 60.0):
        if not (0 < initial_backoff <= max_backoff) or max_unschedulable <= 0:
            raise ValueError(f"need 0 < initial_backoff <= max_backoff and max_unschedulable > 0, got "
                             f"{initial_backoff}, {max_backoff}, {max_unschedulable}")
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.max_unschedulable = max_unschedulable
        self._active: deque[str] = deque()                      # may hold stale entries: see pop
        self._in_active: set[str] = set()                        # the keys really active
        self._backoff: dict[str, tuple[float, int]] = {}        # key -> (due, seq)
        self._heap: list[tuple[float, int, str]] = []            # same entries; stale ones skipped lazily
        self._seq = 0
        self._unschedulable: dict[str, float] = {}               # key -> when parked
        self._in_flight: set[str] = set()
        self._dirty: set[str] = set()                            # added again while in flight
        self._attempts: dict[str, int] = {}
        self._last_attempt: dict[str, float] = {}                # end of the last failed attempt
        self._first_seen: dict[str, float] = {}

    # -- observations ----------------------------------------------------------------------------
    def lengths(self) -> QueueLengths:
        return QueueLengths(len(self._in_active), len(self._backoff), len(self._unschedulable),
                            len(self._in_flight))

    def __contains__(self, key: str) -> bool:
        return (key in self._in_active or key in self._backoff or key in self._unschedulable
                or key in self._in_flight)

    def where(self, key: str) -> str | None:
        """"active", "backoff", "unschedulable", "in_flight", or None: for tests and logs."""
        if key in self._in_flight:
            return "in_flight"
        if key in self._in_active:
            return "active"
        if key in self._backoff:
            return "backoff"
        if key in self._unschedulable:
            return "unschedulable"
        return None

    def attempts(self, key: str) -> int:
        """Attempts so far (pops), since the key entered the queue."""
        return self._attempts.get(key, 0)

    def first_seen(self, key: str) -> float | None:
        """When the key was first added (the start of its end-to-end scheduling latency)."""
        return self._first_seen.get(key)

    def next_due(self) -> float | None:
        """The earliest time a backing-off key becomes ready, or None."""
        while self._heap:
            due, seq, key = self._heap[0]
            if self._backoff.get(key) == (due, seq):
                return due
            heapq.heappop(self._heap)
        return None

    def backoff_expiry(self, key: str) -> float:
        """When the key's backoff ends (-inf for a key never tried, or that has no failure yet)."""
        last = self._last_attempt.get(key)
        if last is None:
            return float("-inf")
        return last + backoff_duration(self._attempts.get(key, 1), self.initial_backoff, self.max_backoff)

    # -- transitions -----------------------------------------------------------------------------
    def add(self, key: str, *, now: float, changed: bool = True) -> None:
        """A pending pod was observed: new, or updated (`changed`: its spec changed, so an
        unschedulable verdict may no longer hold; a status-only update leaves a parked pod parked)."""
        self._first_seen.setdefault(key, now)
        if key in self._in_flight:
            if changed:
                self._dirty.add(key)
            return
        if key in self._in_active or key in self._backoff:
            return
        if key in self._unschedulable:
            if changed:
                del self._unschedulable[key]
                self._requeue(key, now)
            return
        self._push_active(key)

    def delete(self, key: str) -> None:
        """The pod is no longer pending (bound, deleted, terminating): forget it, unless it is in
        flight (then `done` finishes it, and it is not re-queued)."""
        self._drop_waiting(key)
        self._dirty.discard(key)
        if key not in self._in_flight:
            self._forget(key)

    def pop(self, *, now: float) -> str | None:
        """The next ready key (now in flight), or None."""
        self._advance(now)
        while True:
            if not self._active:
                return None
            key = self._active.popleft()
            if key in self._in_active:     # else a stale entry of a key deleted meanwhile
                break
        self._in_active.discard(key)
        self._in_flight.add(key)
        self._attempts[key] = self._attempts.get(key, 0) + 1
        self._first_seen.setdefault(key, now)
        return key

    def done(self, key: str, outcome: Outcome, *, now: float) -> None:
        """Finish an attempt of a key handed out by `pop`."""
        if key not in self._in_flight:
            raise ValueError(f"done({key!r}): the key is not in flight")
        self._in_flight.discard(key)
        again = key in self._dirty
        self._dirty.discard(key)
        if outcome in (Outcome.SCHEDULED, Outcome.GONE):
            self._forget(key)
            if again:              # changed while in flight: look once more (the cache decides)
                self._first_seen[key] = now
                self._push_active(key)
            return
        self._last_attempt[key] = now
        if outcome is Outcome.UNSCHEDULABLE and not again:
            self._unschedulable[key] = now
        else:
            self._requeue(key, now)

    def move_all(self, *, now: float) -> int:
        """A cluster event may have made room: every unschedulable key to active or backoff. The
        number moved."""
        keys = list(self._unschedulable)
        self._unschedulable.clear()
        for key in keys:
            self._requeue(key, now)
        return len(keys)

    def flush(self, *, now: float) -> int:
        """Move the keys parked longer than `max_unschedulable`; the number moved."""
        old = [k for k, since in self._unschedulable.items() if now - since > self.max_unschedulable]
        for key in old:
            del self._unschedulable[key]
            self._requeue(key, now)
        return len(old)

    # -- internals -------------------------------------------------------------------------------
    def _push_active(self, key: str) -> None:
        self._active.append(key)
        self._in_active.add(key)

    def _requeue(self, key: str, now: float) -> None:
        due = self.backoff_expiry(key)
        if due <= now:
            self._push_active(key)
            return
        self._seq += 1
        self._backoff[key] = (due, self._seq)
        heapq.heappush(self._heap, (due, self._seq, key))

    def _advance(self, now: float) -> None:
        while (due := self.next_due()) is not None and due <= now:
            _, _, key = heapq.heappop(self._heap)
            del self._backoff[key]
            self._push_active(key)

    def _drop_waiting(self, key: str) -> None:
        # Its entry in _active goes stale and is skipped by pop (removing it would cost O(n)).
        self._in_active.discard(key)
        self._backoff.pop(key, None)     # its heap entry goes stale and is skipped
        self._unschedulable.pop(key, None)

    def _forget(self, key: str) -> None:
        self._attempts.pop(key, None)
        self._last_attempt.pop(key, None)
        self._first_seen.pop(key, None)
