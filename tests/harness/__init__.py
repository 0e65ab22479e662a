"""Test harness: real processes on free loopback ports, health waits, log dumps, guaranteed cleanup.

Later issues reuse it: `Proc` runs any `python -m <component>` (or another binary), `wait_for` polls a
condition with a timeout and a description, `StoreCluster` and `EtcdCluster` run three-member stores
(Skiff's, and the real etcd for side-by-side comparisons), `ControlPlane` adds API servers (and,
when asked, a `ControllerManager`), `LocalCluster` runs deploy/up.sh and down.sh as a user does,
`Cluster` runs a whole cluster of processes (control plane, two leader-elected schedulers and
controller managers, a hollow kubelet) for the workload tests.
"""
from tests.harness.proc import Proc, free_port, wait_for, WaitTimeout
from tests.harness.store import StoreCluster, EtcdCluster, Member
from tests.harness.apiserver import ApiServer, ControlPlane
from tests.harness.controller import ControllerManager
from tests.harness.deploy import LocalCluster
from tests.harness.cluster import (Cluster, ClusterClient, ElectedControllerManager, HollowKubelet,
                                    Scheduler)

__all__ = ["Proc", "free_port", "wait_for", "WaitTimeout", "StoreCluster", "EtcdCluster", "Member",
           "ApiServer", "ControlPlane", "ControllerManager", "LocalCluster", "Cluster", "ClusterClient",
           "ElectedControllerManager", "HollowKubelet", "Scheduler"]
