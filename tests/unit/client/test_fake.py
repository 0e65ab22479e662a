"""FakeApi semantics: CRUD, optimistic concurrency, selectors, watch from a resourceVersion, faults."""
from __future__ import annotations

import asyncio

import pytest

from client.api import JSON_PATCH, MERGE_PATCH, WatchEvent
from client.errors import AlreadyExists, BadRequest, Conflict, Gone, Invalid, NotFound, Unavailable
from client.fake import FakeApi
from skiffpb.k8s.apps.v1 import apps_pb2
from skiffpb.k8s.core.v1 import core_pb2

pytestmark = pytest.mark.timeout(10)


def pod(name: str, ns: str = "default", labels: dict | None = None, node: str = "", phase: str = "") -> core_pb2.Pod:
    p = core_pb2.Pod()
    p.metadata.name, p.metadata.namespace = name, ns
    p.metadata.labels.update(labels or {})
    if node:
        p.spec.node_name = node
    if phase:
        p.status.phase = phase
    return p


async def take(it, n: int) -> list[WatchEvent]:
    """The next `n` events of a watch iterator (bounded by the test timeout)."""
    return [await anext(it) for _ in range(n)]


async def test_create_get_list_update_delete_round_trip():
    """Objects get a uid and increasing resourceVersions, and every verb is recorded as an action."""
    api = FakeApi()
    a = await api.create(pod("a"))
    assert a.metadata.uid and a.metadata.resource_version == "1" and a.kind == "Pod"
    got = await api.get("pods", "default", "a")
    assert got == a
    got.spec.node_name = "n1"
    b = await api.update(got)
    assert int(b.metadata.resource_version) > int(a.metadata.resource_version) and b.spec.node_name == "n1"
    items, rv = await api.list(core_pb2.Pod, "default")
    assert [p.metadata.name for p in items] == ["a"] and rv == b.metadata.resource_version
    await api.delete("po", "default", "a")
    with pytest.raises(NotFound, match='pods "a" not found'):
        await api.get("pods", "default", "a")
    assert api.actions == [("create", "pods", "default", "a"), ("get", "pods", "default", "a"),
                           ("update", "pods", "default", "a"), ("list", "pods", "default", ""),
                           ("delete", "pods", "default", "a"), ("get", "pods", "default", "a")]


async def test_returned_objects_are_copies():
    """Changing a returned object does not change what the fake stores."""
    api = FakeApi()
    a = await api.create(pod("a"))
    a.spec.node_name = "mutated"
    assert not (await api.get("pods", "default", "a")).spec.node_name


async def test_duplicate_create_is_already_exists():
    """A second create of the same name fails with Kubernetes' AlreadyExists message."""
    api = FakeApi()
    await api.create(pod("a"))
    with pytest.raises(AlreadyExists, match='pods "a" already exists'):
        await api.create(pod("a"))


async def test_stale_update_and_delete_preconditions_are_conflicts():
    """Writes carrying an old resourceVersion or a wrong uid fail with Conflict; unguarded ones win."""
    api = FakeApi()
    old = await api.create(pod("a"))
    cur = await api.update(old)
    with pytest.raises(Conflict, match="the object has been modified"):
        await api.update(old)
    with pytest.raises(Conflict):
        await api.delete("pods", "default", "a", precondition_resource_version=old.metadata.resource_version)
    with pytest.raises(Conflict, match="Precondition failed: UID"):
        await api.delete("pods", "default", "a", precondition_uid="other")
    unguarded = pod("a", labels={"x": "1"})
    assert (await api.update(unguarded)).metadata.labels["x"] == "1"
    await api.delete("pods", "default", "a", precondition_uid=cur.metadata.uid)


async def test_update_keeps_status_and_update_status_keeps_spec():
    """Spec writers and status writers do not clobber each other."""
    api = FakeApi()
    a = await api.create(pod("a", node="n1"))
    s = pod("a", phase="Running")
    await api.update_status(s)
    b = await api.get("pods", "default", "a")
    assert b.status.phase == "Running" and b.spec.node_name == "n1"
    b.status.phase = "Failed"
    b.spec.node_name = "n2"
    c = await api.update(b)
    assert c.status.phase == "Running" and c.spec.node_name == "n2" and c.metadata.uid == a.metadata.uid


