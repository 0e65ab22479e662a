"""client/workqueue.py against client-go's work queue semantics: table tests of the pure QueueState,
the backoff arithmetic, a Hypothesis state machine comparing QueueState with a naive model under a
fake clock, and asyncio tests of the WorkQueue shell with concurrent workers."""
from __future__ import annotations

import asyncio
import random
import time

import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from client.workqueue import Empty, QueueState, ShutDown, WorkQueue, backoff_delay, run_worker

pytestmark = pytest.mark.timeout(30)


# --- table tests of the pure core ----------------------------------------------------------------
# A script is a list of steps run against a fresh QueueState; "get" and "queued" check results:
#   ("add", key, now)  ("after", key, delay, now)  ("limited", key, now, expected_delay)
#   ("forget", key)  ("done", key, now)  ("shutdown", now)
#   ("get", now, expected key | Empty | ShutDown)  ("queued", now, expected tuple of ready keys)
SCRIPTS = [
    pytest.param([("add", "a", 0), ("add", "b", 0), ("add", "c", 0),
                  ("get", 0, "a"), ("get", 0, "b"), ("get", 0, "c"), ("get", 0, Empty)], id="fifo"),
    pytest.param([("add", "a", 0), ("add", "b", 0), ("add", "a", 0), ("queued", 0, ("a", "b"))],
                 id="dedupe-queued"),
    pytest.param([("add", "a", 0), ("get", 0, "a"), ("add", "a", 0), ("queued", 0, ()), ("get", 0, Empty)],
                 id="processing-key-not-handed-out-again"),
    pytest.param([("add", "a", 0), ("get", 0, "a"), ("add", "a", 0), ("add", "a", 0), ("add", "b", 0),
                  ("done", "a", 0), ("queued", 0, ("b", "a")), ("get", 0, "b"), ("get", 0, "a")],
                 id="dirty-requeued-once-at-done"),
    pytest.param([("add", "a", 0), ("get", 0, "a"), ("done", "a", 0), ("queued", 0, ()), ("get", 0, Empty)],
                 id="clean-done-not-requeued"),
    pytest.param([("after", "a", 5, 0), ("get", 4.999, Empty), ("get", 5, "a")], id="after-fires-at-time"),
    pytest.param([("after", "a", 5, 0), ("after", "a", 10, 1), ("get", 5, "a"), ("done", "a", 5),
                  ("get", 100, Empty)], id="after-later-keeps-earlier"),
    pytest.param([("after", "a", 10, 0), ("after", "a", 2, 0), ("get", 1.9, Empty), ("get", 2, "a"),
                  ("done", "a", 2), ("get", 100, Empty)], id="after-earlier-moves-earlier"),
    pytest.param([("after", "a", 0, 0), ("after", "b", -1, 0), ("queued", 0, ("a", "b"))],
                 id="after-nonpositive-adds-now"),
    pytest.param([("after", "b", 2, 0), ("after", "a", 1, 0), ("after", "c", 1, 0), ("add", "d", 0),
                  ("queued", 3, ("d", "a", "c", "b"))], id="after-fires-by-due-then-order-made"),
    pytest.param([("add", "a", 0), ("after", "a", 1, 0), ("queued", 2, ("a",))],
                 id="after-dedupes-with-queued"),
    pytest.param([("after", "a", 1, 0), ("add", "a", 0), ("get", 0, "a"), ("done", "a", 0),
                  ("get", 0.5, Empty), ("get", 1, "a")], id="plain-add-keeps-waiting-entry"),
    pytest.param([("add", "a", 0), ("get", 0, "a"), ("after", "a", 1, 0), ("done", "a", 2),
                  ("get", 2, "a"), ("done", "a", 2), ("get", 2, Empty)],
                 id="after-fired-while-processing-is-dirty"),
    pytest.param([("add", "a", 0), ("get", 0, "a"), ("done", "a", 0), ("get", 0, Empty)] * 2,
                 id="key-reusable-after-done"),
    pytest.param([("add", "a", 0), ("add", "b", 0), ("shutdown", 0), ("add", "c", 0), ("after", "d", 0, 0),
                  ("get", 0, "a"), ("get", 0, "b"), ("get", 0, ShutDown), ("get", 0, ShutDown)],
                 id="shutdown-drains-then-raises-and-ignores-adds"),
    pytest.param([("after", "a", 1, 0), ("after", "b", 5, 0), ("shutdown", 2), ("get", 10, "a"),
                  ("get", 10, ShutDown)], id="shutdown-fires-due-drops-not-due"),
    pytest.param([("add", "a", 0), ("get", 0, "a"), ("add", "a", 0), ("shutdown", 0), ("get", 0, ShutDown),
                  ("done", "a", 0), ("get", 0, "a")], id="dirty-key-requeued-after-shutdown-as-client-go"),
    pytest.param([("limited", "a", 0, 0.005), ("limited", "a", 0, 0.010), ("get", 0.004, Empty),
                  ("get", 0.005, "a")], id="rate-limited-second-add-keeps-earlier-due"),
    pytest.param([("limited", "a", 0, 0.005), ("limited", "b", 0, 0.005), ("limited", "a", 1, 0.010),
                  ("forget", "a"), ("limited", "a", 2, 0.005), ("limited", "b", 2, 0.010)],
                 id="rate-limited-per-key-and-forget-resets"),
]


