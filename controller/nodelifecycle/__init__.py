"""The node lifecycle controller: a node whose Lease (or Ready heartbeat) is older than
--node-monitor-grace-period becomes Ready=Unknown and gets the node.kubernetes.io/unreachable
taints; after --pod-eviction-timeout (or the pods' own tolerationSeconds) its pods are deleted so
their owners recreate them elsewhere; once Ready again, the taints go.

Watches Nodes, Leases in kube-node-lease, Pods; writes node status and taints, pod status and
deletions, Events. Pure cores: `health.py` (node_health), `eviction.py` (the taint manager's
arithmetic); shell: `controller.py`.
"""
from controller.nodelifecycle.controller import NodeLifecycleController, make

__all__ = ["NodeLifecycleController", "make"]
