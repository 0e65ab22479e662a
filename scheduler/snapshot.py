"""The scheduler's picture of the cluster: what each node offers and what is already placed on it. Pure.

    snap = build_snapshot(nodes, pods)          # Node and Pod messages from the informer caches
    snap = assume(snap, pod, "node-1")          # after schedule() chose node-1, before the bind lands
    snap = forget(snap, "default/web-1")        # the pod was deleted, finished, or its bind failed
    snap = update_node(snap, node)              # a Node changed (labels, taints, capacity, conditions)
    snap = remove_node(snap, "node-1")

Vocabulary (Kubernetes' scheduler cache, simplified):
- `PodInfo`: a Pod digested once (requests in millicores/bytes, wanted host ports, controlling owner)
  so that filters and scorers, which run once per node, never parse quantities again.
- `NodeInfo`: a Node plus the pods bound or assumed on it, with their requests summed.
- `Snapshot`: every NodeInfo by node name, immutable; each update returns a new one, sharing the
  unchanged NodeInfos. schedule() reads one snapshot from start to end, so a decision is always made
  against one consistent picture (Nomad's and Kubernetes' "snapshot per cycle").
- `PodPlacements`: the snapshot's pod key -> node map, immutable and sharing structure between
  versions (`with_placement`/`without` copy one small bucket), so that assuming a pod costs the same
  with 30 or 30,000 pods placed (a copy of the whole map per decision made a burst of 3,000 pods
  quadratic).

Which pods count (Kubernetes' semantics): pods with `spec.nodeName` set whose phase is not Succeeded
or Failed, terminating ones included (they hold their resources until they are gone). Requests of a
pod: the sum over its containers, raised to the largest single init container's request where that
is larger (init containers run one at a time, before the others), plus `spec.overhead`.
Allocatable: `status.allocatable`, falling back per resource to `status.capacity`; a resource the node
reports in neither is 0 (so a node without a `pods` figure takes no pods, as in Kubernetes).

For scoring, Kubernetes counts a container that requests no cpu (memory) as requesting 100m (200Mi),
so that least-requested spreading also sees best-effort pods: that is `nonzero_milli_cpu` and
`nonzero_memory`. Filters use the real requests.

# NEVER mutate a Pod or Node after handing it to this module: PodInfo and NodeInfo keep references.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import NamedTuple

from client.quantity import parse_quantity
from skiffpb.k8s.core.v1 import core_pb2

__all__ = [
    "CPU", "DEFAULT_MEMORY_REQUEST", "DEFAULT_MILLI_CPU_REQUEST", "HostPort", "MEMORY", "NodeInfo",
    "PODS", "PodInfo", "PodPlacements", "Resources", "Snapshot", "assume", "build_snapshot", "forget",
    "pod_key", "remove_node", "update_node",
]

CPU, MEMORY, PODS = "cpu", "memory", "pods"
DEFAULT_MILLI_CPU_REQUEST = 100                # Kubernetes' schedutil.DefaultMilliCPURequest
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024     # Kubernetes' schedutil.DefaultMemoryRequest
_TERMINATED = frozenset({"Succeeded", "Failed"})
_EMPTY: Mapping[str, int] = MappingProxyType({})
_FILTERING_EFFECTS = ("NoSchedule", "NoExecute")     # PreferNoSchedule only steers scoring


@dataclass(frozen=True)
class Resources:
    """Amounts of resources: cpu in millicores, memory in bytes; any other resource
    (ephemeral-storage, extended resources such as `example.com/gpu`) as a whole number in `other`,
    as (name, amount) pairs sorted by name."""

    milli_cpu: int = 0
    memory: int = 0
    other: tuple[tuple[str, int], ...] = ()

    def get(self, name: str) -> int:
        """The amount of a resource other than cpu and memory, 0 when absent."""
        for key, amount in self.other:
            if key == name:
                return amount
        return 0

    def __add__(self, more: Resources) -> Resources:
        other = self.other
        if more.other:
            merged = dict(self.other)
            for name, amount in more.other:
                merged[name] = merged.get(name, 0) + amount
            other = tuple(sorted(merged.items()))
        return Resources(self.milli_cpu + more.milli_cpu, self.memory + more.memory, other)


class HostPort(NamedTuple):
    """A host port a container asks for, normalised as Kubernetes does: host_ip "" is "0.0.0.0"
    (every address), protocol "" is "TCP"."""

    host_ip: str
    protocol: str
    port: int


def _amount(name: str, text: str) -> int:
    """cpu in millicores, anything else as a whole number; both rounded up, as Kubernetes does."""
    value = parse_quantity(text)
    return math.ceil(value * 1000) if name == CPU else math.ceil(value)


def _amounts(resource_list) -> dict[str, int]:
    """A map<string, Quantity> (requests, overhead, allocatable) as {name: amount}."""
    return {name: _amount(name, q.value) for name, q in resource_list.items()}


def _resources(amounts: Mapping[str, int]) -> Resources:
    other = tuple(sorted((n, a) for n, a in amounts.items() if n not in (CPU, MEMORY, PODS)))
    return Resources(amounts.get(CPU, 0), amounts.get(MEMORY, 0), other)


def pod_key(pod: core_pb2.Pod) -> str:
    """`namespace/name`, the key by which the snapshot and the logs know a pod."""
    return f"{pod.metadata.namespace}/{pod.metadata.name}"


@dataclass(frozen=True, eq=False)
class PodInfo:
    """A pod, digested once. Build it with `PodInfo.from_pod`."""

    pod: core_pb2.Pod
    key: str
    requests: Resources
    nonzero_milli_cpu: int                  # requests with Kubernetes' defaults for scoring
    nonzero_memory: int
    host_ports: tuple[HostPort, ...]        # wanted by its containers (host_port > 0)
    owner_uid: str                          # uid of its controller ownerReference, "" if none
    terminating: bool                       # metadata.deletionTimestamp is set
    # Read by the filters once per node: plain Python values, not protobuf fields.
    tolerations: tuple[core_pb2.Toleration, ...] = ()
    node_selector: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    # spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution's terms; None if unset
    required_terms: tuple[core_pb2.NodeSelectorTerm, ...] | None = None

    @classmethod
    def from_pod(cls, pod: core_pb2.Pod) -> PodInfo:
        """Raises ValueError for a malformed quantity (the API's codec never lets one in)."""
        spec = pod.spec
        total: dict[str, int] = {}
        nz_cpu = nz_mem = 0
        for c in spec.containers:
            amounts = _amounts(c.resources.requests)
            for name, amount in amounts.items():
                total[name] = total.get(name, 0) + amount
            # An explicit "0" stays 0; only an absent request gets the default (GetNonzeroRequests).
            nz_cpu += amounts.get(CPU, DEFAULT_MILLI_CPU_REQUEST)
            nz_mem += amounts.get(MEMORY, DEFAULT_MEMORY_REQUEST)
        for c in spec.init_containers:
            amounts = _amounts(c.resources.requests)
            for name, amount in amounts.items():
                total[name] = max(total.get(name, 0), amount)
            nz_cpu = max(nz_cpu, amounts.get(CPU, DEFAULT_MILLI_CPU_REQUEST))
            nz_mem = max(nz_mem, amounts.get(MEMORY, DEFAULT_MEMORY_REQUEST))
        overhead = _amounts(spec.overhead)
        for name, amount in overhead.items():
            total[name] = total.get(name, 0) + amount
        nz_cpu += overhead.get(CPU, 0)
        nz_mem += overhead.get(MEMORY, 0)
        # Kubernetes looks at the ports of app containers only (init containers have exited by then).
        ports = tuple(HostPort(p.host_ip or "0.0.0.0", p.protocol or "TCP", p.host_port)
                      for c in spec.containers for p in c.ports if p.host_port > 0)
        owner = next((r.uid for r in pod.metadata.owner_references if r.controller), "")
        terms = None
        if spec.HasField("affinity") and spec.affinity.HasField("node_affinity"):
            affinity = spec.affinity.node_affinity
            if affinity.HasField("required_during_scheduling_ignored_during_execution"):
                terms = tuple(affinity.required_during_scheduling_ignored_during_execution.node_selector_terms)
        return cls(pod, pod_key(pod), _resources(total), nz_cpu, nz_mem, ports, owner,
                   pod.metadata.HasField("deletion_timestamp"), tuple(spec.tolerations),
                   MappingProxyType(dict(spec.node_selector)) if spec.node_selector else _EMPTY, terms)


def _as_pod_info(pod: core_pb2.Pod | PodInfo) -> PodInfo:
    return pod if isinstance(pod, PodInfo) else PodInfo.from_pod(pod)


def _ready_status(node: core_pb2.Node) -> str:
    for cond in node.status.conditions:
        if cond.type == "Ready":
            return cond.status
    return ""


@dataclass(frozen=True, eq=False)
class NodeInfo:
    """A node and the pods placed on it. Build it with `NodeInfo.from_node`; never by hand."""

    node: core_pb2.Node
    name: str
    allocatable: Resources
    allowed_pods: int                        # allocatable "pods"
    pods: tuple[PodInfo, ...] = ()
    requested: Resources = Resources()       # sum of the pods' requests
    nonzero_milli_cpu: int = 0               # sum of the pods' requests with defaults, for scoring
    nonzero_memory: int = 0
    used_ports: frozenset[HostPort] = frozenset()
    # owner uid -> how many of its pods (not terminating) are here
    owner_counts: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
    ready: str = ""                          # the Ready condition's status: True/False/Unknown, "" if none
    # Read by the filters once per pod: plain Python values, not protobuf fields.
    unschedulable: bool = False              # spec.unschedulable (cordoned)
    taints: tuple[tuple[str, str, str], ...] = ()    # (key, value, effect) of its NoSchedule/NoExecute taints
    labels: Mapping[str, str] = field(default_factory=lambda: _EMPTY)

    @classmethod
    def from_node(cls, node: core_pb2.Node, pods: Iterable[PodInfo] = ()) -> NodeInfo:
        capacity = _amounts(node.status.capacity)
        capacity.update(_amounts(node.status.allocatable))
        taints = tuple((t.key, t.value, t.effect) for t in node.spec.taints if t.effect in _FILTERING_EFFECTS)
        return _summed(cls(node, node.metadata.name, _resources(capacity), capacity.get(PODS, 0),
                           ready=_ready_status(node), unschedulable=node.spec.unschedulable, taints=taints,
                           labels=MappingProxyType(dict(node.metadata.labels))), tuple(pods))

    def with_pod(self, pod: PodInfo) -> NodeInfo:
        """This node with one more pod (the caller makes sure its key is not here already)."""
        owners = self.owner_counts
        if pod.owner_uid and not pod.terminating:
            owners = MappingProxyType({**owners, pod.owner_uid: owners.get(pod.owner_uid, 0) + 1})
        return replace(self, pods=self.pods + (pod,), requested=self.requested + pod.requests,
                       nonzero_milli_cpu=self.nonzero_milli_cpu + pod.nonzero_milli_cpu,
                       nonzero_memory=self.nonzero_memory + pod.nonzero_memory,
                       used_ports=self.used_ports.union(pod.host_ports), owner_counts=owners)

    def without_pod(self, key: str) -> NodeInfo:
        """This node without the pod of that key (unchanged if it is not here)."""
        if not any(p.key == key for p in self.pods):
            return self
        # Recounted rather than subtracted: two pods may claim one port (a bind raced), and the
        # survivor must keep it.
        return _summed(self, tuple(p for p in self.pods if p.key != key))


def _summed(info: NodeInfo, pods: tuple[PodInfo, ...]) -> NodeInfo:
    requested = Resources()
    nz_cpu = nz_mem = 0
    ports: set[HostPort] = set()
    owners: dict[str, int] = {}
    for p in pods:
        requested = requested + p.requests
        nz_cpu += p.nonzero_milli_cpu
        nz_mem += p.nonzero_memory
        ports.update(p.host_ports)
        if p.owner_uid and not p.terminating:
            owners[p.owner_uid] = owners.get(p.owner_uid, 0) + 1
    return replace(info, pods=pods, requested=requested, nonzero_milli_cpu=nz_cpu,
                   nonzero_memory=nz_mem, used_ports=frozenset(ports),
                   owner_counts=MappingProxyType(owners))


class PodPlacements(Mapping[str, str]):
    """pod key -> node name, immutable. A new version (`with_placement`, `without`) copies one of
    BUCKETS small dicts and shares the others with the old one, which stays as it was.

    Iteration order is by bucket (the keys' hashes), not by insertion: nothing may rely on it."""

    BUCKETS = 128
    __slots__ = ("_buckets", "_len")

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = ()):
        buckets: list[dict[str, str]] = [{} for _ in range(self.BUCKETS)]
        for key, node in (items.items() if isinstance(items, Mapping) else items):
            buckets[hash(key) % self.BUCKETS][key] = node
        self._buckets = tuple(buckets)
        self._len = sum(map(len, buckets))

    def __getitem__(self, key: str) -> str:
        return self._buckets[hash(key) % self.BUCKETS][key]

    def get(self, key: str, default=None):
        return self._buckets[hash(key) % self.BUCKETS].get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._buckets[hash(key) % self.BUCKETS]

    def __iter__(self):
        for bucket in self._buckets:
            yield from bucket

    def __len__(self) -> int:
        return self._len

    def __repr__(self) -> str:
        return f"PodPlacements({dict(self.items())!r})"

    def _with_bucket(self, i: int, bucket: dict[str, str], delta: int) -> PodPlacements:
        new = object.__new__(PodPlacements)
        buckets = list(self._buckets)
        buckets[i] = bucket
        new._buckets = tuple(buckets)
        new._len = self._len + delta
        return new

    def with_placement(self, key: str, node: str) -> PodPlacements:
        """This map with `key` placed on `node` (added, or moved there)."""
        i = hash(key) % self.BUCKETS
        bucket = dict(self._buckets[i])
        delta = 0 if key in bucket else 1
        bucket[key] = node
        return self._with_bucket(i, bucket, delta)

    def without(self, key: str) -> PodPlacements:
        """This map without `key` (itself if `key` is not there)."""
        i = hash(key) % self.BUCKETS
        if key not in self._buckets[i]:
            return self
        bucket = dict(self._buckets[i])
        del bucket[key]
        return self._with_bucket(i, bucket, -1)


