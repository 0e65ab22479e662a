"""`skiff describe pod`, and the container, volume and pod-template parts deployments and replica sets
share: kubectl 1.20's describePod, describeContainers, describeVolumes, DescribePodTemplate. Pure.

Split from cli/describers.py (the writer, the shared pieces and the other kinds) to keep both short.
"""
from __future__ import annotations

import math
from typing import Sequence

from google.protobuf.message import Message

from cli import quantity
from client.quantity import qos_class
from cli.describers import (NONE, Clock, Writer, annotations_multiline, controller_of, describe_events,
                            int_or_string, labels_multiline)


def describe_pod(pod: Message, events: Sequence[Message] | None, clock: Clock) -> str:
    w = Writer()
    spec, status, meta = pod.spec, pod.status, pod.metadata
    w.write(0, f"Name:\t{meta.name}\n")
    w.write(0, f"Namespace:\t{meta.namespace}\n")
    if spec.HasField("priority"):
        w.write(0, f"Priority:\t{spec.priority}\n")
    if spec.priority_class_name:
        w.write(0, f"Priority Class Name:\t{spec.priority_class_name}\n")
    w.write(0, f"Node:\t{spec.node_name + '/' + status.host_ip if spec.node_name else NONE}\n")
    if status.start_time:
        w.write(0, f"Start Time:\t{clock.rfc1123z(status.start_time)}\n")
    labels_multiline(w, "Labels", meta.labels)
    annotations_multiline(w, "Annotations", meta.annotations)
    if meta.deletion_timestamp:
        w.write(0, f"Status:\tTerminating (lasts {clock.since(meta.deletion_timestamp)})\n")
        w.write(0, f"Termination Grace Period:\t{meta.deletion_grace_period_seconds}s\n")
    else:
        w.write(0, f"Status:\t{status.phase}\n")
    if status.reason:
        w.write(0, f"Reason:\t{status.reason}\n")
    if status.message:
        w.write(0, f"Message:\t{status.message}\n")
    w.write(0, f"IP:\t{status.pod_ip}\n")
    if not len(status.pod_ips):
        w.write(0, f"IPs:\t{NONE}\n")
    else:
        w.write(0, "IPs:\n")
        for ip in status.pod_ips:
            w.write(1, f"IP:\t{ip.ip}\n")
    if controlled := controller_of(meta):
        w.write(0, f"Controlled By:\t{controlled}\n")
    if status.nominated_node_name:
        w.write(0, f"NominatedNodeName:\t{status.nominated_node_name}\n")
    resolve = lambda e: field_value(pod, e.value_from.field_ref.field_path)  # noqa: E731
    if len(spec.init_containers):
        describe_containers(w, "Init Containers", spec.init_containers, status.init_container_statuses, resolve,
                            "", clock)
    describe_containers(w, "Containers", spec.containers, status.container_statuses, resolve, "", clock)
    if len(spec.readiness_gates):
        w.write(0, "Readiness Gates:\n  Type\tStatus\n")
        for g in spec.readiness_gates:
            found = next((c.status for c in status.conditions if c.type == g.condition_type), NONE)
            w.write(1, f"{g.condition_type} \t{found} \n")
    if len(status.conditions):
        w.write(0, "Conditions:\n  Type\tStatus\n")
        for c in status.conditions:
            w.write(1, f"{c.type} \t{c.status} \n")
    describe_volumes(w, spec.volumes, "")
    w.write(0, f"QoS Class:\t{status.qos_class or qos_class(spec)}\n")
    labels_multiline(w, "Node-Selectors", spec.node_selector)
    tolerations_multiline(w, "Tolerations", spec.tolerations)
    describe_events(w, events, clock)
    return w.text()


def describe_pod_template(w: Writer, template: Message, clock: Clock) -> None:
    """The `Pod Template:` section of deployments and replica sets."""
    w.write(0, "Pod Template:\n")
    labels_multiline(w, "  Labels", template.metadata.labels)
    if len(template.metadata.annotations):
        annotations_multiline(w, "  Annotations", template.metadata.annotations)
    spec = template.spec
    if spec.service_account_name:
        w.write(1, f"Service Account:\t{spec.service_account_name}\n")
    if len(spec.init_containers):
        describe_containers(w, "Init Containers", spec.init_containers, (), None, "  ", clock)
    describe_containers(w, "Containers", spec.containers, (), None, "  ", clock)
    describe_volumes(w, spec.volumes, "  ")
    if spec.priority_class_name:
        w.write(1, f"Priority Class Name:\t{spec.priority_class_name}\n")


