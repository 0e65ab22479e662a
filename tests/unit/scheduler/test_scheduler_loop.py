"""The scheduler's shell (scheduler/loop.py) over the fake API: real informers, the real queue, binds,
PodScheduled=False, Events, moves on cluster events, conflicts and errors; no sockets."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from random import Random

import pytest

from client.errors import Unavailable
from client.events import EventRecorder
from client.fake import FakeApi
from client.informer import Informer
from scheduler.loop import (
    Scheduler, Settings, node_changed, responsible, scheduled_message, unschedulable_status,
)
from scheduler.metrics import Metrics
from skiffpb.k8s.core.v1 import core_pb2
from tests.unit.scheduler.scheduler_builders import make_node, make_pod

pytestmark = pytest.mark.timeout(30)


# -- pure helpers -------------------------------------------------------------------------------------

@pytest.mark.parametrize("pod_name,ours,expected", [
    pytest.param("default-scheduler", "default-scheduler", True, id="named"),
    pytest.param("", "default-scheduler", True, id="empty means the default"),
    pytest.param("", "gpu-scheduler", False, id="empty is not another scheduler's"),
    pytest.param("gpu-scheduler", "default-scheduler", False, id="someone else's"),
])
def test_responsible(pod_name, ours, expected):
    pod = make_pod()
    pod.spec.scheduler_name = pod_name
    assert responsible(pod, ours) is expected


def _heartbeat(node: core_pb2.Node, t: str) -> core_pb2.Node:
    new = core_pb2.Node()
    new.CopyFrom(node)
    for c in new.status.conditions:
        c.last_heartbeat_time = t
    return new


@pytest.mark.parametrize("change,expected", [
    pytest.param(lambda n: n.status.conditions[0].__setattr__("last_heartbeat_time", "x"), False, id="heartbeat"),
    pytest.param(lambda n: n.status.conditions[0].__setattr__("status", "False"), True, id="not ready"),
    pytest.param(lambda n: n.status.allocatable["cpu"].__setattr__("value", "8"), True, id="allocatable"),
    pytest.param(lambda n: n.metadata.labels.__setitem__("zone", "b"), True, id="label"),
    pytest.param(lambda n: n.spec.taints.add(key="k", effect="NoSchedule"), True, id="taint"),
    pytest.param(lambda n: n.spec.__setattr__("unschedulable", True), True, id="cordoned"),
    pytest.param(lambda n: n.metadata.annotations.__setitem__("a", "b"), False, id="annotation"),
])
def test_node_changed_only_for_what_scheduling_reads(change, expected):
    old = make_node("n1")
    new = core_pb2.Node()
    new.CopyFrom(old)
    change(new)
    assert node_changed(old, new) is expected


def test_unschedulable_status_sets_the_condition_once_and_copies():
    pod = make_pod()
    pod.status.conditions.add(type="Ready", status="False")
    new = unschedulable_status(pod, "0/1 nodes are available: 1 Insufficient cpu.", "2026-01-01T00:00:00Z")
    assert not any(c.type == "PodScheduled" for c in pod.status.conditions)   # the original untouched
    cond = next(c for c in new.status.conditions if c.type == "PodScheduled")
    assert (cond.status, cond.reason, cond.message, cond.last_transition_time) == (
        "False", "Unschedulable", "0/1 nodes are available: 1 Insufficient cpu.", "2026-01-01T00:00:00Z")
    assert unschedulable_status(new, cond.message, "later") is None
    again = unschedulable_status(new, "0/2 nodes are available: 2 Insufficient cpu.", "later")
    cond2 = next(c for c in again.status.conditions if c.type == "PodScheduled")
    assert cond2.message.startswith("0/2") and cond2.last_transition_time == "2026-01-01T00:00:00Z"


def test_scheduled_message_is_kubernetes_text():
    assert scheduled_message(make_pod("web-1", namespace="shop"), "n1") == "Successfully assigned shop/web-1 to n1"


# -- the shell over the fake API ----------------------------------------------------------------------

class SlowBindApi(FakeApi):
    """Binds answer after `delay` s, so assumed pods really are in flight while others are decided."""

    def __init__(self, delay: float = 0.0):
        super().__init__()
        self.delay = delay
        self.binds: list[tuple[str, str]] = []

    async def bind(self, namespace, name, node, **kw):
        await asyncio.sleep(self.delay)
        out = await super().bind(namespace, name, node, **kw)
        self.binds.append((f"{namespace}/{name}", node))
        return out


async def until(predicate, what: str, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


class Harness:
    def __init__(self, api: FakeApi, sched: Scheduler, metrics: Metrics):
        self.api, self.sched, self.metrics = api, sched, metrics

    def pod(self, name: str, namespace: str = "default") -> core_pb2.Pod | None:
        return self.sched.pods.get(namespace, name)

    def node_of(self, name: str) -> str:
        pod = self.pod(name)
        return pod.spec.node_name if pod is not None else ""

    def attempts(self, result: str) -> float:
        return self.metrics.registry.get_sample_value("scheduler_schedule_attempts_total", {"result": result})

    async def events(self, reason: str) -> list[core_pb2.Event]:
        await self.sched.recorder.close()        # flush what is queued; the recorder restarts on demand
        events, _ = await self.api.list("events")
        return [e for e in events if e.reason == reason]


class _Errors(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.asynccontextmanager
async def running(nodes=(), pods=(), *, api: FakeApi | None = None, may_act=lambda: True, **settings):
    api = api or SlowBindApi()
    for obj in (*nodes, *pods):
        await api.create(obj)
    pod_informer, node_informer = Informer(api, "pods"), Informer(api, "nodes")
    metrics = Metrics()
    recorder = EventRecorder(api, "default-scheduler")
    settings.setdefault("initial_backoff", 0.2)
    settings.setdefault("max_backoff", 1.0)
    sched = Scheduler(api, pod_informer, node_informer, Settings(**settings), metrics, recorder, rng=Random(7),
                      may_act=may_act)
    tasks = [asyncio.create_task(t) for t in (pod_informer.run(), node_informer.run(), sched.warm(), sched.run())]
    errors = _Errors()
    logging.getLogger("client.informer").addHandler(errors)    # a handler that raised is only logged there
    try:
        yield Harness(api, sched, metrics)
        assert errors.records == [], [r.getMessage() for r in errors.records]
    finally:
        logging.getLogger("client.informer").removeHandler(errors)
        for t in tasks:
            t.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError):
                raise r
        await recorder.close()


def requests_on(h: Harness, node: str) -> int:
    return sum(int(p.spec.containers[0].resources.requests["cpu"].value.rstrip("m"))
               for p in h.sched.pods.list() if p.spec.node_name == node)


async def test_pending_pods_are_bound_spread_by_owner_with_scheduled_events():
    """Six pods of one owner on three equal nodes: two per node, each with a Scheduled Event."""
    nodes = [make_node(f"n{i}") for i in range(3)]
    pods = [make_pod(f"web-{i}", cpu="100m", owner="rs-1") for i in range(6)]
    async with running(nodes, pods) as h:
        await until(lambda: all(h.node_of(f"web-{i}") for i in range(6)), "every pod bound")
        per_node = sorted(sum(h.node_of(f"web-{i}") == f"n{n}" for i in range(6)) for n in range(3))
        assert per_node == [2, 2, 2]
        scheduled = await h.events("Scheduled")
        assert sorted(e.message for e in scheduled) == sorted(
            f"Successfully assigned default/web-{i} to {h.node_of(f'web-{i}')}" for i in range(6))
        assert h.attempts("scheduled") == 6 and h.attempts("unschedulable") == 0
        assert h.metrics.registry.get_sample_value("scheduler_pods_scheduled_total") == 6
        cond = next(c for c in h.pod("web-0").status.conditions if c.type == "PodScheduled")
        assert cond.status == "True"


async def test_assumed_pods_are_counted_while_their_binds_are_on_the_wire():
    """Binds take 200 ms; a 1-cpu node still gets only four 250m pods of five, the fifth stays Pending."""
    api = SlowBindApi(delay=0.2)
    pods = [make_pod(f"p{i}", cpu="250m") for i in range(5)]
    async with running([make_node("n1", cpu="1")], pods, api=api) as h:
        await until(lambda: sum(bool(h.node_of(f"p{i}")) for i in range(5)) == 4, "four pods bound")
        await until(lambda: h.attempts("unschedulable") >= 1, "the fifth judged unschedulable")
        assert requests_on(h, "n1") == 1000
        assert len(api.binds) == 4


async def test_no_node_fits_condition_and_event_then_a_new_node_takes_it_without_spinning():
    """Kubernetes' message on the condition and a FailedScheduling Event; a node added later takes the
    pod at once, and meanwhile the pod was tried once only (no busy loop on heartbeats)."""
    nodes = [make_node("n1", cpu="1"), make_node("n2", cpu="1"), make_node("n3", unschedulable=True)]
    message = "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu."
    async with running(nodes, [make_pod("big", cpu="2")]) as h:
        def condition():
            pod = h.pod("big")
            return next((c for c in pod.status.conditions if c.type == "PodScheduled"), None) if pod else None
        await until(lambda: condition() is not None, "PodScheduled written")
        c = condition()
        assert (c.status, c.reason, c.message) == ("False", "Unschedulable", message)
        failed = await h.events("FailedScheduling")
        assert [(e.type, e.message) for e in failed] == [("Warning", message)]
        # Heartbeats: status-only node updates, many of them; the pod must not be retried.
        for i in range(20):
            node = await h.api.get("nodes", "", "n1")
            await h.api.update_status(_heartbeat(node, f"2026-01-01T00:00:{i:02d}Z"))
        await asyncio.sleep(0.5)                 # longer than the backoff: a spin would show
        assert h.attempts("unschedulable") == 1
        status_writes = [a for a in h.api.actions if a[0] == "update_status" and a[1] == "pods"]
        assert len(status_writes) == 1
        added = time.monotonic()
        await h.api.create(make_node("n4", cpu="4"))
        await until(lambda: h.node_of("big") == "n4", "big bound to the new node")
        assert time.monotonic() - added < 1.0
        assert h.attempts("unschedulable") == 1 and h.attempts("scheduled") == 1


async def test_a_deleted_pod_makes_room_for_a_parked_one():
    node = make_node("n1", cpu="1")
    async with running([node], [make_pod("first", cpu="800m")]) as h:
        await until(lambda: h.node_of("first") == "n1", "first bound")
        await h.api.create(make_pod("second", cpu="800m"))
        await until(lambda: h.attempts("unschedulable") == 1, "second parked")
        await h.api.delete("pods", "default", "first")
        await until(lambda: h.node_of("second") == "n1", "second bound once first is gone")


async def test_a_finished_pod_makes_room_too():
    async with running([make_node("n1", cpu="1")], [make_pod("job", cpu="800m")]) as h:
        await until(lambda: h.node_of("job") == "n1", "job bound")
        await h.api.create(make_pod("next", cpu="800m"))
        await until(lambda: h.attempts("unschedulable") == 1, "next parked")
        job = await h.api.get("pods", "default", "job")
        job.status.phase = "Succeeded"
        await h.api.update_status(job)
        await until(lambda: h.node_of("next") == "n1", "next bound once job finished")


async def test_a_failed_bind_is_forgotten_and_retried_after_backoff():
    api = SlowBindApi()
    api.fail_next("bind", Unavailable("apiserver went away", reason="ServiceUnavailable", code=503))
    async with running([make_node("n1", cpu="1")], [make_pod("p", cpu="600m")], api=api) as h:
        await until(lambda: h.node_of("p") == "n1", "p bound on the retry")
        assert h.attempts("error") == 1 and h.attempts("scheduled") == 1
        assert requests_on(h, "n1") == 600
        assert dict(h.sched.snapshot.pod_nodes) == {"default/p": "n1"}


async def test_a_conflicting_bind_drops_the_pod_and_keeps_the_real_binding():
    """Another scheduler bound the pod first: our bind Conflicts, we forget our assumption, the
    informer's copy (on the other node) is what counts, and we never retry it."""
    api = SlowBindApi(delay=0.3)
    nodes = [make_node("n1", cpu="1"), make_node("n2", cpu="1")]
    async with running(nodes, [], api=api) as h:
        await until(lambda: h.sched.ready.is_set(), "cache synced")
        await h.api.create(make_pod("p", cpu="600m"))
        await until(lambda: "default/p" in h.sched.assumed, "p assumed, bind on the wire")
        ours = h.sched.assumed["default/p"].node
        other = "n2" if ours == "n1" else "n1"
        await FakeApi.bind(api, "default", "p", other)       # the other scheduler wins
        await until(lambda: h.sched._binds == 0 and h.sched.queue.where("default/p") is None,
                    "our bind answered")
        await asyncio.sleep(0.4)                            # longer than the backoff: a retry would show
        assert h.node_of("p") == other
        assert dict(h.sched.snapshot.pod_nodes) == {"default/p": other}
        assert h.attempts("scheduled") == 0 and h.attempts("error") == 0
        assert api.binds == []                              # our bind never succeeded
        assert "default/p" not in h.sched.queue


