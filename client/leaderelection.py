"""Leader election on coordination.k8s.io/v1 Lease objects, modelled on client-go's leaderelection.

Vocabulary (as in client-go): `lease_duration` is how long a candidate that is not the holder waits
after the holder's last `renewTime` before taking the lease; `renew_deadline` is how long a leader
keeps acting without a successful renewal before it stops; `retry_period` is the interval between
attempts.

    decide(lease, me, now, cfg) -> Decision        # pure: ACQUIRE / RENEW / WAIT / LOST, and what to write
    LeaderElector(lock, identity, ...).run()       # shell: get -> decide -> create/update, a watchdog

    candidate --get/decide--> ACQUIRE --create/update ok--> leader: start the leading task
        ^                                                      | every retry_period: get/decide/update
        |  WAIT: retry after a jittered retry_period           | watchdog: no successful renewal within
        +------------------------------------------------------+ renew_deadline, or LOST -> cancel the
                                                                 leading task, on_stopped_leading, AT ONCE

Use, over the apiserver (MemoryLeaseLock stands in for ApiLeaseLock in unit tests):

    async with ApiClient(endpoints) as api:
        lock = ApiLeaseLock(api, "kube-scheduler", "kube-system", timeout=renew_deadline / 2)
        elector = LeaderElector(lock, identity, lease_duration=15, renew_deadline=10, retry_period=2,
                                on_started_leading=work,   # a coroutine function, run as a task
                                on_stopped_leading=lost)   # e.g. exit, as Kubernetes components do
        await elector.run()                                # until cancelled; then releases the lease

`work` is cancelled the moment leadership ends; before each side effect it should also check
`elector.is_leader` (after a process pause its overdue timer may fire before the watchdog's; see
client/candidate.py). `python -m client.leaderelection --apiserver HOST:PORT[,...] --lease-name demo
--identity a --lease-duration 4 --renew-deadline 3 --retry-period 0.5 --action-log FILE` runs a demo
candidate (client/candidate.py; `--help` lists its flags) that appends a line to FILE every 100 ms
while it leads, and exits with status 1 when it loses the lease (`--rejoin`: campaigns again).

Invariants (clocks assumed to agree, as client-go assumes they run at the same rate):
- At most one elector believes it is leader at any instant. The leader stops at
  `r + renew_deadline`, where `r` is the `renewTime` of its last successful write; no one else
  can take the lease before `r + lease_duration` (expiry is strict: `renewTime + leaseDurationSeconds
  < now`), and `renew_deadline < lease_duration` is validated. Writes use the observed
  `metadata.resourceVersion`, so a candidate and the holder can never both succeed on one record.
- The old leader stops before `lease_duration` elapses after its last renewal: a watchdog task
  stops it at `r + renew_deadline` even while a renewal call hangs.
- Identities must be unique among the candidates for one lease (client-go requires the same): two
  electors with one identity would each take the other's record for their own.
- A candidate acquires within `lease_duration + retry_period` after the holder's last renewal:
  its retries are jittered *downwards* (within `(retry_period/2, retry_period]`), unlike client-go's
  upward jitter (up to 2.2x), which would break that bound.

Where this differs from client-go, and why:
- Expiry is judged from the record's `renewTime` (as the issue states), not from the local time at
  which the record was last seen to change; hence "clocks agree" in the invariants.
- The renew deadline is measured from the last *successful* renewal, not from the start of the
  current renew round, so a leader never outlives `r + renew_deadline`.
- Losing the lease does not end `run()`: the elector goes back to being a candidate, and only
  after re-acquiring starts a fresh leading task.
"""
from __future__ import annotations

import asyncio
import calendar
import enum
import logging
import math
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Protocol

from client.errors import AlreadyExists, Conflict, NotFound
from skiffpb.k8s.coordination.v1.coordination_pb2 import Lease

if TYPE_CHECKING:
    from client.api import ApiClient

log = logging.getLogger(__name__)

API_VERSION = "coordination.k8s.io/v1"
LEASES = "leases.coordination.k8s.io"
JITTER = 0.5  # retries wait retry_period * (1 - JITTER * u), u in [0, 1): never longer than retry_period

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$")


