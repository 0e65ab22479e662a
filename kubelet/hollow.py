"""The hollow kubelet's pure core for pods: given the pods bound to hosted nodes (desired) and what the
hollow runtime holds (observed), what to do next. No I/O, no asyncio, no clock: `now` comes in.

    actions = compute_actions([pod], {key: record}, {node.name: node_view}, now=t, timing=Timing(0.5, 0.5))
    for a in actions: ...                       # the shell (kubelet/fleet.py) carries them out in order

A hollow node runs no processes: "starting the containers" is recording a `HollowPod` (its IP, when
it started); "stopping them" is recording when the stop began. What the API sees is what a real
kubelet would write: the pod Running and Ready after `ready_delay`, and a graceful deletion
finalized (delete with gracePeriodSeconds=0 and a uid precondition) after
`min(grace period, stop_delay)`.

Per pod key (`namespace/name`), with P the pod from the cache (absent when deleted, or bound to a
node this process does not host) and R the runtime record:

    R, and P absent or P.uid != R.uid  -> ForgetPod (containers gone, IP released); R := absent
    P absent                           -> nothing
    P has deletionTimestamp:
        R absent, P never ran here     -> FinalizePod at once (nothing to stop)
        R absent, P Running here       -> (an earlier life of this kubelet ran it) as RUNNING
        R RUNNING                      -> KillPod (record the stop), then as STOPPING
        R STOPPING                     -> FinalizePod once stopping_at + min(grace, stop_delay) <= now,
                                          else Requeue(at=that time)
        R REJECTED, or P terminal      -> FinalizePod at once (nothing runs)
        R FINALIZED                    -> nothing (the apiserver removes it, after any finalizers)
    P terminal (Succeeded/Failed)      -> nothing
    R absent                           -> admission: the node runs `max_pods` pods already
                                          -> RejectPod (phase Failed, reason OutOfpods, as Kubernetes);
                                          else StartPod with an IP from the node's pod CIDR (the one
                                          P already reports, when it is ours and free: a restarted
                                          kubelet adopts its pods instead of renumbering them)
    R RUNNING:
        P's status already says so     -> nothing
        our last write is newer than P -> nothing (the cache lags our write; its event is coming)
        started_at + ready_delay <= now-> PostRunningStatus
        else                           -> Requeue(at=started_at + ready_delay)
    R REJECTED and P not Failed        -> RejectPod again (unless the cache lags our write)

Decisions are level-triggered: each compares the pod as the cache shows it with the record, so a
repeated or missed event never leaves a pod wrong, only late. The status written is built by
`running_status` / `rejected_status` from the pod, so it can be rebuilt on a fresh read after a
Conflict.
"""
from __future__ import annotations

import functools
import hashlib
import ipaddress
from collections.abc import Iterable, Mapping, Set as AbstractSet
from dataclasses import dataclass, replace

from client.leaderelection import parse_micro_time
from client.times import format_time
from skiffpb.k8s.core.v1 import core_pb2

__all__ = [
    "FINALIZED", "REJECTED", "RUNNING", "STOPPING", "TERMINAL_PHASES",
    "Action", "FinalizePod", "ForgetPod", "HollowPod", "KillPod", "NodeView", "PostRunningStatus",
    "RejectPod", "Requeue", "Runtime", "StartPod", "Timing",
    "allocate_ip", "compute_actions", "container_id", "format_time", "grace_seconds", "pod_key",
    "rejected_status", "running_status", "status_reported",
]

# The runtime states of a pod on a hollow node.
RUNNING = "running"       # containers "started" at started_at
STOPPING = "stopping"     # containers told to stop at stopping_at (the pod has a deletionTimestamp)
FINALIZED = "finalized"   # deleted with gracePeriodSeconds=0: waiting for the apiserver to remove it
REJECTED = "rejected"     # refused at admission (phase Failed): nothing runs

TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})
DEFAULT_GRACE = 30        # seconds, Kubernetes' terminationGracePeriodSeconds default


@dataclass(frozen=True)
class Timing:
    """ready_delay: seconds from first sight to Running+Ready; stop_delay: the longest a stop takes."""

    ready_delay: float = 0.5
    stop_delay: float = 0.5