@dataclass(frozen=True, eq=False)
class Snapshot:
    """Every node's NodeInfo, read-only. Build with `build_snapshot`; change with the functions below."""

    nodes: Mapping[str, NodeInfo]      # node name -> NodeInfo, in name order
    pod_nodes: PodPlacements           # pod key -> name of the node it is placed on
    owner_max: Mapping[str, int]       # owner uid -> the most of its pods on any one node

    def __len__(self) -> int:
        return len(self.nodes)


def _frozen(mapping: Mapping) -> Mapping:
    # A proxy is wrapped once only: a proxy of a proxy of ... would deepen with every update.
    return mapping if isinstance(mapping, MappingProxyType) else MappingProxyType(mapping)


def _snapshot(nodes: Mapping[str, NodeInfo], pod_nodes: PodPlacements | Mapping[str, str],
              owner_max: Mapping[str, int]) -> Snapshot:
    if not isinstance(pod_nodes, PodPlacements):
        pod_nodes = PodPlacements(pod_nodes)
    return Snapshot(_frozen(nodes), pod_nodes, _frozen(owner_max))


def _owner_max(nodes: Iterable[NodeInfo]) -> dict[str, int]:
    most: dict[str, int] = {}
    for info in nodes:
        for uid, count in info.owner_counts.items():
            if count > most.get(uid, 0):
                most[uid] = count
    return most


