"""Per-kind validation as Kubernetes does it, with Kubernetes' field paths and messages.

    errs = validate(kind, obj)            # a create: [] when the object is fine
    errs = validate(kind, new, old)       # an update: also immutable fields and update rules

Each error is a `(path, message)` pair in Kubernetes' words (apiserver/fielderrors), e.g.
`("spec.replicas", "Invalid value: -1: must be greater than or equal to 0")`; the service turns a
non-empty list into a 422 Invalid with errors.invalid(...).

`validate` expects an object that has been through `default` and `prepare_create`/`prepare_update`
(apiserver/strategy.py), as Kubernetes validates only after defaulting: a missing `restartPolicy`
is defaulted, never reported. Pod specs are validated in apiserver/podvalidation.py, metadata and
label selectors in apiserver/metavalidation.py.

Where Kubernetes prints an unreproducible Go value (a pointer address, a struct holding one), Skiff
names the field more precisely instead; the module docstrings of the validators say where.
Pure: no I/O.
"""
from __future__ import annotations

from typing import Callable

from apiserver import names
from apiserver.fielderrors import (FieldErrors, GoRepr, child, duplicate, forbidden, go_int_or_string, go_quote,
                                   immutable, index, invalid, key, not_supported, required, too_long)
from apiserver.metavalidation import (go_label_selector, selector_is_convertible, selector_is_empty, selector_matches,
                                      validate_finalizer_name, validate_label_name, validate_label_selector,
                                      validate_labels, validate_nonnegative, validate_object_meta,
                                      validate_object_meta_update)
from apiserver.podvalidation import PORT_PROTOCOLS, validate_pod_spec, validate_pod_spec_update, validate_pod_template
from apiserver.schedulingvalidation import validate_taint_effect
from client.kinds import Kind

MAX_CONFIG_MAP_BYTES = 1024 * 1024
KUBELET_PORT = 10250
NODE_PORT_RANGE = (30000, 32767)
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
SESSION_AFFINITIES = ("ClientIP", "None")
MAX_CLIENT_IP_AFFINITY_SECONDS = 86400
INGRESS_PATH_TYPES = ("Exact", "Prefix", "ImplementationSpecific")
INVALID_PATH_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
INVALID_PATH_SUFFIXES = ("/..", "/.")


def validate(kind: Kind, obj, old=None) -> FieldErrors:
    """All that is wrong with `obj` (a create) or with `obj` replacing `old` (an update)."""
    name_fn = _NAME_FNS.get(kind.kind, names.name_is_dns_subdomain)
    errs: FieldErrors = []
    if old is not None:
        errs += validate_object_meta_update(obj.metadata, old.metadata)
    errs += validate_object_meta(obj.metadata, namespaced=kind.namespaced, name_fn=name_fn,
                                 identity=old is None or obj.metadata.name == old.metadata.name)
    create, update = _VALIDATORS[kind.kind]
    errs += create(obj)
    if old is not None and update is not None:
        errs += update(obj, old)
    return errs


_NAME_FNS: dict[str, Callable[[str, bool], list[str]]] = {
    "Namespace": names.name_is_dns_label,
    "Service": names.name_is_dns1035_label,
}


# --- Namespace, Node ------------------------------------------------------------------------------

def _namespace(ns) -> FieldErrors:
    errs: FieldErrors = []
    for f in ns.spec.finalizers:
        errs += validate_finalizer_name(f, "spec.finalizers")
    return errs


def _go_taint(t) -> GoRepr:
    return GoRepr(f"core.Taint{{Key:{go_quote(t.key)}, Value:{go_quote(t.value)}, Effect:{go_quote(t.effect)}, "
                  "TimeAdded:(*v1.Time)(nil)}")