# -- times ----------------------------------------------------------------------------------------
def format_micro_time(t: float) -> str:
    """Seconds since the epoch as Kubernetes' MicroTime, `2026-11-26T01:02:03.123456Z` (rounded to a microsecond)."""
    secs = math.floor(t)
    micros = round((t - secs) * 1_000_000)  # t - floor(t) is exact; scaling t itself would lose digits
    if micros == 1_000_000:
        secs, micros = secs + 1, 0
    dt = _EPOCH + timedelta(seconds=secs)
    return (f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"
            f".{micros:06d}Z")


def parse_micro_time(text: str) -> float:
    """An RFC 3339 time (any offset, 0-9 fractional digits) as seconds since the epoch; ValueError if malformed."""
    m = _RFC3339.match(text)
    if not m:
        raise ValueError(f"invalid MicroTime {text!r}: expected RFC 3339 such as '2026-11-26T01:02:03.123456Z'")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    try:
        datetime(year, month, day, hour, minute, second)  # validates the ranges (month 13, Feb 30, ...)
    except ValueError as e:
        raise ValueError(f"invalid MicroTime {text!r}: {e}") from None
    secs = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    if m.group(9):
        offset = int(m.group(10)) * 3600 + int(m.group(11)) * 60
        secs -= offset if m.group(9) == "+" else -offset
    nanos = int((m.group(7) or "").ljust(9, "0"))
    return secs + nanos / 1e9


# -- the pure core --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ElectionConfig:
    """Lease duration, renew deadline and retry period in seconds, validated as client-go does."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        for name in ("lease_duration", "renew_deadline", "retry_period"):
            value = getattr(self, name)
            if not value > 0 or math.isinf(value):
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        if not self.renew_deadline < self.lease_duration:
            raise ValueError(f"renew_deadline ({self.renew_deadline}s) must be less than lease_duration "
                             f"({self.lease_duration}s), or a stalled leader could overlap its successor")
        if not self.retry_period < self.renew_deadline:
            raise ValueError(f"retry_period ({self.retry_period}s) must be less than renew_deadline "
                             f"({self.renew_deadline}s), or a leader could not renew before its deadline")


class Action(enum.Enum):
    """What an elector does after reading the lease."""

    ACQUIRE = "acquire"  # take the lease (absent, released, or expired): write `Decision.lease`
    RENEW = "renew"      # I hold it: write `Decision.lease` with a fresh renewTime
    WAIT = "wait"        # someone else holds a valid lease: retry later
    LOST = "lost"        # I was leading but the lease names someone else: stop at once


@dataclass(frozen=True)
class Decision:
    """An action, the lease to write (ACQUIRE/RENEW only), whether to create it, and the holder it shows."""

    action: Action
    holder: str                  # the lease's holder after this decision is carried out ("" for none)
    lease: Lease | None = None   # carries the observed metadata.resourceVersion, for compare-and-swap
    create: bool = False         # True when no lease exists yet


def expires_at(lease: Lease, cfg: ElectionConfig) -> float:
    """When the lease stops being valid; -inf when its renewTime is absent or malformed (as client-go's zero time)."""
    spec = lease.spec
    if not spec.HasField("renew_time"):
        return -math.inf
    try:
        renewed = parse_micro_time(spec.renew_time)
    except ValueError:
        return -math.inf
    # A record without a duration is judged by ours rather than as already expired: never steal early.
    duration = spec.lease_duration_seconds if spec.HasField("lease_duration_seconds") else cfg.lease_duration
    return renewed + duration


def decide(lease: Lease | None, me: str, now: float, cfg: ElectionConfig, *,
           leading: bool = False) -> Decision:
    """Decide what `me` does with the observed lease at `now` (`leading`: whether `me` currently acts as leader)."""
    holder = lease.spec.holder_identity if lease is not None else ""
    if holder and holder != me:
        if leading:
            return Decision(Action.LOST, holder)
        if not expires_at(lease, cfg) < now:
            return Decision(Action.WAIT, holder)
    new = Lease()
    if lease is not None:
        new.CopyFrom(lease)  # NEVER mutate the observed lease: it may come from a cache
    new.api_version, new.kind = API_VERSION, "Lease"
    stamp = format_micro_time(now)
    spec = new.spec
    if holder != me:
        spec.holder_identity = me
        spec.acquire_time = stamp
        spec.lease_transitions = (lease.spec.lease_transitions + 1) if lease is not None else 0
    elif not spec.HasField("acquire_time"):
        spec.acquire_time = stamp
    spec.renew_time = stamp
    spec.lease_duration_seconds = math.ceil(cfg.lease_duration)  # round up: others wait at least as long
    return Decision(Action.RENEW if holder == me else Action.ACQUIRE, me, new, create=lease is None)


def decide_release(lease: Lease | None, me: str) -> Lease | None:
    """The lease with holderIdentity cleared if `me` holds it, else None (nothing to release)."""
    if lease is None or lease.spec.holder_identity != me or not me:
        return None
    new = Lease()
    new.CopyFrom(lease)
    new.spec.ClearField("holder_identity")
    return new


# -- the lock -------------------------------------------------------------------------------------
class ConflictError(Exception):
    """A write lost an optimistic-concurrency race (stale resourceVersion, or the lease already exists)."""


class LeaseLock(Protocol):
    """One Lease object: read it, create it, or replace it if its resourceVersion still matches."""

    async def get(self) -> Lease | None: ...

    async def create(self, lease: Lease) -> Lease: ...

    async def update(self, lease: Lease) -> Lease: ...


class _LeaseRef:
    """Which Lease a lock guards, and a lease to write addressed to it; shared by the locks below."""

    def __init__(self, name: str, namespace: str):
        if not name:
            raise ValueError("the lease name must be a non-empty string")
        self.name, self.namespace = name, namespace

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.namespace}/{self.name})"

    def _addressed(self, lease: Lease) -> Lease:
        out = Lease()
        out.CopyFrom(lease)  # NEVER mutate the caller's lease: `decide` may have copied it from a cache
        out.metadata.name, out.metadata.namespace = self.name, self.namespace
        return out


