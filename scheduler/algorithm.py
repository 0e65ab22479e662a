"""Where a pod should run: filters, scorers and `schedule`. Pure: no gRPC, no asyncio, no clock;
randomness only through the `rng` passed in.

    snap = build_snapshot(nodes, pods)                      # scheduler/snapshot.py
    result = schedule(pod, snap, rng=random.Random())
    if result.node_name:                                    # bind it, and assume it meanwhile
        snap = assume(snap, pod, result.node_name)
    else:                                                   # PodScheduled=False, reason Unschedulable
        result.message  # "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu."

The shape is Kubernetes' scheduling framework (1.20), reduced to what Skiff needs:

1. **Filter.** Each node goes through `FILTERS` in order; the first filter that rejects it decides
   why (Kubernetes stops at the first failing plugin too, so a cordoned node short of cpu is counted
   as unschedulable only). A filter returns the reasons it rejects the node, `()` when it fits. Most
   give at most one; NodeResourcesFit gives one per resource short (`Insufficient cpu` and
   `Insufficient memory`), which is why a filter returns a tuple, not a single string: the summary
   counts each reason, as Kubernetes' does. A filter may name the pods it is `relevant` to
   (NodePorts: pods wanting host ports; NodeAffinity: pods with a nodeSelector or required node
   affinity): for any other pod it could reject no node, so `schedule` leaves it out of that pod's
   loop over the nodes (Kubernetes' PreFilter answering Skip). The filters read `NodeInfo` and
   `PodInfo` fields digested once (labels, taints, tolerations), not protobuf fields per node.
2. **Score.** Each node that passed gets the weighted sum of `SCORERS`, each in [0, 100]. With a
   single feasible node scoring is skipped, as in Kubernetes.
3. **Select.** The highest total wins; a tie is broken by `rng.choice` among the tied nodes (in name
   order, so a seeded rng reproduces a run).

Reasons carry Kubernetes 1.20's exact texts, and `failure_message` sorts and joins them as its
FitError does, so what `skiff describe pod` shows is what a Kubernetes user knows:
`0/3 nodes are available: 1 node(s) had taint {dedicated: gpu}, that the pod didn't tolerate, 2 Insufficient memory.`

Filters, in Kubernetes 1.20's order (NodeName, the volume filters and inter-pod affinity are left
out: a pod with spec.nodeName is never given to the scheduler, and Skiff has no such volumes):
- NodeUnschedulable: `spec.unschedulable` (cordoned) rejects, unless the pod tolerates the
  `node.kubernetes.io/unschedulable:NoSchedule` taint.
- NodeResourcesFit: pods count, cpu, memory and any other requested resource against allocatable
  minus what the node's pods request.
- NodePorts: a wanted host port already used on the node (`0.0.0.0` conflicts with every address).
- NodeAffinity: `spec.nodeSelector` and required node affinity terms.
- TaintToleration: the first NoSchedule or NoExecute taint no toleration tolerates. PreferNoSchedule
  never filters.
- NodeReady (Skiff's, last): a node whose Ready condition is not True. Kubernetes 1.20 has no such
  filter: its node lifecycle controller taints such a node `node.kubernetes.io/not-ready` (Ready
  False) or `node.kubernetes.io/unreachable` (Unknown or absent) with NoSchedule, and
  TaintToleration rejects it with the taint's text. This filter applies that taint before the
  controller has written it (a node just registered, or the controller behind), with the text of
  Kubernetes' older CheckNodeCondition predicate, `node(s) were not ready`; a pod that tolerates the
  taint may still land there, as in Kubernetes. Running last keeps Kubernetes' text whenever
  Kubernetes would have printed one.

Scorers (weights as Kubernetes 1.20 gives its counterparts):
- NodeResourcesLeastAllocated (weight 1): the mean over cpu and memory of free/allocatable after
  placing the pod, counting requests with Kubernetes' defaults for best-effort containers; integer
  arithmetic as Kubernetes', so equal nodes tie exactly.
- OwnerSpread (weight 2, as PodTopologySpread's default spreading): fewer pods of the same
  controller (ownerReference with controller: true) on the node scores higher; normalised as
  Kubernetes' SelectorSpread: 100 * (most - here) / most, where `most` is the highest count on any
  node of the snapshot (Kubernetes uses the feasible nodes only; the snapshot keeps the maximum
  ready, so a score needs no pass over the other nodes).

Filters and scorers take a `PodInfo` (the pod digested once), not the Pod message: they run once per
node, and parsing `500m` a hundred times per pod would cost more than all the checks.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from random import Random
from types import MappingProxyType
from typing import NamedTuple

from scheduler.snapshot import HostPort, NodeInfo, PodInfo, Snapshot
from skiffpb.k8s.core.v1 import core_pb2

__all__ = [
    "FILTERS", "Filter", "FilterPlugin", "MAX_SCORE", "NOT_READY", "NO_FREE_PORTS", "NO_NODES",
    "SCORERS", "ScheduleResult", "ScorePlugin", "Scorer", "SELECTOR_MISMATCH", "TAINT_NOT_READY",
    "TAINT_UNREACHABLE", "TAINT_UNSCHEDULABLE", "TOO_MANY_PODS", "UNSCHEDULABLE", "failure_message",
    "filter_host_ports", "filter_node", "filter_node_selector", "filter_ready", "filter_resources",
    "filter_taints", "filter_unschedulable", "insufficient", "score_least_requested",
    "score_owner_spread", "schedule", "selects_nodes", "taint_reason", "tolerates", "wants_host_ports",
]

# Kubernetes 1.20's texts, verbatim.
UNSCHEDULABLE = "node(s) were unschedulable"
TOO_MANY_PODS = "Too many pods"
NO_FREE_PORTS = "node(s) didn't have free ports for the requested pod ports"
SELECTOR_MISMATCH = "node(s) didn't match node selector"
NOT_READY = "node(s) were not ready"
NO_NODES = "no nodes available to schedule pods"
MAX_SCORE = 100

TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
NO_SCHEDULE, NO_EXECUTE = "NoSchedule", "NoExecute"

Filter = Callable[[PodInfo, NodeInfo], tuple[str, ...]]
Scorer = Callable[[PodInfo, NodeInfo, Snapshot], float]


def insufficient(resource: str) -> str:
    """Kubernetes' reason for a resource the node is short of: `Insufficient cpu`."""
    return f"Insufficient {resource}"