def tolerations_multiline(w: Writer, title: str, tolerations) -> None:
    w.write(0, f"{title}:\t")
    if not len(tolerations):
        w.line(NONE)
        return
    for i, t in enumerate(sorted(tolerations, key=lambda t: t.key)):
        if i:
            w.write(0, "\t")
        text = t.key
        if t.value:
            text += f"={t.value}"
        if t.effect:
            text += f":{t.effect}"
        if t.operator == "Exists" and not t.value:
            text += " op=Exists" if (t.key or t.effect) else "op=Exists"
        if t.HasField("toleration_seconds"):
            text += f" for {t.toleration_seconds}s"
        w.write(0, text + "\n")


# -- containers ---------------------------------------------------------------------------------
def describe_containers(w: Writer, label: str, containers, statuses, resolve, space: str, clock: Clock) -> None:
    """`resolve(env_var) -> value` of a fieldRef env var (None in templates: there is no pod yet)."""
    by_name = {s.name: s for s in statuses}
    w.write(0, f"{space}{label}:{' ' + NONE if not len(containers) else ''}\n")
    for c in containers:
        status = by_name.get(c.name)
        w.write(1, f"{' ' if space else ''}{c.name}:\n")
        if status is not None:
            w.write(2, f"Container ID:\t{status.container_id}\n")
        w.write(2, f"Image:\t{c.image}\n")
        if status is not None:
            w.write(2, f"Image ID:\t{status.image_id}\n")
        ports = ", ".join(f"{p.container_port}/{p.protocol}" for p in c.ports)
        host_ports = ", ".join(f"{p.host_port}/{p.protocol}" for p in c.ports)
        w.write(2, f"Ports:\t{ports}\n" if "," in ports else f"Port:\t{ports or NONE}\n")
        w.write(2, f"Host Ports:\t{host_ports}\n" if "," in host_ports else f"Host Port:\t{host_ports or NONE}\n")
        for title, words in (("Command", c.command), ("Args", c.args)):
            if len(words):
                w.write(2, f"{title}:\n")
                for word in words:
                    for part in word.split("\n"):
                        w.write(3, f"{part}\n")
        if status is not None:
            _state(w, "State", status.state, clock)
            if status.last_state.HasField("terminated"):
                _state(w, "Last State", status.last_state, clock)
            w.write(2, f"Ready:\t{'True' if status.ready else 'False'}\n")
            w.write(2, f"Restart Count:\t{status.restart_count}\n")
        for title, resources in (("Limits", c.resources.limits), ("Requests", c.resources.requests)):
            if len(resources):
                w.write(2, f"{title}:\n")
                for name in sorted(resources):
                    w.write(3, f"{name}:\t{_quantity_text(resources[name].value)}\n")
        for title, probe in (("Liveness", "liveness_probe"), ("Readiness", "readiness_probe"),
                             ("Startup", "startup_probe")):
            if c.HasField(probe):
                w.write(2, f"{title}:\t{describe_probe(getattr(c, probe))}\n")
        if len(c.env_from):
            _env_from(w, c)
        _env(w, c, resolve)
        _mounts(w, c)


def _quantity_text(text: str) -> str:
    try:
        return str(quantity.parse(text))
    except ValueError:
        return text


def _state(w: Writer, title: str, state: Message, clock: Clock) -> None:
    if state.HasField("running"):
        w.write(2, f"{title}:\tRunning\n")
        w.write(3, f"Started:\t{clock.rfc1123z(state.running.started_at)}\n")
    elif state.HasField("waiting"):
        w.write(2, f"{title}:\tWaiting\n")
        if state.waiting.reason:
            w.write(3, f"Reason:\t{state.waiting.reason}\n")
    elif state.HasField("terminated"):
        t = state.terminated
        w.write(2, f"{title}:\tTerminated\n")
        if t.reason:
            w.write(3, f"Reason:\t{t.reason}\n")
        if t.message:
            w.write(3, f"Message:\t{t.message}\n")
        w.write(3, f"Exit Code:\t{t.exit_code}\n")
        if t.signal > 0:
            w.write(3, f"Signal:\t{t.signal}\n")
        w.write(3, f"Started:\t{clock.rfc1123z(t.started_at)}\n")
        w.write(3, f"Finished:\t{clock.rfc1123z(t.finished_at)}\n")
    else:
        w.write(2, f"{title}:\tWaiting\n")


