"""The ReplicaSet controller's shell: informers -> work queue -> `sync(key)` -> the API.

    c = make(ctx)            # registers its handlers on ctx's shared replicasets and pods informers
    await c.run()            # QueueController's workers call sync("ns/name")

Handlers only compute keys (STYLE.md §2): a ReplicaSet event enqueues the ReplicaSet; a pod event
enqueues the ReplicaSet its controller ownerReference names (the uid checked against the cache),
or, for an orphan, every ReplicaSet of its namespace whose selector matches (one may adopt it).
Pod events also feed the expectations: an add is a creation observed, a deletionTimestamp or a
delete is the deletion of that uid observed.

`sync(key)`, against the informer cache and in Kubernetes' order (syncReplicaSet):
1. claim: the namespace's pods sorted into owned / adopt / release (`reconcile.claim`). Adoption
   first re-reads the ReplicaSet from the apiserver (it must not be being deleted, nor be a
   re-created namesake), then writes each pod with its resourceVersion (a guarded update: a pod
   someone else changed or adopted meanwhile answers Conflict and the sync is retried).
2. the core decides (`reconcile.reconcile`): how many pods to create, which to delete, the status.
   It decides nothing about pods while the expectations of the last round are unmet.
3. create: the expectations are recorded BEFORE the first request (a watch event may arrive before
   the create call returns), then pods are created in slow-start batches 1, 2, 4, ...; a batch with
   a failure stops the round, and the creations that will never be observed (failed, or skipped)
   are taken off the expectations. delete: the uids are recorded, then every pod is deleted with its
   uid as a precondition.
4. status: written through the status subresource, only when it changed, with the cache's
   resourceVersion (Conflict: the loop retries). A round that failed sets ReplicaFailure.
5. `Requeue(after)` when a ready pod will become available (minReadySeconds).

Pod names: the shell names each pod itself, `<generateName><5 random characters>` as the apiserver
would (Kubernetes lets the apiserver pick). The client retries a create whose answer was lost; with
a server-picked name that retry would make a second pod, with ours it answers AlreadyExists, and a
pod of that name controlled by this ReplicaSet is the first attempt's: counted as created, not
again. A name taken by someone else's pod gets another name.

Events, as Kubernetes: `SuccessfulCreate` `Created pod: web-5d78c9-abcde`, `SuccessfulDelete`
`Deleted pod: ...`, `FailedCreate` `Error creating: ...`, `FailedDelete` `Error deleting: ...`.
"""
from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

from client.errors import AlreadyExists, Conflict, NotFound, Timeout
from client.informer import DeletedFinalStateUnknown, key_of, split_key
from client.selectors import SelectorError, label_selector_from_proto
from controller.expectations import Expectations, satisfied
from controller.manager import ControllerContext, QueueController, Requeue, object_of
from controller.ownership import adopted, controller_of, is_being_deleted, released
from controller.replicaset.reconcile import (
    calculate_status, claim, desired_replicas, is_active, owner_reference, pod_from_template, reconcile,
    slow_start_batches,
)
from skiffpb.k8s.apps.v1 import apps_pb2
from skiffpb.k8s.core.v1 import core_pb2

log = logging.getLogger(__name__)

__all__ = ["ReplicaSetController", "make", "pod_name"]

NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"   # the apiserver's generateName alphabet (no vowels)
MAX_GENERATED_PREFIX = 58                        # 63 - 5 random characters, as the apiserver cuts it
_NAME_ATTEMPTS = 3


def pod_name(generate_name: str, rng: random.Random) -> str:
    """A name for a pod with `generateName`, as the apiserver would make it."""
    return generate_name[:MAX_GENERATED_PREFIX] + "".join(rng.choice(NAME_ALPHABET) for _ in range(5))


def _copy(msg):
    new = type(msg)()
    new.CopyFrom(msg)
    return new