def taint_reason(key: str, value: str) -> str:
    """Kubernetes 1.20's reason for an untolerated taint:
    `node(s) had taint {k: v}, that the pod didn't tolerate`."""
    return f"node(s) had taint {{{key}: {value}}}, that the pod didn't tolerate"


# --- taints and tolerations -----------------------------------------------------------------------

def tolerates(toleration: core_pb2.Toleration, key: str, value: str, effect: str) -> bool:
    """Whether one toleration tolerates a taint (Kubernetes' Toleration.ToleratesTaint).

    An empty effect matches every effect; an empty key matches every key (valid only with Exists,
    which then tolerates everything); operator Exists ignores the value, Equal (or empty) compares it.
    """
    if toleration.effect and toleration.effect != effect:
        return False
    if toleration.key and toleration.key != key:
        return False
    if toleration.operator in ("", "Equal"):
        return toleration.value == value
    return toleration.operator == "Exists"


def _tolerated(pod: PodInfo, key: str, value: str, effect: str) -> bool:
    for t in pod.tolerations:
        if tolerates(t, key, value, effect):
            return True
    return False


# --- filters ----------------------------------------------------------------------------------------

def filter_unschedulable(pod: PodInfo, node: NodeInfo) -> tuple[str, ...]:
    """NodeUnschedulable: a cordoned node takes only pods tolerating its unschedulable taint."""
    if node.unschedulable and not _tolerated(pod, TAINT_UNSCHEDULABLE, "", NO_SCHEDULE):
        return (UNSCHEDULABLE,)
    return ()


def filter_resources(pod: PodInfo, node: NodeInfo) -> tuple[str, ...]:
    """NodeResourcesFit: every reason the pod does not fit in what the node has left."""
    reasons = []
    if len(node.pods) + 1 > node.allowed_pods:
        reasons.append(TOO_MANY_PODS)
    want, have, used = pod.requests, node.allocatable, node.requested
    if not (want.milli_cpu or want.memory or want.other):
        return tuple(reasons)          # a pod requesting nothing fits anywhere the pod count allows
    # Compared even when the pod asks for 0: a node already over its allocatable (it shrank) takes
    # nothing that requests anything, as in Kubernetes.
    if have.milli_cpu < used.milli_cpu + want.milli_cpu:
        reasons.append(insufficient("cpu"))
    if have.memory < used.memory + want.memory:
        reasons.append(insufficient("memory"))
    for name, amount in want.other:
        if have.get(name) < used.get(name) + amount:
            reasons.append(insufficient(name))
    return tuple(reasons)


def _port_taken(used: frozenset[HostPort], want: HostPort) -> bool:
    if want.host_ip == "0.0.0.0":
        return any(u.protocol == want.protocol and u.port == want.port for u in used)
    return want in used or want._replace(host_ip="0.0.0.0") in used


def filter_host_ports(pod: PodInfo, node: NodeInfo) -> tuple[str, ...]:
    """NodePorts: every (hostIP, protocol, hostPort) the pod wants must be free on the node."""
    if pod.host_ports and node.used_ports and any(_port_taken(node.used_ports, p) for p in pod.host_ports):
        return (NO_FREE_PORTS,)
    return ()


