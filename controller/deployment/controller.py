"""The Deployment controller's shell: informers -> work queue -> `sync(key)` -> the API.

    c = make(ctx)            # registers handlers on ctx's deployments, replicasets and pods informers
    await c.run()

Handlers only compute keys (STYLE.md §2): a Deployment event enqueues it; a ReplicaSet event
enqueues the Deployment its controller ownerReference names (uid checked against the cache), or,
for an orphan, every Deployment of the namespace whose selector matches; a pod deletion enqueues
the Deployment owning the pod's ReplicaSet when it is a Recreate one (it waits for old pods to go).

`sync(key)`, against the informer cache, as Kubernetes' syncDeployment:
1. claim the namespace's ReplicaSets (`reconcile.claim_replica_sets`), adopting matching orphans
   and releasing owned ones that stopped matching with guarded updates (after a live re-read of the
   Deployment: no adoption by one being deleted). An empty selector claims nothing (SelectingAll).
2. the core decides a `Plan` (`reconcile.reconcile`), applied in its order, stopping at the first
   failed write (raised: the work queue retries with backoff; the next sync recomputes from the
   cache, so a partial plan only delays):
   - `create`: the new ReplicaSet `<deployment>-<pod-template-hash>`. AlreadyExists goes to the
     core's `on_already_exists` with the live object: ours with our template (our cache lags, or a
     retried create had landed) -> sync again; anything else is a hash collision -> write
     status.collisionCount + 1 (the next sync hashes to another name). Another refusal sets
     Progressing=False ReplicaSetCreateError (with a progress deadline) and a FailedCreate event.
   - `update`: each ReplicaSet written whole, with the cache's resourceVersion (spec.replicas, the
     desired/max-replicas and revision annotations): a stale decision answers Conflict, never
     overwrites.
   - `delete`: old ReplicaSets beyond revisionHistoryLimit, with uid and resourceVersion
     preconditions, so one scaled up again meanwhile (a rollback) is not deleted.
   - the revision annotation and the status, together, through the status subresource (the
     apiserver takes annotations there for Deployments: the generation does not move).
3. `Requeue(after)` for the progress deadline; minReadySeconds is the ReplicaSets' business
   (their status changes wake the Deployment).
Events are recorded once the write they describe succeeded: `ScalingReplicaSet` `Scaled up replica
set web-5d78c9 to 3`, `Scaled down replica set web-7f9c4 to 1 from 2`.
"""
from __future__ import annotations

import logging
import re

from client.errors import AlreadyExists, ApiError, Conflict, NotFound, Timeout, Unavailable
from client.informer import DeletedFinalStateUnknown, key_of, split_key
from client.selectors import SelectorError, label_selector_from_proto
from controller.deployment import annotations as ann
from controller.deployment import rollout, status as st
from controller.deployment.reconcile import Event, Plan, claim_replica_sets, on_already_exists, reconcile
from controller.manager import ControllerContext, QueueController, Requeue, object_of
from controller.ownership import adopted, controller_of, is_being_deleted, owner_reference, released
from skiffpb.k8s.apps.v1 import apps_pb2
from skiffpb.k8s.core.v1 import core_pb2

log = logging.getLogger(__name__)

__all__ = ["DeploymentController", "make"]

# A ReplicaSet of ours whose create answered AlreadyExists but which the cache does not show yet:
# its add event will enqueue the Deployment; this re-check is only a safety net.
LAGGING_CACHE_RECHECK = 1.0
_SUBJECT = re.compile(r"replica set (\S+) to ")


def _copy(msg):
    new = type(msg)()
    new.CopyFrom(msg)
    return new


def _empty_selector(d: apps_pb2.Deployment) -> bool:
    return not d.spec.selector.match_labels and not d.spec.selector.match_expressions


