"""The hollow kubelet's pure core for nodes and their leases: identity, the Node it registers, the
status it posts, when to post it, and the Lease it renews. No I/O, no clock: `now` comes in.

    ident = node_identity("hollow-", 3)           # hollow-3, podCIDR 10.244.3.0/24, InternalIP 10.240.0.4
    node = desired_node(ident, shape, now)        # create; or merge_registration(existing, ...) to update
    status = node_status(ident, shape, node.status, now)
    if needs_status_post(current.status, status, last_report, now, report_frequency): UpdateStatus
    lease = new_lease(name, node_uid, 40, now)  /  renewed_lease(lease, name, 40, now)

Addresses: node i gets podCIDR 10.<244 + i // 256>.<i % 256>.0/24 (Kubernetes' default cluster CIDR
10.244.0.0/16, continued upwards past 256 nodes, so MAX_NODES = 3,072 fit below 10.255.255.0/24)
and the InternalIP 10.240.0.0 + i + 1 (a fake address, never used for traffic; the pod CIDRs start
above it).

Posting, as Kubernetes' kubelet with node leases (kubelet_node_status.go): the status is computed
every node-status-update-frequency and posted when something other than the heartbeat times
changed (say the node lifecycle controller set Ready=Unknown while the node was partitioned), or
when node-status-report-frequency has passed since the last post. The Lease is the frequent
heartbeat.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from client.leaderelection import format_micro_time
from client.times import format_time
from skiffpb.k8s.coordination.v1 import coordination_pb2
from skiffpb.k8s.core.v1 import core_pb2
from skiffpb.k8s.meta.v1 import meta_pb2

__all__ = [
    "KUBELET_VERSION", "LEASE_NAMESPACE", "MAX_NODES", "NodeIdentity", "NodeShape", "desired_node",
    "internal_ip_for", "merge_registration", "needs_status_post", "new_lease", "node_identity",
    "node_labels", "node_status", "pod_cidr_for", "renewed_lease",
]

KUBELET_VERSION = "v1.20.0-skiff"
OS_IMAGE = "Skiff hollow node"
CONTAINER_RUNTIME_VERSION = "hollow://0.1"
KUBELET_PORT = 10250
LEASE_NAMESPACE = "kube-node-lease"
MAX_NODES = (256 - 244) * 256
HOSTNAME_LABEL = "kubernetes.io/hostname"

# Kubernetes' node conditions a kubelet owns: (type, status, reason, message), in its order.
CONDITIONS = (
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)
_OWN_CONDITIONS = frozenset(c[0] for c in CONDITIONS)


@dataclass(frozen=True)
class NodeIdentity:
    name: str
    index: int
    pod_cidr: str
    internal_ip: str


@dataclass(frozen=True)
class NodeShape:
    """What every hosted node is made of: capacity, extra labels, what its nodeInfo reports."""

    cpu: str = "4"
    memory: str = "8Gi"
    pods: int = 110
    ephemeral_storage: str = "100Gi"
    labels: tuple[tuple[str, str], ...] = ()
    kernel_version: str = ""
    architecture: str = "amd64"


def pod_cidr_for(index: int) -> str:
    if not 0 <= index < MAX_NODES:
        raise ValueError(f"node index {index} out of range: at most {MAX_NODES} hollow nodes have a pod CIDR")
    return f"10.{244 + index // 256}.{index % 256}.0/24"


def internal_ip_for(index: int) -> str:
    n = index + 1
    return f"10.{240 + n // 65536}.{(n // 256) % 256}.{n % 256}"


def node_identity(prefix: str, index: int) -> NodeIdentity:
    return NodeIdentity(f"{prefix}{index}", index, pod_cidr_for(index), internal_ip_for(index))


def node_labels(ident: NodeIdentity, shape: NodeShape) -> dict[str, str]:
    """The labels a 1.20 kubelet sets (no node-role: ROLES shows <none>), then --node-labels."""
    labels = {
        "beta.kubernetes.io/arch": shape.architecture, "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": shape.architecture, "kubernetes.io/os": "linux",
    }
    labels.update(dict(shape.labels))
    labels[HOSTNAME_LABEL] = ident.name
    return labels


def _stable_id(name: str, what: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_DNS, f"{what}.{name}.hollow.skiff").hex


def node_status(ident: NodeIdentity, shape: NodeShape, current: core_pb2.NodeStatus | None,
                now: float) -> core_pb2.NodeStatus:
    """The status to post: capacity = allocatable, the four kubelet conditions with heartbeat `now`
    (lastTransitionTime kept when the status is unchanged), conditions of other writers kept,
    addresses, daemon endpoints, nodeInfo. `current` is the node's status as last read (None: new)."""
    st = core_pb2.NodeStatus()
    for res, value in (("cpu", shape.cpu), ("memory", shape.memory), ("pods", str(shape.pods)),
                       ("ephemeral-storage", shape.ephemeral_storage)):
        st.capacity[res].value = value
        st.allocatable[res].value = value
    stamp = format_time(now)
    old = {c.type: c for c in current.conditions} if current is not None else {}
    for ctype, status, reason, message in CONDITIONS:
        prev = old.get(ctype)
        since = prev.last_transition_time if prev is not None and prev.status == status and \
            prev.last_transition_time else stamp
        st.conditions.add(type=ctype, status=status, reason=reason, message=message,
                          last_heartbeat_time=stamp, last_transition_time=since)
    if current is not None:
        for c in current.conditions:
            if c.type not in _OWN_CONDITIONS:
                st.conditions.add().CopyFrom(c)
    st.addresses.add(type="InternalIP", address=ident.internal_ip)
    st.addresses.add(type="Hostname", address=ident.name)
    st.daemon_endpoints.kubelet_endpoint.port = KUBELET_PORT
    info = st.node_info
    info.machine_id = _stable_id(ident.name, "machine")
    info.system_uuid = str(uuid.UUID(_stable_id(ident.name, "system"))).upper()
    info.boot_id = str(uuid.UUID(_stable_id(ident.name, "boot")))
    info.kernel_version = shape.kernel_version or "5.10.0-hollow"
    info.os_image = OS_IMAGE
    info.container_runtime_version = CONTAINER_RUNTIME_VERSION
    info.kubelet_version = KUBELET_VERSION
    info.kube_proxy_version = KUBELET_VERSION
    info.operating_system = "linux"
    info.architecture = shape.architecture
    return st


