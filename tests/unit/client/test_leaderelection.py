"""client/leaderelection.py: table tests of the pure `decide` and the MicroTime helpers, then electors
sharing a MemoryLeaseLock under a FakeClock with injected failures and hangs, and a Hypothesis property
over random fault schedules: never two leaders, and a leader again once the faults heal."""
from __future__ import annotations

import asyncio
import math
import random

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from client.leaderelection import (
    Action, ConflictError, ElectionConfig, FakeClock, LeaderElector, MemoryLeaseLock, decide,
    decide_release, format_micro_time, parse_micro_time,
)
from skiffpb.k8s.coordination.v1.coordination_pb2 import Lease

pytestmark = pytest.mark.timeout(60)

T0 = 1_790_000_000.0          # 2026-09-21T12:53:20Z
LD, RD, RP = 15, 10, 2        # the defaults: lease duration, renew deadline, retry period
CFG = ElectionConfig(LD, RD, RP)


def lease(holder: str | None = None, renewed: float | None = None, *, duration: int | None = LD,
          acquired: float | None = None, transitions: int | None = None, rv: str = "7") -> Lease:
    out = Lease()
    out.metadata.name, out.metadata.resource_version = "skiff-leader", rv
    spec = out.spec
    if holder is not None:
        spec.holder_identity = holder
    if renewed is not None:
        spec.renew_time = format_micro_time(renewed)
    if duration is not None:
        spec.lease_duration_seconds = duration
    if acquired is not None:
        spec.acquire_time = format_micro_time(acquired)
    if transitions is not None:
        spec.lease_transitions = transitions
    return out


# -- MicroTime ---------------------------------------------------------------------------------
@pytest.mark.parametrize("t, text", [
    pytest.param(0.0, "1970-01-01T00:00:00.000000Z", id="epoch"),
    pytest.param(1795654923.123456, "2026-11-26T01:02:03.123456Z", id="k8s-example"),
    pytest.param(1795654923.0000004, "2026-11-26T01:02:03.000000Z", id="rounds-down-below-half-a-microsecond"),
    pytest.param(1795654923.9999996, "2026-11-26T01:02:04.000000Z", id="rounds-up-into-the-next-second"),
])
def test_format_micro_time(t, text):
    """A float time renders as Kubernetes' MicroTime, rounded to the microsecond."""
    assert format_micro_time(t) == text


@pytest.mark.parametrize("text, t", [
    pytest.param("2026-11-26T01:02:03.123456Z", 1795654923.123456, id="micro"),
    pytest.param("2026-11-26T01:02:03Z", 1795654923.0, id="no-fraction"),
    pytest.param("2026-11-26T01:02:03.5Z", 1795654923.5, id="short-fraction"),
    pytest.param("2026-11-26T01:02:03.123456789Z", 1795654923.123456789, id="nanoseconds"),
    pytest.param("2026-11-26T02:02:03.25+01:00", 1795654923.25, id="positive-offset"),
    pytest.param("2026-11-25t19:32:03-05:30", 1795654923.0, id="negative-offset-lowercase-t"),
])
def test_parse_micro_time(text, t):
    """RFC 3339 times with any offset and fraction parse to seconds since the epoch."""
    assert parse_micro_time(text) == pytest.approx(t, abs=1e-6)


@pytest.mark.parametrize("text", [
    pytest.param("", id="empty"), pytest.param("2026-11-26 01:02:03Z", id="space"),
    pytest.param("2026-11-26T01:02:03", id="no-zone"), pytest.param("2026-13-01T00:00:00Z", id="month-13"),
    pytest.param("2026-02-30T00:00:00Z", id="feb-30"), pytest.param("2026-11-26T01:02:03.Z", id="empty-fraction"),
])
def test_parse_micro_time_rejects(text):
    """Malformed times raise ValueError quoting the text and an example of the form."""
    with pytest.raises(ValueError, match="invalid MicroTime"):
        parse_micro_time(text)


@given(st.floats(0, 4e9, allow_nan=False))
def test_micro_time_round_trips(t):
    """Parsing a rendered time gives it back to within half a microsecond, and renders identically."""
    text = format_micro_time(t)
    assert abs(parse_micro_time(text) - t) <= 5e-7 + 2.5e-7  # half a microsecond, plus half a float ulp at 4e9
    assert format_micro_time(parse_micro_time(text)) == text


# -- decide ------------------------------------------------------------------------------------
NOW = T0 + 100


