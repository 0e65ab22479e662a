"""controller/deployment/revision.py: the pod-template-hash (pinned values: stable across runs and
machines), template equality ignoring the hash label, new and old ReplicaSets, revisions and their
history, the ReplicaSet a Deployment creates, and revisionHistoryLimit."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from controller.deployment import annotations as ann
from controller.deployment.revision import (
    HASH_ALPHABET, equal_ignore_hash, find_new_replica_set, find_old_replica_sets, history_to_delete,
    max_revision, new_replica_set, pod_template_hash, revision, sync_new_rs_annotations,
)
from client.times import format_time
from skiffpb.k8s.apps.v1 import apps_pb2
from skiffpb.k8s.core.v1 import core_pb2
from tests.unit.controller.rollout_sim import T0, deployment

pytestmark = pytest.mark.timeout(60)


def template(image: str = "app:v1", **labels: str) -> core_pb2.PodTemplateSpec:
    t = core_pb2.PodTemplateSpec()
    t.metadata.labels.update({"app": "web", **labels})
    t.spec.containers.add(name="app", image=image)
    return t


def rs_for(d: apps_pb2.Deployment, name: str, image: str, *, rev: int | None, age: int = 0, replicas: int = 0,
           status_replicas: int | None = None, generation: int = 1, observed: int = 1) -> apps_pb2.ReplicaSet:
    r = apps_pb2.ReplicaSet()
    r.metadata.name, r.metadata.uid = name, f"uid-{name}"
    r.metadata.creation_timestamp = format_time(T0 - age)
    r.metadata.generation = generation
    if rev is not None:
        r.metadata.annotations[ann.REVISION] = str(rev)
    r.spec.replicas = replicas
    r.spec.template.CopyFrom(d.spec.template)
    r.spec.template.spec.containers[0].image = image
    r.spec.template.metadata.labels[ann.POD_TEMPLATE_HASH] = name.rsplit("-", 1)[-1]
    r.status.replicas = replicas if status_replicas is None else status_replicas
    r.status.observed_generation = observed
    return r


# -- hash ------------------------------------------------------------------------------------------------
def test_hash_pinned():
    """The hash of a fixed template is a fixed string: ReplicaSet names survive restarts and upgrades."""
    t = deployment().spec.template
    assert pod_template_hash(t) == "596f749564"
    assert pod_template_hash(t, 0) == "7cdd6f49f6"      # a collision count, even 0, changes it
    assert pod_template_hash(t, 1) == "d7d844749"


def test_hash_stable_across_processes():
    """A fresh interpreter with another hash seed computes the same value (no use of hash())."""
    code = ("from tests.unit.controller.rollout_sim import deployment;"
            "from controller.deployment.revision import pod_template_hash;"
            "print(pod_template_hash(deployment().spec.template, 3))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30,
                         env={"PYTHONHASHSEED": "12345"}, cwd=Path(__file__).parents[3])
    assert out.stdout.strip() == pod_template_hash(deployment().spec.template, 3)


def test_hash_ignores_its_own_label_and_sees_everything_else():
    """The pod-template-hash label does not change the hash; any other change does."""
    base = template()
    assert pod_template_hash(template(**{ann.POD_TEMPLATE_HASH: "abc"})) == pod_template_hash(base)
    assert pod_template_hash(template("app:v2")) != pod_template_hash(base)
    assert pod_template_hash(template(tier="x")) != pod_template_hash(base)


@given(st.text(max_size=20), st.dictionaries(st.text("abc", min_size=1, max_size=3), st.text(max_size=3), max_size=4),
       st.one_of(st.none(), st.integers(0, 2 ** 31 - 1)))
def test_hash_shape(image, labels, collision):
    """Always 1-10 characters of the safe alphabet, and the same for equal inputs."""
    t = template(image, **labels)
    h = pod_template_hash(t, collision)
    assert 1 <= len(h) <= 10 and set(h) <= set(HASH_ALPHABET)
    same = core_pb2.PodTemplateSpec()
    same.ParseFromString(t.SerializeToString())
    assert pod_template_hash(same, collision) == h


@pytest.mark.parametrize("a, b, equal", [
    pytest.param(template(), template(), True, id="same"),
    pytest.param(template(**{ann.POD_TEMPLATE_HASH: "x"}), template(**{ann.POD_TEMPLATE_HASH: "y"}), True,
                 id="hash-labels-differ"),
    pytest.param(template(**{ann.POD_TEMPLATE_HASH: "x"}), template(), True, id="hash-label-only-one-side"),
    pytest.param(template("app:v1"), template("app:v2"), False, id="image-differs"),
    pytest.param(template(tier="a"), template(), False, id="other-label"),
])
def test_equal_ignore_hash(a, b, equal):
    """Templates compare equal but for the pod-template-hash label."""
    assert equal_ignore_hash(a, b) is equal


def test_equal_ignore_hash_empty_metadata():
    """A template whose only label was the hash equals one without metadata."""
    a = core_pb2.PodTemplateSpec()
    a.metadata.labels[ann.POD_TEMPLATE_HASH] = "x"
    assert equal_ignore_hash(a, core_pb2.PodTemplateSpec())
    assert pod_template_hash(a) == pod_template_hash(core_pb2.PodTemplateSpec())


# -- new, old, revisions ---------------------------------------------------------------------------------
def test_find_new_and_old():
    """The new ReplicaSet is the (oldest) one with the Deployment's template; the rest are old."""
    d = deployment(image="app:v2")
    v1 = rs_for(d, "web-1", "app:v1", rev=1, age=300, replicas=2)
    v2 = rs_for(d, "web-2", "app:v2", rev=2, age=200, replicas=1)
    v2_dup = rs_for(d, "web-3", "app:v2", rev=3, age=100)
    v0 = rs_for(d, "web-0", "app:v0", rev=0, age=400)
    assert find_new_replica_set(d, [v2_dup, v1, v2, v0]).metadata.name == "web-2"
    with_pods, all_old = find_old_replica_sets(d, [v2_dup, v1, v2, v0])
    assert [r.metadata.name for r in with_pods] == ["web-1"]
    assert [r.metadata.name for r in all_old] == ["web-3", "web-1", "web-0"]
    assert find_new_replica_set(deployment(image="app:v9"), [v1, v2]) is None


