"""kubelet/nodestatus.py, the hollow kubelet's pure node core: identities (names, pod CIDRs, fake IPs),
the Node registered and merged into an existing one, the status posted and when, and the Lease."""
from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, strategies as st

from client.leaderelection import parse_micro_time
from client.times import format_time
from kubelet.nodestatus import (
    LEASE_NAMESPACE, MAX_NODES, NodeShape, desired_node, internal_ip_for, merge_registration, needs_status_post,
    new_lease, node_identity, node_labels, node_pod_cidr, node_status, pod_cidr_for, renewed_lease,
)
from skiffpb.k8s.core.v1 import core_pb2

pytestmark = pytest.mark.timeout(60)

T0 = 1_790_000_000.0
SHAPE = NodeShape(cpu="2", memory="4Gi", pods=50, labels=(("zone", "z1"),), kernel_version="6.1.0")


@pytest.mark.parametrize("index, cidr, ip", [
    pytest.param(0, "10.244.0.0/24", "10.240.0.1", id="first"),
    pytest.param(255, "10.244.255.0/24", "10.240.1.0", id="last-of-10.244"),
    pytest.param(256, "10.245.0.0/24", "10.240.1.1", id="past-256"),
    pytest.param(MAX_NODES - 1, "10.255.255.0/24", "10.240.12.0", id="last"),
])
def test_identities(index, cidr, ip):
    ident = node_identity("hollow-", index)
    assert (ident.name, ident.pod_cidr, ident.internal_ip) == (f"hollow-{index}", cidr, ip)


def test_no_pod_cidr_past_the_last_node():
    with pytest.raises(ValueError, match="at most 3072"):
        pod_cidr_for(MAX_NODES)


@given(st.integers(0, MAX_NODES - 1), st.integers(0, MAX_NODES - 1))
def test_distinct_nodes_never_share_addresses(a, b):
    if a != b:
        assert not ipaddress.ip_network(pod_cidr_for(a)).overlaps(ipaddress.ip_network(pod_cidr_for(b)))
        assert internal_ip_for(a) != internal_ip_for(b)
    for i in (a, b):   # the fake node IPs lie below every pod CIDR (10.244.0.0 - 10.255.255.255)
        assert ipaddress.ip_address(internal_ip_for(i)) < ipaddress.ip_address("10.244.0.0")


def test_desired_node_is_a_registered_ready_kubelet():
    node = desired_node(node_identity("hollow-", 3), SHAPE, T0)
    assert node.metadata.name == "hollow-3"
    assert dict(node.metadata.labels) == {
        "beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
        "kubernetes.io/os": "linux", "kubernetes.io/hostname": "hollow-3", "zone": "z1"}
    assert (node.spec.pod_cidr, list(node.spec.pod_cidrs), node.spec.provider_id) == \
        ("10.244.3.0/24", ["10.244.3.0/24"], "hollow://hollow-3")
    st_ = node.status
    want = {"cpu": "2", "memory": "4Gi", "pods": "50", "ephemeral-storage": "100Gi"}
    assert {k: q.value for k, q in st_.capacity.items()} == want == {k: q.value for k, q in st_.allocatable.items()}
    stamp = format_time(T0)
    assert [(c.type, c.status, c.reason, c.last_heartbeat_time, c.last_transition_time) for c in st_.conditions] == [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory", stamp, stamp),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", stamp, stamp),
        ("PIDPressure", "False", "KubeletHasSufficientPID", stamp, stamp),
        ("Ready", "True", "KubeletReady", stamp, stamp)]
    assert st_.conditions[3].message == "kubelet is posting ready status"
    assert [(a.type, a.address) for a in st_.addresses] == [("InternalIP", "10.240.0.4"), ("Hostname", "hollow-3")]
    info = st_.node_info
    assert (info.kubelet_version, info.os_image, info.container_runtime_version, info.kernel_version,
            info.operating_system, info.architecture) == \
        ("v1.20.0-skiff", "Skiff hollow node", "hollow://0.1", "6.1.0", "linux", "amd64")
    assert info.machine_id and info.boot_id and info.system_uuid
    assert st_.daemon_endpoints.kubelet_endpoint.port == 10250


def test_node_labels_cannot_rename_the_host():
    ident = node_identity("h-", 0)
    labels = node_labels(ident, NodeShape(labels=(("kubernetes.io/hostname", "x"), ("kubernetes.io/os", "plan9"))))
    assert labels["kubernetes.io/hostname"] == "h-0" and labels["kubernetes.io/os"] == "plan9"


