"""The Deployment controller's shell (controller/deployment/controller.py) over an in-memory API: the
new ReplicaSet and the revision, AlreadyExists (our lagging cache, a hash collision), adoption,
history cleanup, events only for writes that succeeded; and a whole rollout with the ReplicaSet
controller and a fake kubelet, its surge and availability bounds checked at every pod event."""
from __future__ import annotations

import asyncio

import pytest

from client.errors import Conflict
from controller.deployment import annotations as ann
from controller.deployment.controller import DeploymentController
from controller.deployment.revision import new_replica_set, pod_template_hash
from controller.manager import ControllerContext, Options, Requeue
from controller.ownership import controller_of
from controller.replicaset.controller import ReplicaSetController
from controller.replicaset.reconcile import is_active, is_ready
from skiffpb.k8s.apps.v1 import apps_pb2
from tests.unit.controller.shell_harness import (
    ApiserverFake, caught_up, copy, deployment, events_written, fake_kubelet,
)

pytestmark = pytest.mark.timeout(30)

KEY = "default/web"


async def started(*objects, replicasets: bool = False):
    api = ApiserverFake()
    for obj in objects:
        await api.create(obj)
    ctx = ControllerContext(api, options=Options(workers=2))
    dc = DeploymentController(ctx)
    rsc = ReplicaSetController(ctx) if replicasets else None
    await ctx.start_informers(timeout=5)
    return api, ctx, dc, rsc


def rs_name(d) -> str:
    return f"web-{pod_template_hash(d.spec.template)}"


async def test_creates_the_new_replica_set_and_records_revision_1_through_the_status():
    """A new Deployment gets `web-<hash>` with revision 1 and all replicas; its revision is written without a new generation."""
    api, ctx, dc, _ = await started(deployment(replicas=3))
    try:
        await dc.sync(KEY)
        d = await api.get("deployments", "default", "web")
        [rs] = api.objects("replicasets")
        assert rs.metadata.name == rs_name(d)
        assert rs.spec.replicas == 3 and rs.metadata.annotations[ann.REVISION] == "1"
        assert rs.spec.selector.match_labels[ann.POD_TEMPLATE_HASH] == rs.metadata.name.split("-")[1]
        assert controller_of(rs).uid == d.metadata.uid
        assert d.metadata.annotations[ann.REVISION] == "1" and d.metadata.generation == 1
        assert api.count("update_status", "deployments") == 1 and api.count("update", "deployments") == 0
        [cond] = [c for c in d.status.conditions if c.type == "Progressing"]
        assert (cond.status, cond.reason, cond.message) == ("True", "NewReplicaSetCreated",
                                                            f'Created new replica set "{rs.metadata.name}"')
        events = await events_written(api, ctx)
        assert [(e.reason, e.message, e.involved_object.kind) for e in events] == [
            ("ScalingReplicaSet", f"Scaled up replica set {rs.metadata.name} to 3", "Deployment")]
    finally:
        await ctx.close()


async def test_already_exists_for_our_own_replica_set_waits_for_the_cache():
    """A lagging cache makes the next sync create the same ReplicaSet again: AlreadyExists, ours, so re-check later."""
    api, ctx, dc, _ = await started(deployment(replicas=2))
    try:
        api.hold_watches()
        await dc.sync(KEY)
        result = await dc.sync(KEY)
        assert result == Requeue(1.0)
        assert api.count("create", "replicasets") == 2 and len(api.objects("replicasets")) == 1
        d = await api.get("deployments", "default", "web")
        assert not d.status.HasField("collision_count")
    finally:
        api.release_watches()
        await ctx.close()


