"""The apiserver's per-kind strategy: Kubernetes' rules for what a create, an update and a status
update do to an object before it is stored. Pure (no I/O, no clock, no randomness: `now`, `uid`
and `rng` come in as parameters), so the service's handlers stay thin and these rules are unit
tested in microseconds.

The service calls, in Kubernetes' order (k8s.io/apiserver registry/rest BeforeCreate/BeforeUpdate):

    create:  default(kind, obj)                       # apiserver/defaults.py
             metadata.namespace "default" if namespaced and empty; name from generate_name(...)
             prepare_create(kind, obj, now=..., uid=...)
             errs = validate(kind, obj)               # apiserver/validation.py
    update:  default(kind, new)
             prepare_update(kind, new, old)
             errs = validate(kind, new, old)
    status:  prepare_status_update(kind, new, old)
             errs = validate(kind, new, old)

and answers a non-empty `errs` with errors.invalid(kind.kind, kind.group, name, errs). Graceful
deletion (setting deletionTimestamp) and binding (setting a pod's spec.nodeName) are the
service's own writes: Kubernetes does them outside ValidateUpdate, and so must Skiff, since
`validate` refuses both as an ordinary update would.

Where Kubernetes and this module's brief differ, Kubernetes wins and the docstrings say so.
"""
from __future__ import annotations

import random
from typing import Callable

from apiserver.defaults import default
from client.quantity import qos_class as pod_qos_class
from apiserver.validation import validate
from client.kinds import Kind

__all__ = ["default", "validate", "prepare_create", "prepare_update", "prepare_status_update", "field_labels",
           "generate_name", "pod_qos_class"]

# Kubernetes' names.SimpleNameGenerator: at most 58 characters of prefix, then 5 random ones.
MAX_GENERATED_PREFIX = 58
RANDOM_SUFFIX_LENGTH = 5
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

# Kinds whose generation follows the whole object (they have no spec), not just spec.
_WHOLE_OBJECT_KINDS = frozenset({"ConfigMap", "Endpoints", "Lease", "Event"})


def generate_name(base: str, rng: random.Random) -> str:
    """A name for `metadata.generateName: base`: the prefix (cut to 58) and 5 random characters."""
    return base[:MAX_GENERATED_PREFIX] + "".join(rng.choice(NAME_ALPHABET) for _ in range(RANDOM_SUFFIX_LENGTH))


# --- create ---------------------------------------------------------------------------------------

def prepare_create(kind: Kind, obj, *, now: str, uid: str) -> None:
    """What the server sets on a new object: identity, timestamps, generation 1, initial status.

    Clears what a client may not set (deletionTimestamp, deletionGracePeriodSeconds,
    resourceVersion, selfLink). Status: a Pod starts Pending with its QoS class, a Namespace
    Active (and gains the `kubernetes` finalizer, as in Kubernetes' namespace strategy);
    Deployments, ReplicaSets, Services and Ingresses start with no status; a Node keeps the
    status its kubelet registers with.
    """
    meta = obj.metadata
    for field in ("deletion_timestamp", "deletion_grace_period_seconds", "resource_version", "self_link"):
        meta.ClearField(field)
    meta.uid = uid
    meta.creation_timestamp = now
    meta.generation = 1
    k = kind.kind
    if k == "Pod":
        obj.ClearField("status")
        obj.status.phase = "Pending"
        obj.status.qos_class = pod_qos_class(obj.spec)
    elif k == "Namespace":
        obj.ClearField("status")
        obj.status.phase = "Active"
        if "kubernetes" not in obj.spec.finalizers:
            obj.spec.finalizers.append("kubernetes")
    elif k in ("Deployment", "ReplicaSet", "Service", "Ingress"):
        obj.ClearField("status")


# --- update ---------------------------------------------------------------------------------------