def run_script(state: QueueState, script) -> None:
    """Run a table script's steps against `state`, asserting its checks."""
    for step in script:
        op, *args = step
        if op == "add":
            state.add(args[0], now=args[1])
        elif op == "after":
            state.add_after(args[0], args[1], now=args[2])
        elif op == "limited":
            assert state.add_rate_limited(args[0], now=args[1]) == pytest.approx(args[2]), step
        elif op == "forget":
            state.forget(args[0])
        elif op == "done":
            state.done(args[0], now=args[1])
        elif op == "shutdown":
            state.shutdown(now=args[0])
        elif op == "get":
            now, expected = args
            if isinstance(expected, type) and issubclass(expected, Exception):
                with pytest.raises(expected):
                    state.get(now=now)
            else:
                assert state.get(now=now) == expected, step
        elif op == "queued":
            state.advance(now=args[0])
            assert state.queued == args[1], step
            assert len(state) == len(args[1])
        else:  # pragma: no cover - a typo in a table
            raise AssertionError(f"unknown step {step}")


@pytest.mark.parametrize("script", SCRIPTS)
def test_queue_state_script(script):
    """Each scripted sequence of adds, gets and dones yields the keys client-go's queue would."""
    run_script(QueueState(), script)


def test_done_of_key_not_processing_raises():
    """done() of a key that was never handed out is a caller bug and raises rather than duplicating it."""
    state = QueueState()
    state.add("a", now=0)
    with pytest.raises(ValueError, match="not being processed"):
        state.done("a", now=0)
    assert state.queued == ("a",)


def test_num_requeues_counts_rate_limited_adds_until_forget():
    """num_requeues counts rate-limited adds of a key and forget sets it back to zero."""
    state = QueueState()
    for _ in range(3):
        state.add_rate_limited("a", now=0)
    state.add("a", now=0)
    assert (state.num_requeues("a"), state.num_requeues("b")) == (3, 0)
    state.forget("a")
    assert state.num_requeues("a") == 0


@pytest.mark.parametrize("base, cap", [
    pytest.param(0, 1, id="zero-base"),
    pytest.param(2, 1, id="cap-below-base"),
])
def test_bad_delays_rejected(base, cap):
    """A non-positive base delay or a cap below the base is refused."""
    with pytest.raises(ValueError):
        QueueState(base_delay=base, max_delay=cap)


# --- backoff arithmetic --------------------------------------------------------------------------
@pytest.mark.parametrize("failures, base, cap, expected", [
    pytest.param(0, 0.005, 1000.0, 0.005, id="first-5ms"),
    pytest.param(1, 0.005, 1000.0, 0.010, id="second-10ms"),
    pytest.param(2, 0.005, 1000.0, 0.020, id="third-20ms"),
    pytest.param(10, 0.005, 1000.0, 5.12, id="eleventh-5.12s"),
    pytest.param(17, 0.005, 1000.0, 655.36, id="last-below-cap"),
    pytest.param(18, 0.005, 1000.0, 1000.0, id="capped-1000s"),
    pytest.param(1000, 0.005, 1000.0, 1000.0, id="huge-no-overflow"),
    pytest.param(10**9, 0.005, 1000.0, 1000.0, id="enormous-no-overflow"),
    pytest.param(3, 1.0, 5.0, 5.0, id="custom-cap"),
    pytest.param(2, 0.1, 60.0, 0.4, id="custom-base"),
])
def test_backoff_delay(failures, base, cap, expected):
    """The n-th retry waits base * 2**n seconds, capped, as client-go's ItemExponentialFailureRateLimiter."""
    assert backoff_delay(failures, base, cap) == pytest.approx(expected)


