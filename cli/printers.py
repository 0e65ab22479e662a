"""How `skiff get` shows objects: kubectl 1.20's tables, ages, and -o json|yaml|name|jsonpath. Pure:
`now` comes in.

Tables: each kind's columns are kubectl's (pkg/printers/internalversion as of 1.20), in its order,
the `-o wide` ones marked; -A puts NAMESPACE first and --show-labels LABELS last, as kubectl's table
decoration does. Cells are computed as kubectl computes them (pod STATUS, READY and RESTARTS by
printPod's rules, service EXTERNAL-IP and PORT(S), node STATUS and ROLES, endpoint lists cut after
three, ...). `Table` aligns the cells as kubectl's tabwriter does (three spaces of padding, a
minimum width of six, the last cell unpadded) and keeps its widths while `get -w` streams rows, so
later rows line up with the header.

Other formats: -o json|yaml (kubectl's encoders), -o name, and -o jsonpath=TEMPLATE (also
jsonpath-as-json, jsonpath-file; the dialect is in cli.jsonpath), applied to the object for a single
Get, else to a `v1 List` of the objects, exactly as kubectl does.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import yaml
from google.protobuf.message import Message

from cli import goformat, jsonpath
from client.codec import to_dict
from client.times import parse_time  # noqa: F401 - one parser; other cli modules use printers.parse_time
from client.kinds import Kind

NONE = "<none>"
Column = tuple[str, Callable[[Message, float], str]]


@dataclass(frozen=True)
class ColumnDef:
    """One of a kind's columns: its title, how to compute its cell, and whether only -o wide shows it."""
    title: str
    cell: Callable[[Message, float], str]
    wide: bool = False


# -- names --------------------------------------------------------------------------------------
def kind_ref(kind: Kind) -> str:
    """kubectl's name of a kind in messages: `deployment.apps`, `pod`, `ingress.networking.k8s.io`."""
    return f"{kind.singular}.{kind.group}" if kind.group else kind.singular


def object_name(kind: Kind, name: str) -> str:
    """`deployment.apps/web`, as `-o name` and apply print it."""
    return f"{kind_ref(kind)}/{name}"


# -- ages ---------------------------------------------------------------------------------------
def human_duration(seconds: float) -> str:
    """kubectl's duration.HumanDuration: 5s, 119s, 3m2s, 15m, 3h5m, 10h, 2d5h, 30d, 2y10d, 9y."""
    secs = int(seconds)
    if secs < -1:
        return "<invalid>"
    if secs < 0:
        return "0s"
    if secs < 60 * 2:
        return f"{secs}s"
    minutes = secs // 60
    if minutes < 10:
        s = secs % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def age(stamp: str, now: float) -> str:
    """Time since `stamp` as kubectl shows it; `<unknown>` without a timestamp."""
    t = parse_time(stamp)
    return "<unknown>" if t is None else human_duration(now - t)


# -- labels and selectors -----------------------------------------------------------------------
def format_labels(labels) -> str:
    """labels.FormatLabels: `app=web,tier=fe`, sorted by key; `<none>` when empty."""
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or NONE


def _requirement(key: str, op: str, values: Sequence[str]) -> str:
    """labels.Requirement.String: `k=v`, `k in (a,b)`, `k notin (a)`, `k`, `!k`; values sorted."""
    if op == "Exists":
        return key
    if op == "DoesNotExist":
        return "!" + key
    joined = ",".join(sorted(values))
    return f"{key}={joined}" if op == "=" else f"{key} {op.lower()} ({joined})"


def selector_string(sel) -> str | None:
    """metav1.LabelSelectorAsSelector(sel).String(): requirements sorted by key, "" for an empty
    selector; None when an operator is not one of In, NotIn, Exists, DoesNotExist."""
    reqs = [(k, "=", [v]) for k, v in sel.match_labels.items()]
    for expr in sel.match_expressions:
        if expr.operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return None
        reqs.append((expr.key, expr.operator, list(expr.values)))
    return ",".join(_requirement(*r) for r in sorted(reqs, key=lambda r: r[0]))


