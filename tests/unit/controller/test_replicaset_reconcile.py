"""controller/replicaset/reconcile.py against Kubernetes' ReplicaSet controller: pod predicates,
the ActivePods deletion order (table tests and a Hypothesis check against a pairwise rendering of
Kubernetes' Less), claiming, the sync decision with expectations and burst, status, and pods
stamped from the template."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from controller.replicaset.reconcile import (
    BURST_REPLICAS, calculate_status, claim, is_active, is_available, is_ready, pod_from_template,
    pods_to_delete, reconcile, slow_start_batches,
)
from client.times import format_time, parse_time
from skiffpb.k8s.apps.v1 import apps_pb2
from skiffpb.k8s.core.v1 import core_pb2
from skiffpb.k8s.meta.v1 import meta_pb2

pytestmark = pytest.mark.timeout(60)

T0 = 1_800_000_000.0
RS_UID = "uid-rs"


def replica_set(replicas: int = 3, *, min_ready_seconds: int = 0, generation: int = 1, deleting: bool = False,
                labels: dict[str, str] | None = None) -> apps_pb2.ReplicaSet:
    rs = apps_pb2.ReplicaSet(api_version="apps/v1", kind="ReplicaSet")
    rs.metadata.name, rs.metadata.namespace, rs.metadata.uid = "web-abc", "default", RS_UID
    rs.metadata.generation = generation
    if deleting:
        rs.metadata.deletion_timestamp = format_time(T0)
    rs.spec.replicas = replicas
    if min_ready_seconds:
        rs.spec.min_ready_seconds = min_ready_seconds
    rs.spec.selector.match_labels["app"] = "web"
    rs.spec.template.metadata.labels.update(labels or {"app": "web", "tier": "front"})
    rs.spec.template.metadata.annotations["note"] = "x"
    rs.spec.template.spec.containers.add(name="app", image="app:v1")
    rs.spec.template.spec.restart_policy = "Always"
    return rs


def pod(name: str = "p", *, node: str = "n1", phase: str = "Running", ready_at: float | None = T0 - 100,
        ready: bool | None = None, restarts: int = 0, created: float | None = T0 - 1000,
        owner: str | None = RS_UID, labels: dict[str, str] | None = None, deleting: bool = False) -> core_pb2.Pod:
    """A pod; ready when `ready_at` is given (unless ready=False), owned by the test ReplicaSet."""
    p = core_pb2.Pod(api_version="v1", kind="Pod")
    p.metadata.name, p.metadata.namespace, p.metadata.uid = name, "default", f"uid-{name}"
    p.metadata.labels.update({"app": "web", "tier": "front"} if labels is None else labels)
    if created is not None:
        p.metadata.creation_timestamp = format_time(created)
    if deleting:
        p.metadata.deletion_timestamp = format_time(T0)
    if owner is not None:
        p.metadata.owner_references.add(api_version="apps/v1", kind="ReplicaSet", name="owner", uid=owner,
                                         controller=True)
    if node:
        p.spec.node_name = node
    p.status.phase = phase
    is_ready_ = ready if ready is not None else ready_at is not None
    cond = p.status.conditions.add(type="Ready", status="True" if is_ready_ else "False")
    if ready_at is not None:
        cond.last_transition_time = format_time(ready_at)
    p.status.container_statuses.add(name="app", restart_count=restarts)
    return p


def names(pods) -> list[str]:
    return [p.metadata.name for p in pods]


# -- predicates ------------------------------------------------------------------------------------
@pytest.mark.parametrize("p, active", [
    pytest.param(pod(phase="Running"), True, id="running"),
    pytest.param(pod(phase="Pending"), True, id="pending"),
    pytest.param(pod(phase="Unknown"), True, id="unknown"),
    pytest.param(pod(phase="Succeeded"), False, id="succeeded"),
    pytest.param(pod(phase="Failed"), False, id="failed"),
    pytest.param(pod(deleting=True), False, id="being-deleted"),
])
def test_is_active(p, active):
    """A pod counts unless it terminated or is being deleted."""
    assert is_active(p) is active


@pytest.mark.parametrize("p, mrs, now, ready, available", [
    pytest.param(pod(ready_at=T0), 0, T0, True, True, id="ready-no-min-ready"),
    pytest.param(pod(ready_at=T0, ready=False), 0, T0 + 99, False, False, id="not-ready"),
    pytest.param(pod(ready_at=T0), 5, T0 + 5, True, False, id="exactly-min-ready-is-not-yet"),
    pytest.param(pod(ready_at=T0), 5, T0 + 5.5, True, True, id="past-min-ready"),
    pytest.param(pod(ready_at=None, ready=True), 5, T0 + 99, True, False, id="no-transition-time-with-min-ready"),
    pytest.param(pod(ready_at=None, ready=True), 0, T0, True, True, id="no-transition-time-no-min-ready"),
])
def test_ready_and_available(p, mrs, now, ready, available):
    """Available means ready for strictly more than minReadySeconds."""
    assert is_ready(p) is ready
    assert is_available(p, mrs, now) is available


# -- ActivePods order --------------------------------------------------------------------------------
@pytest.mark.parametrize("first, second", [
    pytest.param(pod("a", node=""), pod("b", node="n1", phase="Pending", ready_at=None), id="unassigned-before-assigned"),
    pytest.param(pod("a", phase="Pending"), pod("b", phase="Unknown"), id="pending-before-unknown"),
    pytest.param(pod("a", phase="Unknown"), pod("b", phase="Running"), id="unknown-before-running"),
    pytest.param(pod("a", ready_at=None), pod("b", ready_at=T0 - 5), id="not-ready-before-ready"),
    pytest.param(pod("a", ready_at=T0 - 5), pod("b", ready_at=T0 - 50), id="ready-shorter-before-longer"),
    pytest.param(pod("a", ready_at=None, ready=True), pod("b", ready_at=T0 - 5), id="unknown-ready-time-first"),
    pytest.param(pod("a", restarts=3), pod("b", restarts=1), id="more-restarts-first"),
    pytest.param(pod("a", created=T0 - 10), pod("b", created=T0 - 20), id="newer-before-older"),
    pytest.param(pod("a", created=None), pod("b", created=T0 - 10), id="no-creation-time-first"),
    pytest.param(pod("a", node="", ready_at=T0 - 500, created=T0 - 9999),
                 pod("b", node="n1", phase="Pending", ready_at=None, restarts=9, created=T0),
                 id="assignment-outranks-everything-after"),
    pytest.param(pod("a", ready_at=T0 - 5, restarts=0), pod("b", ready_at=T0 - 50, restarts=7),
                 id="ready-time-outranks-restarts"),
    pytest.param(pod("a"), pod("b"), id="ties-by-name"),
])
def test_deletion_order_pairs(first, second):
    """Each criterion of Kubernetes' ActivePods order, in its precedence."""
    assert names(pods_to_delete([second, first], 2)) == ["a", "b"]
    assert names(pods_to_delete([first, second], 1)) == ["a"]


