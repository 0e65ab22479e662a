"""The node lifecycle controller's shell: informers -> work queue of node names -> sync -> writes.

Watches Nodes, Leases (kube-node-lease) and Pods; writes node status (conditions Unknown), node
taints, pod status (Ready=False on a node that is not Ready), pod deletions (eviction) and Events:
NodeNotReady / NodeReady on the node, NodeNotReady and TaintManagerEviction on pods.

Handlers only enqueue node names (STYLE.md §2): a Node added or changed; a Lease in
kube-node-lease added or changed (its name is its node's); a Pod bound to a node that has a
NoExecute taint or is not Ready. No periodic sweep: `sync` returns `Requeue(after=...)` for the
instant the node's heartbeat turns stale or the next pod's eviction falls due, and the informers'
resync re-checks everything now and then. Never sleeps.

One sync, in order: node status (update_status), then taints (update, on the object the status
write returned), then pods. A Conflict anywhere (the kubelet writes the same node) ends the sync
and the loop retries it against a fresher cache.
"""
from __future__ import annotations

import logging

from google.protobuf.message import Message

from client.errors import ApiError, Conflict, NotFound
from controller.manager import ControllerContext, QueueController, Requeue
from controller.nodelifecycle.eviction import eviction_plan, pods_marked_not_ready
from controller.nodelifecycle.health import LEASE_NAMESPACE, node_health, ready_status
from skiffpb.k8s.core.v1 import core_pb2

log = logging.getLogger(__name__)

MIN_RECHECK = 0.01


def _copy(msg: Message) -> Message:
    new = type(msg)()
    new.CopyFrom(msg)
    return new


class NodeLifecycleController(QueueController):
    name = "node"                    # Events come from "node-controller", as in Kubernetes

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.nodes = ctx.informer("nodes")
        self.leases = ctx.informer("leases")
        self.pods = ctx.informer("pods")
        self.nodes.add_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new))
        self.leases.add_handler(on_add=self.on_lease, on_update=lambda old, new: self.on_lease(new))
        self.pods.add_handler(on_add=self.on_pod, on_update=lambda old, new: self.on_pod(new))

    # -- handlers -----------------------------------------------------------------------------------
    def on_lease(self, lease: Message) -> None:
        if lease.metadata.namespace == LEASE_NAMESPACE:
            self.enqueue_key(lease.metadata.name)

    def on_pod(self, pod: Message) -> None:
        name = pod.spec.node_name
        if not name or pod.metadata.HasField("deletion_timestamp"):
            return
        node = self.nodes.get("", name)
        if node is not None and (ready_status(node) not in ("True", "") or
                                 any(t.effect == "NoExecute" for t in node.spec.taints)):
            self.enqueue_key(name)

    # -- sync ---------------------------------------------------------------------------------------
    async def sync(self, key: str) -> Requeue | None:
        node = self.nodes.get("", key)
        if node is None:
            return None
        now = self.ctx.clock()
        opts = self.ctx.options
        lease = self.leases.get(LEASE_NAMESPACE, key)
        h = node_health(node, lease, now=now, grace=opts.node_monitor_grace_period)
        current = node
        if h.status is not None:
            new = _copy(current)
            new.status.CopyFrom(h.status)
            current = await self.api.update_status(new)
            log.info("node %s: no heartbeat for %.1fs (grace %.1fs): Ready=%s", key,
                     now - h.heartbeat if h.heartbeat is not None else float("nan"),
                     opts.node_monitor_grace_period, h.ready)
            if h.marked_not_ready:
                self.events.event(current, "Normal", "NodeNotReady", f"Node {key} status is now: NodeNotReady")
        if h.taints is not None:
            new = _copy(current)
            del new.spec.taints[:]
            new.spec.taints.extend(h.taints)
            current = await self.api.update(new)
            log.info("node %s: Ready=%s, taints now %s", key, h.ready,
                     [f"{t.key}:{t.effect}" for t in current.spec.taints])
            if h.taints_cleared:
                self.events.event(current, "Normal", "NodeReady", f"Node {key} status is now: NodeReady")
        pods = self.pods.by_index("node", key)
        # Evictions that are due come first: a failed status write below must not delay them.
        plan = eviction_plan(pods, current.spec.taints, now=now, default_timeout=opts.pod_eviction_timeout)
        for pod in plan.evict:
            await self._evict(pod)
        if h.ready in ("False", "Unknown"):
            evicted = {id(p) for p in plan.evict}
            await self._mark_not_ready([p for p in pods if id(p) not in evicted], now)
        after = [t for t in (h.recheck_after,
                             plan.next_due - now if plan.next_due is not None else None) if t is not None]
        return Requeue(after=max(min(after), MIN_RECHECK)) if after else None

    async def _mark_not_ready(self, pods, now: float) -> None:
        for pod in pods_marked_not_ready(pods, now=now):
            try:
                await self.api.update_status(pod)
            except (NotFound, Conflict):
                continue        # gone, or changed since the cache saw it: the next sync sees it again
            self.events.event(pod, "Warning", "NodeNotReady", "Node is not ready")

    async def _evict(self, pod: core_pb2.Pod) -> None:
        ns_name = f"{pod.metadata.namespace}/{pod.metadata.name}"
        # The event first, as Kubernetes' taint manager: it says why the pod is going.
        self.events.event(pod, "Normal", "TaintManagerEviction", f"Marking for deletion Pod {ns_name}")
        try:
            await self.api.delete("pods", pod.metadata.namespace, pod.metadata.name,
                                  precondition_uid=pod.metadata.uid)
        except NotFound:
            return
        except ApiError as e:
            log.warning("node %s: evicting pod %s failed: %s", pod.spec.node_name, ns_name, e)
            raise
        log.info("node %s: evicted pod %s", pod.spec.node_name, ns_name)


def make(ctx: ControllerContext) -> NodeLifecycleController:
    return NodeLifecycleController(ctx)