def build_snapshot(nodes: Iterable[core_pb2.Node], pods: Iterable[core_pb2.Pod | PodInfo]) -> Snapshot:
    """A snapshot of these nodes with the pods placed on them.

    Pods count when `spec.nodeName` names one of the nodes and their phase is not Succeeded or
    Failed; the others (pending, finished, or bound to a node not in `nodes`) are left out. A pod key
    seen twice keeps its last occurrence. Pods may be given as PodInfos to skip re-digesting them.
    """
    node_list = sorted(nodes, key=lambda n: n.metadata.name)
    names = {n.metadata.name for n in node_list}
    placed: dict[str, tuple[str, PodInfo]] = {}      # pod key -> (node name, pod); the last one wins
    for pod in pods:
        msg = pod.pod if isinstance(pod, PodInfo) else pod
        if msg.spec.node_name in names and msg.status.phase not in _TERMINATED:
            info = _as_pod_info(pod)
            placed[info.key] = (msg.spec.node_name, info)
    by_node: dict[str, list[PodInfo]] = {name: [] for name in names}
    for node_name, info in placed.values():
        by_node[node_name].append(info)
    infos = {n.metadata.name: NodeInfo.from_node(n, by_node[n.metadata.name]) for n in node_list}
    pod_nodes = {key: node_name for key, (node_name, _) in placed.items()}
    return _snapshot(infos, pod_nodes, _owner_max(infos.values()))