def test_pods_to_delete_takes_the_first_n():
    """Asking for more than there are returns them all; asking for none returns none."""
    ps = [pod("old", created=T0 - 100), pod("new", created=T0 - 1), pod("pending", phase="Pending", ready_at=None)]
    assert names(pods_to_delete(ps, 2)) == ["pending", "new"]
    assert names(pods_to_delete(ps, 9)) == ["pending", "new", "old"]
    assert pods_to_delete(ps, 0) == []


_PHASE = {"Pending": 0, "Unknown": 1, "Running": 2}


def _after_or_zero(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None
    return a > b


def _ready_time(p) -> float | None:
    return parse_time(p.status.conditions[0].last_transition_time)


def k8s_less(a, b) -> bool:
    """Kubernetes' ActivePods.Less written out pairwise, independently of deletion_key."""
    if bool(a.spec.node_name) != bool(b.spec.node_name):
        return not a.spec.node_name
    if _PHASE.get(a.status.phase, 0) != _PHASE.get(b.status.phase, 0):
        return _PHASE.get(a.status.phase, 0) < _PHASE.get(b.status.phase, 0)
    if is_ready(a) != is_ready(b):
        return not is_ready(a)
    if is_ready(a) and is_ready(b) and _ready_time(a) != _ready_time(b):
        return _after_or_zero(_ready_time(a), _ready_time(b))
    ra, rb = a.status.container_statuses[0].restart_count, b.status.container_statuses[0].restart_count
    if ra != rb:
        return ra > rb
    ca, cb = parse_time(a.metadata.creation_timestamp), parse_time(b.metadata.creation_timestamp)
    if ca != cb:
        return _after_or_zero(ca, cb)
    return False


times = st.one_of(st.none(), st.sampled_from([T0 - 300, T0 - 200, T0 - 100]))


@st.composite
def pod_lists(draw):
    n = draw(st.integers(0, 8))
    out = []
    for i in range(n):
        ready = draw(st.booleans())
        out.append(pod(f"p{i}", node=draw(st.sampled_from(["", "n1"])),
                       phase=draw(st.sampled_from(["Pending", "Unknown", "Running", ""])),
                       ready_at=draw(times), ready=ready, restarts=draw(st.integers(0, 2)), created=draw(times)))
    return out


@given(pod_lists(), st.randoms(use_true_random=False))
def test_deletion_order_refines_kubernetes_less(pods, rnd):
    """Sorted for deletion, no pod comes after one Kubernetes would delete later, whatever the input order."""
    rnd.shuffle(pods)
    out = pods_to_delete(pods, len(pods))
    for i, a in enumerate(out):
        for b in out[i + 1:]:
            assert not k8s_less(b, a), f"{b.metadata.name} should go before {a.metadata.name}"
    # And it is a total order: the input order does not matter.
    assert names(out) == names(pods_to_delete(list(reversed(pods)), len(pods)))


# -- claim ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("p, rs_deleting, expect", [
    pytest.param(pod(), False, "owned", id="owned-and-matching"),
    pytest.param(pod(labels={"app": "api"}), False, "release", id="owned-no-longer-matching"),
    pytest.param(pod(labels={"app": "api"}), True, None, id="owned-not-matching-owner-deleting"),
    pytest.param(pod(owner=None), False, "adopt", id="orphan-matching"),
    pytest.param(pod(owner=None), True, None, id="orphan-owner-deleting"),
    pytest.param(pod(owner=None, labels={"app": "api"}), False, None, id="orphan-not-matching"),
    pytest.param(pod(owner=None, deleting=True), False, None, id="orphan-being-deleted"),
    pytest.param(pod(owner="uid-other"), False, None, id="another-controllers"),
    pytest.param(pod(owner=None, phase="Succeeded"), False, None, id="orphan-terminated"),
    pytest.param(pod(labels={"app": "api"}, phase="Failed"), False, None, id="owned-terminated-not-released"),
])
def test_claim(p, rs_deleting, expect):
    """Orphans that match are adopted, owned pods that stop matching are released, others' pods ignored."""
    owned, adopt, release = claim(replica_set(deleting=rs_deleting), [p])
    got = {"owned": owned, "adopt": adopt, "release": release}
    for key, value in got.items():
        assert names(value) == (["p"] if key == expect else []), key


