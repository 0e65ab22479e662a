"""Nodes and pods for the scheduler's unit tests, built short: `make_node("n1", cpu="2")`,
`make_pod("web-1", cpu="500m", owner="rs-1")`. Shared by test_algorithm.py and test_scheduler_snapshot.py."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from google.protobuf import json_format

from skiffpb.k8s.core.v1 import core_pb2

Requests = tuple[str | None, str | None]        # (cpu, memory); None leaves the request out


def make_node(name: str, *, cpu: str | None = "4", memory: str | None = "8Gi", pods: str | None = "110",
              ready: str | None = "True", unschedulable: bool = False,
              labels: Mapping[str, str] | None = None,
              taints: Iterable[tuple[str, str, str]] = (),
              other: Mapping[str, str] | None = None, in_capacity: bool = False) -> core_pb2.Node:
    """A node offering cpu/memory/pods (in status.allocatable, or status.capacity only when
    `in_capacity`), with a Ready condition of that status (None: no condition), taints as
    (key, value, effect)."""
    node = core_pb2.Node()
    node.metadata.name = name
    node.metadata.labels.update({"kubernetes.io/hostname": name, **(labels or {})})
    if unschedulable:
        node.spec.unschedulable = True
    for key, value, effect in taints:
        node.spec.taints.add(key=key, value=value, effect=effect)
    offered = node.status.capacity if in_capacity else node.status.allocatable
    for resource, amount in {"cpu": cpu, "memory": memory, "pods": pods, **(other or {})}.items():
        if amount is not None:
            offered[resource].value = amount
    if ready is not None:
        node.status.conditions.add(type="Ready", status=ready)
    return node


def make_pod(name: str = "p", *, namespace: str = "default", cpu: str | None = None,
             memory: str | None = None, containers: Sequence[Requests] | None = None,
             init: Sequence[Requests] = (), overhead: Mapping[str, str] | None = None,
             other: Mapping[str, str] | None = None,
             node_name: str | None = None, phase: str | None = None,
             node_selector: Mapping[str, str] | None = None,
             affinity: Sequence[Mapping] | None = None,
             tolerations: Iterable[Mapping[str, str]] = (),
             host_ports: Iterable[tuple[str, str, int]] = (), init_host_ports: Iterable[int] = (),
             owner: str | None = None, terminating: bool = False) -> core_pb2.Pod:
    """A pod with one container requesting cpu/memory (or `containers`, each (cpu, memory)),
    init containers, overhead; `affinity` is the list of required nodeSelectorTerms as Kubernetes'
    JSON writes them; host ports as (hostIP, protocol, hostPort) on the first container; `owner` is
    the uid of a controller ownerReference."""
    pod = core_pb2.Pod()
    pod.metadata.name = name
    pod.metadata.namespace = namespace
    for cpu_req, mem_req in containers if containers is not None else [(cpu, memory)]:
        _container(pod.spec.containers.add(name=f"c{len(pod.spec.containers)}"), cpu_req, mem_req)
    for resource, amount in (other or {}).items():
        pod.spec.containers[0].resources.requests[resource].value = amount
    for cpu_req, mem_req in init:
        _container(pod.spec.init_containers.add(name=f"i{len(pod.spec.init_containers)}"), cpu_req, mem_req)
    for resource, amount in (overhead or {}).items():
        pod.spec.overhead[resource].value = amount
    for host_ip, protocol, port in host_ports:
        pod.spec.containers[0].ports.add(host_ip=host_ip, protocol=protocol, host_port=port,
                                         container_port=port)
    for port in init_host_ports:
        pod.spec.init_containers[0].ports.add(host_port=port, container_port=port)
    if node_name is not None:
        pod.spec.node_name = node_name
    if phase is not None:
        pod.status.phase = phase
    pod.spec.node_selector.update(node_selector or {})
    if affinity is not None:
        required = pod.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
        json_format.ParseDict({"nodeSelectorTerms": list(affinity)}, required)
    for tol in tolerations:
        pod.spec.tolerations.add(**tol)
    if owner is not None:
        pod.metadata.owner_references.add(api_version="apps/v1", kind="ReplicaSet", name=owner,
                                          uid=owner, controller=True)
    if terminating:
        pod.metadata.deletion_timestamp = "2026-01-01T00:00:00Z"
    return pod


def _container(container: core_pb2.Container, cpu: str | None, memory: str | None) -> None:
    if cpu is not None:
        container.resources.requests["cpu"].value = cpu
    if memory is not None:
        container.resources.requests["memory"].value = memory
