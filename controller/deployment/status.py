"""A Deployment's status: counts from its ReplicaSets, and the conditions Kubernetes reports.

    calculate_status(d, rss, now)                  # counts + Available (Kubernetes' calculateStatus)
    rollout_status(d, rss, now, base=...)          # + Progressing and ReplicaFailure (syncRolloutStatus)
    requeue_after(d, status, now)                  # when to look again for a progress deadline

Counts (from the ReplicaSets' own status, never from pods): replicas, updatedReplicas (of the new
ReplicaSet), readyReplicas, availableReplicas; unavailableReplicas = Σ spec.replicas - available
(at least 0); observedGeneration; collisionCount kept. Zero counts are left unset (Kubernetes'
omitempty).

Conditions, with Kubernetes' reasons and messages:
- Available: True/MinimumReplicasAvailable "Deployment has minimum availability." when available
  >= replicas - maxUnavailable, else False/MinimumReplicasUnavailable.
- Progressing (only with a progressDeadlineSeconds):
  NewReplicaSetCreated `Created new replica set "web-5d78c9"`, FoundNewReplicaSet `Found new replica
  set "web-5d78c9"`, ReplicaSetUpdated `ReplicaSet "web-5d78c9" is progressing.` (refreshed at each
  sign of progress), NewReplicaSetAvailable `ReplicaSet "web-5d78c9" has successfully progressed.`,
  ProgressDeadlineExceeded `ReplicaSet "web-5d78c9" has timed out progressing.` (status False),
  DeploymentPaused "Deployment is paused" / DeploymentResumed "Deployment is resumed" (Unknown).
- ReplicaFailure: copied from the new ReplicaSet (else any ReplicaSet) while one reports it.
A condition keeps its lastTransitionTime while its status stays; a condition whose status and
reason are unchanged is not rewritten at all. Pure: no I/O, `now` is a parameter.
"""
from __future__ import annotations

from collections.abc import Sequence

from controller.deployment.revision import find_new_replica_set
from controller.deployment.rollout import available_replicas, max_unavailable, replicas, total_replicas
from client.times import format_time, parse_time
from skiffpb.k8s.apps.v1 import apps_pb2
from skiffpb.k8s.meta.v1 import meta_pb2

__all__ = [
    "AVAILABLE", "PROGRESSING", "REPLICA_FAILURE", "calculate_status", "deployment_complete",
    "deployment_progressing", "deployment_timed_out", "failed_create_condition", "get_condition",
    "has_progress_deadline", "new_condition", "paused_condition", "remove_condition", "requeue_after",
    "rollout_status", "set_condition",
]

AVAILABLE, PROGRESSING, REPLICA_FAILURE = "Available", "Progressing", "ReplicaFailure"
# Progressing reasons
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
FAILED_RS_CREATE = "ReplicaSetCreateError"
# Available reasons
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"

_NO_DEADLINE = 2 ** 31 - 1     # Kubernetes treats MaxInt32 as "no deadline"
# A deadline is passed strictly after lastUpdateTime + progressDeadlineSeconds; a re-check is
# scheduled this much after that instant.
_AFTER = 0.001


# ---------------------------------------------------------------------------------------------
# conditions

def new_condition(type_: str, status: str, reason: str, message: str, now: float) -> meta_pb2.Condition:
    """A Deployment condition stamped `now` (lastUpdateTime and lastTransitionTime)."""
    t = format_time(now)
    return meta_pb2.Condition(type=type_, status=status, reason=reason, message=message,
                              last_update_time=t, last_transition_time=t)


def get_condition(status: apps_pb2.DeploymentStatus, type_: str) -> meta_pb2.Condition | None:
    for c in status.conditions:
        if c.type == type_:
            return c
    return None


def remove_condition(status: apps_pb2.DeploymentStatus, type_: str) -> None:
    """Drops the condition of `type_` from `status` (a working copy)."""
    kept = [c for c in status.conditions if c.type != type_]
    del status.conditions[:]
    status.conditions.extend(kept)


def set_condition(status: apps_pb2.DeploymentStatus, cond: meta_pb2.Condition) -> None:
    """Puts `cond` into `status` (a working copy), last: unchanged status and reason leave the old
    one as it is; an unchanged status keeps the old lastTransitionTime."""
    current = get_condition(status, cond.type)
    if current is not None and current.status == cond.status and current.reason == cond.reason:
        return
    new = meta_pb2.Condition()
    new.CopyFrom(cond)
    if current is not None and current.status == cond.status:
        new.last_transition_time = current.last_transition_time
    remove_condition(status, cond.type)
    status.conditions.append(new)


