"""Rollout arithmetic: how many pods each ReplicaSet of a Deployment should have next.

    resolve_fenceposts("25%", "25%", 10)        # -> (3, 2): surge rounds up, unavailable down
    new_rs_replicas(d, all_rss, new_rs)         # RollingUpdate: scale the new RS up within maxSurge
    old_rs_scale_down(d, all_rss, old_rss, new_rs)   # -> {name: replicas}: unhealthy first, then
                                                # within maxUnavailable
    recreate_scale_down(old_rss)                # Recreate: every old RS to 0 ...
    old_pods_running(new_rs, old_rss, pods)     # ... and wait until their pods are gone
    proportional_scale(d, new_rs, old_rss)      # replicas changed mid-rollout: spread the change

These are Kubernetes' rules (pkg/controller/deployment/rolling.go, recreate.go, sync.go and
util/deployment_util.go), as functions of read-only messages returning numbers, with two
deliberate differences. Both make the rollout bounds hold however far a ReplicaSet's controller
(and so its status) lags behind the Deployment controller's writes, where Kubernetes needs it to
keep up:
- Available pods: a ReplicaSet counts as having min(status.availableReplicas, spec.replicas).
  Kubernetes trusts status.availableReplicas alone, which right after a scale down still counts
  pods about to be deleted, so two syncs in a row could each scale down against the same pods (and
  its cleanup step errs on a negative count). A ReplicaSet deletes its least available pods first,
  so at least min(available, replicas) of them stay available.
- Pods for maxSurge: a ReplicaSet counts as having max(spec.replicas, status.replicas) pods when
  deciding how far the new one may scale up. Kubernetes sums spec.replicas, so it may scale the new
  ReplicaSet up while an old one still runs the pods it was just told to delete. An old
  ReplicaSet's status.replicas never undercounts its pods (it is computed before each round of
  deletions), so the pods on hand stay within replicas + maxSurge. The price: each scale-up waits
  for the old ReplicaSet to report its scale-down, one more status round trip per step.

Ordering of ReplicaSets, as Kubernetes': by creation time, then name (`by_creation`); for
proportional scaling by size, larger first, ties to the newer when scaling up and the older when
scaling down. Pure: no I/O.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from controller.deployment import annotations as ann
from client.times import parse_time
from skiffpb.k8s.apps.v1 import apps_pb2
from skiffpb.k8s.core.v1 import core_pb2
from skiffpb.k8s.meta.v1 import meta_pb2

__all__ = [
    "available_replicas", "by_creation", "find_active_or_latest", "is_rolling_update", "is_saturated",
    "is_scaling_event", "max_surge", "max_unavailable", "new_rs_replicas", "old_pods_running",
    "old_rs_scale_down", "proportional_scale", "recreate_scale_down", "replicas", "resolve_fenceposts",
    "scaled_value", "total_replicas",
]

IntOrPercent = meta_pb2.IntOrString | int | str | None


# ---------------------------------------------------------------------------------------------
# fenceposts

def scaled_value(value: IntOrPercent, total: int, round_up: bool, *, path: str = "") -> int:
    """An int-or-percent against `total`: `3` is 3, `"25%"` of 10 is 3 rounded up, 2 down.

    Absent (None, an unset IntOrString) is 0. Raises ValueError for a string that is not
    `<integer>%` (validation refuses those; this names `path` if given).
    """
    if isinstance(value, meta_pb2.IntOrString):
        which = value.WhichOneof("value")
        value = value.int_val if which == "int_val" else value.str_val if which == "str_val" else None
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    where = f"{path}: " if path else ""
    if not value.endswith("%"):
        raise ValueError(f"{where}invalid value for IntOrString: invalid type: string is not a percentage "
                         f"({value!r}); use an integer or a percentage such as '25%'")
    number = ann.parse_int(value[:-1])
    if number is None:
        raise ValueError(f"{where}invalid value for IntOrString: invalid value {value!r}; "
                         "use a percentage such as '25%'")
    scaled = number * total
    return -(-scaled // 100) if round_up else scaled // 100   # exact ceil/floor of scaled / 100


def resolve_fenceposts(max_surge: IntOrPercent, max_unavailable: IntOrPercent, replicas: int) -> tuple[int, int]:
    """(surge, unavailable) for `replicas`: surge rounds up, unavailable rounds down.

    When both come out 0 (a small percentage of few replicas), unavailable is 1: a rollout must be
    able to move, and surging may be impossible (quota), so it may take one pod down.
    """
    surge = scaled_value(max_surge, replicas, True, path="spec.strategy.rollingUpdate.maxSurge")
    unavailable = scaled_value(max_unavailable, replicas, False, path="spec.strategy.rollingUpdate.maxUnavailable")
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def replicas(obj: apps_pb2.Deployment | apps_pb2.ReplicaSet) -> int:
    """spec.replicas, with Kubernetes' default of 1 when absent."""
    return obj.spec.replicas if obj.spec.HasField("replicas") else 1