async def test_a_name_taken_by_another_template_bumps_the_collision_count():
    """`web-<hash>` taken by an unrelated ReplicaSet: collisionCount goes to 1, and the next sync uses another name."""
    d0 = deployment(replicas=1)
    squatter = copy(d0)
    api = ApiserverFake()
    rs = apps_pb2.ReplicaSet(api_version="apps/v1", kind="ReplicaSet")
    rs.metadata.name, rs.metadata.namespace = rs_name(squatter), "default"
    rs.spec.selector.match_labels["app"] = "other"
    rs.spec.template.metadata.labels["app"] = "other"
    rs.spec.template.spec.containers.add(name="x", image="x")
    rs.metadata.labels["app"] = "other"
    await api.create(rs)
    await api.create(d0)
    ctx = ControllerContext(api)
    dc = DeploymentController(ctx)
    await ctx.start_informers(timeout=5)
    try:
        assert await dc.sync(KEY) == Requeue(0.0)
        d = await api.get("deployments", "default", "web")
        assert d.status.collision_count == 1
        await caught_up(api, ctx)
        await dc.sync(KEY)
        names = sorted(r.metadata.name for r in api.objects("replicasets"))
        new = f"web-{pod_template_hash(d.spec.template, 1)}"
        assert names == sorted([rs.metadata.name, new]) and new != rs.metadata.name
    finally:
        await ctx.close()


async def test_adopts_an_orphan_replica_set_with_the_same_template():
    """An orphan ReplicaSet running the Deployment's template is adopted and used, not duplicated."""
    d0 = deployment(replicas=2)
    api = ApiserverFake()
    d = await api.create(d0)
    orphan = new_replica_set(d, revision=1, replicas=2)
    del orphan.metadata.owner_references[:]
    await api.create(orphan)
    ctx = ControllerContext(api)
    dc = DeploymentController(ctx)
    await ctx.start_informers(timeout=5)
    try:
        await dc.sync(KEY)
        [rs] = api.objects("replicasets")
        assert controller_of(rs).uid == d.metadata.uid and api.count("create", "replicasets") == 1
    finally:
        await ctx.close()


async def test_a_scale_write_refused_as_stale_raises_and_records_no_event():
    """Events follow successful writes only: a Conflict on the scale leaves no ScalingReplicaSet event."""
    api, ctx, dc, _ = await started(deployment(replicas=2))
    try:
        await dc.sync(KEY)
        await caught_up(api, ctx)
        d = await api.get("deployments", "default", "web")
        d.spec.replicas = 4
        await api.update(d)
        await caught_up(api, ctx)
        api.fail_next("update", Conflict("stale", reason="Conflict", code=409))
        with pytest.raises(Conflict):
            await dc.sync(KEY)
        messages = [e.message for e in await events_written(api, ctx)]
        assert messages == [f"Scaled up replica set {rs_name(d)} to 2"]
    finally:
        await ctx.close()


async def test_old_replica_sets_beyond_the_history_limit_are_deleted_once_complete():
    """revisionHistoryLimit 1 with three templates rolled out: only the newest old ReplicaSet is kept."""
    api, ctx, dc, rsc = await started(deployment(replicas=1, revision_history_limit=1), replicasets=True)
    tasks = [asyncio.create_task(c.run()) for c in (dc, rsc)] + [asyncio.create_task(fake_kubelet(api))]
    try:
        await wait_until(lambda: complete(api, "app:v1"), "rollout of app:v1")
        for image in ("app:v2", "app:v3"):
            d = await api.get("deployments", "default", "web")
            d.spec.template.spec.containers[0].image = image
            await api.update(d)
            await wait_until(lambda: complete(api, image), "rollout of " + image)
        await wait_until(lambda: len(api.objects("replicasets")) == 2, "history trimmed to one old ReplicaSet")
        revisions = sorted(r.metadata.annotations[ann.REVISION] for r in api.objects("replicasets"))
        assert revisions == ["2", "3"]
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await ctx.close()


