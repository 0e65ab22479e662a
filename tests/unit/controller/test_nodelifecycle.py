"""controller/nodelifecycle: node_health (heartbeats -> conditions, taints, re-check times), the taint
manager's eviction arithmetic, and the shell against client/fake.py with a fake clock."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from client.fake import FakeApi
from controller.manager import Options
from controller.nodelifecycle import make
from controller.nodelifecycle.eviction import eviction_delay, eviction_plan, pods_marked_not_ready, tolerates
from controller.nodelifecycle.health import (
    LEASE_NAMESPACE, NOT_READY_TAINT, UNREACHABLE_TAINT, node_health, ready_status,
)
from client.times import format_time
from skiffpb.k8s.coordination.v1 import coordination_pb2
from skiffpb.k8s.core.v1 import core_pb2
from tests.unit.controller.shellkit import eventually, running

pytestmark = pytest.mark.timeout(60)

T0 = 1_800_000_000.0
GRACE = 10.0


def node(name="n1", ready="True", heartbeat=T0, taints=(), created=T0 - 100) -> core_pb2.Node:
    n = core_pb2.Node(api_version="v1", kind="Node")
    n.metadata.name, n.metadata.uid = name, f"uid-{name}"
    n.metadata.creation_timestamp = format_time(created)
    if ready:
        c = n.status.conditions.add(type="Ready", status=ready, reason="KubeletReady",
                                    message="kubelet is posting ready status")
        if heartbeat is not None:
            c.last_heartbeat_time = format_time(heartbeat)
    for key, effect, added in taints:
        n.spec.taints.add(key=key, effect=effect, time_added=format_time(added))
    return n


def lease(name="n1", renewed=T0) -> coordination_pb2.Lease:
    le = coordination_pb2.Lease(api_version="coordination.k8s.io/v1", kind="Lease")
    le.metadata.name, le.metadata.namespace = name, LEASE_NAMESPACE
    le.spec.holder_identity, le.spec.lease_duration_seconds = name, 40
    le.spec.renew_time = format_time(renewed).replace("Z", ".000000Z")     # MicroTime
    return le


def pod(name, node_name="n1", tolerations=(), ready=True, deleting=False) -> core_pb2.Pod:
    p = core_pb2.Pod(api_version="v1", kind="Pod")
    p.metadata.name, p.metadata.namespace, p.metadata.uid = name, "default", f"uid-{name}"
    if deleting:
        p.metadata.deletion_timestamp = format_time(T0)
    p.spec.node_name = node_name
    p.spec.containers.add(name="c", image="x")
    for key, op, effect, seconds in tolerations:
        t = p.spec.tolerations.add(key=key, operator=op, effect=effect)
        if seconds is not None:
            t.toleration_seconds = seconds
    p.status.phase = "Running"
    p.status.conditions.add(type="Ready", status="True" if ready else "False")
    return p


def conditions(status) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in status.conditions}


def taint_keys(taints) -> list[tuple[str, str]]:
    return [(t.key, t.effect) for t in taints]


# -- node_health --------------------------------------------------------------------------------------

def test_fresh_lease_changes_nothing_and_asks_for_a_recheck_when_it_would_turn_stale():
    """A node renewed 4 s ago is left alone and re-checked just after its heartbeat turns stale."""
    h = node_health(node(heartbeat=T0 - 30), lease(renewed=T0), now=T0 + 4, grace=GRACE)
    assert not h.stale and h.status is None and h.taints is None and h.ready == "True"
    assert 6.0 < h.recheck_after < 6.2


def test_stale_node_goes_unknown_as_kubernetes_writes_it():
    """No renewal for longer than the grace period: Ready and the pressure conditions Unknown, unreachable taints."""
    n = node(taints=[("dedicated", "NoSchedule", T0 - 500)])
    h = node_health(n, lease(renewed=T0), now=T0 + 11, grace=GRACE)
    assert h.stale and h.ready == "Unknown" and h.marked_not_ready and h.recheck_after is None
    assert conditions(h.status) == {"Ready": ("Unknown", "NodeStatusUnknown"),
                                    "MemoryPressure": ("Unknown", "NodeStatusNeverUpdated"),
                                    "DiskPressure": ("Unknown", "NodeStatusNeverUpdated"),
                                    "PIDPressure": ("Unknown", "NodeStatusNeverUpdated")}
    ready = h.status.conditions[0]
    assert ready.message == "Kubelet stopped posting node status."
    assert ready.last_heartbeat_time == format_time(T0) and ready.last_transition_time == format_time(T0 + 11)
    assert h.status.conditions[1].message == "Kubelet never posted node status."
    assert taint_keys(h.taints) == [("dedicated", "NoSchedule"), (UNREACHABLE_TAINT, "NoSchedule"),
                                    (UNREACHABLE_TAINT, "NoExecute")]
    assert all(t.time_added == format_time(T0 + 11) for t in h.taints[1:])
    assert n.status.conditions[0].status == "True" and len(n.spec.taints) == 1    # inputs untouched


def test_stale_again_is_idempotent_and_keeps_time_added():
    """A node already Unknown and tainted: nothing to write, deadlines keep counting from the first taint."""
    n = node(ready="Unknown", taints=[(UNREACHABLE_TAINT, "NoSchedule", T0 + 11),
                                      (UNREACHABLE_TAINT, "NoExecute", T0 + 11)])
    for t in ("MemoryPressure", "DiskPressure", "PIDPressure"):
        n.status.conditions.add(type=t, status="Unknown")
    h = node_health(n, lease(renewed=T0), now=T0 + 50, grace=GRACE)
    assert h.stale and h.status is None and h.taints is None and not h.marked_not_ready


def test_renewed_lease_waits_for_the_kubelet_then_the_taints_go():
    """A renewed Lease alone leaves Ready Unknown (and the taints); the kubelet's Ready=True lifts them."""
    taints = [(UNREACHABLE_TAINT, "NoSchedule", T0 + 11), (UNREACHABLE_TAINT, "NoExecute", T0 + 11),
              ("dedicated", "NoSchedule", T0 - 500)]
    h = node_health(node(ready="Unknown", taints=taints), lease(renewed=T0 + 30), now=T0 + 31, grace=GRACE)
    assert not h.stale and h.status is None and h.taints is None
    h = node_health(node(ready="True", heartbeat=T0 + 31, taints=taints), lease(renewed=T0 + 30),
                    now=T0 + 32, grace=GRACE)
    assert taint_keys(h.taints) == [("dedicated", "NoSchedule")] and h.taints_cleared