def _node(node) -> FieldErrors:
    errs: FieldErrors = []
    spec = node.spec
    cidrs = list(spec.pod_cidrs) or ([spec.pod_cidr] if spec.pod_cidr else [])
    if spec.pod_cidr and spec.pod_cidrs and spec.pod_cidrs[0] != spec.pod_cidr:
        errs.append(invalid("spec.podCIDRs", list(spec.pod_cidrs), "first value must match `spec.podCIDR`"))
    for i, cidr in enumerate(cidrs):
        if not names.is_valid_cidr(cidr):
            path = index("spec.podCIDRs", i) if spec.pod_cidrs else "spec.podCIDR"
            errs.append(invalid(path, cidr, "must be valid CIDR"))
    if len(cidrs) > 2 or (len(cidrs) == 2 and all(names.is_valid_cidr(c) for c in cidrs)
                          and (":" in cidrs[0]) == (":" in cidrs[1])):
        errs.append(invalid("spec.podCIDRs", cidrs, "may specify no more than one CIDR for each IP family"))
    seen: set[tuple[str, str]] = set()
    for i, t in enumerate(spec.taints):
        ipath = index("spec.taints", i)
        errs += validate_label_name(t.key, child(ipath, "key"))
        msgs = names.is_valid_label_value(t.value)
        if msgs:
            errs.append(invalid(child(ipath, "value"), t.value, ";".join(msgs)))
        errs += validate_taint_effect(t.effect, child(ipath, "effect"), allow_empty=False)
        if (t.key, t.effect) in seen:
            errs.append(duplicate(ipath, _go_taint(t), "taints must be unique by key and effect pair"))
            continue
        seen.add((t.key, t.effect))
    return errs


def _node_update(new, old) -> FieldErrors:
    errs: FieldErrors = []
    old_cidrs = list(old.spec.pod_cidrs) or ([old.spec.pod_cidr] if old.spec.pod_cidr else [])
    new_cidrs = list(new.spec.pod_cidrs) or ([new.spec.pod_cidr] if new.spec.pod_cidr else [])
    if old_cidrs and new_cidrs != old_cidrs:
        errs.append(forbidden("spec.podCIDRs", 'node updates may not change podCIDR except from "" to valid'))
    if old.spec.provider_id and new.spec.provider_id != old.spec.provider_id:
        errs.append(forbidden("spec.providerID", 'node updates may not change providerID except from "" to valid'))
    return errs


# --- Pod ------------------------------------------------------------------------------------------

def _pod(pod) -> FieldErrors:
    return validate_pod_spec(pod.spec, "spec")


def _pod_update(new, old) -> FieldErrors:
    return validate_pod_spec_update(new.spec, old.spec, "spec")


# --- Service --------------------------------------------------------------------------------------

def _is_headless(spec) -> bool:
    return spec.cluster_ip == "None" or (not spec.cluster_ip and bool(spec.cluster_ips) and spec.cluster_ips[0] == "None")


def _go_service_port_key(protocol: str, port: int) -> GoRepr:
    return GoRepr(f"core.ServicePort{{Name:\"\", Protocol:{go_quote(protocol)}, AppProtocol:(*string)(nil), "
                  f"Port:{port}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}")