def is_rolling_update(d: apps_pb2.Deployment) -> bool:
    """RollingUpdate (the default when the type is unset), as opposed to Recreate."""
    return d.spec.strategy.type in ("", "RollingUpdate")


def max_surge(d: apps_pb2.Deployment) -> int:
    """How many pods above spec.replicas a rolling update may run (0 for Recreate)."""
    if not is_rolling_update(d):
        return 0
    ru = d.spec.strategy.rolling_update
    return resolve_fenceposts(ru.max_surge, ru.max_unavailable, replicas(d))[0]


def max_unavailable(d: apps_pb2.Deployment) -> int:
    """How many of spec.replicas may be unavailable during a rolling update (0 for Recreate), at
    most spec.replicas."""
    n = replicas(d)
    if not is_rolling_update(d) or n == 0:
        return 0
    ru = d.spec.strategy.rolling_update
    return min(resolve_fenceposts(ru.max_surge, ru.max_unavailable, n)[1], n)


# ---------------------------------------------------------------------------------------------
# counting and ordering

def total_replicas(rss: Iterable[apps_pb2.ReplicaSet | None]) -> int:
    """Σ spec.replicas: the pods the ReplicaSets are asked for."""
    return sum(replicas(rs) for rs in rss if rs is not None)


def available_replicas(rss: Iterable[apps_pb2.ReplicaSet | None]) -> int:
    """Σ status.availableReplicas, as reported."""
    return sum(rs.status.available_replicas for rs in rss if rs is not None)


def _surely_available(rs: apps_pb2.ReplicaSet) -> int:
    """Pods of `rs` that stay available whatever its controller deletes next (see module doc)."""
    return min(rs.status.available_replicas, replicas(rs))


def by_creation(rs: apps_pb2.ReplicaSet) -> tuple[float, str]:
    """Sort key: oldest first (an unset creationTimestamp is oldest), then by name."""
    t = parse_time(rs.metadata.creation_timestamp)
    return (-math.inf if t is None else t, rs.metadata.name)


def _active(rss: Iterable[apps_pb2.ReplicaSet | None]) -> list[apps_pb2.ReplicaSet]:
    return [rs for rs in rss if rs is not None and replicas(rs) > 0]


# ---------------------------------------------------------------------------------------------
# RollingUpdate

def new_rs_replicas(d: apps_pb2.Deployment, all_rss: Sequence[apps_pb2.ReplicaSet],
                    new_rs: apps_pb2.ReplicaSet) -> int:
    """The new ReplicaSet's next size: up toward spec.replicas while the pods of all ReplicaSets
    (the larger of spec and status replicas each, see the module doc) stay <= replicas + maxSurge
    (RollingUpdate); spec.replicas at once (Recreate, once old pods are gone)."""
    want = replicas(d)
    if not is_rolling_update(d):
        return want
    ceiling = want + max_surge(d)
    current = sum(max(replicas(rs), rs.status.replicas) for rs in all_rss)
    if current >= ceiling:
        return replicas(new_rs)
    return replicas(new_rs) + min(ceiling - current, want - replicas(new_rs))


