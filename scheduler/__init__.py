"""Skiff's scheduler: gives every pending pod a node.

Role: for each pod with no `spec.nodeName` (and `spec.schedulerName` unset or `default-scheduler`),
choose a node that can run it (filters: Ready, not cordoned, resource requests fit what is left of
allocatable, nodeSelector and required node affinity, taints and tolerations, host ports free),
preferring the emptiest nodes and spreading the pods of one controller (scorers); then bind the pod
to it. Leader-elected: of several scheduler processes, only the holder of the Lease schedules.

Watches: Pods (all of them: the unscheduled ones are the work, the bound ones take up room) and Nodes,
through the apiserver's list+watch (client/informer.py).

Writes: the binding (`spec.nodeName`, written with a precondition on the pod's resourceVersion and
on `spec.nodeName` still being empty); for a pod no node fits, its `PodScheduled` condition (status
False, reason `Unschedulable`, Kubernetes' message) and a `FailedScheduling` Event; its Lease.

Invariants:
- A pod is bound at most once: a bind is a compare-and-swap on an unbound pod, so two schedulers
  (a stale leader and a new one) can never double-book; the loser forgets its assumed pod.
- A node is never given more than its allocatable: the scheduler counts every bound pod and every
  pod it has assumed but whose bind has not come back yet, and decides against one snapshot.
- Decisions are deterministic given the snapshot and the rng: the algorithm is pure
  (scheduler/algorithm.py, scheduler/snapshot.py); I/O lives in the shell.
- An unschedulable pod is retried when a node or pod changes (room may have appeared), never in a
  busy loop.

Modules: snapshot (PodInfo, NodeInfo, Snapshot: the cluster as the algorithm sees it; assume and
forget), algorithm (FILTERS, SCORERS, schedule, failure_message). README.md has the vocabulary and the
loop diagram.
"""
