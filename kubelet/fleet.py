"""The hollow kubelet's shell: one asyncio loop hosting many hollow nodes (a fleet).

    fleet = Fleet(api, cfg)              # cfg: kubelet.app.Config
    task = asyncio.create_task(fleet.run())
    await fleet.ready.wait()             # every start node registered, leased; caches synced
    fleet.add_nodes(2); await fleet.stop_heartbeat("hollow-0"); await fleet.delete_node("hollow-1")

What runs (all tasks of one TaskGroup, on one loop):
- A pods informer over ALL bound pods (field selector `spec.nodeName!=`), filtered client-side by a
  dict lookup of the hosted node names, with the informer's built-in `node` index for per-node
  lookups. Why one watch and not one per node (`spec.nodeName=X`): 100 nodes would be 100 streams,
  100 lists at start and 100 relists after a 410, and the apiserver evaluates every watcher's
  selector on every pod event (docs/PERFORMANCE.md: per-stream cost dominates there); one stream
  costs one selector check per event and a dict lookup here. The `!=` selector keeps the
  scheduler's churn of unbound pods off the stream (a pod enters it, as ADDED, when it is bound).
  The price: the cache also holds pods bound to nodes of other processes (memory only).
- A nodes informer (all nodes; there are few): the node status loop reads the current Node from
  it and is woken when a hosted Node changes (e.g. the node lifecycle controller set Ready=Unknown).
- A work queue of pod keys and `--workers` workers running `_sync_pod(key)`: read the pod from the
  cache and the record from the runtime, `compute_actions` (kubelet/hollow.py), carry them out.
  Errors requeue the key with per-key backoff (STYLE §2); `Requeue(at)` becomes `add_after`.
- Per node: register (create, or update when it exists; retried with backoff forever), then two
  loops: the Lease every `--renew-interval` (jittered a little downwards), and the node status
  every `--node-status-update-frequency`, posted when changed or after
  `--node-status-report-frequency`. Each write holds the node's `writing` lock, so stopping a
  heartbeat returns once no such write is in flight.
- A node whose heartbeat is stopped is partitioned: no Lease, no status, and its pods are not
  synced either (their status stays, a graceful deletion waits), as a kubelet cut off from the
  apiservers; starting the heartbeat again queues all its pods.
- A Node deleted by someone else is not registered again (as Kubernetes' kubelet: restart the
  process to register it); its Lease is then written without an owner reference.

Errors: every API call goes through ApiClient (failover over the apiservers, retries of what is
safe). A Conflict is re-read and retried; NotFound ends what it was about. Anything else (an
apiserver outage) is logged and retried with backoff; the process does not exit.
"""
from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import replace
from typing import Any, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge

from client.api import ApiClient
from client.errors import AlreadyExists, ApiError, Backoff, Conflict, NotFound
from client.informer import DeletedFinalStateUnknown, Informer, key_of, split_key
from client.leaderelection import format_micro_time
from client.workqueue import WorkQueue, run_worker
from kubelet.hollow import (
    FINALIZED, REJECTED, RUNNING, STOPPING, FinalizePod, ForgetPod, KillPod, NodeView, PostRunningStatus,
    RejectPod, Requeue, Runtime, StartPod, compute_actions, grace_seconds, pod_key, rejected_status,
    running_status, status_reported,
)
from kubelet.nodestatus import (
    LEASE_NAMESPACE, MAX_NODES, NodeIdentity, desired_node, merge_registration, needs_status_post,
    new_lease, node_identity, node_pod_cidr, node_status, renewed_lease,
)
from skiffpb.k8s.core.v1 import core_pb2

log = logging.getLogger("kubelet.fleet")

POD_FIELD_SELECTOR = "spec.nodeName!="
LEASES = "leases.coordination.k8s.io"
REGISTER_CONCURRENCY = 16     # registrations in flight: 100 nodes start without a deadline storm
CONFLICT_RETRIES = 5          # Kubernetes' nodeStatusUpdateRetry
RENEW_JITTER = 0.04           # as the node lease controller's JitterUntil, but downwards: never late
MAX_POD_RETRY_DELAY = 5.0     # a pod's sync backoff cap: quick recovery after an apiserver outage