def test_status_keeps_transition_times_and_conditions_of_others():
    ident = node_identity("hollow-", 0)
    first = node_status(ident, SHAPE, None, T0)
    current = core_pb2.NodeStatus()
    current.CopyFrom(first)
    ready = next(c for c in current.conditions if c.type == "Ready")
    ready.status, ready.reason = "Unknown", "NodeStatusUnknown"          # the node lifecycle controller's mark
    current.conditions.add(type="NetworkUnavailable", status="False", reason="RouteCreated")
    later = node_status(ident, SHAPE, current, T0 + 60)
    by_type = {c.type: c for c in later.conditions}
    assert by_type["Ready"].status == "True" and by_type["Ready"].last_transition_time == format_time(T0 + 60)
    assert by_type["DiskPressure"].last_transition_time == format_time(T0)       # unchanged: kept
    assert by_type["DiskPressure"].last_heartbeat_time == format_time(T0 + 60)
    assert by_type["NetworkUnavailable"].reason == "RouteCreated"


@pytest.mark.parametrize("change, last_report, now, want", [
    pytest.param(None, T0, T0 + 10, False, id="unchanged-recent"),
    pytest.param(None, T0, T0 + 300, True, id="report-frequency-passed"),
    pytest.param(None, None, T0 + 1, True, id="never-posted-in-this-life"),
    pytest.param("ready-unknown", T0, T0 + 1, True, id="someone-changed-ready"),
    pytest.param("capacity", T0, T0 + 1, True, id="capacity-changed"),
])
def test_needs_status_post(change, last_report, now, want):
    ident = node_identity("hollow-", 0)
    current = node_status(ident, SHAPE, None, T0)
    if change == "ready-unknown":
        next(c for c in current.conditions if c.type == "Ready").status = "Unknown"
    elif change == "capacity":
        current.capacity["cpu"].value = "8"
    desired = node_status(ident, SHAPE, current, now)
    assert needs_status_post(current, desired, last_report, now, 300) is want


def test_merge_registration_keeps_the_clusters_spec():
    ident = node_identity("hollow-", 1)
    existing = desired_node(ident, SHAPE, T0)
    existing.metadata.resource_version = "7"
    assert merge_registration(existing, ident, SHAPE) is None            # nothing to change
    existing.spec.unschedulable = True                                    # cordoned
    existing.spec.taints.add(key="k", value="v", effect="NoSchedule")
    del existing.metadata.labels["kubernetes.io/os"]
    merged = merge_registration(existing, ident, SHAPE)
    assert merged.spec.unschedulable and [t.key for t in merged.spec.taints] == ["k"]
    assert merged.metadata.labels["kubernetes.io/os"] == "linux" and merged.metadata.resource_version == "7"


def test_an_existing_pod_cidr_is_kept_and_used():
    ident = node_identity("hollow-", 1)
    existing = desired_node(ident, SHAPE, T0)
    existing.spec.pod_cidr = "10.99.0.0/24"
    del existing.spec.pod_cidrs[:]
    existing.spec.pod_cidrs.append("10.99.0.0/24")
    assert merge_registration(existing, ident, SHAPE) is None
    assert node_pod_cidr(existing, ident) == "10.99.0.0/24"
    blank = core_pb2.Node()
    merged = merge_registration(blank, ident, SHAPE)
    assert merged.spec.pod_cidr == "10.244.1.0/24" and node_pod_cidr(merged, ident) == "10.244.1.0/24"


def test_lease_created_owned_by_the_node_and_renewed():
    lease = new_lease("hollow-2", "uid-2", 40, T0 + 0.25)
    assert (lease.metadata.name, lease.metadata.namespace) == ("hollow-2", LEASE_NAMESPACE)
    assert (lease.spec.holder_identity, lease.spec.lease_duration_seconds) == ("hollow-2", 40)
    assert parse_micro_time(lease.spec.renew_time) == pytest.approx(T0 + 0.25, abs=1e-6)
    assert [(r.api_version, r.kind, r.name, r.uid) for r in lease.metadata.owner_references] == \
        [("v1", "Node", "hollow-2", "uid-2")]
    lease.metadata.resource_version = "41"
    again = renewed_lease(lease, "hollow-2", "uid-2", 40, T0 + 10)
    assert again.metadata.resource_version == "41"                        # the update is guarded by it
    assert parse_micro_time(again.spec.renew_time) == pytest.approx(T0 + 10, abs=1e-6)
    assert lease.spec.renew_time != again.spec.renew_time                 # the input is not mutated
    reowned = renewed_lease(lease, "hollow-2", "uid-NEW", 40, T0 + 10)   # the Node was re-created
    assert [r.uid for r in reowned.metadata.owner_references] == ["uid-NEW"]
    assert not new_lease("n", "", 40, T0).metadata.owner_references