@dataclass(frozen=True)
class NodeView:
    """What the core needs of one hosted, registered node. `used_ips` and `pod_count` are the runtime's
    (pods RUNNING or STOPPING on it); the core only reads them."""

    name: str
    pod_cidr: str
    host_ip: str
    max_pods: int
    used_ips: AbstractSet[str] = frozenset()
    pod_count: int = 0


@dataclass(frozen=True)
class HollowPod:
    """The hollow runtime's record of one pod (the observed state)."""

    uid: str
    node: str
    ip: str                  # "" when it never got one (rejected, or first seen terminating)
    started_at: float
    state: str = RUNNING
    stopping_at: float | None = None
    written_rv: int = 0      # resourceVersion our last status write returned (0: none)

    @property
    def active(self) -> bool:
        """Counts against the node's pods and holds its IP."""
        return self.state in (RUNNING, STOPPING)


# -- actions (imperatives; the shell carries them out in order) -------------------------------------
@dataclass(frozen=True)
class StartPod:
    """Record `record` in the runtime: the containers run from record.started_at (adopted: the pod
    already reported them running, from an earlier life of this kubelet)."""

    key: str
    record: HollowPod
    adopted: bool = False


@dataclass(frozen=True)
class PostRunningStatus:
    """UpdateStatus: Running and Ready, built by `running_status`; then remember the written rv."""

    key: str
    uid: str
    node: str
    ip: str
    host_ip: str
    started_at: float
    ready_at: float


@dataclass(frozen=True)
class RejectPod:
    """UpdateStatus: phase Failed with `reason`/`message` (`rejected_status`); then record `record`."""

    key: str
    record: HollowPod
    reason: str
    message: str


@dataclass(frozen=True)
class KillPod:
    """Record `record` (STOPPING): the containers were told to stop at record.stopping_at."""

    key: str
    record: HollowPod


@dataclass(frozen=True)
class FinalizePod:
    """Delete the pod with gracePeriodSeconds=0 and precondition uid; then mark the record FINALIZED."""

    key: str
    uid: str


@dataclass(frozen=True)
class ForgetPod:
    """Drop the record: the pod is gone (or was replaced under its name); its IP is free again."""

    key: str
    uid: str


@dataclass(frozen=True)
class Requeue:
    """Sync `key` again at `at` (seconds since the epoch)."""

    key: str
    at: float
    why: str = ""


Action = StartPod | PostRunningStatus | RejectPod | KillPod | FinalizePod | ForgetPod | Requeue


# -- small pure helpers -----------------------------------------------------------------------------
def pod_key(pod: core_pb2.Pod) -> str:
    return f"{pod.metadata.namespace}/{pod.metadata.name}"


def _parse_time(text: str) -> float | None:
    try:
        return parse_micro_time(text) if text else None
    except ValueError:
        return None


def _rv(obj) -> int:
    try:
        return int(obj.metadata.resource_version)
    except ValueError:
        return 0


def grace_seconds(pod: core_pb2.Pod) -> float:
    """The grace period of a pod being deleted: deletionGracePeriodSeconds, else the spec's, else 30."""
    if pod.metadata.HasField("deletion_grace_period_seconds"):
        return max(0, pod.metadata.deletion_grace_period_seconds)
    if pod.spec.HasField("termination_grace_period_seconds"):
        return max(0, pod.spec.termination_grace_period_seconds)
    return DEFAULT_GRACE


def allocate_ip(cidr: str, used: AbstractSet[str]) -> str | None:
    """The lowest free host address of `cidr` after the gateway (the first host), or None when full."""
    for s in _pod_addresses(cidr):
        if s not in used:
            return s
    return None


@functools.lru_cache(maxsize=4096)
def _pod_addresses(cidr: str) -> tuple[str, ...]:
    """The host addresses of a pod CIDR after the gateway, as strings, computed once per CIDR: a
    node's allocations walk them from the lowest, and formatting an ipaddress object per step cost
    more than the rest of a pod's start. A CIDR too large to list (an IPv6 /64) is walked lazily."""
    net = ipaddress.ip_network(cidr, strict=False)
    if net.num_addresses > 1 << 16:
        return _LazyHosts(net)  # type: ignore[return-value]
    return tuple(str(ip) for ip in net.hosts())[1:]   # the first host is the node's bridge/gateway


