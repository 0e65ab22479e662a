"""client.api.ApiClient against a real control plane: typed CRUD, conflicts, selectors, watch, failover."""
from __future__ import annotations

import pytest

from client.api import ApiClient, Backoff
from client.errors import AlreadyExists, Conflict, NotFound
from skiffpb.k8s.apps.v1 import apps_pb2
from skiffpb.k8s.core.v1 import core_pb2

pytestmark = pytest.mark.timeout(120)


def configmap(name: str, labels: dict | None = None, **data: str) -> core_pb2.ConfigMap:
    cm = core_pb2.ConfigMap()
    cm.metadata.name, cm.metadata.namespace = name, "default"
    cm.metadata.labels.update(labels or {})
    cm.data.update(data)
    return cm


def deployment(name: str, replicas: int = 1) -> apps_pb2.Deployment:
    d = apps_pb2.Deployment()
    d.metadata.name, d.metadata.namespace = name, "default"
    d.spec.replicas = replicas
    d.spec.selector.match_labels["app"] = name
    d.spec.template.metadata.labels["app"] = name
    c = d.spec.template.spec.containers.add()
    c.name, c.image = "main", "busybox"
    return d


async def test_typed_crud_conflict_and_selectors(control_plane):
    """Typed objects go through create/get/list/update/delete, a stale update is a Conflict, selectors filter."""
    async with ApiClient(control_plane.endpoints, timeout=10) as api:
        a = await api.create(configmap("a", {"app": "web"}, k="1"))
        assert isinstance(a, core_pb2.ConfigMap) and a.metadata.uid and a.metadata.resource_version
        with pytest.raises(AlreadyExists, match='configmaps "a" already exists'):
            await api.create(configmap("a"))
        await api.create(configmap("b", {"app": "db"}))
        got = await api.get("cm", "default", "a")
        assert got.data["k"] == "1"
        got.data["k"] = "2"
        newer = await api.update(got)
        assert newer.data["k"] == "2"
        with pytest.raises(Conflict, match="the object has been modified"):
            await api.update(got)   # still carries the old resourceVersion
        items, rv = await api.list("configmaps", "default", label_selector="app=web")
        assert [i.metadata.name for i in items] == ["a"] and int(rv) >= int(newer.metadata.resource_version)
        items, _ = await api.list(core_pb2.ConfigMap, "default", field_selector="metadata.name=b")
        assert [i.metadata.name for i in items] == ["b"]
        d = await api.create(deployment("web", 2))
        s = await api.get_scale("deploy", "default", "web")
        assert s.spec.replicas == 2
        await api.update_scale("deployments", "default", "web", 3, resource_version=s.metadata.resource_version)
        assert (await api.get(apps_pb2.Deployment, "default", "web")).spec.replicas == 3
        await api.delete("configmaps", "default", "a", precondition_uid=a.metadata.uid)
        with pytest.raises(NotFound, match='configmaps "a" not found'):
            await api.get("configmaps", "default", "a")
        assert d.metadata.uid


async def test_watch_yields_typed_events_after_the_list(control_plane):
    """A watch from a list's resourceVersion yields the later ADDED, MODIFIED and DELETED as typed objects."""
    async with ApiClient(control_plane.endpoints) as api:
        await api.create(configmap("before"))
        _, rv = await api.list("configmaps", "default")
        w = api.watch("configmaps", "default", resource_version=rv, allow_bookmarks=False)
        c = await api.create(configmap("w1"))
        c.data["x"] = "y"
        await api.update(c)
        await api.delete("configmaps", "default", "w1")
        seen = []
        async for ev in w:
            seen.append((ev.type, ev.object.metadata.name, type(ev.object)))
            if len(seen) == 3:
                w.close()
        assert seen == [("ADDED", "w1", core_pb2.ConfigMap), ("MODIFIED", "w1", core_pb2.ConfigMap),
                        ("DELETED", "w1", core_pb2.ConfigMap)]


async def test_reads_and_guarded_writes_fail_over_after_kill9(control_plane):
    """After kill -9 of the apiserver in use, get, list and a guarded update continue on the other one."""
    async with ApiClient(control_plane.endpoints, timeout=15,
                         backoff=Backoff(base=0.02, cap=0.5)) as api:
        cm = await api.create(configmap("f", v="1"))
        assert api.endpoint == control_plane.apiservers[0].endpoint
        control_plane.apiservers[0].kill9()
        got = await api.get("configmaps", "default", "f")
        assert got.metadata.uid == cm.metadata.uid
        assert api.endpoint == control_plane.apiservers[1].endpoint
        items, _ = await api.list("configmaps", "default")
        assert "f" in [i.metadata.name for i in items]
        got.data["v"] = "2"
        upd = await api.update(got)   # guarded by its resourceVersion
        assert upd.data["v"] == "2"


async def test_guarded_update_retries_across_a_dead_pinned_endpoint(control_plane):
    """A guarded update issued as the first call after kill -9 is retried on the other apiserver and applies once."""
    async with ApiClient(control_plane.endpoints, timeout=15,
                         backoff=Backoff(base=0.02, cap=0.5)) as api:
        cm = await api.create(configmap("g", v="1"))
        control_plane.apiservers[0].kill9()
        cm.data["v"] = "2"
        upd = await api.update(cm)
        assert upd.data["v"] == "2" and int(upd.metadata.resource_version) > int(cm.metadata.resource_version)
        assert api.endpoint == control_plane.apiservers[1].endpoint