def test_ready_false_swaps_to_not_ready_taints():
    """A kubelet posting Ready=False: not-ready NoSchedule and NoExecute replace the unreachable ones."""
    h = node_health(node(ready="False", heartbeat=T0, taints=[(UNREACHABLE_TAINT, "NoExecute", T0 - 5)]),
                    lease(renewed=T0), now=T0 + 1, grace=GRACE)
    assert taint_keys(h.taints) == [(NOT_READY_TAINT, "NoSchedule"), (NOT_READY_TAINT, "NoExecute")]
    assert not h.taints_cleared


@pytest.mark.parametrize("n, le, now, stale", [
    pytest.param(node(heartbeat=T0), None, T0 + 9, False, id="ready-heartbeat-without-lease"),
    pytest.param(node(heartbeat=T0), None, T0 + 11, True, id="ready-heartbeat-stale"),
    pytest.param(node(heartbeat=T0 - 50), lease(renewed=T0), T0 + 9, False, id="lease-newer-than-heartbeat"),
    pytest.param(node(ready="", created=T0), None, T0 + 9, False, id="never-posted-within-grace-of-creation"),
    pytest.param(node(ready="", created=T0), None, T0 + 11, True, id="never-posted-past-grace"),
])
def test_heartbeat_sources(n, le, now, stale):
    """The heartbeat is the later of the Lease and Ready's heartbeat; else the node's creation."""
    assert node_health(n, le, now=now, grace=GRACE).stale is stale


def test_never_posted_node_gets_all_conditions_never_updated():
    """A node that never posted status gets Ready Unknown, NodeStatusNeverUpdated, heartbeat = creation."""
    h = node_health(node(ready="", created=T0), None, now=T0 + 11, grace=GRACE)
    assert conditions(h.status)["Ready"] == ("Unknown", "NodeStatusNeverUpdated")
    assert h.status.conditions[0].last_heartbeat_time == format_time(T0)
    assert not h.marked_not_ready and taint_keys(h.taints)[0] == (UNREACHABLE_TAINT, "NoSchedule")


