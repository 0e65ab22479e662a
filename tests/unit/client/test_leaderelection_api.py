"""client/leaderelection.py's ApiLeaseLock over client.fake.FakeApi (races mapped to ConflictError, other errors
passed through, Kubernetes' Lease fields written; electors over it under a FakeClock), and client/candidate.py's
flags and work loop."""
from __future__ import annotations

import asyncio
import json
import random
import re

import pytest

from client import candidate
from client.errors import Timeout, Unavailable
from client.fake import FakeApi
from client.leaderelection import ApiLeaseLock, ConflictError, FakeClock, LeaderElector, parse_micro_time
from skiffpb.k8s.coordination.v1.coordination_pb2 import Lease

pytestmark = pytest.mark.timeout(60)

T0 = 1_790_000_000.0
LD, RD, RP = 4, 3, 0.5
MICRO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


def held_by(holder: str) -> Lease:
    out = Lease()
    out.spec.holder_identity = holder
    return out


class Flaky:
    """An API whose every call raises Unavailable while `down`, as when its only apiserver is dead."""

    def __init__(self, api: FakeApi):
        self.api, self.down = api, False

    def __getattr__(self, name):
        method = getattr(self.api, name)

        async def call(*args, **kwargs):
            if self.down:
                raise Unavailable("get: cannot connect to the apiserver", reason="ServiceUnavailable", code=503)
            return await method(*args, **kwargs)
        return call


# -- the lock ----------------------------------------------------------------------------------
async def test_api_lock_reads_absent_as_none_and_addresses_its_writes():
    """get of a missing Lease is None; create and update name the lock's Lease whatever the lease passed in says."""
    api = FakeApi()
    lock = ApiLeaseLock(api, "demo", "kube-system", timeout=1.5)
    assert await lock.get() is None
    mine = held_by("a")
    mine.metadata.name = "elsewhere"
    created = await lock.create(mine)
    assert (created.metadata.namespace, created.metadata.name) == ("kube-system", "demo")
    assert mine.metadata.name == "elsewhere", "the lock copied the lease rather than changing it"
    got = await lock.get()
    got.spec.holder_identity = "b"
    updated = await lock.update(got)
    assert updated.spec.holder_identity == "b"
    assert int(updated.metadata.resource_version) > int(created.metadata.resource_version)
    assert repr(lock) == "ApiLeaseLock(kube-system/demo)"


async def _create_twice(lock, api):
    await lock.create(held_by("a"))
    await lock.create(held_by("b"))


async def _stale_update(lock, api):
    first = await lock.create(held_by("a"))
    await lock.update(first)
    await lock.update(first)


async def _update_after_delete(lock, api):
    first = await lock.create(held_by("a"))
    await api.delete("leases", "default", "demo")
    await lock.update(first)


@pytest.mark.parametrize("race, words", [
    pytest.param(_create_twice, "already exists", id="create-lost-to-another-create"),
    pytest.param(_stale_update, "has been modified", id="update-with-a-stale-resourceVersion"),
    pytest.param(_update_after_delete, "not found", id="update-of-a-deleted-lease"),
])
async def test_api_lock_reports_lost_races_as_conflicts(race, words):
    """AlreadyExists, Conflict and NotFound on a write mean someone else wrote first: ConflictError, with the words."""
    api = FakeApi()
    with pytest.raises(ConflictError, match=words):
        await race(ApiLeaseLock(api, "demo"), api)


@pytest.mark.parametrize("verb", ["get", "create", "update"])
@pytest.mark.parametrize("error", [
    pytest.param(Unavailable("cannot connect to the apiserver", reason="ServiceUnavailable", code=503),
                 id="unavailable"),
    pytest.param(Timeout("deadline of 1.5s exceeded", reason="Timeout", code=504), id="timeout"),
])
async def test_api_lock_passes_other_errors_through(verb, error):
    """Unavailable and Timeout are not races: the lock raises them unchanged (the elector counts them as failures)."""
    api = FakeApi()
    lock = ApiLeaseLock(api, "demo")
    first = await lock.create(held_by("a")) if verb == "update" else held_by("a")
    api.fail_next(verb, error)
    with pytest.raises(type(error)) as got:
        await (lock.get() if verb == "get" else getattr(lock, verb)(first))
    assert got.value is error