@pytest.mark.parametrize("observed, leading, action, holder, transitions, acquired", [
    pytest.param(None, False, Action.ACQUIRE, "me", 0, NOW, id="absent-acquire-by-create"),
    pytest.param(lease("other", NOW - 5, transitions=3), False, Action.WAIT, "other", None, None,
                 id="held-by-other-fresh-wait"),
    pytest.param(lease("other", NOW - LD, transitions=3), False, Action.WAIT, "other", None, None,
                 id="held-by-other-exactly-at-expiry-still-wait"),
    pytest.param(lease("other", NOW - LD - 0.001, acquired=T0, transitions=3), False, Action.ACQUIRE,
                 "me", 4, NOW, id="held-by-other-expired-acquire-and-count-transition"),
    pytest.param(lease("other", NOW - 30, duration=60, transitions=3), False, Action.WAIT, "other", None, None,
                 id="the-record's-own-duration-counts-not-ours"),
    pytest.param(lease("other", NOW - 12, duration=None), False, Action.WAIT, "other", None, None,
                 id="no-duration-in-record-uses-ours-fresh"),
    pytest.param(lease("other", NOW - 16, duration=None, transitions=1), False, Action.ACQUIRE, "me", 2, NOW,
                 id="no-duration-in-record-uses-ours-expired"),
    pytest.param(lease("other", None, transitions=1), False, Action.ACQUIRE, "me", 2, NOW,
                 id="no-renew-time-counts-as-expired"),
    pytest.param(lease("me", NOW - 5, acquired=T0, transitions=3), True, Action.RENEW, "me", 3, T0,
                 id="held-by-me-renew-keeps-acquire-time-and-transitions"),
    pytest.param(lease("me", NOW - 50, acquired=T0, transitions=3), False, Action.RENEW, "me", 3, T0,
                 id="held-by-me-expired-still-renew"),
    pytest.param(lease("me", NOW - 5, transitions=3), False, Action.RENEW, "me", 3, NOW,
                 id="held-by-me-without-acquire-time-gets-one"),
    pytest.param(lease(None, NOW - 1, transitions=3), False, Action.ACQUIRE, "me", 4, NOW,
                 id="released-acquire-at-once"),
    pytest.param(lease("", NOW - 1, transitions=3), False, Action.ACQUIRE, "me", 4, NOW,
                 id="empty-holder-acquire-at-once"),
    pytest.param(lease("other", NOW - 5), True, Action.LOST, "other", None, None,
                 id="leading-but-held-by-other-lost"),
    pytest.param(lease("other", NOW - 50), True, Action.LOST, "other", None, None,
                 id="leading-but-held-by-other-expired-still-lost"),
])
def test_decide(observed, leading, action, holder, transitions, acquired):
    """decide picks the action and builds the lease to write as client-go's tryAcquireOrRenew does."""
    before = None if observed is None else observed.SerializeToString(deterministic=True)
    d = decide(observed, "me", NOW, CFG, leading=leading)
    assert (d.action, d.holder) == (action, holder)
    if observed is not None:
        assert observed.SerializeToString(deterministic=True) == before, "decide mutated its input"
    if action in (Action.WAIT, Action.LOST):
        assert d.lease is None
        return
    spec = d.lease.spec
    assert (d.lease.api_version, d.lease.kind) == ("coordination.k8s.io/v1", "Lease")
    assert spec.holder_identity == "me"
    assert spec.renew_time == format_micro_time(NOW)
    assert spec.acquire_time == format_micro_time(acquired)
    assert spec.lease_duration_seconds == LD
    assert spec.HasField("lease_transitions") and spec.lease_transitions == transitions
    assert d.create == (observed is None)
    if observed is not None:
        assert d.lease.metadata.resource_version == "7", "the write must carry the observed resourceVersion"


def test_decide_rounds_a_fractional_lease_duration_up():
    """A fractional lease_duration is written rounded up, so others never wait less than we assume."""
    d = decide(None, "me", NOW, ElectionConfig(7.2, 5, 1))
    assert d.lease.spec.lease_duration_seconds == 8


@pytest.mark.parametrize("observed, released", [
    pytest.param(None, False, id="absent"),
    pytest.param(lease("other", NOW), False, id="held-by-other"),
    pytest.param(lease(None, NOW), False, id="already-released"),
    pytest.param(lease("me", NOW, transitions=2), True, id="held-by-me"),
])
def test_decide_release(observed, released):
    """Release clears holderIdentity only of a lease we hold, keeping the rest and the resourceVersion."""
    new = decide_release(observed, "me")
    assert (new is not None) == released
    if new is not None:
        assert not new.spec.HasField("holder_identity")
        assert new.spec.lease_transitions == 2 and new.metadata.resource_version == "7"
        assert observed.spec.holder_identity == "me"