def _service(svc) -> FieldErrors:
    errs: FieldErrors = []
    spec = svc.spec
    headless = _is_headless(spec)
    if not spec.ports and not headless and spec.type != "ExternalName":
        errs.append(required("spec.ports"))
    if spec.type == "LoadBalancer":
        for i, p in enumerate(spec.ports):
            if p.port == KUBELET_PORT:
                errs.append(invalid(index("spec.ports", i), p.port,
                                    f"may not expose port {KUBELET_PORT} externally since it is used by kubelet"))
    if spec.type in ("LoadBalancer", "NodePort") and headless:
        errs.append(invalid("spec.clusterIP", "None", f"may not be set to 'None' for {spec.type} services"))
    if spec.type == "ExternalName":
        if spec.cluster_ip:
            errs.append(forbidden("spec.clusterIP", "must be empty for ExternalName services"))
        cname = spec.external_name.removesuffix(".")
        if cname:
            errs += [invalid("spec.externalName", cname, m) for m in names.is_dns1123_subdomain(cname)]
        else:
            errs.append(required("spec.externalName"))
    port_names: set[str] = set()
    for i, p in enumerate(spec.ports):
        errs += _service_port(p, len(spec.ports) > 1, port_names, index("spec.ports", i))
    errs += validate_labels(spec.selector, "spec.selector")
    if not spec.session_affinity:
        errs.append(required("spec.sessionAffinity"))
    elif spec.session_affinity not in SESSION_AFFINITIES:
        errs.append(not_supported("spec.sessionAffinity", spec.session_affinity, SESSION_AFFINITIES))
    errs += _session_affinity_config(spec)
    if spec.cluster_ip not in ("", "None"):
        errs += [invalid("spec.clusterIP", spec.cluster_ip, m) for m in names.is_valid_ip(spec.cluster_ip)]
    for i, ip in enumerate(spec.cluster_ips):
        if i == 0 and ip == "None":
            if len(spec.cluster_ips) > 1:
                errs.append(invalid("spec.clusterIPs", list(spec.cluster_ips), "'None' must be the first and only value"))
            continue
        errs += [invalid(index("spec.clusterIPs", i), ip, m) for m in names.is_valid_ip(ip)]
    if spec.cluster_ip and spec.cluster_ips and spec.cluster_ips[0] != spec.cluster_ip:
        errs.append(invalid("spec.clusterIPs", list(spec.cluster_ips), "element [0] must match `spec.clusterIP`"))
    for i, ip in enumerate(spec.external_ips):
        errs += [invalid(index("spec.externalIPs", i), ip, m) for m in names.is_valid_ip(ip)]
    if not spec.type:
        errs.append(required("spec.type"))
    elif spec.type not in SERVICE_TYPES:
        errs.append(not_supported("spec.type", spec.type, SERVICE_TYPES))
    node_ports: set[tuple[str, int]] = set()
    ports: set[tuple[str, int]] = set()
    for i, p in enumerate(spec.ports):
        ppath = index("spec.ports", i)
        if p.node_port:
            if spec.type in ("ClusterIP", "ExternalName"):
                errs.append(forbidden(child(ppath, "nodePort"), f"may not be used when `type` is '{spec.type}'"))
            elif not NODE_PORT_RANGE[0] <= p.node_port <= NODE_PORT_RANGE[1]:
                errs.append(invalid(child(ppath, "nodePort"), p.node_port,
                                    "provided port is not in the valid range. The range of valid ports is "
                                    f"{NODE_PORT_RANGE[0]}-{NODE_PORT_RANGE[1]}"))
            if (p.protocol, p.node_port) in node_ports:
                errs.append(duplicate(child(ppath, "nodePort"), p.node_port))
            node_ports.add((p.protocol, p.node_port))
        if (p.protocol, p.port) in ports:
            errs.append(duplicate(ppath, _go_service_port_key(p.protocol, p.port)))
        ports.add((p.protocol, p.port))
    if spec.load_balancer_source_ranges:
        if spec.type != "LoadBalancer":
            errs.append(forbidden("spec.loadBalancerSourceRanges", "may only be used when `type` is 'LoadBalancer'"))
        for i, cidr in enumerate(spec.load_balancer_source_ranges):
            if not names.is_valid_cidr(cidr.strip()):
                errs.append(invalid(index("spec.loadBalancerSourceRanges", i), cidr,
                                    "must be a list of IP ranges. For example, 10.240.0.0/24,10.250.0.0/24 "))
    if spec.external_traffic_policy:
        if spec.external_traffic_policy not in ("Cluster", "Local"):
            errs.append(invalid("spec.externalTrafficPolicy", spec.external_traffic_policy,
                                "ExternalTrafficPolicy must be empty, Cluster or Local"))
        if spec.type not in ("NodePort", "LoadBalancer"):
            errs.append(invalid("spec.externalTrafficPolicy", spec.external_traffic_policy,
                                "ExternalTrafficPolicy can only be set on NodePort and LoadBalancer service"))
    if spec.health_check_node_port < 0:
        errs.append(invalid("spec.healthCheckNodePort", spec.health_check_node_port,
                            "HealthCheckNodePort must be not less than 0"))
    return errs


