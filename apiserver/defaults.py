"""Kubernetes' defaulting (pkg/apis/*/v1/defaults.go), in place, per kind.

    default(kind, obj)     # before prepare_* and validate, on creates and updates alike

What `kubectl get -o yaml` shows beyond the manifest, Skiff shows too: a Deployment gains
replicas 1, RollingUpdate 25%/25%, revisionHistoryLimit 10, progressDeadlineSeconds 600, and
its pod template restartPolicy Always, terminationGracePeriodSeconds 30, dnsPolicy ClusterFirst,
schedulerName default-scheduler, `securityContext: {}`, and per container imagePullPolicy,
terminationMessagePath/Policy, `resources: {}`, port protocol TCP and probe defaults.

"Absent" follows Kubernetes' Go types: where Kubernetes has a pointer (`replicas`,
`terminationGracePeriodSeconds`, `maxSurge`), only an absent field is defaulted; where it has a
plain string or int (`restartPolicy`, `protocol`, a probe's `periodSeconds`), an empty or zero
value is defaulted as well, since Kubernetes cannot tell it from absent.

Not here: metadata.namespace "default" (the service), ClusterIP/NodePort allocation and
clusterIPs/ipFamilies (the service's allocator), admission plugins' additions (service account
token volumes, default tolerations, priority). Pure: no I/O.
"""
from __future__ import annotations

from client.kinds import Kind
from skiffpb.k8s.core.v1 import core_pb2

DEFAULT_FILE_MODE = 0o644
DEFAULT_CLIENT_IP_AFFINITY_SECONDS = 10800


def default(kind: Kind, obj) -> None:
    """Fills in Kubernetes' defaults where `obj` (a `kind`) leaves them absent."""
    fn = _DEFAULTERS.get(kind.kind)
    if fn is not None:
        fn(obj)


# --- pods -----------------------------------------------------------------------------------------

def image_tag(image: str) -> str:
    """The tag of an image reference as Kubernetes' parsers.ParseImageName reads it.

    "nginx" -> "latest", "nginx:1.14.2" -> "1.14.2", "host:5000/app" -> "latest",
    "app@sha256:..." -> "" (a digest, no tag).
    """
    name, at, _digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.rpartition(":")[2] if ":" in last else ""
    if not tag and not at:
        return "latest"
    return tag


def _default_http_get(action: core_pb2.HTTPGetAction) -> None:
    if not action.path:
        action.path = "/"
    if not action.scheme:
        action.scheme = "HTTP"


def _default_handler(handler) -> None:
    if handler.HasField("http_get"):
        _default_http_get(handler.http_get)


def _default_probe(probe: core_pb2.Probe) -> None:
    _default_handler(probe)
    if probe.timeout_seconds == 0:
        probe.timeout_seconds = 1
    if probe.period_seconds == 0:
        probe.period_seconds = 10
    if probe.success_threshold == 0:
        probe.success_threshold = 1
    if probe.failure_threshold == 0:
        probe.failure_threshold = 3


def _default_field_ref(ref: core_pb2.ObjectFieldSelector) -> None:
    if not ref.api_version:
        ref.api_version = "v1"


def default_container(c: core_pb2.Container) -> None:
    if not c.image_pull_policy:
        c.image_pull_policy = "Always" if image_tag(c.image) == "latest" else "IfNotPresent"
    if not c.termination_message_path:
        c.termination_message_path = "/dev/termination-log"
    if not c.termination_message_policy:
        c.termination_message_policy = "File"
    c.resources.SetInParent()  # a struct in Kubernetes, so `resources: {}` always shows
    for port in c.ports:
        if not port.protocol:
            port.protocol = "TCP"
    for ev in c.env:
        if ev.HasField("value_from") and ev.value_from.HasField("field_ref"):
            _default_field_ref(ev.value_from.field_ref)
    for field in ("liveness_probe", "readiness_probe", "startup_probe"):
        if c.HasField(field):
            _default_probe(getattr(c, field))
    if c.HasField("lifecycle"):
        for field in ("post_start", "pre_stop"):
            if c.lifecycle.HasField(field):
                _default_handler(getattr(c.lifecycle, field))


