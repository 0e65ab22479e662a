"""The ReplicaSet controller's pure core: keep `spec.replicas` active pods matching the selector.

    c = claim(rs, pods_in_namespace)                    # -> Claim(owned, adopt, release)
    plan = reconcile(rs, c.owned + adopted, now=now,
                     expectations_satisfied=satisfied(table.get(key), now))
    plan.create                                         # pods to create from pod_from_template(rs)
    plan.delete                                         # pods to delete, least valuable first
    plan.status                                         # the status to write, None when unchanged
    plan.requeue_after                                  # re-check then (a pod becoming available)

What `sync(key)` does with it (the shell, later): record expectations, create `plan.create` pods in
slow-start batches (`slow_start_batches`), delete `plan.delete`, write `plan.status`, requeue.

Semantics follow Kubernetes' ReplicaSet controller (pkg/controller/replicaset):
- Active pods: not Succeeded, not Failed, not being deleted. Only they count, for the diff and for
  status; terminated pods are left for the garbage collector.
- At most BURST_REPLICAS creations or deletions per sync; none while expectations are unsatisfied,
  nor while the ReplicaSet itself is being deleted. Status is computed either way.
- Surplus pods are deleted in Kubernetes' ActivePods order (`deletion_key`): unassigned before
  assigned; Pending before Unknown before Running; not ready before ready; ready for less time
  before ready for longer; more container restarts before fewer; newer before older. Ties fall to
  the pod name, so the choice is deterministic (Kubernetes leaves them to an unstable sort).
- Status: replicas (active pods), fullyLabeledReplicas (pods carrying all the template's labels),
  readyReplicas, availableReplicas (ready for more than minReadySeconds), observedGeneration, and a
  ReplicaFailure condition while creating or deleting fails (`manage_error`). Zero counts are left
  unset, as Kubernetes' omitempty JSON leaves them out (only `replicas` is always written).

Pure: no I/O, no clock (`now` is seconds since the epoch), no randomness.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from client.selectors import label_selector_from_proto
from controller import ownership
from controller.ownership import Claim
from client.times import format_time, parse_time
from skiffpb.k8s.apps.v1 import apps_pb2
from skiffpb.k8s.core.v1 import core_pb2
from skiffpb.k8s.meta.v1 import meta_pb2

__all__ = [
    "BURST_REPLICAS", "Plan", "calculate_status", "claim", "deletion_key", "desired_replicas",
    "is_active", "is_available", "is_ready", "owner_reference", "pod_from_template", "pods_to_delete", "ready_since",
    "reconcile", "slow_start_batches",
]

# Kubernetes' BurstReplicas: at most this many creations or deletions per sync, so one ReplicaSet
# cannot flood the apiserver; the next sync (after the expectations are met) does the rest.
BURST_REPLICAS = 500
# Kubernetes' SlowStartInitialBatchSize: the first create batch; each successful batch doubles.
SLOW_START_INITIAL_BATCH = 1
# A pod is available strictly after readyTime + minReadySeconds; a re-check scheduled for exactly
# that instant would find it not yet available, so it is scheduled this much later.
_AFTER = 0.001

KIND = "ReplicaSet"
API_VERSION = "apps/v1"
_PHASE_ORDER = {"Pending": 0, "Unknown": 1, "Running": 2}   # others (and unset) count as Pending


# ---------------------------------------------------------------------------------------------
# pods

def is_active(pod: core_pb2.Pod) -> bool:
    """Counts toward a ReplicaSet: not Succeeded, not Failed, and not being deleted."""
    return (pod.status.phase not in ("Succeeded", "Failed")
            and not pod.metadata.HasField("deletion_timestamp"))


def _ready_condition(pod: core_pb2.Pod) -> meta_pb2.Condition | None:
    for c in pod.status.conditions:
        if c.type == "Ready":
            return c
    return None


def is_ready(pod: core_pb2.Pod) -> bool:
    """The pod's Ready condition is True."""
    c = _ready_condition(pod)
    return c is not None and c.status == "True"


def ready_since(pod: core_pb2.Pod) -> float | None:
    """When a ready pod became ready (its Ready condition's lastTransitionTime); None if not ready or unknown."""
    c = _ready_condition(pod)
    if c is None or c.status != "True":
        return None
    return parse_time(c.last_transition_time)


def is_available(pod: core_pb2.Pod, min_ready_seconds: int, now: float) -> bool:
    """Ready, and (when min_ready_seconds > 0) ready since strictly more than min_ready_seconds ago.

    A ready pod with no transition time is available only when min_ready_seconds is 0, as in
    Kubernetes' IsPodAvailable.
    """
    if not is_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = ready_since(pod)
    return since is not None and since + min_ready_seconds < now