def describe_probe(probe: Message) -> str:
    """`http-get http://:8080/healthz delay=0s timeout=1s period=10s #success=1 #failure=3`."""
    attrs = (f"delay={probe.initial_delay_seconds}s timeout={probe.timeout_seconds}s period={probe.period_seconds}s "
             f"#success={probe.success_threshold} #failure={probe.failure_threshold}")
    if probe.HasField("exec"):
        return f"exec [{' '.join(probe.exec.command)}] {attrs}"
    if probe.HasField("http_get"):
        h = probe.http_get
        port = int_or_string(h.port) if h.HasField("port") else ""
        host = f"[{h.host}]" if ":" in h.host else h.host
        netloc = f"{host}:{port}" if port else host
        scheme = h.scheme.lower()
        url = (f"{scheme}:" if scheme else "") + f"//{netloc}{h.path}"
        return f"http-get {url} {attrs}"
    if probe.HasField("tcp_socket"):
        return f"tcp-socket {probe.tcp_socket.host}:{int_or_string(probe.tcp_socket.port)} {attrs}"
    return f"unknown {attrs}"


def _env_from(w: Writer, c: Message) -> None:
    w.write(2, "Environment Variables from:\n")
    for e in c.env_from:
        if e.HasField("config_map_ref"):
            source, name, optional = "ConfigMap", e.config_map_ref.name, e.config_map_ref.optional
        elif e.HasField("secret_ref"):
            source, name, optional = "Secret", e.secret_ref.name, e.secret_ref.optional
        else:
            source, name, optional = "", "", False
        opt = "true" if optional else "false"
        if e.prefix:
            w.write(3, f"{name}\t{source} with prefix '{e.prefix}'\tOptional: {opt}\n")
        else:
            w.write(3, f"{name}\t{source}\tOptional: {opt}\n")


def _env(w: Writer, c: Message, resolve) -> None:
    w.write(2, f"Environment:{chr(9) + NONE if not len(c.env) else ''}\n")
    for e in c.env:
        if not e.HasField("value_from"):
            for i, line in enumerate(e.value.split("\n")):
                w.write(3, f"{e.name}:\t{line}\n" if i == 0 else f"\t{line}\n")
            continue
        vf = e.value_from
        if vf.HasField("field_ref"):
            value = resolve(e) if resolve is not None else ""
            w.write(3, f"{e.name}:\t{value} ({vf.field_ref.api_version}:{vf.field_ref.field_path})\n")
        elif vf.HasField("resource_field_ref"):
            ref = vf.resource_field_ref
            value = resource_value(c, ref.resource, ref.divisor.value if ref.HasField("divisor") else "")
            if value == "0" and ref.resource in ("limits.cpu", "limits.memory"):
                value = "node allocatable"
            w.write(3, f"{e.name}:\t{value} ({ref.resource})\n")
        elif vf.HasField("secret_key_ref"):
            ref = vf.secret_key_ref
            w.write(3, f"{e.name}:\t<set to the key '{ref.key}' in secret '{ref.name}'>\t"
                       f"Optional: {'true' if ref.optional else 'false'}\n")
        elif vf.HasField("config_map_key_ref"):
            ref = vf.config_map_key_ref
            w.write(3, f"{e.name}:\t<set to the key '{ref.key}' of config map '{ref.name}'>\t"
                       f"Optional: {'true' if ref.optional else 'false'}\n")


def resource_value(c: Message, resource: str, divisor: str) -> str:
    """A container's `limits.cpu`/`requests.memory`... divided by the divisor and rounded up, as the
    downward API computes it; "0" when not set (kubectl then says `node allocatable` for limits)."""
    kind, _, name = resource.partition(".")
    values = c.resources.limits if kind == "limits" else c.resources.requests
    if name not in values:
        return "0"
    value = quantity.parse_or_zero(values[name].value).value
    div = quantity.parse_or_zero(divisor).value if divisor else 1
    return str(math.ceil(value / (div or 1)))