def format_label_selector(sel) -> str:
    """metav1.FormatLabelSelector: `app=web,tier in (a,b),!canary`; `<none>` when empty."""
    text = selector_string(sel)
    return "<error>" if text is None else (text or NONE)


# -- cells shared by several kinds --------------------------------------------------------------
def _age(obj: Message, now: float) -> str:
    return age(obj.metadata.creation_timestamp, now)


def _name(obj: Message, now: float) -> str:
    return obj.metadata.name


def _containers(spec) -> tuple[str, str]:
    """layoutContainerCells: names and images joined by commas ("" when there are none)."""
    cs = spec.template.spec.containers
    return ",".join(c.name for c in cs), ",".join(c.image for c in cs)


def load_balancer_ips(status) -> str:
    """loadBalancerStatusStringer: each ingress point's IP (else hostname), deduplicated and sorted.
    kubectl 1.20 prints tables the server renders with Wide set, so the 16-character cut never applies."""
    return ",".join(sorted({i.ip or i.hostname for i in status.ingress if i.ip or i.hostname}))


def _join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# -- pods ---------------------------------------------------------------------------------------
def pod_summary(pod: Message) -> tuple[int, int, str, int]:
    """(ready containers, containers, STATUS, RESTARTS) as kubectl 1.20's printPod computes them.

    STATUS starts as status.reason or the phase. The first init container that has not exited 0
    decides it while the pod initializes (Init:<reason>, Init:Signal:n, Init:ExitCode:n, Init:i/n);
    after that, the last container with a waiting or terminated reason (CrashLoopBackOff,
    Completed, Error, ExitCode:n, ...); "Completed" with a container still running reads Running
    (or NotReady without the Ready condition). A deletionTimestamp makes it Terminating, or Unknown
    for a pod on a lost node (reason NodeLost). RESTARTS counts the init containers while
    initializing, else the app containers; READY is 0 while initializing.
    """
    reason = pod.status.reason or pod.status.phase
    ready = restarts = 0
    initializing = False
    n_init = len(pod.spec.init_containers)
    for i, cs in enumerate(pod.status.init_container_statuses):
        restarts += cs.restart_count
        state = cs.state
        if state.HasField("terminated") and state.terminated.exit_code == 0:
            continue
        if state.HasField("terminated"):
            term = state.terminated
            if term.reason:
                reason = "Init:" + term.reason
            else:
                reason = f"Init:Signal:{term.signal}" if term.signal else f"Init:ExitCode:{term.exit_code}"
        elif state.HasField("waiting") and state.waiting.reason and state.waiting.reason != "PodInitializing":
            reason = "Init:" + state.waiting.reason
        else:
            reason = f"Init:{i}/{n_init}"
        initializing = True
        break
    if not initializing:
        restarts = 0
        has_running = False
        for cs in reversed(pod.status.container_statuses):
            restarts += cs.restart_count
            state = cs.state
            if state.HasField("waiting") and state.waiting.reason:
                reason = state.waiting.reason
            elif state.HasField("terminated") and state.terminated.reason:
                reason = state.terminated.reason
            elif state.HasField("terminated"):
                term = state.terminated
                reason = f"Signal:{term.signal}" if term.signal else f"ExitCode:{term.exit_code}"
            elif cs.ready and state.HasField("running"):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            pod_ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)
            reason = "Running" if pod_ready else "NotReady"
    if pod.metadata.HasField("deletion_timestamp"):
        reason = "Unknown" if pod.status.reason == "NodeLost" else "Terminating"
    return ready, len(pod.spec.containers), reason, restarts


def pod_status(pod: Message) -> str:
    """kubectl's STATUS of a pod (see pod_summary)."""
    return pod_summary(pod)[2]


def _pod_ready(pod: Message, now: float) -> str:
    ready, total, _, _ = pod_summary(pod)
    return f"{ready}/{total}"


def _pod_restarts(pod: Message, now: float) -> str:
    return str(pod_summary(pod)[3])


