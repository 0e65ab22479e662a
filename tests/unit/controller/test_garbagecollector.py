"""controller/garbagecollector: classification of owner references and the decisions for dependents and
owners being deleted (table tests), and the shell against client/fake.py in all three policies."""
from __future__ import annotations

import pytest

from client.fake import FakeApi
from controller.garbagecollector import make
from controller.garbagecollector.controller import GarbageCollector
from controller.garbagecollector.reconcile import (
    FOREGROUND, ORPHAN, OwnerState, Plan, attempt_to_delete, classify, owner_plan,
)
from controller.manager import ControllerContext
from skiffpb.k8s.apps.v1 import apps_pb2
from skiffpb.k8s.core.v1 import core_pb2
from tests.unit.controller.shellkit import eventually, running, settled

pytestmark = pytest.mark.timeout(60)

SOLID = OwnerState(exists=True)
WAITING = OwnerState(exists=True, deleting_dependents=True)
GONE = OwnerState(exists=False)


def cm(name, owners=(), finalizers=(), deleting=False) -> core_pb2.ConfigMap:
    """owners: (uid, blockOwnerDeletion) pairs, each a Deployment named after its uid."""
    c = core_pb2.ConfigMap(api_version="v1", kind="ConfigMap")
    c.metadata.name, c.metadata.namespace, c.metadata.uid = name, "default", f"uid-{name}"
    for uid, block in owners:
        c.metadata.owner_references.add(api_version="apps/v1", kind="Deployment", name=uid, uid=uid,
                                        controller=True, block_owner_deletion=block)
    c.metadata.finalizers.extend(finalizers)
    if deleting:
        c.metadata.deletion_timestamp = "2026-01-01T00:00:00Z"
    return c


def test_classify():
    """Owners sort into solid, dangling (absent, or unknown to the caller) and waiting."""
    obj = cm("x", owners=[("a", True), ("b", True), ("c", False), ("d", True)])
    refs = classify(obj, {"a": SOLID, "b": GONE, "c": WAITING})
    assert (refs.solid, refs.dangling, refs.waiting) == (("a",), ("b", "d"), ("c",))


@pytest.mark.parametrize("obj, owners, dependents, want", [
    pytest.param(cm("x", [("a", True)]), {"a": SOLID}, [], Plan(), id="solid-owner-keeps-it"),
    pytest.param(cm("x", [("a", True), ("b", True)]), {"a": SOLID, "b": GONE}, [], Plan(remove_refs=("b",)),
                 id="solid-plus-dangling-drops-the-dangling-ref"),
    pytest.param(cm("x", [("a", True), ("b", True)]), {"a": SOLID, "b": WAITING}, [], Plan(remove_refs=("b",)),
                 id="solid-plus-waiting-drops-the-waiting-ref"),
    pytest.param(cm("x", [("a", True)]), {"a": GONE}, [], Plan(delete="Background"), id="all-gone-background"),
    pytest.param(cm("x", [("a", True)], finalizers=[ORPHAN]), {"a": GONE}, [], Plan(delete="Orphan"),
                 id="own-orphan-finalizer"),
    pytest.param(cm("x", [("a", True)], finalizers=[FOREGROUND]), {"a": GONE}, [], Plan(delete="Foreground"),
                 id="own-foreground-finalizer"),
    pytest.param(cm("x", [("a", True)]), {"a": WAITING}, [], Plan(delete="Background"),
                 id="waiting-owner-no-dependents"),
    pytest.param(cm("x", [("a", True)]), {"a": WAITING}, [cm("y", [("uid-x", True)])],
                 Plan(delete="Foreground"), id="waiting-owner-with-dependents-foreground"),
    pytest.param(cm("x", [("a", True)]), {"a": WAITING},
                 [cm("y", [("uid-x", True)], finalizers=[FOREGROUND], deleting=True)],
                 Plan(delete="Foreground", unblock=True), id="cycle-breaker-unblocks"),
    pytest.param(cm("x", [("a", True)], deleting=True), {"a": GONE}, [], Plan(), id="being-deleted-left-alone"),
    pytest.param(cm("x"), {}, [], Plan(), id="no-owner-refs"),
])
def test_attempt_to_delete(obj, owners, dependents, want):
    """Kubernetes' attemptToDeleteItem, one case per branch."""
    assert attempt_to_delete(obj, owners, dependents) == want


def test_owner_plan():
    """Orphan: every dependent loses its ref, then the finalizer goes; Foreground waits for blocking dependents only."""
    deps = [cm("a", [("uid-o", True)]), cm("b", [("uid-o", False)]), cm("c", [("uid-o", True)], deleting=True),
            cm("other", [("uid-z", True)])]
    orphaning = cm("o", finalizers=[ORPHAN], deleting=True)
    plan = owner_plan(orphaning, deps)
    assert [d.metadata.name for d in plan.orphan] == ["a", "b", "c"] and plan.remove_finalizer == ORPHAN
    fg = cm("o", finalizers=[FOREGROUND], deleting=True)
    plan = owner_plan(fg, deps)
    assert [d.metadata.name for d in plan.check] == ["a", "b"] and plan.remove_finalizer is None
    plan = owner_plan(fg, [deps[1], deps[3]])
    assert plan.check == () and plan.remove_finalizer == FOREGROUND
    assert owner_plan(cm("o"), deps) == owner_plan(cm("o", finalizers=[ORPHAN]), deps)   # not being deleted: nothing