@pytest.mark.parametrize("kwargs, param", [
    pytest.param(dict(lease_duration=10, renew_deadline=10), "renew_deadline", id="deadline-equals-duration"),
    pytest.param(dict(lease_duration=10, renew_deadline=12), "renew_deadline", id="deadline-above-duration"),
    pytest.param(dict(renew_deadline=2, retry_period=2), "retry_period", id="retry-equals-deadline"),
    pytest.param(dict(retry_period=0), "retry_period", id="zero-retry"),
    pytest.param(dict(lease_duration=-1), "lease_duration", id="negative-duration"),
    pytest.param(dict(renew_deadline=float("nan")), "renew_deadline", id="nan-deadline"),
])
def test_config_validation_names_the_parameter(kwargs, param):
    """Inconsistent durations raise a ValueError that starts with the offending parameter's name."""
    with pytest.raises(ValueError, match=f"^{param}"):
        LeaderElector(MemoryLeaseLock(), "me", **kwargs)


# -- electors under a fake clock ----------------------------------------------------------------
class FaultyLock:
    """One elector's view of a shared lock, whose calls can be made to fail or to hang on the fake clock."""

    def __init__(self, inner: MemoryLeaseLock, clock: FakeClock, name: str, events: list):
        self.inner, self.clock, self.name, self.events = inner, clock, name, events
        self.failing = False
        self.delay = 0.0
        self.fail_until = self.hang_until = -math.inf  # faults that heal by themselves at a fake time

    async def _call(self, op: str, *args):
        if self.delay:
            await self.clock.sleep(self.delay)
        if self.clock.now < self.hang_until:
            await self.clock.sleep(self.hang_until - self.clock.now)
        if self.failing or self.clock.now < self.fail_until:
            raise ConnectionError("injected failure")
        result = await getattr(self.inner, op)(*args)
        if op != "get":
            self.events.append((op, self.name, self.clock.now, args[0].spec.holder_identity))
        return result

    async def get(self):
        return await self._call("get")

    async def create(self, lease):
        return await self._call("create", lease)

    async def update(self, lease):
        return await self._call("update", lease)


class Harness:
    """Electors sharing one MemoryLeaseLock and a FakeClock, recording starts, stops and cancellations."""

    def __init__(self, seed: int = 0):
        self.clock = FakeClock(T0)
        self.store = MemoryLeaseLock()
        self.events: list[tuple] = []
        self.working: set[str] = set()          # electors whose leading task is running
        self.violations: list[str] = []
        self.holder_checked = True              # off where a test overwrites the lease behind the electors
        self.electors: dict[str, LeaderElector] = {}
        self.locks: dict[str, FaultyLock] = {}
        self.tasks: dict[str, asyncio.Task] = {}
        self.rng = random.Random(seed)
        self.clock.observers.append(self.check)

    def start(self, name: str) -> LeaderElector:
        lock = self.locks[name] = FaultyLock(self.store, self.clock, name, self.events)

        async def work():
            if self.working:  # recorded, not raised: the elector absorbs its leading task's exceptions
                self.violations.append(f"{name} started leading at {self.clock.now - T0} while {self.working} lead")
            self.working.add(name)
            self.events.append(("work", name, self.clock.now))
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.events.append(("cancelled", name, self.clock.now))
                raise
            finally:
                self.working.discard(name)

        e = self.electors[name] = LeaderElector(
            lock, name, lease_duration=LD, renew_deadline=RD, retry_period=RP, clock=self.clock,
            sleep=self.clock.sleep, rng=random.Random(self.rng.random()), on_started_leading=work,
            on_stopped_leading=lambda: self.events.append(("stopped", name, self.clock.now)),
            on_new_leader=lambda who: self.events.append(("new-leader", name, self.clock.now, who)))
        self.tasks[name] = asyncio.ensure_future(e.run())
        return e

    def check(self, now: float) -> None:
        assert not self.violations, self.violations
        leaders = [n for n, e in self.electors.items() if e.is_leader]
        assert len(leaders) <= 1, f"two leaders at {now - T0}: {leaders}"
        acting = [n for n, e in self.electors.items() if e._leading]
        assert len(acting) <= 1, f"two electors acting as leader at {now - T0}: {acting}"
        for name in leaders if self.holder_checked else ():
            assert self.store.lease.spec.holder_identity == name, f"{name} leads but the lease names another"

    def times(self, kind: str, name: str) -> list[float]:
        return [ev[2] - T0 for ev in self.events if ev[0] == kind and ev[1] == name]

    def renewed(self) -> float:
        return parse_micro_time(self.store.lease.spec.renew_time) - T0

    async def stop(self, name: str) -> None:
        self.tasks[name].cancel()
        await self.clock.settle()
        assert self.tasks[name].done()

    async def close(self) -> None:
        self.clock.observers.clear()
        for lock in self.locks.values():
            lock.failing, lock.delay, lock.fail_until, lock.hang_until = False, 0.0, -math.inf, -math.inf
        for task in self.tasks.values():
            task.cancel()
        await self.clock.advance(30)  # lets hung calls finish
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)


