"""controller/ownership.py: controller references and the copies that adopt or release an object
(claiming itself is exercised per kind in test_replicaset_reconcile.py and test_deployment_reconcile.py)."""
from __future__ import annotations

import pytest

from client.selectors import selector_from_set
from controller.ownership import adopted, claim, controller_of, owner_reference, released
from skiffpb.k8s.apps.v1 import apps_pb2
from skiffpb.k8s.core.v1 import core_pb2
from skiffpb.k8s.meta.v1 import meta_pb2

pytestmark = pytest.mark.timeout(60)


def owner() -> apps_pb2.ReplicaSet:
    rs = apps_pb2.ReplicaSet()
    rs.metadata.name, rs.metadata.uid = "web-abc", "uid-rs"
    return rs


def test_owner_reference():
    """A controller reference that blocks foreground deletion of the owner."""
    assert owner_reference(owner(), kind="ReplicaSet") == meta_pb2.OwnerReference(
        api_version="apps/v1", kind="ReplicaSet", name="web-abc", uid="uid-rs", controller=True,
        block_owner_deletion=True)


def test_adopted_and_released_are_copies():
    """Adoption adds (or replaces) our reference, release removes it; the original is untouched."""
    pod = core_pb2.Pod()
    pod.metadata.owner_references.add(uid="uid-cm", kind="ConfigMap", controller=False)
    ref = owner_reference(owner(), kind="ReplicaSet")
    mine = adopted(pod, ref)
    assert [r.uid for r in mine.metadata.owner_references] == ["uid-cm", "uid-rs"]
    assert controller_of(mine) == ref and controller_of(pod) is None
    assert [r.uid for r in adopted(mine, ref).metadata.owner_references] == ["uid-cm", "uid-rs"]
    free = released(mine, "uid-rs")
    assert [r.uid for r in free.metadata.owner_references] == ["uid-cm"]
    assert len(mine.metadata.owner_references) == 2 and len(pod.metadata.owner_references) == 1


def test_claim_generic_owned_even_while_owner_is_deleted():
    """An owned, matching object stays owned while its owner is being deleted (only adoption and release stop)."""
    rs = owner()
    rs.metadata.deletion_timestamp = "2027-01-15T08:00:00Z"
    pod = core_pb2.Pod()
    pod.metadata.labels["app"] = "web"
    pod.metadata.owner_references.append(owner_reference(owner(), kind="ReplicaSet"))
    c = claim(rs, selector_from_set({"app": "web"}), [pod])
    assert (c.owned, c.adopt, c.release) == ([pod], [], [])
