"""The ReplicaSet controller's shell (controller/replicaset/controller.py) over an in-memory API:
expectations against a lagging cache, slow start, deletion order, adoption and release, retried
creates, status writes and events."""
from __future__ import annotations

import time

import pytest

from client.errors import AlreadyExists, Conflict, Forbidden
from controller.manager import ControllerContext, Requeue
from controller.ownership import controller_of
from controller.replicaset.controller import ReplicaSetController
from tests.unit.controller.shell_harness import (
    ApiserverFake, caught_up, copy, events_written, pod, replica_set,
)

pytestmark = pytest.mark.timeout(30)

KEY = "default/web-abc"


async def started(*objects) -> tuple[ApiserverFake, ControllerContext, ReplicaSetController]:
    """A fake API holding `objects` (created in order), a ReplicaSet controller on synced informers."""
    api = ApiserverFake()
    for obj in objects:
        await api.create(obj)
    ctx = ControllerContext(api)
    rsc = ReplicaSetController(ctx)
    await ctx.start_informers(timeout=5)
    return api, ctx, rsc


async def scale(api: ApiserverFake, name: str, replicas: int):
    rs = await api.get("replicasets", "default", name)
    rs.spec.replicas = replicas
    return await api.update(rs)


async def sync_as_the_loop(rsc: ReplicaSetController, key: str = KEY):
    """sync(key), with a Conflict taken as the worker loop takes it: routine, retried later."""
    try:
        return await rsc.sync(key)
    except Conflict:
        return "conflict"


def owned_pods(api: ApiserverFake, rs) -> list:
    return [p for p in api.objects("pods") if (r := controller_of(p)) is not None and r.uid == rs.metadata.uid]


async def test_creates_the_missing_pods_once_even_when_the_cache_lags():
    """Three pods are created, and syncs while the informers have not shown them create no more."""
    api, ctx, rsc = await started(replica_set(replicas=3))
    try:
        api.hold_watches()
        await rsc.sync(KEY)
        assert api.count("create", "pods") == 3
        await sync_as_the_loop(rsc)                 # the cache shows no pod yet: expectations hold
        await sync_as_the_loop(rsc)
        assert api.count("create", "pods") == 3
        assert rsc.expectations[KEY].add == 3

        api.release_watches()
        await caught_up(api, ctx)
        assert rsc.expectations[KEY].fulfilled
        await rsc.sync(KEY)
        assert api.count("create", "pods") == 3
        rs = await api.get("replicasets", "default", "web-abc")
        pods = owned_pods(api, rs)
        assert len(pods) == 3 and rs.status.replicas == 3
        assert all(p.metadata.name.startswith("web-abc-") and len(p.metadata.name) == len("web-abc-") + 5
                   and p.metadata.generate_name == "web-abc-" for p in pods)
        ref = controller_of(pods[0])
        assert (ref.kind, ref.name, ref.block_owner_deletion) == ("ReplicaSet", "web-abc", True)
        events = await events_written(api, ctx)
        assert sorted(e.message for e in events) == sorted(f"Created pod: {p.metadata.name}" for p in pods)
        assert {(e.reason, e.type, e.involved_object.name, e.source.component) for e in events} == {
            ("SuccessfulCreate", "Normal", "web-abc", "replicaset-controller")}
    finally:
        await ctx.close()