def test_backoff_sequence_through_queue_defaults():
    """Consecutive rate-limited adds of one key wait 5 ms, 10 ms, 20 ms, ... and stop at 1000 s."""
    state = QueueState()
    delays = [state.add_rate_limited("a", now=0) for _ in range(22)]
    assert delays[:4] == pytest.approx([0.005, 0.010, 0.020, 0.040])
    assert delays[17] == pytest.approx(655.36)
    assert delays[18:] == [1000.0] * 4


# --- Hypothesis: QueueState against a naive model, under a fake clock ----------------------------
class ModelQueue:
    """client-go's queue written as plainly as possible: lists and sets, delayed adds sorted on demand."""

    def __init__(self, base: float, cap: float):
        self.base, self.cap = base, cap
        self.queue: list = []
        self.dirty: set = set()
        self.processing: set = set()
        self.waiting: dict = {}          # key -> (due, order made)
        self.made = 0
        self.failures: dict = {}
        self.shut = False
        self.fired: list = []            # keys whose delayed add fired, for the obligation tracking

    def fire(self, now):
        for due, _, key in sorted((d, m, k) for k, (d, m) in self.waiting.items() if d <= now):
            del self.waiting[key]
            self.fired.append(key)
            self.add_now(key)

    def add_now(self, key):
        if self.shut or key in self.dirty:
            return
        self.dirty.add(key)
        if key not in self.processing:
            self.queue.append(key)

    def add_after(self, key, delay, now):
        if self.shut:
            return
        if delay <= 0:
            self.add_now(key)
        elif key not in self.waiting or now + delay < self.waiting[key][0]:
            self.made += 1
            self.waiting[key] = (now + delay, self.made)

    def add_rate_limited(self, key, now):
        n = self.failures.get(key, 0)
        self.failures[key] = n + 1
        delay = min(self.base * 2 ** n, self.cap)
        self.add_after(key, delay, now)
        return delay

    def get(self):
        if not self.queue:
            return ShutDown if self.shut else Empty
        key = self.queue.pop(0)
        self.dirty.discard(key)
        self.processing.add(key)
        return key

    def done(self, key):
        self.processing.discard(key)
        if key in self.dirty:
            self.queue.append(key)


KEYS = st.sampled_from("abcd")
BASE, CAP = 0.25, 2.0


