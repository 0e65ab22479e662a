"""The ReplicaSet controller: keeps `spec.replicas` pods matching the selector.

Watches ReplicaSets and Pods; writes Pods (create from the template, adopt, release, delete) and
ReplicaSet status. Invariants: never more creations in flight than its expectations allow; surplus
pods deleted least valuable first (unscheduled, not ready, newest); terminated pods not counted.

The pure core is `controller.replicaset.reconcile`; the shell (informers, work queue, API writes)
applies its Plan. See controller/README.md for the vocabulary.
"""
