"""How `skiff get` shows objects: kubectl-like tables, ages, and -o json|yaml|name. Pure: `now` comes in.

Columns follow kubectl's for the kinds this issue needs (pods, deployments, replicasets, services,
nodes, namespaces, ...); the next issue completes them. Rows are lists of cells; `Table` aligns them
as kubectl's tabwriter does (three spaces between columns) and keeps its widths while `get -w` streams
rows, so later rows line up with the header.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

import yaml
from google.protobuf.message import Message

from client.codec import to_dict
from client.kinds import Kind

NONE = "<none>"
Column = tuple[str, Callable[[Message, float], str]]


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


def parse_time(stamp: str) -> float | None:
    """An RFC 3339 timestamp ("2026-11-26T01:02:03Z", with or without fractions) as epoch seconds."""
    if not stamp:
        return None
    try:
        dt = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def age(stamp: str, now: float) -> str:
    """Time since `stamp` as kubectl shows it; `<unknown>` without a timestamp."""
    t = parse_time(stamp)
    return "<unknown>" if t is None else human_duration(now - t)


# -- columns per kind ---------------------------------------------------------------------------
def _age(obj: Message, now: float) -> str:
    return age(obj.metadata.creation_timestamp, now)


def _containers(spec) -> tuple[str, str]:
    cs = spec.template.spec.containers
    return ",".join(c.name for c in cs) or NONE, ",".join(c.image for c in cs) or NONE


def format_label_selector(sel) -> str:
    """metav1.FormatLabelSelector: `app=web,tier in (a,b),!canary`; `<none>` when empty."""
    parts = [f"{k}={v}" for k, v in sorted(sel.match_labels.items())]
    for req in sel.match_expressions:
        op = req.operator
        if op in ("In", "NotIn"):
            parts.append(f"{req.key} {op.lower()} ({','.join(req.values)})")
        elif op == "Exists":
            parts.append(req.key)
        elif op == "DoesNotExist":
            parts.append(f"!{req.key}")
        else:
            parts.append(f"{req.key} {op} ({','.join(req.values)})")
    return ",".join(parts) or NONE


def format_labels(labels) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or NONE


def pod_status(pod: Message) -> str:
    """kubectl's STATUS of a pod: a waiting/terminated reason, Init:x/y, Running, Terminating, ..."""
    reason = pod.status.reason or pod.status.phase
    initializing = False
    n_init = len(pod.spec.init_containers)
    for i, cs in enumerate(pod.status.init_container_statuses):
        term, wait = cs.state.terminated, cs.state.waiting
        if cs.state.HasField("terminated") and term.exit_code == 0:
            continue
        if cs.state.HasField("terminated"):
            reason = "Init:" + (term.reason or (f"Signal:{term.signal}" if term.signal else f"ExitCode:{term.exit_code}"))
        elif cs.state.HasField("waiting") and wait.reason and wait.reason != "PodInitializing":
            reason = "Init:" + wait.reason
        else:
            reason = f"Init:{i}/{n_init}"
        initializing = True
        break
    if not initializing:
        has_running = False
        for cs in reversed(pod.status.container_statuses):
            term, wait = cs.state.terminated, cs.state.waiting
            if cs.state.HasField("waiting") and wait.reason:
                reason = wait.reason
            elif cs.state.HasField("terminated") and term.reason:
                reason = term.reason
            elif cs.state.HasField("terminated"):
                reason = f"Signal:{term.signal}" if term.signal else f"ExitCode:{term.exit_code}"
            elif cs.ready and cs.state.HasField("running"):
                has_running = True
        if reason == "Completed" and has_running:
            ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)
            reason = "Running" if ready else "NotReady"
    if pod.metadata.HasField("deletion_timestamp"):
        reason = "Unknown" if pod.status.reason == "NodeLost" else "Terminating"
    return reason or "Pending"


def _pod_ready(pod: Message, now: float) -> str:
    ready = sum(1 for cs in pod.status.container_statuses if cs.ready and cs.state.HasField("running"))
    return f"{ready}/{len(pod.spec.containers)}"


def _pod_restarts(pod: Message, now: float) -> str:
    return str(sum(cs.restart_count for cs in pod.status.container_statuses))


def _service_external_ip(svc: Message) -> str:
    spec = svc.spec
    if spec.type == "ExternalName":
        return spec.external_name or NONE
    ips = list(spec.external_ips)
    if spec.type == "LoadBalancer":
        lb = [i.ip or i.hostname for i in svc.status.load_balancer.ingress]
        return ",".join(lb + ips) or "<pending>"
    return ",".join(ips) or NONE