def _pod_ip(pod: Message, now: float) -> str:
    # status.podIPs[0], which Kubernetes fills from status.podIP when only that is set
    ips = [p.ip for p in pod.status.pod_ips]
    return (ips[0] if ips else pod.status.pod_ip) or NONE


def _readiness_gates(pod: Message, now: float) -> str:
    gates = pod.spec.readiness_gates
    if not gates:
        return NONE
    true = 0
    for gate in gates:
        cond = next((c for c in pod.status.conditions if c.type == gate.condition_type), None)
        true += cond is not None and cond.status == "True"
    return f"{true}/{len(gates)}"


# -- services, endpoints, ingresses -------------------------------------------------------------
def _service_cluster_ip(svc: Message, now: float) -> str:
    return (svc.spec.cluster_ips[0] if svc.spec.cluster_ips else svc.spec.cluster_ip) or NONE


def _service_external_ip(svc: Message, now: float) -> str:
    """getServiceExternalIP: external IPs; for LoadBalancer the balancer's first, `<pending>` until
    it has one; the name for ExternalName; `<unknown>` for a type kubectl does not know."""
    spec = svc.spec
    if spec.type in ("ClusterIP", "NodePort"):
        return ",".join(spec.external_ips) or NONE
    if spec.type == "LoadBalancer":
        lb = load_balancer_ips(svc.status.load_balancer)
        if spec.external_ips:
            return ",".join(([lb] if lb else []) + list(spec.external_ips))
        return lb or "<pending>"
    if spec.type == "ExternalName":
        return spec.external_name
    return "<unknown>"


def _service_ports(svc: Message, now: float) -> str:
    out = []
    for p in svc.spec.ports:
        proto = p.protocol or "TCP"
        out.append(f"{p.port}:{p.node_port}/{proto}" if p.node_port > 0 else f"{p.port}/{proto}")
    return ",".join(out) or NONE


def _endpoints(ep: Message, now: float) -> str:
    """formatEndpoints: ip:port for each port and each ready address (ports outer), the first three,
    then ` + N more...`; a bare IP for a subset without ports; `<none>` without subsets."""
    if not ep.subsets:
        return NONE
    pairs = []
    for s in ep.subsets:
        if not s.ports:
            pairs.extend(a.ip for a in s.addresses)
        else:
            pairs.extend(_join_host_port(a.ip, p.port) for p in s.ports for a in s.addresses)
    more = len(pairs) - 3
    return ",".join(pairs[:3]) + (f" + {more} more..." if more > 0 else "")


def _ingress_class(ing: Message, now: float) -> str:
    return ing.spec.ingress_class_name if ing.spec.HasField("ingress_class_name") else NONE


def _ingress_hosts(ing: Message, now: float) -> str:
    """formatHosts: the first three rules' hosts, ` + N more...` counting the further rules; `*`."""
    hosts, more = [], False
    for rule in ing.spec.rules:
        if len(hosts) == 3:
            more = True
        if not more and rule.host:
            hosts.append(rule.host)
    if not hosts:
        return "*"
    return ",".join(hosts) + (f" + {len(ing.spec.rules) - 3} more..." if more else "")


def _ingress_ports(ing: Message, now: float) -> str:
    return "80, 443" if len(ing.spec.tls) else "80"


# -- nodes --------------------------------------------------------------------------------------
def _node_status(node: Message, now: float) -> str:
    """Ready / NotReady from the (last) Ready condition, Unknown without one; `,SchedulingDisabled`."""
    ready = None
    for c in node.status.conditions:
        if c.type == "Ready":
            ready = c
    status = ["Unknown"] if ready is None else ["Ready" if ready.status == "True" else "NotReady"]
    if node.spec.unschedulable:
        status.append("SchedulingDisabled")
    return ",".join(status)