def prepare_update(kind: Kind, new, old) -> None:
    """What an update may not change, restored from `old`; then generation moves iff spec did.

    Kept from `old`: status (the status subresource owns it), creationTimestamp, generation,
    deletionTimestamp (an update can neither set nor clear it), deletionGracePeriodSeconds when
    the update leaves it out, uid when the update leaves it out (a different uid stays, for
    validate to refuse, as in Kubernetes). A Namespace's spec.finalizers (only its finalize
    subresource changes them). A Service update that leaves spec.clusterIP (or clusterIPs, or a
    port's nodePort, matched by port name) empty keeps the allocated one; one that changes the
    type drops the old type's unchanged clusterIP, nodePorts and externalTrafficPolicy (for the
    service's allocator to release).

    generation = old + 1 when spec changed (a Deployment's annotations count too, as Kubernetes
    copies them to its ReplicaSets); for ConfigMap, Endpoints, Lease and Event, which have no
    spec, when anything but metadata changed.
    """
    nm, om = new.metadata, old.metadata
    _copy_field(om, nm, "creation_timestamp")
    _copy_field(om, nm, "generation")
    if not nm.uid:
        _copy_field(om, nm, "uid")
    if om.HasField("deletion_timestamp"):
        nm.deletion_timestamp = om.deletion_timestamp
    if om.HasField("deletion_grace_period_seconds") and not nm.HasField("deletion_grace_period_seconds"):
        nm.deletion_grace_period_seconds = om.deletion_grace_period_seconds
    nm.ClearField("self_link")
    if kind.has_status:
        _copy_field(old, new, "status")
    if kind.kind == "Namespace":
        del new.spec.finalizers[:]
        new.spec.finalizers.extend(old.spec.finalizers)
    elif kind.kind == "Service":
        _drop_type_dependent_fields(new.spec, old.spec)
        _keep_allocations(new.spec, old.spec)
    if _spec_changed(kind, new, old):
        nm.generation = om.generation + 1


def _copy_field(src, dst, field: str) -> None:
    """dst.field = src.field, absent if absent."""
    dst.ClearField(field)
    if src.HasField(field):
        value = getattr(src, field)
        if hasattr(value, "CopyFrom"):
            getattr(dst, field).CopyFrom(value)
        else:
            setattr(dst, field, value)


def _spec_changed(kind: Kind, new, old) -> bool:
    if kind.kind in _WHOLE_OBJECT_KINDS:
        a, b = type(new)(), type(old)()
        a.CopyFrom(new)
        b.CopyFrom(old)
        for m in (a, b):
            for field in ("metadata", "api_version", "kind"):
                m.ClearField(field)
        return a != b
    if new.spec != old.spec or new.HasField("spec") != old.HasField("spec"):
        return True
    return kind.kind == "Deployment" and dict(new.metadata.annotations) != dict(old.metadata.annotations)


def _needs_cluster_ip(spec) -> bool:
    return spec.type != "ExternalName"


def _needs_node_ports(spec) -> bool:
    return spec.type in ("NodePort", "LoadBalancer")


def _drop_type_dependent_fields(new, old) -> None:
    """Kubernetes' dropTypeDependentFields: a type change drops what the old type needed, unless
    the update also changed it (then validation answers). A client that reads a NodePort Service,
    sets `type: ClusterIP` and writes it back need not clear the nodePorts by hand."""
    if _needs_cluster_ip(old) and not _needs_cluster_ip(new):
        if new.cluster_ip == old.cluster_ip and list(new.cluster_ips) == list(old.cluster_ips):
            new.ClearField("cluster_ip")
            del new.cluster_ips[:]
        if list(new.ip_families) == list(old.ip_families):
            del new.ip_families[:]
        if new.ip_family_policy == old.ip_family_policy:
            new.ClearField("ip_family_policy")
    if _needs_node_ports(old) and not _needs_node_ports(new):
        if {p.node_port for p in new.ports if p.node_port} <= {p.node_port for p in old.ports if p.node_port}:
            for p in new.ports:
                p.ClearField("node_port")
        if new.external_traffic_policy == old.external_traffic_policy:
            new.ClearField("external_traffic_policy")
    if old.health_check_node_port and new.health_check_node_port == old.health_check_node_port and not (
            new.type == "LoadBalancer" and new.external_traffic_policy == "Local"):
        new.ClearField("health_check_node_port")


