"""pods/binding's rules, shared by the apiserver and the fake API so they cannot drift. Pure.

    why = refusal(pod, binding)     # None, or why the pod cannot be bound (a Conflict's message)
    assign(pod, binding.target.name, now="2026-11-26T04:00:00Z")   # nodeName + PodScheduled=True
"""
from __future__ import annotations

from google.protobuf.message import Message

from skiffpb.k8s.core.v1 import core_pb2


def make(namespace: str, name: str, node: str, uid: str = "") -> core_pb2.Binding:
    """The Binding a scheduler sends: pod `namespace/name` (and, as a precondition, its `uid`) to `node`."""
    b = core_pb2.Binding(api_version="v1", kind="Binding")
    b.metadata.namespace, b.metadata.name = namespace, name
    if uid:
        b.metadata.uid = uid
    b.target.kind, b.target.name = "Node", node
    return b


def problems(binding: core_pb2.Binding) -> list[tuple[str, str]]:
    """Validation: (field path, detail) for each thing wrong with the Binding itself."""
    out = []
    if not binding.metadata.name:
        out.append(("metadata.name", "Required value: name or generateName is required"))
    if not binding.target.name:
        out.append(("target.name", "Required value"))
    if binding.target.kind not in ("", "Node"):
        out.append(("target.kind", f"Invalid value: \"{binding.target.kind}\": must be empty or 'Node'"))
    return out


def refusal(pod: Message, binding: core_pb2.Binding) -> str | None:
    """Why `pod` cannot take `binding` (Kubernetes' texts), or None."""
    name = pod.metadata.name
    if binding.metadata.uid and binding.metadata.uid != pod.metadata.uid:
        return (f"Precondition failed: UID in precondition: {binding.metadata.uid}, UID in object meta: "
                f"{pod.metadata.uid}")
    if pod.metadata.HasField("deletion_timestamp"):
        return f"pod {name} is being deleted, cannot be assigned to a host"
    if pod.spec.node_name:
        return f'pod {name} is already assigned to node "{pod.spec.node_name}"'
    return None


def conflict_message(name: str, why: str) -> str:
    return f'Operation cannot be fulfilled on pods/binding "{name}": {why}'


def assign(pod: Message, node: str, now: str) -> None:
    """Binds `pod` (in place) to `node` and sets its PodScheduled condition True."""
    pod.spec.node_name = node
    for c in pod.status.conditions:
        if c.type == "PodScheduled":
            break
    else:
        c = pod.status.conditions.add(type="PodScheduled")
    if c.status != "True":
        c.last_transition_time = now
    c.status = "True"
    c.ClearField("reason")
    c.ClearField("message")