def _node_roles(node: Message, now: float) -> str:
    """The node-role.kubernetes.io/<role> labels and a kubernetes.io/role value, sorted, deduplicated."""
    roles = set()
    for k, v in node.metadata.labels.items():
        if k.startswith("node-role.kubernetes.io/"):
            if k[len("node-role.kubernetes.io/"):]:
                roles.add(k[len("node-role.kubernetes.io/"):])
        elif k == "kubernetes.io/role" and v:
            roles.add(v)
    return ",".join(sorted(roles)) or NONE


def _node_address(kind: str) -> Callable[[Message, float], str]:
    return lambda node, now: next((a.address for a in node.status.addresses if a.type == kind), NONE)


def _unknown_if_empty(value: str) -> str:
    return value or "<unknown>"


# -- events -------------------------------------------------------------------------------------
def _event_first_seen(ev: Message, now: float) -> str:
    return age(ev.first_timestamp or ev.event_time, now)


def _event_last_seen(ev: Message, now: float) -> str:
    """series.lastObservedTime, else lastTimestamp, else as FIRST SEEN (firstTimestamp or eventTime)."""
    if ev.HasField("series"):
        return age(ev.series.last_observed_time, now)
    return age(ev.last_timestamp, now) if ev.last_timestamp else _event_first_seen(ev, now)


def _event_count(ev: Message, now: float) -> str:
    if ev.HasField("series"):
        return str(ev.series.count)
    return str(ev.count or 1)  # a singleton event of the events.k8s.io API has no count


def _event_object(ev: Message, now: float) -> str:
    ref = ev.involved_object
    return f"{ref.kind.lower()}/{ref.name}" if ref.name else ref.kind.lower()


def _event_source(ev: Message, now: float) -> str:
    return ", ".join([ev.source.component] + ([ev.source.host] if ev.source.host else []))


# -- the columns of each kind -------------------------------------------------------------------
def _s(fn: Callable[[Message], Any]) -> Callable[[Message, float], str]:
    return lambda o, now: str(fn(o))


def _c(title: str, cell: Callable[[Message, float], str]) -> ColumnDef:
    return ColumnDef(title, cell)


def _w(title: str, cell: Callable[[Message, float], str]) -> ColumnDef:
    return ColumnDef(title, cell, wide=True)


def _or(value: str | None, fallback: str) -> str:
    return fallback if value is None else value


_CONTAINER_COLUMNS = [_w("CONTAINERS", lambda o, n: _containers(o.spec)[0]),
                      _w("IMAGES", lambda o, n: _containers(o.spec)[1])]