@pytest.mark.parametrize("value, expect", [
    pytest.param("7", 7, id="number"),
    pytest.param(None, 0, id="absent"),
    pytest.param("x", 0, id="garbage"),
    pytest.param(" 7", 0, id="spaces-not-accepted"),
])
def test_revision(value, expect):
    """The revision annotation as Go's ParseInt reads it; anything else is 0."""
    r = apps_pb2.ReplicaSet()
    if value is not None:
        r.metadata.annotations[ann.REVISION] = value
    assert revision(r) == expect


def test_max_revision():
    d = deployment()
    assert max_revision([]) == 0
    assert max_revision([rs_for(d, "a-1", "x", rev=3), rs_for(d, "a-2", "y", rev=11), rs_for(d, "a-3", "z", rev=None)]) == 11


def test_new_replica_set():
    """`<deployment>-<hash>`: hash label on template, selector and the ReplicaSet; owner, annotations."""
    d = deployment(replicas=4, min_ready_seconds=5, max_surge=1)
    d.metadata.annotations[ann.CHANGE_CAUSE] = "kubectl set image deployment/web app=app:v1 --record=true"
    d.metadata.annotations[ann.LAST_APPLIED] = "{...}"
    d.metadata.annotations[ann.REVISION] = "6"
    r = new_replica_set(d, revision=7, replicas=2)
    h = pod_template_hash(d.spec.template)
    assert r.metadata.name == f"web-{h}" and r.metadata.namespace == "default"
    assert dict(r.metadata.labels) == {"app": "web", ann.POD_TEMPLATE_HASH: h}
    assert dict(r.spec.selector.match_labels) == {"app": "web", ann.POD_TEMPLATE_HASH: h}
    assert r.spec.template.metadata.labels[ann.POD_TEMPLATE_HASH] == h
    assert equal_ignore_hash(r.spec.template, d.spec.template)
    assert (r.spec.replicas, r.spec.min_ready_seconds) == (2, 5)
    (ref,) = r.metadata.owner_references
    assert (ref.api_version, ref.kind, ref.name, ref.uid, ref.controller, ref.block_owner_deletion) == (
        "apps/v1", "Deployment", "web", "uid-web", True, True)
    assert dict(r.metadata.annotations) == {
        ann.REVISION: "7", ann.CHANGE_CAUSE: d.metadata.annotations[ann.CHANGE_CAUSE],
        ann.DESIRED_REPLICAS: "4", ann.MAX_REPLICAS: "5"}
    assert "pod-template-hash" not in d.spec.template.metadata.labels      # the Deployment is untouched