class MemoryLeaseLock(_LeaseRef):
    """An in-memory Lease with the apiserver's conflict semantics, shared by several electors in tests."""

    def __init__(self, name: str = "skiff-leader", namespace: str = "default"):
        super().__init__(name, namespace)
        self.lease: Lease | None = None
        self.writes: list[Lease] = []  # every successful write, in order
        self._revision = 0

    def _store(self, lease: Lease) -> Lease:
        self._revision += 1
        stored = self._addressed(lease)
        stored.metadata.resource_version = str(self._revision)
        self.lease = stored
        self.writes.append(stored)
        return self._copy(stored)

    @staticmethod
    def _copy(lease: Lease) -> Lease:
        out = Lease()
        out.CopyFrom(lease)
        return out

    async def get(self) -> Lease | None:
        await asyncio.sleep(0)  # yield, so electors interleave between get and write as over a network
        return None if self.lease is None else self._copy(self.lease)

    async def create(self, lease: Lease) -> Lease:
        await asyncio.sleep(0)
        if self.lease is not None:
            raise ConflictError(f'leases.coordination.k8s.io "{self.name}" already exists')
        return self._store(lease)

    async def update(self, lease: Lease) -> Lease:
        await asyncio.sleep(0)
        if self.lease is None:
            raise ConflictError(f'leases.coordination.k8s.io "{self.name}" not found')
        rv = lease.metadata.resource_version
        if rv and rv != self.lease.metadata.resource_version:  # empty: unconditional, as in Kubernetes
            raise ConflictError(f'Operation cannot be fulfilled on leases.coordination.k8s.io "{self.name}": '
                                "the object has been modified; please apply your changes to the latest "
                                "version and try again")
        return self._store(lease)


class ApiLeaseLock(_LeaseRef):
    """The Lease `namespace/name` through the apiserver, with a `client.api.ApiClient` (or `client.fake.FakeApi`).

    The resourceVersion that `decide` copies from the observed lease makes every update a
    compare-and-swap at the apiserver; losing it (Conflict), or losing the race to create the lease
    (AlreadyExists), or the lease vanishing between get and update (NotFound) is a ConflictError:
    someone else wrote first. Every other error (Unavailable, Timeout, ...) passes through unchanged;
    the elector counts any error as a failed attempt, so a leader that sees only errors stops at its
    renew deadline. `timeout` bounds each call (None: the client's own deadline); keep two calls
    (a get and a write) within the renew deadline, as client-go bounds a renewal by it.
    """

    def __init__(self, api: ApiClient, name: str, namespace: str = "default", *,
                 timeout: float | None = None):
        super().__init__(name, namespace)
        self.api, self.timeout = api, timeout

    async def get(self) -> Lease | None:
        try:
            return await self.api.get(LEASES, self.namespace, self.name, timeout=self.timeout)
        except NotFound:
            return None

    async def create(self, lease: Lease) -> Lease:
        try:
            return await self.api.create(self._addressed(lease), timeout=self.timeout)
        except AlreadyExists as e:
            # Also what a retried create answers when its first attempt was applied: the next
            # attempt then reads the lease, finds itself the holder, and renews.
            raise ConflictError(str(e)) from e

    async def update(self, lease: Lease) -> Lease:
        try:
            return await self.api.update(self._addressed(lease), timeout=self.timeout)
        except (Conflict, NotFound) as e:
            raise ConflictError(str(e)) from e


