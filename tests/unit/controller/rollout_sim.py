"""A tiny in-memory cluster for the controller cores: Deployment and ReplicaSet plans applied as an
apiserver would, pods made ready by a fake kubelet, time moved by hand. No sockets, no clock.

    c = Cluster(deployment(replicas=5, image="app:v1"))
    c.settle()                              # controllers and kubelet until nothing changes
    c.set_image("app:v2")                   # a new template (generation + 1)
    c.sync_deployment(); c.sync_replica_sets(); c.kubelet(c.pod_names()[:2]); c.tick(1)
    c.available(), c.total(), c.rs_by_image()

Simplifications, each on the side of the controllers' worst case: a pod deletion is immediate (no
grace period), the controllers' caches are always current (so ReplicaSet expectations always hold),
and pods never fail.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

from controller.deployment import annotations as ann
from controller.deployment import reconcile as dreconcile
from controller.deployment import rollout
from controller.replicaset import reconcile as rsreconcile
from client.times import format_time
from skiffpb.k8s.apps.v1 import apps_pb2
from skiffpb.k8s.core.v1 import core_pb2
from skiffpb.k8s.meta.v1 import meta_pb2

T0 = 1_800_000_000.0   # 2027-01-15T08:00:00Z


def set_int_or_string(field: meta_pb2.IntOrString, value: int | str) -> None:
    if isinstance(value, int):
        field.int_val = value
    else:
        field.str_val = value


def deployment(name: str = "web", *, replicas: int = 3, image: str = "app:v1", max_surge: int | str = "25%",
               max_unavailable: int | str = "25%", min_ready_seconds: int = 0, strategy: str = "RollingUpdate",
               revision_history_limit: int | None = 10, progress_deadline_seconds: int | None = 600,
               now: float = T0) -> apps_pb2.Deployment:
    """A Deployment as the apiserver stores it after a create (defaults filled, generation 1)."""
    d = apps_pb2.Deployment(api_version="apps/v1", kind="Deployment")
    d.metadata.name, d.metadata.namespace, d.metadata.uid = name, "default", f"uid-{name}"
    d.metadata.generation = 1
    d.metadata.creation_timestamp = format_time(now)
    d.spec.replicas = replicas
    d.spec.selector.match_labels["app"] = name
    d.spec.template.metadata.labels["app"] = name
    d.spec.template.spec.containers.add(name="app", image=image)
    d.spec.strategy.type = strategy
    if strategy == "RollingUpdate":
        set_int_or_string(d.spec.strategy.rolling_update.max_surge, max_surge)
        set_int_or_string(d.spec.strategy.rolling_update.max_unavailable, max_unavailable)
    if min_ready_seconds:
        d.spec.min_ready_seconds = min_ready_seconds
    if revision_history_limit is not None:
        d.spec.revision_history_limit = revision_history_limit
    if progress_deadline_seconds is not None:
        d.spec.progress_deadline_seconds = progress_deadline_seconds
    return d


def _copy(msg):
    new = type(msg)()
    new.CopyFrom(msg)
    return new


def _controller_uid(obj) -> str | None:
    return next((r.uid for r in obj.metadata.owner_references if r.controller), None)


class Cluster:
    """One Deployment, its ReplicaSets and pods, and a clock."""

    def __init__(self, d: apps_pb2.Deployment, now: float = T0):
        self.d = d
        self.now = now
        self.rss: dict[str, apps_pb2.ReplicaSet] = {}
        self.pods: dict[str, core_pb2.Pod] = {}
        self.events: list[dreconcile.Event] = []
        self.deleted_rss: list[str] = []
        self._serial = 0

    def _next(self) -> int:
        self._serial += 1
        return self._serial

    # -- the user
    def set_image(self, image: str) -> None:
        self.d.spec.template.spec.containers[0].image = image
        self.d.metadata.generation += 1

    def set_replicas(self, n: int) -> None:
        self.d.spec.replicas = n
        self.d.metadata.generation += 1

    def set_paused(self, paused: bool) -> None:
        self.d.spec.paused = paused
        self.d.metadata.generation += 1

    def annotate(self, key: str, value: str) -> None:
        self.d.metadata.annotations[key] = value
        self.d.metadata.generation += 1   # Skiff's apiserver: a Deployment's annotations count as spec

    # -- the controllers, applying plans as the apiserver would
    def sync_deployment(self) -> dreconcile.Plan:
        plan = dreconcile.reconcile(self.d, list(self.rss.values()), list(self.pods.values()), now=self.now)
        if plan.create is not None:
            rs = _copy(plan.create)
            assert rs.metadata.name not in self.rss, f"create of existing {rs.metadata.name}"
            rs.metadata.uid = f"uid-rs-{self._next()}"
            rs.metadata.creation_timestamp = format_time(self.now)
            rs.metadata.generation = 1
            self.rss[rs.metadata.name] = rs
        for update in plan.update:
            stored = self.rss[update.metadata.name]
            rs = _copy(update)
            rs.status.CopyFrom(stored.status)          # an update never changes status
            if rs.spec != stored.spec:
                rs.metadata.generation = stored.metadata.generation + 1
            self.rss[rs.metadata.name] = rs
        for rs in plan.delete:
            assert not self.pods_of(self.rss[rs.metadata.name]), f"deleted {rs.metadata.name} with pods"
            del self.rss[rs.metadata.name]
            self.deleted_rss.append(rs.metadata.name)
        if plan.revision is not None:
            self.d.metadata.annotations[ann.REVISION] = plan.revision
        if plan.status is not None:
            self.d.status.CopyFrom(plan.status)
        self.events.extend(plan.events)
        return plan

    def pods_of(self, rs: apps_pb2.ReplicaSet) -> list[core_pb2.Pod]:
        return [p for p in self.pods.values() if _controller_uid(p) == rs.metadata.uid]

    def sync_replica_set(self, name: str) -> rsreconcile.Plan:
        rs = self.rss[name]
        plan = rsreconcile.reconcile(rs, self.pods_of(rs), now=self.now)
        for _ in range(plan.create):
            pod = rsreconcile.pod_from_template(rs)
            pod.metadata.name = f"{pod.metadata.generate_name}{self._next():05d}"
            pod.metadata.uid = f"uid-pod-{self._serial}"
            pod.metadata.creation_timestamp = format_time(self.now)
            pod.status.phase = "Pending"
            self.pods[pod.metadata.name] = pod
        for pod in plan.delete:
            del self.pods[pod.metadata.name]
        if plan.status is not None:
            rs.status.CopyFrom(plan.status)
        return plan

    def sync_replica_sets(self, order: Iterable[str] | None = None) -> list[rsreconcile.Plan]:
        return [self.sync_replica_set(n) for n in (sorted(self.rss) if order is None else order) if n in self.rss]

    # -- the kubelet and the clock
    def kubelet(self, names: Iterable[str]) -> None:
        """The named pods are scheduled, running and ready from now on."""
        for name in names:
            pod = self.pods.get(name)
            if pod is None or rsreconcile.is_ready(pod):
                continue
            pod.spec.node_name = "node-1"
            pod.status.phase = "Running"
            pod.status.conditions.add(type="Ready", status="True", last_transition_time=format_time(self.now))

    def not_ready(self) -> list[str]:
        return sorted(n for n, p in self.pods.items() if not rsreconcile.is_ready(p))

    def tick(self, seconds: float) -> None:
        self.now += seconds

    # -- observations
    def min_ready_seconds(self) -> int:
        return self.d.spec.min_ready_seconds

    def available(self) -> int:
        return sum(1 for p in self.pods.values() if rsreconcile.is_active(p)
                   and rsreconcile.is_available(p, self.min_ready_seconds(), self.now))

    def total(self) -> int:
        return sum(1 for p in self.pods.values() if rsreconcile.is_active(p))

    def images(self) -> dict[str, int]:
        """Pods per image."""
        out: dict[str, int] = {}
        for p in self.pods.values():
            image = p.spec.containers[0].image
            out[image] = out.get(image, 0) + 1
        return out

    def rs_sizes(self) -> dict[str, int]:
        """spec.replicas per ReplicaSet image."""
        return {rs.spec.template.spec.containers[0].image: rollout.replicas(rs) for rs in self.rss.values()}

    # -- everything until nothing changes
    def settle(self, max_rounds: int = 200, check: Callable[[], None] = lambda: None) -> int:
        """Controllers, kubelet (every pod ready) and time (past minReadySeconds) in turn until a
        round changes nothing; returns the rounds taken. Fails if it never settles. `check` is
        called after every controller sync."""
        for rounds in range(1, max_rounds + 1):
            before = self.snapshot()
            self.sync_deployment()
            check()
            for name in sorted(self.rss):
                self.sync_replica_set(name)
                check()
            self.kubelet(self.not_ready())
            self.tick(self.min_ready_seconds() + 1)
            for name in sorted(self.rss):    # the ReplicaSets' timed re-check (requeue_after)
                self.sync_replica_set(name)
                check()
            if self.snapshot() == before:
                return rounds
        raise AssertionError(f"no steady state after {max_rounds} rounds: {self.describe()}")

    def snapshot(self) -> tuple:
        return (self.d.SerializeToString(deterministic=True),
                tuple(sorted((n, rs.SerializeToString(deterministic=True)) for n, rs in self.rss.items())),
                tuple(sorted(self.pods)), tuple(self.not_ready()))

    def describe(self) -> str:
        rss = ", ".join(f"{rs.metadata.name}({rs.spec.template.spec.containers[0].image}) "
                        f"spec={rollout.replicas(rs)} status={rs.status.replicas}/{rs.status.available_replicas}"
                        for rs in self.rss.values())
        return f"t={self.now - T0:g} pods={self.total()} available={self.available()} rss=[{rss}]"
