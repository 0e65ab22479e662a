"""Validation of pod specs (in Pods and in Deployment/ReplicaSet templates) and of pod updates,
with Kubernetes' paths and messages (pkg/apis/core/validation: ValidatePodSpec,
ValidatePodTemplateSpec, ValidatePodUpdate).

Covered: volumes (name, exactly one source, hostPath/configMap/secret/PVC sources, modes, item
paths), containers and init containers (names, duplicates, image, ports, env and env sources,
volume mounts, resources with requests <= limits, probes and lifecycle handlers, pull policy,
termination message policy, security context user ids), host port conflicts, restartPolicy,
dnsPolicy and dnsConfig, nodeSelector, host aliases, service account / node / priority class
names, hostname, subdomain, activeDeadlineSeconds; tolerations, affinity and topology spread
through apiserver/schedulingvalidation.py.

Not covered (Kubernetes checks these, Skiff does not yet): seccomp/AppArmor annotations, sysctls,
SELinux and Windows options, ephemeral containers, volume devices, projected/CSI/cloud volume
sources (the protos do not carry them), subPathExpr feature gates, overhead and runtime classes.

Pure: no I/O.
"""
from __future__ import annotations

from typing import Iterable, Sequence

from apiserver import names
from apiserver.fielderrors import (FieldErrors, child, duplicate, forbidden, index, invalid, key, not_found,
                                   not_supported, required)
from apiserver.metavalidation import validate_annotations, validate_label_name, validate_labels, validate_nonnegative
from apiserver.schedulingvalidation import validate_affinity, validate_tolerations, validate_topology_spread
from client.codec import QUANTITY_MESSAGE, to_dict
from skiffpb.k8s.core.v1 import core_pb2

