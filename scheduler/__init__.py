"""Skiff's scheduler: gives every pending pod a node.

Role: for each pod with no `spec.nodeName` (and `spec.schedulerName` unset or `default-scheduler`),
choose a node that can run it (filters: Ready, not cordoned, resource requests fit what is left of
allocatable, nodeSelector and required node affinity, taints and tolerations, host ports free),
preferring the emptiest nodes and spreading the pods of one controller (scorers); then bind the pod
to it. Leader-elected: of several scheduler processes, only the holder of the Lease schedules.

Watches: Pods (all of them: the unscheduled ones are the work, the bound ones take up room) and Nodes,
through the apiserver's list+watch (client/informer.py).

Writes: the binding (pods/binding: `spec.nodeName`, refused with a Conflict unless the pod is still
unbound, not being deleted and of the uid the scheduler read; applied under the pod's
resourceVersion); for a pod no node fits, its `PodScheduled` condition (status False, reason
`Unschedulable`, Kubernetes' message) and a `FailedScheduling` Event; a `Scheduled` Event per bind;
its Lease.

Invariants:
- A pod is bound at most once: a bind is a compare-and-swap on an unbound pod, so two schedulers
  (a stale leader and a new one) can never double-book; the loser forgets its assumed pod.
- A node is never given more than its allocatable: the scheduler counts every bound pod and every
  pod it has assumed but whose bind has not come back yet, and decides against one snapshot.
- Decisions are deterministic given the snapshot and the rng: the algorithm is pure
  (scheduler/algorithm.py, scheduler/snapshot.py); I/O lives in the shell.
- An unschedulable pod is retried when a node or pod changes (room may have appeared), never in a
  busy loop.

- The first invariant holds however many schedulers run; the second holds for one scheduler (or one
  leader). Schedulers racing without leader election (`--leader-elect=false`) each decide against
  their own snapshot, so between them they could in principle fill one node past its allocatable,
  as Kubernetes' can (its kubelet then rejects the pod at admission).

Modules: snapshot (PodInfo, NodeInfo, Snapshot: the cluster as the algorithm sees it; assume and
forget), algorithm (FILTERS, SCORERS, schedule, failure_message), queue (SchedulingQueue: active,
backoff, unschedulable; pure), loop (the shell: informer handlers, the loop, binds, status, Events),
metrics, app (flags -> Config, wiring, leader election). README.md has the vocabulary, the loop
diagram, the flags and the metrics.
"""