# -- a fake clock ---------------------------------------------------------------------------------
class FakeClock:
    """Time that moves only when a test advances it; `sleep` returns once the fake time reaches its target."""

    def __init__(self, start: float = 1_790_000_000.0, *, settle_rounds: int = 100):
        self.now = start
        self.settle_rounds = settle_rounds
        self.observers: list[Callable[[float], None]] = []  # called after every settled instant
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        """Wait until the fake time reaches now + delay (yield once if delay <= 0)."""
        if delay <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        self._sleepers.append((self.now + delay, self._seq, fut))
        self._sleepers.sort(key=lambda s: (s[0], s[1]))
        await fut

    async def settle(self) -> None:
        """Let every task runnable at this instant run (a fixed number of event-loop turns)."""
        for _ in range(self.settle_rounds):
            await asyncio.sleep(0)
        for observe in self.observers:
            observe(self.now)

    async def advance(self, delta: float) -> None:
        """Move time forward by delta, stopping and settling at every sleeper's target on the way."""
        end = self.now + delta
        await self.settle()
        # Step through the targets in order, as a real clock would, so that a watchdog due at t
        # runs before a candidate due at t' > t.
        while self._sleepers and self._sleepers[0][0] <= end:
            target = self._sleepers[0][0]
            self.now = max(self.now, target)
            while self._sleepers and self._sleepers[0][0] <= self.now:
                _, _, fut = self._sleepers.pop(0)
                if not fut.done():
                    fut.set_result(None)
            await self.settle()
        self.now = end
        await self.settle()