class HostedNode:
    """One hollow node: its identity, what was registered, its heartbeat switches and counters."""

    def __init__(self, ident: NodeIdentity):
        self.ident = ident
        self.name = ident.name
        self.uid = ""
        self.pod_cidr = ident.pod_cidr
        self.registered = asyncio.Event()
        self.leased = asyncio.Event()          # the Lease was written once
        self.heartbeat = True
        self.beating = asyncio.Event()
        self.beating.set()
        self.poke_lease = asyncio.Event()
        self.poke_status = asyncio.Event()
        self.writing = asyncio.Lock()          # held by each lease / status write
        self.lease = None                      # the Lease as last written (its resourceVersion guards the next)
        self.lease_renewals = 0
        self.last_renew: float | None = None
        self.status_posts = 0
        self.last_report: float | None = None
        self.missing = False                   # the Node was deleted behind our back (logged once)
        self.task: asyncio.Task | None = None

    def view(self, runtime: Runtime, max_pods: int) -> NodeView:
        return NodeView(self.name, self.pod_cidr, self.ident.internal_ip, max_pods,
                        runtime.used_ips(self.name), runtime.pod_count(self.name))


class FleetMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.nodes = Gauge("hollow_kubelet_nodes", "Hosted hollow nodes", ["heartbeat"], registry=r)
        self.pods = Gauge("hollow_kubelet_pods", "Pods in the hollow runtime by state", ["state"], registry=r)
        self.lease_renewals = Counter("hollow_kubelet_lease_renewals", "Lease writes", registry=r)
        self.status_posts = Counter("hollow_kubelet_node_status_posts", "Node status writes", registry=r)
        self.pod_status_writes = Counter("hollow_kubelet_pod_status_writes", "Pod status writes", ["phase"],
                                         registry=r)
        self.pod_deletions = Counter("hollow_kubelet_pod_deletions", "Graceful deletions finalized", registry=r)
        self.errors = Counter("hollow_kubelet_api_errors", "Failed API work by what it was", ["what"], registry=r)