def old_rs_scale_down(d: apps_pb2.Deployment, all_rss: Sequence[apps_pb2.ReplicaSet],
                      old_rss: Sequence[apps_pb2.ReplicaSet], new_rs: apps_pb2.ReplicaSet) -> dict[str, int]:
    """The old ReplicaSets to scale down now, as {name: new replicas} (oldest first).

    Within a budget of Σ replicas - (replicas - maxUnavailable) - the new RS's unavailable pods:
    1. first the old ReplicaSets' unavailable pods (they do not lower availability; left alone,
       crash-looping old pods would block the rollout forever);
    2. then available old pods, as far as available pods exceed replicas - maxUnavailable.
    `all_rss` includes `new_rs`; `old_rss` are the old ones to consider (those with replicas).
    """
    sizes = {rs.metadata.name: replicas(rs) for rs in all_rss}
    if sum(sizes[rs.metadata.name] for rs in old_rss) == 0:
        return {}
    min_available = replicas(d) - max_unavailable(d)
    new_unavailable = replicas(new_rs) - _surely_available(new_rs)
    budget = sum(sizes.values()) - min_available - new_unavailable
    if budget <= 0:
        return {}
    oldest_first = sorted(old_rss, key=by_creation)
    out: dict[str, int] = {}

    cleaned = 0
    for rs in oldest_first:                       # 1. unhealthy pods
        name, size = rs.metadata.name, sizes[rs.metadata.name]
        if cleaned >= budget:
            break
        unhealthy = size - min(rs.status.available_replicas, size)
        if size == 0 or unhealthy == 0:
            continue
        step = min(budget - cleaned, unhealthy)
        sizes[name] = out[name] = size - step
        cleaned += step

    available = sum(min(rs.status.available_replicas, sizes[rs.metadata.name]) for rs in all_rss)
    room = available - min_available              # 2. available pods beyond the minimum
    for rs in oldest_first:
        if room <= 0:
            break
        name, size = rs.metadata.name, sizes[rs.metadata.name]
        if size == 0:
            continue
        step = min(size, room)
        sizes[name] = out[name] = size - step
        room -= step
    return out


# ---------------------------------------------------------------------------------------------
# Recreate

def recreate_scale_down(old_rss: Iterable[apps_pb2.ReplicaSet]) -> dict[str, int]:
    """Recreate's first step: every old ReplicaSet with replicas to 0."""
    return {rs.metadata.name: 0 for rs in _active(old_rss)}


def old_pods_running(new_rs: apps_pb2.ReplicaSet | None, old_rss: Sequence[apps_pb2.ReplicaSet],
                     pods: Iterable[core_pb2.Pod]) -> bool:
    """Whether any pod of an old ReplicaSet may still run, which holds Recreate's scale-up back.

    True while an old ReplicaSet reports pods, or any pod controlled by one of `old_rss` is not
    Succeeded or Failed (Unknown counts as running: its node may still run it).
    """
    if sum(rs.status.replicas for rs in old_rss) > 0:
        return True
    old_uids = {rs.metadata.uid for rs in old_rss}
    if new_rs is not None:
        old_uids.discard(new_rs.metadata.uid)
    for pod in pods:
        owner = next((r for r in pod.metadata.owner_references if r.controller), None)
        if owner is None or owner.uid not in old_uids:
            continue
        if pod.status.phase not in ("Succeeded", "Failed"):
            return True
    return False


# ---------------------------------------------------------------------------------------------
# scaling (spec.replicas changed)

def is_scaling_event(d: apps_pb2.Deployment, new_rs: apps_pb2.ReplicaSet | None,
                     old_rss: Iterable[apps_pb2.ReplicaSet]) -> bool:
    """spec.replicas differs from the desired-replicas annotation of an active ReplicaSet: the
    user scaled (rather than changed the template), so scale instead of rolling."""
    want = replicas(d)
    for rs in _active([new_rs, *old_rss]):
        desired = ann.int_annotation(rs, ann.DESIRED_REPLICAS)
        if desired is not None and desired != want:
            return True
    return False