def _available_at(pod: core_pb2.Pod, min_ready_seconds: int) -> float | None:
    """When a ready pod becomes available (the instant after which is_available holds)."""
    since = ready_since(pod)
    return None if since is None else since + min_ready_seconds


def _max_restarts(pod: core_pb2.Pod) -> int:
    return max((s.restart_count for s in pod.status.container_statuses), default=0)


def deletion_key(pod: core_pb2.Pod) -> tuple:
    """Sort key of Kubernetes' ActivePods order: the pod to delete first sorts first."""
    ready = is_ready(pod)
    if ready:
        since = ready_since(pod)
        # Unknown ready time first (Kubernetes' afterOrZero), then the most recently ready.
        ready_rank = (0, 0.0) if since is None else (1, -since)
    else:
        ready_rank = (0, 0.0)
    created = parse_time(pod.metadata.creation_timestamp)
    created_rank = (0, 0.0) if created is None else (1, -created)   # no timestamp, then newest
    return (
        1 if pod.spec.node_name else 0,             # unassigned before assigned
        _PHASE_ORDER.get(pod.status.phase, 0),      # Pending < Unknown < Running
        1 if ready else 0,                          # not ready before ready
        ready_rank,                                 # ready for less time before longer
        -_max_restarts(pod),                        # more restarts before fewer
        created_rank,                               # newer before older
        pod.metadata.name, pod.metadata.uid,        # determinism
    )


def pods_to_delete(pods: Iterable[core_pb2.Pod], n: int) -> list[core_pb2.Pod]:
    """The `n` pods (of `pods`) to delete first, in deletion order."""
    if n <= 0:
        return []
    return sorted(pods, key=deletion_key)[:n]


# ---------------------------------------------------------------------------------------------
# ownership

def claim(rs: apps_pb2.ReplicaSet, pods: Iterable[core_pb2.Pod]) -> Claim[core_pb2.Pod]:
    """Which of the namespace's pods the ReplicaSet owns, should adopt, should release.

    As Kubernetes' ReplicaSet controller, only active pods are considered: a terminated pod is
    neither adopted nor released (the garbage collector deletes it with its owner). Orphans that
    match the selector and are not being deleted are adopted; owned pods that stop matching are
    released (not while the ReplicaSet is itself being deleted). See controller.ownership.
    """
    selector = label_selector_from_proto(rs.spec.selector, path="spec.selector")
    return ownership.claim(rs, selector, (p for p in pods if is_active(p)))


def owner_reference(rs: apps_pb2.ReplicaSet) -> meta_pb2.OwnerReference:
    """The controller ownerReference this ReplicaSet puts on its pods (and on pods it adopts)."""
    return ownership.owner_reference(rs, kind=KIND, api_version=API_VERSION)


def _name_prefix(name: str) -> str:
    # Kubernetes' getPodsPrefix: "<name>-", unless that is not a valid generateName prefix; names
    # are validated DNS subdomains already, so only the length can fail (253 characters).
    prefix = f"{name}-"
    return prefix if len(prefix) <= 253 else name


def pod_from_template(rs: apps_pb2.ReplicaSet, name_prefix: str | None = None) -> core_pb2.Pod:
    """A new pod stamped from `rs.spec.template`: generateName `<rs>-`, the template's labels,
    annotations, finalizers and spec, in the ReplicaSet's namespace, controlled by it."""
    t = rs.spec.template
    pod = core_pb2.Pod(api_version="v1", kind="Pod")
    md = pod.metadata
    md.generate_name = _name_prefix(rs.metadata.name) if name_prefix is None else name_prefix
    if rs.metadata.namespace:
        md.namespace = rs.metadata.namespace
    md.labels.update(t.metadata.labels)
    md.annotations.update(t.metadata.annotations)
    md.finalizers.extend(t.metadata.finalizers)
    md.owner_references.append(owner_reference(rs))
    pod.spec.CopyFrom(t.spec)
    return pod


# ---------------------------------------------------------------------------------------------
# status

def desired_replicas(rs: apps_pb2.ReplicaSet) -> int:
    """spec.replicas, with Kubernetes' default of 1 when absent."""
    return rs.spec.replicas if rs.spec.HasField("replicas") else 1


def _condition(conditions: Iterable[meta_pb2.Condition], type_: str) -> meta_pb2.Condition | None:
    for c in conditions:
        if c.type == type_:
            return c
    return None