async def wait_until(predicate, what: str, timeout: float = 10.0) -> None:
    async def poll():
        while not predicate():
            await asyncio.sleep(0.005)
    try:
        await asyncio.wait_for(poll(), timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def complete(api: ApiserverFake, image: str) -> bool:
    [d] = api.objects("deployments")
    s = d.status
    want = d.spec.replicas
    return (d.spec.template.spec.containers[0].image == image and s.observed_generation == d.metadata.generation
            and s.updated_replicas == s.replicas == s.available_replicas == want)


class PodWatcher:
    """Checks the rollout bounds at every pod event of a watch: active pods <= replicas + surge and
    ready active pods >= replicas - unavailable. Terminating pods do not count (FakeApi deletes at once)."""

    def __init__(self, api: ApiserverFake, replicas: int, surge: int, unavailable: int):
        self.api, self.ceiling, self.floor = api, replicas + surge, replicas - unavailable
        self.pods: dict[str, object] = {}
        self.created: set[str] = set()
        self.violations: list[str] = []
        self.peak = 0
        self.low = replicas

    async def run(self) -> None:
        items, rv = await self.api.list("pods")
        self.pods = {p.metadata.name: p for p in items}
        async for ev in self.api.watch("pods", resource_version=rv):
            name = ev.object.metadata.name
            if ev.type == "DELETED":
                self.pods.pop(name, None)
            else:
                self.pods[name] = ev.object
                self.created.add(ev.object.metadata.uid)
            active = [p for p in self.pods.values() if is_active(p)]
            available = sum(1 for p in active if is_ready(p))
            self.peak, self.low = max(self.peak, len(active)), min(self.low, available)
            if len(active) > self.ceiling or available < self.floor:
                self.violations.append(f"{ev.type} {name}: {len(active)} pods, {available} available")


async def test_a_rolling_update_over_the_fake_api_keeps_its_bounds_and_creates_each_pod_once():
    """Image v1 -> v2 with maxSurge 2, maxUnavailable 1 (25% of 5): bounds hold at every pod event; 10 pods made in all."""
    d0 = deployment(replicas=5, max_surge="25%", max_unavailable="25%")
    d0.metadata.annotations[ann.CHANGE_CAUSE] = "create v1"
    api, ctx, dc, rsc = await started(d0, replicasets=True)
    tasks = [asyncio.create_task(c.run()) for c in (dc, rsc)] + [asyncio.create_task(fake_kubelet(api))]
    try:
        await wait_until(lambda: complete(api, "app:v1"), "v1 rolled out")
        watcher = PodWatcher(api, replicas=5, surge=2, unavailable=1)
        watching = asyncio.create_task(watcher.run())
        tasks.append(watching)
        await asyncio.sleep(0)
        d = await api.get("deployments", "default", "web")
        d.spec.template.spec.containers[0].image = "app:v2"
        d.metadata.annotations[ann.CHANGE_CAUSE] = "set image v2"
        await api.update(d)
        await wait_until(lambda: complete(api, "app:v2"), "v2 rolled out")
        await wait_until(lambda: len(watcher.pods) == 5, "old pods gone")
        assert watcher.violations == []
        assert watcher.peak > 5 and watcher.low < 5, "the rollout never used its surge or its unavailability"
        assert api.count("create", "pods") == 10
        rss = {r.metadata.annotations[ann.REVISION]: r for r in api.objects("replicasets")}
        assert sorted(rss) == ["1", "2"]
        assert rss["1"].spec.replicas == 0 and rss["2"].spec.replicas == 5
        assert rss["1"].metadata.annotations[ann.CHANGE_CAUSE] == "create v1"
        assert rss["2"].metadata.annotations[ann.CHANGE_CAUSE] == "set image v2"
        d = await api.get("deployments", "default", "web")
        assert d.metadata.annotations[ann.REVISION] == "2"
        conditions = {c.type: (c.status, c.reason) for c in d.status.conditions}
        assert conditions == {"Available": ("True", "MinimumReplicasAvailable"),
                              "Progressing": ("True", "NewReplicaSetAvailable")}
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await ctx.close()