# -- the shell against the fake API ---------------------------------------------------------------------

def deployment(name="owner") -> apps_pb2.Deployment:
    d = apps_pb2.Deployment(api_version="apps/v1", kind="Deployment")
    d.metadata.name, d.metadata.namespace = name, "default"
    return d


async def owned_configmaps(api, owner, n=3, block=True) -> None:
    for i in range(n):
        c = core_pb2.ConfigMap(api_version="v1", kind="ConfigMap")
        c.metadata.name, c.metadata.namespace = f"dep-{i}", "default"
        c.metadata.owner_references.add(api_version="apps/v1", kind="Deployment", name=owner.metadata.name,
                                        uid=owner.metadata.uid, controller=True, block_owner_deletion=block)
        await api.create(c)


async def names(api, resource) -> list[str]:
    return sorted(o.metadata.name for o in (await api.list(resource, "default"))[0])


@pytest.mark.parametrize("policy", ["Background", "Foreground", "Orphan"])
async def test_shell_cascades_in_each_policy(policy):
    """Deleting an owner deletes its dependents (Background, Foreground) or leaves them ownerless (Orphan)."""
    api = FakeApi()
    owner = await api.create(deployment())
    await owned_configmaps(api, owner)
    keep = await api.create(core_pb2.ConfigMap(metadata={"name": "unrelated", "namespace": "default"}))
    async with running(api, make):
        await settled(api)
        assert await names(api, "configmaps") == ["dep-0", "dep-1", "dep-2", "unrelated"]   # solid: kept
        await api.delete("deployments", "default", "owner", propagation_policy=policy)
        await eventually(lambda: _empty(api, "deployments"), what=f"the owner to go ({policy})")
        if policy == "Orphan":
            left = (await api.list("configmaps", "default"))[0]
            assert sorted(c.metadata.name for c in left) == ["dep-0", "dep-1", "dep-2", "unrelated"]
            assert all(not c.metadata.owner_references for c in left)
        else:
            await eventually(lambda: _only(api, ["unrelated"]), what=f"the dependents to go ({policy})")
    assert keep.metadata.name == "unrelated"


async def test_shell_foreground_waits_for_blocking_dependents():
    """A foreground deletion keeps the owner until its blocking dependents are gone, then removes the finalizer."""
    api = FakeApi()
    owner = await api.create(deployment())
    await owned_configmaps(api, owner, n=1)
    # A dependent that holds on (a finalizer someone else owns) blocks its owner's foreground deletion.
    dep = await api.get("configmaps", "default", "dep-0")
    dep.metadata.finalizers.append("example.com/hold")
    await api.update(dep)
    async with running(api, make):
        await api.delete("deployments", "default", "owner", propagation_policy="Foreground")

        async def dependent_deleting():
            return (await api.get("configmaps", "default", "dep-0")).metadata.deletion_timestamp
        await eventually(dependent_deleting, what="the dependent to be deleted")
        await settled(api)
        assert (await api.get("deployments", "default", "owner")).metadata.finalizers == [FOREGROUND]
        dep = await api.get("configmaps", "default", "dep-0")
        del dep.metadata.finalizers[:]
        await api.update(dep)                                   # the holder lets go: the dependent goes
        await eventually(lambda: _empty(api, "deployments"), what="the owner to go after its dependent")


async def test_shell_drops_only_the_gone_owner_of_a_shared_dependent():
    """A dependent with two owners loses the reference to the deleted one and stays."""
    api = FakeApi()
    a, b = await api.create(deployment("a")), await api.create(deployment("b"))
    c = core_pb2.ConfigMap(metadata={"name": "shared", "namespace": "default"})
    for o in (a, b):
        c.metadata.owner_references.add(api_version="apps/v1", kind="Deployment", name=o.metadata.name,
                                        uid=o.metadata.uid)
    await api.create(c)
    async with running(api, make):
        await api.delete("deployments", "default", "a")

        async def one_ref():
            refs = (await api.get("configmaps", "default", "shared")).metadata.owner_references
            return [r.name for r in refs] == ["b"]
        await eventually(one_ref, what="the reference to a to be dropped")


async def test_owner_missing_from_the_cache_is_read_live():
    """An owner the cache does not have yet counts as present when a live read finds it (same uid)."""
    api = FakeApi()
    gc = GarbageCollector(ControllerContext(api))          # informers never started: empty caches
    owner = await api.create(deployment())
    dep = core_pb2.ConfigMap(metadata={"name": "d", "namespace": "default"})
    ref = dep.metadata.owner_references.add(api_version="apps/v1", kind="Deployment", name="owner",
                                            uid=owner.metadata.uid)
    assert (await gc.owner_state(dep, ref)).exists
    ref.uid = "another-uid"                                # same name, another object: gone
    assert not (await gc.owner_state(dep, ref)).exists
    ref.kind, ref.api_version = "Widget", "example.com/v1"  # a kind Skiff does not serve: kept, as Kubernetes
    assert (await gc.owner_state(dep, ref)).exists
    node = core_pb2.Node(metadata={"name": "n1"})           # cluster-scoped, with a namespaced owner: kept
    nref = node.metadata.owner_references.add(api_version="apps/v1", kind="Deployment", name="owner",
                                              uid=owner.metadata.uid)
    assert (await gc.owner_state(node, nref)).exists


async def _empty(api, resource) -> bool:
    return not (await api.list(resource, "default"))[0]


async def _only(api, want) -> bool:
    return await names(api, "configmaps") == want
