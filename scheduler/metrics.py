"""The scheduler's Prometheus metrics (`GET /metrics`), named as kube-scheduler 1.20 names them where it
has a counterpart.

| metric | type | meaning |
|---|---|---|
| `scheduler_schedule_attempts_total{result}` | counter | attempts by result: `scheduled` (bound), `unschedulable` (no node fits), `error` (the bind or a call failed) |
| `scheduler_pods_scheduled_total` | counter | pods this process bound |
| `scheduler_binding_conflicts_total` | counter | binds refused because the pod was bound already, is being deleted, or was re-created (Skiff's: shows schedulers racing) |
| `scheduler_e2e_scheduling_duration_seconds{result}` | histogram | one attempt: from taking the pod off the queue to its bind answered (or the unschedulable verdict) |
| `scheduler_pod_scheduling_duration_seconds` | histogram | one pod: from first seen pending to bound, over all its attempts |
| `scheduler_scheduling_algorithm_duration_seconds` | histogram | `schedule()` alone (filters and scores) |
| `scheduler_pending_pods{queue}` | gauge | pods waiting: `active`, `backoff`, `unschedulable` |
| `scheduler_binds_in_flight` | gauge | binds sent and not answered yet |
| `scheduler_cache_size{type}` | gauge | `nodes`, `pods` (placed: bound or assumed), `assumed_pods` |
| `leader_election_master_status{name}` | gauge | 1 while this process holds the lease (always 1 with --leader-elect=false) |
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Kubernetes' e2e buckets: 1 ms doubling to about 16 s.
LATENCY_BUCKETS = tuple(0.001 * 2 ** i for i in range(15))
# Kubernetes' pod_scheduling_duration buckets: 10 ms doubling to about 164 s.
POD_BUCKETS = tuple(0.01 * 2 ** i for i in range(15))
ALGORITHM_BUCKETS = tuple(0.0001 * 2 ** i for i in range(15))


class Metrics:
    """Every scheduler metric, in its own registry (so tests may build several)."""

    def __init__(self, lease_name: str = ""):
        self.registry = r = CollectorRegistry()
        self.attempts = Counter("scheduler_schedule_attempts_total",
                                "Scheduling attempts by result (scheduled, unschedulable, error)",
                                ["result"], registry=r)
        self.scheduled = Counter("scheduler_pods_scheduled_total", "Pods bound by this scheduler", registry=r)
        self.conflicts = Counter("scheduler_binding_conflicts_total",
                                 "Binds refused: the pod was bound already, being deleted, or re-created",
                                 registry=r)
        self.e2e = Histogram("scheduler_e2e_scheduling_duration_seconds",
                             "One attempt: off the queue to bind answered or unschedulable verdict",
                             ["result"], buckets=LATENCY_BUCKETS, registry=r)
        self.pod_duration = Histogram("scheduler_pod_scheduling_duration_seconds",
                                      "One pod: first seen pending to bound, over all its attempts",
                                      buckets=POD_BUCKETS, registry=r)
        self.algorithm = Histogram("scheduler_scheduling_algorithm_duration_seconds",
                                   "schedule(): filters and scores", buckets=ALGORITHM_BUCKETS, registry=r)
        self.pending = Gauge("scheduler_pending_pods", "Pods waiting, by queue", ["queue"], registry=r)
        self.binds_in_flight = Gauge("scheduler_binds_in_flight", "Binds sent and not answered yet", registry=r)
        self.cache_size = Gauge("scheduler_cache_size", "Nodes and placed pods in the snapshot", ["type"],
                                registry=r)
        self.leader = Gauge("leader_election_master_status", "1 while this process holds the lease",
                            ["name"], registry=r)
        self.lease_name = lease_name
        for result in ("scheduled", "unschedulable", "error"):
            self.attempts.labels(result)          # present at 0 from the start, as Prometheus prefers
        for queue in ("active", "backoff", "unschedulable"):
            self.pending.labels(queue)
        self.leader.labels(lease_name).set(0)

    def set_leader(self, leading: bool) -> None:
        self.leader.labels(self.lease_name).set(1 if leading else 0)