def _service_ports(svc: Message, now: float) -> str:
    out = []
    for p in svc.spec.ports:
        proto = p.protocol or "TCP"
        out.append(f"{p.port}:{p.node_port}/{proto}" if p.node_port else f"{p.port}/{proto}")
    return ",".join(out) or NONE


def _node_status(node: Message, now: float) -> str:
    ready = next((c for c in node.status.conditions if c.type == "Ready"), None)
    status = "Unknown" if ready is None else ("Ready" if ready.status == "True" else "NotReady")
    return status + (",SchedulingDisabled" if node.spec.unschedulable else "")


def _node_roles(node: Message, now: float) -> str:
    roles = sorted(k.split("/", 1)[1] for k in node.metadata.labels
                   if k.startswith("node-role.kubernetes.io/") and "/" in k)
    if node.metadata.labels.get("kubernetes.io/role"):
        roles.append(node.metadata.labels["kubernetes.io/role"])
    return ",".join(roles) or NONE


def _node_address(kind: str) -> Callable[[Message, float], str]:
    return lambda node, now: next((a.address for a in node.status.addresses if a.type == kind), NONE)


def _endpoints(ep: Message, now: float) -> str:
    pairs = [f"{a.ip}:{p.port}" if s.ports else a.ip
             for s in ep.subsets for a in s.addresses for p in (s.ports or [None])]
    if not pairs:
        return NONE
    return ",".join(pairs[:3]) + (f" + {len(pairs) - 3} more..." if len(pairs) > 3 else "")


def _ingress_hosts(ing: Message, now: float) -> str:
    return ",".join(r.host for r in ing.spec.rules if r.host) or "*"


def _ingress_ports(ing: Message, now: float) -> str:
    return "80, 443" if len(ing.spec.tls) else "80"


def _event_object(ev: Message, now: float) -> str:
    return f"{ev.involved_object.kind.lower()}/{ev.involved_object.name}"


def _event_last_seen(ev: Message, now: float) -> str:
    return age(ev.last_timestamp or ev.event_time or ev.metadata.creation_timestamp, now)


def _name(obj: Message, now: float) -> str:
    return obj.metadata.name


_s = str
COLUMNS: dict[str, tuple[list[Column], list[Column]]] = {
    # resource: (columns, extra columns for -o wide)
    "pods": ([("NAME", _name), ("READY", _pod_ready), ("STATUS", lambda o, n: pod_status(o)),
              ("RESTARTS", _pod_restarts), ("AGE", _age)],
             [("IP", lambda o, n: o.status.pod_ip or NONE), ("NODE", lambda o, n: o.spec.node_name or NONE),
              ("NOMINATED NODE", lambda o, n: o.status.nominated_node_name or NONE),
              ("READINESS GATES", lambda o, n: NONE if not len(o.spec.readiness_gates) else
               f"0/{len(o.spec.readiness_gates)}")]),
    "deployments": ([("NAME", _name), ("READY", lambda o, n: f"{o.status.ready_replicas}/{o.spec.replicas}"),
                     ("UP-TO-DATE", lambda o, n: _s(o.status.updated_replicas)),
                     ("AVAILABLE", lambda o, n: _s(o.status.available_replicas)), ("AGE", _age)],
                    [("CONTAINERS", lambda o, n: _containers(o.spec)[0]),
                     ("IMAGES", lambda o, n: _containers(o.spec)[1]),
                     ("SELECTOR", lambda o, n: format_label_selector(o.spec.selector))]),
    "replicasets": ([("NAME", _name), ("DESIRED", lambda o, n: _s(o.spec.replicas)),
                     ("CURRENT", lambda o, n: _s(o.status.replicas)),
                     ("READY", lambda o, n: _s(o.status.ready_replicas)), ("AGE", _age)],
                    [("CONTAINERS", lambda o, n: _containers(o.spec)[0]),
                     ("IMAGES", lambda o, n: _containers(o.spec)[1]),
                     ("SELECTOR", lambda o, n: format_label_selector(o.spec.selector))]),
    "services": ([("NAME", _name), ("TYPE", lambda o, n: o.spec.type or "ClusterIP"),
                  ("CLUSTER-IP", lambda o, n: o.spec.cluster_ip or NONE),
                  ("EXTERNAL-IP", lambda o, n: _service_external_ip(o)), ("PORT(S)", _service_ports),
                  ("AGE", _age)],
                 [("SELECTOR", lambda o, n: format_labels(o.spec.selector))]),
    "nodes": ([("NAME", _name), ("STATUS", _node_status), ("ROLES", _node_roles), ("AGE", _age),
               ("VERSION", lambda o, n: o.status.node_info.kubelet_version or NONE)],
              [("INTERNAL-IP", _node_address("InternalIP")), ("EXTERNAL-IP", _node_address("ExternalIP")),
               ("OS-IMAGE", lambda o, n: o.status.node_info.os_image or "<unknown>"),
               ("KERNEL-VERSION", lambda o, n: o.status.node_info.kernel_version or "<unknown>"),
               ("CONTAINER-RUNTIME", lambda o, n: o.status.node_info.container_runtime_version or "<unknown>")]),
    "namespaces": ([("NAME", _name), ("STATUS", lambda o, n: o.status.phase or "Active"), ("AGE", _age)], []),
    "endpoints": ([("NAME", _name), ("ENDPOINTS", _endpoints), ("AGE", _age)], []),
    "configmaps": ([("NAME", _name), ("DATA", lambda o, n: _s(len(o.data) + len(o.binary_data))),
                    ("AGE", _age)], []),
    "events": ([("LAST SEEN", _event_last_seen), ("TYPE", lambda o, n: o.type), ("REASON", lambda o, n: o.reason),
                ("OBJECT", _event_object), ("MESSAGE", lambda o, n: o.message)], []),
    "ingresses": ([("NAME", _name), ("CLASS", lambda o, n: o.spec.ingress_class_name or NONE),
                   ("HOSTS", _ingress_hosts),
                   ("ADDRESS", lambda o, n: ",".join(i.ip or i.hostname for i in o.status.load_balancer.ingress)),
                   ("PORTS", _ingress_ports), ("AGE", _age)], []),
    "leases": ([("NAME", _name), ("HOLDER", lambda o, n: o.spec.holder_identity), ("AGE", _age)], []),
}