def default_volume(v: core_pb2.Volume) -> None:
    sources = ("host_path", "empty_dir", "secret", "persistent_volume_claim", "downward_api", "config_map")
    if not any(v.HasField(s) for s in sources):
        v.empty_dir.SetInParent()  # Kubernetes: a volume with no source is an emptyDir
    if v.HasField("host_path") and not v.host_path.HasField("type"):
        v.host_path.type = ""
    for field in ("secret", "config_map", "downward_api"):
        if v.HasField(field) and not getattr(v, field).HasField("default_mode"):
            getattr(v, field).default_mode = DEFAULT_FILE_MODE
    if v.HasField("downward_api"):
        for item in v.downward_api.items:
            if item.HasField("field_ref"):
                _default_field_ref(item.field_ref)


def default_pod_spec(spec: core_pb2.PodSpec) -> None:
    """SetDefaults_PodSpec and what it reaches (containers, volumes, probes), for Pods and templates."""
    if not spec.dns_policy:
        spec.dns_policy = "ClusterFirst"
    if not spec.restart_policy:
        spec.restart_policy = "Always"
    if spec.host_network:
        for c in list(spec.init_containers) + list(spec.containers):
            for port in c.ports:
                if port.host_port == 0:
                    port.host_port = port.container_port
    spec.security_context.SetInParent()
    if not spec.HasField("termination_grace_period_seconds"):
        spec.termination_grace_period_seconds = 30
    if not spec.scheduler_name:
        spec.scheduler_name = "default-scheduler"
    for v in spec.volumes:
        default_volume(v)
    for c in list(spec.init_containers) + list(spec.containers):
        default_container(c)


def _pod(pod) -> None:
    spec = pod.spec
    default_pod_spec(spec)
    # Only on Pods, not on templates (SetDefaults_Pod): requests default to limits, service links on.
    for c in list(spec.containers) + list(spec.init_containers):
        for name, q in c.resources.limits.items():
            if name not in c.resources.requests:
                c.resources.requests[name].CopyFrom(q)
    if not spec.HasField("enable_service_links"):
        spec.enable_service_links = True


# --- workloads ------------------------------------------------------------------------------------

def _deployment(d) -> None:
    spec = d.spec
    if not spec.HasField("replicas"):
        spec.replicas = 1
    strategy = spec.strategy
    if not strategy.type:
        strategy.type = "RollingUpdate"
    if strategy.type == "RollingUpdate":
        ru = strategy.rolling_update
        ru.SetInParent()
        if not ru.HasField("max_unavailable"):
            ru.max_unavailable.str_val = "25%"
        if not ru.HasField("max_surge"):
            ru.max_surge.str_val = "25%"
    if not spec.HasField("revision_history_limit"):
        spec.revision_history_limit = 10
    if not spec.HasField("progress_deadline_seconds"):
        spec.progress_deadline_seconds = 600
    default_pod_spec(spec.template.spec)


def _replica_set(rs) -> None:
    if not rs.spec.HasField("replicas"):
        rs.spec.replicas = 1
    default_pod_spec(rs.spec.template.spec)


# --- the rest -------------------------------------------------------------------------------------

def _service(svc) -> None:
    spec = svc.spec
    if not spec.session_affinity:
        spec.session_affinity = "None"
    if spec.session_affinity == "None":
        spec.ClearField("session_affinity_config")
    elif spec.session_affinity == "ClientIP" and not spec.session_affinity_config.client_ip.HasField("timeout_seconds"):
        spec.session_affinity_config.client_ip.timeout_seconds = DEFAULT_CLIENT_IP_AFFINITY_SECONDS
    if not spec.type:
        spec.type = "ClusterIP"
    for p in spec.ports:
        if not p.protocol:
            p.protocol = "TCP"
        tp = p.target_port
        which = tp.WhichOneof("value")
        if which is None or (which == "int_val" and tp.int_val == 0) or (which == "str_val" and not tp.str_val):
            tp.int_val = p.port
    if spec.type in ("NodePort", "LoadBalancer") and not spec.external_traffic_policy:
        spec.external_traffic_policy = "Cluster"


def _endpoints(ep) -> None:
    for ss in ep.subsets:
        for port in ss.ports:
            if not port.protocol:
                port.protocol = "TCP"


def _namespace(ns) -> None:
    if not ns.status.phase:
        ns.status.phase = "Active"


def _node(node) -> None:
    status = node.status
    if status.capacity and not status.allocatable:
        for name, q in status.capacity.items():
            status.allocatable[name].CopyFrom(q)


_DEFAULTERS = {
    "Pod": _pod,
    "Deployment": _deployment,
    "ReplicaSet": _replica_set,
    "Service": _service,
    "Endpoints": _endpoints,
    "Namespace": _namespace,
    "Node": _node,
}
