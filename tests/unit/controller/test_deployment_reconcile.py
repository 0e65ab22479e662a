"""controller/deployment/reconcile.py (with status.py): one sync as a Plan, and scenarios driven
through the in-memory cluster of rollout_sim.py: the first ReplicaSet, a rollout's conditions and
messages, rollback reusing the old ReplicaSet, revision history, pause and resume, the progress
deadline, Recreate, proportional scaling mid-rollout (Kubernetes' documented example), collisions."""
from __future__ import annotations

import pytest

from controller.deployment import annotations as ann
from controller.deployment import status as st
from controller.deployment.reconcile import Event, claim_replica_sets, on_already_exists, reconcile
from controller.deployment.revision import new_replica_set, pod_template_hash
from client.times import format_time, parse_time
from skiffpb.k8s.apps.v1 import apps_pb2
from tests.unit.controller.rollout_sim import T0, Cluster, deployment

pytestmark = pytest.mark.timeout(60)


def conditions(status: apps_pb2.DeploymentStatus) -> dict[str, tuple[str, str, str]]:
    return {c.type: (c.status, c.reason, c.message) for c in status.conditions}


def rs_name(c: Cluster, image: str) -> str:
    (name,) = [n for n, r in c.rss.items() if r.spec.template.spec.containers[0].image == image]
    return name


def step(c: Cluster, ready_images: tuple[str, ...] | None = None, seconds: float = 1) -> None:
    """One round: the Deployment controller, the ReplicaSet controllers, the kubelet (pods of
    `ready_images` only, default all), time."""
    c.sync_deployment()
    c.sync_replica_sets()
    c.kubelet(n for n in c.not_ready()
              if ready_images is None or c.pods[n].spec.containers[0].image in ready_images)
    c.tick(seconds)
    c.sync_replica_sets()


# -- one sync -------------------------------------------------------------------------------------------
def test_first_sync_creates_the_replica_set():
    """A new Deployment: create `web-<hash>` with all replicas, revision 1, NewReplicaSetCreated."""
    d = deployment(replicas=3)
    before = d.SerializeToString()
    plan = reconcile(d, [], [], now=T0)
    name = f"web-{pod_template_hash(d.spec.template)}"
    assert plan.create is not None and plan.create.metadata.name == name
    assert plan.create.spec.replicas == 3
    assert plan.update == () and plan.delete == () and plan.revision == "1"
    assert plan.events == (Event("Normal", "ScalingReplicaSet", f"Scaled up replica set {name} to 3"),)
    assert plan.status.observed_generation == 1
    assert [c.type for c in plan.status.conditions] == ["Progressing", "Available"]
    assert conditions(plan.status) == {
        "Progressing": ("True", "NewReplicaSetCreated", f'Created new replica set "{name}"'),
        "Available": ("False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability."),
    }
    assert all(c.last_update_time == format_time(T0) for c in plan.status.conditions)
    assert d.SerializeToString() == before          # the input is not touched


def test_steady_state_writes_nothing():
    """A settled Deployment: a sync plans nothing at all."""
    c = Cluster(deployment(replicas=4))
    c.settle()
    plan = reconcile(c.d, list(c.rss.values()), list(c.pods.values()), now=c.now + 60)
    assert plan == type(plan)()


def test_status_counts():
    """A settled Deployment reports every count and both conditions as Kubernetes does."""
    c = Cluster(deployment(replicas=4))
    c.settle()
    s = c.d.status
    assert (s.observed_generation, s.replicas, s.updated_replicas, s.ready_replicas, s.available_replicas) == (1, 4, 4, 4, 4)
    assert not s.HasField("unavailable_replicas") and not s.HasField("collision_count")
    name = rs_name(c, "app:v1")
    assert conditions(s) == {
        "Available": ("True", "MinimumReplicasAvailable", "Deployment has minimum availability."),
        "Progressing": ("True", "NewReplicaSetAvailable", f'ReplicaSet "{name}" has successfully progressed.'),
    }
    assert c.d.metadata.annotations[ann.REVISION] == "1"


def test_empty_selector_selects_all():
    """A Deployment selecting everything is refused with a Warning; only the generation is observed."""
    d = deployment()
    d.spec.selector.Clear()
    d.metadata.generation = 4
    plan = reconcile(d, [], [], now=T0)
    assert plan.create is None and plan.update == () and plan.status.observed_generation == 4
    assert plan.events == (Event("Warning", "SelectingAll",
                                 "This deployment is selecting all pods. A non-empty selector is required."),)