@given(ready=st.sampled_from(["True", "False", "Unknown", ""]), beat=st.floats(-30, 30),
       now=st.floats(0, 60), tainted=st.booleans())
def test_applying_a_decision_leaves_nothing_to_do(ready, beat, now, tainted):
    """After the status and taints a decision asks for are written, the same decision asks for nothing."""
    taints = [(UNREACHABLE_TAINT, "NoExecute", T0)] if tainted else []
    n = node(ready=ready, heartbeat=T0 + beat, taints=taints)
    h = node_health(n, lease(renewed=T0 + beat), now=T0 + now, grace=GRACE)
    if h.status is not None:
        n.status.CopyFrom(h.status)
    if h.taints is not None:
        del n.spec.taints[:]
        n.spec.taints.extend(h.taints)
    again = node_health(n, lease(renewed=T0 + beat), now=T0 + now, grace=GRACE)
    assert again.status is None and again.taints is None and ready_status(n) == again.ready


# -- eviction ------------------------------------------------------------------------------------------

UNREACHABLE = core_pb2.Taint(key=UNREACHABLE_TAINT, effect="NoExecute", time_added=format_time(T0))


@pytest.mark.parametrize("tol, taint, want", [
    pytest.param(("", "Exists", "", None), UNREACHABLE, True, id="exists-everything"),
    pytest.param((UNREACHABLE_TAINT, "Exists", "NoExecute", None), UNREACHABLE, True, id="key-and-effect"),
    pytest.param((UNREACHABLE_TAINT, "Exists", "NoSchedule", None), UNREACHABLE, False, id="other-effect"),
    pytest.param((NOT_READY_TAINT, "Exists", "", None), UNREACHABLE, False, id="other-key"),
    pytest.param(("dedicated", "Equal", "NoExecute", "gpu"),
                 core_pb2.Taint(key="dedicated", value="gpu", effect="NoExecute"), True, id="equal-value"),
    pytest.param(("dedicated", "Equal", "NoExecute", "cpu"),
                 core_pb2.Taint(key="dedicated", value="gpu", effect="NoExecute"), False, id="other-value"),
])
def test_tolerates(tol, taint, want):
    """Kubernetes' ToleratesTaint."""
    key, op, effect, value = tol
    t = core_pb2.Toleration(key=key, operator=op, effect=effect)
    if value is not None:
        t.value = value
    assert tolerates(t, taint) is want


@pytest.mark.parametrize("tolerations, taint, want", [
    pytest.param((), UNREACHABLE, 10.0, id="untolerated-unreachable-waits-the-eviction-timeout"),
    pytest.param(((UNREACHABLE_TAINT, "Exists", "NoExecute", 3),), UNREACHABLE, 3.0, id="toleration-seconds"),
    pytest.param(((UNREACHABLE_TAINT, "Exists", "NoExecute", 30), ("", "Exists", "", 5)), UNREACHABLE, 5.0,
                 id="shortest-of-several"),
    pytest.param(((UNREACHABLE_TAINT, "Exists", "NoExecute", None),), UNREACHABLE, float("inf"), id="forever"),
    pytest.param(((UNREACHABLE_TAINT, "Exists", "NoExecute", -4),), UNREACHABLE, 0.0, id="negative-is-now"),
    pytest.param((), core_pb2.Taint(key="dedicated", effect="NoExecute"), 0.0, id="other-untolerated-taint-now"),
])
def test_eviction_delay(tolerations, taint, want):
    """How long a pod may stay on a node with one NoExecute taint."""
    assert eviction_delay(pod("p", tolerations=tolerations), taint, 10.0) == want