def _service_port(p, require_name: bool, seen: set[str], path: str) -> FieldErrors:
    errs: FieldErrors = []
    if require_name and not p.name:
        errs.append(required(child(path, "name")))
    elif p.name:
        errs += [invalid(child(path, "name"), p.name, m) for m in names.is_dns1123_label(p.name)]
        if p.name in seen:
            errs.append(duplicate(child(path, "name"), p.name))
        seen.add(p.name)
    errs += [invalid(child(path, "port"), p.port, m) for m in names.is_valid_port_num(p.port)]
    if not p.protocol:
        errs.append(required(child(path, "protocol")))
    elif p.protocol not in PORT_PROTOCOLS:
        errs.append(not_supported(child(path, "protocol"), p.protocol, PORT_PROTOCOLS))
    tp = p.target_port
    if tp.WhichOneof("value") == "str_val":
        errs += [invalid(child(path, "targetPort"), tp.str_val, m) for m in names.is_valid_port_name(tp.str_val)]
    else:
        errs += [invalid(child(path, "targetPort"), tp.int_val, m) for m in names.is_valid_port_num(tp.int_val)]
    if p.HasField("app_protocol"):
        errs += [invalid(child(path, "appProtocol"), p.app_protocol, m) for m in names.is_qualified_name(p.app_protocol)]
    return errs


def _session_affinity_config(spec) -> FieldErrors:
    path = "spec.sessionAffinityConfig"
    if spec.session_affinity == "None" and spec.HasField("session_affinity_config"):
        return [forbidden(path, "must not be set when session affinity is None")]
    if spec.session_affinity != "ClientIP":
        return []
    why = "when session affinity type is ClientIP"
    if not spec.HasField("session_affinity_config"):
        return [required(path, why)]
    if not spec.session_affinity_config.HasField("client_ip"):
        return [required(child(path, "clientIP"), why)]
    client_ip = spec.session_affinity_config.client_ip
    tpath = child(child(path, "clientIP"), "timeoutSeconds")
    if not client_ip.HasField("timeout_seconds"):
        return [required(tpath, why)]
    if not 0 < client_ip.timeout_seconds <= MAX_CLIENT_IP_AFFINITY_SECONDS:
        return [invalid(tpath, client_ip.timeout_seconds,
                        f"must be greater than 0 and less than {MAX_CLIENT_IP_AFFINITY_SECONDS}")]
    return []


def _service_update(new, old) -> FieldErrors:
    # A clusterIP, once allocated, stays (prepare_update keeps it when an update leaves it empty);
    # moving to or from ExternalName is the one way to drop it.
    if new.spec.type != "ExternalName" and old.spec.type != "ExternalName" and old.spec.cluster_ip:
        if new.spec.cluster_ip != old.spec.cluster_ip:
            return [immutable("spec.clusterIP", new.spec.cluster_ip)]
    return []


# --- Endpoints, Event, ConfigMap, Lease -----------------------------------------------------------