# -- the shell ------------------------------------------------------------------------------------
class LeaderElector:
    """Campaigns for a Lease, runs `on_started_leading` as a task while it holds it, and cancels it on loss."""

    def __init__(self, lock: LeaseLock, identity: str, *, lease_duration: float = 15,
                 renew_deadline: float = 10, retry_period: float = 2,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 on_started_leading: Callable[[], Awaitable[None]] | None = None,
                 on_stopped_leading: Callable[[], None] | None = None,
                 on_new_leader: Callable[[str], None] | None = None,
                 release_on_cancel: bool = True, rng: random.Random | None = None):
        if not identity:
            raise ValueError("identity must be a non-empty string")
        self.config = ElectionConfig(lease_duration, renew_deadline, retry_period)
        self.lock, self.identity = lock, identity
        self._clock, self._sleep = clock, sleep
        self._on_started, self._on_stopped, self._on_new_leader = (
            on_started_leading, on_stopped_leading, on_new_leader)
        self.release_on_cancel = release_on_cancel
        self._rng = rng or random.Random()
        self._leading = False
        self._last_renew = -math.inf    # renewTime of our last successful write
        self.leader = ""                # the holder last observed or written
        self.leading_task: asyncio.Task[None] | None = None  # the most recent leading task

    @property
    def is_leader(self) -> bool:
        """Whether this elector acts as leader now (also false once the renew deadline has passed)."""
        return self._leading and self._clock() < self._last_renew + self.config.renew_deadline

    async def run(self) -> None:
        """Campaign, lead, and campaign again after a loss, until cancelled (then release if configured)."""
        try:
            while True:
                await self._acquire()
                await self._lead()
        finally:
            self._stop_leading("elector stopped")
            if self.release_on_cancel:
                await self.release()

    async def release(self) -> bool:
        """Stop leading, wait for the leading task to end, then clear holderIdentity if we still hold it."""
        self._stop_leading("releasing")
        await self._drain()
        try:
            released = decide_release(await self.lock.get(), self.identity)
            if released is None:
                return False
            await self.lock.update(released)
        except Exception as e:  # absorbed: the lease then simply expires
            log.warning("%s: could not release %r: %s", self.identity, self.lock, e)
            return False
        log.info("%s: released %r", self.identity, self.lock)
        return True

    # The loops ------------------------------------------------------------------------------------
    async def _acquire(self) -> None:
        while await self._attempt() not in (Action.ACQUIRE, Action.RENEW):
            await self._sleep(self.config.retry_period * (1 - JITTER * self._rng.random()))

    async def _lead(self) -> None:
        self._start_leading()
        renewer = asyncio.ensure_future(self._renew_loop())
        watchdog = asyncio.ensure_future(self._watch_deadline())
        try:
            await asyncio.wait({renewer, watchdog}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            self._stop_leading("elector cancelled")
            raise
        finally:
            renewer.cancel()
            watchdog.cancel()
            self._stop_leading("leadership ended")
            await asyncio.wait({renewer, watchdog})
            await self._drain()

    async def _renew_loop(self) -> None:
        while True:
            await self._sleep(self.config.retry_period)
            if not self._leading:  # the watchdog stopped us while we slept
                return
            if await self._attempt() is Action.LOST:
                self._stop_leading(f"lease taken by {self.leader}")
                return

    async def _watch_deadline(self) -> None:
        # Runs beside the renewals, so that a renewal call that hangs cannot keep us leading.
        while True:
            left = self._last_renew + self.config.renew_deadline - self._clock()
            if left <= 0:
                self._stop_leading(f"no successful renewal within {self.config.renew_deadline}s")
                return
            await self._sleep(left)

    async def _attempt(self) -> Action | None:
        """One get -> decide -> write round; the action carried out, or None if a call failed."""
        try:
            observed = await self.lock.get()
        except Exception as e:  # any failure is a failed attempt; the loops decide what it means
            log.warning("%s: get %r failed: %s", self.identity, self.lock, e)
            return None
        d = decide(observed, self.identity, self._clock(), self.config, leading=self._leading)
        if d.lease is None:
            self._observe(d.holder)
            return d.action
        try:
            await (self.lock.create(d.lease) if d.create else self.lock.update(d.lease))
        except Exception as e:
            # A lost race is routine (someone else wrote first); anything else is worth a warning.
            log.log(logging.INFO if isinstance(e, ConflictError) else logging.WARNING,
                    "%s: %s of %r failed: %s", self.identity, d.action.value, self.lock, e)
            return None
        # Measure the deadline from the renewTime we wrote (microsecond-rounded), the very number
        # the other candidates measure expiry from.
        self._last_renew = parse_micro_time(d.lease.spec.renew_time)
        self._observe(self.identity)
        if self._clock() >= self._last_renew + self.config.renew_deadline:
            return None  # the write took so long that the lease is no longer ours to act on
        return d.action

    # Transitions ----------------------------------------------------------------------------------
    def _observe(self, holder: str) -> None:
        if holder and holder != self.leader:
            self.leader = holder
            if self._on_new_leader is not None:
                try:
                    self._on_new_leader(holder)
                except Exception:
                    log.exception("%s: on_new_leader(%s) raised", self.identity, holder)

    def _start_leading(self) -> None:
        self._leading = True
        log.info("%s: became leader of %r", self.identity, self.lock)
        if self._on_started is not None:
            self.leading_task = asyncio.ensure_future(self._run_leading(self._on_started))

    async def _run_leading(self, work: Callable[[], Awaitable[None]]) -> None:
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Exception:  # the lease is still ours; a crashed leading task is the caller's bug
            log.exception("%s: the leading task raised", self.identity)

    def _stop_leading(self, why: str) -> None:
        # Synchronous on purpose: the flag drops, the task is cancelled and the callback runs in one
        # step, with no await in between at which the leading task could act.
        if not self._leading:
            return
        self._leading = False
        log.info("%s: stopped leading %r: %s", self.identity, self.lock, why)
        if self.leading_task is not None:
            self.leading_task.cancel()
        if self._on_stopped is not None:
            try:
                self._on_stopped()
            except Exception:
                log.exception("%s: on_stopped_leading raised", self.identity)

    async def _drain(self) -> None:
        # The old leading task must be over before a new one starts or the lease is released.
        if self.leading_task is not None and not self.leading_task.done():
            await asyncio.wait({self.leading_task})


if __name__ == "__main__":  # python -m client.leaderelection: the demo candidate of client/candidate.py
    from client.candidate import main
    raise SystemExit(main())