def test_being_deleted_only_updates_status():
    """A Deployment being deleted gets no new ReplicaSet, only its status."""
    d = deployment()
    d.metadata.deletion_timestamp = format_time(T0)
    plan = reconcile(d, [], [], now=T0)
    assert plan.create is None and plan.update == () and plan.status is not None


def test_claim_replica_sets():
    """The Deployment adopts matching orphan ReplicaSets and ignores others'."""
    d = deployment()
    mine = new_replica_set(d, revision=1, replicas=1)
    orphan = apps_pb2.ReplicaSet()
    orphan.CopyFrom(mine)
    del orphan.metadata.owner_references[:]
    stranger = apps_pb2.ReplicaSet()
    stranger.CopyFrom(mine)
    stranger.metadata.owner_references[0].uid = "uid-other"
    owned, adopt, release = claim_replica_sets(d, [mine, orphan, stranger])
    assert (owned, adopt, release) == ([mine], [orphan], [])


# -- rollouts -------------------------------------------------------------------------------------------
def test_rollout_conditions():
    """Through a rollout, Progressing moves NewReplicaSetCreated -> ReplicaSetUpdated -> NewReplicaSetAvailable."""
    c = Cluster(deployment(replicas=4))
    c.settle()
    c.set_image("app:v2")
    c.sync_deployment()
    new = rs_name(c, "app:v2")
    assert conditions(c.d.status)["Progressing"] == ("True", "NewReplicaSetCreated", f'Created new replica set "{new}"')
    seen = set()
    for _ in range(20):
        step(c)
        seen.add(conditions(c.d.status)["Progressing"][1])
    assert "ReplicaSetUpdated" in seen
    assert conditions(c.d.status)["Progressing"] == (
        "True", "NewReplicaSetAvailable", f'ReplicaSet "{new}" has successfully progressed.')
    assert c.images() == {"app:v2": 4} and c.d.metadata.annotations[ann.REVISION] == "2"
    assert c.d.status.observed_generation == 2
    progressing = st.get_condition(c.d.status, "Progressing")
    assert progressing.last_transition_time == format_time(T0)     # True all along: transition kept


def test_rollback_reuses_the_old_replica_set():
    """v1 -> v2 -> v1 again: the v1 ReplicaSet comes back as revision 3, remembering revision 1."""
    c = Cluster(deployment(replicas=3))
    c.annotate(ann.CHANGE_CAUSE, "create v1")
    c.settle()
    v1 = rs_name(c, "app:v1")
    c.set_image("app:v2")
    c.annotate(ann.CHANGE_CAUSE, "set image v2")
    c.settle()
    v2 = rs_name(c, "app:v2")
    c.set_image("app:v1")
    c.annotate(ann.CHANGE_CAUSE, "undo to v1")
    c.settle()
    assert sorted(c.rss) == sorted([v1, v2])                       # no third ReplicaSet
    assert rs_name(c, "app:v1") == v1 and c.images() == {"app:v1": 3}
    a1, a2 = c.rss[v1].metadata.annotations, c.rss[v2].metadata.annotations
    assert (a1[ann.REVISION], a1[ann.REVISION_HISTORY], a1[ann.CHANGE_CAUSE]) == ("3", "1", "undo to v1")
    assert (a2[ann.REVISION], a2[ann.CHANGE_CAUSE]) == ("2", "set image v2")
    assert c.d.metadata.annotations[ann.REVISION] == "3"


def test_revision_history_limit():
    """Only revisionHistoryLimit old ReplicaSets stay; the lowest revisions go first."""
    c = Cluster(deployment(replicas=2, revision_history_limit=2))
    for v in range(1, 6):
        c.set_image(f"app:v{v}")
        c.settle()
    revisions = sorted(int(r.metadata.annotations[ann.REVISION]) for r in c.rss.values())
    assert revisions == [3, 4, 5]
    assert len(c.deleted_rss) == 2 and c.images() == {"app:v5": 2}


