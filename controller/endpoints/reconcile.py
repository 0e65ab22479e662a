"""The endpoints controller's pure core: a Service and the pods of its namespace -> its Endpoints.

    want = desired_endpoints(svc, pods, current)   # None: `current` is already right
    subsets = endpoint_subsets(svc, pods)          # what Kubernetes' syncService computes
    repack_subsets(subsets)                        # Kubernetes' endpoints.RepackSubsets

As Kubernetes' endpoints controller (pkg/controller/endpoint/endpoints_controller.go, syncService):
- only pods matching the Service's selector, with a podIP and not terminating (unless the Service
  publishes not-ready addresses) are endpoints;
- a ready pod (condition Ready=True) is an address; a pod that is not ready is a notReadyAddress
  unless it will never run again (restartPolicy Never and Succeeded/Failed, OnFailure and
  Succeeded); `publishNotReadyAddresses` makes every such pod ready;
- each service port's targetPort resolves per pod: a number as is, a name through the pod's
  container ports of that name and protocol; a pod lacking the named port is left out of that
  port's subset only; a Service with no ports lists its addresses with no ports;
- the (address, port) pairs are regrouped into the fewest subsets: addresses that offer the same
  set of ports share a subset (RepackSubsets); an address that is ready for a port in one place and
  not ready in another counts as ready;
- the Endpoints carries the Service's labels (plus `service.kubernetes.io/headless` for a
  headless Service).

Where Skiff differs, on purpose: subsets, and the ports inside each, are ordered by their content
(addresses by IP then pod uid; ports by name, number, protocol), where Kubernetes orders by a hash
of Go's printout: same grouping, stable but different order. The target reference carries no
resourceVersion (as Kubernetes since 1.22), so a pod's status writes do not churn its Endpoints.
No `last-change-trigger-time` annotation. Pure: no I/O, no clock.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from client.selectors import selector_from_set
from skiffpb.k8s.core.v1 import core_pb2

__all__ = ["HEADLESS_LABEL", "desired_endpoints", "endpoint_address", "endpoint_subsets", "find_port",
           "is_pod_ready", "repack_subsets", "should_be_in_endpoints", "subsets_equal"]

HEADLESS_LABEL = "service.kubernetes.io/headless"


def is_pod_ready(pod: core_pb2.Pod) -> bool:
    """The pod's Ready condition is True (Kubernetes' podutil.IsPodReady)."""
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)


def should_be_in_endpoints(pod: core_pb2.Pod) -> bool:
    """False for a pod that has finished for good, which Kubernetes leaves out even as not ready."""
    policy, phase = pod.spec.restart_policy or "Always", pod.status.phase
    if policy == "Never":
        return phase not in ("Failed", "Succeeded")
    if policy == "OnFailure":
        return phase != "Succeeded"
    return True


def find_port(pod: core_pb2.Pod, port: core_pb2.ServicePort) -> int | None:
    """The container port `port.targetPort` means in `pod`, or None (podutil.FindPort)."""
    tp = port.target_port
    which = tp.WhichOneof("value")
    if which == "str_val" and tp.str_val:
        protocol = port.protocol or "TCP"
        for c in pod.spec.containers:
            for cp in c.ports:
                if cp.name == tp.str_val and (cp.protocol or "TCP") == protocol:
                    return cp.container_port
        return None
    if which == "int_val" and tp.int_val:
        return int(tp.int_val)
    return port.port or None        # unset targetPort: the apiserver defaults it to port


def endpoint_address(pod: core_pb2.Pod, svc: core_pb2.Service) -> core_pb2.EndpointAddress:
    """The pod as an address of `svc`: its IP, node and a reference back to it."""
    a = core_pb2.EndpointAddress(ip=pod.status.pod_ip)
    if pod.spec.node_name:
        a.node_name = pod.spec.node_name
    if pod.spec.hostname and pod.spec.subdomain == svc.metadata.name \
            and pod.metadata.namespace == svc.metadata.namespace:
        a.hostname = pod.spec.hostname
    a.target_ref.kind = "Pod"
    a.target_ref.namespace = pod.metadata.namespace
    a.target_ref.name = pod.metadata.name
    a.target_ref.uid = pod.metadata.uid
    return a


def _endpoint_port(sp: core_pb2.ServicePort, number: int) -> core_pb2.EndpointPort:
    p = core_pb2.EndpointPort(port=number, protocol=sp.protocol or "TCP")
    if sp.name:
        p.name = sp.name
    if sp.app_protocol:
        p.app_protocol = sp.app_protocol
    return p


def _tolerates_unready(svc: core_pb2.Service) -> bool:
    return svc.spec.publish_not_ready_addresses or \
        svc.metadata.annotations.get("service.alpha.kubernetes.io/tolerate-unready-endpoints") == "true"


def endpoint_subsets(svc: core_pb2.Service, pods: Iterable[core_pb2.Pod]) -> list[core_pb2.EndpointSubset]:
    """The repacked subsets of `svc` over `pods` (any pods: those of other namespaces or not
    matching the selector are skipped here)."""
    selector = selector_from_set(dict(svc.spec.selector))
    tolerate = _tolerates_unready(svc)
    raw: list[core_pb2.EndpointSubset] = []
    for pod in pods:
        if pod.metadata.namespace != svc.metadata.namespace or not selector.matches(pod.metadata.labels):
            continue
        if not pod.status.pod_ip:
            continue
        if not tolerate and pod.metadata.HasField("deletion_timestamp"):
            continue
        if tolerate or is_pod_ready(pod):
            ready = True
        elif should_be_in_endpoints(pod):
            ready = False
        else:
            continue
        addr = endpoint_address(pod, svc)
        if not svc.spec.ports:
            if svc.spec.cluster_ip == "None":       # headless and portless: addresses only
                raw.append(_subset(addr, None, ready))
            continue
        for sp in svc.spec.ports:
            number = find_port(pod, sp)
            if number is None:
                continue                            # this pod lacks the named port: not in this port's subset
            raw.append(_subset(addr, _endpoint_port(sp, number), ready))
    return repack_subsets(raw)


def _subset(addr: core_pb2.EndpointAddress, port: core_pb2.EndpointPort | None,
            ready: bool) -> core_pb2.EndpointSubset:
    ss = core_pb2.EndpointSubset()
    (ss.addresses if ready else ss.not_ready_addresses).append(addr)
    if port is not None:
        ss.ports.append(port)
    return ss


class _PortKey(NamedTuple):
    name: str
    port: int
    protocol: str
    app_protocol: str


_SENTINEL = _PortKey("", -1, "", "")      # "no ports": keeps portless addresses (Kubernetes' Port: -1)


def _port_key(p: core_pb2.EndpointPort) -> _PortKey:
    return _PortKey(p.name, p.port, p.protocol or "TCP", p.app_protocol)


def _address_key(a: core_pb2.EndpointAddress) -> tuple[str, str]:
    return a.ip, a.target_ref.uid


def repack_subsets(subsets: Sequence[core_pb2.EndpointSubset]) -> list[core_pb2.EndpointSubset]:
    """The fewest subsets expressing the same (address, port, ready) facts: addresses offering the
    same ports (with the same readiness) share a subset. Sorted by content."""
    addresses: dict[tuple[str, str], core_pb2.EndpointAddress] = {}
    ports: dict[_PortKey, core_pb2.EndpointPort] = {}
    by_port: dict[_PortKey, dict[tuple[str, str], bool]] = {}

    def note(addr: core_pb2.EndpointAddress, pk: _PortKey, ready: bool) -> None:
        key = _address_key(addr)
        addresses.setdefault(key, addr)
        seen = by_port.setdefault(pk, {})
        if not seen.get(key, False):                 # ready anywhere wins
            seen[key] = ready

    for ss in subsets:
        keys = []
        for p in ss.ports:
            pk = _port_key(p)
            ports.setdefault(pk, p)
            keys.append(pk)
        for pk in keys or [_SENTINEL]:
            for a in ss.addresses:
                note(a, pk, True)
            for a in ss.not_ready_addresses:
                note(a, pk, False)
    groups: dict[frozenset, list[_PortKey]] = {}
    for pk, seen in by_port.items():
        groups.setdefault(frozenset(seen.items()), []).append(pk)
    out = []
    for members, pks in groups.items():
        ss = core_pb2.EndpointSubset()
        for key, ready in sorted(members):
            (ss.addresses if ready else ss.not_ready_addresses).append(addresses[key])
        for pk in sorted(k for k in pks if k != _SENTINEL):
            ss.ports.append(ports[pk])
        out.append(ss)
    out.sort(key=_subset_order)
    return out


def _subset_order(ss: core_pb2.EndpointSubset) -> tuple:
    return ([_address_key(a) for a in ss.addresses], [_address_key(a) for a in ss.not_ready_addresses],
            [_port_key(p) for p in ss.ports])


def _canonical(subsets: Iterable[core_pb2.EndpointSubset]) -> list:
    """A presence-insensitive form of subsets, for "did anything change" (an empty string sent
    and an absent field read back alike)."""
    def addr(a: core_pb2.EndpointAddress) -> tuple:
        r = a.target_ref
        return a.ip, a.hostname, a.node_name, r.kind, r.namespace, r.name, r.uid
    return [([addr(a) for a in ss.addresses], [addr(a) for a in ss.not_ready_addresses],
             [_port_key(p) for p in ss.ports]) for ss in subsets]


def subsets_equal(a: Iterable[core_pb2.EndpointSubset], b: Iterable[core_pb2.EndpointSubset]) -> bool:
    return _canonical(a) == _canonical(b)


def _labels(svc: core_pb2.Service) -> dict[str, str]:
    labels = dict(svc.metadata.labels)
    if svc.spec.cluster_ip == "None":
        labels[HEADLESS_LABEL] = ""
    else:
        labels.pop(HEADLESS_LABEL, None)
    return labels


def desired_endpoints(svc: core_pb2.Service, pods: Iterable[core_pb2.Pod],
                      current: core_pb2.Endpoints | None) -> core_pb2.Endpoints | None:
    """The Endpoints `svc` should have, or None when `current` already is that (update only on
    change). A new object has no resourceVersion; an update is a copy of `current` (its
    resourceVersion guards the write). NEVER mutates `current`."""
    subsets = endpoint_subsets(svc, pods)
    labels = _labels(svc)
    if current is not None and subsets_equal(current.subsets, subsets) \
            and dict(current.metadata.labels) == labels:
        return None
    if current is None:
        new = core_pb2.Endpoints(api_version="v1", kind="Endpoints")
        new.metadata.name, new.metadata.namespace = svc.metadata.name, svc.metadata.namespace
    else:
        new = core_pb2.Endpoints()
        new.CopyFrom(current)
        new.ClearField("subsets")
    new.metadata.ClearField("labels")
    new.metadata.labels.update(labels)
    new.subsets.extend(subsets)
    return new
