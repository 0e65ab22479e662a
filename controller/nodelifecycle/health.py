"""Node health, the node lifecycle controller's first pure core: heartbeats -> conditions and taints.

    h = node_health(node, lease, now=now, grace=10.0)
    h.status          # a NodeStatus to write (Ready and the pressure conditions Unknown), or None
    h.taints          # the node's new spec.taints, or None when they are right already
    h.ready           # Ready after the decision: "True" | "False" | "Unknown" | "" (never posted)
    h.recheck_after   # seconds until the heartbeat goes stale (a timed re-check), or None

A node's heartbeat is the later of its Lease's renewTime (kube-node-lease/<node>) and its Ready
condition's lastHeartbeatTime; a node that never sent either is measured from its creation. When
the heartbeat is older than the grace period (Kubernetes' --node-monitor-grace-period), as
Kubernetes' tryUpdateNodeHealth does:
- Ready and MemoryPressure, DiskPressure, PIDPressure become Unknown: reason NodeStatusUnknown,
  message "Kubelet stopped posting node status.", lastTransitionTime now, lastHeartbeatTime kept;
  one the kubelet never posted is added as Unknown, NodeStatusNeverUpdated, "Kubelet never posted
  node status.", heartbeat = the node's creation. A condition already Unknown is left as it is.
A fresh heartbeat changes no condition: Ready comes back from the kubelet's own status.

Taints follow the Ready condition (Kubernetes' taint-by-condition and NoExecute passes):
- Unknown: node.kubernetes.io/unreachable, NoSchedule and NoExecute;
- False: node.kubernetes.io/not-ready, NoSchedule and NoExecute;
- True: neither; no Ready condition yet: the taints are left as they are.
A taint already present keeps its timeAdded (eviction deadlines count from it); a new one gets
`now`. Other taints are never touched. Skiff sets timeAdded on the NoSchedule taints as well as
the NoExecute ones (Kubernetes only on NoExecute): harmless, and it says when a node went bad.

The comparison uses the timestamps the kubelet wrote, so it assumes clocks within a fraction of
the grace period of each other (Kubernetes instead times its own observations of a change). Pure:
`now` comes in; no I/O.
"""
from __future__ import annotations

from dataclasses import dataclass

from client.times import format_time, parse_time
from skiffpb.k8s.coordination.v1 import coordination_pb2
from skiffpb.k8s.core.v1 import core_pb2

__all__ = ["CONDITION_TYPES", "LEASE_NAMESPACE", "NOT_READY_TAINT", "NodeHealth", "UNREACHABLE_TAINT",
           "desired_taints", "last_heartbeat", "node_health", "ready_status"]

LEASE_NAMESPACE = "kube-node-lease"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
CONDITION_TYPES = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
EFFECTS = ("NoSchedule", "NoExecute")
STOPPED = ("NodeStatusUnknown", "Kubelet stopped posting node status.")
NEVER = ("NodeStatusNeverUpdated", "Kubelet never posted node status.")
RECHECK_MARGIN = 0.05     # re-check just after the instant the heartbeat turns stale, not on it


@dataclass(frozen=True)
class NodeHealth:
    """What `node_health` decided; the shell writes `status`, then `taints`."""

    heartbeat: float | None          # seconds since the epoch of the latest sign of life
    stale: bool
    ready: str                       # Ready's status after the decision ("" when there is none)
    status: core_pb2.NodeStatus | None = None
    taints: tuple[core_pb2.Taint, ...] | None = None
    marked_not_ready: bool = False   # this decision turns Ready from True to Unknown: NodeNotReady
    taints_cleared: bool = False     # this decision lifts unreachable/not-ready taints: NodeReady
    recheck_after: float | None = None


def _condition(status: core_pb2.NodeStatus, type_: str):
    for c in status.conditions:
        if c.type == type_:
            return c
    return None


def ready_status(node: core_pb2.Node) -> str:
    """The status of the node's Ready condition ("" when it has none)."""
    c = _condition(node.status, "Ready")
    return c.status if c is not None else ""


def last_heartbeat(node: core_pb2.Node, lease: coordination_pb2.Lease | None) -> float | None:
    """The latest of the Lease's renewTime and Ready's lastHeartbeatTime; else the node's creation."""
    seen = []
    if lease is not None:
        seen.append(parse_time(lease.spec.renew_time))
    c = _condition(node.status, "Ready")
    if c is not None:
        seen.append(parse_time(c.last_heartbeat_time))
    known = [t for t in seen if t is not None]
    if known:
        return max(known)
    return parse_time(node.metadata.creation_timestamp)


def _stale_status(node: core_pb2.Node, now: float) -> core_pb2.NodeStatus | None:
    """The status with every monitored condition Unknown, or None when they all are already."""
    status = core_pb2.NodeStatus()
    status.CopyFrom(node.status)
    stamp = format_time(now)
    changed = False
    for type_ in CONDITION_TYPES:
        c = _condition(status, type_)
        if c is None:
            c = status.conditions.add(type=type_, status="Unknown", reason=NEVER[0], message=NEVER[1],
                                      last_transition_time=stamp)
            if node.metadata.creation_timestamp:
                c.last_heartbeat_time = node.metadata.creation_timestamp
            changed = True
        elif c.status != "Unknown":
            c.status, c.reason, c.message = "Unknown", STOPPED[0], STOPPED[1]
            c.last_transition_time = stamp
            changed = True
    return status if changed else None


def _ours(t: core_pb2.Taint) -> bool:
    return t.key in (UNREACHABLE_TAINT, NOT_READY_TAINT) and t.effect in EFFECTS


def desired_taints(taints, ready: str, now: float) -> tuple[core_pb2.Taint, ...] | None:
    """The node's taints for Ready = `ready`, or None when `taints` already are that."""
    if ready == "":
        return None
    key = {"Unknown": UNREACHABLE_TAINT, "False": NOT_READY_TAINT}.get(ready)
    want = [(key, e) for e in EFFECTS] if key else []
    have = {(t.key, t.effect): t for t in taints if _ours(t)}
    if sorted(have) == sorted(want):
        return None
    out = [t for t in taints if not _ours(t)]
    for k, effect in want:
        kept = have.get((k, effect))
        if kept is None:
            kept = core_pb2.Taint(key=k, effect=effect, time_added=format_time(now))
        out.append(kept)
    return tuple(out)


def node_health(node: core_pb2.Node, lease: coordination_pb2.Lease | None, *, now: float,
                grace: float) -> NodeHealth:
    """The decision for one node at `now` (see the module docstring). NEVER mutates its inputs."""
    beat = last_heartbeat(node, lease)
    stale = beat is None or now - beat > grace
    before = ready_status(node)
    status = _stale_status(node, now) if stale else None
    after = before
    if status is not None:
        after = _condition(status, "Ready").status
    taints = desired_taints(node.spec.taints, after, now)
    cleared = taints is not None and any(_ours(t) for t in node.spec.taints) and \
        not any(_ours(t) for t in taints)
    recheck = None
    if not stale:
        recheck = max(beat + grace - now, 0.0) + RECHECK_MARGIN
    return NodeHealth(heartbeat=beat, stale=stale, ready=after, status=status, taints=taints,
                      marked_not_ready=before == "True" and after != "True", taints_cleared=cleared,
                      recheck_after=recheck)