async def _nap(event: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less when `event` is set; clears it."""
    try:
        await asyncio.wait_for(event.wait(), max(seconds, 0.0))
    except asyncio.TimeoutError:
        pass
    event.clear()


def _copy(msg):
    out = type(msg)()
    out.CopyFrom(msg)
    return out


class Fleet:
    """The hollow nodes of one process; see the module docstring."""

    def __init__(self, api: ApiClient, cfg: Any, *, clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None):
        self.api = api
        self.cfg = cfg
        self.clock = clock
        self.rng = rng or random.Random()
        self.nodes: dict[str, HostedNode] = {}
        self.runtime = Runtime()
        self.queue: WorkQueue[str] = WorkQueue(max_delay=MAX_POD_RETRY_DELAY)
        self.pods = Informer(api, "pods", field_selector=POD_FIELD_SELECTOR)
        self.pods.add_handler(self._on_pod, lambda old, new: self._on_pod(new), self._on_pod_delete)
        self.node_cache = Informer(api, "nodes")
        self.node_cache.add_handler(self._on_node, lambda old, new: self._on_node(new), None)
        self.metrics = FleetMetrics()
        self.backoff = Backoff(base=0.2, cap=5.0)
        self.ready = asyncio.Event()
        self.control_url = ""
        self.started_at: float | None = None
        self.ready_at: float | None = None
        self._initial: list[HostedNode] = []
        self._next_index = 0
        self._register_slots = asyncio.Semaphore(REGISTER_CONCURRENCY)
        self._tg: asyncio.TaskGroup | None = None

    # -- lifecycle -----------------------------------------------------------------------------------
    async def run(self) -> None:
        """Host the start nodes and serve until cancelled."""
        self.started_at = time.monotonic()
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            tg.create_task(self.pods.run(), name="pods informer")
            tg.create_task(self.node_cache.run(), name="nodes informer")
            for i in range(self.cfg.workers):
                tg.create_task(run_worker(self.queue, self._sync_pod, self._pod_failed), name=f"pod worker {i}")
            self._initial = self.add_nodes(self.cfg.nodes)
            tg.create_task(self._announce(), name="announce")

    async def close(self) -> None:
        self.queue.shutdown()

    async def _announce(self) -> None:
        await self.pods.wait_for_sync()
        await self.node_cache.wait_for_sync()
        await asyncio.gather(*(n.leased.wait() for n in self._initial))
        self.ready_at = time.monotonic()
        log.info("ready: %d start nodes registered and leased, caches synced, in %.2fs", len(self._initial),
                 self.ready_at - (self.started_at or self.ready_at))
        self.ready.set()

    def ready_line(self) -> str:
        names = [n.name for n in self._initial]
        span = f"{names[0]}..{names[-1]}" if len(names) > 1 else (names[0] if names else "none")
        return f"hollow kubelet: {len(names)} nodes registered ({span}), control {self.control_url}"

    # -- nodes ---------------------------------------------------------------------------------------
    def add_nodes(self, count: int) -> list[HostedNode]:
        """Host `count` more nodes (the next indexes); they register in the background."""
        if self._tg is None:
            raise RuntimeError("the fleet is not running")
        if count < 0 or self._next_index + count > MAX_NODES:
            raise ValueError(f"count: {count} more nodes would exceed {MAX_NODES} hollow nodes "
                             f"({self._next_index} made so far)")
        out = []
        for _ in range(count):
            node = HostedNode(node_identity(self.cfg.name_prefix, self._next_index))
            self._next_index += 1
            self.nodes[node.name] = node
            node.task = self._tg.create_task(self._host(node), name=f"node {node.name}")
            out.append(node)
        return out

    async def stop_heartbeat(self, name: str) -> HostedNode | None:
        """Partition the node: no Lease renewal, no status post, no pod write (its pods keep the
        status they have; their deletions wait) until start_heartbeat. Returns once no Lease or
        status write of it is in flight (a pod write may still land). None: not hosted."""
        node = self.nodes.get(name)
        if node is None:
            return None
        node.heartbeat = False
        node.beating.clear()
        async with node.writing:
            pass
        log.info("node %s: heartbeat stopped (last lease renewal %s)", name,
                 format_micro_time(node.last_renew) if node.last_renew else "never")
        return node

    async def start_heartbeat(self, name: str) -> HostedNode | None:
        """Resume the node's heartbeat: the Lease is renewed and the status checked at once."""
        node = self.nodes.get(name)
        if node is None:
            return None
        if not node.heartbeat:
            node.heartbeat = True
            node.beating.set()
            node.poke_lease.set()
            node.poke_status.set()
            self._queue_pods_of(node)
            log.info("node %s: heartbeat started", name)
        return node

    async def delete_node(self, name: str, *, deadline: float = 10.0) -> HostedNode | None:
        """Stop hosting the node and delete its Node and Lease (its pods stay for the cluster to
        clean up, as when a machine is removed). Raises ApiError if the Node could not be deleted
        within `deadline` seconds (it is no longer hosted either way). None: not hosted."""
        node = self.nodes.pop(name, None)
        if node is None:
            return None
        if node.task is not None:
            node.task.cancel()
            await asyncio.gather(node.task, return_exceptions=True)
        node.registered.set()    # release anyone waiting for it (the announcement, POST /nodes)
        node.leased.set()
        dropped = self.runtime.forget_node(name)
        log.info("node %s: no longer hosted (%d pods forgotten); deleting the Node and its Lease", name, len(dropped))
        end = time.monotonic() + deadline
        failures = 0
        for kind, ns in (("nodes", ""), (LEASES, LEASE_NAMESPACE)):
            while True:
                try:
                    await self.api.delete(kind, ns, name, precondition_uid=node.uid if kind == "nodes" else "")
                    break
                except (NotFound, Conflict):
                    break       # gone already, or a different node of that name now: not ours
                except ApiError as e:
                    delay = self.backoff.delay(failures, self.rng)
                    failures += 1
                    if time.monotonic() + delay > end:
                        raise
                    log.warning("node %s: deleting %s failed (%s); retrying in %.2fs", name, kind, e, delay)
                    await asyncio.sleep(delay)
        return node

    async def _host(self, node: HostedNode) -> None:
        await self._register(node)
        self._queue_pods_of(node)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._lease_loop(node), name=f"lease {node.name}")
            tg.create_task(self._status_loop(node), name=f"status {node.name}")

    def _queue_pods_of(self, node: HostedNode) -> None:
        for pod in self.pods.by_index("node", node.name):
            self.queue.add(pod_key(pod))
        for key, rec in self.runtime.items():
            if rec.node == node.name:
                self.queue.add(key)

    async def _register(self, node: HostedNode) -> None:
        failures = 0
        while True:
            try:
                async with self._register_slots:
                    await self._register_once(node)
                break
            except ApiError as e:
                delay = self.backoff.delay(failures, self.rng)
                failures += 1
                self.metrics.errors.labels("register").inc()
                log.warning("node %s: registration failed (%s); retrying in %.2fs", node.name, e, delay)
                await asyncio.sleep(delay)
        node.registered.set()
        log.info("node %s: registered (uid %s, podCIDR %s, InternalIP %s)", node.name, node.uid, node.pod_cidr,
                 node.ident.internal_ip)

    async def _register_once(self, node: HostedNode) -> None:
        """Create the Node; when it exists, update it (labels, podCIDR when unset) and its status."""
        shape = self.cfg.shape
        now = self.clock()
        try:
            created = await self.api.create(desired_node(node.ident, shape, now))
        except AlreadyExists:
            pass     # a Node from an earlier life (or our own retried create): adopt it below
        else:
            self._registered(node, created, now)
            return
        for _ in range(CONFLICT_RETRIES):
            existing = await self.api.get("nodes", "", node.name)
            update = merge_registration(existing, node.ident, shape)
            try:
                if update is not None:
                    existing = await self.api.update(update)
                now = self.clock()
                obj = _copy(existing)
                obj.status.CopyFrom(node_status(node.ident, shape, existing.status, now))
                posted = await self.api.update_status(obj)
            except Conflict:
                continue     # someone wrote the Node meanwhile: re-read
            self._registered(node, posted, now)
            return
        raise Conflict(f"node {node.name}: registration conflicted {CONFLICT_RETRIES} times in a row")

    def _registered(self, node: HostedNode, obj: core_pb2.Node, now: float) -> None:
        node.uid = obj.metadata.uid
        node.pod_cidr = node_pod_cidr(obj, node.ident)
        node.last_report = now
        node.status_posts += 1
        self.metrics.status_posts.inc()

    # -- heartbeats ----------------------------------------------------------------------------------
    async def _lease_loop(self, node: HostedNode) -> None:
        failures = 0
        while True:
            await node.beating.wait()
            wait = self.cfg.renew_interval * (1.0 - RENEW_JITTER * self.rng.random())
            async with node.writing:
                if node.heartbeat:
                    try:
                        await self._renew(node)
                        failures = 0
                    except Exception as e:  # noqa: BLE001 - logged; retried with backoff, never fatal
                        wait = min(self.backoff.delay(failures, self.rng), self.cfg.renew_interval)
                        failures += 1
                        self._failed("lease", f"node {node.name}: lease renewal", e, wait)
            await _nap(node.poke_lease, wait)

    async def _get_lease(self, node: HostedNode):
        try:
            return await self.api.get(LEASES, LEASE_NAMESPACE, node.name)
        except NotFound:
            return None

    async def _renew(self, node: HostedNode) -> None:
        """Write the Lease with renewTime now: update the one we wrote last (its resourceVersion
        guards it), re-read on Conflict; create it when missing."""
        d = self.cfg.lease_duration
        now = self.clock()
        # Owned by the Node, so deleting the Node collects it; but while the Node is missing, as
        # Kubernetes' lease controller, without an owner: the garbage collector would delete a
        # Lease owned by a Node that is gone as soon as it was written.
        owner = "" if node.missing else node.uid
        lease = node.lease if node.lease is not None else await self._get_lease(node)
        if lease is None:
            try:
                node.lease = await self.api.create(new_lease(node.name, owner, d, now))
                self._renewed(node, now)
                return
            except AlreadyExists:
                lease = await self._get_lease(node)   # made meanwhile, or our retried create landed
                if lease is None:
                    raise Conflict(f"lease {LEASE_NAMESPACE}/{node.name} appeared and vanished") from None
        try:
            node.lease = await self.api.update(renewed_lease(lease, node.name, owner, d, now))
        except Conflict:
            fresh = await self._get_lease(node)
            if fresh is None:
                node.lease = None
                raise
            node.lease = await self.api.update(renewed_lease(fresh, node.name, owner, d, now))
        except NotFound:
            node.lease = None      # deleted: created again on the next attempt
            raise
        self._renewed(node, now)

    def _renewed(self, node: HostedNode, now: float) -> None:
        node.lease_renewals += 1
        node.last_renew = now
        node.leased.set()
        self.metrics.lease_renewals.inc()

    async def _status_loop(self, node: HostedNode) -> None:
        failures = 0
        while True:
            await node.beating.wait()
            wait = self.cfg.status_update_frequency
            async with node.writing:
                if node.heartbeat:
                    try:
                        await self._sync_status(node)
                        failures = 0
                    except Exception as e:  # noqa: BLE001 - logged; retried with backoff, never fatal
                        wait = min(self.backoff.delay(failures, self.rng), wait)
                        failures += 1
                        self._failed("node_status", f"node {node.name}: status update", e, wait)
            await _nap(node.poke_status, wait)

    async def _sync_status(self, node: HostedNode) -> None:
        current = self.node_cache.get("", node.name)
        if current is None:
            try:
                current = await self.api.get("nodes", "", node.name)
            except NotFound:
                if not node.missing:
                    # As Kubernetes' kubelet: it does not register again by itself; it keeps trying.
                    log.warning("node %s: the Node was deleted; not posting its status (restart the hollow "
                                "kubelet to register it again, or POST /nodes/%s/delete to stop hosting it)",
                                node.name, node.name)
                    node.missing = True
                return
        node.missing = False
        for _ in range(CONFLICT_RETRIES):
            now = self.clock()
            desired = node_status(node.ident, self.cfg.shape, current.status, now)
            if not needs_status_post(current.status, desired, node.last_report, now,
                                     self.cfg.status_report_frequency):
                return
            obj = _copy(current)
            obj.status.CopyFrom(desired)
            try:
                posted = await self.api.update_status(obj)
            except Conflict:
                current = await self.api.get("nodes", "", node.name)
                continue
            node.uid = posted.metadata.uid
            node.last_report = now
            node.status_posts += 1
            self.metrics.status_posts.inc()
            return
        raise Conflict(f"node {node.name}: status update conflicted {CONFLICT_RETRIES} times in a row")

    def _on_node(self, obj: core_pb2.Node) -> None:
        node = self.nodes.get(obj.metadata.name)
        if node is not None and node.heartbeat:
            node.poke_status.set()   # re-check now: someone else may have changed its status

    # -- pods ----------------------------------------------------------------------------------------
    def _on_pod(self, pod: core_pb2.Pod) -> None:
        if pod.spec.node_name in self.nodes:
            self.queue.add(pod_key(pod))

    def _on_pod_delete(self, obj) -> None:
        pod = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        key = key_of(obj)
        if key in self.runtime or pod.spec.node_name in self.nodes:
            self.queue.add(key)

    def _pod_failed(self, key: str, e: Exception, delay: float) -> None:
        self._failed("pod", f"pod {key}: sync", e, delay)

    async def _sync_pod(self, key: str) -> None:
        pod = self.pods.get_by_key(key)
        rec = self.runtime.get(key)
        name = pod.spec.node_name if pod is not None else (rec.node if rec is not None else "")
        node = self.nodes.get(name)
        if node is not None and (not node.registered.is_set() or not node.heartbeat):
            # Not registered yet, or partitioned (heartbeat stopped: a cut-off kubelet writes nothing,
            # so its pods keep their status and deletions wait): queued again when that ends.
            return
        views = {node.name: node.view(self.runtime, self.cfg.shape.pods)} if node is not None else {}
        actions = compute_actions([pod] if pod is not None else [], {key: rec} if rec is not None else {},
                                  views, now=self.clock(), timing=self.cfg.timing)
        for action in actions:
            await self._apply(action)

    async def _apply(self, a) -> None:
        if isinstance(a, Requeue):
            self.queue.add_after(a.key, max(0.0, a.at - self.clock()))
            if a.why.startswith("no free IP"):
                log.warning("pod %s: %s; retrying", a.key, a.why)
        elif isinstance(a, StartPod):
            self.runtime.put(a.key, a.record)
            log.debug("pod %s: %s on %s with IP %s", a.key, "adopted" if a.adopted else "started",
                      a.record.node, a.record.ip)
        elif isinstance(a, PostRunningStatus):
            rv = await self._write_status(a.key, a.uid, lambda p: running_status(
                p, ip=a.ip, host_ip=a.host_ip, started_at=a.started_at, ready_at=a.ready_at))
            rec = self.runtime.get(a.key)
            if rv is not None and rec is not None and rec.uid == a.uid:
                self.runtime.put(a.key, replace(rec, written_rv=rv))
                self.metrics.pod_status_writes.labels("Running").inc()
                log.debug("pod %s: Running and Ready on %s (IP %s)", a.key, a.node, a.ip)
        elif isinstance(a, RejectPod):
            rv = await self._write_status(a.key, a.record.uid, lambda p: rejected_status(
                p, reason=a.reason, message=a.message))
            if rv is not None:
                self.runtime.put(a.key, replace(a.record, written_rv=rv))
                self.metrics.pod_status_writes.labels("Failed").inc()
                log.info("pod %s: rejected on %s: %s: %s", a.key, a.record.node, a.reason, a.message)
        elif isinstance(a, KillPod):
            self.runtime.put(a.key, a.record)
            pod = self.pods.get_by_key(a.key)
            log.debug("pod %s: stopping its containers (grace %ss)", a.key,
                      grace_seconds(pod) if pod is not None else "?")
        elif isinstance(a, FinalizePod):
            ns, name = split_key(a.key)
            try:
                await self.api.delete("pods", ns, name, grace_period_seconds=0, precondition_uid=a.uid)
            except NotFound:
                self.runtime.forget(a.key)
                return
            except Conflict:
                pass    # another pod under the name now (ours is gone), or finalizers: the watch tells
            rec = self.runtime.get(a.key)
            if rec is not None and rec.uid == a.uid:
                self.runtime.put(a.key, replace(rec, state=FINALIZED))
            self.metrics.pod_deletions.inc()
            log.debug("pod %s: deletion finalized", a.key)
        elif isinstance(a, ForgetPod):
            self.runtime.forget(a.key)
        else:  # pragma: no cover - a new action kind without a case here
            raise TypeError(f"unknown action {a!r}")

    async def _write_status(self, key: str, uid: str, build) -> int | None:
        """UpdateStatus with `build(pod)`, guarded by the cached pod's resourceVersion; on Conflict
        re-read and rebuild. The written resourceVersion, or None when the pod is gone, was replaced
        or is being deleted (its key is synced again by the informer's event)."""
        ns, name = split_key(key)
        pod = self.pods.get_by_key(key)
        for _ in range(CONFLICT_RETRIES):
            if pod is None or pod.metadata.uid != uid or pod.metadata.HasField("deletion_timestamp"):
                return None
            new = _copy(pod)   # NEVER mutate the informer's object
            new.status.CopyFrom(build(pod))
            try:
                out = await self.api.update_status(new)
            except NotFound:
                return None
            except Conflict:
                try:
                    pod = await self.api.get("pods", ns, name)
                except NotFound:
                    return None
                continue
            try:
                return int(out.metadata.resource_version)
            except ValueError:
                return 0
        raise Conflict(f"pod {key}: status update conflicted {CONFLICT_RETRIES} times in a row")

    def _failed(self, what: str, doing: str, e: BaseException, retry_in: float) -> None:
        self.metrics.errors.labels(what).inc()
        if isinstance(e, ApiError):
            log.warning("%s failed (%s); retrying in %.2fs", doing, e, retry_in)
        else:
            log.error("%s failed; retrying in %.2fs", doing, retry_in, exc_info=e)

    # -- reports -------------------------------------------------------------------------------------
    def describe(self, node: HostedNode, records: list | None = None) -> dict:
        """One node as GET /nodes shows it. `running`: pods whose Running+Ready status the cache shows."""
        if records is None:
            records = [(k, r) for k, r in self.runtime.items() if r.node == node.name]
        running = 0
        for key, r in records:
            pod = self.pods.get_by_key(key) if r.state == RUNNING else None
            if pod is not None and status_reported(pod, r, node.ident.internal_ip):
                running += 1
        return {
            "name": node.name, "uid": node.uid, "registered": node.registered.is_set(),
            "heartbeat": node.heartbeat, "podCIDR": node.pod_cidr, "internalIP": node.ident.internal_ip,
            "pods": sum(1 for _, r in records if r.active), "running": running,
            "leaseRenewals": node.lease_renewals,
            "lastLeaseRenewTime": format_micro_time(node.last_renew) if node.last_renew else None,
            "statusPosts": node.status_posts,
            "lastStatusPostTime": format_micro_time(node.last_report) if node.last_report else None,
        }

    def snapshot(self) -> dict:
        """GET /nodes: every hosted node (by index) and the runtime's totals."""
        by_node: dict[str, list] = {}
        for key, r in self.runtime.items():
            by_node.setdefault(r.node, []).append((key, r))
        nodes = sorted(self.nodes.values(), key=lambda n: n.ident.index)
        return {"ready": self.ready.is_set(), "nodes": [self.describe(n, by_node.get(n.name, [])) for n in nodes],
                "pods": len(self.runtime), "queued": len(self.queue)}

    def refresh_gauges(self) -> None:
        m = self.metrics
        on = sum(1 for n in self.nodes.values() if n.heartbeat)
        m.nodes.labels("true").set(on)
        m.nodes.labels("false").set(len(self.nodes) - on)
        counts = {s: 0 for s in (RUNNING, STOPPING, FINALIZED, REJECTED)}
        for _, r in self.runtime.items():
            counts[r.state] = counts.get(r.state, 0) + 1
        for state, n in counts.items():
            m.pods.labels(state).set(n)