class _LazyHosts:
    """Iterates a large network's hosts after the gateway without listing them."""

    def __init__(self, net):
        self.net = net

    def __iter__(self):
        hosts = self.net.hosts()
        next(hosts, None)
        return (str(ip) for ip in hosts)


def _adoptable_ip(pod: core_pb2.Pod, node: NodeView, used: AbstractSet[str]) -> str | None:
    """The IP the pod already reports, if a (previous) kubelet of this node gave it and it is free."""
    ip = pod.status.pod_ip
    if not ip or pod.status.phase != "Running" or pod.status.host_ip != node.host_ip or ip in used:
        return None
    try:
        inside = ipaddress.ip_address(ip) in ipaddress.ip_network(node.pod_cidr, strict=False)
    except ValueError:
        return None
    return ip if inside else None


def container_id(uid: str, name: str) -> str:
    return f"hollow://{uid}-{name}"


def image_id(image: str) -> str:
    """A stable fake image digest (what `docker-pullable://name@sha256:...` is on a real node)."""
    return f"hollow://{image}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def _condition(status: core_pb2.PodStatus, ctype: str) -> str:
    for c in status.conditions:
        if c.type == ctype:
            return c.status
    return ""


def status_reported(pod: core_pb2.Pod, record: HollowPod, host_ip: str) -> bool:
    """Whether the pod's status already says what PostRunningStatus would write (the fields anyone
    reads: phase, IPs, Ready, every container running and ready)."""
    st = pod.status
    if st.phase != "Running" or st.pod_ip != record.ip or st.host_ip != host_ip:
        return False
    if _condition(st, "Ready") != "True" or _condition(st, "ContainersReady") != "True":
        return False
    running = {c.name for c in st.container_statuses if c.ready and c.state.HasField("running")}
    return all(c.name in running for c in pod.spec.containers)


# -- the statuses written ---------------------------------------------------------------------------
def running_status(pod: core_pb2.Pod, *, ip: str, host_ip: str, started_at: float,
                   ready_at: float) -> core_pb2.PodStatus:
    """The status a kubelet reports for a pod whose containers all run and are ready: phase Running,
    conditions Initialized/Ready/ContainersReady/PodScheduled True (in Kubernetes' order), hostIP,
    podIP(s), startTime, init containers terminated Completed, containers running (sorted by name,
    as the kubelet sorts them). qosClass and nominatedNodeName are kept from the pod."""
    start, ready = format_time(started_at), format_time(ready_at)
    old = pod.status
    st = core_pb2.PodStatus(phase="Running", host_ip=host_ip, pod_ip=ip, start_time=start)
    if old.qos_class:
        st.qos_class = old.qos_class
    if old.nominated_node_name:
        st.nominated_node_name = old.nominated_node_name
    st.pod_ips.add(ip=ip)
    scheduled_at = next((c.last_transition_time for c in old.conditions
                         if c.type == "PodScheduled" and c.status == "True" and c.last_transition_time), start)
    for ctype, when in (("Initialized", start), ("Ready", ready), ("ContainersReady", ready),
                        ("PodScheduled", scheduled_at)):
        c = st.conditions.add(type=ctype, status="True", last_transition_time=when)
        c.ClearField("last_probe_time")
    uid = pod.metadata.uid
    for ic in sorted(pod.spec.init_containers, key=lambda c: c.name):
        cs = st.init_container_statuses.add(name=ic.name, ready=True, restart_count=0, image=ic.image,
                                            image_id=image_id(ic.image),
                                            container_id=container_id(uid, ic.name), started=False)
        t = cs.state.terminated
        t.exit_code, t.reason = 0, "Completed"
        t.started_at, t.finished_at = start, start
        t.container_id = cs.container_id
    for c in sorted(pod.spec.containers, key=lambda c: c.name):
        cs = st.container_statuses.add(name=c.name, ready=True, restart_count=0, image=c.image,
                                       image_id=image_id(c.image), container_id=container_id(uid, c.name),
                                       started=True)
        cs.state.running.started_at = start
    return st


