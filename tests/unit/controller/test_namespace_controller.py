"""controller/namespace: the plan for a terminating namespace, Kubernetes' deletion conditions and the
shell against client/fake.py (empties the namespace, waits for what is held, then finalizes it)."""
from __future__ import annotations

import pytest

from client.fake import FakeApi
from controller.namespace import make
from controller.namespace.reconcile import (
    CONDITION_TYPES, FINALIZER, finalized, is_terminating, reconcile, status_conditions,
)
from client.times import format_time
from skiffpb.k8s.core.v1 import core_pb2
from tests.unit.controller.shellkit import eventually, running, settled

pytestmark = pytest.mark.timeout(60)

T0 = 1_800_000_000.0


def namespace(name="doomed", deleting=True, finalizers=(FINALIZER,)) -> core_pb2.Namespace:
    ns = core_pb2.Namespace(api_version="v1", kind="Namespace")
    ns.metadata.name = name
    ns.spec.finalizers.extend(finalizers)
    if deleting:
        ns.metadata.deletion_timestamp = format_time(T0)
        ns.status.phase = "Terminating"
    return ns


def obj(cls, name, ns="doomed", deleting=False, grace=None, finalizers=()):
    o = cls()
    o.metadata.name, o.metadata.namespace, o.metadata.uid = name, ns, f"uid-{name}"
    if deleting:
        o.metadata.deletion_timestamp = format_time(T0 + 30)
    if grace is not None:
        o.metadata.deletion_grace_period_seconds = grace
    o.metadata.finalizers.extend(finalizers)
    return o


def test_only_a_terminating_namespace_with_our_finalizer_is_worked_on():
    """Active namespaces and ones whose `kubernetes` finalizer is gone are left alone."""
    contents = {"pods": [obj(core_pb2.Pod, "p")]}
    assert reconcile(namespace(deleting=False), contents, now=T0).delete == ()
    assert reconcile(namespace(finalizers=()), contents, now=T0).delete == ()
    assert not is_terminating(namespace(finalizers=())) and is_terminating(namespace())


def test_plan_deletes_what_is_not_being_deleted_and_waits_for_the_rest():
    """Everything not yet being deleted is deleted; pods in their grace period are waited for."""
    contents = {"pods": [obj(core_pb2.Pod, "p1"), obj(core_pb2.Pod, "p2", deleting=True, grace=30)],
                "configmaps": [obj(core_pb2.ConfigMap, "c1")], "services": []}
    plan = reconcile(namespace(), contents, now=T0)
    assert [(r, o.metadata.name) for r, o in plan.delete] == [("configmaps", "c1"), ("pods", "p1")]
    assert not plan.finalize and plan.requeue_after == 16.0       # half the grace, plus a second
    plan = reconcile(namespace(), {"pods": [], "configmaps": []}, now=T0)
    assert plan.finalize and plan.delete == ()


def test_conditions_as_kubernetes_writes_them():
    """All five conditions; remaining content and finalizers are counted; unchanged conditions are not rewritten."""
    ns = namespace()
    contents = {"pods": [obj(core_pb2.Pod, "p", deleting=True)],
                "configmaps": [obj(core_pb2.ConfigMap, "a", finalizers=["orphan"]), obj(core_pb2.ConfigMap, "b")],
                "deployments": []}
    conds = status_conditions(ns, contents, now=T0)
    by_type = {c.type: (c.status, c.reason, c.message) for c in conds}
    assert [c.type for c in conds] == list(CONDITION_TYPES)
    assert by_type["NamespaceContentRemaining"] == (
        "True", "SomeResourcesRemain",
        "Some resources are remaining: configmaps has 2 resource instances, pods has 1 resource instances")
    assert by_type["NamespaceFinalizersRemaining"] == (
        "True", "SomeFinalizersRemain", "Some content in the namespace has finalizers remaining: orphan in 1 resource instances")
    assert by_type["NamespaceDeletionContentFailure"] == (
        "False", "ContentDeleted", "All content successfully deleted, may be waiting on finalization")
    assert by_type["NamespaceDeletionDiscoveryFailure"][:2] == ("False", "ResourcesDiscovered")
    ns.status.conditions.extend(conds)
    assert status_conditions(ns, contents, now=T0 + 5) is None
    failed = status_conditions(ns, contents, ["pods p: boom"], now=T0 + 5)
    fc = next(c for c in failed if c.type == "NamespaceDeletionContentFailure")
    assert (fc.status, fc.reason, fc.message) == ("True", "ContentDeletionFailed",
                                                  "Failed to delete all resource types, 1 remaining: pods p: boom")
    assert fc.last_transition_time == format_time(T0 + 5)
    kept = next(c for c in failed if c.type == "NamespaceContentRemaining")
    assert kept.last_transition_time == format_time(T0)           # unchanged: its time stays
    empty = {c.type: c.reason for c in status_conditions(ns, {}, now=T0 + 9)}
    assert empty["NamespaceContentRemaining"] == "ContentRemoved"
    assert empty["NamespaceFinalizersRemaining"] == "ContentHasNoFinalizers"


def test_finalized_is_a_copy_without_our_finalizer():
    """Only `kubernetes` is removed from spec.finalizers, on a copy."""
    ns = namespace(finalizers=(FINALIZER, "example.com/other"))
    assert list(finalized(ns).spec.finalizers) == ["example.com/other"]
    assert list(ns.spec.finalizers) == [FINALIZER, "example.com/other"]


# -- the shell against the fake API ---------------------------------------------------------------------

async def test_shell_empties_then_finalizes_the_namespace():
    """Everything in a deleted namespace is deleted; held content is waited for; then the namespace goes."""
    api = FakeApi()
    await api.create(namespace("doomed", deleting=False))
    await api.create(namespace("kept", deleting=False))
    for i in range(3):
        await api.create(obj(core_pb2.Pod, f"p{i}"))
    await api.create(obj(core_pb2.Service, "svc"))
    await api.create(obj(core_pb2.ConfigMap, "held", finalizers=["example.com/hold"]))
    await api.create(obj(core_pb2.ConfigMap, "other-ns", ns="kept"))
    async with running(api, make):
        await settled(api)
        assert len((await api.list("pods", "doomed"))[0]) == 3          # an active namespace is left alone
        await api.delete("namespaces", "", "doomed")

        async def only_held():
            return [c.metadata.name for c in (await api.list("configmaps", "doomed"))[0]] == ["held"] and \
                not (await api.list("pods", "doomed"))[0] and not (await api.list("services", "doomed"))[0]
        await eventually(only_held, what="the namespace to be emptied but for the held configmap")

        async def remaining_condition():
            ns = await api.get("namespaces", "", "doomed")
            return {c.type: c.message for c in ns.status.conditions}.get("NamespaceContentRemaining") == \
                "Some resources are remaining: configmaps has 1 resource instances"
        await eventually(remaining_condition, what="the NamespaceContentRemaining condition")
        assert (await api.get("namespaces", "", "doomed")).spec.finalizers == [FINALIZER]

        held = await api.get("configmaps", "doomed", "held")
        del held.metadata.finalizers[:]
        await api.update(held)

        async def gone():
            return [n.metadata.name for n in (await api.list("namespaces", ""))[0]] == ["kept"]
        await eventually(gone, what="the namespace to be finalized and deleted")
    assert [c.metadata.name for c in (await api.list("configmaps", "kept"))[0]] == ["other-ns"]