async def test_other_schedulers_pods_and_terminating_pods_are_left_alone():
    other = make_pod("gpu", cpu="100m")
    other.spec.scheduler_name = "gpu-scheduler"
    mine = make_pod("mine", cpu="100m")
    async with running([make_node("n1")], [other, mine]) as h:
        await until(lambda: h.node_of("mine") == "n1", "mine bound")
        await asyncio.sleep(0.2)
        assert h.node_of("gpu") == ""
        assert not any(c.type == "PodScheduled" for c in h.pod("gpu").status.conditions)


async def test_pods_bound_to_a_node_before_it_appears_count_against_it():
    """A pod already bound to n1 is listed before n1 exists; when n1 appears its room is taken."""
    early = make_pod("early", cpu="800m", node_name="n1")
    async with running([], [early]) as h:
        await until(lambda: h.sched.ready.is_set(), "cache synced")
        await h.api.create(make_pod("late", cpu="800m"))
        await until(lambda: h.attempts("unschedulable") >= 1, "late parked: no nodes")
        await h.api.create(make_node("n1", cpu="1"))
        await until(lambda: h.attempts("unschedulable") >= 2, "late tried again on the new node")
        assert h.node_of("late") == ""

        def message() -> str:
            return next(c.message for c in h.pod("late").status.conditions if c.type == "PodScheduled")
        await until(lambda: message() == "0/1 nodes are available: 1 Insufficient cpu.", "the message updated")


