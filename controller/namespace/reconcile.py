"""The namespace controller's pure core: a terminating namespace and what is left in it -> a Plan.

    if is_terminating(ns):
        plan = reconcile(ns, contents, now=now)         # contents: resource -> objects in ns
        plan.delete        # (resource, object) pairs to delete now (those not being deleted yet)
        plan.finalize      # nothing is left: remove "kubernetes" from spec.finalizers
        plan.requeue_after # when to look again while content remains
    conditions = status_conditions(ns, contents, failures, now=now)   # new status.conditions or None
    finalized(ns)          # a copy without the "kubernetes" finalizer

As Kubernetes' namespace controller (pkg/controller/namespace/deletion): a namespace with a
deletionTimestamp and the `kubernetes` finalizer in spec.finalizers is emptied: every object of
every namespaced kind in it is deleted (pods gracefully: the kubelet finishes them); objects
already being deleted are waited for (a pod in its grace period, an owner waiting on its
finalizers). Once nothing is left, the finalizer is removed (through the namespace's finalize
subresource) and the apiserver completes the deletion.

Its status carries Kubernetes' five deletion conditions, each False ("all is well") or True:
NamespaceDeletionDiscoveryFailure, NamespaceDeletionGroupVersionParsingFailure (always False:
Skiff's kinds are a fixed table), NamespaceDeletionContentFailure (deletions that failed),
NamespaceContentRemaining (`Some resources are remaining: pods has 2 resource instances`) and
NamespaceFinalizersRemaining (`Some content in the namespace has finalizers remaining: orphan in
1 resource instances`), with Kubernetes' reasons and messages. A condition's lastTransitionTime
moves only when its status, reason or message does.

Pure: `now` comes in; no I/O. NEVER mutates its inputs.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from google.protobuf.message import Message

from client import kinds
from client.times import format_time
from skiffpb.k8s.core.v1 import core_pb2
from skiffpb.k8s.meta.v1 import meta_pb2

__all__ = ["CONDITION_TYPES", "FINALIZER", "Plan", "finalized", "is_terminating", "reconcile",
           "status_conditions"]

FINALIZER = "kubernetes"
CONDITION_TYPES = ("NamespaceDeletionDiscoveryFailure", "NamespaceDeletionGroupVersionParsingFailure",
                   "NamespaceDeletionContentFailure", "NamespaceContentRemaining",
                   "NamespaceFinalizersRemaining")
OK = {
    "NamespaceDeletionDiscoveryFailure": ("ResourcesDiscovered", "All resources successfully discovered"),
    "NamespaceDeletionGroupVersionParsingFailure": ("ParsedGroupVersions",
                                                    "All legacy kube types successfully parsed"),
    "NamespaceDeletionContentFailure": ("ContentDeleted",
                                        "All content successfully deleted, may be waiting on finalization"),
    "NamespaceContentRemaining": ("ContentRemoved", "All content successfully removed"),
    "NamespaceFinalizersRemaining": ("ContentHasNoFinalizers", "All content-preserving finalizers finished"),
}
MIN_REQUEUE = 1.0


def is_terminating(ns: core_pb2.Namespace) -> bool:
    """Being deleted and still waiting for this controller."""
    return ns.metadata.HasField("deletion_timestamp") and FINALIZER in ns.spec.finalizers


@dataclass(frozen=True)
class Plan:
    delete: tuple[tuple[str, Message], ...] = ()
    finalize: bool = False
    requeue_after: float | None = None


def _group_resource(resource: str) -> str:
    try:
        return kinds.by_resource(resource).group_resource
    except kinds.UnknownKind:
        return resource


def reconcile(ns: core_pb2.Namespace, contents: Mapping[str, Sequence[Message]], *, now: float) -> Plan:
    """What to do for `ns` given `contents` (resource -> the objects of that kind in it)."""
    if not is_terminating(ns):
        return Plan()
    delete = tuple((resource, o) for resource in sorted(contents) for o in contents[resource]
                   if not o.metadata.HasField("deletion_timestamp"))
    if not any(contents.values()):
        return Plan(finalize=True)
    # What is left is being deleted: pods in their grace period, owners waiting on finalizers. Their
    # disappearance enqueues the namespace again; the re-check is a fallback, sooner for short graces
    # (Kubernetes: half the longest remaining grace period, plus a second).
    graces = [o.metadata.deletion_grace_period_seconds for o in contents.get("pods", ())
              if o.metadata.HasField("deletion_timestamp")]
    estimate = max(graces, default=0)
    return Plan(delete=delete, requeue_after=max(estimate / 2 + 1, MIN_REQUEUE))


def _wanted(contents: Mapping[str, Sequence[Message]], failures: Sequence[str]) -> dict[str, tuple[str, str, str]]:
    """type -> (status, reason, message) of each condition that is not OK."""
    out: dict[str, tuple[str, str, str]] = {}
    if failures:
        out["NamespaceDeletionContentFailure"] = (
            "True", "ContentDeletionFailed",
            f"Failed to delete all resource types, {len(failures)} remaining: "
            + (failures[0] if len(failures) == 1 else "[" + ", ".join(failures) + "]"))
    remaining = sorted(f"{_group_resource(r)} has {len(objs)} resource instances"
                       for r, objs in contents.items() if objs)
    if remaining:
        out["NamespaceContentRemaining"] = ("True", "SomeResourcesRemain",
                                            f"Some resources are remaining: {', '.join(remaining)}")
    by_finalizer: dict[str, int] = {}
    for objs in contents.values():
        for o in objs:
            for f in o.metadata.finalizers:
                by_finalizer[f] = by_finalizer.get(f, 0) + 1
    if by_finalizer:
        listed = ", ".join(f"{f} in {n} resource instances" for f, n in sorted(by_finalizer.items()))
        out["NamespaceFinalizersRemaining"] = (
            "True", "SomeFinalizersRemain", f"Some content in the namespace has finalizers remaining: {listed}")
    return out


def status_conditions(ns: core_pb2.Namespace, contents: Mapping[str, Sequence[Message]],
                      failures: Sequence[str] = (), *, now: float) -> list[meta_pb2.Condition] | None:
    """The namespace's new status.conditions, or None when they already say this."""
    wanted = _wanted(contents, failures)
    out = [_copy(c) for c in ns.status.conditions]
    changed = False
    for type_ in CONDITION_TYPES:
        status, reason, message = wanted.get(type_, ("False", *OK[type_]))
        old = next((c for c in out if c.type == type_), None)
        if old is None:
            out.append(meta_pb2.Condition(type=type_, status=status, reason=reason, message=message,
                                          last_transition_time=format_time(now)))
            changed = True
        elif (old.status, old.reason, old.message) != (status, reason, message):
            old.status, old.reason, old.message = status, reason, message
            old.last_transition_time = format_time(now)
            changed = True
    return out if changed else None


def _copy(c: meta_pb2.Condition) -> meta_pb2.Condition:
    new = meta_pb2.Condition()
    new.CopyFrom(c)
    return new


def finalized(ns: core_pb2.Namespace) -> core_pb2.Namespace:
    """A copy of `ns` without the `kubernetes` finalizer in spec.finalizers."""
    new = core_pb2.Namespace()
    new.CopyFrom(ns)
    kept = [f for f in new.spec.finalizers if f != FINALIZER]
    del new.spec.finalizers[:]
    new.spec.finalizers.extend(kept)
    return new
