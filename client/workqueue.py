"""client-go's rate-limited work queue, for asyncio: the hand-off between informer handlers and workers.

    queue = WorkQueue()                      # clock=time.monotonic, base_delay=0.005, max_delay=1000.0
    queue.add("default/web")                 # handlers only compute a key and enqueue it (STYLE.md §2)
    key = await queue.get()                  # in a worker; raises ShutDown once shut down and drained
    try:
        await sync(key)
    except Exception:
        queue.add_rate_limited(key)          # per-key exponential backoff: 5 ms, 10 ms, ... 1000 s
        raise / log
    else:
        queue.forget(key)                    # success resets the key's backoff
    finally:
        queue.done(key)

`run_worker(queue, sync, on_error)` is that loop, for components to run N of.

Guarantees, as k8s.io/client-go/util/workqueue (queue.go, delaying_queue.go, default_rate_limiters.go)
gives them, because level-triggered controllers (STYLE.md §2) are correct only with them:
- A key is never handed to two workers at once: it is *processing* from `get` until `done`. Two
  workers syncing one object would race each other's writes.
- Adding a key that is already queued is a no-op (dedupe): the worker reads the latest state from the
  cache, so one sync covers any number of events.
- Adding a key while it is processing marks it *dirty*; `done` re-queues it exactly once. The events
  that arrived during the sync may not have been seen by it, so one more sync is owed.
- Otherwise keys come out in FIFO order.
- `add_after(key, delay)` adds the key when the delay has passed. A key already waiting keeps the
  earlier of its two times. A plain `add` does not cancel a waiting entry (it still fires later).
- `add_rate_limited(key)` is `add_after(key, base_delay * 2**n)` capped at `max_delay`, where n is the
  number of rate-limited adds since the key's last `forget` (ItemExponentialFailureRateLimiter).
- After `shutdown`, adds are ignored, delayed adds not yet due are dropped, and `get` returns what is
  still queued (including a dirty key re-queued by `done`) and then raises `ShutDown`.

Where we differ from client-go, deliberately: `done` of a key that is not processing raises
ValueError (client-go would queue a queued key twice, breaking dedupe). `len(queue)` counts the keys
ready to be handed out, as client-go's Len does (not the processing or still-waiting ones).

Shape (STYLE.md §1): `QueueState` is the pure bookkeeping, with no asyncio and no clock; every method
that can be affected by time takes `now`, and first fires the delayed adds due by then, in order of
due time, so firing late is indistinguishable from client-go's waiting goroutine firing on time.
`WorkQueue` is the asyncio shell: it reads the injected clock, and a blocked `get` sleeps until it is
woken by an add, a `done`, `shutdown`, or a single timer set for the earliest delayed add (never a
busy loop). The clock must advance with real time (the timer sleeps on the event loop's clock); tests
that need a fake clock drive `QueueState` directly.
"""
from __future__ import annotations

import asyncio
import heapq
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["DEFAULT_BASE_DELAY", "DEFAULT_MAX_DELAY", "Empty", "QueueState", "ShutDown", "WorkQueue",
           "backoff_delay", "run_worker"]

K = TypeVar("K", bound=Hashable)

DEFAULT_BASE_DELAY = 0.005   # client-go DefaultControllerRateLimiter: 5 ms ...
DEFAULT_MAX_DELAY = 1000.0   # ... doubling up to 1000 s


class ShutDown(Exception):
    """The queue is shut down and has nothing left to hand out."""


class Empty(LookupError):
    """No key is ready now (the shell waits; the pure core tells the caller)."""


def backoff_delay(failures: int, base: float = DEFAULT_BASE_DELAY, cap: float = DEFAULT_MAX_DELAY) -> float:
    """Seconds to wait before the retry that follows `failures` earlier ones: base * 2**failures, capped."""
    if failures < 0:
        raise ValueError(f"failures must be >= 0, got {failures}")
    # Past 2**1000 the float would overflow; any such delay is far above any sane cap anyway.
    if failures > 1000:
        return cap
    return min(base * 2.0 ** failures, cap)