class QueueMachine(RuleBasedStateMachine):
    """Random adds, delayed adds, rate-limited adds, gets, dones, clock steps and a shutdown."""

    def __init__(self):
        super().__init__()
        self.now = 0.0
        self.state = QueueState(base_delay=BASE, max_delay=CAP)
        self.model = ModelQueue(BASE, CAP)
        self.owed: set = set()        # keys added since they were last handed out: each owes a sync

    def _fire(self):
        self.model.fire(self.now)
        if not self.model.shut:
            self.owed.update(self.model.fired)
        self.model.fired.clear()

    @rule(key=KEYS)
    def add(self, key):
        self._fire()
        self.state.add(key, now=self.now)
        if not self.model.shut:
            self.owed.add(key)
        self.model.add_now(key)

    @rule(key=KEYS, delay=st.sampled_from([-1.0, 0.0, 0.25, 0.5, 1.0, 2.0, 5.0]))
    def add_after(self, key, delay):
        self._fire()
        self.state.add_after(key, delay, now=self.now)
        if delay <= 0 and not self.model.shut:
            self.owed.add(key)
        self.model.add_after(key, delay, self.now)

    @rule(key=KEYS)
    def add_rate_limited(self, key):
        self._fire()
        assert self.state.add_rate_limited(key, now=self.now) == self.model.add_rate_limited(key, self.now)

    @rule(key=KEYS)
    def forget(self, key):
        self.state.forget(key)
        self.model.failures.pop(key, None)

    @rule()
    def get(self):
        self._fire()
        expected = self.model.get()
        if expected in (Empty, ShutDown):
            with pytest.raises(expected):
                self.state.get(now=self.now)
            return
        held_before = self.state.processing
        key = self.state.get(now=self.now)
        assert key == expected
        assert key not in held_before, f"{key!r} handed to a second worker"
        self.owed.discard(key)

    @rule(data=st.data())
    def done(self, data):
        if not self.model.processing:
            return
        key = data.draw(st.sampled_from(sorted(self.model.processing)))
        self._fire()
        self.state.done(key, now=self.now)
        self.model.done(key)

    @rule(dt=st.sampled_from([0.001, 0.25, 0.5, 1.0, 3.0]))
    def tick(self, dt):
        self.now += dt

    @rule()
    def shutdown(self):
        self._fire()
        self.state.shutdown(now=self.now)
        self.model.shut = True
        self.model.waiting.clear()

    @invariant()
    def matches_model(self):
        assert self.state.queued == tuple(self.model.queue)
        assert self.state.processing == self.model.processing
        assert self.state.dirty == self.model.dirty
        assert self.state.waiting == {k: due for k, (due, _) in self.model.waiting.items()}
        assert self.state.num_requeues("a") == self.model.failures.get("a", 0)

    @invariant()
    def queued_keys_distinct_and_not_held(self):
        queued = self.state.queued
        assert len(set(queued)) == len(queued)
        assert not set(queued) & self.state.processing

    @invariant()
    def every_owed_key_is_dirty(self):
        # Added and not handed out since <=> dirty: nothing added is ever forgotten by the queue.
        assert self.owed == set(self.state.dirty)

    def teardown(self):
        # Workers finish and keep working until the queue is empty: every key added is processed again.
        self.now += 1e6
        for key in sorted(self.state.processing):
            self.state.done(key, now=self.now)
        self._fire()
        for _ in range(100):
            try:
                key = self.state.get(now=self.now)
            except (Empty, ShutDown):
                break
            self.owed.discard(key)
            self.state.done(key, now=self.now)
        assert not self.owed, f"keys added but never processed afterwards: {self.owed}"
        assert not self.state.dirty and not self.state.processing and not self.state.waiting


TestQueueMachine = QueueMachine.TestCase
TestQueueMachine.settings = settings(max_examples=150, stateful_step_count=40)


