"""The endpoints controller's shell: informers -> work queue of Service keys -> sync -> one write.

Watches Services, Pods and Endpoints (shared informers); writes Endpoints (create, update, delete)
and Warning Events on a Service whose Endpoints cannot be written. The decision is
`controller.endpoints.reconcile.desired_endpoints`; this module only finds the inputs and writes.

Handlers only enqueue Service keys (STYLE.md §2):
- a Service added, changed or deleted: its key;
- a Pod added, changed or deleted: the keys of the Services in its namespace whose selector matches
  its labels, before or after the change;
- an Endpoints object changed or deleted while its Service exists: that Service's key (so a
  tampered or deleted Endpoints is put right);
- at start, every Endpoints object's key, so one left behind by a Service deleted while no
  controller ran is deleted (Kubernetes' checkLeftoverEndpoints).
"""
from __future__ import annotations

import logging

from google.protobuf.message import Message

from client.errors import AlreadyExists, ApiError, Forbidden, NotFound
from client.informer import DeletedFinalStateUnknown, key_of, split_key
from client.selectors import selector_from_set
from controller.endpoints.reconcile import desired_endpoints
from controller.manager import ControllerContext, QueueController, Requeue, object_of

log = logging.getLogger(__name__)


def _terminating_namespace(e: ApiError) -> bool:
    return isinstance(e, Forbidden) and "because it is being terminated" in e.message


class EndpointsController(QueueController):
    name = "endpoint"               # Events come from "endpoint-controller", as in Kubernetes

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.services = ctx.informer("services")
        self.pods = ctx.informer("pods")
        self.endpoints = ctx.informer("endpoints")
        self.services.add_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
                                  on_delete=self.enqueue)
        self.pods.add_handler(on_add=self.on_pod_add, on_update=self.on_pod_update,
                              on_delete=self.on_pod_delete)
        self.endpoints.add_handler(on_update=self.on_endpoints_update, on_delete=self.on_endpoints_delete)

    # -- handlers: compute keys, enqueue, nothing else ------------------------------------------
    def _services_of(self, pod: Message) -> set[str]:
        keys = set()
        for svc in self.services.by_index("namespace", pod.metadata.namespace):
            if svc.spec.selector and selector_from_set(dict(svc.spec.selector)).matches(pod.metadata.labels):
                keys.add(key_of(svc))
        return keys

    def on_pod_add(self, pod: Message) -> None:
        for key in self._services_of(pod):
            self.enqueue_key(key)

    def on_pod_update(self, old: Message, new: Message) -> None:
        if old.metadata.resource_version == new.metadata.resource_version:
            return                  # a resync: the Service informer's own resync covers it
        for key in self._services_of(old) | self._services_of(new):
            self.enqueue_key(key)

    def on_pod_delete(self, obj: Message | DeletedFinalStateUnknown) -> None:
        for key in self._services_of(object_of(obj)):
            self.enqueue_key(key)

    def on_endpoints_update(self, old: Message, new: Message) -> None:
        if self.services.get_by_key(key_of(new)) is not None:
            self.enqueue(new)

    def on_endpoints_delete(self, obj: Message | DeletedFinalStateUnknown) -> None:
        if self.services.get_by_key(key_of(obj)) is not None:
            self.enqueue(obj)

    # -- the worker loop ---------------------------------------------------------------------------
    async def run(self, workers: int | None = None) -> None:
        # The caches are synced before any controller runs (ControllerContext.start_informers).
        for ep in self.endpoints.list():
            self.enqueue(ep)
        await super().run(workers)

    async def sync(self, key: str) -> Requeue | None:
        ns, name = split_key(key)
        svc = self.services.get(ns, name)
        if svc is None:
            # The Service is gone: so goes its Endpoints. Deleted even when the cache shows none,
            # since it may lag our own create (Kubernetes deletes unconditionally too).
            try:
                await self.api.delete("endpoints", ns, name)
                log.info("endpoints %s: deleted (its Service is gone)", key)
            except NotFound:
                pass
            return None
        if not svc.spec.selector:
            return None             # a Service without selector: its Endpoints are the user's
        current = self.endpoints.get(ns, name)
        want = desired_endpoints(svc, self.pods.by_index("namespace", ns), current)
        if want is None:
            return None
        creating = current is None
        try:
            if creating:
                try:
                    await self.api.create(want)
                except AlreadyExists:
                    # The cache lags (our own create of a moment ago, usually): decide on the live object.
                    creating = False
                    want = desired_endpoints(svc, self.pods.by_index("namespace", ns),
                                             await self.api.get("endpoints", ns, name))
                    if want is None:
                        return None
                    await self.api.update(want)
            else:
                await self.api.update(want)
        except ApiError as e:
            if _terminating_namespace(e):
                return None         # the namespace is going away, and this Service with it
            if not isinstance(e, NotFound):
                verb = "create" if creating else "update"
                self.events.event(svc, "Warning", f"FailedTo{verb.capitalize()}Endpoint",
                                  f"Failed to {verb} endpoint for service {key}: {e.message}")
            raise
        log.info("endpoints %s: %s (%d ready, %d not ready addresses)", key,
                 "created" if creating else "updated",
                 sum(len(s.addresses) for s in want.subsets), sum(len(s.not_ready_addresses) for s in want.subsets))
        return None


def make(ctx: ControllerContext) -> EndpointsController:
    return EndpointsController(ctx)