class DeploymentController(QueueController):
    """Rolls each Deployment's template out through its ReplicaSets (see the module docstring)."""

    name = "deployment"

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.deployments = ctx.informer("deployments")
        self.rss = ctx.informer("replicasets")
        self.pods = ctx.informer("pods")
        self.deployments.add_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
                                     on_delete=self.enqueue)
        self.rss.add_handler(on_add=self.on_replicaset_add, on_update=self.on_replicaset_update,
                             on_delete=self.on_replicaset_delete)
        self.pods.add_handler(on_delete=self.on_pod_delete)

    # -- handlers: compute keys, nothing else -------------------------------------------------------------
    def on_replicaset_add(self, rs: apps_pb2.ReplicaSet) -> None:
        if is_being_deleted(rs):
            self.on_replicaset_delete(rs)
            return
        key = self._owner_key(rs)
        if key is not None:
            self.enqueue_key(key)
        elif controller_of(rs) is None:
            for k in self._matching_keys(rs):
                self.enqueue_key(k)

    def on_replicaset_update(self, old: apps_pb2.ReplicaSet, new: apps_pb2.ReplicaSet) -> None:
        if old.metadata.resource_version == new.metadata.resource_version:
            return      # a resync: the Deployments' own resync re-checks everything
        old_ref, new_ref = controller_of(old), controller_of(new)
        ref_changed = (old_ref.uid if old_ref else None) != (new_ref.uid if new_ref else None)
        if ref_changed and old_ref is not None:
            key = self._owner_key(old)
            if key is not None:
                self.enqueue_key(key)
        key = self._owner_key(new)
        if key is not None:
            self.enqueue_key(key)
        elif new_ref is None and (ref_changed or dict(old.metadata.labels) != dict(new.metadata.labels)):
            for k in self._matching_keys(new):
                self.enqueue_key(k)

    def on_replicaset_delete(self, obj: apps_pb2.ReplicaSet | DeletedFinalStateUnknown) -> None:
        key = self._owner_key(object_of(obj))
        if key is not None:
            self.enqueue_key(key)

    def on_pod_delete(self, obj: core_pb2.Pod | DeletedFinalStateUnknown) -> None:
        """Recreate waits until no old pod runs: a pod gone may let it go on."""
        pod = object_of(obj)
        ref = controller_of(pod)
        if ref is None or ref.kind != "ReplicaSet":
            return
        rs = self.rss.get(pod.metadata.namespace, ref.name)
        if rs is None or rs.metadata.uid != ref.uid:
            return
        key = self._owner_key(rs)
        d = self.deployments.get_by_key(key) if key is not None else None
        if d is not None and not rollout.is_rolling_update(d):
            self.enqueue_key(key)

    def _owner_key(self, rs: apps_pb2.ReplicaSet) -> str | None:
        """The key of the cached Deployment controlling `rs` (same uid), else None."""
        ref = controller_of(rs)
        if ref is None or ref.kind != "Deployment":
            return None
        d = self.deployments.get(rs.metadata.namespace, ref.name)
        if d is None or d.metadata.uid != ref.uid:
            return None
        return key_of(d)

    def _matching_keys(self, rs: apps_pb2.ReplicaSet) -> list[str]:
        """Deployments of the namespace whose (non-empty) selector matches `rs`: they may adopt it."""
        out = []
        for d in self.deployments.by_index("namespace", rs.metadata.namespace):
            if _empty_selector(d):
                continue
            try:
                if label_selector_from_proto(d.spec.selector).matches(rs.metadata.labels):
                    out.append(key_of(d))
            except SelectorError:
                continue
        return out

    # -- sync ---------------------------------------------------------------------------------------------
    async def sync(self, key: str) -> Requeue | None:
        ns, name = split_key(key)
        d = self.deployments.get(ns, name)
        if d is None:
            return None
        now = self.ctx.clock()
        rss = [] if _empty_selector(d) else await self._claim(d)
        pods = [] if rollout.is_rolling_update(d) else self._pods_of(rss)
        plan = reconcile(d, rss, pods, now=now)
        for ev in plan.events:
            if _SUBJECT.search(ev.message) is None:     # about no ReplicaSet (SelectingAll): now
                self.events.event(d, ev.type, ev.reason, ev.message)
        if plan.create is not None:
            outcome = await self._create(d, plan.create, now)
            if outcome is not None:
                return outcome
            self._record(d, plan.events, plan.create.metadata.name)
        for rs in plan.update:
            await self.api.update(rs)   # carries the cache's resourceVersion: guarded
            self._record(d, plan.events, rs.metadata.name)
        for rs in plan.delete:
            await self._delete(d, rs)
        if plan.revision is not None or plan.status is not None:
            await self._write_status(d, plan)
        return Requeue(plan.requeue_after) if plan.requeue_after is not None else None

    def _record(self, d: apps_pb2.Deployment, events: tuple[Event, ...], rs_name: str) -> None:
        """The plan's events about ReplicaSet `rs_name`, now that its write succeeded."""
        for ev in events:
            m = _SUBJECT.search(ev.message)
            if m is not None and m.group(1) == rs_name:
                log.info("deployment %s/%s (generation %d): %s", d.metadata.namespace, d.metadata.name,
                         d.metadata.generation, ev.message)
                self.events.event(d, ev.type, ev.reason, ev.message)

    async def _claim(self, d: apps_pb2.Deployment) -> list[apps_pb2.ReplicaSet]:
        """The ReplicaSets `d` controls after adopting matching orphans and releasing non-matching ones."""
        c = claim_replica_sets(d, self.rss.by_index("namespace", d.metadata.namespace))
        owned = list(c.owned)
        if c.adopt and await self._can_adopt(d):
            ref = owner_reference(d, kind="Deployment")
            for rs in c.adopt:
                try:
                    owned.append(await self.api.update(adopted(rs, ref)))
                except NotFound:
                    continue
                log.info("deployment %s/%s: adopted replica set %s", d.metadata.namespace, d.metadata.name,
                         rs.metadata.name)
        for rs in c.release:
            try:
                await self.api.update(released(rs, d.metadata.uid))
            except NotFound:
                continue
            log.info("deployment %s/%s: released replica set %s (labels no longer match)", d.metadata.namespace,
                     d.metadata.name, rs.metadata.name)
        return owned

    async def _can_adopt(self, d: apps_pb2.Deployment) -> bool:
        """Kubernetes' RecheckDeletionTimestamp: a live read, since the cache may not show a deletion."""
        try:
            fresh = await self.api.get("deployments", d.metadata.namespace, d.metadata.name)
        except NotFound:
            return False
        return fresh.metadata.uid == d.metadata.uid and not is_being_deleted(fresh)

    def _pods_of(self, rss: list[apps_pb2.ReplicaSet]) -> list[core_pb2.Pod]:
        """The pods controlled by `rss` (Recreate needs to know whether old ones still run)."""
        out = []
        for rs in rss:
            out.extend(p for p in self.pods.by_index("owner", rs.metadata.uid)
                       if (ref := controller_of(p)) is not None and ref.uid == rs.metadata.uid)
        return out

    async def _create(self, d: apps_pb2.Deployment, rs: apps_pb2.ReplicaSet, now: float) -> Requeue | None:
        """Creates the new ReplicaSet; None when created, else what the sync returns instead."""
        ns, name = rs.metadata.namespace, rs.metadata.name
        try:
            await self.api.create(rs)
            log.info("deployment %s/%s: created replica set %s (revision %s)", d.metadata.namespace,
                     d.metadata.name, name, rs.metadata.annotations.get(ann.REVISION, ""))
            return None
        except AlreadyExists:
            try:
                existing = await self.api.get("replicasets", ns, name)
            except NotFound:
                raise Conflict(f'replicasets.apps "{name}" was deleted right after answering AlreadyExists',
                               reason="Conflict", code=409) from None
            status = on_already_exists(d, existing)
            if status is None:
                return Requeue(LAGGING_CACHE_RECHECK)
            log.info("deployment %s/%s: hash collision on replica set %s; collisionCount -> %d",
                     d.metadata.namespace, d.metadata.name, name, status.collision_count)
            new = _copy(d)
            new.status.CopyFrom(status)
            await self.api.update_status(new)
            return Requeue(0.0)
        except (Unavailable, Timeout):
            raise                               # no answer: not a refusal to report
        except ApiError as e:
            message = f'Failed to create new replica set "{name}": {e}'
            self.events.event(d, "Warning", "FailedCreate", message)
            if st.has_progress_deadline(d):
                new = _copy(d)
                st.set_condition(new.status, st.failed_create_condition(name, str(e), now))
                if new.status != d.status:
                    await self.api.update_status(new)
            raise

    async def _delete(self, d: apps_pb2.Deployment, rs: apps_pb2.ReplicaSet) -> None:
        try:
            await self.api.delete("replicasets", rs.metadata.namespace, rs.metadata.name,
                                  precondition_uid=rs.metadata.uid,
                                  precondition_resource_version=rs.metadata.resource_version)
        except NotFound:
            return
        except Conflict:
            # Changed since we read it (scaled up by a rollback?): the next sync judges it again.
            log.info("deployment %s/%s: replica set %s changed; not deleted", d.metadata.namespace,
                     d.metadata.name, rs.metadata.name)
            return
        log.info("deployment %s/%s: deleted old replica set %s (revisionHistoryLimit %d)", d.metadata.namespace,
                 d.metadata.name, rs.metadata.name, d.spec.revision_history_limit)

    async def _write_status(self, d: apps_pb2.Deployment, plan: Plan) -> None:
        new = _copy(d)                          # NEVER mutate the cache's object
        if plan.revision is not None:
            new.metadata.annotations[ann.REVISION] = plan.revision
        if plan.status is not None:
            new.status.CopyFrom(plan.status)
        await self.api.update_status(new)       # the cache's resourceVersion: a stale write is refused


def make(ctx: ControllerContext) -> DeploymentController:
    return DeploymentController(ctx)