def columns(kind: Kind, *, wide: bool = False, all_namespaces: bool = False) -> list[Column]:
    """The columns `get` shows for `kind`; NAMESPACE first with -A."""
    base, extra = COLUMNS.get(kind.resource, ([("NAME", _name), ("AGE", _age)], []))
    cols = list(base) + (list(extra) if wide else [])
    if all_namespaces and kind.namespaced:
        cols.insert(0, ("NAMESPACE", lambda o, n: o.metadata.namespace))
    return cols


def header(cols: Sequence[Column]) -> list[str]:
    return [title for title, _ in cols]


def row(cols: Sequence[Column], obj: Message, now: float) -> list[str]:
    return [fn(obj, now) for _, fn in cols]


class Table:
    """Aligned lines from rows of cells; widths only grow, so streamed rows stay under the header."""

    def __init__(self, widths: Sequence[int] = ()):
        self.widths = list(widths)

    def lines(self, rows: Sequence[Sequence[str]]) -> list[str]:
        for r in rows:
            for i, cell in enumerate(r):
                if i >= len(self.widths):
                    self.widths.append(0)
                self.widths[i] = max(self.widths[i], len(cell))
        return [self._line(r) for r in rows]

    def _line(self, cells: Sequence[str]) -> str:
        return "   ".join(c.ljust(w) for c, w in zip(cells, self.widths)).rstrip()


def format_table(cols: Sequence[Column], objs: Sequence[Message], now: float) -> list[str]:
    """The header and one line per object, aligned."""
    return Table().lines([header(cols)] + [row(cols, o, now) for o in objs])


def no_resources(kind: Kind, namespace: str, all_namespaces: bool) -> str:
    """kubectl's notice for an empty table (on stderr)."""
    if kind.namespaced and not all_namespaces:
        return f"No resources found in {namespace} namespace."
    return "No resources found"


# -- -o json|yaml|name --------------------------------------------------------------------------
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


def render_objects(kind: Kind, objs: Sequence[Message], fmt: str, *, single: bool) -> str:
    """-o json|yaml|name output for a Get (`single`) or a List."""
    if fmt == "name":
        return "".join(object_name(kind, o.metadata.name) + "\n" for o in objs)
    if single and len(objs) == 1:
        return dump(object_dict(kind, objs[0]), fmt)
    return dump(list_dict(kind, objs), fmt)


def render_watched(kind: Kind, obj: Message, fmt: str) -> str:
    """One object of a `get -w -o ...` stream: YAML documents are separated by `---`, as kubectl does."""
    if fmt == "name":
        return object_name(kind, obj.metadata.name) + "\n"
    if fmt == "yaml":
        return "---\n" + dump(object_dict(kind, obj), fmt)
    return dump(object_dict(kind, obj), fmt)