# --- the asyncio shell ---------------------------------------------------------------------------
async def wait_until(predicate, timeout: float, what: str) -> None:
    """Poll `predicate` on the event loop until it holds, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.001)


async def test_workers_never_share_a_key_and_process_every_add():
    """Eight workers over 50 keys added 2000 times (some re-added or rate-limited while processing) never
    hold one key at once, and each key is processed after its last add."""
    rng = random.Random(4)
    queue: WorkQueue[str] = WorkQueue(base_delay=0.001, max_delay=0.004)
    keys = [f"ns/obj-{i}" for i in range(50)]
    active: set[str] = set()
    clock = iter(range(10**9))                         # a logical clock ordering adds and starts
    last_add: dict[str, int] = {}
    last_start: dict[str, int] = {}
    processed = 0

    def add(key: str, rate_limited: bool = False) -> None:
        last_add[key] = next(clock)
        if rate_limited:
            queue.add_rate_limited(key)
        else:
            queue.add(key)

    async def worker() -> None:
        nonlocal processed
        while True:
            try:
                key = await queue.get()
            except ShutDown:
                return
            assert key not in active, f"{key} held by two workers"
            active.add(key)
            last_start[key] = next(clock)
            for _ in range(rng.randrange(3)):
                await asyncio.sleep(0)
            roll = rng.random()
            if roll < 0.1:
                add(key)                               # an event for the key while it is being synced
            elif roll < 0.15:
                add(key, rate_limited=True)            # the sync failed
            else:
                queue.forget(key)
            active.discard(key)
            processed += 1
            queue.done(key)

    workers = [asyncio.create_task(worker()) for _ in range(8)]
    for _ in range(2000):
        add(rng.choice(keys))
        if rng.random() < 0.3:
            await asyncio.sleep(0)
    await wait_until(lambda: not (queue.state.dirty or queue.state.processing or queue.state.waiting),
                     timeout=10, what="the queue to empty")
    queue.shutdown()
    await asyncio.wait_for(asyncio.gather(*workers), timeout=5)
    assert processed >= len(keys)
    late = {k for k in last_add if last_start.get(k, -1) < last_add[k]}
    assert not late, f"keys added after their last processing: {sorted(late)}"


async def test_get_waits_for_add():
    """A get on an empty queue blocks until a key is added, then returns it."""
    queue: WorkQueue[str] = WorkQueue()
    task = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    assert not task.done()
    queue.add("a")
    assert await asyncio.wait_for(task, 1) == "a"
    assert len(queue) == 0


async def test_add_after_wakes_getter_at_its_time_without_busy_loop():
    """A get blocked on a delayed add returns once the delay passed, having read the clock only a few times."""
    reads = 0

    def clock() -> float:
        nonlocal reads
        reads += 1
        return time.monotonic()

    queue: WorkQueue[str] = WorkQueue(clock=clock)
    start = time.monotonic()
    queue.add_after("a", 0.05)
    assert await asyncio.wait_for(queue.get(), 2) == "a"
    assert time.monotonic() - start >= 0.05
    assert reads < 10, f"clock read {reads} times: the delayed-add wait is polling"


async def test_earlier_add_after_rearms_waiting_getter():
    """A getter sleeping until a far delayed add is woken for a nearer one added later."""
    queue: WorkQueue[str] = WorkQueue()
    queue.add_after("far", 60)
    task = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.add_after("near", 0.01)
    assert await asyncio.wait_for(task, 2) == "near"
    assert queue.state.waiting.keys() == {"far"}


async def test_done_of_dirty_key_wakes_waiting_worker():
    """A key re-added while processing is handed to a waiting worker as soon as the first one is done."""
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    assert await queue.get() == "a"
    other = asyncio.create_task(queue.get())
    queue.add("a")
    await asyncio.sleep(0)
    assert not other.done() and len(queue) == 0
    queue.done("a")
    assert await asyncio.wait_for(other, 1) == "a"


async def test_shutdown_drains_then_raises_for_every_getter():
    """After shutdown getters receive the queued keys, then all raise ShutDown; later adds are ignored."""
    queue: WorkQueue[str] = WorkQueue()
    blocked = [asyncio.create_task(queue.get()) for _ in range(3)]
    await asyncio.sleep(0)
    queue.shutdown()
    for task in blocked:
        with pytest.raises(ShutDown):
            await asyncio.wait_for(task, 1)

    queue = WorkQueue()
    queue.add("a")
    queue.add("b")
    queue.add_after("c", 0.001)
    queue.shutdown()
    queue.add("d")
    queue.add_rate_limited("e")
    assert queue.shutting_down
    assert [await queue.get(), await queue.get()] == ["a", "b"]
    with pytest.raises(ShutDown):
        await asyncio.wait_for(queue.get(), 1)


async def test_cancelled_get_loses_no_key():
    """A cancelled get leaves the queue intact: the next add goes to the next getter."""
    queue: WorkQueue[str] = WorkQueue()
    task = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    queue.add("a")
    assert await asyncio.wait_for(queue.get(), 1) == "a"


async def test_rate_limited_through_shell():
    """The shell's add_rate_limited backs off 5 ms then 10 ms, counts requeues, and forget resets them."""
    queue: WorkQueue[str] = WorkQueue()
    assert queue.add_rate_limited("a") == pytest.approx(0.005)
    assert await asyncio.wait_for(queue.get(), 1) == "a"
    queue.done("a")
    assert queue.add_rate_limited("a") == pytest.approx(0.010)
    assert queue.num_requeues("a") == 2
    assert await asyncio.wait_for(queue.get(), 1) == "a"
    queue.forget("a")
    assert queue.num_requeues("a") == 0


async def test_run_worker_owns_retries_and_timed_rechecks():
    """run_worker: a failing sync is reported and re-queued with backoff, a returned delay re-checks
    the key after it, success forgets the backoff; it returns once the queue is shut down and drained."""
    q: WorkQueue[str] = WorkQueue(base_delay=0.001)
    calls: list[str] = []
    errors: list[tuple[str, str, float]] = []

    async def sync(key: str) -> float | None:
        calls.append(key)
        if key == "flaky" and calls.count("flaky") == 1:
            raise RuntimeError("boom")
        if key == "later" and calls.count("later") == 1:
            return 0.001
        if calls.count("flaky") == 2 and calls.count("later") == 2:
            q.shutdown()
        return None

    q.add("flaky")
    q.add("later")
    await asyncio.wait_for(run_worker(q, sync, lambda k, e, d: errors.append((k, str(e), d))), 5)
    assert sorted(calls) == ["flaky", "flaky", "later", "later"]
    assert errors == [("flaky", "boom", 0.001)]
    assert q.num_requeues("flaky") == 0