MAX_INT32 = 2**31 - 1
FILE_MODE_ERR = "must be a number between 0 and 0777 (octal), both inclusive"
PORT_PROTOCOLS = ("SCTP", "TCP", "UDP")
RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
HOST_PATH_TYPES = ("", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice")
HTTP_SCHEMES = ("HTTP", "HTTPS")
ENV_FIELD_PATHS = ("metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName",
                   "status.hostIP", "status.podIP", "status.podIPs")
VOLUME_FIELD_PATHS = ("metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid")
STANDARD_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")
MAX_DNS_NAMESERVERS = 3
MAX_DNS_SEARCHES = 6
POD_UPDATE_FORBIDDEN = ("pod updates may not change fields other than `spec.containers[*].image`, "
                        "`spec.initContainers[*].image`, `spec.activeDeadlineSeconds` or `spec.tolerations` "
                        "(only additions to existing tolerations)")


# --- volumes --------------------------------------------------------------------------------------

_VOLUME_SOURCES = ("empty_dir", "host_path", "secret", "persistent_volume_claim", "downward_api", "config_map")
_JSON = {"empty_dir": "emptyDir", "host_path": "hostPath", "secret": "secret",
         "persistent_volume_claim": "persistentVolumeClaim", "downward_api": "downwardAPI", "config_map": "configMap"}


def validate_volumes(volumes: Sequence[core_pb2.Volume], path: str) -> tuple[set[str], FieldErrors]:
    """The valid volumes' names (mounts may only name those) and the errors."""
    errs: FieldErrors = []
    valid: set[str] = set()
    for i, vol in enumerate(volumes):
        ipath = index(path, i)
        el = _validate_volume_source(vol, ipath)
        if not vol.name:
            el.append(required(child(ipath, "name")))
        else:
            el += [invalid(child(ipath, "name"), vol.name, m) for m in names.is_dns1123_label(vol.name)]
        if vol.name in valid:
            el.append(duplicate(child(ipath, "name"), vol.name))
        if el:
            errs += el
        else:
            valid.add(vol.name)
    return valid, errs


def _validate_volume_source(vol: core_pb2.Volume, path: str) -> FieldErrors:
    errs: FieldErrors = []
    count = 0
    for source in _VOLUME_SOURCES:
        if not vol.HasField(source):
            continue
        spath = child(path, _JSON[source])
        if count:
            errs.append(forbidden(spath, "may not specify more than 1 volume type"))
            continue
        count += 1
        errs += _SOURCE_VALIDATORS[source](getattr(vol, source), spath)
    if count == 0:
        errs.append(required(path, "must specify a volume type"))
    return errs


def _validate_empty_dir(src: core_pb2.EmptyDirVolumeSource, path: str) -> FieldErrors:
    if src.HasField("size_limit") and _quantity(src.size_limit.value, 0) < 0:
        return [forbidden(child(path, "sizeLimit"), "SizeLimit field must be a valid resource quantity")]
    return []


def _no_backsteps(target: str, path: str) -> FieldErrors:
    if ".." in target.replace("\\", "/").split("/"):
        return [invalid(path, target, "must not contain '..'")]
    return []


def _local_descending_path(target: str, path: str) -> FieldErrors:
    errs = []
    if target.startswith("/"):
        errs.append(invalid(path, target, "must be a relative path"))
    return errs + _no_backsteps(target, path)


def _local_non_reserved_path(target: str, path: str) -> FieldErrors:
    errs = _local_descending_path(target, path)
    if target.startswith("..") and not target.startswith("../"):
        errs.append(invalid(path, target, "must not start with '..'"))
    return errs


def _validate_host_path(src: core_pb2.HostPathVolumeSource, path: str) -> FieldErrors:
    if not src.path:
        return [required(child(path, "path"))]
    errs = _no_backsteps(src.path, child(path, "path"))
    if src.type not in HOST_PATH_TYPES:
        errs.append(not_supported(child(path, "type"), src.type, HOST_PATH_TYPES))
    return errs


def _validate_mode(msg, field: str, path: str) -> FieldErrors:
    if msg.HasField(field) and not 0 <= getattr(msg, field) <= 0o777:
        json = {"mode": "mode", "default_mode": "defaultMode"}[field]
        return [invalid(child(path, json), getattr(msg, field), FILE_MODE_ERR)]
    return []


def _validate_key_to_paths(items, path: str) -> FieldErrors:
    errs: FieldErrors = []
    for i, kp in enumerate(items):
        ipath = index(child(path, "items"), i)
        if not kp.key:
            errs.append(required(child(ipath, "key")))
        if not kp.path:
            errs.append(required(child(ipath, "path")))
        errs += _local_non_reserved_path(kp.path, child(ipath, "path"))
        errs += _validate_mode(kp, "mode", ipath)
    return errs


def _validate_secret(src: core_pb2.SecretVolumeSource, path: str) -> FieldErrors:
    errs = [] if src.secret_name else [required(child(path, "secretName"))]
    return errs + _validate_mode(src, "default_mode", path) + _validate_key_to_paths(src.items, path)


def _validate_config_map_volume(src: core_pb2.ConfigMapVolumeSource, path: str) -> FieldErrors:
    errs = [] if src.name else [required(child(path, "name"))]
    return errs + _validate_mode(src, "default_mode", path) + _validate_key_to_paths(src.items, path)


def _validate_pvc(src: core_pb2.PersistentVolumeClaimVolumeSource, path: str) -> FieldErrors:
    return [] if src.claim_name else [required(child(path, "claimName"))]


def _validate_downward_api(src: core_pb2.DownwardAPIVolumeSource, path: str) -> FieldErrors:
    errs = _validate_mode(src, "default_mode", path)
    for i, item in enumerate(src.items):
        ipath = index(child(path, "items"), i)
        if not item.path:
            errs.append(required(child(ipath, "path")))
        errs += _local_non_reserved_path(item.path, child(ipath, "path"))
        if item.HasField("field_ref"):
            errs += _validate_object_field_selector(item.field_ref, VOLUME_FIELD_PATHS, child(ipath, "fieldRef"))
        errs += _validate_mode(item, "mode", ipath)
    return errs


_SOURCE_VALIDATORS = {
    "empty_dir": _validate_empty_dir, "host_path": _validate_host_path, "secret": _validate_secret,
    "persistent_volume_claim": _validate_pvc, "downward_api": _validate_downward_api,
    "config_map": _validate_config_map_volume,
}


# --- containers -----------------------------------------------------------------------------------

def _validate_object_field_selector(fs: core_pb2.ObjectFieldSelector, allowed: Iterable[str], path: str) -> FieldErrors:
    if not fs.api_version:
        return [required(child(path, "apiVersion"))]
    if not fs.field_path:
        return [required(child(path, "fieldPath"))]
    fp = fs.field_path
    if "[" in fp and fp.endswith("]"):
        base, _, subscript = fp[:-1].partition("[")
        if base in ("metadata.labels", "metadata.annotations"):
            sub = subscript.strip("'")
            return [invalid(child(path, "fieldPath"), sub, m) for m in names.is_qualified_name(sub.lower())]
        return [invalid(path, base, "does not support subscript")]
    if fp not in allowed:
        return [not_supported(child(path, "fieldPath"), fp, allowed)]
    return []


def _validate_key_selector(name: str, k: str, path: str) -> FieldErrors:
    errs = [invalid(child(path, "name"), name, m) for m in names.name_is_dns_subdomain(name, False)]
    if not k:
        errs.append(required(child(path, "key")))
    else:
        errs += [invalid(child(path, "key"), k, m) for m in names.is_config_map_key(k)]
    return errs


def _validate_env(env: Sequence[core_pb2.EnvVar], path: str) -> FieldErrors:
    errs: FieldErrors = []
    for i, ev in enumerate(env):
        ipath = index(path, i)
        if not ev.name:
            errs.append(required(child(ipath, "name")))
        else:
            errs += [invalid(child(ipath, "name"), ev.name, m) for m in names.is_env_var_name(ev.name)]
        if not ev.HasField("value_from"):
            continue
        vpath, vf = child(ipath, "valueFrom"), ev.value_from
        sources = 0
        if vf.HasField("field_ref"):
            sources += 1
            errs += _validate_object_field_selector(vf.field_ref, ENV_FIELD_PATHS, child(vpath, "fieldRef"))
        if vf.HasField("resource_field_ref"):
            sources += 1
            if not vf.resource_field_ref.resource:
                errs.append(required(child(child(vpath, "resourceFieldRef"), "resource")))
        if vf.HasField("config_map_key_ref"):
            sources += 1
            ref = vf.config_map_key_ref
            errs += _validate_key_selector(ref.name, ref.key, child(vpath, "configMapKeyRef"))
        if vf.HasField("secret_key_ref"):
            sources += 1
            ref = vf.secret_key_ref
            errs += _validate_key_selector(ref.name, ref.key, child(vpath, "secretKeyRef"))
        if sources == 0:
            errs.append(invalid(vpath, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` "
                                           "or `secretKeyRef`"))
        elif ev.value:
            errs.append(invalid(vpath, "", "may not be specified when `value` is not empty"))
        elif sources > 1:
            errs.append(invalid(vpath, "", "may not have more than one field specified at a time"))
    return errs


def _validate_env_from(env_from: Sequence[core_pb2.EnvFromSource], path: str) -> FieldErrors:
    errs: FieldErrors = []
    for i, ef in enumerate(env_from):
        ipath = index(path, i)
        if ef.prefix:
            errs += [invalid(child(ipath, "prefix"), ef.prefix, m) for m in names.is_env_var_name(ef.prefix)]
        refs = [(f, j) for f, j in (("config_map_ref", "configMapRef"), ("secret_ref", "secretRef")) if ef.HasField(f)]
        for f, j in refs:
            ref = getattr(ef, f)
            errs += [invalid(child(child(ipath, j), "name"), ref.name, m)
                     for m in names.name_is_dns_subdomain(ref.name, False)]
        if not refs:
            errs.append(invalid(ipath, "", "must specify one of: `configMapRef` or `secretRef`"))
        elif len(refs) > 1:
            errs.append(invalid(ipath, "", "may not have more than one field specified at a time"))
    return errs


def _validate_container_ports(ports: Sequence[core_pb2.ContainerPort], path: str) -> FieldErrors:
    errs: FieldErrors = []
    seen: set[str] = set()
    for i, p in enumerate(ports):
        ipath = index(path, i)
        if p.name:
            msgs = names.is_valid_port_name(p.name)
            if msgs:
                errs += [invalid(child(ipath, "name"), p.name, m) for m in msgs]
            elif p.name in seen:
                errs.append(duplicate(child(ipath, "name"), p.name))
            else:
                seen.add(p.name)
        if p.container_port == 0:
            errs.append(required(child(ipath, "containerPort")))
        else:
            errs += [invalid(child(ipath, "containerPort"), p.container_port, m)
                     for m in names.is_valid_port_num(p.container_port)]
        if p.host_port != 0:
            errs += [invalid(child(ipath, "hostPort"), p.host_port, m) for m in names.is_valid_port_num(p.host_port)]
        if not p.protocol:
            errs.append(required(child(ipath, "protocol")))
        elif p.protocol not in PORT_PROTOCOLS:
            errs.append(not_supported(child(ipath, "protocol"), p.protocol, PORT_PROTOCOLS))
    return errs


def _validate_volume_mounts(mounts: Sequence[core_pb2.VolumeMount], volumes: set[str], path: str) -> FieldErrors:
    errs: FieldErrors = []
    mount_points: set[str] = set()
    for i, m in enumerate(mounts):
        ipath = index(path, i)
        if not m.name:
            errs.append(required(child(ipath, "name")))
        if m.name not in volumes:
            errs.append(not_found(child(ipath, "name"), m.name))
        if not m.mount_path:
            errs.append(required(child(ipath, "mountPath")))
        if m.mount_path in mount_points:
            errs.append(invalid(child(ipath, "mountPath"), m.mount_path, "must be unique"))
        mount_points.add(m.mount_path)
        if m.sub_path:
            errs += _local_descending_path(m.sub_path, child(ipath, "subPath"))
        if m.sub_path and m.sub_path_expr:
            errs.append(invalid(child(ipath, "subPathExpr"), m.sub_path_expr,
                                "subPathExpr and subPath are mutually exclusive"))
        if m.HasField("mount_propagation") and m.mount_propagation not in ("None", "HostToContainer", "Bidirectional"):
            errs.append(not_supported(child(ipath, "mountPropagation"), m.mount_propagation,
                                      ("Bidirectional", "HostToContainer", "None")))
    return errs


def _overcommit_allowed(resource: str) -> bool:
    native = "/" not in resource or "kubernetes.io/" in resource
    return native and not resource.startswith("hugepages-")


def _validate_resource_name(resource: str, path: str) -> FieldErrors:
    errs = [invalid(path, resource, m) for m in names.is_qualified_name(resource)]
    if errs:
        return errs
    if "/" not in resource:
        if resource not in STANDARD_CONTAINER_RESOURCES and not resource.startswith("hugepages-"):
            errs.append(invalid(path, resource, "must be a standard resource for containers"))
    elif "kubernetes.io/" not in resource and resource.startswith("requests."):
        errs.append(invalid(path, resource, "doesn't follow extended resource name standard"))
    return errs


def _quantity(text: str, bad):
    """A quantity's value; `bad` for one that does not parse (the codec admits only parseable ones)."""
    try:
        return names.parse_quantity(text)
    except ValueError:
        return bad


def _validate_resources(res: core_pb2.ResourceRequirements, path: str) -> FieldErrors:
    errs: FieldErrors = []
    lim_path, req_path = child(path, "limits"), child(path, "requests")
    limits = {k: _quantity(v.value, None) for k, v in res.limits.items()}
    for name in sorted(res.limits):
        errs += _validate_resource_name(name, key(lim_path, name))
        if limits[name] is None:
            errs.append(invalid(key(lim_path, name), res.limits[name].value, QUANTITY_MESSAGE))
        elif limits[name] < 0:
            errs.append(invalid(key(lim_path, name), res.limits[name].value, names.NEGATIVE_ERR))
    for name in sorted(res.requests):
        text = res.requests[name].value
        quantity = _quantity(text, None)
        errs += _validate_resource_name(name, key(req_path, name))
        if quantity is None:
            errs.append(invalid(key(req_path, name), text, QUANTITY_MESSAGE))
            continue
        if quantity < 0:
            errs.append(invalid(key(req_path, name), text, names.NEGATIVE_ERR))
        if limits.get(name) is not None:
            if quantity != limits[name] and not _overcommit_allowed(name):
                errs.append(invalid(req_path, text, f"must be equal to {name} limit"))
            elif quantity > limits[name]:
                errs.append(invalid(req_path, text, f"must be less than or equal to {name} limit"))
        elif name not in limits and not _overcommit_allowed(name):
            errs.append(required(lim_path, "Limit must be set for non overcommitable resources"))
    return errs


def _validate_handler(handler, path: str) -> FieldErrors:
    """A probe's or lifecycle hook's action: exactly one of exec, httpGet, tcpSocket."""
    errs: FieldErrors = []
    count = 0
    for field, json in (("exec", "exec"), ("http_get", "httpGet"), ("tcp_socket", "tcpSocket")):
        if not handler.HasField(field):
            continue
        hpath = child(path, json)
        if count:
            errs.append(forbidden(hpath, "may not specify more than 1 handler type"))
            continue
        count += 1
        action = getattr(handler, field)
        if field == "exec":
            if not action.command:
                errs.append(required(child(hpath, "command")))
        elif field == "http_get":
            if not action.path:
                errs.append(required(child(hpath, "path")))
            errs += _validate_port_num_or_name(action.port, child(hpath, "port"))
            if action.scheme not in HTTP_SCHEMES:
                errs.append(not_supported(child(hpath, "scheme"), action.scheme, HTTP_SCHEMES))
            for header in action.http_headers:
                errs += [invalid(child(hpath, "httpHeaders"), header.name, m)
                         for m in names.is_http_header_name(header.name)]
        else:
            errs += _validate_port_num_or_name(action.port, child(hpath, "port"))
    if count == 0:
        errs.append(required(path, "must specify a handler type"))
    return errs


def _validate_port_num_or_name(port, path: str) -> FieldErrors:
    if port.WhichOneof("value") == "str_val":
        return [invalid(path, port.str_val, m) for m in names.is_valid_port_name(port.str_val)]
    return [invalid(path, port.int_val, m) for m in names.is_valid_port_num(port.int_val)]


def _validate_probe(probe: core_pb2.Probe, path: str) -> FieldErrors:
    errs = _validate_handler(probe, path)
    for field, json in (("initial_delay_seconds", "initialDelaySeconds"), ("timeout_seconds", "timeoutSeconds"),
                        ("period_seconds", "periodSeconds"), ("success_threshold", "successThreshold"),
                        ("failure_threshold", "failureThreshold")):
        errs += validate_nonnegative(getattr(probe, field), child(path, json))
    return errs


def _validate_security_context_ids(sc, path: str) -> FieldErrors:
    errs: FieldErrors = []
    for field, json in (("run_as_user", "runAsUser"), ("run_as_group", "runAsGroup")):
        if sc.HasField(field):
            errs += validate_nonnegative(getattr(sc, field), child(path, json))
    return errs


def _validate_containers(containers: Sequence[core_pb2.Container], volumes: set[str], path: str, *,
                         init: bool, taken: Iterable[str] = ()) -> FieldErrors:
    errs: FieldErrors = []
    if not containers and not init:
        return [required(path)]
    seen = set(taken)
    for i, c in enumerate(containers):
        ipath = index(path, i)
        name_path = child(ipath, "name")
        if not c.name:
            errs.append(required(name_path))
        else:
            errs += [invalid(name_path, c.name, m) for m in names.is_dns1123_label(c.name)]
        if c.name in seen:
            errs.append(duplicate(name_path, c.name))
        elif c.name:
            seen.add(c.name)
        if not c.image:
            errs.append(required(child(ipath, "image")))
        if c.HasField("lifecycle"):
            if init:
                errs.append(forbidden(child(ipath, "lifecycle"), "must not be set for init containers"))
            for field, json in (("post_start", "postStart"), ("pre_stop", "preStop")):
                if c.lifecycle.HasField(field):
                    errs += _validate_handler(getattr(c.lifecycle, field), child(child(ipath, "lifecycle"), json))
        for field, json in (("liveness_probe", "livenessProbe"), ("readiness_probe", "readinessProbe"),
                            ("startup_probe", "startupProbe")):
            if not c.HasField(field):
                continue
            ppath = child(ipath, json)
            if init:
                errs.append(forbidden(ppath, "must not be set for init containers"))
                continue
            probe = getattr(c, field)
            errs += _validate_probe(probe, ppath)
            if field != "readiness_probe" and probe.success_threshold != 1:
                errs.append(invalid(child(ppath, "successThreshold"), probe.success_threshold, "must be 1"))
        if c.termination_message_policy not in ("File", "FallbackToLogsOnError"):
            policy_path = child(ipath, "terminationMessagePolicy")
            if not c.termination_message_policy:
                errs.append(required(policy_path, "must be 'File' or 'FallbackToLogsOnError'"))
            else:
                errs.append(invalid(policy_path, c.termination_message_policy,
                                    "must be 'File' or 'FallbackToLogsOnError'"))
        errs += _validate_container_ports(c.ports, child(ipath, "ports"))
        errs += _validate_env(c.env, child(ipath, "env"))
        errs += _validate_env_from(c.env_from, child(ipath, "envFrom"))
        errs += _validate_volume_mounts(c.volume_mounts, volumes, child(ipath, "volumeMounts"))
        pull_path = child(ipath, "imagePullPolicy")
        if not c.image_pull_policy:
            errs.append(required(pull_path))
        elif c.image_pull_policy not in PULL_POLICIES:
            errs.append(not_supported(pull_path, c.image_pull_policy, PULL_POLICIES))
        errs += _validate_resources(c.resources, child(ipath, "resources"))
        if c.HasField("security_context"):
            errs += _validate_security_context_ids(c.security_context, child(ipath, "securityContext"))
    return errs


def _host_port_conflicts(containers: Sequence[core_pb2.Container], path: str, seen: set[str]) -> FieldErrors:
    errs: FieldErrors = []
    for ci, c in enumerate(containers):
        for pi, p in enumerate(c.ports):
            if p.host_port == 0:
                continue
            ident = f"{p.protocol}/{p.host_ip}/{p.host_port}"
            if ident in seen:
                errs.append(duplicate(child(index(child(index(path, ci), "ports"), pi), "hostPort"), ident))
            seen.add(ident)
    return errs


def _validate_dns(spec: core_pb2.PodSpec, path: str) -> FieldErrors:
    errs: FieldErrors = []
    policy_path = child(path, "dnsPolicy")
    if not spec.dns_policy:
        errs.append(required(policy_path))
    elif spec.dns_policy not in DNS_POLICIES:
        errs.append(not_supported(policy_path, spec.dns_policy, DNS_POLICIES))
    cpath = child(path, "dnsConfig")
    if spec.dns_policy == "None" and not spec.HasField("dns_config"):
        return errs + [required(cpath, "must provide `dnsConfig` when `dnsPolicy` is None")]
    if not spec.HasField("dns_config"):
        return errs
    cfg = spec.dns_config
    if spec.dns_policy == "None" and not cfg.nameservers:
        errs.append(required(child(cpath, "nameservers"), "must provide at least one DNS nameserver when `dnsPolicy` "
                                                          "is None"))
    if len(cfg.nameservers) > MAX_DNS_NAMESERVERS:
        errs.append(invalid(child(cpath, "nameservers"), list(cfg.nameservers),
                            f"must not have more than {MAX_DNS_NAMESERVERS} nameservers"))
    for i, ns in enumerate(cfg.nameservers):
        if names.is_valid_ip(ns):
            errs.append(invalid(index(child(cpath, "nameservers"), i), ns, "must be valid IP address"))
    if len(cfg.searches) > MAX_DNS_SEARCHES:
        errs.append(invalid(child(cpath, "searches"), list(cfg.searches),
                            f"must not have more than {MAX_DNS_SEARCHES} search paths"))
    for i, s in enumerate(cfg.searches):
        errs += [invalid(index(child(cpath, "searches"), i), s, m) for m in names.is_dns1123_subdomain(s.rstrip("."))]
    for i, opt in enumerate(cfg.options):
        if not opt.name:
            errs.append(required(child(index(child(cpath, "options"), i), "name"), "Option.Name must not be empty"))
    return errs


# --- the pod spec ---------------------------------------------------------------------------------

def validate_pod_spec(spec: core_pb2.PodSpec, path: str) -> FieldErrors:
    """ValidatePodSpec."""
    volumes, errs = validate_volumes(spec.volumes, child(path, "volumes"))
    errs += _validate_containers(spec.containers, volumes, child(path, "containers"), init=False)
    errs += _validate_containers(spec.init_containers, volumes, child(path, "initContainers"), init=True,
                                 taken=[c.name for c in spec.containers])
    host_ports: set[str] = set()
    errs += _host_port_conflicts(spec.containers, child(path, "containers"), host_ports)
    errs += _host_port_conflicts(spec.init_containers, child(path, "initContainers"), host_ports)
    restart_path = child(path, "restartPolicy")
    if not spec.restart_policy:
        errs.append(required(restart_path))
    elif spec.restart_policy not in RESTART_POLICIES:
        errs.append(not_supported(restart_path, spec.restart_policy, RESTART_POLICIES))
    errs += _validate_dns(spec, path)
    errs += validate_labels(spec.node_selector, child(path, "nodeSelector"))
    if spec.HasField("security_context"):
        errs += _validate_security_context_ids(spec.security_context, child(path, "securityContext"))
        for i, g in enumerate(spec.security_context.supplemental_groups):
            errs += validate_nonnegative(g, index(child(child(path, "securityContext"), "supplementalGroups"), i))
        if spec.security_context.HasField("fs_group"):
            errs += validate_nonnegative(spec.security_context.fs_group, child(child(path, "securityContext"), "fsGroup"))
    for i, secret in enumerate(spec.image_pull_secrets):
        if not secret.name:
            errs.append(required(child(index(child(path, "imagePullSecrets"), i), "name")))
    if spec.HasField("affinity"):
        errs += validate_affinity(spec.affinity, child(path, "affinity"))
    for i, gate in enumerate(spec.readiness_gates):
        errs += validate_label_name(gate.condition_type, child(index(child(path, "readinessGates"), i), "conditionType"))
    errs += validate_topology_spread(spec.topology_spread_constraints, child(path, "topologySpreadConstraints"))
    for field, json in (("service_account_name", "serviceAccountName"), ("node_name", "nodeName"),
                        ("priority_class_name", "priorityClassName")):
        value = getattr(spec, field)
        if value:
            errs += [invalid(child(path, json), value, m) for m in names.name_is_dns_subdomain(value, False)]
    if spec.HasField("active_deadline_seconds") and not 1 <= spec.active_deadline_seconds <= MAX_INT32:
        errs.append(invalid(child(path, "activeDeadlineSeconds"), spec.active_deadline_seconds,
                            names.inclusive_range_error(1, MAX_INT32)))
    for field in ("hostname", "subdomain"):
        value = getattr(spec, field)
        if value:
            errs += [invalid(child(path, field), value, m) for m in names.is_dns1123_label(value)]
    errs += validate_tolerations(spec.tolerations, child(path, "tolerations"))
    for i, alias in enumerate(spec.host_aliases):
        apath = index(child(path, "hostAliases"), i)
        if names.is_valid_ip(alias.ip):
            errs.append(invalid(child(apath, "ip"), alias.ip, "must be valid IP address"))
        for hostname in alias.hostnames:
            errs += [invalid(child(apath, "hostnames"), hostname, m) for m in names.is_dns1123_subdomain(hostname)]
    if spec.HasField("preemption_policy") and spec.preemption_policy not in ("PreemptLowerPriority", "Never"):
        errs.append(not_supported(child(path, "preemptionPolicy"), spec.preemption_policy,
                                  ("Never", "PreemptLowerPriority")))
    return errs


def validate_pod_template(template: core_pb2.PodTemplateSpec, path: str) -> FieldErrors:
    """ValidatePodTemplateSpec: the template's labels and annotations, then its pod spec.

    Kubernetes reports template label errors at `<path>.labels`; Skiff names the field the user
    wrote, `<path>.metadata.labels`.
    """
    meta_path = child(path, "metadata")
    errs = validate_labels(template.metadata.labels, child(meta_path, "labels"))
    errs += validate_annotations(template.metadata.annotations, child(meta_path, "annotations"))
    return errs + validate_pod_spec(template.spec, child(path, "spec"))


# --- pod updates ----------------------------------------------------------------------------------

def validate_pod_spec_update(new: core_pb2.PodSpec, old: core_pb2.PodSpec, path: str = "spec") -> FieldErrors:
    """ValidatePodUpdate's spec rules: only images, activeDeadlineSeconds (down) and added tolerations change."""
    errs: FieldErrors = []
    for field, json in (("containers", "containers"), ("init_containers", "initContainers")):
        new_cs, old_cs = getattr(new, field), getattr(old, field)
        cpath = child(path, json)
        if len(new_cs) != len(old_cs):
            return errs + [forbidden(cpath, "pod updates may not add or remove containers")]
        for i, c in enumerate(new_cs):
            if not c.image:
                errs.append(required(child(index(cpath, i), "image")))
            if c.image.strip() != c.image:
                errs.append(invalid(child(index(cpath, i), "image"), c.image,
                                    "must not have leading or trailing whitespace"))
    ads_path = child(path, "activeDeadlineSeconds")
    if new.HasField("active_deadline_seconds"):
        value = new.active_deadline_seconds
        if not 0 <= value <= MAX_INT32:
            return errs + [invalid(ads_path, value, names.inclusive_range_error(0, MAX_INT32))]
        if old.HasField("active_deadline_seconds") and old.active_deadline_seconds < value:
            return errs + [invalid(ads_path, value, "must be less than or equal to previous value")]
    elif old.HasField("active_deadline_seconds"):
        errs.append(invalid(ads_path, "null", "must not update from a positive integer to nil value"))
    errs += _validate_only_added_tolerations(new.tolerations, old.tolerations, child(path, "tolerations"))
    if new == old:
        return errs
    munged = core_pb2.PodSpec()
    munged.CopyFrom(new)
    for field in ("containers", "init_containers"):
        for c, o in zip(getattr(munged, field), getattr(old, field)):
            c.image = o.image
    munged.ClearField("active_deadline_seconds")
    if old.HasField("active_deadline_seconds"):
        munged.active_deadline_seconds = old.active_deadline_seconds
    del munged.tolerations[:]
    munged.tolerations.extend(old.tolerations)
    if munged != old:
        changed = ", ".join(_changed_paths(to_dict(munged), to_dict(old), path))
        errs.append(forbidden(path, f"{POD_UPDATE_FORBIDDEN}\nchanged: {changed}"))
    return errs


def _validate_only_added_tolerations(new: Sequence[core_pb2.Toleration], old: Sequence[core_pb2.Toleration],
                                     path: str) -> FieldErrors:
    for o in old:
        found = False
        for n in new:
            clone = core_pb2.Toleration()
            clone.CopyFrom(o)
            clone.ClearField("toleration_seconds")
            if n.HasField("toleration_seconds"):
                clone.toleration_seconds = n.toleration_seconds
            if clone == n:
                found = True
                break
        if not found:
            return [forbidden(path, "existing toleration can not be modified except its tolerationSeconds")]
    return validate_tolerations(new, path)


def _changed_paths(new, old, path: str) -> list[str]:
    """The leaf paths where two JSON forms differ (for the pod-update message)."""
    if isinstance(new, dict) and isinstance(old, dict):
        out = []
        for k in list(old) + [k for k in new if k not in old]:
            if new.get(k) != old.get(k):
                out += _changed_paths(new.get(k), old.get(k), child(path, k))
        return out
    if isinstance(new, list) and isinstance(old, list) and len(new) == len(old):
        out = []
        for i, (a, b) in enumerate(zip(new, old)):
            if a != b:
                out += _changed_paths(a, b, index(path, i))
        return out
    return [path]