async def test_patches_merge_and_json_with_test():
    """Merge patches merge; a JSON patch whose test fails is Invalid and changes nothing."""
    api = FakeApi()
    a = await api.create(pod("a", labels={"x": "1"}))
    b = await api.patch("pods", "default", "a", MERGE_PATCH, {"metadata": {"labels": {"y": "2", "x": None}}})
    assert dict(b.metadata.labels) == {"y": "2"}
    with pytest.raises(Invalid):
        await api.patch("pods", "default", "a", JSON_PATCH,
                        [{"op": "test", "path": "/metadata/resourceVersion", "value": a.metadata.resource_version}])
    c = await api.patch("pods", "default", "a", JSON_PATCH,
                        [{"op": "test", "path": "/metadata/resourceVersion", "value": b.metadata.resource_version},
                         {"op": "add", "path": "/metadata/labels/z", "value": "3"}])
    assert dict(c.metadata.labels) == {"y": "2", "z": "3"}
    assert api.actions.count(("patch", "pods", "default", "a")) == 3


async def test_label_and_field_selectors_filter_lists():
    """Lists filter by namespace, label selector and the supported field selectors."""
    api = FakeApi()
    await api.create(pod("a", labels={"app": "web"}, node="n1", phase="Running"))
    await api.create(pod("b", labels={"app": "web", "canary": "1"}, node="n2"))
    await api.create(pod("c", ns="other", labels={"app": "db"}, node="n1"))

    async def names(ns="", **kw):
        return [p.metadata.name for p in (await api.list("pods", ns, **kw))[0]]
    assert await names() == ["a", "b", "c"]
    assert await names("default") == ["a", "b"]
    assert await names(label_selector="app=web,!canary") == ["a"]
    assert await names(label_selector="app in (web,db)", field_selector="spec.nodeName=n1") == ["a", "c"]
    assert await names(field_selector="status.phase!=Running,metadata.namespace=default") == ["b"]
    assert await names(field_selector="metadata.name=c") == ["c"]
    with pytest.raises(BadRequest, match="field label not supported: spec.replicas"):
        await api.list("pods", field_selector="spec.replicas=1")
    with pytest.raises(BadRequest, match="field label not supported: spec.nodeName"):
        await api.list("configmaps", field_selector="spec.nodeName=n1")


async def test_watch_from_a_resource_version_replays_later_events_then_streams():
    """A watch from a list's resourceVersion sees exactly the later changes, in order."""
    api = FakeApi()
    await api.create(pod("a"))
    _, rv = await api.list("pods")
    b = await api.create(pod("b"))
    w = api.watch("pods", "default", resource_version=rv)
    it = aiter(w)
    [ev] = await take(it, 1)
    assert (ev.type, ev.object.metadata.name, ev.resource_version) == ("ADDED", "b", b.metadata.resource_version)
    await api.update(b)
    await api.delete("pods", "default", "a")
    evs = await take(it, 2)
    assert [(e.type, e.object.metadata.name) for e in evs] == [("MODIFIED", "b"), ("DELETED", "a")]
    assert int(evs[1].resource_version) > int(evs[0].resource_version)
    w.close()
    assert [e async for e in it] == []


async def test_watch_from_zero_starts_with_current_objects_and_respects_selectors():
    """A watch from "" lists current matching objects as ADDED, and selector transitions are ADDED/DELETED."""
    api = FakeApi()
    await api.create(pod("a", labels={"app": "web"}))
    await api.create(pod("b", labels={"app": "db"}))
    it = aiter(api.watch("pods", resource_version="", label_selector="app=web"))
    [ev] = await take(it, 1)
    assert (ev.type, ev.object.metadata.name) == ("ADDED", "a")
    await api.update(pod("a", labels={"app": "other"}))
    await api.update(pod("b", labels={"app": "web"}))
    evs = await take(it, 2)
    assert [(e.type, e.object.metadata.name) for e in evs] == [("DELETED", "a"), ("ADDED", "b")]


