"""Skiff's controller manager: level-triggered controllers that drive the cluster toward the spec.

Role: one process (`python -m controller`, leader-elected) running the deployment, replicaset,
endpoints, node lifecycle, garbage collector and namespace controllers on shared informers.

Shape (../shared/STYLE.md §1-§2): each controller is a pure core and a thin shell.

- The core (`controller.<name>.reconcile`, and the modules beside it) takes read-only objects from
  the informer cache and `now`, and returns a small frozen `Plan`: what to create, scale, delete,
  and the status to write. No gRPC, no asyncio, no clock, no randomness; unit tests run it in
  microseconds, and Hypothesis simulations apply its plans over and over.
- The shell (informers -> work queue of `ns/name` keys -> `sync(key)` -> apply the plan through the
  API) owns retries, expectations bookkeeping, events and leader election.

What it watches: Deployments, ReplicaSets, Pods, Services, Endpoints, Nodes, Leases (node
heartbeats), Namespaces, and (the garbage collector, the namespace controller) every kind.
What it writes: ReplicaSets (create, scale, delete), Pods (create, adopt/release, delete, evict,
Ready=False on a failed node), Endpoints, node status and taints, ownerReference and finalizer
removals, cascading deletions, a terminating namespace's content, conditions and finalize
subresource, the status subresource of what it owns, Events.

Invariants the cores keep:
- A ReplicaSet never has more creations in flight than its expectations allow (no double
  creation while the cache lags the controller's own writes).
- A RollingUpdate keeps available pods >= replicas - maxUnavailable and all pods <= replicas +
  maxSurge, given ReplicaSet controllers that delete surplus pods least-available first.
- Objects from the cache are never mutated: every change is made on a copy inside the Plan.

Shared pieces: `controller.ownership` (ownerReferences, adoption and release),
`controller.expectations` (the Expectations record), `client.times` (RFC 3339 <-> seconds, shared).
Vocabulary: controller/README.md.
"""