def find_active_or_latest(new_rs: apps_pb2.ReplicaSet | None,
                          old_rss: Sequence[apps_pb2.ReplicaSet]) -> apps_pb2.ReplicaSet | None:
    """The only ReplicaSet with replicas; with none, the new one (else the newest old one); with
    several, None (then scaling is proportional)."""
    if new_rs is None and not old_rss:
        return None
    newest_first = sorted(old_rss, key=by_creation, reverse=True)
    active = _active([*newest_first, new_rs])
    if not active:
        return new_rs if new_rs is not None else newest_first[0]
    return active[0] if len(active) == 1 else None


def is_saturated(d: apps_pb2.Deployment, rs: apps_pb2.ReplicaSet | None) -> bool:
    """The new ReplicaSet has all the Deployment's replicas, all available, sized for this size."""
    if rs is None:
        return False
    want = replicas(d)
    return (replicas(rs) == want and ann.int_annotation(rs, ann.DESIRED_REPLICAS) == want
            and rs.status.available_replicas == want)


def _proportion(rs: apps_pb2.ReplicaSet, d: apps_pb2.Deployment, to_add: int, added: int) -> int:
    """Kubernetes' getProportion: this ReplicaSet's share of `to_add`, within what is left."""
    size = replicas(rs)
    if size == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = _fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def _fraction(rs: apps_pb2.ReplicaSet, d: apps_pb2.Deployment) -> int:
    """How many replicas to add to (negative: remove from) `rs` to keep its share of the
    Deployment's maximum size: size * new max / old max, rounded half away from zero."""
    size = replicas(rs)
    if replicas(d) == 0:
        return -size
    new_max = replicas(d) + max_surge(d)
    old_max = ann.int_annotation(rs, ann.MAX_REPLICAS)
    if not old_max:
        # No annotation (a ReplicaSet made by hand, or edited): fall back to the current size.
        old_max = d.status.replicas
        if old_max == 0:
            return size
    return math.floor(size * new_max / old_max + 0.5) - size


def proportional_scale(d: apps_pb2.Deployment, new_rs: apps_pb2.ReplicaSet | None,
                       old_rss: Sequence[apps_pb2.ReplicaSet]) -> tuple[dict[str, int], bool]:
    """Sizes after spec.replicas changed: ({name: replicas}, proportional).

    - One active ReplicaSet (or none): it (or the latest) gets all of spec.replicas.
    - The new ReplicaSet is saturated: every active old one goes to 0.
    - Otherwise (RollingUpdate only), the change of replicas + maxSurge is spread over the active
      ReplicaSets in proportion to their sizes, larger first; what rounding leaves over goes to
      the first (the largest; on a tie the newest when growing, the oldest when shrinking).
      `proportional` is then True: the caller rewrites every returned ReplicaSet (also those whose
      size stays) so their desired/max-replicas annotations record the new size.
    Returns ({}, False) when there is nothing to do.
    """
    only = find_active_or_latest(new_rs, old_rss)
    if only is not None:
        if replicas(only) == replicas(d):
            return {}, False
        return {only.metadata.name: replicas(d)}, False
    if is_saturated(d, new_rs):
        return {rs.metadata.name: 0 for rs in _active(old_rss)}, False
    if not is_rolling_update(d):
        return {}, False

    active = _active([*old_rss, new_rs])
    allowed = replicas(d) + max_surge(d) if replicas(d) > 0 else 0
    to_add = allowed - total_replicas(active)
    # Larger first; on a tie, newer first when growing, older first when shrinking (two stable sorts).
    active.sort(key=by_creation, reverse=to_add > 0)
    active.sort(key=lambda rs: -replicas(rs))
    sizes: dict[str, int] = {}
    added = 0
    for rs in active:
        share = _proportion(rs, d, to_add, added) if to_add else 0
        sizes[rs.metadata.name] = replicas(rs) + share
        added += share
    if to_add and active:
        first = active[0].metadata.name
        sizes[first] = max(sizes[first] + to_add - added, 0)
    return sizes, True