def _endpoints(ep) -> FieldErrors:
    errs: FieldErrors = []
    for i, ss in enumerate(ep.subsets):
        ipath = index("subsets", i)
        if not ss.addresses and not ss.not_ready_addresses:
            errs.append(required(ipath, "must specify `addresses` or `notReadyAddresses`"))
        for field, json in (("addresses", "addresses"), ("not_ready_addresses", "notReadyAddresses")):
            for j, addr in enumerate(getattr(ss, field)):
                apath = index(child(ipath, json), j)
                errs += [invalid(child(apath, "ip"), addr.ip, m) for m in names.is_valid_ip(addr.ip)]
                if addr.hostname:
                    errs += [invalid(child(apath, "hostname"), addr.hostname, m)
                             for m in names.is_dns1123_label(addr.hostname)]
                if addr.HasField("node_name"):
                    errs += [invalid(child(apath, "nodeName"), addr.node_name, m)
                             for m in names.name_is_dns_subdomain(addr.node_name, False)]
        for j, port in enumerate(ss.ports):
            ppath = index(child(ipath, "ports"), j)
            if len(ss.ports) > 1 and not port.name:
                errs.append(required(child(ppath, "name")))
            elif port.name:
                errs += [invalid(child(ppath, "name"), port.name, m) for m in names.is_dns1123_label(port.name)]
            errs += [invalid(child(ppath, "port"), port.port, m) for m in names.is_valid_port_num(port.port)]
            if not port.protocol:
                errs.append(required(child(ppath, "protocol")))
            elif port.protocol not in PORT_PROTOCOLS:
                errs.append(not_supported(child(ppath, "protocol"), port.protocol, PORT_PROTOCOLS))
    return errs


def _event(ev) -> FieldErrors:
    errs: FieldErrors = []
    ns, involved_ns = ev.metadata.namespace, ev.involved_object.namespace
    if not ev.event_time:
        if (involved_ns and ns != involved_ns) or (not involved_ns and ns not in ("", "default")):
            errs.append(invalid("involvedObject.namespace", involved_ns, "does not match event.namespace"))
    else:
        if not involved_ns and ns not in ("default", "kube-system"):
            errs.append(invalid("involvedObject.namespace", involved_ns, "does not match event.namespace"))
        if not ev.reporting_component:
            errs.append(required("reportingComponent"))
        else:
            errs += [invalid("reportingComponent", ev.reporting_component, m)
                     for m in names.is_qualified_name(ev.reporting_component)]
        for field, limit in (("reporting_instance", 128), ("action", 128), ("reason", 128)):
            json = "reportingInstance" if field == "reporting_instance" else field
            value = getattr(ev, field)
            if not value:
                errs.append(required(json))
            elif len(value) > limit:
                errs.append(invalid(json, "", f"can have at most {limit} characters"))
        if len(ev.message) > 1024:
            errs.append(invalid("message", "", "can have at most 1024 characters"))
    if ev.type and ev.type not in ("Normal", "Warning"):
        errs.append(not_supported("type", ev.type, ("Normal", "Warning")))
    return errs


def _config_map(cm) -> FieldErrors:
    errs: FieldErrors = []
    total = 0
    for k in sorted(cm.data):
        errs += [invalid(key("data", k), k, m) for m in names.is_config_map_key(k)]
        if k in cm.binary_data:
            errs.append(invalid(key("data", k), k, "duplicate of key present in binaryData"))
        total += len(cm.data[k].encode())
    for k in sorted(cm.binary_data):
        errs += [invalid(key("binaryData", k), k, m) for m in names.is_config_map_key(k)]
        total += len(cm.binary_data[k])
    if total > MAX_CONFIG_MAP_BYTES:
        errs.append(too_long("", MAX_CONFIG_MAP_BYTES))
    return errs


def _config_map_update(new, old) -> FieldErrors:
    if not old.immutable:
        return []
    why = "field is immutable when `immutable` is set"
    errs: FieldErrors = []
    if not new.immutable:
        errs.append(forbidden("immutable", why))
    if dict(new.data) != dict(old.data):
        errs.append(forbidden("data", why))
    if dict(new.binary_data) != dict(old.binary_data):
        errs.append(forbidden("binaryData", why))
    return errs


def _lease(lease) -> FieldErrors:
    errs: FieldErrors = []
    spec = lease.spec
    if spec.HasField("lease_duration_seconds") and spec.lease_duration_seconds <= 0:
        errs.append(invalid("spec.leaseDurationSeconds", spec.lease_duration_seconds, "must be greater than 0"))
    if spec.HasField("lease_transitions") and spec.lease_transitions < 0:
        errs.append(invalid("spec.leaseTransitions", spec.lease_transitions, names.NEGATIVE_ERR))
    return errs


