"""The Deployment controller's pure core: one sync of a Deployment as a Plan.

    rss = claim_replica_sets(d, rss_in_namespace).owned (+ adopted)
    plan = reconcile(d, rss, pods, now=now)
    plan.create            # a ReplicaSet to create first (the new template's), or None
    plan.update            # ReplicaSets to write (scaled, annotated), in order
    plan.delete            # old ReplicaSets beyond revisionHistoryLimit
    plan.revision          # the Deployment's revision annotation, when it changes
    plan.status            # the status to write, None when unchanged
    plan.events            # ScalingReplicaSet, SelectingAll, ...
    plan.requeue_after     # look again then (the progress deadline), or None

The shell applies a plan in that order and stops at the first failed write (raising, so the work
queue retries with backoff): every sync recomputes from the cache, so a partial plan only delays.
A create refused with AlreadyExists goes to `on_already_exists`.

One sync does what Kubernetes' syncDeployment does (pkg/controller/deployment), in its order:
1. an empty selector selects everything: refuse (event SelectingAll), only observe the generation;
2. a Deployment being deleted: status only;
3. pause/resume conditions;
4. paused, or a scaling event (spec.replicas differs from the desired-replicas annotation of an
   active ReplicaSet): scale proportionally (`rollout.proportional_scale`), no rollout step; a paused
   Deployment also has its history cleaned;
5. Recreate: old ReplicaSets to 0; once no old pod runs, the new one (created now if need be) to
   spec.replicas;
6. RollingUpdate: the new ReplicaSet (created if need be) scales up within maxSurge; if it did
   not, old ones scale down within maxUnavailable; once complete, history is cleaned;
7. status: counts, Available, and the Progressing estimate.
Whenever the new ReplicaSet exists or is created, its annotations (revision, change-cause) and
minReadySeconds are brought up to date and the Deployment takes its revision. Pure: no I/O.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from client.selectors import label_selector_from_proto
from controller import ownership
from controller.deployment import annotations as ann
from controller.deployment import revision as rev
from controller.deployment import rollout, status as st
from controller.ownership import Claim
from skiffpb.k8s.apps.v1 import apps_pb2
from skiffpb.k8s.core.v1 import core_pb2

__all__ = ["Event", "Plan", "claim_replica_sets", "on_already_exists", "reconcile"]


@dataclass(frozen=True)
class Event:
    """An Event to record about the Deployment: `Normal ScalingReplicaSet Scaled up replica set web-5d78c9 to 3 from 1`."""

    type: str       # Normal | Warning
    reason: str
    message: str


@dataclass(frozen=True)
class Plan:
    """One sync's writes for a Deployment, to apply in field order (see the module doc).

    Messages are fresh copies, never cache objects: the shell may send them as they are (updates
    carry the resourceVersion read, so a concurrent writer makes them fail with Conflict).
    """

    create: apps_pb2.ReplicaSet | None = None
    update: tuple[apps_pb2.ReplicaSet, ...] = ()
    delete: tuple[apps_pb2.ReplicaSet, ...] = ()
    revision: str | None = None
    status: apps_pb2.DeploymentStatus | None = None
    events: tuple[Event, ...] = ()
    requeue_after: float | None = None


def claim_replica_sets(d: apps_pb2.Deployment, rss: Iterable[apps_pb2.ReplicaSet]) -> Claim[apps_pb2.ReplicaSet]:
    """Which ReplicaSets of the namespace the Deployment owns, adopts, releases (controller.ownership)."""
    selector = label_selector_from_proto(d.spec.selector, path="spec.selector")
    return ownership.claim(d, selector, rss)


def on_already_exists(d: apps_pb2.Deployment, existing: apps_pb2.ReplicaSet) -> apps_pb2.DeploymentStatus | None:
    """The new ReplicaSet's name is taken by `existing`. None: it is ours, with our template (our
    cache lagged): just sync again. Otherwise a hash collision: the status to write, with
    collisionCount + 1 (a new hash, a new name at the next sync)."""
    ref = ownership.controller_of(existing)
    if ref is not None and ref.uid == d.metadata.uid and rev.equal_ignore_hash(d.spec.template, existing.spec.template):
        return None
    status = apps_pb2.DeploymentStatus()
    status.CopyFrom(d.status)
    status.collision_count = d.status.collision_count + 1
    return status


class _Sync:
    """The working state of one sync: copies of the ReplicaSets, the status being built, and the
    writes decided so far. Only copies are changed; the inputs stay as the cache gave them."""

    def __init__(self, d: apps_pb2.Deployment, rss: Sequence[apps_pb2.ReplicaSet], now: float):
        self.d, self.now = d, now
        self.original = {rs.metadata.name: rs for rs in rss}
        self.rss: dict[str, apps_pb2.ReplicaSet] = {}
        for rs in rss:
            copy = apps_pb2.ReplicaSet()
            copy.CopyFrom(rs)
            self.rss[rs.metadata.name] = copy
        self.touched: list[str] = []           # names written, in first-write order
        self.created: str | None = None
        self.collision = False
        self.revision: str | None = None
        self.events: list[Event] = []
        self.deletes: list[apps_pb2.ReplicaSet] = []
        self.status = apps_pb2.DeploymentStatus()   # d.status plus this sync's conditions
        self.status.CopyFrom(d.status)

    # -- the ReplicaSets, as they will be once the plan is applied
    def all(self) -> list[apps_pb2.ReplicaSet]:
        return list(self.rss.values())

    def new_and_old(self) -> tuple[apps_pb2.ReplicaSet | None, list[apps_pb2.ReplicaSet]]:
        new = rev.find_new_replica_set(self.d, self.all())
        return new, [rs for rs in self.all() if new is None or rs.metadata.name != new.metadata.name]

    def _touch(self, name: str) -> None:
        if name not in self.touched:
            self.touched.append(name)

    # -- writes
    def scale(self, name: str, size: int, *, annotate_only_if_scaled: bool = True) -> bool:
        """Kubernetes' scaleReplicaSet(AndRecordEvent): sets spec.replicas and the desired/max-replicas
        annotations; True if the size changed (then a ScalingReplicaSet event)."""
        rs = self.rss[name]
        old = rollout.replicas(rs)
        if old == size and annotate_only_if_scaled:
            return False
        want = rollout.replicas(self.d)
        annotated = ann.set_replicas_annotations(rs, want, want + rollout.max_surge(self.d))
        if old != size:
            rs.spec.replicas = size
            way = "up" if size > old else "down"
            self.events.append(Event("Normal", "ScalingReplicaSet",
                                     f"Scaled {way} replica set {name} to {size} from {old}"))
        if old != size or annotated:
            self._touch(name)
        return old != size

    def sync_new(self, *, create: bool) -> apps_pb2.ReplicaSet | None:
        """Kubernetes' getNewReplicaSet: bring the existing new ReplicaSet's annotations and
        minReadySeconds up to date, or (if `create`) make one. The Deployment takes its revision.
        Returns None when there is no new ReplicaSet (and `create` is False), or a collision."""
        new, all_old = self.new_and_old()
        next_revision = rev.max_revision(all_old) + 1
        if new is not None:
            name = new.metadata.name
            changed = rev.sync_new_rs_annotations(self.d, new, next_revision, exists=True)
            if new.spec.min_ready_seconds != self.d.spec.min_ready_seconds:
                new.spec.min_ready_seconds = self.d.spec.min_ready_seconds
                if not self.d.spec.min_ready_seconds:
                    new.spec.ClearField("min_ready_seconds")
                changed = True
            if changed:
                self._touch(name)
            self._set_revision(new.metadata.annotations.get(ann.REVISION, ""))
            if st.has_progress_deadline(self.d) and st.get_condition(self.status, st.PROGRESSING) is None:
                st.set_condition(self.status, st.new_condition(
                    st.PROGRESSING, "True", st.FOUND_NEW_RS, f'Found new replica set "{name}"', self.now))
            return new
        if not create:
            return None
        # Sized as if it existed with 0 replicas: what it may get within maxSurge right away.
        rs = rev.new_replica_set(self.d, revision=next_revision, replicas=0)
        if rs.metadata.name in self.rss:
            # Our own ReplicaSet has that name but another template: a hash collision.
            self.status.collision_count = self.d.status.collision_count + 1
            self.collision = True
            return None
        size = rollout.new_rs_replicas(self.d, [*self.all(), rs], rs)
        rs.spec.replicas = size
        name = rs.metadata.name
        self.rss[name] = rs
        self.created = name
        if size > 0:
            self.events.append(Event("Normal", "ScalingReplicaSet", f"Scaled up replica set {name} to {size}"))
        self._set_revision(str(next_revision))
        if st.has_progress_deadline(self.d):
            st.set_condition(self.status, st.new_condition(
                st.PROGRESSING, "True", st.NEW_RS_CREATED, f'Created new replica set "{name}"', self.now))
        return rs

    def _set_revision(self, value: str) -> None:
        if self.d.metadata.annotations.get(ann.REVISION) != value:
            self.revision = value

    def cleanup(self) -> None:
        """History beyond revisionHistoryLimit, judged on the ReplicaSets as read (not on this
        sync's changes: one just scaled to 0 still has pods), sparing any this sync writes."""
        new, _ = self.new_and_old()
        old = [rs for n, rs in self.original.items() if new is None or n != new.metadata.name]
        self.deletes = [rs for rs in rev.history_to_delete(self.d, old) if rs.metadata.name not in self.touched]

    # -- the plan
    def plan(self, status: apps_pb2.DeploymentStatus | None, *, requeue: float | None = None) -> Plan:
        updates = tuple(self.rss[n] for n in self.touched if n != self.created)
        return Plan(create=self.rss[self.created] if self.created else None, update=updates,
                    delete=tuple(self.deletes), revision=self.revision,
                    status=None if status is None or status == self.d.status else status,
                    events=tuple(self.events), requeue_after=requeue)


def reconcile(d: apps_pb2.Deployment, rss: Sequence[apps_pb2.ReplicaSet], pods: Iterable[core_pb2.Pod] = (),
              *, now: float) -> Plan:
    """One sync of Deployment `d`: `rss` are the ReplicaSets it controls (claimed, see
    `claim_replica_sets`), `pods` their pods (needed by Recreate only: it waits for old pods to be
    gone). `now` is seconds since the epoch."""
    s = _Sync(d, rss, now)
    if not d.spec.selector.match_labels and not d.spec.selector.match_expressions:
        status = apps_pb2.DeploymentStatus()
        status.CopyFrom(d.status)
        if d.metadata.generation:
            status.observed_generation = d.metadata.generation
        s.events.append(Event("Warning", "SelectingAll",
                              "This deployment is selecting all pods. A non-empty selector is required."))
        return s.plan(status)
    if ownership.is_being_deleted(d):
        s.sync_new(create=False)
        return s.plan(st.calculate_status(d, s.all(), now, base=s.status))

    paused = st.paused_condition(d, now)
    if paused is not None:
        st.set_condition(s.status, paused)

    if d.spec.paused or _is_scaling_event(s):
        new = s.sync_new(create=False)
        _, old = s.new_and_old()
        sizes, proportional = rollout.proportional_scale(d, new, [rs for rs in old])
        for name, size in sizes.items():
            s.scale(name, size, annotate_only_if_scaled=not proportional)
        if d.spec.paused:
            s.cleanup()
        # No progress estimate (nor its deadline re-check) while paused or scaling, as Kubernetes.
        return s.plan(st.calculate_status(d, _as_read(s), now, base=s.status))

    if rollout.is_rolling_update(d):
        _rolling(s)
    else:
        _recreate(s, pods)
    if s.collision:
        return s.plan(s.status, requeue=0.0)     # the next sync tries the next hash
    status = st.rollout_status(d, _as_read(s), now, base=s.status)
    return s.plan(status, requeue=st.requeue_after(d, status, now))


def _is_scaling_event(s: _Sync) -> bool:
    new, old = s.new_and_old()
    return rollout.is_scaling_event(s.d, new, old)


def _as_read(s: _Sync) -> list[apps_pb2.ReplicaSet]:
    """The ReplicaSets for status counting, as Kubernetes counts them: as read (this sync's scaling
    not yet reflected), plus the one this sync creates."""
    out = list(s.original.values())
    if s.created:
        out.append(s.rss[s.created])
    return out


def _rolling(s: _Sync) -> None:
    new = s.sync_new(create=True)
    if new is None:
        return                                  # a hash collision: collisionCount moves on
    want = rollout.replicas(s.d)
    size = rollout.replicas(new)
    if size != want:                            # 1. the new ReplicaSet up (or down to spec)
        target = want if size > want else rollout.new_rs_replicas(s.d, s.all(), new)
        if s.scale(new.metadata.name, target):
            return
    _, old = s.new_and_old()                    # 2. old ones down
    active_old = [rs for rs in old if rollout.replicas(rs) > 0]
    down = rollout.old_rs_scale_down(s.d, s.all(), active_old, new)
    for name, size in down.items():
        s.scale(name, size)
    if down:
        return
    if st.deployment_complete(s.d, s.d.status):  # 3. done: trim the history
        s.cleanup()


def _recreate(s: _Sync, pods: Iterable[core_pb2.Pod]) -> None:
    new = s.sync_new(create=False)
    _, old = s.new_and_old()
    scaled = False
    for name, size in rollout.recreate_scale_down(old).items():
        scaled = s.scale(name, size) or scaled
    if scaled:
        return
    if rollout.old_pods_running(new, [s.original[rs.metadata.name] for rs in old], pods):
        return
    if new is None:
        new = s.sync_new(create=True)
        if new is None:
            return
    s.scale(new.metadata.name, rollout.replicas(s.d))
    if st.deployment_complete(s.d, s.d.status):
        s.cleanup()