def test_claim_keeps_input_order_and_ignores_non_controller_refs():
    """A non-controller ownerReference does not make a pod someone else's: it is an orphan."""
    a = pod("a", owner=None)
    a.metadata.owner_references.add(api_version="v1", kind="ConfigMap", name="c", uid="uid-cm", controller=False)
    c = claim(replica_set(), [pod("z"), a, pod("b")])
    assert names(c.owned) == ["z", "b"] and names(c.adopt) == ["a"] and c.release == []


# -- reconcile -----------------------------------------------------------------------------------------
def test_reconcile_creates_the_missing():
    """Fewer active pods than replicas: create the difference; terminated pods do not count."""
    plan = reconcile(replica_set(5), [pod("a"), pod("b", phase="Failed"), pod("c", deleting=True)], now=T0)
    assert plan.create == 4 and plan.delete == ()


def test_reconcile_deletes_surplus_in_order():
    """More active pods than replicas: delete the surplus, unscheduled and not-ready first."""
    ps = [pod("running-old", created=T0 - 900), pod("running-new", created=T0 - 10),
          pod("unscheduled", node="", phase="Pending", ready_at=None), pod("not-ready", ready_at=None)]
    plan = reconcile(replica_set(1), ps, now=T0)
    assert plan.create == 0
    assert names(plan.delete) == ["unscheduled", "not-ready", "running-new"]


@pytest.mark.parametrize("replicas, have, create, delete", [
    pytest.param(BURST_REPLICAS + 100, 0, BURST_REPLICAS, 0, id="creates-capped"),
    pytest.param(0, BURST_REPLICAS + 3, 0, BURST_REPLICAS, id="deletes-capped"),
])
def test_reconcile_burst(replicas, have, create, delete):
    """At most BURST_REPLICAS creations or deletions per sync."""
    plan = reconcile(replica_set(replicas), [pod(f"p{i}") for i in range(have)], now=T0)
    assert (plan.create, len(plan.delete)) == (create, delete)


@pytest.mark.parametrize("rs, satisfied", [
    pytest.param(replica_set(5), False, id="expectations-pending"),
    pytest.param(replica_set(5, deleting=True), True, id="replicaset-being-deleted"),
])
def test_reconcile_holds_back(rs, satisfied):
    """No creates or deletes while expectations are pending or the ReplicaSet is being deleted; status still."""
    plan = reconcile(rs, [pod("a")], now=T0, expectations_satisfied=satisfied)
    assert plan.create == 0 and plan.delete == ()
    assert plan.status is not None and plan.status.replicas == 1