# --- Deployment, ReplicaSet -----------------------------------------------------------------------

def _selector_and_template(spec) -> FieldErrors:
    """The selector (required, non-empty, convertible) and the template it must select."""
    errs: FieldErrors = []
    if not spec.HasField("selector"):
        errs.append(required("spec.selector"))
    else:
        errs += validate_label_selector(spec.selector, "spec.selector")
        if selector_is_empty(spec.selector):
            errs.append(invalid("spec.selector", go_label_selector(spec.selector), "empty selector is invalid for "
                                                                                   "deployment"))
    if spec.HasField("selector") and not selector_is_convertible(spec.selector):
        return errs + [invalid("spec.selector", go_label_selector(spec.selector), "invalid label selector")]
    template = spec.template
    labels = dict(template.metadata.labels)
    # A missing selector selects nothing (labels.Nothing()), so the template "does not match" as well.
    if not spec.HasField("selector") or (not selector_is_empty(spec.selector)
                                         and not selector_matches(spec.selector, labels)):
        errs.append(invalid("spec.template.metadata.labels", labels, "`selector` does not match template `labels`"))
    errs += validate_pod_template(template, "spec.template")
    if template.spec.restart_policy != "Always":
        errs.append(not_supported("spec.template.spec.restartPolicy", template.spec.restart_policy, ("Always",)))
    if template.spec.HasField("active_deadline_seconds"):
        errs.append(invalid("spec.template.spec.activeDeadlineSeconds", template.spec.active_deadline_seconds,
                            "activeDeadlineSeconds in ReplicaSet is not Supported"))
    return errs


def _validate_int_or_percent(value, path: str) -> FieldErrors:
    if value.WhichOneof("value") == "str_val":
        return [invalid(path, go_int_or_string(value), m) for m in names.is_valid_percent(value.str_val)]
    return validate_nonnegative(value.int_val, path)


def _int_or_percent_value(value) -> int:
    if value.WhichOneof("value") == "str_val":
        text = value.str_val
        return int(text[:-1]) if names.is_valid_percent(text) == [] else -1
    return value.int_val