def rejected_status(pod: core_pb2.Pod, *, reason: str, message: str) -> core_pb2.PodStatus:
    """What the kubelet writes for a pod its admission refused (kubelet.rejectPod): phase Failed."""
    st = core_pb2.PodStatus(phase="Failed", reason=reason, message=message)
    if pod.status.qos_class:
        st.qos_class = pod.status.qos_class
    for c in pod.status.conditions:
        if c.type == "PodScheduled":
            st.conditions.add().CopyFrom(c)
    return st


def out_of_pods(used: int, capacity: int) -> tuple[str, str]:
    """Kubernetes 1.20's admission failure for the pods resource (lifecycle/predicate.go)."""
    return ("OutOfpods", f"Pod Node didn't have enough resource: pods, requested: 1, used: {used}, "
                         f"capacity: {capacity}")


# -- the decision ------------------------------------------------------------------------------------
def compute_actions(desired: Iterable[core_pb2.Pod], observed: Mapping[str, HollowPod],
                    nodes: Mapping[str, NodeView], *, now: float, timing: Timing) -> list[Action]:
    """The actions that move the runtime and the API toward the pods in `desired` (see the module
    docstring). `desired`: pods from the cache (READ-ONLY), any subset, e.g. one key's; a pod whose
    node is not in `nodes` counts as absent. `observed`: the runtime records of the same keys. IPs
    and pod counts given out within one call are accounted for, so a batch never double-books."""
    by_key = {pod_key(p): p for p in desired}
    batch: dict[str, _Batch] = {}
    out: list[Action] = []
    for key in sorted(set(by_key) | set(observed)):
        out += _pod_actions(key, by_key.get(key), observed.get(key), nodes, now, timing, batch)
    return out


@dataclass
class _Batch:
    """What one compute_actions call has already changed on a node: IPs given and freed, pod count."""

    given: set[str]
    freed: set[str]
    delta: int = 0

    def used(self, node: NodeView) -> AbstractSet[str]:
        if not self.given and not self.freed:
            return node.used_ips
        return (set(node.used_ips) - self.freed) | self.given


def _pod_actions(key: str, pod: core_pb2.Pod | None, rec: HollowPod | None, nodes: Mapping[str, NodeView],
                 now: float, timing: Timing, batch: dict[str, _Batch]) -> list[Action]:
    out: list[Action] = []
    node = nodes.get(pod.spec.node_name) if pod is not None else None
    if node is None:
        pod = None           # not bound to a node we host (any more): not ours
    if rec is not None and (pod is None or pod.metadata.uid != rec.uid):
        out.append(ForgetPod(key, rec.uid))
        if rec.active:
            b = batch.setdefault(rec.node, _Batch(set(), set()))
            b.delta -= 1
            if rec.ip:
                b.given.discard(rec.ip)
                b.freed.add(rec.ip)
        rec = None
    if pod is None or node is None:
        return out
    uid = pod.metadata.uid
    if pod.metadata.HasField("deletion_timestamp"):
        return out + _terminate(key, pod, rec, node, now, timing)
    if rec is None:
        if pod.status.phase in TERMINAL_PHASES:
            return out       # finished (or refused by an earlier life of this kubelet): nothing runs
        b = batch.setdefault(node.name, _Batch(set(), set()))
        used_count = node.pod_count + b.delta
        if used_count >= node.max_pods:
            reason, message = out_of_pods(used_count, node.max_pods)
            return out + [RejectPod(key, HollowPod(uid, node.name, "", now, REJECTED), reason, message)]
        used = b.used(node)
        ip = _adoptable_ip(pod, node, used)
        adopted = ip is not None
        if ip is None:
            ip = allocate_ip(node.pod_cidr, used)
        if ip is None:
            return out + [Requeue(key, now + 5.0, f"no free IP in {node.pod_cidr} on {node.name}")]
        started = _parse_time(pod.status.start_time) if adopted else None
        rec = HollowPod(uid, node.name, ip, started if started is not None else now)
        b.given.add(ip)
        b.freed.discard(ip)
        b.delta += 1
        out.append(StartPod(key, rec, adopted=adopted))
    if rec.state == REJECTED:
        if pod.status.phase == "Failed" or (rec.written_rv and _rv(pod) <= rec.written_rv):
            return out
        reason, message = out_of_pods(node.pod_count, node.max_pods)
        return out + [RejectPod(key, rec, reason, message)]
    if rec.state != RUNNING:
        return out
    if status_reported(pod, rec, node.host_ip):
        return out
    if rec.written_rv and _rv(pod) <= rec.written_rv:
        return out           # the cache has not caught up with our own write yet
    due = rec.started_at + timing.ready_delay
    if now < due:
        return out + [Requeue(key, due, "ready delay")]
    # Ready's lastTransitionTime is when the API learns it (later than `due` after an outage).
    return out + [PostRunningStatus(key, uid, node.name, rec.ip, node.host_ip, rec.started_at, now)]


