"""The garbage collector's shell: informers of every kind -> work queue of object keys -> sync.

Watches every kind in client/kinds.py (any object may carry ownerReferences); writes deletions
(with the propagation policy the core chose), ownerReference removals and finalizer removals. The
decisions are `controller.garbagecollector.reconcile`'s; this module finds owners and dependents
and writes.

Keys are `resource/namespace/name` ("pods/default/web-1", "nodes//n1"). Handlers only enqueue
(STYLE.md §2):
- an object added or changed that has ownerReferences, or is being deleted with the `orphan` or
  `foregroundDeletion` finalizer: its own key;
- an object changed so that it no longer names some owner: those owners' keys (one may be waiting
  for it in a foreground deletion);
- an object deleted: its owners' keys (same reason) and its dependents' keys (their owner may now
  be gone).
The informers' periodic resync re-checks every owned object: a missed event only delays.

Owners are looked up in the owner kind's cache by name and compared by uid; one the cache does not
have (or has with another uid) is read live before it counts as gone, because the owner's cache may
lag the dependent's. Every write carries the resourceVersion the decision was made on (a deletion
also the uid), so a decision on a stale view fails with a Conflict and is made again.
"""
from __future__ import annotations

import functools
import logging

from google.protobuf.message import Message

from client import kinds
from client.errors import NotFound
from client.informer import DeletedFinalStateUnknown
from controller.garbagecollector.reconcile import (
    ABSENT, FOREGROUND, ORPHAN, OwnerState, attempt_to_delete, being_deleted, deleting_dependents,
    owner_plan, unblocked, without_finalizer, without_refs,
)
from controller.manager import ControllerContext, QueueController, Requeue, object_of

log = logging.getLogger(__name__)


def object_key(resource: str, obj: Message) -> str:
    return f"{resource}/{obj.metadata.namespace}/{obj.metadata.name}"


def split_object_key(key: str) -> tuple[str, str, str]:
    resource, ns, name = key.split("/", 2)
    return resource, ns, name


def owner_kind(ref) -> kinds.Kind | None:
    try:
        return kinds.by_gvk(ref.api_version, ref.kind)
    except kinds.UnknownKind:
        return None                 # a kind Skiff does not serve: the owner cannot be looked up


# An owner the collector cannot look up (a kind Skiff does not serve; a namespaced owner of a
# cluster-scoped object). Kubernetes never collects such a dependent (it reports the reference as
# unresolvable); counting the owner as present does the same: the object is kept, nothing dropped.
UNRESOLVABLE = OwnerState(exists=True)


def _interesting(obj: Message) -> bool:
    if obj.metadata.owner_references:
        return True
    return being_deleted(obj) and any(f in (ORPHAN, FOREGROUND) for f in obj.metadata.finalizers)


