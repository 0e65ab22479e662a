"""`skiff describe`'s text: kubectl 1.20's describers, line for line, for the kinds Skiff serves. Pure.

Each `describe_<kind>(obj, ..., clock)` returns the text kubectl would print. The objects `describe`
shows beside the one described (its events, a deployment's replica sets, a replica set's pods, a
service's endpoints, a node's pods and lease) come in as arguments, fetched by cli/describe.py; `clock`
carries `now` and the time zone (kubectl prints times in the local zone), so tests are exact.

Layout is kubectl's: a `Writer` takes lines whose cells end in a tab, two spaces of indent a level, and
Go's tabwriter (cli/tabwriter.py) aligns them when the text is done; `flush()` ends the alignment
blocks, as kubectl's does before an Events table. Wording, order, `<none>` and `<unset>`, the trailing
space after a condition's status: all as kubectl's describe.go (v1.20), so that eyes and scripts used
to kubectl find things where they expect them. Pod and container parts: cli/describers_pod.py.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from typing import Any, Sequence

from google.protobuf.message import Message

from cli import quantity
from cli.printers import format_label_selector, format_labels, human_duration, parse_time
from cli.tabwriter import tabwrite
from client.codec import to_dict

NONE = "<none>"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MAX_ANNOTATION_LEN = 140
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
GO_ZERO_TIME = "Mon, 01 Jan 0001 00:00:00 +0000"   # how Go formats a time that was never set


@dataclass(frozen=True)
class Clock:
    now: float
    tz: tzinfo = field(default=timezone.utc)

    def since(self, stamp: str) -> str:
        """kubectl's translateTimestampSince: `3m2s`; `<unknown>` for no time."""
        t = parse_time(stamp)
        return "<unknown>" if t is None else human_duration(self.now - t)

    def rfc1123z(self, stamp: str) -> str:
        """Go's time.RFC1123Z in the clock's zone: `Mon, 02 Jan 2006 15:04:05 -0700`."""
        t = parse_time(stamp)
        if t is None:
            return GO_ZERO_TIME
        dt = datetime.fromtimestamp(t, self.tz)
        offset = int(dt.utcoffset().total_seconds()) // 60
        sign = "-" if offset < 0 else "+"
        hh, mm = divmod(abs(offset), 60)
        return (f"{_DAYS[dt.weekday()]}, {dt.day:02d} {_MONTHS[dt.month - 1]} {dt.year:04d} "
                f"{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d} {sign}{hh:02d}{mm:02d}")


class Writer:
    """kubectl's PrefixWriter on a tabwriter: `write(level, text)` indents two spaces a level."""

    def __init__(self):
        self._segments: list[list[str]] = [[]]

    def write(self, level: int, text: str) -> None:
        self._segments[-1].append("  " * level + text)

    def line(self, text: str = "") -> None:
        """WriteLine: the text and a newline, no indent."""
        self._segments[-1].append(text + "\n")

    def flush(self) -> None:
        """Ends the current alignment blocks (tabwriter.Flush)."""
        self._segments.append([])

    def text(self) -> str:
        return "".join(tabwrite("".join(seg)) for seg in self._segments)


# -- pieces every describer uses ---------------------------------------------------------------
def labels_multiline(w: Writer, title: str, labels, *, initial: str = "", inner: str = "\t",
                     skip: Sequence[str] = ()) -> None:
    """`Labels:  app=web` with further labels on lines of their own, aligned under the first."""
    w.write(0, f"{initial}{title}:{inner}")
    keys = sorted(k for k in labels if k not in skip)
    if not keys:
        w.line(NONE)
        return
    for i, key in enumerate(keys):
        if i:
            w.write(0, initial)
            w.write(0, inner)
        w.write(0, f"{key}={labels[key]}\n")


