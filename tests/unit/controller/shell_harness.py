"""What the controller-shell unit tests share: a FakeApi closer to the apiserver, watches that can be
held back (a lagging cache), builders, and a fake kubelet. No sockets.

    api = ApiserverFake()
    ctx = ControllerContext(api)
    rsc = ReplicaSetController(ctx); await ctx.start_informers()
    api.hold_watches()                  # writes land, informers see nothing: the cache lags
    await rsc.sync("default/web-abc"); api.release_watches(); await caught_up(api, ctx)

`ApiserverFake` adds to client.fake.FakeApi what the controllers rely on and the real apiserver
does: creationTimestamp and generation 1 on create; generation + 1 when an update changes spec (or
a Deployment's annotations); annotations taken from a Deployment/ReplicaSet status write (the
deployment controller records its revision that way); graceful pod deletion is not modelled (a
delete removes the pod at once, as FakeApi does).
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

from client.api import kind_of
from client.fake import FakeApi
from controller.manager import ControllerContext
from controller.replicaset.reconcile import is_ready
from client.times import format_time
from skiffpb.k8s.apps.v1 import apps_pb2
from skiffpb.k8s.core.v1 import core_pb2

_STATUS_ANNOTATED = ("deployments", "replicasets")


def copy(msg):
    new = type(msg)()
    new.CopyFrom(msg)
    return new


class _HeldWatch:
    """A FakeWatch whose events wait for the api's gate."""

    def __init__(self, inner, gate: asyncio.Event):
        self.inner, self.gate = inner, gate

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.close()

    def close(self) -> None:
        self.inner.close()

    def __aiter__(self):
        return self._events()

    async def _events(self):
        async for ev in self.inner:
            await self.gate.wait()
            yield ev


class ApiserverFake(FakeApi):
    """FakeApi plus the apiserver behaviour the controller shells depend on (module docstring)."""

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self.gate = asyncio.Event()
        self.gate.set()
        self.clock = time.time

    # -- a lagging cache
    def hold_watches(self) -> None:
        self.gate.clear()

    def release_watches(self) -> None:
        self.gate.set()

    def watch(self, kind, namespace: str = "", **kw: Any):
        return _HeldWatch(super().watch(kind, namespace, **kw), self.gate)

    # -- generation and timestamps
    async def create(self, obj, **kw: Any):
        obj = copy(obj)
        obj.metadata.generation = 1
        obj.metadata.creation_timestamp = format_time(self.clock())
        return await super().create(obj, **kw)

    async def update(self, obj, **kw: Any):
        kind = kind_of(type(obj))
        old = self._objects.get((kind.resource, self._ns(kind, obj.metadata.namespace), obj.metadata.name))
        obj = copy(obj)
        if old is not None:
            obj.metadata.generation = old.metadata.generation
            obj.metadata.creation_timestamp = old.metadata.creation_timestamp
            spec_changed = "spec" in obj.DESCRIPTOR.fields_by_name and obj.spec != old.spec
            if spec_changed or (kind.kind == "Deployment"
                                and dict(obj.metadata.annotations) != dict(old.metadata.annotations)):
                obj.metadata.generation += 1
        return await super().update(obj, **kw)

    async def update_status(self, obj, **kw: Any):
        kind = kind_of(type(obj))
        if kind.resource not in _STATUS_ANNOTATED:
            return await super().update_status(obj, **kw)
        ns = self._ns(kind, obj.metadata.namespace)
        self._begin("update_status", kind, ns, obj.metadata.name)
        old = self._stored(kind, ns, obj.metadata.name)
        if obj.metadata.resource_version and obj.metadata.resource_version != old.metadata.resource_version:
            raise self._conflict(kind, obj.metadata.name)
        new = copy(old)
        new.status.CopyFrom(obj.status)
        new.metadata.ClearField("annotations")
        new.metadata.annotations.update(obj.metadata.annotations)
        return self._store(kind, new, "MODIFIED", old)

    # -- inspection
    def objects(self, resource: str) -> list:
        return [o for (res, _ns, _n), o in sorted(self._objects.items()) if res == resource]

    def count(self, verb: str, resource: str) -> int:
        return sum(1 for a in self.actions if a[0] == verb and a[1] == resource)