class GarbageCollector(QueueController):
    name = "garbage-collector"      # Events come from "garbage-collector-controller"

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.informers = {k.resource: ctx.informer(k.resource) for k in kinds.KINDS}
        for resource, inf in self.informers.items():
            inf.add_handler(on_add=functools.partial(self.on_add, resource),
                            on_update=functools.partial(self.on_update, resource),
                            on_delete=functools.partial(self.on_delete, resource))

    # -- handlers -----------------------------------------------------------------------------------
    def _enqueue_owners(self, obj: Message, uids: set[str] | None = None) -> None:
        for ref in obj.metadata.owner_references:
            if uids is not None and ref.uid not in uids:
                continue
            kind = owner_kind(ref)
            if kind is not None:
                ns = obj.metadata.namespace if kind.namespaced else ""
                self.enqueue_key(f"{kind.resource}/{ns}/{ref.name}")

    def on_add(self, resource: str, obj: Message) -> None:
        if _interesting(obj):
            self.enqueue_key(object_key(resource, obj))

    def on_update(self, resource: str, old: Message, new: Message) -> None:
        if _interesting(new):
            self.enqueue_key(object_key(resource, new))
        dropped = {r.uid for r in old.metadata.owner_references} - {r.uid for r in new.metadata.owner_references}
        if dropped:
            self._enqueue_owners(old, dropped)

    def on_delete(self, resource: str, obj: Message | DeletedFinalStateUnknown) -> None:
        gone = object_of(obj)
        self._enqueue_owners(gone)
        for dep_resource, dep in self.dependents(gone.metadata.uid):
            self.enqueue_key(object_key(dep_resource, dep))

    # -- reads ----------------------------------------------------------------------------------------
    def dependents(self, uid: str) -> list[tuple[str, Message]]:
        """Every cached object with an ownerReference to `uid` (READ-ONLY)."""
        if not uid:
            return []
        return [(resource, d) for resource, inf in self.informers.items() for d in inf.by_index("owner", uid)]

    async def owner_state(self, obj: Message, ref) -> OwnerState:
        kind = owner_kind(ref)
        if kind is None:
            log.warning("%s %s: owner %s %s (uid %s) is of a kind Skiff does not serve; the object is kept",
                        type(obj).__name__, obj.metadata.name, ref.api_version, ref.kind, ref.uid)
            return UNRESOLVABLE
        if kind.namespaced and not obj.metadata.namespace:
            self.events.event(obj, "Warning", "OwnerRefInvalidNamespace",
                              f"ownerRef [{ref.api_version}/{ref.kind}, namespace: , name: {ref.name}, uid: "
                              f"{ref.uid}] does not exist in namespace \"\"")
            return UNRESOLVABLE
        ns = obj.metadata.namespace if kind.namespaced else ""
        cached = self.informers[kind.resource].get(ns, ref.name)
        if cached is not None and cached.metadata.uid == ref.uid:
            return OwnerState(exists=True, deleting_dependents=deleting_dependents(cached))
        # Not in the cache (or another object of that name): confirm with a live read, the owner's
        # cache may lag the dependent's (a dependent created right after its owner).
        try:
            live = await self.api.get(kind, ns, ref.name)
        except NotFound:
            return ABSENT
        if live.metadata.uid != ref.uid:
            return ABSENT
        return OwnerState(exists=True, deleting_dependents=deleting_dependents(live))

    # -- sync -----------------------------------------------------------------------------------------
    async def sync(self, key: str) -> Requeue | None:
        resource, ns, name = split_object_key(key)
        inf = self.informers.get(resource)
        obj = inf.get(ns, name) if inf is not None else None
        if obj is None:
            return None
        deps = self.dependents(obj.metadata.uid)
        if being_deleted(obj):
            await self._as_owner(key, obj, deps)
            return None
        if not obj.metadata.owner_references:
            return None
        owners = {ref.uid: await self.owner_state(obj, ref) for ref in obj.metadata.owner_references}
        plan = attempt_to_delete(obj, owners, [d for _, d in deps])
        if plan.remove_refs:
            await self.api.update(without_refs(obj, plan.remove_refs))
            log.info("garbage collector: %s: removed references to owners %s (gone or being deleted)",
                     key, list(plan.remove_refs))
        if plan.delete is not None:
            if plan.unblock:
                obj = await self.api.update(unblocked(obj))
            try:
                await self.api.delete(resource, ns, name, propagation_policy=plan.delete,
                                      precondition_uid=obj.metadata.uid,
                                      precondition_resource_version=obj.metadata.resource_version)
            except NotFound:
                return None
            log.info("garbage collector: deleted %s (%s): no owner left", key, plan.delete)
        return None

    async def _as_owner(self, key: str, owner: Message, deps: list[tuple[str, Message]]) -> None:
        resources = {id(d): r for r, d in deps}
        plan = owner_plan(owner, [d for _, d in deps])
        for d in plan.orphan:
            try:
                await self.api.update(without_refs(d, [owner.metadata.uid]))
            except NotFound:
                continue
            log.info("garbage collector: orphaned %s (owner %s is being deleted)",
                     object_key(resources[id(d)], d), key)
        for d in plan.check:
            self.enqueue_key(object_key(resources[id(d)], d))
        if plan.remove_finalizer is not None:
            try:
                await self.api.update(without_finalizer(owner, plan.remove_finalizer))
            except NotFound:
                return
            log.info("garbage collector: %s: removed the %s finalizer", key, plan.remove_finalizer)


def make(ctx: ControllerContext) -> GarbageCollector:
    return GarbageCollector(ctx)