COLUMNS: dict[str, list[ColumnDef]] = {
    # kubectl 1.20's column definitions (pkg/printers/internalversion), in order; wide ones only with -o wide
    "pods": [_c("NAME", _name), _c("READY", _pod_ready), _c("STATUS", lambda o, n: pod_status(o)),
             _c("RESTARTS", _pod_restarts), _c("AGE", _age),
             _w("IP", _pod_ip), _w("NODE", lambda o, n: o.spec.node_name or NONE),
             _w("NOMINATED NODE", lambda o, n: o.status.nominated_node_name or NONE),
             _w("READINESS GATES", _readiness_gates)],
    "deployments": [_c("NAME", _name), _c("READY", lambda o, n: f"{o.status.ready_replicas}/{o.spec.replicas}"),
                    _c("UP-TO-DATE", _s(lambda o: o.status.updated_replicas)),
                    _c("AVAILABLE", _s(lambda o: o.status.available_replicas)), _c("AGE", _age),
                    *_CONTAINER_COLUMNS,
                    _w("SELECTOR", lambda o, n: _or(selector_string(o.spec.selector), "<invalid>"))],
    "replicasets": [_c("NAME", _name), _c("DESIRED", _s(lambda o: o.spec.replicas)),
                    _c("CURRENT", _s(lambda o: o.status.replicas)),
                    _c("READY", _s(lambda o: o.status.ready_replicas)), _c("AGE", _age),
                    *_CONTAINER_COLUMNS, _w("SELECTOR", lambda o, n: format_label_selector(o.spec.selector))],
    "services": [_c("NAME", _name), _c("TYPE", lambda o, n: o.spec.type), _c("CLUSTER-IP", _service_cluster_ip),
                 _c("EXTERNAL-IP", _service_external_ip), _c("PORT(S)", _service_ports), _c("AGE", _age),
                 _w("SELECTOR", lambda o, n: format_labels(o.spec.selector))],
    "nodes": [_c("NAME", _name), _c("STATUS", _node_status), _c("ROLES", _node_roles), _c("AGE", _age),
              _c("VERSION", lambda o, n: o.status.node_info.kubelet_version),
              _w("INTERNAL-IP", _node_address("InternalIP")), _w("EXTERNAL-IP", _node_address("ExternalIP")),
              _w("OS-IMAGE", lambda o, n: _unknown_if_empty(o.status.node_info.os_image)),
              _w("KERNEL-VERSION", lambda o, n: _unknown_if_empty(o.status.node_info.kernel_version)),
              _w("CONTAINER-RUNTIME", lambda o, n: _unknown_if_empty(o.status.node_info.container_runtime_version))],
    "namespaces": [_c("NAME", _name), _c("STATUS", lambda o, n: o.status.phase), _c("AGE", _age)],
    "endpoints": [_c("NAME", _name), _c("ENDPOINTS", _endpoints), _c("AGE", _age)],
    "configmaps": [_c("NAME", _name), _c("DATA", _s(lambda o: len(o.data) + len(o.binary_data))), _c("AGE", _age)],
    "events": [_c("LAST SEEN", _event_last_seen), _c("TYPE", lambda o, n: o.type), _c("REASON", lambda o, n: o.reason),
               _c("OBJECT", _event_object), _w("SUBOBJECT", lambda o, n: o.involved_object.field_path),
               _w("SOURCE", _event_source), _c("MESSAGE", lambda o, n: o.message.strip()),
               _w("FIRST SEEN", _event_first_seen), _w("COUNT", _event_count), _w("NAME", _name)],
    "ingresses": [_c("NAME", _name), _c("CLASS", _ingress_class), _c("HOSTS", _ingress_hosts),
                  _c("ADDRESS", lambda o, n: load_balancer_ips(o.status.load_balancer)),
                  _c("PORTS", _ingress_ports), _c("AGE", _age)],
    "leases": [_c("NAME", _name), _c("HOLDER", lambda o, n: o.spec.holder_identity), _c("AGE", _age)],
}


def columns(kind: Kind, *, wide: bool = False, all_namespaces: bool = False,
            show_labels: bool = False) -> list[Column]:
    """The columns `get` shows for `kind`: NAMESPACE first with -A (namespaced kinds), the wide ones
    with -o wide, LABELS last with --show-labels, as kubectl decorates its tables."""
    defs = COLUMNS.get(kind.resource, [_c("NAME", _name), _c("AGE", _age)])
    cols: list[Column] = [(d.title, d.cell) for d in defs if wide or not d.wide]
    if all_namespaces and kind.namespaced:
        cols.insert(0, ("NAMESPACE", lambda o, n: o.metadata.namespace))
    if show_labels:
        cols.append(("LABELS", lambda o, n: format_labels(o.metadata.labels)))
    return cols


def header(cols: Sequence[Column]) -> list[str]:
    return [title for title, _ in cols]


def _cell(text: str) -> str:
    # kubectl's table printer cuts a cell at its first newline and marks the cut with "..."
    i = text.find("\n")
    return text if i < 0 else text[:i] + "..."


def row(cols: Sequence[Column], obj: Message, now: float) -> list[str]:
    return [_cell(fn(obj, now)) for _, fn in cols]