# -- electors over the API ----------------------------------------------------------------------
async def test_electors_over_the_api_write_kubernetes_leases_and_fail_over_when_the_leader_loses_its_apiserver():
    """a leads and renews a Lease with Kubernetes' fields; when every call of a fails (Unavailable) it stops at its
    renew deadline and b takes over once the lease expires, counting a transition."""
    clock, api = FakeClock(T0), FakeApi()
    apis = {"a": Flaky(api), "b": Flaky(api)}
    events: list[tuple[str, str, float]] = []
    electors, tasks = {}, []

    for name in "ab":
        async def work(name=name):
            events.append(("work", name, clock.now))
            await asyncio.Event().wait()
        electors[name] = LeaderElector(
            ApiLeaseLock(apis[name], "demo"), name, lease_duration=LD, renew_deadline=RD, retry_period=RP,
            clock=clock, sleep=clock.sleep, rng=random.Random(name), on_started_leading=work,
            on_stopped_leading=lambda name=name: events.append(("stopped", name, clock.now)))
        tasks.append(asyncio.ensure_future(electors[name].run()))
        await clock.settle()
    try:
        await clock.advance(2.2)
        lease = await api.get("leases", "default", "demo")
        assert (lease.api_version, lease.kind) == ("coordination.k8s.io/v1", "Lease")
        spec = lease.spec
        assert spec.holder_identity == "a" and spec.lease_duration_seconds == LD and spec.lease_transitions == 0
        assert MICRO_TIME.match(spec.acquire_time) and MICRO_TIME.match(spec.renew_time)
        assert parse_micro_time(spec.acquire_time) == T0 and parse_micro_time(spec.renew_time) > T0 + 1

        apis["a"].down = True
        r = parse_micro_time(spec.renew_time)
        await clock.advance(3 * LD)
        stopped = [t for kind, who, t in events if (kind, who) == ("stopped", "a")]
        assert stopped == [pytest.approx(r + RD, abs=1e-6)]
        (took,) = [t for kind, who, t in events if (kind, who) == ("work", "b")]
        assert r + LD < took <= r + LD + RP
        lease = await api.get("leases", "default", "demo")
        assert lease.spec.holder_identity == "b" and lease.spec.lease_transitions == 1
        assert parse_micro_time(lease.spec.acquire_time) == took
        assert electors["b"].is_leader and not electors["a"].is_leader
    finally:
        for t in tasks:
            t.cancel()
        apis["a"].down = False
        await clock.advance(RP)
        await asyncio.gather(*tasks, return_exceptions=True)
    assert not (await api.get("leases", "default", "demo")).spec.HasField("holder_identity"), \
        "b released the lease when cancelled"


# -- the candidate process ----------------------------------------------------------------------
GOOD = ["--apiserver", "127.0.0.1:1,127.0.0.1:2", "--identity", "a", "--lease-duration", "4",
        "--renew-deadline", "3", "--retry-period", "0.5"]


def test_candidate_flags():
    """The flags become a Config with the election durations validated."""
    cfg, level = candidate.config_from_args([*GOOD, "--lease-name", "demo", "--rejoin", "--log-level", "debug"])
    assert cfg.apiservers == ("127.0.0.1:1", "127.0.0.1:2") and cfg.identity == "a" and cfg.rejoin
    assert (cfg.election.lease_duration, cfg.election.renew_deadline, cfg.election.retry_period) == (4, 3, 0.5)
    assert (cfg.lease_namespace, cfg.lease_name, cfg.action_interval, level) == ("default", "demo", 0.1, "debug")
    assert candidate.config_from_args(["--apiserver", "h:1"])[0].identity, "an identity is made up when not given"


@pytest.mark.parametrize("extra, flag", [
    pytest.param(["--apiserver", " , "], "--apiserver", id="no-endpoint"),
    pytest.param(["--apiserver", "localhost"], "--apiserver", id="no-port"),
    pytest.param(["--renew-deadline", "4"], "--renew-deadline", id="deadline-not-below-duration"),
    pytest.param(["--retry-period", "3"], "--retry-period", id="retry-not-below-deadline"),
    pytest.param(["--lease-duration", "-1"], "--lease-duration", id="negative-duration"),
    pytest.param(["--action-interval", "0"], "--action-interval", id="zero-interval"),
    pytest.param(["--lease-name", ""], "--lease-name", id="empty-lease-name"),
])
def test_candidate_rejects_bad_flags_naming_the_flag(extra, flag):
    """A bad flag is a ConfigError whose message starts with the flag."""
    with pytest.raises(candidate.ConfigError, match=f"^{flag}: "):
        candidate.config_from_args([*GOOD, *extra])


class Elector:
    """As much of a LeaderElector as `candidate.work` uses: leads for `ticks` checks of is_leader."""

    def __init__(self, ticks: int):
        self.identity, self.ticks = "a", ticks

    @property
    def is_leader(self) -> bool:
        self.ticks -= 1
        return self.ticks >= 0


@pytest.mark.parametrize("ticks", [0, 3])
async def test_candidate_work_acts_only_while_leader(tmp_path, ticks):
    """The work appends one JSON line per tick while is_leader holds and returns at the first tick it does not."""
    actions = candidate.ActionLog(str(tmp_path / "actions.jsonl"))
    try:
        await asyncio.wait_for(candidate.work(Elector(ticks), actions, 0.001), 5)
    finally:
        actions.close()
    lines = [json.loads(line) for line in (tmp_path / "actions.jsonl").read_text().splitlines()]
    assert [(x["identity"], x["seq"]) for x in lines] == [("a", i) for i in range(ticks)]
    assert [x["time"] for x in lines] == sorted(x["time"] for x in lines)