@pytest.fixture
async def h():
    harness = Harness()
    yield harness
    await harness.close()


async def test_one_leads_the_other_waits(h):
    """The first elector creates the lease and keeps renewing it; the second only waits and reports it."""
    a = h.start("a")
    await h.clock.settle()
    b = h.start("b")
    await h.clock.advance(60)
    assert a.is_leader and not b.is_leader
    assert (a.leader, b.leader) == ("a", "a")
    assert h.store.lease.spec.holder_identity == "a" and h.store.lease.spec.lease_transitions == 0
    assert h.renewed() >= 60 - RP
    assert h.times("work", "a") == [0] and h.times("work", "b") == []
    assert [ev[3] for ev in h.events if ev[0] == "new-leader"] == ["a", "a"]


async def test_simultaneous_candidates_one_wins_by_conflict(h):
    """Three electors starting at one instant all try to create the lease; exactly one wins."""
    for name in "abc":
        h.start(name)
    await h.clock.advance(40)
    leaders = [n for n, e in h.electors.items() if e.is_leader]
    assert len(leaders) == 1 and [ev for ev in h.events if ev[0] == "create"] == [
        ("create", leaders[0], T0, leaders[0])]


async def test_failing_leader_stops_within_renew_deadline_and_other_takes_over(h):
    """The leader's lock calls start failing: it stops at its renew deadline, its task cancelled, and the other takes over in time."""
    a = h.start("a")
    await h.clock.settle()
    b = h.start("b")
    await h.clock.advance(5.3)
    h.locks["a"].failing = True
    r = h.renewed()
    await h.clock.advance(40)
    assert h.times("stopped", "a") == [pytest.approx(r + RD, abs=1e-6)]
    assert h.times("cancelled", "a") == h.times("stopped", "a"), "the leading task is cancelled at once"
    assert a.leading_task.cancelled() and not a.is_leader
    (took,) = h.times("work", "b")
    assert r + LD < took <= r + LD + RP
    assert b.is_leader and h.store.lease.spec.lease_transitions == 1
    assert h.times("work", "a") == [0], "a never acts as leader again while its lock fails"


async def test_hung_renewal_still_stops_at_the_deadline(h):
    """The leader's lock calls hang rather than fail: the watchdog stops it at its renew deadline all the same."""
    h.start("a")
    await h.clock.settle()
    h.start("b")
    await h.clock.advance(3)
    h.locks["a"].delay = 1000
    r = h.renewed()
    await h.clock.advance(40)
    assert h.times("stopped", "a") == [pytest.approx(r + RD, abs=1e-6)]
    assert h.times("cancelled", "a") == h.times("stopped", "a")
    (took,) = h.times("work", "b")
    assert r + LD < took <= r + LD + RP


async def test_leader_that_recovers_reacquires_with_a_fresh_task(h):
    """A leader whose lock heals after its deadline but before expiry renews its own lease and starts a new task."""
    a = h.start("a")
    await h.clock.advance(1)
    h.locks["a"].failing = True
    r = h.renewed()
    await h.clock.advance(RD + 1)
    assert not a.is_leader and h.times("stopped", "a") == [pytest.approx(r + RD, abs=1e-6)]
    h.locks["a"].failing = False
    await h.clock.advance(RP)
    assert a.is_leader and len(h.times("work", "a")) == 2
    assert h.store.lease.spec.lease_transitions == 0, "the holder never changed"