class QueueState(Generic[K]):
    """The queue's pure bookkeeping: queued, dirty, processing, waiting and per-key failure counts."""

    def __init__(self, *, base_delay: float = DEFAULT_BASE_DELAY, max_delay: float = DEFAULT_MAX_DELAY):
        if base_delay <= 0 or max_delay < base_delay:
            raise ValueError(f"need 0 < base_delay <= max_delay, got {base_delay} and {max_delay}")
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._queue: deque[K] = deque()     # FIFO of keys ready to hand out; each also in _dirty
        self._dirty: set[K] = set()          # keys owed a sync: queued, or added while processing
        self._processing: set[K] = set()     # keys handed out and not yet done
        self._waiting: dict[K, tuple[float, int]] = {}      # key -> (due, seq) of its one delayed add
        self._heap: list[tuple[float, int, K]] = []          # same entries; stale ones skipped lazily
        self._seq = 0
        self._failures: dict[K, int] = {}
        self._shutting_down = False

    # -- observations ------------------------------------------------------------------------------
    def __len__(self) -> int:
        """Keys ready to hand out as of the last call that was given `now`."""
        return len(self._queue)

    @property
    def shutting_down(self) -> bool:
        """Whether `shutdown` has been called."""
        return self._shutting_down

    @property
    def queued(self) -> tuple[K, ...]:
        """The ready keys in the order `get` will hand them out."""
        return tuple(self._queue)

    @property
    def processing(self) -> frozenset[K]:
        """Keys handed out by `get` and not yet `done`."""
        return frozenset(self._processing)

    @property
    def dirty(self) -> frozenset[K]:
        """Keys owed a sync: the queued ones and those added again while processing."""
        return frozenset(self._dirty)

    @property
    def waiting(self) -> dict[K, float]:
        """Delayed adds not yet fired: key -> due time."""
        return {k: due for k, (due, _) in self._waiting.items()}

    def next_due(self) -> float | None:
        """The earliest due time of a delayed add, or None if none is waiting."""
        while self._heap:
            due, seq, key = self._heap[0]
            if self._waiting.get(key) == (due, seq):
                return due
            heapq.heappop(self._heap)       # superseded by an earlier add_after of the same key
        return None

    def ready(self, *, now: float) -> bool:
        """Whether `get(now=now)` would hand out a key."""
        self.advance(now=now)
        return bool(self._queue)

    def num_requeues(self, key: K) -> int:
        """Rate-limited adds of `key` since its last `forget`."""
        return self._failures.get(key, 0)

    # -- transitions -------------------------------------------------------------------------------
    def advance(self, *, now: float) -> None:
        """Fire every delayed add due by `now`, earliest first (ties in the order they were made)."""
        while (due := self.next_due()) is not None and due <= now:
            _, _, key = heapq.heappop(self._heap)
            del self._waiting[key]
            self._add(key)

    def add(self, key: K, *, now: float) -> None:
        """Queue `key` unless it is queued already; if it is processing, re-queue it at `done`."""
        self.advance(now=now)
        self._add(key)

    def _add(self, key: K) -> None:
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return                           # `done` queues it: never two holders of one key
        self._queue.append(key)

    def add_after(self, key: K, delay: float, *, now: float) -> None:
        """Add `key` once `delay` seconds have passed; a key already waiting keeps the earlier time."""
        self.advance(now=now)
        if self._shutting_down:
            return
        if delay <= 0:
            self._add(key)
            return
        due = now + delay
        current = self._waiting.get(key)
        if current is not None and current[0] <= due:
            return
        self._seq += 1
        self._waiting[key] = (due, self._seq)
        heapq.heappush(self._heap, (due, self._seq, key))

    def add_rate_limited(self, key: K, *, now: float) -> float:
        """Add `key` after its next exponential backoff delay, and return that delay."""
        failures = self._failures.get(key, 0)
        delay = backoff_delay(failures, self.base_delay, self.max_delay)
        # client-go counts the failure even when the queue is shutting down; so do we.
        self._failures[key] = failures + 1
        self.add_after(key, delay, now=now)
        return delay

    def forget(self, key: K) -> None:
        """Reset `key`'s backoff (its sync succeeded); does not touch the queue."""
        self._failures.pop(key, None)

    def get(self, *, now: float) -> K:
        """Hand out the first ready key (now processing); raise Empty, or ShutDown if shut down and drained."""
        self.advance(now=now)
        if not self._queue:
            raise ShutDown() if self._shutting_down else Empty()
        key = self._queue.popleft()
        self._dirty.discard(key)
        self._processing.add(key)
        return key

    def done(self, key: K, *, now: float) -> None:
        """Finish processing `key`; if it was added meanwhile, queue it again (once)."""
        self.advance(now=now)
        if key not in self._processing:
            raise ValueError(f"done({key!r}): the key is not being processed")
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)

    def shutdown(self, *, now: float) -> None:
        """Ignore adds from now on and drop delayed adds not yet due; queued keys are still handed out."""
        self.advance(now=now)
        self._shutting_down = True
        self._waiting.clear()
        self._heap.clear()