def has_progress_deadline(d: apps_pb2.Deployment) -> bool:
    return d.spec.HasField("progress_deadline_seconds") and d.spec.progress_deadline_seconds != _NO_DEADLINE


def paused_condition(d: apps_pb2.Deployment, now: float) -> meta_pb2.Condition | None:
    """The Progressing condition to set for a pause or a resume, or None.

    Paused and no DeploymentPaused condition yet: DeploymentPaused; resumed with one:
    DeploymentResumed (its lastUpdateTime restarts the progress deadline). Never over a
    ProgressDeadlineExceeded: a timed-out rollout stays reported as such.
    """
    if not has_progress_deadline(d):
        return None
    cond = get_condition(d.status, PROGRESSING)
    if cond is not None and cond.reason == TIMED_OUT:
        return None
    paused_before = cond is not None and cond.reason == PAUSED
    if d.spec.paused and not paused_before:
        return new_condition(PROGRESSING, "Unknown", PAUSED, "Deployment is paused", now)
    if not d.spec.paused and paused_before:
        return new_condition(PROGRESSING, "Unknown", RESUMED, "Deployment is resumed", now)
    return None


def failed_create_condition(rs_name: str, error: str, now: float) -> meta_pb2.Condition:
    """Progressing False for a new ReplicaSet the apiserver refused (the shell sets it, if
    has_progress_deadline, and records a Warning event with the same message)."""
    return new_condition(PROGRESSING, "False", FAILED_RS_CREATE,
                         f'Failed to create new replica set "{rs_name}": {error}', now)


# ---------------------------------------------------------------------------------------------
# status

def calculate_status(d: apps_pb2.Deployment, rss: Sequence[apps_pb2.ReplicaSet], now: float, *,
                     base: apps_pb2.DeploymentStatus | None = None) -> apps_pb2.DeploymentStatus:
    """Counts over `rss` (all the Deployment's ReplicaSets), and the Available condition.

    Conditions start from `base` (default: d.status), where the caller has set the ones of this
    sync (pause, new ReplicaSet created or found).
    """
    base = d.status if base is None else base
    new_rs = find_new_replica_set(d, rss)
    available = available_replicas(rss)
    status = apps_pb2.DeploymentStatus()
    fields = {
        "observed_generation": d.metadata.generation,
        "replicas": sum(rs.status.replicas for rs in rss),
        "updated_replicas": new_rs.status.replicas if new_rs is not None else 0,
        "ready_replicas": sum(rs.status.ready_replicas for rs in rss),
        "available_replicas": available,
        "unavailable_replicas": max(total_replicas(rss) - available, 0),
    }
    for name, value in fields.items():
        if value:
            setattr(status, name, value)
    if base.HasField("collision_count"):
        status.collision_count = base.collision_count
    status.conditions.extend(base.conditions)
    if available >= replicas(d) - max_unavailable(d):
        cond = new_condition(AVAILABLE, "True", MIN_AVAILABLE, "Deployment has minimum availability.", now)
    else:
        cond = new_condition(AVAILABLE, "False", MIN_UNAVAILABLE,
                             "Deployment does not have minimum availability.", now)
    set_condition(status, cond)
    return status


def deployment_complete(d: apps_pb2.Deployment, status: apps_pb2.DeploymentStatus) -> bool:
    """Every replica updated and available, nothing old left, this generation observed."""
    want = replicas(d)
    return (status.updated_replicas == want and status.replicas == want
            and status.available_replicas == want and status.observed_generation >= d.metadata.generation)


def deployment_progressing(d: apps_pb2.Deployment, status: apps_pb2.DeploymentStatus) -> bool:
    """Any progress since d.status: more updated, fewer old, more ready or more available pods."""
    old = d.status
    return (status.updated_replicas > old.updated_replicas
            or status.replicas - status.updated_replicas < old.replicas - old.updated_replicas
            or status.ready_replicas > old.ready_replicas
            or status.available_replicas > old.available_replicas)