def annotations_multiline(w: Writer, title: str, annotations) -> None:
    """Annotations, the last-applied one left out; a long or multi-line value on lines of its own."""
    w.write(0, f"{title}:\t")
    keys = sorted(k for k in annotations if k != LAST_APPLIED)
    if not keys:
        w.line(NONE)
        return
    indent = "\t"
    for i, key in enumerate(keys):
        if i:
            w.write(0, indent)
        value = annotations[key].removesuffix("\n")
        if len(value) + len(key) + 2 > MAX_ANNOTATION_LEN or "\n" in value:
            w.write(0, f"{key}:\n")
            for s in value.split("\n"):
                w.write(0, f"{indent}  {_shorten(s, MAX_ANNOTATION_LEN - 2)}\n")
        else:
            w.write(0, f"{key}: {value}\n")


def _shorten(s: str, limit: int) -> str:
    return s[:limit] + "..." if len(s) > limit else s


def controller_of(meta) -> str:
    """`ReplicaSet/web-5d4f8` for the owner that controls the object; "" when none does."""
    ref = next((r for r in meta.owner_references if r.controller), None)
    return f"{ref.kind}/{ref.name}" if ref is not None else ""


def int_or_string(v) -> str:
    """intstr.IntOrString.String(): `25%`, `1`; `0` when unset, as Go's zero value prints."""
    which = v.WhichOneof("value")
    return v.str_val if which == "str_val" else str(v.int_val)


def selector_string(sel) -> str:
    """labels.Selector.String() of metav1.LabelSelectorAsSelector: requirements sorted by key."""
    reqs: list[tuple[str, str]] = [(k, f"{k}={v}") for k, v in sel.match_labels.items()]
    for r in sel.match_expressions:
        if r.operator in ("In", "NotIn"):
            reqs.append((r.key, f"{r.key} {r.operator.lower()} ({','.join(sorted(r.values))})"))
        elif r.operator == "Exists":
            reqs.append((r.key, r.key))
        elif r.operator == "DoesNotExist":
            reqs.append((r.key, f"!{r.key}"))
    return ",".join(text for _, text in sorted(reqs))