class WorkQueue(Generic[K]):
    """The asyncio shell over QueueState: `get` waits for a ready key; the clock is injectable."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 base_delay: float = DEFAULT_BASE_DELAY, max_delay: float = DEFAULT_MAX_DELAY):
        self._clock = clock
        self._state: QueueState[K] = QueueState(base_delay=base_delay, max_delay=max_delay)
        self._waiters: list[asyncio.Future[None]] = []

    def __len__(self) -> int:
        """Keys ready to hand out now."""
        self._state.advance(now=self._clock())
        return len(self._state)

    @property
    def state(self) -> QueueState[K]:
        """The pure bookkeeping, for inspection; NEVER mutate it behind the shell's back."""
        return self._state

    @property
    def shutting_down(self) -> bool:
        """Whether `shutdown` has been called."""
        return self._state.shutting_down

    def add(self, key: K) -> None:
        """Queue `key` (see QueueState.add)."""
        self._state.add(key, now=self._clock())
        self._wake()

    def add_after(self, key: K, delay: float) -> None:
        """Add `key` after `delay` seconds (see QueueState.add_after)."""
        self._state.add_after(key, delay, now=self._clock())
        # A waiter's timer may be set for a later time than this new entry: let it re-arm.
        self._wake()

    def add_rate_limited(self, key: K) -> float:
        """Add `key` after its next backoff delay, returned (see QueueState.add_rate_limited)."""
        delay = self._state.add_rate_limited(key, now=self._clock())
        self._wake()
        return delay

    def forget(self, key: K) -> None:
        """Reset `key`'s backoff."""
        self._state.forget(key)

    def num_requeues(self, key: K) -> int:
        """Rate-limited adds of `key` since its last `forget`."""
        return self._state.num_requeues(key)

    def done(self, key: K) -> None:
        """Finish processing `key`; re-queues it if it was added meanwhile."""
        self._state.done(key, now=self._clock())
        self._wake()

    def shutdown(self) -> None:
        """Stop accepting adds; blocked and later `get`s drain what is queued, then raise ShutDown."""
        self._state.shutdown(now=self._clock())
        self._wake()

    async def get(self) -> K:
        """Wait for a ready key and hand it out, now processing; raise ShutDown once shut down and drained."""
        loop = asyncio.get_running_loop()
        while True:
            now = self._clock()
            try:
                # No await between taking the key and returning it: a cancelled get never loses a key.
                return self._state.get(now=now)
            except Empty:
                pass
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            due = self._state.next_due()
            timer = None if due is None else loop.call_later(max(due - now, 0.0), _resolve, waiter)
            try:
                await waiter
            finally:
                if timer is not None:
                    timer.cancel()
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    def _wake(self) -> None:
        # Every waiter re-checks: simpler than choosing one, and a cancelled waiter can't swallow a wake-up.
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            _resolve(waiter)


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def run_worker(queue: WorkQueue[K], sync: Callable[[K], Awaitable[float | None]],
                     on_error: Callable[[K, Exception, float], None]) -> None:
    """One worker of STYLE.md §2's loop, until the queue is shut down and drained: takes a key (never
    one another worker holds), awaits `sync(key)`, and owns the retries: an exception re-queues the
    key with its exponential backoff and is passed to `on_error(key, exc, delay)`; success forgets
    the backoff, and a returned number of seconds asks for a timed re-check after it."""
    while True:
        try:
            key = await queue.get()
        except ShutDown:
            return
        try:
            after = await sync(key)
        except Exception as e:  # noqa: BLE001 - the loop owns retries: reported, then re-queued
            on_error(key, e, queue.add_rate_limited(key))
        else:
            queue.forget(key)
            if after is not None:
                queue.add_after(key, max(0.0, after))
        finally:
            queue.done(key)