async def test_slow_start_stops_at_the_first_failed_batch_and_reports_replica_failure():
    """A refused create stops the round after one request; ReplicaFailure is set; the next round creates all."""
    api, ctx, rsc = await started(replica_set(replicas=10))
    try:
        api.fail_next("create", Forbidden('pods "web-abc-x" is forbidden: exceeded quota', reason="Forbidden",
                                          code=403))
        with pytest.raises(Forbidden):
            await rsc.sync(KEY)
        assert api.count("create", "pods") == 1      # the first batch (1) failed: 2, 4, 3 never sent
        assert rsc.expectations[KEY].fulfilled      # nothing left to wait for
        rs = await api.get("replicasets", "default", "web-abc")
        [failure] = [c for c in rs.status.conditions if c.type == "ReplicaFailure"]
        assert (failure.status, failure.reason) == ("True", "FailedCreate")
        assert "exceeded quota" in failure.message

        await caught_up(api, ctx)
        await rsc.sync(KEY)
        assert api.count("create", "pods") == 11
        await caught_up(api, ctx)
        await rsc.sync(KEY)
        rs = await api.get("replicasets", "default", "web-abc")
        assert rs.status.replicas == 10
        assert not [c for c in rs.status.conditions if c.type == "ReplicaFailure"]
        reasons = [e.reason for e in await events_written(api, ctx)]
        assert reasons.count("FailedCreate") == 1 and reasons.count("SuccessfulCreate") == 10
    finally:
        await ctx.close()


async def test_surplus_pods_are_deleted_unscheduled_then_pending_then_not_ready_first():
    """Scaled from 5 to 2, the ReplicaSet deletes its unscheduled, pending and not-ready pods, keeping the ready ones."""
    api = ApiserverFake()
    rs = await api.create(replica_set(replicas=5))
    now = time.time()
    for p in (pod("ready-old", owner=rs, node="n1", phase="Running", ready_at=now - 300),
              pod("unscheduled", owner=rs),
              pod("not-ready", owner=rs, node="n1", phase="Running"),
              pod("ready-new", owner=rs, node="n1", phase="Running", ready_at=now - 5),
              pod("pending", owner=rs, node="n1", phase="Pending")):
        await api.create(p)
    ctx = ControllerContext(api)
    rsc = ReplicaSetController(ctx)
    await ctx.start_informers(timeout=5)
    try:
        await rsc.sync(KEY)
        assert api.count("create", "pods") == 5     # the five above; nothing to create
        await scale(api, "web-abc", 2)
        await caught_up(api, ctx)
        api.hold_watches()
        await rsc.sync(KEY)
        deleted = [a[3] for a in api.actions if a[:2] == ("delete", "pods")]
        assert deleted == ["unscheduled", "pending", "not-ready"]
        await sync_as_the_loop(rsc)                  # deletions not yet observed: nothing more
        assert sum(1 for a in api.actions if a[:2] == ("delete", "pods")) == 3
        api.release_watches()
        await caught_up(api, ctx)
        assert rsc.expectations[KEY].fulfilled
        await rsc.sync(KEY)
        assert sorted(p.metadata.name for p in api.objects("pods")) == ["ready-new", "ready-old"]
        events = await events_written(api, ctx)
        assert sorted(e.message for e in events if e.reason == "SuccessfulDelete") == [
            "Deleted pod: not-ready", "Deleted pod: pending", "Deleted pod: unscheduled"]
    finally:
        await ctx.close()


async def test_adopts_matching_orphans_and_releases_pods_that_stop_matching():
    """An orphan with matching labels is adopted (and counted), an owned pod relabelled is released."""
    api = ApiserverFake()
    rs = await api.create(replica_set(replicas=2))
    await api.create(pod("orphan"))
    await api.create(pod("other-app", labels={"app": "db"}))
    mine = await api.create(pod("mine", owner=rs))
    ctx = ControllerContext(api)
    rsc = ReplicaSetController(ctx)
    await ctx.start_informers(timeout=5)
    try:
        relabelled = copy(mine)
        relabelled.metadata.labels["app"] = "debug"
        await api.update(relabelled)
        await caught_up(api, ctx)
        await rsc.sync(KEY)
        by_name = {p.metadata.name: p for p in api.objects("pods")}
        assert controller_of(by_name["orphan"]).uid == rs.metadata.uid
        assert controller_of(by_name["mine"]) is None            # released: labels no longer match
        assert controller_of(by_name["other-app"]) is None       # never matched
        assert api.count("create", "pods") == 4                 # 3 made here + 1 by the controller
        assert len(owned_pods(api, rs)) == 2
    finally:
        await ctx.close()