def describe_events(w: Writer, events: Sequence[Message] | None, clock: Clock) -> None:
    """The Events section: kubectl's table, oldest first, or `Events:  <none>`; nothing when None
    (events not asked for)."""
    if events is None:
        return
    if not events:
        w.write(0, "Events:\t<none>\n")
        return
    w.flush()
    w.write(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n")
    w.write(1, "----\t------\t----\t----\t-------\n")
    for e in sorted(events, key=_event_time):
        w.write(1, f"{e.type}\t{e.reason}\t{event_age(e, clock)}\t{e.source.component or e.reporting_component}"
                   f"\t{e.message.strip()}\n")


def event_age(e: Message, clock: Clock) -> str:
    """`10s`, or `3m2s (x4 over 10m)` for an event seen several times (count or series.count)."""
    count = e.count or e.series.count
    if count > 1:
        last = e.last_timestamp or e.series.last_observed_time or e.event_time
        first = e.first_timestamp or e.event_time
        return f"{clock.since(last)} (x{count} over {clock.since(first)})"
    if e.first_timestamp:
        return clock.since(e.first_timestamp)
    return clock.since(e.event_time)


def _event_time(e: Message) -> float:
    # kubectl sorts by lastTimestamp; events written the events.k8s.io way carry eventTime instead.
    return parse_time(e.last_timestamp or e.series.last_observed_time or e.event_time or e.first_timestamp) or 0.0


def conditions_table(w: Writer, conditions) -> None:
    """Conditions with their reasons, as deployments and replica sets show them."""
    if not len(conditions):
        return
    w.write(0, "Conditions:\n  Type\tStatus\tReason\n")
    w.write(1, "----\t------\t------\n")
    for c in conditions:
        w.write(1, f"{c.type} \t{c.status}\t{c.reason}\n")


# -- deployments and replica sets ---------------------------------------------------------------
def new_and_old(deploy: Message, replica_sets: Sequence[Message]) -> tuple[Message | None, list[Message]]:
    """deploymentutil.GetAllReplicaSets: the replica sets the deployment controls; the new one is the
    oldest whose template equals the deployment's (pod-template-hash aside); the old ones shown are
    the others still asked for pods."""
    owned = [rs for rs in replica_sets
             if any(r.controller and r.uid == deploy.metadata.uid for r in rs.metadata.owner_references)]
    owned.sort(key=lambda rs: (parse_time(rs.metadata.creation_timestamp) or 0.0, rs.metadata.name))
    want = _without_hash(deploy.spec.template)
    new = next((rs for rs in owned if _without_hash(rs.spec.template) == want), None)
    old = [rs for rs in owned if rs is not new and rs.spec.replicas != 0]
    return new, old


def _without_hash(template: Message) -> Message:
    out = type(template)()
    out.CopyFrom(template)
    out.metadata.labels.pop("pod-template-hash", None)
    return out


def replica_sets_line(rss: Sequence[Message]) -> str:
    return ", ".join(f"{rs.metadata.name} ({rs.status.replicas}/{rs.spec.replicas} replicas created)"
                     for rs in rss) or NONE


def describe_deployment(d: Message, replica_sets: Sequence[Message] | None, events: Sequence[Message] | None,
                        clock: Clock) -> str:
    from cli.describers_pod import describe_pod_template
    w = Writer()
    w.write(0, f"Name:\t{d.metadata.name}\n")
    w.write(0, f"Namespace:\t{d.metadata.namespace}\n")
    w.write(0, f"CreationTimestamp:\t{clock.rfc1123z(d.metadata.creation_timestamp)}\n")
    labels_multiline(w, "Labels", d.metadata.labels)
    annotations_multiline(w, "Annotations", d.metadata.annotations)
    w.write(0, f"Selector:\t{selector_string(d.spec.selector)}\n")
    s = d.status
    w.write(0, f"Replicas:\t{d.spec.replicas} desired | {s.updated_replicas} updated | {s.replicas} total | "
               f"{s.available_replicas} available | {s.unavailable_replicas} unavailable\n")
    w.write(0, f"StrategyType:\t{d.spec.strategy.type}\n")
    w.write(0, f"MinReadySeconds:\t{d.spec.min_ready_seconds}\n")
    if d.spec.strategy.HasField("rolling_update"):
        ru = d.spec.strategy.rolling_update
        w.write(0, f"RollingUpdateStrategy:\t{int_or_string(ru.max_unavailable)} max unavailable, "
                   f"{int_or_string(ru.max_surge)} max surge\n")
    describe_pod_template(w, d.spec.template, clock)
    conditions_table(w, d.status.conditions)
    if replica_sets is not None:
        new, old = new_and_old(d, replica_sets)
        w.write(0, f"OldReplicaSets:\t{replica_sets_line(old)}\n")
        w.write(0, f"NewReplicaSet:\t{replica_sets_line([new] if new is not None else [])}\n")
    describe_events(w, events, clock)
    return w.text()


def pod_phase_counts(pods: Sequence[Message], owner_uid: str) -> tuple[int, int, int, int]:
    """(running, waiting, succeeded, failed) among the pods `owner_uid` controls."""
    counts = {"Running": 0, "Pending": 0, "Succeeded": 0, "Failed": 0}
    for p in pods:
        if not any(r.controller and r.uid == owner_uid for r in p.metadata.owner_references):
            continue
        if p.status.phase in counts:
            counts[p.status.phase] += 1
    return counts["Running"], counts["Pending"], counts["Succeeded"], counts["Failed"]


def describe_replica_set(rs: Message, pods: Sequence[Message] | None, events: Sequence[Message] | None,
                         clock: Clock, pods_error: str = "") -> str:
    from cli.describers_pod import describe_pod_template
    w = Writer()
    w.write(0, f"Name:\t{rs.metadata.name}\n")
    w.write(0, f"Namespace:\t{rs.metadata.namespace}\n")
    w.write(0, f"Selector:\t{format_label_selector(rs.spec.selector)}\n")
    labels_multiline(w, "Labels", rs.metadata.labels)
    annotations_multiline(w, "Annotations", rs.metadata.annotations)
    if controlled := controller_of(rs.metadata):
        w.write(0, f"Controlled By:\t{controlled}\n")
    w.write(0, f"Replicas:\t{rs.status.replicas} current / {rs.spec.replicas} desired\n")
    w.write(0, "Pods Status:\t")
    if pods is None:
        w.write(0, f"error in fetching pods: {pods_error}\n")
    else:
        running, waiting, succeeded, failed = pod_phase_counts(pods, rs.metadata.uid)
        w.write(0, f"{running} Running / {waiting} Waiting / {succeeded} Succeeded / {failed} Failed\n")
    describe_pod_template(w, rs.spec.template, clock)
    conditions_table(w, rs.status.conditions)
    describe_events(w, events, clock)
    return w.text()


# -- services -----------------------------------------------------------------------------------
def format_endpoints(endpoints: Message | None, port_name: str | None) -> str:
    """The first three `ip:port`s of the endpoints serving the port named `port_name` (None: any)."""
    if endpoints is None or not len(endpoints.subsets):
        return NONE
    shown: list[str] = []
    count = 0
    for ss in endpoints.subsets:
        if not len(ss.ports):
            for a in ss.addresses:
                if len(shown) < 3:
                    shown.append(a.ip)
                count += 1
            continue
        for p in ss.ports:
            if port_name is not None and p.name != port_name:
                continue
            for a in ss.addresses:
                if len(shown) < 3:
                    shown.append(f"[{a.ip}]:{p.port}" if ":" in a.ip else f"{a.ip}:{p.port}")
                count += 1
    text = ",".join(shown)
    return f"{text} + {count - 3} more..." if count > 3 else text


def describe_service(svc: Message, endpoints: Message | None, events: Sequence[Message] | None,
                     clock: Clock) -> str:
    w = Writer()
    spec = svc.spec
    w.write(0, f"Name:\t{svc.metadata.name}\n")
    w.write(0, f"Namespace:\t{svc.metadata.namespace}\n")
    labels_multiline(w, "Labels", svc.metadata.labels)
    annotations_multiline(w, "Annotations", svc.metadata.annotations)
    w.write(0, f"Selector:\t{format_labels(spec.selector)}\n")
    w.write(0, f"Type:\t{spec.type}\n")
    if spec.HasField("ip_family_policy"):
        w.write(0, f"IP Family Policy:\t{spec.ip_family_policy}\n")
    w.write(0, f"IP Families:\t{','.join(spec.ip_families) or NONE}\n")
    w.write(0, f"IP:\t{spec.cluster_ip}\n")
    w.write(0, f"IPs:\t{','.join(spec.cluster_ips) or NONE}\n")
    if len(spec.external_ips):
        w.write(0, f"External IPs:\t{','.join(spec.external_ips)}\n")
    if spec.load_balancer_ip:
        w.write(0, f"IP:\t{spec.load_balancer_ip}\n")
    if spec.external_name:
        w.write(0, f"External Name:\t{spec.external_name}\n")
    if len(svc.status.load_balancer.ingress):
        ingress = ", ".join(i.ip or i.hostname for i in svc.status.load_balancer.ingress)
        w.write(0, f"LoadBalancer Ingress:\t{ingress}\n")
    for p in spec.ports:
        name = p.name or "<unset>"
        w.write(0, f"Port:\t{name}\t{p.port}/{p.protocol}\n")
        w.write(0, f"TargetPort:\t{int_or_string(p.target_port)}/{p.protocol}\n")
        if p.node_port:
            w.write(0, f"NodePort:\t{name}\t{p.node_port}/{p.protocol}\n")
        w.write(0, f"Endpoints:\t{format_endpoints(endpoints, p.name)}\n")
    w.write(0, f"Session Affinity:\t{spec.session_affinity}\n")
    if spec.external_traffic_policy:
        w.write(0, f"External Traffic Policy:\t{spec.external_traffic_policy}\n")
    if spec.health_check_node_port:
        w.write(0, f"HealthCheck NodePort:\t{spec.health_check_node_port}\n")
    if len(spec.load_balancer_source_ranges):
        w.write(0, f"LoadBalancer Source Ranges:\t{','.join(spec.load_balancer_source_ranges)}\n")
    describe_events(w, events, clock)
    return w.text()


# -- nodes and namespaces -----------------------------------------------------------------------
def node_roles(node: Message) -> list[str]:
    roles = set()
    for k, v in node.metadata.labels.items():
        if k.startswith("node-role.kubernetes.io/") and k[len("node-role.kubernetes.io/"):]:
            roles.add(k[len("node-role.kubernetes.io/"):])
        elif k == "kubernetes.io/role" and v:
            roles.add(v)
    return sorted(roles)


def taint_string(t: Message) -> str:
    if not t.effect:
        return t.key if not t.value else f"{t.key}={t.value}:"
    return f"{t.key}:{t.effect}" if not t.value else f"{t.key}={t.value}:{t.effect}"


def describe_node(node: Message, pods: Sequence[Message] | None, lease: Message | None, lease_error: str,
                  events: Sequence[Message] | None, clock: Clock) -> str:
    """`pods`: the node's pods not Succeeded or Failed (None: could not list them); `lease`: its Lease
    in kube-node-lease (None with `lease_error` saying why)."""
    w = Writer()
    w.write(0, f"Name:\t{node.metadata.name}\n")
    w.write(0, f"Roles:\t{','.join(node_roles(node)) or NONE}\n")
    labels_multiline(w, "Labels", node.metadata.labels)
    annotations_multiline(w, "Annotations", node.metadata.annotations)
    w.write(0, f"CreationTimestamp:\t{clock.rfc1123z(node.metadata.creation_timestamp)}\n")
    w.write(0, "Taints:\t")
    taints = sorted(node.spec.taints, key=lambda t: f"{t.effect},{t.key}")
    if not taints:
        w.line(NONE)
    for i, t in enumerate(taints):
        if i:
            w.write(0, "\t")
        w.write(0, f"{taint_string(t)}\n")
    w.write(0, f"Unschedulable:\t{'true' if node.spec.unschedulable else 'false'}\n")
    if lease is not None:
        w.write(0, "Lease:\n")
        w.write(1, f"HolderIdentity:\t{lease.spec.holder_identity or '<unset>'}\n")
        for title, stamp in (("AcquireTime", lease.spec.acquire_time), ("RenewTime", lease.spec.renew_time)):
            w.write(1, f"{title}:\t{clock.rfc1123z(stamp) if stamp else '<unset>'}\n")
    else:
        w.write(0, f"Lease:\tFailed to get lease: {lease_error}\n")
    if len(node.status.conditions):
        w.write(0, "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n")
        w.write(1, "----\t------\t-----------------\t------------------\t------\t-------\n")
        for c in node.status.conditions:
            w.write(1, f"{c.type} \t{c.status} \t{clock.rfc1123z(c.last_heartbeat_time)} \t"
                       f"{clock.rfc1123z(c.last_transition_time)} \t{c.reason} \t{c.message}\n")
    w.write(0, "Addresses:\n")
    for a in node.status.addresses:
        w.write(1, f"{a.type}:\t{a.address}\n")
    for title, resources in (("Capacity", node.status.capacity), ("Allocatable", node.status.allocatable)):
        if len(resources):
            w.write(0, f"{title}:\n")
            for name in sorted(resources):
                w.write(0, f"  {name}:\t{_quantity_text(resources[name].value)}\n")
    info = node.status.node_info
    w.write(0, "System Info:\n")
    for title, value in (("Machine ID", info.machine_id), ("System UUID", info.system_uuid),
                         ("Boot ID", info.boot_id), ("Kernel Version", info.kernel_version),
                         ("OS Image", info.os_image), ("Operating System", info.operating_system),
                         ("Architecture", info.architecture),
                         ("Container Runtime Version", info.container_runtime_version),
                         ("Kubelet Version", info.kubelet_version), ("Kube-Proxy Version", info.kube_proxy_version)):
        w.write(0, f"  {title}:\t{value}\n")
    if node.spec.pod_cidr:
        w.write(0, f"PodCIDR:\t{node.spec.pod_cidr}\n")
    if len(node.spec.pod_cidrs):
        w.write(0, f"PodCIDRs:\t{','.join(node.spec.pod_cidrs)}\n")
    if node.spec.provider_id:
        w.write(0, f"ProviderID:\t{node.spec.provider_id}\n")
    if pods is None:
        w.write(0, "Pods:\tnot authorized\n")
    else:
        _node_resources(w, node, pods, clock)
    describe_events(w, events, clock)
    return w.text()


def _quantity_text(text: str) -> str:
    try:
        return str(quantity.parse(text))
    except ValueError:
        return text


def _percent(part: quantity.Quantity, whole: quantity.Quantity, milli: bool) -> int:
    scale = 1000 if milli else 1
    den = math.ceil(whole.value * scale)
    return int(float(math.ceil(part.value * scale)) / float(den) * 100) if den else 0


def _node_resources(w: Writer, node: Message, pods: Sequence[Message], clock: Clock) -> None:
    w.write(0, f"Non-terminated Pods:\t({len(pods)} in total)\n")
    w.write(1, "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAGE\n")
    w.write(1, "---------\t----\t\t------------\t----------\t---------------\t-------------\t---\n")
    source = node.status.allocatable if len(node.status.allocatable) else node.status.capacity
    alloc = {name: quantity.parse_or_zero(q.value) for name, q in source.items()}
    zero = quantity.ZERO
    total_req: dict[str, quantity.Quantity] = {}
    total_lim: dict[str, quantity.Quantity] = {}
    for pod in pods:
        req, lim = quantity.pod_requests_and_limits(pod.spec)
        for mine, into in ((req, total_req), (lim, total_lim)):
            for name, q in mine.items():
                into[name] = into[name] + q if name in into else q
        cells = []
        for values, name, milli in ((req, "cpu", True), (lim, "cpu", True), (req, "memory", False),
                                    (lim, "memory", False)):
            q = values.get(name, zero)
            cells.append(f"{q} ({_percent(q, alloc.get(name, zero), milli)}%)")
        w.write(1, f"{pod.metadata.namespace}\t{pod.metadata.name}\t\t{cells[0]}\t{cells[1]}\t{cells[2]}\t"
                   f"{cells[3]}\t{clock.since(pod.metadata.creation_timestamp)}\n")
    w.write(0, "Allocated resources:\n  (Total limits may be over 100 percent, i.e., overcommitted.)\n")
    w.write(1, "Resource\tRequests\tLimits\n")
    w.write(1, "--------\t--------\t------\n")
    for name, milli in (("cpu", True), ("memory", False), ("ephemeral-storage", False)):
        r, li = total_req.get(name, zero), total_lim.get(name, zero)
        w.write(1, f"{name}\t{r} ({_percent(r, alloc.get(name, zero), milli)}%)\t"
                   f"{li} ({_percent(li, alloc.get(name, zero), milli)}%)\n")
    standard = ("cpu", "memory", "ephemeral-storage", "pods")
    for name in sorted(n for n in alloc if n not in standard and not n.startswith("hugepages-")):
        w.write(1, f"{name}\t{total_req.get(name, zero)}\t{total_lim.get(name, zero)}\n")


def describe_namespace(ns: Message, clock: Clock) -> str:
    """Name, labels, annotations and phase. kubectl adds quotas and limit ranges; Skiff serves neither,
    and kubectl leaves those sections out for a server without them, so they are left out here."""
    w = Writer()
    w.write(0, f"Name:\t{ns.metadata.name}\n")
    labels_multiline(w, "Labels", ns.metadata.labels)
    annotations_multiline(w, "Annotations", ns.metadata.annotations)
    w.write(0, f"Status:\t{ns.status.phase}\n")
    return w.text()


def describe_config_map(cm: Message, events: Sequence[Message] | None, clock: Clock) -> str:
    w = Writer()
    w.write(0, f"Name:\t{cm.metadata.name}\n")
    w.write(0, f"Namespace:\t{cm.metadata.namespace}\n")
    labels_multiline(w, "Labels", cm.metadata.labels)
    annotations_multiline(w, "Annotations", cm.metadata.annotations)
    w.write(0, "\nData\n====\n")
    for key in sorted(cm.data):
        w.write(0, f"{key}:\n----\n")
        w.write(0, f"{cm.data[key]}\n")
    describe_events(w, events, clock)
    return w.text()


# -- any other kind -----------------------------------------------------------------------------
def describe_generic(data: dict, events: Sequence[Message] | None, clock: Clock) -> str:
    """kubectl's generic describer: name, namespace, labels, annotations, then every other field of
    the object (apiVersion, kind, metadata, spec, status...) sorted, keys as words (`Resource Version`)."""
    meta = data.get("metadata") or {}
    w = Writer()
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    labels_multiline(w, "Labels", meta.get("labels") or {})
    annotations_multiline(w, "Annotations", meta.get("annotations") or {})
    _unstructured(w, 0, data, "", (".metadata.name", ".metadata.namespace", ".metadata.labels",
                                     ".metadata.annotations"))
    describe_events(w, events, clock)
    return w.text()


def object_data(api_version: str, kind: str, obj: Message) -> dict:
    """The object as Kubernetes' JSON, apiVersion and kind set: what the generic describer walks."""
    rest = {k: v for k, v in to_dict(obj).items() if k not in ("apiVersion", "kind")}
    return {"apiVersion": api_version, "kind": kind, **rest}


def _unstructured(w: Writer, level: int, content: dict, prefix: str, skip: Sequence[str]) -> None:
    for key in sorted(content):
        value = content[key]
        path = f"{prefix}.{key}"
        if path in skip:
            continue
        if isinstance(value, dict):
            w.write(level, f"{smart_label(key)}:\n")
            _unstructured(w, level + 1, value, path, skip)
        elif isinstance(value, list):
            w.write(level, f"{smart_label(key)}:\n")
            for child in value:
                if isinstance(child, dict):
                    _unstructured(w, level + 1, child, path, skip)
                else:
                    w.write(level + 1, f"{_go_value(child)}\n")
        else:
            w.write(level, f"{smart_label(key)}:\t{_go_value(value)}\n")


def _go_value(v: Any) -> str:
    """Go's %v of a JSON value."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


_ACRONYMS = ("API", "URL", "UID", "OSB", "GUID")


def smart_label(key: str) -> str:
    """kubectl's smartLabelFor: `resourceVersion` -> `Resource Version`, `uid` -> `UID`; keys with
    characters other than letters and '-' are kept as they are."""
    if any(not (c.isalpha() or c == "-") for c in key):
        return key
    parts = [p for p in camel_split(key) if p != "_"]
    return " ".join(p.upper() if p.upper() in _ACRONYMS else p[:1].upper() + p[1:] for p in parts)


def camel_split(s: str) -> list[str]:
    """github.com/fatih/camelcase.Split: runs of one character class, an upper-case run's last letter
    moved to a following lower-case run (`HTMLParser` -> HTML, Parser)."""
    def cls(c: str) -> int:
        return 1 if c.islower() else 2 if c.isupper() else 3 if c.isdigit() else 4
    runs: list[list[str]] = []
    last = 0
    for c in s:
        k = cls(c)
        if k == last:
            runs[-1].append(c)
        else:
            runs.append([c])
        last = k
    for i in range(len(runs) - 1):
        if runs[i][0].isupper() and runs[i + 1][0].islower():
            runs[i + 1].insert(0, runs[i].pop())
    return ["".join(r) for r in runs if r]

