"""Skiff's kubelet. For now only the hollow kubelet (`python -m kubelet --hollow`, Kubernetes' kubemark):
one process hosting many fake nodes, for testing and benchmarking the control plane without running
any container. The real kubelet (processes, network namespaces, probes) comes in its own issue.

Role: make the API look as if N machines were running the pods bound to them.
Watches: pods bound to any node (one watch, `spec.nodeName!=`, filtered to the hosted nodes), nodes.
Writes: each hosted Node (registration; status via UpdateStatus), its Lease in `kube-node-lease`
(the heartbeat the node lifecycle controller watches), pod status (Running and Ready after
--ready-delay; Failed/OutOfpods when a node is full), and the final deletion of gracefully deleted
pods (gracePeriodSeconds=0 with a uid precondition).

Invariants:
- Two pods on one node never share an IP; every admitted pod's IP is in its node's pod CIDR.
- A pod is reported Running only while its uid is the one the runtime started (a pod deleted and
  re-created under its name starts afresh), and never once it has a deletionTimestamp.
- A graceful deletion is finalized no earlier than min(grace period, --stop-delay) after the stop began.
- A node whose heartbeat is stopped writes neither its Lease nor its status; its pods are untouched.
- SIGTERM leaves every Node, Lease and pod as they are (exit 0).

Modules: `hollow.py` (pure core: pods), `nodestatus.py` (pure core: nodes and leases), `fleet.py`
(the shell: informers, work queue, heartbeats), `control.py` (the HTTP control endpoint),
`app.py` (flags -> Config -> run). README.md: vocabulary and the loop.
"""