async def test_watch_from_a_compacted_resource_version_is_gone():
    """With a bounded history, a watch from before the window raises Gone; within it, it works."""
    api = FakeApi(history=3)
    first = await api.create(pod("a"))
    for i in range(5):
        await api.create(pod(f"p{i}"))
    with pytest.raises(Gone, match="too old resource version"):
        await anext(aiter(api.watch("pods", resource_version=first.metadata.resource_version)))
    evs = await take(aiter(api.watch("pods", resource_version="3")), 3)
    assert [e.object.metadata.name for e in evs] == ["p2", "p3", "p4"]


async def test_expire_and_disconnect_end_open_watches():
    """expire_watches makes open watches raise Gone; disconnect_watches makes them raise Unavailable."""
    api = FakeApi()
    w1 = aiter(api.watch("pods", resource_version="0"))
    pending = asyncio.ensure_future(anext(w1))
    api.expire_watches()
    with pytest.raises(Gone):
        await pending
    w2 = aiter(api.watch("pods", resource_version="0"))
    api.disconnect_watches()
    with pytest.raises(Unavailable):
        await anext(w2)
    # Ended watches receive nothing more.
    await api.create(pod("a"))
    with pytest.raises(StopAsyncIteration):
        await anext(w2)


async def test_fail_next_raises_once_per_injection_and_records_the_attempt():
    """An injected error is raised by the next call of that method only, and the attempt is recorded."""
    api = FakeApi()
    await api.create(pod("a"))
    api.fail_next("get", Unavailable("injected"))
    with pytest.raises(Unavailable, match="injected"):
        await api.get("pods", "default", "a")
    assert (await api.get("pods", "default", "a")).metadata.name == "a"
    assert api.actions[-2:] == [("get", "pods", "default", "a")] * 2


async def test_finalizers_delay_deletion_until_removed():
    """An object with finalizers gets a deletionTimestamp; removing the last finalizer deletes it."""
    api = FakeApi()
    p = pod("a")
    p.metadata.finalizers.append("x")
    await api.create(p)
    await api.delete("pods", "default", "a")
    cur = await api.get("pods", "default", "a")
    assert cur.metadata.HasField("deletion_timestamp")
    del cur.metadata.finalizers[:]
    await api.update(cur)
    with pytest.raises(NotFound):
        await api.get("pods", "default", "a")


async def test_scale_subresource():
    """get_scale/update_scale read and set replicas, with a resourceVersion guard."""
    api = FakeApi()
    d = apps_pb2.Deployment()
    d.metadata.name, d.metadata.namespace = "web", "default"
    d.spec.replicas = 2
    d = await api.create(d)
    s = await api.get_scale("deploy", "default", "web")
    assert s.spec.replicas == 2
    await api.update_scale("deployments", "default", "web", 5, resource_version=s.metadata.resource_version)
    assert (await api.get("deployments", "default", "web")).spec.replicas == 5
    with pytest.raises(Conflict):
        await api.update_scale("deployments", "default", "web", 1, resource_version=s.metadata.resource_version)
    with pytest.raises(NotFound):
        await api.get_scale("pods", "default", "x")


async def test_bind_follows_the_apiservers_rules():
    api = FakeApi()
    created = await api.create(pod("p"))
    bound = await api.bind("default", "p", "n1", uid=created.metadata.uid)
    assert bound.spec.node_name == "n1"
    assert [(c.type, c.status) for c in bound.status.conditions] == [("PodScheduled", "True")]
    with pytest.raises(Conflict, match='pod p is already assigned to node "n1"'):
        await api.bind("default", "p", "n2")
    await api.create(pod("q"))
    with pytest.raises(Conflict, match="Precondition failed: UID in precondition: other"):
        await api.bind("default", "q", "n1", uid="other")
    assert (await api.get("pods", "default", "q")).spec.node_name == ""