def _terminate(key: str, pod: core_pb2.Pod, rec: HollowPod | None, node: NodeView, now: float,
               timing: Timing) -> list[Action]:
    uid = pod.metadata.uid
    if rec is not None and rec.state == FINALIZED:
        return []            # deleted with grace 0 already: waiting for finalizers or the watch
    if (rec is not None and rec.state == REJECTED) or (rec is None and pod.status.phase in TERMINAL_PHASES):
        return [FinalizePod(key, uid)]   # nothing runs: nothing to stop
    if rec is None:
        if pod.status.phase != "Running" or pod.status.host_ip != node.host_ip:
            return [FinalizePod(key, uid)]   # never started here: nothing to stop
        # It ran here in an earlier life of this kubelet: stop it as if this one had started it.
        started = _parse_time(pod.status.start_time)
        rec = HollowPod(uid, node.name, _adoptable_ip(pod, node, node.used_ips) or "",
                        started if started is not None else now)
    out: list[Action] = []
    if rec.state == RUNNING:
        rec = replace(rec, state=STOPPING, stopping_at=now)
        out.append(KillPod(key, rec))
    stopping_at = rec.stopping_at if rec.stopping_at is not None else now
    due = stopping_at + min(grace_seconds(pod), max(0.0, timing.stop_delay))
    if now >= due:
        out.append(FinalizePod(key, uid))
    else:
        out.append(Requeue(key, due, "stopping"))
    return out


# -- the runtime's bookkeeping (pure data; the shell owns the one instance) -------------------------
class Runtime:
    """The hollow runtime: records by pod key, with the IPs and active pod count of each node."""

    def __init__(self) -> None:
        self._pods: dict[str, HollowPod] = {}
        self._by_node: dict[str, set[str]] = {}       # active keys per node
        self._ips: dict[str, set[str]] = {}           # IPs held per node

    def __len__(self) -> int:
        return len(self._pods)

    def __contains__(self, key: str) -> bool:
        return key in self._pods

    def get(self, key: str) -> HollowPod | None:
        return self._pods.get(key)

    def items(self) -> list[tuple[str, HollowPod]]:
        return list(self._pods.items())

    def put(self, key: str, rec: HollowPod) -> None:
        self.forget(key)
        self._pods[key] = rec
        if rec.active:
            self._by_node.setdefault(rec.node, set()).add(key)
            if rec.ip:
                self._ips.setdefault(rec.node, set()).add(rec.ip)

    def forget(self, key: str) -> HollowPod | None:
        rec = self._pods.pop(key, None)
        if rec is not None and rec.active:
            keys = self._by_node.get(rec.node)
            if keys is not None:
                keys.discard(key)
            if rec.ip:
                ips = self._ips.get(rec.node)
                if ips is not None:
                    ips.discard(rec.ip)
        return rec

    def forget_node(self, node: str) -> list[str]:
        """Drop every record of `node`; the keys dropped."""
        keys = [k for k, r in self._pods.items() if r.node == node]
        for k in keys:
            self.forget(k)
        self._by_node.pop(node, None)
        self._ips.pop(node, None)
        return keys

    def used_ips(self, node: str) -> AbstractSet[str]:
        """The IPs held on `node` (a live view: READ-ONLY)."""
        return self._ips.get(node, frozenset())

    def pod_count(self, node: str) -> int:
        return len(self._by_node.get(node, ()))

    def count(self, node: str, state: str) -> int:
        return sum(1 for r in self._pods.values() if r.node == node and r.state == state)