def desired_node(ident: NodeIdentity, shape: NodeShape, now: float) -> core_pb2.Node:
    """The Node to create (Kubernetes registers with its status: the apiserver keeps it on create)."""
    node = core_pb2.Node(api_version="v1", kind="Node")
    node.metadata.name = ident.name
    node.metadata.labels.update(node_labels(ident, shape))
    node.spec.pod_cidr = ident.pod_cidr
    node.spec.pod_cidrs.append(ident.pod_cidr)
    node.spec.provider_id = f"hollow://{ident.name}"
    node.status.CopyFrom(node_status(ident, shape, None, now))
    return node


def merge_registration(existing: core_pb2.Node, ident: NodeIdentity, shape: NodeShape) -> core_pb2.Node | None:
    """The update an existing Node needs at registration (our labels; podCIDR and providerID when
    unset, as they may only go from "" to a value), or None when it needs none. Everything else of
    the spec (taints, unschedulable: a cordon) is the cluster's and kept."""
    new = core_pb2.Node()
    new.CopyFrom(existing)
    new.metadata.labels.update(node_labels(ident, shape))
    if not new.spec.pod_cidr and not new.spec.pod_cidrs:
        new.spec.pod_cidr = ident.pod_cidr
        new.spec.pod_cidrs.append(ident.pod_cidr)
    if not new.spec.provider_id:
        new.spec.provider_id = f"hollow://{ident.name}"
    return None if new == existing else new


def node_pod_cidr(node: core_pb2.Node, ident: NodeIdentity) -> str:
    """The pod CIDR pods on `node` get IPs from: the node's own (it may predate us), else ours."""
    return node.spec.pod_cidr or (node.spec.pod_cidrs[0] if node.spec.pod_cidrs else "") or ident.pod_cidr


def _without_heartbeats(st: core_pb2.NodeStatus) -> core_pb2.NodeStatus:
    out = core_pb2.NodeStatus()
    out.CopyFrom(st)
    for c in out.conditions:
        c.ClearField("last_heartbeat_time")
    return out


def needs_status_post(current: core_pb2.NodeStatus | None, desired: core_pb2.NodeStatus,
                      last_report: float | None, now: float, report_frequency: float) -> bool:
    """Post when the status changed in anything but heartbeat times, or `report_frequency` seconds
    passed since our last post (or we never posted in this life)."""
    if current is None or last_report is None or now - last_report >= report_frequency:
        return True
    return _without_heartbeats(current) != _without_heartbeats(desired)


def _owner(node_name: str, node_uid: str) -> meta_pb2.OwnerReference:
    return meta_pb2.OwnerReference(api_version="v1", kind="Node", name=node_name, uid=node_uid)


def new_lease(node_name: str, node_uid: str, duration: int, now: float) -> coordination_pb2.Lease:
    """The node's Lease in kube-node-lease, owned by the Node (so deleting the Node collects it),
    as Kubernetes' node lease controller creates it."""
    lease = coordination_pb2.Lease(api_version="coordination.k8s.io/v1", kind="Lease")
    lease.metadata.name, lease.metadata.namespace = node_name, LEASE_NAMESPACE
    if node_uid:
        lease.metadata.owner_references.append(_owner(node_name, node_uid))
    lease.spec.holder_identity = node_name
    lease.spec.lease_duration_seconds = duration
    lease.spec.renew_time = format_micro_time(now)
    return lease


def renewed_lease(lease: coordination_pb2.Lease, node_name: str, node_uid: str, duration: int,
                  now: float) -> coordination_pb2.Lease:
    """A copy of `lease` renewed at `now` (resourceVersion kept: the update is guarded by it)."""
    out = coordination_pb2.Lease()
    out.CopyFrom(lease)
    out.spec.holder_identity = node_name
    out.spec.lease_duration_seconds = duration
    out.spec.renew_time = format_micro_time(now)
    if node_uid and not any(r.kind == "Node" and r.uid == node_uid for r in out.metadata.owner_references):
        del out.metadata.owner_references[:]
        out.metadata.owner_references.append(_owner(node_name, node_uid))
    return out