def test_new_replica_set_collision_count():
    """With a collisionCount the hash, and so the name, changes."""
    d = deployment()
    d.status.collision_count = 1
    assert new_replica_set(d, revision=1, replicas=0).metadata.name == f"web-{pod_template_hash(d.spec.template, 1)}"


@pytest.mark.parametrize("before, new_revision, after, history", [
    pytest.param(None, 1, "1", None, id="first"),
    pytest.param("2", 5, "5", "2", id="rollback-records-history"),
    pytest.param("5", 3, "5", None, id="never-down"),
    pytest.param("5", 5, "5", None, id="unchanged"),
])
def test_sync_new_rs_annotations_revision(before, new_revision, after, history):
    """The new ReplicaSet's revision only moves up; a reused one remembers its old revisions."""
    d = deployment()
    r = rs_for(d, "web-1", "app:v1", rev=None)
    if before is not None:
        r.metadata.annotations[ann.REVISION] = before
    sync_new_rs_annotations(d, r, new_revision, exists=True)
    assert r.metadata.annotations[ann.REVISION] == after
    assert r.metadata.annotations.get(ann.REVISION_HISTORY) == history


def test_revision_history_appends_and_truncates():
    """History grows `1,3,...` and drops its oldest entries past the character limit."""
    d = deployment()
    r = rs_for(d, "web-1", "app:v1", rev=1)
    for new in (3, 5, 7):
        assert sync_new_rs_annotations(d, r, new, exists=True)
    assert r.metadata.annotations[ann.REVISION_HISTORY] == "1,3,5"
    limited = apps_pb2.ReplicaSet()
    limited.CopyFrom(r)
    sync_new_rs_annotations(d, r, 9, exists=True, max_history_chars=5)
    assert r.metadata.annotations[ann.REVISION_HISTORY] == "3,5,7"
    sync_new_rs_annotations(d, limited, 9, exists=True, max_history_chars=4)
    assert limited.metadata.annotations[ann.REVISION_HISTORY] == "5,7"


def test_change_cause_follows_each_revision():
    """Deployment annotations are copied (added or overwritten, never removed); controller ones are not."""
    d = deployment()
    d.metadata.annotations[ann.CHANGE_CAUSE] = "v2"
    d.metadata.annotations[ann.DESIRED_REPLICAS] = "99"
    r = rs_for(d, "web-1", "app:v1", rev=1)
    r.metadata.annotations["keep"] = "me"
    assert sync_new_rs_annotations(d, r, 1, exists=True)
    assert dict(r.metadata.annotations) == {ann.REVISION: "1", ann.CHANGE_CAUSE: "v2", "keep": "me"}
    assert not sync_new_rs_annotations(d, r, 1, exists=True)


# -- history ---------------------------------------------------------------------------------------------
def test_history_to_delete():
    """Beyond revisionHistoryLimit, the lowest revisions go, if empty and caught up."""
    d = deployment(revision_history_limit=2)
    old = [rs_for(d, "web-a", "a", rev=1, age=500), rs_for(d, "web-b", "b", rev=2, age=400),
           rs_for(d, "web-c", "c", rev=3, age=300, replicas=1), rs_for(d, "web-d", "d", rev=4, age=200),
           rs_for(d, "web-e", "e", rev=5, age=100)]
    assert [r.metadata.name for r in history_to_delete(d, old)] == ["web-a", "web-b"]
    d.spec.revision_history_limit = 1     # web-c has replicas: kept though beyond the limit
    assert [r.metadata.name for r in history_to_delete(d, old)] == ["web-a", "web-b", "web-d"]
    d.spec.revision_history_limit = 0
    old.append(rs_for(d, "web-f", "f", rev=6, status_replicas=2))                    # pods not gone yet
    old.append(rs_for(d, "web-g", "g", rev=7, generation=3, observed=2))           # status behind
    assert [r.metadata.name for r in history_to_delete(d, old)] == ["web-a", "web-b", "web-d", "web-e"]
    d.ClearField("spec")
    assert history_to_delete(d, old) == []                                         # no limit: keep all


def test_history_skips_replica_sets_being_deleted():
    """A ReplicaSet already being deleted neither counts toward the limit nor is deleted again."""
    d = deployment(revision_history_limit=1)
    a, b = rs_for(d, "web-a", "a", rev=1), rs_for(d, "web-b", "b", rev=2)
    a.metadata.deletion_timestamp = format_time(T0)
    assert history_to_delete(d, [a, b]) == []