async def test_lease_taken_by_another_stops_the_leader_at_its_next_renewal(h):
    """When the lease is overwritten to name someone else, the leader sees it at its next renewal and stops."""
    a = h.start("a")
    await h.clock.advance(3)
    h.holder_checked = False
    stolen = Lease()
    stolen.CopyFrom(h.store.lease)
    stolen.spec.holder_identity = "intruder"
    stolen.metadata.resource_version = ""
    await h.store.update(stolen)
    t = h.clock.now - T0
    await h.clock.advance(RP)
    (stopped,) = h.times("stopped", "a")
    assert t < stopped <= t + RP and h.times("cancelled", "a") == [stopped]
    assert a.leader == "intruder" and not a.is_leader


async def test_release_on_shutdown_lets_the_other_acquire_at_once(h):
    """A leader cancelled on shutdown stops its task, then clears holderIdentity, and the other takes over at its next retry."""
    h.start("a")
    await h.clock.settle()
    b = h.start("b")
    await h.clock.advance(7)
    await h.stop("a")
    t = h.clock.now - T0
    assert not h.store.lease.spec.HasField("holder_identity")
    kinds = [ev[0] for ev in h.events if ev[1] == "a"]
    assert kinds[-3:] == ["stopped", "cancelled", "update"], "the task ends before the lease is released"
    assert h.events[-1][3] == "", "the last write is the release"
    await h.clock.advance(RP)
    (took,) = h.times("work", "b")
    assert t <= took <= t + RP and b.is_leader
    assert h.store.lease.spec.lease_transitions == 1


async def test_release_does_nothing_unless_we_hold_the_lease(h):
    """release() by an elector that does not hold the lease writes nothing."""
    h.start("a")
    await h.clock.settle()
    b = h.start("b")
    await h.clock.advance(3)
    writes = len(h.store.writes)
    assert await b.release() is False and len(h.store.writes) == writes
    assert h.store.lease.spec.holder_identity == "a"


async def test_memory_lock_conflicts():
    """MemoryLeaseLock refuses a second create and an update carrying a stale resourceVersion."""
    lock = MemoryLeaseLock("l", "ns")
    first = await lock.create(lease("a", T0, rv=""))
    assert (first.metadata.name, first.metadata.namespace, first.metadata.resource_version) == ("l", "ns", "1")
    with pytest.raises(ConflictError, match="already exists"):
        await lock.create(lease("b", T0, rv=""))
    second = await lock.update(first)
    assert second.metadata.resource_version == "2"
    with pytest.raises(ConflictError, match="has been modified"):
        await lock.update(first)


# -- the property -------------------------------------------------------------------------------
N = 3
LEADER = N  # as an elector index in a step: whichever elector leads when the step runs (if any)
STEP = st.tuples(
    st.sampled_from(["fail", "hang", "restart", "nothing"]),
    st.integers(0, N),                      # the elector hit, or LEADER
    st.floats(0, 3 * LD),                   # how long the fault lasts
    st.floats(0.01, LD),                    # then advance the clock by this much
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(STEP, min_size=1, max_size=12), st.integers(0, 2**32))
def test_never_two_leaders_and_a_leader_once_faults_heal(steps, seed):
    """Under any schedule of failing or hanging lock calls, restarts and clock advances no two electors lead at one
    instant, and once the faults heal one of them leads within lease_duration plus a few retry periods."""
    asyncio.run(_schedule(steps, seed))


async def _schedule(steps, seed):
    h = Harness(seed)
    names = [f"e{i}" for i in range(N)]
    generation = dict.fromkeys(names, 0)
    current = dict(zip(names, names))
    for name in names:
        h.start(name)
    try:
        await h.clock.settle()
        for fault, who, lasts, advance in steps:
            if who == LEADER:
                leaders = [b for b in names if h.electors[current[b]].is_leader]
                who = names.index(leaders[0]) if leaders else 0
            base = names[who]
            lock = h.locks[current[base]]
            if fault == "fail":
                lock.fail_until = h.clock.now + lasts
            elif fault == "hang":
                lock.hang_until = h.clock.now + lasts
            elif fault == "restart":  # identities must be unique, so it comes back under a new one
                h.tasks[current[base]].cancel()
                generation[base] += 1
                current[base] = f"{base}.{generation[base]}"
                h.start(current[base])
            await h.clock.advance(advance)
        # Every fault has healed by now + 3 * LD; then the lease expires and a candidate retries.
        await h.clock.advance(3 * LD + LD + 2 * RP)
        assert sum(h.electors[current[b]].is_leader for b in names) == 1, h.events[-10:]
    finally:
        await h.close()