def _mounts(w: Writer, c: Message) -> None:
    w.write(2, f"Mounts:{chr(9) + NONE if not len(c.volume_mounts) else ''}\n")
    for m in sorted(c.volume_mounts, key=lambda m: m.mount_path):
        flags = ["ro" if m.read_only else "rw"]
        if m.sub_path:
            flags.append(f'path="{m.sub_path}"')
        w.write(3, f"{m.mount_path} from {m.name} ({','.join(flags)})\n")
    if len(c.volume_devices):
        w.write(2, "Devices:\n")
        for d in sorted(c.volume_devices, key=lambda d: d.device_path):
            w.write(3, f"{d.device_path} from {d.name}\n")


def field_value(pod: Message, path: str) -> str:
    """The downward API's value of `path` for this pod (metadata.name, status.podIP, metadata.labels['x'])."""
    meta = pod.metadata
    simple = {"metadata.name": meta.name, "metadata.namespace": meta.namespace, "metadata.uid": meta.uid,
              "spec.nodeName": pod.spec.node_name, "spec.serviceAccountName": pod.spec.service_account_name,
              "status.hostIP": pod.status.host_ip, "status.podIP": pod.status.pod_ip,
              "status.podIPs": ",".join(ip.ip for ip in pod.status.pod_ips)}
    if path in simple:
        return simple[path]
    for prefix, values in (("metadata.labels", meta.labels), ("metadata.annotations", meta.annotations)):
        if path == prefix:
            return "\n".join(f'{k}="{v}"' for k, v in sorted(values.items()))
        if path.startswith(prefix + "['") and path.endswith("']"):
            return values.get(path[len(prefix) + 2:-2], "")
    return ""


# -- volumes ------------------------------------------------------------------------------------
def describe_volumes(w: Writer, volumes, space: str) -> None:
    if not len(volumes):
        w.write(0, f"{space}Volumes:\t{NONE}\n")
        return
    w.write(0, f"{space}Volumes:\n")
    for v in volumes:
        w.write(1, f"{' ' if space else ''}{v.name}:\n")
        if v.HasField("host_path"):
            w.write(2, "Type:\tHostPath (bare host directory volume)\n"
                       f"    Path:\t{v.host_path.path}\n"
                       f"    HostPathType:\t{v.host_path.type if v.host_path.HasField('type') else NONE}\n")
        elif v.HasField("empty_dir"):
            size = v.empty_dir.size_limit.value if v.empty_dir.HasField("size_limit") else ""
            limit = _quantity_text(size) if size and quantity.parse_or_zero(size).value > 0 else "<unset>"
            w.write(2, "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n"
                       f"    Medium:\t{v.empty_dir.medium}\n    SizeLimit:\t{limit}\n")
        elif v.HasField("secret"):
            w.write(2, "Type:\tSecret (a volume populated by a Secret)\n"
                       f"    SecretName:\t{v.secret.secret_name}\n"
                       f"    Optional:\t{'true' if v.secret.optional else 'false'}\n")
        elif v.HasField("config_map"):
            w.write(2, "Type:\tConfigMap (a volume populated by a ConfigMap)\n"
                       f"    Name:\t{v.config_map.name}\n"
                       f"    Optional:\t{'true' if v.config_map.optional else 'false'}\n")
        elif v.HasField("persistent_volume_claim"):
            pvc = v.persistent_volume_claim
            w.write(2, "Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same "
                       f"namespace)\n    ClaimName:\t{pvc.claim_name}\n"
                       f"    ReadOnly:\t{'true' if pvc.read_only else 'false'}\n")
        elif v.HasField("downward_api"):
            w.write(2, "Type:\tDownwardAPI (a volume populated by information about the pod)\n    Items:\n")
            for item in v.downward_api.items:
                if item.HasField("field_ref"):
                    w.write(3, f"{item.field_ref.field_path} -> {item.path}\n")
                if item.HasField("resource_field_ref"):
                    w.write(3, f"{item.resource_field_ref.resource} -> {item.path}\n")
        else:
            w.write(1, "<unknown>\n")