def test_change_of_min_ready_seconds_reaches_the_replica_set():
    """The new ReplicaSet follows the Deployment's minReadySeconds without a new rollout."""
    c = Cluster(deployment(replicas=2))
    c.settle()
    c.d.spec.min_ready_seconds = 7
    plan = c.sync_deployment()
    (update,) = plan.update
    assert update.spec.min_ready_seconds == 7 and plan.create is None


# -- pause and deadline ---------------------------------------------------------------------------------
def test_pause_holds_the_rollout_but_not_scaling():
    """Paused: a new template waits, a new replica count applies; resumed: the rollout goes on."""
    c = Cluster(deployment(replicas=3))
    c.settle()
    c.set_paused(True)
    c.set_image("app:v2")
    plan = c.sync_deployment()
    assert plan.create is None and plan.update == ()
    assert conditions(c.d.status)["Progressing"] == ("Unknown", "DeploymentPaused", "Deployment is paused")
    c.set_replicas(5)
    c.settle()
    assert c.images() == {"app:v1": 5} and c.d.status.replicas == 5
    c.set_paused(False)
    c.settle()
    assert c.images() == {"app:v2": 5}
    assert conditions(c.d.status)["Progressing"][1] == "NewReplicaSetAvailable"


@pytest.mark.parametrize("paused, reason_before, expect", [
    pytest.param(True, None, ("Unknown", "DeploymentPaused", "Deployment is paused"), id="pause"),
    pytest.param(False, "DeploymentPaused", ("Unknown", "DeploymentResumed", "Deployment is resumed"), id="resume"),
    pytest.param(True, "DeploymentPaused", None, id="still-paused"),
    pytest.param(True, "ProgressDeadlineExceeded", None, id="timed-out-stays"),
    pytest.param(False, "NewReplicaSetAvailable", None, id="not-paused"),
])
def test_paused_condition(paused, reason_before, expect):
    """Pause and resume are recorded on the Progressing condition, never over a timeout."""
    d = deployment()
    d.spec.paused = paused
    if reason_before:
        d.status.conditions.add(type="Progressing", status="Unknown", reason=reason_before)
    cond = st.paused_condition(d, T0)
    assert (None if cond is None else (cond.status, cond.reason, cond.message)) == expect


def test_progress_deadline():
    """A rollout that stops progressing for progressDeadlineSeconds reports ProgressDeadlineExceeded."""
    c = Cluster(deployment(replicas=2, progress_deadline_seconds=30))
    c.settle()
    c.set_image("app:v2")
    for _ in range(3):
        step(c, ready_images=("app:v1",))
    new = rs_name(c, "app:v2")
    last = st.get_condition(c.d.status, "Progressing")
    assert last.reason in ("ReplicaSetUpdated", "NewReplicaSetCreated")
    plan = c.sync_deployment()
    deadline = parse_time(last.last_update_time) + 30
    assert plan.requeue_after == pytest.approx(deadline - c.now + 0.001)
    c.now = deadline                                 # at the deadline: not yet
    c.sync_deployment()
    assert conditions(c.d.status)["Progressing"][1] != "ProgressDeadlineExceeded"
    c.now = deadline + 0.5
    plan = c.sync_deployment()
    assert conditions(c.d.status)["Progressing"] == (
        "False", "ProgressDeadlineExceeded", f'ReplicaSet "{new}" has timed out progressing.')
    assert plan.requeue_after is None
    c.now += 100                                     # stays timed out (lastUpdateTime unchanged)
    c.sync_deployment()
    assert st.get_condition(c.d.status, "Progressing").last_update_time == format_time(deadline + 0.5)
    c.settle()                                       # the pods come up: progress again, then done
    assert conditions(c.d.status)["Progressing"][1] == "NewReplicaSetAvailable"


def test_no_deadline_no_progressing_condition():
    """Without progressDeadlineSeconds there is no Progressing condition at all."""
    c = Cluster(deployment(replicas=2, progress_deadline_seconds=None))
    c.settle()
    assert list(conditions(c.d.status)) == ["Available"]


# -- Recreate --------------------------------------------------------------------------------------------
def test_recreate():
    """Recreate: old ReplicaSets to 0, then (their pods gone) the new one at full size."""
    c = Cluster(deployment(replicas=3, strategy="Recreate"))
    c.settle()
    c.set_image("app:v2")
    plan = c.sync_deployment()
    assert plan.create is None and [(u.spec.replicas) for u in plan.update] == [0]
    assert c.sync_deployment().create is None        # old ReplicaSet's status still counts 3 pods
    c.sync_replica_sets()                            # deletes the pods (status computed before)
    assert c.sync_deployment().create is None
    c.sync_replica_sets()                            # status: 0 pods
    plan = c.sync_deployment()
    assert plan.create is not None and plan.create.spec.replicas == 3
    c.settle()
    assert c.images() == {"app:v2": 3}