async def caught_up(api: ApiserverFake, ctx: ControllerContext, timeout: float = 5.0) -> None:
    """Waits until every informer of `ctx` holds exactly what the fake stores (same keys, same RVs)."""
    def done() -> bool:
        for resource, inf in ctx._informers.items():
            want = {f"{o.metadata.namespace}/{o.metadata.name}": o.metadata.resource_version
                    for o in api.objects(inf.kind.resource)}
            have = {k: inf.get_by_key(k).metadata.resource_version for k in inf.store.keys()}
            if want != have:
                return False
        return True

    async def wait() -> None:
        while not done():
            await asyncio.sleep(0.001)
    await asyncio.wait_for(wait(), timeout)


async def events_written(api: ApiserverFake, ctx: ControllerContext) -> list[core_pb2.Event]:
    """Every Event the recorders have queued, once written (closing the recorders flushes them)."""
    for rec in ctx._recorders.values():
        await rec.close()
    return api.objects("events")


def replica_set(name: str = "web-abc", replicas: int = 3, *, labels: dict[str, str] | None = None,
                image: str = "app:v1", min_ready_seconds: int = 0) -> apps_pb2.ReplicaSet:
    rs = apps_pb2.ReplicaSet(api_version="apps/v1", kind="ReplicaSet")
    rs.metadata.name, rs.metadata.namespace = name, "default"
    rs.spec.replicas = replicas
    rs.spec.selector.match_labels["app"] = "web"
    rs.spec.template.metadata.labels.update(labels or {"app": "web"})
    rs.spec.template.spec.containers.add(name="app", image=image)
    if min_ready_seconds:
        rs.spec.min_ready_seconds = min_ready_seconds
    return rs


def pod(name: str, *, owner: Any = None, labels: dict[str, str] | None = None, node: str = "",
        phase: str = "Pending", ready_at: float | None = None, created: float | None = None) -> core_pb2.Pod:
    """A pod, controlled by `owner` (a ReplicaSet as stored) when given; ready since `ready_at`."""
    p = core_pb2.Pod(api_version="v1", kind="Pod")
    p.metadata.name, p.metadata.namespace = name, "default"
    p.metadata.labels.update({"app": "web"} if labels is None else labels)
    if owner is not None:
        p.metadata.owner_references.add(api_version="apps/v1", kind="ReplicaSet", name=owner.metadata.name,
                                         uid=owner.metadata.uid, controller=True, block_owner_deletion=True)
    p.spec.containers.add(name="app", image="app:v1")
    if node:
        p.spec.node_name = node
    p.status.phase = phase
    if ready_at is not None:
        p.status.conditions.add(type="Ready", status="True", last_transition_time=format_time(ready_at))
    return p


def deployment(name: str = "web", replicas: int = 3, *, image: str = "app:v1", max_surge: int | str = 1,
               max_unavailable: int | str = 0, revision_history_limit: int = 10,
               progress_deadline_seconds: int = 600, strategy: str = "RollingUpdate") -> apps_pb2.Deployment:
    """A Deployment as the apiserver would store it after defaulting."""
    d = apps_pb2.Deployment(api_version="apps/v1", kind="Deployment")
    d.metadata.name, d.metadata.namespace = name, "default"
    d.spec.replicas = replicas
    d.spec.selector.match_labels["app"] = name
    d.spec.template.metadata.labels["app"] = name
    d.spec.template.spec.containers.add(name="app", image=image)
    d.spec.strategy.type = strategy
    if strategy == "RollingUpdate":
        for field, value in (("max_surge", max_surge), ("max_unavailable", max_unavailable)):
            target = getattr(d.spec.strategy.rolling_update, field)
            if isinstance(value, int):
                target.int_val = value
            else:
                target.str_val = value
    d.spec.revision_history_limit = revision_history_limit
    d.spec.progress_deadline_seconds = progress_deadline_seconds
    return d


async def fake_kubelet(api: ApiserverFake, *, period: float = 0.005) -> None:
    """Until cancelled: binds every unbound pod to node-1 and marks bound pods Running and Ready."""
    while True:
        for p in api.objects("pods"):
            try:
                if not p.spec.node_name:
                    await api.bind(p.metadata.namespace, p.metadata.name, "node-1", uid=p.metadata.uid)
                elif not is_ready(p):
                    new = copy(p)
                    new.status.phase = "Running"
                    new.status.conditions.add(type="Ready", status="True",
                                              last_transition_time=format_time(api.clock()))
                    await api.update_status(new)
            except Exception:  # noqa: BLE001 - a pod deleted or changed meanwhile: next round
                pass
        await asyncio.sleep(period)
