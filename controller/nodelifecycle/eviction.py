"""Pods on a failing node, the node lifecycle controller's second pure core (Kubernetes' taint manager
and MarkPodsNotReady).

    plan = eviction_plan(pods, node.spec.taints, now=now, default_timeout=10.0)
    plan.evict        # pods whose time on the node's NoExecute taints is up: delete them
    plan.next_due     # when the next one's time is up (a timed re-check), or None
    pods_marked_not_ready(pods, now=now)   # copies with Ready=False, for a node that is not Ready

How long a pod may stay on a node with NoExecute taints, taint by taint (the shortest wins):
- a taint the pod tolerates with tolerationSeconds: that long (<= 0: at once); tolerated by
  several tolerations: the shortest; tolerated without tolerationSeconds: forever;
- an untolerated node.kubernetes.io/unreachable or not-ready taint: `default_timeout` (Kubernetes'
  --pod-eviction-timeout; Kubernetes gets the same effect by giving every pod tolerations of these
  two taints with tolerationSeconds at admission);
- any other untolerated NoExecute taint: at once.
Counted from the taint's timeAdded (a taint without one counts from the epoch: at once), so a
controller restart keeps every deadline. Pods already being deleted are left alone.

Pure: `now` comes in; no I/O. NEVER mutates its inputs.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from controller.nodelifecycle.health import NOT_READY_TAINT, UNREACHABLE_TAINT
from client.times import format_time, parse_time
from skiffpb.k8s.core.v1 import core_pb2

__all__ = ["EvictionPlan", "eviction_delay", "eviction_plan", "pods_marked_not_ready", "tolerates"]

FOREVER = float("inf")


def tolerates(toleration: core_pb2.Toleration, taint: core_pb2.Taint) -> bool:
    """Kubernetes' ToleratesTaint: effect and key match when set; Equal compares the value."""
    if toleration.effect and toleration.effect != taint.effect:
        return False
    if toleration.key and toleration.key != taint.key:
        return False
    if toleration.operator == "Exists":
        return True
    return toleration.operator in ("", "Equal") and toleration.value == taint.value


def eviction_delay(pod: core_pb2.Pod, taint: core_pb2.Taint, default_timeout: float) -> float:
    """Seconds `pod` may stay on a node with NoExecute `taint` (FOREVER when it tolerates it for good)."""
    matching = [t for t in pod.spec.tolerations if tolerates(t, taint)]
    if not matching:
        return default_timeout if taint.key in (UNREACHABLE_TAINT, NOT_READY_TAINT) else 0.0
    if any(not t.HasField("toleration_seconds") for t in matching):
        return FOREVER
    return float(max(min(t.toleration_seconds for t in matching), 0))


def _due(pod: core_pb2.Pod, taints: Sequence[core_pb2.Taint], default_timeout: float) -> float:
    due = FOREVER
    for taint in taints:
        delay = eviction_delay(pod, taint, default_timeout)
        if delay != FOREVER:
            due = min(due, (parse_time(taint.time_added) or 0.0) + delay)
    return due


@dataclass(frozen=True)
class EvictionPlan:
    evict: tuple[core_pb2.Pod, ...]
    next_due: float | None           # seconds since the epoch; None: nothing else will come due


def eviction_plan(pods: Iterable[core_pb2.Pod], taints: Iterable[core_pb2.Taint], *, now: float,
                  default_timeout: float) -> EvictionPlan:
    """Which of `pods` (those on the node) to delete now, and when to look again."""
    no_execute = [t for t in taints if t.effect == "NoExecute"]
    if not no_execute:
        return EvictionPlan((), None)
    evict, later = [], []
    for pod in pods:
        if pod.metadata.HasField("deletion_timestamp"):
            continue
        due = _due(pod, no_execute, default_timeout)
        if due <= now:
            evict.append(pod)
        elif due != FOREVER:
            later.append(due)
    return EvictionPlan(tuple(evict), min(later) if later else None)


def pods_marked_not_ready(pods: Iterable[core_pb2.Pod], *, now: float) -> list[core_pb2.Pod]:
    """Copies of the pods whose Ready condition is not False yet, with Ready=False (lastTransitionTime
    now): a pod on a node that is not Ready cannot be trusted to serve (MarkPodsNotReady)."""
    out = []
    for pod in pods:
        for c in pod.status.conditions:
            if c.type == "Ready" and c.status != "False":
                break
        else:
            continue
        new = core_pb2.Pod()
        new.CopyFrom(pod)
        for c in new.status.conditions:
            if c.type == "Ready":
                c.status = "False"
                c.last_transition_time = format_time(now)
        out.append(new)
    return out