def assume(snapshot: Snapshot, pod: core_pb2.Pod | PodInfo, node_name: str) -> Snapshot:
    """The snapshot with the pod placed on `node_name` (moved there if it was placed elsewhere).

    The scheduler assumes a pod right after choosing its node, before the bind is written, so the
    next pod sees the space taken; the same call records a bind the informer reports. The pod's own
    `spec.nodeName` is not read. Raises KeyError when the node is not in the snapshot.
    """
    info = _as_pod_info(pod)
    target = snapshot.nodes[node_name]
    if snapshot.pod_nodes.get(info.key) is not None:
        snapshot = forget(snapshot, info.key)
        target = snapshot.nodes[node_name]
    nodes = dict(snapshot.nodes)
    nodes[node_name] = placed = target.with_pod(info)
    owner_max = snapshot.owner_max
    if info.owner_uid and not info.terminating:
        count = placed.owner_counts[info.owner_uid]
        if count > owner_max.get(info.owner_uid, 0):
            owner_max = {**owner_max, info.owner_uid: count}
    return _snapshot(nodes, snapshot.pod_nodes.with_placement(info.key, node_name), owner_max)


def forget(snapshot: Snapshot, key: str) -> Snapshot:
    """The snapshot without the pod of that `namespace/name` key; unchanged if it is not placed.

    For a pod deleted or finished, or an assumed pod whose bind failed.
    """
    node_name = snapshot.pod_nodes.get(key)
    if node_name is None:
        return snapshot
    before = snapshot.nodes[node_name]
    gone = next(p for p in before.pods if p.key == key)
    nodes = dict(snapshot.nodes)
    nodes[node_name] = before.without_pod(key)
    return _snapshot(nodes, snapshot.pod_nodes.without(key),
                     _recount_owner(snapshot.owner_max, nodes.values(), gone.owner_uid))


