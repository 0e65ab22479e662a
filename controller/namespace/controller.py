"""The namespace controller's shell: informers -> work queue of namespace names -> sync -> writes.

Watches Namespaces and every namespaced kind (shared informers); writes deletions of the objects
in a terminating namespace, the namespace's status conditions, and finally the namespace's
finalize subresource (spec.finalizers without `kubernetes`), after which the apiserver deletes it.

Handlers only enqueue names (STYLE.md §2): a namespace added or changed while terminating; an
object of a terminating namespace added, changed or deleted (content draining away is what the
controller waits for). `sync` also returns a timed re-check while content remains.

Before finalizing, the emptiness the caches show is confirmed by a live list of every kind: an
object created just before the namespace began terminating may not be in a cache yet, and
finalizing is the one step that cannot be taken back.
"""
from __future__ import annotations

import logging

from google.protobuf.message import Message

from client import kinds
from client.api import JSON_PATCH
from client.errors import ApiError, Conflict, NotFound
from client.informer import DeletedFinalStateUnknown
from controller.manager import ControllerContext, QueueController, Requeue, object_of
from controller.namespace.reconcile import FINALIZER, finalized, is_terminating, reconcile, status_conditions
from skiffpb.k8s.core.v1 import core_pb2

log = logging.getLogger(__name__)

NAMESPACED = tuple(k.resource for k in kinds.KINDS if k.namespaced)


class NamespaceController(QueueController):
    name = "namespace"

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.namespaces = ctx.informer("namespaces")
        self.namespaces.add_handler(on_add=self.on_namespace, on_update=lambda old, new: self.on_namespace(new))
        self.contents = {resource: ctx.informer(resource) for resource in NAMESPACED}
        for inf in self.contents.values():
            inf.add_handler(on_add=self.on_content, on_update=lambda old, new: self.on_content(new),
                            on_delete=self.on_content)

    # -- handlers -----------------------------------------------------------------------------------
    def on_namespace(self, ns: Message) -> None:
        if is_terminating(ns):
            self.enqueue_key(ns.metadata.name)

    def on_content(self, obj: Message | DeletedFinalStateUnknown) -> None:
        name = object_of(obj).metadata.namespace
        ns = self.namespaces.get("", name)
        if ns is not None and is_terminating(ns):
            self.enqueue_key(name)

    # -- sync ---------------------------------------------------------------------------------------
    def cached_contents(self, name: str) -> dict[str, list[Message]]:
        return {r: inf.by_index("namespace", name) for r, inf in self.contents.items()}

    async def live_contents(self, name: str) -> dict[str, list[Message]]:
        return {r: (await self.api.list(r, name))[0] for r in NAMESPACED}

    async def sync(self, key: str) -> Requeue | None:
        ns = self.namespaces.get("", key)
        if ns is None or not is_terminating(ns):
            return None
        now = self.ctx.clock()
        contents = self.cached_contents(key)
        if not any(contents.values()):
            contents = await self.live_contents(key)
        plan = reconcile(ns, contents, now=now)
        failures: list[str] = []
        for resource, obj in plan.delete:
            try:
                await self.api.delete(resource, key, obj.metadata.name, precondition_uid=obj.metadata.uid)
            except (NotFound, Conflict):
                continue            # gone already, or replaced: the next sync sees what is there
            except ApiError as e:
                failures.append(f"{kinds.by_resource(resource).group_resource} {obj.metadata.name}: {e.message}")
        if plan.delete:
            log.info("namespace %s: terminating: deleted %d of %d objects", key,
                     len(plan.delete) - len(failures), len(plan.delete))
        current = await self._write_conditions(ns, contents, failures, now)
        if failures:
            raise RuntimeError(f"namespace {key}: {len(failures)} deletions failed: {failures[0]}")
        if not plan.finalize:
            return Requeue(after=plan.requeue_after) if plan.requeue_after is not None else None
        await self._finalize(current)
        log.info("namespace %s: empty; removed the %s finalizer", key, FINALIZER)
        return None

    async def _write_conditions(self, ns: core_pb2.Namespace, contents, failures, now: float) -> core_pb2.Namespace:
        conditions = status_conditions(ns, contents, failures, now=now)
        if conditions is None:
            return ns
        new = core_pb2.Namespace()
        new.CopyFrom(ns)
        del new.status.conditions[:]
        new.status.conditions.extend(conditions)
        return await self.api.update_status(new)

    async def _finalize(self, ns: core_pb2.Namespace) -> None:
        """spec.finalizers without `kubernetes`, through the finalize subresource, guarded by the
        resourceVersion the emptiness was seen at."""
        want = list(finalized(ns).spec.finalizers)
        patch = [{"op": "test", "path": "/metadata/resourceVersion", "value": ns.metadata.resource_version},
                 {"op": "replace", "path": "/spec/finalizers", "value": want}]
        try:
            await self.api.patch("namespaces", "", ns.metadata.name, JSON_PATCH, patch, subresource="finalize")
        except NotFound:
            pass


def make(ctx: ControllerContext) -> NamespaceController:
    return NamespaceController(ctx)