def _keep_allocations(new, old) -> None:
    """Kubernetes' patchAllocatedValues: an update need not repeat what the server allocated."""
    if _needs_cluster_ip(new) and _needs_cluster_ip(old):
        if not new.cluster_ip and old.HasField("cluster_ip"):
            new.cluster_ip = old.cluster_ip
        if not new.cluster_ips:
            new.cluster_ips.extend(old.cluster_ips)
    if _needs_node_ports(new) and _needs_node_ports(old):
        used = {p.node_port for p in old.ports if p.node_port} & {p.node_port for p in new.ports if p.node_port}
        by_name = {p.name: p.node_port for p in old.ports}
        for p in new.ports:
            if p.node_port == 0 and by_name.get(p.name, 0) and by_name[p.name] not in used:
                p.node_port = by_name[p.name]
        if (new.external_traffic_policy == "Local" and old.external_traffic_policy == "Local"
                and not new.health_check_node_port and old.health_check_node_port):
            new.health_check_node_port = old.health_check_node_port


STATUS_WRITES_ANNOTATIONS = ("deployments", "replicasets")


def prepare_status_update(kind: Kind, new, old) -> None:
    """A status-subresource write: everything of `old` but the status of `new`.

    spec and metadata come from `old` (so a status writer never clobbers a spec writer, and
    generation does not move); the request's resourceVersion is kept for the service's
    optimistic-concurrency check. As in Kubernetes, a status write to a Deployment or ReplicaSet
    may also set annotations: the deployment controller records `deployment.kubernetes.io/revision`
    that way without moving generation (a spec update would, annotations being part of what a
    Deployment copies to its ReplicaSets).
    """
    if not kind.has_status:
        raise ValueError(f"{kind.group_resource} has no status subresource")
    status = type(new.status)()
    status.CopyFrom(new.status)
    has_status = new.HasField("status")
    rv = new.metadata.resource_version if new.metadata.HasField("resource_version") else None
    annotations = dict(new.metadata.annotations) if kind.resource in STATUS_WRITES_ANNOTATIONS else None
    new.CopyFrom(old)
    if annotations is not None:
        new.metadata.ClearField("annotations")
        new.metadata.annotations.update(annotations)
    new.ClearField("status")
    if has_status:
        new.status.CopyFrom(status)
    if rv is not None:
        new.metadata.resource_version = rv


# --- field selectors ------------------------------------------------------------------------------

FieldGetter = Callable[[object], str]


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _pod_ip(pod) -> str:
    return pod.status.pod_ips[0].ip if pod.status.pod_ips else pod.status.pod_ip


_FIELD_LABELS: dict[str, dict[str, FieldGetter]] = {
    "Pod": {
        "spec.nodeName": lambda o: o.spec.node_name,
        "spec.restartPolicy": lambda o: o.spec.restart_policy,
        "spec.schedulerName": lambda o: o.spec.scheduler_name,
        "spec.serviceAccountName": lambda o: o.spec.service_account_name,
        "status.phase": lambda o: o.status.phase,
        "status.podIP": _pod_ip,
        "status.nominatedNodeName": lambda o: o.status.nominated_node_name,
    },
    "Event": {
        "involvedObject.kind": lambda o: o.involved_object.kind,
        "involvedObject.namespace": lambda o: o.involved_object.namespace,
        "involvedObject.name": lambda o: o.involved_object.name,
        "involvedObject.uid": lambda o: o.involved_object.uid,
        "involvedObject.apiVersion": lambda o: o.involved_object.api_version,
        "involvedObject.resourceVersion": lambda o: o.involved_object.resource_version,
        "involvedObject.fieldPath": lambda o: o.involved_object.field_path,
        "reason": lambda o: o.reason,
        "reportingComponent": lambda o: o.reporting_component,
        "source": lambda o: o.source.component or o.reporting_component,
        "type": lambda o: o.type,
    },
    "Node": {"spec.unschedulable": lambda o: _bool(o.spec.unschedulable)},
    "Namespace": {"status.phase": lambda o: o.status.phase},
    "ReplicaSet": {"status.replicas": lambda o: str(o.status.replicas)},
}


def field_labels(kind: Kind) -> dict[str, FieldGetter]:
    """The fields a field selector may name for `kind`, each with its value's string form.

    As in Kubernetes, metadata.namespace only for namespaced kinds (a Node has no namespace to
    select on; Kubernetes answers `field label not supported`).
    """
    out: dict[str, FieldGetter] = {"metadata.name": lambda o: o.metadata.name}
    if kind.namespaced:
        out["metadata.namespace"] = lambda o: o.metadata.namespace
    out.update(_FIELD_LABELS.get(kind.kind, {}))
    return out