_INT64 = re.compile(r"[+-]?[0-9]+")


def _as_int64(text: str) -> int | None:
    if not _INT64.fullmatch(text):
        return None
    value = int(text)
    return value if -2 ** 63 <= value < 2 ** 63 else None


def _requirement_matches(req: core_pb2.NodeSelectorRequirement, values: Mapping[str, str]) -> bool:
    """One NodeSelectorRequirement against labels (or fields). An ill-formed one matches nothing,
    as Kubernetes' conversion to a selector fails and the term is skipped."""
    op, present = req.operator, req.key in values
    if op in ("In", "NotIn"):
        if not req.values:
            return False
        return (present and values[req.key] in req.values) == (op == "In")
    if op in ("Exists", "DoesNotExist"):
        return not req.values and present == (op == "Exists")
    if op in ("Gt", "Lt") and len(req.values) == 1 and present:
        bound, have = _as_int64(req.values[0]), _as_int64(values[req.key])
        if bound is None or have is None:
            return False
        return have > bound if op == "Gt" else have < bound
    return False


def _term_matches(term: core_pb2.NodeSelectorTerm, node: NodeInfo) -> bool:
    if not term.match_expressions and not term.match_fields:
        return False                   # an empty term matches no node
    labels = node.labels
    if not all(_requirement_matches(r, labels) for r in term.match_expressions):
        return False
    fields = {"metadata.name": node.name}
    # Field requirements are In or NotIn with exactly one value; anything else is ill-formed.
    return all(r.operator in ("In", "NotIn") and len(r.values) == 1 and _requirement_matches(r, fields)
               for r in term.match_fields)


def filter_node_selector(pod: PodInfo, node: NodeInfo) -> tuple[str, ...]:
    """NodeAffinity: every nodeSelector label, and one of the required node affinity terms if any."""
    if pod.node_selector:
        labels = node.labels
        for key, value in pod.node_selector.items():
            if labels.get(key) != value:
                return (SELECTOR_MISMATCH,)
    if pod.required_terms is not None and not any(_term_matches(t, node) for t in pod.required_terms):
        return (SELECTOR_MISMATCH,)
    return ()


def filter_taints(pod: PodInfo, node: NodeInfo) -> tuple[str, ...]:
    """TaintToleration: the node's first NoSchedule or NoExecute taint the pod does not tolerate
    (`NodeInfo.taints` holds only those: PreferNoSchedule only steers scoring in Kubernetes)."""
    for key, value, effect in node.taints:
        if not _tolerated(pod, key, value, effect):
            return (taint_reason(key, value),)
    return ()


def filter_ready(pod: PodInfo, node: NodeInfo) -> tuple[str, ...]:
    """NodeReady (Skiff's): a node whose Ready condition is not True, unless the pod tolerates the
    taint Kubernetes' node lifecycle controller would put on it (see the module docstring)."""
    if node.ready == "True":
        return ()
    implied = TAINT_NOT_READY if node.ready == "False" else TAINT_UNREACHABLE
    return () if _tolerated(pod, implied, "", NO_SCHEDULE) else (NOT_READY,)


def wants_host_ports(pod: PodInfo) -> bool:
    return bool(pod.host_ports)


def selects_nodes(pod: PodInfo) -> bool:
    return bool(pod.node_selector) or pod.required_terms is not None


class FilterPlugin(NamedTuple):
    """A filter; with `relevant`, it runs only for the pods that predicate accepts: for the others it
    could reject no node (Kubernetes' PreFilter answering Skip), and `schedule` leaves it out of the
    pod's per-node loop."""

    name: str
    filter: Filter
    relevant: Callable[[PodInfo], bool] | None = None


FILTERS: tuple[FilterPlugin, ...] = (
    FilterPlugin("NodeUnschedulable", filter_unschedulable),
    FilterPlugin("NodeResourcesFit", filter_resources),
    FilterPlugin("NodePorts", filter_host_ports, wants_host_ports),
    FilterPlugin("NodeAffinity", filter_node_selector, selects_nodes),
    FilterPlugin("TaintToleration", filter_taints),
    FilterPlugin("NodeReady", filter_ready),
)


def filter_node(pod: PodInfo, node: NodeInfo, filters: Sequence[FilterPlugin] = FILTERS) -> tuple[str, ...]:
    """Why the node cannot take the pod: the reasons of the first filter that rejects it, or ()."""
    for plugin in filters:
        reasons = plugin.filter(pod, node)
        if reasons:
            return reasons
    return ()


# --- scorers ----------------------------------------------------------------------------------------

def _least_requested(requested: int, capacity: int) -> int:
    if capacity <= 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_SCORE // capacity