def deployment_timed_out(d: apps_pb2.Deployment, status: apps_pb2.DeploymentStatus, now: float) -> bool:
    """No progress reported for more than progressDeadlineSeconds (since the Progressing
    condition's lastUpdateTime). A completed rollout never times out; a timed-out one stays so."""
    if not has_progress_deadline(d):
        return False
    cond = get_condition(status, PROGRESSING)
    if cond is None or cond.reason == NEW_RS_AVAILABLE:
        return False
    if cond.reason == TIMED_OUT:
        return True
    since = parse_time(cond.last_update_time)
    return since is not None and since + d.spec.progress_deadline_seconds < now


def _rs_phrase(d: apps_pb2.Deployment, new_rs: apps_pb2.ReplicaSet | None) -> str:
    return f'ReplicaSet "{new_rs.metadata.name}"' if new_rs is not None else f'Deployment "{d.metadata.name}"'


def rollout_status(d: apps_pb2.Deployment, rss: Sequence[apps_pb2.ReplicaSet], now: float, *,
                   base: apps_pb2.DeploymentStatus | None = None) -> apps_pb2.DeploymentStatus:
    """`calculate_status`, then the Progressing condition estimated against d.status (complete,
    progressing, or timed out), then ReplicaFailure carried over from the ReplicaSets."""
    base = d.status if base is None else base
    status = calculate_status(d, rss, now, base=base)
    new_rs = find_new_replica_set(d, rss)
    if not has_progress_deadline(d):
        remove_condition(status, PROGRESSING)
    current = get_condition(base, PROGRESSING)
    complete_before = (status.replicas == status.updated_replicas and current is not None
                       and current.reason == NEW_RS_AVAILABLE)
    if has_progress_deadline(d) and not complete_before:
        phrase = _rs_phrase(d, new_rs)
        if deployment_complete(d, status):
            set_condition(status, new_condition(PROGRESSING, "True", NEW_RS_AVAILABLE,
                                                f"{phrase} has successfully progressed.", now))
        elif deployment_progressing(d, status):
            # Unlike other conditions, ReplicaSetUpdated is rewritten at every sign of progress
            # (its lastUpdateTime restarts the deadline), keeping lastTransitionTime while True.
            cond = new_condition(PROGRESSING, "True", RS_UPDATED, f"{phrase} is progressing.", now)
            if current is not None:
                if current.status == "True":
                    cond.last_transition_time = current.last_transition_time
                remove_condition(status, PROGRESSING)
            set_condition(status, cond)
        elif deployment_timed_out(d, status, now):
            set_condition(status, new_condition(PROGRESSING, "False", TIMED_OUT,
                                                f"{phrase} has timed out progressing.", now))
    failure = _replica_failure(rss, new_rs)
    if failure is not None:
        set_condition(status, failure)
    else:
        remove_condition(status, REPLICA_FAILURE)
    return status


def _replica_failure(rss: Sequence[apps_pb2.ReplicaSet], new_rs: apps_pb2.ReplicaSet | None) -> meta_pb2.Condition | None:
    """The new ReplicaSet's ReplicaFailure condition, else the first other one's, as a Deployment condition."""
    for rs in ([new_rs] if new_rs is not None else []) + list(rss):
        for c in rs.status.conditions:
            if c.type == REPLICA_FAILURE:
                return meta_pb2.Condition(type=c.type, status=c.status, reason=c.reason, message=c.message,
                                          last_update_time=c.last_transition_time,
                                          last_transition_time=c.last_transition_time)
    return None


def requeue_after(d: apps_pb2.Deployment, status: apps_pb2.DeploymentStatus, now: float) -> float | None:
    """Seconds until the progress deadline of an unfinished rollout passes (to check it then), or None.

    Measured from the Progressing condition's lastUpdateTime in `status` (the one this sync
    writes); nothing to wait for without a deadline or condition, once the rollout is complete, or
    once it has timed out. (Kubernetes asks only when the status did not change, reading the
    condition of the status before; the answer is the same, and a shell need not compare.)
    """
    current = get_condition(status, PROGRESSING)
    if not has_progress_deadline(d) or current is None:
        return None
    if deployment_complete(d, status) or current.reason == TIMED_OUT:
        return None
    since = parse_time(current.last_update_time)
    if since is None:
        return None
    return max(since + d.spec.progress_deadline_seconds - now, 0.0) + _AFTER