class Table:
    """Aligned lines from rows of cells, as kubectl's tabwriter aligns them (min width 6, padding 3,
    the last cell unpadded, RememberWidths): widths only grow, so rows streamed by `get -w` stay
    under the header."""

    MIN_WIDTH = 6
    PADDING = 3

    def __init__(self, widths: Sequence[int] = ()):
        self.widths = list(widths)

    def lines(self, rows: Sequence[Sequence[str]]) -> list[str]:
        for r in rows:
            for i, cell in enumerate(r[:-1]):
                if i >= len(self.widths):
                    self.widths.append(0)
                self.widths[i] = max(self.widths[i], len(cell))
        return [self._line(r) for r in rows]

    def _line(self, cells: Sequence[str]) -> str:
        padded = [c.ljust(max(self.MIN_WIDTH, w + self.PADDING)) for c, w in zip(cells[:-1], self.widths)]
        return "".join(padded) + (cells[-1] if cells else "")


def format_table(cols: Sequence[Column], objs: Sequence[Message], now: float, *,
                 no_headers: bool = False) -> list[str]:
    """The header (unless `no_headers`) and one line per object, aligned; nothing for no objects."""
    if not objs:
        return []
    rows = [row(cols, o, now) for o in objs]
    return Table().lines(rows if no_headers else [header(cols)] + rows)


def no_resources(kind: Kind, namespace: str, all_namespaces: bool) -> str:
    """kubectl's notice for an empty table (on stderr)."""
    if kind.namespaced and not all_namespaces:
        return f"No resources found in {namespace} namespace."
    return "No resources found"


# -- -o formats ----------------------------------------------------------------------------------
TEMPLATE_FORMATS = ("jsonpath", "jsonpath-as-json", "jsonpath-file")
FORMATS = ("json", "jsonpath", "jsonpath-as-json", "jsonpath-file", "name", "wide", "yaml")


class OutputError(Exception):
    """An output kubectl refuses (an unknown -o, a bad template, a template failing on an object).
    The message is kubectl's without its `error: ` prefix, trailing newlines included."""


@dataclass(frozen=True)
class Output:
    """How `get` shows what it found: the -o format and the flags that shape it."""
    format: str = ""             # "" (a table), wide, json, yaml, name, or one of TEMPLATE_FORMATS
    template: str = ""           # the JSONPath template; for jsonpath-file, the file's path
    show_labels: bool = False
    no_headers: bool = False

    @property
    def table(self) -> bool:
        return self.format in ("", "wide")


def parse_output(value: str | None, template: str | None = None, *, show_labels: bool = False,
                 no_headers: bool = False) -> Output:
    """`-o` as kubectl reads it: `json`, `wide`, `jsonpath=TEMPLATE` (`-o jsonpath --template=T` too), ...

    The template is everything after the first `=`, quotes included: a shell has removed the
    quotes of `-o jsonpath='{.x}'` before skiff sees them, and kubectl prints any that are left.
    """
    value = value or ""
    name, sep, arg = value.partition("=")
    if name in TEMPLATE_FORMATS and sep:
        fmt, tmpl = name, arg
    else:
        fmt, tmpl = value, template or ""
        if not fmt and tmpl:
            fmt = "template"   # kubectl's default for --template alone: Go templates, which skiff lacks
    if fmt and fmt not in FORMATS:
        raise OutputError(f'unable to match a printer suitable for the output format "{fmt}", allowed formats '
                          f'are: {",".join(FORMATS)}')
    if fmt in TEMPLATE_FORMATS and not tmpl:
        raise OutputError("template format specified but no template given")
    if show_labels and fmt not in ("", "wide"):
        raise OutputError(f"--show-labels option cannot be used with {value or fmt} printer")
    return Output(fmt, tmpl if fmt in TEMPLATE_FORMATS else "", show_labels, no_headers)


class JSONPathPrinter:
    """-o jsonpath: the template parsed once, executed on each object or list it is given."""

    def __init__(self, text: str, *, allow_missing_keys: bool = True, as_json: bool = False):
        try:
            self.template = jsonpath.Template(text)
        except jsonpath.ParseError as e:
            raise OutputError(f"error parsing jsonpath {text}, {e}\n") from None
        self.text, self.allow_missing_keys, self.as_json = text, allow_missing_keys, as_json

    def print(self, data: Any) -> str:
        """What kubectl prints for `data` (no newline added); OutputError worded as kubectl's."""
        try:
            return self.template.execute(data, allow_missing_keys=self.allow_missing_keys, as_json=self.as_json)
        except jsonpath.ExecError as e:
            raise OutputError(
                f"error executing jsonpath {goformat.go_quote(self.text)}: Error executing template: {e}. "
                f"Printing more information for debugging the template:\n"
                f"\ttemplate was:\n\t\t{self.text}\n"
                f"\tobject given to jsonpath engine was:\n\t\t{goformat.go_syntax(data)}\n\n\n") from None