async def test_an_orphan_event_enqueues_every_replica_set_whose_selector_matches():
    """A new orphan pod wakes the ReplicaSets that could adopt it, and only those."""
    db = replica_set("db-xyz", labels={"app": "db"})
    db.spec.selector.match_labels["app"] = "db"
    api, ctx, rsc = await started(replica_set(replicas=0), db)
    try:
        while len(rsc.queue):                        # drain the initial adds
            rsc.queue.done(await rsc.queue.get())
        await api.create(pod("stray"))
        await caught_up(api, ctx)
        assert rsc.queue.state.queued == (KEY,)
    finally:
        await ctx.close()


async def test_a_create_whose_answer_was_lost_is_not_made_twice():
    """A create applied but answered AlreadyExists on retry counts as created: three pods, not four."""
    api, ctx, rsc = await started(replica_set(replicas=3))
    real_create = api.create
    lost = []

    async def create_losing_the_first_answer(obj, **kw):
        stored = await real_create(obj, **kw)
        if obj.kind == "Pod" and not lost:
            lost.append(stored.metadata.name)
            raise AlreadyExists(f'pods "{stored.metadata.name}" already exists', reason="AlreadyExists", code=409)
        return stored

    api.create = create_losing_the_first_answer
    try:
        await rsc.sync(KEY)
        await caught_up(api, ctx)
        await rsc.sync(KEY)
        rs = await api.get("replicasets", "default", "web-abc")
        assert len(owned_pods(api, rs)) == 3 and lost
        assert rsc.expectations[KEY].fulfilled
    finally:
        await ctx.close()


async def test_status_is_written_only_when_it_changes_and_a_conflict_is_raised_for_the_loop():
    """A second sync with nothing new writes nothing; a status write refused as stale raises Conflict."""
    api, ctx, rsc = await started(replica_set(replicas=1))
    try:
        await rsc.sync(KEY)
        await caught_up(api, ctx)
        await rsc.sync(KEY)
        await caught_up(api, ctx)
        writes = api.count("update_status", "replicasets")
        await rsc.sync(KEY)
        assert api.count("update_status", "replicasets") == writes
        rs = await api.get("replicasets", "default", "web-abc")
        assert rs.status.replicas == 1 and rs.status.observed_generation == 1

        await scale(api, "web-abc", 0)
        api.hold_watches()                           # the cache keeps the old resourceVersion
        await scale(api, "web-abc", 0)
        api.release_watches()
        api.fail_next("update_status", Conflict("stale", reason="Conflict", code=409))
        await caught_up(api, ctx)
        with pytest.raises(Conflict):
            await rsc.sync(KEY)
    finally:
        await ctx.close()


async def test_a_pod_becoming_ready_asks_for_a_re_check_when_it_will_be_available():
    """With minReadySeconds, a ready pod yields Requeue(after) for the instant it becomes available."""
    api = ApiserverFake()
    rs = await api.create(replica_set(replicas=1, min_ready_seconds=30))
    await api.create(pod("p", owner=rs, node="n1", phase="Running", ready_at=time.time() - 10))
    ctx = ControllerContext(api)
    rsc = ReplicaSetController(ctx)
    await ctx.start_informers(timeout=5)
    try:
        result = await rsc.sync(KEY)
        assert isinstance(result, Requeue) and 18 < result.after <= 21
        stored = await api.get("replicasets", "default", "web-abc")
        assert stored.status.ready_replicas == 1 and stored.status.available_replicas == 0
    finally:
        await ctx.close()


async def test_a_deleted_replica_set_forgets_its_expectations():
    """Once the ReplicaSet is gone its key syncs to nothing and its expectations are dropped."""
    api, ctx, rsc = await started(replica_set(replicas=2))
    try:
        api.hold_watches()
        await rsc.sync(KEY)
        assert KEY in rsc.expectations
        await api.delete("replicasets", "default", "web-abc")
        api.release_watches()
        await caught_up(api, ctx)
        assert KEY not in rsc.expectations
        assert await rsc.sync(KEY) is None
    finally:
        await ctx.close()