class ReplicaSetController(QueueController):
    """Keeps each ReplicaSet's pods at spec.replicas (see the module docstring)."""

    name = "replicaset"

    def __init__(self, ctx: ControllerContext, *, rng: random.Random | None = None):
        super().__init__(ctx)
        self.rss = ctx.informer("replicasets")
        self.pods = ctx.informer("pods")
        self.expectations: dict[str, Expectations] = {}
        self._rng = rng or random.Random()
        self.rss.add_handler(on_add=self.on_replicaset_add, on_update=self.on_replicaset_update,
                             on_delete=self.on_replicaset_delete)
        self.pods.add_handler(on_add=self.on_pod_add, on_update=self.on_pod_update, on_delete=self.on_pod_delete)

    # -- handlers: compute keys, note observations, nothing else ---------------------------------------
    def on_replicaset_add(self, rs: apps_pb2.ReplicaSet) -> None:
        self.enqueue(rs)

    def on_replicaset_update(self, old: apps_pb2.ReplicaSet, new: apps_pb2.ReplicaSet) -> None:
        if old.metadata.uid != new.metadata.uid:
            # Deleted and re-created between two events: the old one's expectations mean nothing.
            self.expectations.pop(key_of(new), None)
        self.enqueue(new)

    def on_replicaset_delete(self, obj: apps_pb2.ReplicaSet | DeletedFinalStateUnknown) -> None:
        key = key_of(obj)
        self.expectations.pop(key, None)
        self.enqueue_key(key)

    def on_pod_add(self, pod: core_pb2.Pod) -> None:
        if is_being_deleted(pod):
            # Seen for the first time already terminating (a relist, a restart): a deletion observed.
            self.on_pod_delete(pod)
            return
        key = self._owner_key(pod)
        if key is not None:
            self._observe(key, lambda e: e.creation_observed())
            self.enqueue_key(key)
        elif controller_of(pod) is None:
            for k in self._matching_keys(pod):
                self.enqueue_key(k)

    def on_pod_update(self, old: core_pb2.Pod, new: core_pb2.Pod) -> None:
        if old.metadata.resource_version == new.metadata.resource_version:
            return      # a resync: the ReplicaSets' own resync re-checks everything
        labels_changed = dict(old.metadata.labels) != dict(new.metadata.labels)
        if is_being_deleted(new):
            self.on_pod_delete(new)
            if labels_changed:
                self.on_pod_delete(old)     # the old labels' owner may be another ReplicaSet
            return
        old_ref, new_ref = controller_of(old), controller_of(new)
        ref_changed = (old_ref.uid if old_ref else None) != (new_ref.uid if new_ref else None)
        if ref_changed and old_ref is not None:
            key = self._owner_key(old)      # the previous owner must notice it lost the pod
            if key is not None:
                self.enqueue_key(key)
        key = self._owner_key(new)
        if key is not None:
            self.enqueue_key(key)
        elif new_ref is None and (labels_changed or ref_changed):
            for k in self._matching_keys(new):
                self.enqueue_key(k)

    def on_pod_delete(self, obj: core_pb2.Pod | DeletedFinalStateUnknown) -> None:
        pod = object_of(obj)
        key = self._owner_key(pod)
        if key is None:
            return
        uid = pod.metadata.uid
        self._observe(key, lambda e: e.deletion_observed(uid))
        self.enqueue_key(key)

    def _observe(self, key: str, change: Callable[[Expectations], Expectations]) -> None:
        record = self.expectations.get(key)
        if record is not None:
            self.expectations[key] = change(record)

    def _owner_key(self, pod: core_pb2.Pod) -> str | None:
        """The key of the cached ReplicaSet controlling `pod` (same uid), else None."""
        ref = controller_of(pod)
        if ref is None or ref.kind != "ReplicaSet":
            return None
        rs = self.rss.get(pod.metadata.namespace, ref.name)
        if rs is None or rs.metadata.uid != ref.uid:
            return None
        return key_of(rs)

    def _matching_keys(self, pod: core_pb2.Pod) -> list[str]:
        """ReplicaSets of the pod's namespace whose (non-empty) selector matches it: they may adopt it."""
        out = []
        for rs in self.rss.by_index("namespace", pod.metadata.namespace):
            sel = rs.spec.selector
            if not sel.match_labels and not sel.match_expressions:
                continue
            try:
                if label_selector_from_proto(sel).matches(pod.metadata.labels):
                    out.append(key_of(rs))
            except SelectorError:
                continue
        return out

    # -- sync ---------------------------------------------------------------------------------------------
    async def sync(self, key: str) -> Requeue | None:
        ns, name = split_key(key)
        rs = self.rss.get(ns, name)
        if rs is None:
            self.expectations.pop(key, None)
            return None
        now = self.ctx.clock()
        may_act = satisfied(self.expectations.get(key), now)
        owned = await self._claim(rs)
        plan = reconcile(rs, owned, now=now, expectations_satisfied=may_act)
        error: Exception | None = None
        try:
            if plan.create or plan.delete:
                log.info("replicaset %s (generation %d, rv %s): %d active pod(s), %d wanted", key,
                         rs.metadata.generation, rs.metadata.resource_version,
                         sum(1 for p in owned if is_active(p)), desired_replicas(rs))
            if plan.create:
                await self._create(key, rs, plan.create, now)
            elif plan.delete:
                await self._delete(key, rs, plan.delete, now)
        except Exception as e:  # noqa: BLE001 - reported in status (ReplicaFailure), then raised
            error = e
        status = plan.status
        if error is not None:
            status = calculate_status(rs, owned, now, manage_error=str(error))
            status = None if status == rs.status else status
        if status is not None:
            new = _copy(rs)                     # NEVER mutate the cache's object
            new.status.CopyFrom(status)
            await self.api.update_status(new)   # the cache's resourceVersion: a stale write is refused
        if error is not None:
            raise error
        return Requeue(plan.requeue_after) if plan.requeue_after is not None else None

    async def _claim(self, rs: apps_pb2.ReplicaSet) -> list[core_pb2.Pod]:
        """The pods `rs` controls after adopting matching orphans and releasing non-matching pods."""
        c = claim(rs, self.pods.by_index("namespace", rs.metadata.namespace))
        owned = list(c.owned)
        if c.adopt and await self._can_adopt(rs):
            ref = owner_reference(rs)
            for pod in c.adopt:
                try:
                    owned.append(await self.api.update(adopted(pod, ref)))
                except NotFound:
                    continue                    # gone meanwhile: nothing to adopt
                log.info("replicaset %s/%s: adopted pod %s", rs.metadata.namespace, rs.metadata.name,
                         pod.metadata.name)
        for pod in c.release:
            try:
                await self.api.update(released(pod, rs.metadata.uid))
            except NotFound:
                continue
            log.info("replicaset %s/%s: released pod %s (labels no longer match)", rs.metadata.namespace,
                     rs.metadata.name, pod.metadata.name)
        return owned

    async def _can_adopt(self, rs: apps_pb2.ReplicaSet) -> bool:
        """Kubernetes' RecheckDeletionTimestamp: a live read, since the cache may not show a deletion."""
        try:
            fresh = await self.api.get("replicasets", rs.metadata.namespace, rs.metadata.name)
        except NotFound:
            return False
        return fresh.metadata.uid == rs.metadata.uid and not is_being_deleted(fresh)

    async def _create(self, key: str, rs: apps_pb2.ReplicaSet, count: int, now: float) -> None:
        # Recorded BEFORE the first create: the informer may deliver the pod before create returns.
        self.expectations[key] = Expectations.expecting(add=count, now=now)
        log.info("replicaset %s: creating %d pod(s)", key, count)
        left = count
        for batch in slow_start_batches(count):
            left -= batch
            results = await asyncio.gather(*(self._create_pod(rs) for _ in range(batch)), return_exceptions=True)
            failures: list[Exception] = []
            for r in results:
                if isinstance(r, core_pb2.Pod):
                    self.events.event(rs, "Normal", "SuccessfulCreate", f"Created pod: {r.metadata.name}")
                elif isinstance(r, Timeout):
                    # Kubernetes' rule: the create may well have been applied; its add event will
                    # tell (or the expectations expire). Counting it as failed risks a double.
                    log.warning("replicaset %s: pod create timed out (counted as created): %s", key, r)
                elif isinstance(r, Exception):
                    failures.append(r)
                    self._observe(key, lambda e: e.creation_observed())
                    self.events.event(rs, "Warning", "FailedCreate", f"Error creating: {r}")
                else:
                    raise r                     # CancelledError and the like: not ours to handle
            if failures:
                # Slow start: the batches not sent will never be observed either.
                self._observe(key, lambda e: e.creation_observed(left))
                raise failures[0]

    async def _create_pod(self, rs: apps_pb2.ReplicaSet) -> core_pb2.Pod:
        template = pod_from_template(rs)
        for _ in range(_NAME_ATTEMPTS):
            pod = _copy(template)
            pod.metadata.name = pod_name(template.metadata.generate_name, self._rng)
            try:
                return await self.api.create(pod)
            except AlreadyExists:
                try:
                    existing = await self.api.get("pods", pod.metadata.namespace, pod.metadata.name)
                except NotFound:
                    continue                    # deleted meanwhile: try a new name
                ref = controller_of(existing)
                if ref is not None and ref.uid == rs.metadata.uid:
                    return existing             # our own first attempt, applied; its answer was lost
        raise AlreadyExists(f"replicaset {rs.metadata.namespace}/{rs.metadata.name}: {_NAME_ATTEMPTS} generated "
                            "pod names in a row were taken", reason="AlreadyExists", code=409)

    async def _delete(self, key: str, rs: apps_pb2.ReplicaSet, pods: tuple[core_pb2.Pod, ...], now: float) -> None:
        self.expectations[key] = Expectations.expecting(delete=[p.metadata.uid for p in pods], now=now)
        log.info("replicaset %s: deleting %d pod(s): %s", key, len(pods), ", ".join(p.metadata.name for p in pods))
        results = await asyncio.gather(*(self.api.delete("pods", p.metadata.namespace, p.metadata.name,
                                                         precondition_uid=p.metadata.uid) for p in pods),
                                       return_exceptions=True)
        first: Exception | None = None
        for pod, r in zip(pods, results):
            uid = pod.metadata.uid
            if isinstance(r, (NotFound, Conflict)):
                # Gone already, or the name now belongs to another pod (uid precondition): ours is gone.
                self._observe(key, lambda e: e.deletion_observed(uid))
            elif isinstance(r, Exception):
                self._observe(key, lambda e: e.deletion_observed(uid))
                self.events.event(rs, "Warning", "FailedDelete", f"Error deleting: {r}")
                first = first or r
            elif isinstance(r, BaseException):
                raise r
            else:
                self.events.event(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {pod.metadata.name}")
        if first is not None:
            raise first


def make(ctx: ControllerContext) -> ReplicaSetController:
    return ReplicaSetController(ctx)