def calculate_status(rs: apps_pb2.ReplicaSet, pods: Sequence[core_pb2.Pod], now: float, *,
                     manage_error: str | None = None) -> apps_pb2.ReplicaSetStatus:
    """The status for `rs` given its owned pods (inactive ones are skipped).

    `manage_error`: the error of the last create/delete round, if any; it sets the ReplicaFailure
    condition (reason FailedCreate or FailedDelete) when none is set, and a round without error
    clears it, as Kubernetes does.
    """
    active = [p for p in pods if is_active(p)]
    template_labels = dict(rs.spec.template.metadata.labels)
    mrs = rs.spec.min_ready_seconds
    fully_labeled = sum(1 for p in active
                        if all(p.metadata.labels.get(k) == v for k, v in template_labels.items()))
    ready = [p for p in active if is_ready(p)]
    available = sum(1 for p in ready if is_available(p, mrs, now))

    status = apps_pb2.ReplicaSetStatus(replicas=len(active))
    if fully_labeled:
        status.fully_labeled_replicas = fully_labeled
    if ready:
        status.ready_replicas = len(ready)
    if available:
        status.available_replicas = available
    if rs.metadata.generation:
        status.observed_generation = rs.metadata.generation
    status.conditions.extend(rs.status.conditions)
    failure = _condition(status.conditions, "ReplicaFailure")
    if manage_error is not None and failure is None:
        diff = len(active) - desired_replicas(rs)
        reason = "FailedCreate" if diff < 0 else "FailedDelete" if diff > 0 else ""
        status.conditions.append(meta_pb2.Condition(
            type="ReplicaFailure", status="True", reason=reason, message=manage_error,
            last_transition_time=format_time(now)))
    elif manage_error is None and failure is not None:
        kept = [c for c in status.conditions if c.type != "ReplicaFailure"]
        del status.conditions[:]
        status.conditions.extend(kept)
    return status


# ---------------------------------------------------------------------------------------------
# reconcile

@dataclass(frozen=True)
class Plan:
    """One sync's decision for a ReplicaSet.

    create:        how many pods to create from `pod_from_template(rs)`.
    delete:        the pods to delete, in order (from the caller's list: read-only).
    status:        the status to write, or None when the current one is already right.
    requeue_after: seconds after which to sync again (a ready pod will have become available), or None.
    """

    create: int = 0
    delete: tuple[core_pb2.Pod, ...] = ()
    status: apps_pb2.ReplicaSetStatus | None = None
    requeue_after: float | None = None


def reconcile(rs: apps_pb2.ReplicaSet, owned_pods: Sequence[core_pb2.Pod], *, now: float,
              expectations_satisfied: bool = True, burst: int = BURST_REPLICAS,
              manage_error: str | None = None) -> Plan:
    """What to do so that `rs` has spec.replicas active pods; `owned_pods` are the pods it controls
    (claimed and adopted: see `claim`), active or not.

    No pod is created or deleted while `expectations_satisfied` is False (the cache has not yet
    shown this controller's last writes) or while the ReplicaSet is being deleted.
    `manage_error` is passed on to `calculate_status` (the shell's last create/delete failure).
    """
    active = [p for p in owned_pods if is_active(p)]
    create, delete = 0, ()
    if expectations_satisfied and not ownership.is_being_deleted(rs):
        diff = len(active) - desired_replicas(rs)
        if diff < 0:
            create = min(-diff, burst)
        elif diff > 0:
            delete = tuple(pods_to_delete(active, min(diff, burst)))
    status = calculate_status(rs, active, now, manage_error=manage_error)
    return Plan(create=create, delete=delete, status=None if rs.status == status else status,
                requeue_after=_next_available(rs, active, now))


def _next_available(rs: apps_pb2.ReplicaSet, active: Sequence[core_pb2.Pod], now: float) -> float | None:
    """Seconds until the first ready-but-not-yet-available pod becomes available, if any.

    Nothing else will wake the controller then (no pod changes), so it asks for a timed re-check.
    Kubernetes requeues after minReadySeconds when all pods are ready but not all available; this
    asks for the exact instant instead, and also while some pods are still not ready.
    """
    mrs = rs.spec.min_ready_seconds
    if mrs <= 0:
        return None
    pending = [t for p in active if is_ready(p) and not is_available(p, mrs, now)
               if (t := _available_at(p, mrs)) is not None]
    if not pending:
        return None
    return max(min(pending) - now, 0.0) + _AFTER


def slow_start_batches(count: int, initial: int = SLOW_START_INITIAL_BATCH) -> list[int]:
    """Batch sizes for `count` creations: 1, 2, 4, ... (the last one cut to fit).

    The shell creates one batch at a time and stops at the first batch with a failure, so a
    ReplicaSet whose pods are all refused (quota, admission) costs one request, not 500. It then
    lowers its expectations by the creations it skipped (`Expectations.creation_observed(n)`).
    """
    out: list[int] = []
    size = max(initial, 1)
    left = count
    while left > 0:
        batch = min(size, left)
        out.append(batch)
        left -= batch
        size *= 2
    return out