def _deployment_strategy(strategy) -> FieldErrors:
    path = "spec.strategy"
    if strategy.type == "Recreate":
        if strategy.HasField("rolling_update"):
            return [forbidden(child(path, "rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'")]
        return []
    if strategy.type != "RollingUpdate":
        # Kubernetes reports the whole strategy struct at spec.strategy; Skiff names the field.
        return [not_supported(child(path, "type"), strategy.type, ("Recreate", "RollingUpdate"))]
    if not strategy.HasField("rolling_update"):
        return [required(child(path, "rollingUpdate"), "this should be defaulted and never be nil")]
    ru, rpath = strategy.rolling_update, child(path, "rollingUpdate")
    errs = _validate_int_or_percent(ru.max_unavailable, child(rpath, "maxUnavailable"))
    errs += _validate_int_or_percent(ru.max_surge, child(rpath, "maxSurge"))
    if _int_or_percent_value(ru.max_unavailable) == 0 and _int_or_percent_value(ru.max_surge) == 0:
        errs.append(invalid(child(rpath, "maxUnavailable"), go_int_or_string(ru.max_unavailable),
                            "may not be 0 when `maxSurge` is 0"))
    if ru.max_unavailable.WhichOneof("value") == "str_val" and _int_or_percent_value(ru.max_unavailable) > 100:
        errs.append(invalid(child(rpath, "maxUnavailable"), go_int_or_string(ru.max_unavailable),
                            "must not be greater than 100%"))
    return errs


def _deployment(d) -> FieldErrors:
    spec = d.spec
    errs = validate_nonnegative(spec.replicas, "spec.replicas")
    errs += _selector_and_template(spec)
    errs += _deployment_strategy(spec.strategy)
    errs += validate_nonnegative(spec.min_ready_seconds, "spec.minReadySeconds")
    if spec.HasField("revision_history_limit"):
        errs += validate_nonnegative(spec.revision_history_limit, "spec.revisionHistoryLimit")
    if spec.HasField("progress_deadline_seconds"):
        errs += validate_nonnegative(spec.progress_deadline_seconds, "spec.progressDeadlineSeconds")
        if spec.progress_deadline_seconds <= spec.min_ready_seconds:
            errs.append(invalid("spec.progressDeadlineSeconds", spec.progress_deadline_seconds,
                                "must be greater than minReadySeconds"))
    return errs + _workload_status(d.status, ("updated_replicas", "ready_replicas", "available_replicas",
                                              "unavailable_replicas"))


def _replica_set(rs) -> FieldErrors:
    spec = rs.spec
    errs = validate_nonnegative(spec.replicas, "spec.replicas")
    errs += validate_nonnegative(spec.min_ready_seconds, "spec.minReadySeconds")
    errs += _selector_and_template(spec)
    return errs + _workload_status(rs.status, ("fully_labeled_replicas", "ready_replicas", "available_replicas"))


_STATUS_JSON = {"observed_generation": "observedGeneration", "replicas": "replicas",
                "updated_replicas": "updatedReplicas", "ready_replicas": "readyReplicas",
                "available_replicas": "availableReplicas", "unavailable_replicas": "unavailableReplicas",
                "fully_labeled_replicas": "fullyLabeledReplicas", "collision_count": "collisionCount"}


def _workload_status(status, counts: tuple[str, ...]) -> FieldErrors:
    """ValidateDeploymentStatus / ValidateReplicaSetStatus: counts >= 0 and consistent."""
    errs: FieldErrors = []
    for field in ("observed_generation", "replicas") + counts + (
            ("collision_count",) if "unavailable_replicas" in counts else ()):
        errs += validate_nonnegative(getattr(status, field), child("status", _STATUS_JSON[field]))
    msg = "cannot be greater than status.replicas"
    for field in counts:
        if field != "unavailable_replicas" and getattr(status, field) > status.replicas:
            errs.append(invalid(child("status", _STATUS_JSON[field]), getattr(status, field), msg))
    if status.available_replicas > status.ready_replicas:
        errs.append(invalid("status.availableReplicas", status.available_replicas, "cannot be greater than readyReplicas"))
    return errs


def _selector_immutable(new, old) -> FieldErrors:
    if new.spec.selector != old.spec.selector or new.spec.HasField("selector") != old.spec.HasField("selector"):
        return [immutable("spec.selector", go_label_selector(new.spec.selector))]
    return []


# --- Ingress --------------------------------------------------------------------------------------

def _ingress_host(host: str, path: str) -> FieldErrors:
    if "*" in host:
        return [invalid(path, host, m) for m in names.is_wildcard_dns1123_subdomain(host)]
    return [invalid(path, host, m) for m in names.is_dns1123_subdomain(host)]


def _ingress_backend(backend, path: str) -> FieldErrors:
    has_resource, has_service = backend.HasField("resource"), backend.HasField("service")
    if has_resource and has_service:
        return [invalid(path, "", "cannot set both resource and service backends")]
    if has_resource:
        res, rpath = backend.resource, child(path, "resource")
        errs: FieldErrors = []
        if res.api_group:
            errs += [invalid(child(rpath, "apiGroup"), res.api_group, m) for m in names.is_dns1123_subdomain(res.api_group)]
        for field in ("kind", "name"):
            if not getattr(res, field):
                errs.append(required(child(rpath, field), f"{field} is required"))
        return errs
    if not has_service:
        return [invalid(path, "", "resource or service backend is required")]
    svc, spath = backend.service, child(path, "service")
    errs = []
    if not svc.name:
        errs.append(required(child(spath, "name")))
    else:
        errs += [invalid(child(spath, "name"), svc.name, m) for m in names.name_is_dns1035_label(svc.name, False)]
    port_path = child(spath, "port")
    if svc.port.name and svc.port.number:
        errs.append(invalid(path, "", "cannot set both port name & port number"))
    elif svc.port.name:
        errs += [invalid(child(port_path, "name"), svc.port.name, m) for m in names.is_valid_port_name(svc.port.name)]
    elif svc.port.number:
        errs += [invalid(child(port_path, "number"), svc.port.number, m)
                 for m in names.is_valid_port_num(svc.port.number)]
    else:
        errs.append(required(path, "port name or number is required"))
    return errs


def _ingress_path(p, path: str) -> FieldErrors:
    errs: FieldErrors = []
    if not p.HasField("path_type"):
        return [required(child(path, "pathType"), "pathType must be specified")]
    ppath = child(path, "path")
    if p.path_type in ("Exact", "Prefix"):
        if not p.path.startswith("/"):
            errs.append(invalid(ppath, p.path, "must be an absolute path"))
        if p.path:
            errs += [invalid(ppath, p.path, f"must not contain '{s}'") for s in INVALID_PATH_SEQUENCES if s in p.path]
            errs += [invalid(ppath, p.path, f"cannot end with '{s}'") for s in INVALID_PATH_SUFFIXES
                     if p.path.endswith(s)]
    elif p.path_type == "ImplementationSpecific":
        if p.path and not p.path.startswith("/"):
            errs.append(invalid(ppath, p.path, "must be an absolute path"))
    else:
        errs.append(not_supported(child(path, "pathType"), p.path_type, INGRESS_PATH_TYPES))
    return errs + _ingress_backend(p.backend, child(path, "backend"))


def _ingress(ing) -> FieldErrors:
    errs: FieldErrors = []
    spec = ing.spec
    if not spec.rules and not spec.HasField("default_backend"):
        errs.append(invalid("spec", GoRepr("[]networking.IngressRule(nil)"),
                            "either `defaultBackend` or `rules` must be specified"))
    if spec.HasField("default_backend"):
        errs += _ingress_backend(spec.default_backend, "spec.defaultBackend")
    for i, rule in enumerate(spec.rules):
        rpath = index("spec.rules", i)
        if rule.host:
            if not names.is_valid_ip(rule.host):
                errs.append(invalid(child(rpath, "host"), rule.host, "must be a DNS name, not an IP address"))
            errs += _ingress_host(rule.host, child(rpath, "host"))
        if rule.HasField("http"):
            hpath = child(rpath, "http")
            if not rule.http.paths:
                errs.append(required(child(hpath, "paths")))
            for j, p in enumerate(rule.http.paths):
                errs += _ingress_path(p, index(child(hpath, "paths"), j))
    for i, tls in enumerate(spec.tls):
        for j, host in enumerate(tls.hosts):
            errs += _ingress_host(host, index(child(index("spec.tls", i), "hosts"), j))
    if spec.HasField("ingress_class_name"):
        errs += [invalid("spec.ingressClassName", spec.ingress_class_name, m)
                 for m in names.name_is_dns_subdomain(spec.ingress_class_name, False)]
    return errs


# (create, update-only rules); update runs create's rules on the new object as well.
_VALIDATORS: dict[str, tuple[Callable, Callable | None]] = {
    "Namespace": (_namespace, None),
    "Node": (_node, _node_update),
    "Pod": (_pod, _pod_update),
    "Service": (_service, _service_update),
    "Endpoints": (_endpoints, None),
    "Event": (_event, None),
    "ConfigMap": (_config_map, _config_map_update),
    "Deployment": (_deployment, _selector_immutable),
    "ReplicaSet": (_replica_set, _selector_immutable),
    "Ingress": (_ingress, None),
    "Lease": (_lease, None),
}