def score_least_requested(pod: PodInfo, node: NodeInfo, snapshot: Snapshot) -> float:
    """NodeResourcesLeastAllocated: the emptier the node would be with the pod, the higher."""
    cpu = _least_requested(node.nonzero_milli_cpu + pod.nonzero_milli_cpu, node.allocatable.milli_cpu)
    memory = _least_requested(node.nonzero_memory + pod.nonzero_memory, node.allocatable.memory)
    return float((cpu + memory) // 2)


def score_owner_spread(pod: PodInfo, node: NodeInfo, snapshot: Snapshot) -> float:
    """OwnerSpread: the fewer pods of the pod's controller already here, the higher."""
    most = snapshot.owner_max.get(pod.owner_uid, 0) if pod.owner_uid else 0
    if most == 0:
        return float(MAX_SCORE)
    here = node.owner_counts.get(pod.owner_uid, 0)
    return float(int(MAX_SCORE * ((most - here) / most)))


class ScorePlugin(NamedTuple):
    name: str
    score: Scorer
    weight: int


SCORERS: tuple[ScorePlugin, ...] = (
    ScorePlugin("NodeResourcesLeastAllocated", score_least_requested, 1),
    ScorePlugin("OwnerSpread", score_owner_spread, 2),
)


# --- schedule ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ScheduleResult:
    """Where the pod goes, or why it goes nowhere.

    node_name: the chosen node, None when no node fits.
    num_nodes: the nodes considered (all of the snapshot).
    reasons:   node name -> why it was filtered out, for every rejected node (also on success).
    feasible:  the nodes that passed every filter, in name order.
    scores:    node name -> weighted total, for the feasible nodes; empty when there was at most
               one, as scoring is then skipped.
    """

    node_name: str | None
    num_nodes: int
    reasons: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    feasible: tuple[str, ...] = ()
    scores: Mapping[str, float] = field(default_factory=dict)

    @property
    def message(self) -> str:
        """Kubernetes' PodScheduled=False message; "" when the pod was scheduled."""
        return "" if self.node_name is not None else failure_message(self.num_nodes, self.reasons)


def schedule(pod: core_pb2.Pod | PodInfo, snapshot: Snapshot, rng: Random, *,
             filters: Sequence[FilterPlugin] = FILTERS,
             scorers: Sequence[ScorePlugin] = SCORERS) -> ScheduleResult:
    """Choose a node of `snapshot` for `pod` (a Pod message or its PodInfo); see the module docstring.

    `rng` is used only to break a tie between equally scored nodes (`rng.choice`). The pod's own
    `spec.nodeName` and `spec.schedulerName` are not read: which pods to schedule is the caller's
    business. The pod should not already be placed in the snapshot (it would count against itself).
    """
    info = pod if isinstance(pod, PodInfo) else PodInfo.from_pod(pod)
    reasons: dict[str, tuple[str, ...]] = {}
    feasible: list[str] = []
    # The hot loop (pods x nodes x filters): filter_node's work inlined, and the filters that are
    # not relevant to this pod left out once, rather than asked per node.
    checks = [p.filter for p in filters if p.relevant is None or p.relevant(info)]
    for name, node in snapshot.nodes.items():
        for check in checks:
            why = check(info, node)
            if why:
                reasons[name] = why
                break
        else:
            feasible.append(name)
    num_nodes = len(snapshot.nodes)
    if len(feasible) <= 1:
        chosen = feasible[0] if feasible else None
        return ScheduleResult(chosen, num_nodes, MappingProxyType(reasons), tuple(feasible))
    weighted = [(p.weight, p.score) for p in scorers]
    scores: dict[str, float] = {}
    for name in feasible:
        node = snapshot.nodes[name]
        total = 0
        for weight, score in weighted:      # summed in plugin order, as sum() over them would
            total += weight * score(info, node, snapshot)
        scores[name] = total
    best = max(scores.values())
    tied = [name for name in feasible if scores[name] == best]
    chosen = tied[0] if len(tied) == 1 else rng.choice(tied)
    return ScheduleResult(chosen, num_nodes, MappingProxyType(reasons), tuple(feasible),
                          MappingProxyType(scores))


def failure_message(num_nodes: int, reasons_by_node: Mapping[str, Sequence[str]]) -> str:
    """Kubernetes' message for a pod no node fits (its FitError), e.g.
    `0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu.`

    Each reason is counted once per node giving it; the "<count> <reason>" strings are sorted as
    plain strings, exactly as Kubernetes 1.20 sorts them (sort.Strings): the count leads, so
    "1 node(s) ..." comes before "2 Insufficient cpu", and "10 ..." before "2 ...". With no nodes at
    all the text is Kubernetes' `no nodes available to schedule pods`.
    """
    if num_nodes == 0:
        return NO_NODES
    counts = Counter(reason for why in reasons_by_node.values() for reason in why)
    histogram = sorted(f"{count} {reason}" for reason, count in counts.items())
    return f"0/{num_nodes} nodes are available: {', '.join(histogram)}."