# -- scaling mid-rollout ---------------------------------------------------------------------------------
def test_proportional_scaling_kubernetes_docs_example():
    """Kubernetes' docs: 10 replicas, maxSurge 3, maxUnavailable 2, an image that never gets ready;
    the rollout stops at 8 old + 5 new; scaled to 15, the old gets 3 more and the new 2 more."""
    c = Cluster(deployment(replicas=10, max_surge=3, max_unavailable=2))
    c.settle()
    c.set_image("app:sometag")
    for _ in range(6):
        step(c, ready_images=("app:v1",))
    assert c.rs_sizes() == {"app:v1": 8, "app:sometag": 5}
    c.set_replicas(15)
    for _ in range(3):
        step(c, ready_images=("app:v1",))
    assert c.rs_sizes() == {"app:v1": 11, "app:sometag": 7}
    assert c.images() == {"app:v1": 11, "app:sometag": 7}
    for r in c.rss.values():
        assert (r.metadata.annotations[ann.DESIRED_REPLICAS], r.metadata.annotations[ann.MAX_REPLICAS]) == ("15", "18")


# -- collisions ------------------------------------------------------------------------------------------
def test_hash_collision_with_own_replica_set():
    """Our own ReplicaSet holds the new name with another template: collisionCount + 1, then a new name."""
    d = deployment()
    squatter = new_replica_set(d, revision=1, replicas=0)
    squatter.spec.template.spec.containers[0].image = "something-else"
    squatter.metadata.uid = "uid-squatter"
    plan = reconcile(d, [squatter], [], now=T0)
    assert plan.create is None and plan.status.collision_count == 1 and plan.requeue_after == 0.0
    d.status.CopyFrom(plan.status)
    plan = reconcile(d, [squatter], [], now=T0)
    assert plan.create.metadata.name == f"web-{pod_template_hash(d.spec.template, 1)}"
    assert plan.status.collision_count == 1


def test_on_already_exists():
    """A name taken by our own up-to-date ReplicaSet is a lagging cache; anything else a collision."""
    d = deployment()
    ours = new_replica_set(d, revision=1, replicas=0)
    assert on_already_exists(d, ours) is None
    other = apps_pb2.ReplicaSet()
    other.CopyFrom(ours)
    other.metadata.owner_references[0].uid = "uid-someone"
    assert on_already_exists(d, other).collision_count == 1
    d.status.collision_count = 4
    ours.spec.template.spec.containers[0].image = "x"
    assert on_already_exists(d, ours).collision_count == 5


def test_replica_failure_reaches_the_deployment():
    """A ReplicaSet's ReplicaFailure condition shows on the Deployment, and goes when it goes."""
    c = Cluster(deployment(replicas=2))
    c.settle()
    (r,) = c.rss.values()
    r.status.conditions.add(type="ReplicaFailure", status="True", reason="FailedCreate",
                            message="exceeded quota", last_transition_time=format_time(T0 + 5))
    c.sync_deployment()
    assert conditions(c.d.status)["ReplicaFailure"] == ("True", "FailedCreate", "exceeded quota")
    assert st.get_condition(c.d.status, "ReplicaFailure").last_update_time == format_time(T0 + 5)
    del r.status.conditions[:]
    c.sync_deployment()
    assert "ReplicaFailure" not in conditions(c.d.status)


def test_plans_never_touch_their_inputs():
    """Through a whole rollout, reconcile leaves the Deployment, ReplicaSets and pods it was given as they were."""
    c = Cluster(deployment(replicas=4, max_surge=1, max_unavailable=1))
    c.settle()
    c.set_image("app:v2")
    for _ in range(12):
        before = c.snapshot(), [p.SerializeToString(deterministic=True) for p in c.pods.values()]
        reconcile(c.d, list(c.rss.values()), list(c.pods.values()), now=c.now)
        assert (c.snapshot(), [p.SerializeToString(deterministic=True) for p in c.pods.values()]) == before
        step(c)