def _recount_owner(owner_max: Mapping[str, int], nodes: Iterable[NodeInfo], uid: str) -> Mapping[str, int]:
    if not uid:
        return owner_max
    most = max((info.owner_counts.get(uid, 0) for info in nodes), default=0)
    updated = {k: v for k, v in owner_max.items() if k != uid}
    if most:
        updated[uid] = most
    return updated


def update_node(snapshot: Snapshot, node: core_pb2.Node) -> Snapshot:
    """The snapshot with this Node added, or replacing the one of the same name (its pods stay).

    A node added here starts empty: pods already bound to it that the snapshot left out (they named
    a node it did not have) are not recovered; rebuild with build_snapshot when that matters.
    """
    name = node.metadata.name
    before = snapshot.nodes.get(name)
    info = NodeInfo.from_node(node, before.pods if before is not None else ())
    nodes = dict(snapshot.nodes)
    nodes[name] = info
    if before is None:
        nodes = dict(sorted(nodes.items()))
    return _snapshot(nodes, snapshot.pod_nodes, snapshot.owner_max)


def remove_node(snapshot: Snapshot, name: str) -> Snapshot:
    """The snapshot without that node and the pods placed on it; unchanged if it is not there."""
    if name not in snapshot.nodes:
        return snapshot
    nodes = {n: info for n, info in snapshot.nodes.items() if n != name}
    pod_nodes = {k: n for k, n in snapshot.pod_nodes.items() if n != name}
    return _snapshot(nodes, pod_nodes, _owner_max(nodes.values()))