# -- -o json|yaml|name|jsonpath -------------------------------------------------------------------
def object_dict(kind: Kind, obj: Message) -> dict:
    """The object as Kubernetes' JSON, apiVersion and kind always set."""
    rest = {k: v for k, v in to_dict(obj).items() if k not in ("apiVersion", "kind")}
    return {"apiVersion": kind.api_version, "kind": kind.kind, **rest}


def list_dict(kind: Kind, objs: Sequence[Message]) -> dict:
    """Several objects as kubectl prints them: a `v1/List`."""
    return {"apiVersion": "v1", "items": [object_dict(kind, o) for o in objs], "kind": "List",
            "metadata": {"resourceVersion": "", "selfLink": ""}}


class _Dumper(yaml.SafeDumper):
    """Strings as kubectl's YAML writes them: multi-line ones as `|` blocks (the last-applied
    annotation), ones that would read back as another type ("4", "true", timestamps) double-quoted."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value.rstrip("\n") or value.endswith("\n"):
        if not any(c in value for c in "\t\r") and all(line == line.rstrip(" ") for line in value.split("\n")):
            return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    if dumper.resolve(yaml.ScalarNode, value, (True, False)) != "tag:yaml.org,2002:str":
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _represent_str)


def dump(data: Any, fmt: str) -> str:
    """`data` as kubectl's -o json (4-space indent) or -o yaml (keys sorted); ends with a newline."""
    if fmt == "json":
        return json.dumps(data, indent=4, ensure_ascii=False) + "\n"
    if fmt == "yaml":
        return yaml.dump(data, Dumper=_Dumper, sort_keys=True, default_flow_style=False, allow_unicode=True,
                         width=float("inf"))
    raise ValueError(f"unknown output format {fmt!r}")


def render_objects(kind: Kind, objs: Sequence[Message], fmt: str, *, single: bool,
                   template: JSONPathPrinter | None = None) -> str:
    """-o json|yaml|name|jsonpath output for a Get (`single`) or a List; `template` for jsonpath."""
    if fmt == "name":
        return "".join(object_name(kind, o.metadata.name) + "\n" for o in objs)
    data = object_dict(kind, objs[0]) if single and len(objs) == 1 else list_dict(kind, objs)
    if template is not None:
        return template.print(data)
    return dump(data, fmt)


def render_groups(groups: Sequence[tuple[Kind, Sequence[Message]]], fmt: str,
                  template: JSONPathPrinter | None = None) -> str:
    """-o json|yaml|name|jsonpath for a Get of several kinds (`get deploy,rs`): one v1 List of them all."""
    if fmt == "name":
        return "".join(object_name(k, o.metadata.name) + "\n" for k, objs in groups for o in objs)
    data = list_dict(groups[0][0], [])
    data["items"] = [object_dict(k, o) for k, objs in groups for o in objs]
    if template is not None:
        return template.print(data)
    return dump(data, fmt)


def render_watched(kind: Kind, obj: Message, fmt: str, template: JSONPathPrinter | None = None) -> str:
    """One object of a `get -w -o ...` stream: YAML documents are separated by `---`, as kubectl does;
    a JSONPath template is applied to each object, nothing between them."""
    if fmt == "name":
        return object_name(kind, obj.metadata.name) + "\n"
    if template is not None:
        return template.print(object_dict(kind, obj))
    if fmt == "yaml":
        return "---\n" + dump(object_dict(kind, obj), fmt)
    return dump(object_dict(kind, obj), fmt)