async def test_a_scheduler_that_may_not_act_binds_nothing():
    async with running([make_node("n1")], [make_pod("p", cpu="100m")], may_act=lambda: False) as h:
        await asyncio.sleep(0.3)
        assert h.node_of("p") == "" and h.api.binds == []


async def test_many_pods_fill_nodes_exactly_and_never_over_commit():
    """60 pods of 250m on five 3-cpu nodes (room for exactly 60), binds slow: all bound, none over."""
    api = SlowBindApi(delay=0.02)
    nodes = [make_node(f"n{i}", cpu="3") for i in range(5)]
    pods = [make_pod(f"p{i:02d}", cpu="250m", owner=f"rs-{i % 3}") for i in range(61)]
    async with running(nodes, pods, api=api) as h:
        await until(lambda: len(api.binds) == 60, "60 pods bound", timeout=10)
        await until(lambda: h.attempts("unschedulable") >= 1, "the 61st parked")
        assert all(requests_on(h, f"n{i}") == 3000 for i in range(5))
        assert len({k for k, _ in api.binds}) == 60


async def test_a_new_term_starts_from_the_caches_not_from_what_the_last_one_assumed():
    """A term cancelled while its bind is on the wire (the lease was lost) leaves nothing behind: the
    next term rebuilds snapshot and queue from the caches and binds the pod once."""
    api = SlowBindApi(delay=0.3)
    await api.create(make_node("n1", cpu="1"))
    await api.create(make_pod("p", cpu="600m"))
    pods, nodes = Informer(api, "pods"), Informer(api, "nodes")
    recorder = EventRecorder(api, "default-scheduler")
    sched = Scheduler(api, pods, nodes, Settings(initial_backoff=0.2), Metrics(), recorder, rng=Random(1))
    background = [asyncio.create_task(t) for t in (pods.run(), nodes.run(), sched.warm())]
    try:
        term = asyncio.create_task(sched.run())
        await until(lambda: "default/p" in sched.assumed, "p assumed in the first term")
        term.cancel()
        await asyncio.gather(term, return_exceptions=True)
        assert sched._binds == 0 and api.binds == []
        assert sched.snapshot.pod_nodes == {"default/p": "n1"}      # the stale assumption, until...
        term = asyncio.create_task(sched.run())
        await until(lambda: pods.get("default", "p").spec.node_name == "n1", "p bound in the second term")
        assert api.binds == [("default/p", "n1")]
        assert dict(sched.snapshot.pod_nodes) == {"default/p": "n1"}
        term.cancel()
        await asyncio.gather(term, return_exceptions=True)
    finally:
        for t in background:
            t.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await recorder.close()


class LostBindApi(SlowBindApi):
    """Answers the first bind with success without applying it: the informer never shows it bound."""

    async def bind(self, namespace, name, node, **kw):
        if not self.binds:
            self.binds.append((f"{namespace}/{name}", "(lost)"))
            return await self.get("pods", namespace, name)
        return await super().bind(namespace, name, node, **kw)


async def test_an_assumption_the_informer_never_confirms_expires_and_frees_its_room():
    api = LostBindApi()
    async with running([make_node("n1", cpu="1")], [make_pod("ghost", cpu="800m")], api=api,
                       assumed_ttl=0.3, housekeeping_interval=0.05) as h:
        await until(lambda: h.attempts("scheduled") == 1 and "default/ghost" in h.sched.assumed, "ghost 'bound'")
        await h.api.create(make_pod("real", cpu="800m"))
        await until(lambda: h.node_of("real") == "n1", "real bound once ghost's assumption expired")
        assert "default/ghost" not in h.sched.assumed and h.node_of("ghost") == ""