def test_reconcile_status_unchanged_is_none():
    """A status already right is not written again."""
    rs = replica_set(1)
    rs.status.CopyFrom(calculate_status(rs, [pod("a")], T0))
    plan = reconcile(rs, [pod("a")], now=T0)
    assert plan == reconcile(rs, [pod("a")], now=T0)
    assert plan.status is None and plan.create == 0 and plan.delete == ()


def test_reconcile_requeues_when_a_pod_becomes_available():
    """With minReadySeconds, a ready pod not yet available asks for a re-check just after it will be."""
    rs = replica_set(2, min_ready_seconds=10)
    plan = reconcile(rs, [pod("a", ready_at=T0 - 4), pod("b", ready_at=T0 - 7), pod("c", ready_at=T0 - 60)], now=T0)
    assert plan.requeue_after == pytest.approx(3.001)
    assert reconcile(rs, [pod("c", ready_at=T0 - 60)], now=T0).requeue_after is None
    assert reconcile(replica_set(2), [pod("a", ready_at=T0)], now=T0).requeue_after is None


# -- status --------------------------------------------------------------------------------------------
def test_calculate_status_counts():
    """replicas, fullyLabeled, ready, available, observedGeneration; zero counts left unset."""
    rs = replica_set(4, min_ready_seconds=30, generation=7)
    ps = [pod("avail", ready_at=T0 - 60), pod("fresh", ready_at=T0 - 5), pod("unready", ready_at=None),
          pod("partial", labels={"app": "web"}), pod("gone", phase="Succeeded")]
    s = calculate_status(rs, ps, T0)
    assert (s.replicas, s.fully_labeled_replicas, s.ready_replicas, s.available_replicas,
            s.observed_generation) == (4, 3, 3, 2, 7)
    empty = calculate_status(replica_set(0, generation=1), [], T0)
    assert empty.HasField("replicas") and empty.replicas == 0
    assert not empty.HasField("ready_replicas") and not empty.HasField("available_replicas")
    assert not empty.HasField("fully_labeled_replicas")


def test_replica_failure_condition():
    """A create error sets ReplicaFailure/FailedCreate once; a clean round removes it."""
    rs = replica_set(3)
    s = calculate_status(rs, [pod("a")], T0, manage_error='pods "web-abc-x" is forbidden: exceeded quota')
    (cond,) = s.conditions
    assert (cond.type, cond.status, cond.reason) == ("ReplicaFailure", "True", "FailedCreate")
    assert cond.message.endswith("exceeded quota") and cond.last_transition_time == format_time(T0)
    rs.status.CopyFrom(s)
    again = calculate_status(rs, [pod("a")], T0 + 50, manage_error="other error")
    assert list(again.conditions) == list(s.conditions)        # kept as first set
    assert list(calculate_status(rs, [pod("a")], T0 + 60).conditions) == []
    surplus = calculate_status(replica_set(0), [pod("a")], T0, manage_error="boom")
    assert surplus.conditions[0].reason == "FailedDelete"


# -- pods from the template ------------------------------------------------------------------------
def test_pod_from_template():
    """generateName <rs>-, the template's labels, annotations and spec, a controller ownerReference."""
    rs = replica_set()
    rs.spec.template.metadata.finalizers.append("example.com/keep")
    p = pod_from_template(rs)
    assert p.metadata.generate_name == "web-abc-" and not p.metadata.name
    assert p.metadata.namespace == "default"
    assert dict(p.metadata.labels) == {"app": "web", "tier": "front"}
    assert dict(p.metadata.annotations) == {"note": "x"} and list(p.metadata.finalizers) == ["example.com/keep"]
    assert p.spec == rs.spec.template.spec
    assert list(p.metadata.owner_references) == [meta_pb2.OwnerReference(
        api_version="apps/v1", kind="ReplicaSet", name="web-abc", uid=RS_UID, controller=True,
        block_owner_deletion=True)]
    assert pod_from_template(rs, "custom-").metadata.generate_name == "custom-"
    p.metadata.labels["changed"] = "1"
    assert "changed" not in rs.spec.template.metadata.labels     # a copy, not a view


@pytest.mark.parametrize("count, batches", [
    pytest.param(0, [], id="none"),
    pytest.param(1, [1], id="one"),
    pytest.param(7, [1, 2, 4], id="seven"),
    pytest.param(10, [1, 2, 4, 3], id="ten"),
    pytest.param(500, [1, 2, 4, 8, 16, 32, 64, 128, 245], id="burst"),
])
def test_slow_start_batches(count, batches):
    """Creations go in doubling batches whose sizes add up to the count."""
    assert slow_start_batches(count) == batches
    assert sum(batches) == count