def test_eviction_plan_counts_from_time_added_and_skips_deleting_pods():
    """Pods go when their time on the taint is up; the next due time is reported; terminating pods are left."""
    taints = [core_pb2.Taint(key=UNREACHABLE_TAINT, effect="NoSchedule", time_added=format_time(T0)), UNREACHABLE]
    pods = [pod("plain"), pod("short", tolerations=((UNREACHABLE_TAINT, "Exists", "NoExecute", 3),)),
            pod("forever", tolerations=((UNREACHABLE_TAINT, "Exists", "", None),)),
            pod("going", deleting=True)]
    plan = eviction_plan(pods, taints, now=T0 + 2, default_timeout=10.0)
    assert plan.evict == () and plan.next_due == T0 + 3
    plan = eviction_plan(pods, taints, now=T0 + 5, default_timeout=10.0)
    assert [p.metadata.name for p in plan.evict] == ["short"] and plan.next_due == T0 + 10
    plan = eviction_plan(pods, taints, now=T0 + 10, default_timeout=10.0)
    assert [p.metadata.name for p in plan.evict] == ["plain", "short"] and plan.next_due is None
    assert eviction_plan(pods, taints[:1], now=T0 + 99, default_timeout=10.0).evict == ()   # NoSchedule only


def test_pods_marked_not_ready_are_copies():
    """Ready pods get Ready=False (a copy); pods already not ready are left out."""
    pods = [pod("a"), pod("b", ready=False)]
    [a] = pods_marked_not_ready(pods, now=T0)
    assert a.metadata.name == "a" and a.status.conditions[0].status == "False"
    assert a.status.conditions[0].last_transition_time == format_time(T0)
    assert pods[0].status.conditions[0].status == "True"


# -- the shell against the fake API, with a fake clock -------------------------------------------------

async def test_shell_marks_taints_evicts_and_recovers():
    """Lease stops: Unknown + taints + NodeNotReady; after the timeout the plain pod is evicted; the kubelet back lifts the taints."""
    now = [T0 + 1]
    api = FakeApi()
    await api.create(node())
    await api.create(lease(renewed=T0))
    await api.create(pod("plain"))
    await api.create(pod("patient", tolerations=((UNREACHABLE_TAINT, "Exists", "NoExecute", 60),)))
    await api.create(pod("elsewhere", node_name="n2"))
    opts = Options(workers=2, resync_period=0.0, node_monitor_grace_period=GRACE, pod_eviction_timeout=10.0)
    async with running(api, make, clock=lambda: now[0], options=opts) as c:
        now[0] = T0 + 11
        c.enqueue_key("n1")

        async def unknown():
            n = await api.get("nodes", "", "n1")
            return ready_status(n) == "Unknown" and (UNREACHABLE_TAINT, "NoExecute") in taint_keys(n.spec.taints)
        await eventually(unknown, what="n1 to go Unknown and tainted")
        await eventually(lambda: _has_reasons(api, {"NodeNotReady"}), what="the NodeNotReady events")
        p = await api.get("pods", "default", "plain")
        assert p.status.conditions[0].status == "False"           # marked not ready, not yet evicted
        assert (await api.get("pods", "default", "elsewhere")).status.conditions[0].status == "True"

        now[0] = T0 + 21
        c.enqueue_key("n1")
        await eventually(lambda: _pod_names(api, ["elsewhere", "patient"]), what="the plain pod to be evicted")
        messages = {e.message for e in (await api.list("events", "default"))[0] if e.reason == "TaintManagerEviction"}
        assert messages == {"Marking for deletion Pod default/plain"}

        now[0] = T0 + 30
        le = await api.get("leases", LEASE_NAMESPACE, "n1")
        le.spec.renew_time = format_time(T0 + 30)
        await api.update(le)                                       # the kubelet is back ...
        n = await api.get("nodes", "", "n1")
        n.status.conditions[0].status = "True"
        n.status.conditions[0].last_heartbeat_time = format_time(T0 + 30)
        await api.update_status(n)                                 # ... and posts Ready

        async def clear():
            n = await api.get("nodes", "", "n1")
            return not n.spec.taints
        await eventually(clear, what="the unreachable taints to be removed")
        await eventually(lambda: _has_reasons(api, {"NodeReady"}), what="the NodeReady event")
        assert await _pod_names(api, ["elsewhere", "patient"])


async def _has_reasons(api, want: set[str]) -> bool:
    return {e.reason for e in (await api.list("events", ""))[0]} >= want


async def _pod_names(api, want) -> bool:
    return sorted(p.metadata.name for p in (await api.list("pods", "default"))[0]) == want
