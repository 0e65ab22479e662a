"""`skiff expose`: a Service in front of a deployment, replica set, pod or service, as kubectl expose.

    skiff expose deployment web --port=80 --target-port=8080     # service/web exposed
    skiff expose pod/web-1 --name=web-debug --type=NodePort       # port taken from the pod's containers
    skiff expose svc web --name=web-public --type=LoadBalancer    # a second Service over the same pods

`service_for(kind, obj, options)` is pure and follows kubectl 1.20's expose plus its service/v2
generator field by field:
- selector: --selector (`k=v,k2=v2`, equality only), else the object's: a deployment's or replica
  set's `spec.selector.matchLabels` (matchExpressions cannot be converted: refused), a pod's labels,
  a service's `spec.selector`;
- ports: --port, else every container port of the object (a service: its ports); several ports are
  named `port-1`, `port-2`, ...; none at all is `couldn't find port via --port flag or introspection`
  (unless --cluster-ip=None, a headless service);
- targetPort: --target-port (a number, or a port name), else the port itself;
- protocol: --protocol, else the protocol of the object's port with the same number, else TCP
  (kubectl 1.20 refuses a --port that matches no port of a multi-protocol object; Skiff takes TCP);
- labels: --labels, else the object's own labels; name: --name, else the object's (at most 63 chars);
- type, externalIPs, loadBalancerIP (LoadBalancer only), sessionAffinity, clusterIP from the flags.
The built object is a dict in Go's field order with kubectl's empty markers, so --dry-run=client -o
yaml reads as kubectl's. Usage errors end, as kubectl's do, with `See 'skiff expose -h' for help and
examples`.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Mapping

from google.protobuf.message import Message

from cli import outcome, record
from cli.api import ServerError
from cli.commands import (FILES_AND_RESOURCES, NO_RESOURCES, Context, UsageError, file_targets, namespace_of,
                          resolve_targets)
from client import codec, kinds
from client.kinds import Kind

EXPOSABLE = ("pods", "services", "deployments", "replicasets")
DNS1035_LABEL_MAX = 63
HELP_HINT = "See 'skiff expose -h' for help and examples"


class ExposeError(ValueError):
    """Why no Service can be built; `usage` errors get kubectl's help hint appended."""

    def __init__(self, message: str, *, usage: bool = False):
        super().__init__(f"{message}\n{HELP_HINT}" if usage else message)


@dataclass(frozen=True)
class Options:
    """The flags of `skiff expose`, as strings the way kubectl's generator takes them ("" = not given)."""
    name: str = ""
    port: str = ""
    target_port: str = ""
    protocol: str = ""
    type: str = ""
    selector: str = ""
    labels: str = ""
    external_ip: str = ""
    load_balancer_ip: str = ""
    session_affinity: str = ""
    cluster_ip: str = ""


def add_parsers(subs: dict, make_parser, global_flags) -> None:
    p = subs["expose"] = make_parser(
        prog="skiff expose", formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="skiff expose deployment|rs|pod|service NAME | TYPE/NAME | -f FILE [--port=PORT] [flags]",
        description="""\
Create a Service for a deployment, replica set, pod or service: its selector (or the pod's labels)
selects the pods, its container ports (or --port) become the service's ports.

Examples:
  skiff expose deployment web --port=80 --target-port=8080
  skiff expose deploy/web --type=NodePort
  skiff expose pod web-1 --port=8080 --name=web-debug
  skiff expose service web --port=443 --target-port=8443 --name=web-tls""")
    global_flags(p, suppress=True)
    p.add_argument("args", nargs="*", metavar="TYPE NAME", help="what to expose: a kind and name, or kind/name")
    p.add_argument("-f", "--filename", action="append", default=[], metavar="FILE",
                   help="expose the objects in a file, a directory, a URL, or - for stdin")
    p.add_argument("--port", metavar="PORT", help="the service's port (default: the object's ports)")
    p.add_argument("--target-port", "--container-port", metavar="PORT|NAME",
                   help="the pods' port the service forwards to (default: --port)")
    p.add_argument("--protocol", metavar="TCP|UDP|SCTP", help="the ports' protocol (default: the object's, else TCP)")
    p.add_argument("--type", metavar="TYPE", help="ClusterIP (default), NodePort, LoadBalancer or ExternalName")
    p.add_argument("--name", metavar="NAME", help="the service's name (default: the object's)")
    p.add_argument("--selector", metavar="K=V,...", help="the pod selector (default: the object's)")
    p.add_argument("-l", "--labels", metavar="K=V,...", help="the service's labels (default: the object's)")
    p.add_argument("--external-ip", metavar="IP", help="an external IP the service also accepts traffic on")
    p.add_argument("--load-balancer-ip", metavar="IP", help="with --type=LoadBalancer: the IP to ask for")
    p.add_argument("--session-affinity", metavar="None|ClientIP", help="ClientIP: keep a client on one pod")
    p.add_argument("--cluster-ip", metavar="IP", help="the ClusterIP to ask for; None for a headless service")
    outcome.add_flags(p)
    record.add_flag(p)


# -- pure: introspection ------------------------------------------------------------------------
def _format(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def selector_of(kind: Kind, obj: Message) -> str:
    """kubectl's MapBasedSelectorForObject: the pod selector of `obj` as `k=v,...`; ExposeError if none."""
    if kind.resource == "pods":
        if not obj.metadata.labels:
            raise ExposeError("the pod has no labels and cannot be exposed")
        return _format(obj.metadata.labels)
    if kind.resource == "services":
        if not obj.spec.selector:
            raise ExposeError("the service has no pod selector set")
        return _format(obj.spec.selector)
    if kind.resource in ("deployments", "replicasets"):
        sel = obj.spec.selector
        if not sel.match_labels:
            raise ExposeError(f"invalid {kind.singular}: no selectors, therefore cannot be exposed")
        if len(sel.match_expressions):
            exprs = [codec.to_dict(e) for e in sel.match_expressions]
            raise ExposeError(f'couldn\'t convert expressions - "{exprs}" to map-based selector format')
        return _format(sel.match_labels)
    raise ExposeError(f"cannot extract pod selector from {kind.kind}")


def ports_of(kind: Kind, obj: Message) -> list[tuple[str, str]]:
    """(port, protocol) of every port `obj` declares, in order: container ports, or a service's ports."""
    if kind.resource == "services":
        return [(str(p.port), p.protocol or "TCP") for p in obj.spec.ports]
    spec = obj.spec if kind.resource == "pods" else obj.spec.template.spec
    return [(str(p.container_port), p.protocol or "TCP") for c in spec.containers for p in c.ports]


def parse_labels(text: str) -> dict[str, str]:
    """kubectl's generate.ParseLabels: `k=v,k2=v2` only (no set-based expressions)."""
    if not text:
        raise ExposeError("no label spec passed")
    out: dict[str, str] = {}
    for spec in text.split(","):
        parts = spec.split("=")
        if len(parts) != 2:
            raise ExposeError(f"unexpected label spec: {spec}")
        if not parts[0]:
            raise ExposeError("unexpected empty label key")
        out[parts[0]] = parts[1]
    return out


def _atoi(text: str) -> int:
    try:
        if not text.lstrip("+-").isdigit():
            raise ValueError
        return int(text)
    except ValueError:
        raise ExposeError(f'strconv.Atoi: parsing "{text}": invalid syntax') from None


# -- pure: the Service --------------------------------------------------------------------------
def service_for(kind: Kind, obj: Message, opts: Options) -> dict:
    """The Service kubectl would create to expose `obj`; ExposeError when it cannot be built."""
    if kind.resource not in EXPOSABLE:
        raise ExposeError(f"cannot expose a {kind.kind}{'.' + kind.group if kind.group else ''}")
    selector_text = opts.selector
    if not selector_text:
        try:
            selector_text = selector_of(kind, obj)
        except ExposeError as e:
            raise ExposeError(f"couldn't retrieve selectors via --selector flag or introspection: {e}",
                              usage=True) from None
    headless = opts.cluster_ip == "None"
    declared = ports_of(kind, obj)
    ports = [opts.port] if opts.port else [p for p, _ in declared]
    if not ports and not headless:
        raise ExposeError("couldn't find port via --port flag or introspection", usage=True)
    protocols = dict(declared)
    labels_text = opts.labels or _format(obj.metadata.labels)
    selector = parse_labels(selector_text)
    labels = parse_labels(labels_text) if labels_text else {}
    name = opts.name or obj.metadata.name[:DNS1035_LABEL_MAX]

    service_ports = []
    for i, text in enumerate(ports):
        number = _atoi(text)
        port: dict = {}
        if len(ports) > 1:
            port["name"] = f"port-{i + 1}"
        port["protocol"] = opts.protocol or protocols.get(text, "TCP")
        port["port"] = number
        target = opts.target_port
        port["targetPort"] = (int(target) if target.isdigit() else target) if target else number
        service_ports.append(port)

    meta: dict = {"name": name, "creationTimestamp": None}
    if labels:
        meta["labels"] = labels
    spec: dict = {"ports": service_ports, "selector": selector}
    if opts.cluster_ip:
        spec["clusterIP"] = opts.cluster_ip
    if opts.type:
        spec["type"] = opts.type
    if opts.external_ip:
        spec["externalIPs"] = [opts.external_ip]
    if opts.session_affinity:
        if opts.session_affinity not in ("None", "ClientIP"):
            raise ExposeError(f"unknown session affinity: {opts.session_affinity}")
        spec["sessionAffinity"] = opts.session_affinity
    if opts.type == "LoadBalancer" and opts.load_balancer_ip:
        spec["loadBalancerIP"] = opts.load_balancer_ip
    if not service_ports:
        del spec["ports"]
    return {"kind": "Service", "apiVersion": "v1", "metadata": meta, "spec": spec,
            "status": {"loadBalancer": {}}}


def options_of(args) -> Options:
    return Options(name=args.name or "", port=args.port or "", target_port=args.target_port or "",
                   protocol=args.protocol or "", type=args.type or "", selector=args.selector or "",
                   labels=args.labels or "", external_ip=args.external_ip or "",
                   load_balancer_ip=args.load_balancer_ip or "", session_affinity=args.session_affinity or "",
                   cluster_ip=args.cluster_ip or "")


# -- the shell ----------------------------------------------------------------------------------
def run_expose(ctx: Context, args) -> int:
    try:
        strategy = outcome.dry_run_of(args.dry_run, ctx.complain)
    except outcome.OutcomeError as e:
        raise UsageError(str(e)) from None
    opts = options_of(args)
    cause = record.cause_of(args)
    services = kinds.by_resource("services")
    failed = False
    reporter = outcome.Reporter(ctx.out, args.output)
    with ctx.api() as api:
        for kind, ns, obj in _sources(ctx, api, args):
            try:
                data = record.annotate_dict(service_for(kind, obj, opts), cause)
                if strategy == "client":
                    reporter.emit(services, data, "exposed", strategy)
                    continue
                svc = codec.from_dict(services.message, data)
                svc.metadata.namespace = ns
                reporter.emit(services, api.create(svc, dry_run=strategy == "server"), "exposed", strategy)
            except ExposeError as e:
                ctx.complain(f"error: {e}")
                failed = True
            except ServerError as e:
                ctx.complain(e.args[0])
                failed = True
    return 1 if failed else 0


def _usage(message: str) -> UsageError:
    return UsageError(f"{message}\n{HELP_HINT}")


def _sources(ctx: Context, api, args) -> list[tuple[Kind, str, Message]]:
    """The objects to expose: from -f files (as written), else fetched by TYPE NAME / TYPE/NAME."""
    if args.filename:
        if args.args:
            raise _usage(FILES_AND_RESOURCES)
        found, errors = file_targets(ctx, args.filename)
        if errors:
            raise UsageError(errors[0])
        return [(m.kind, ns, m.obj) for m, ns in found]
    if not args.args:
        raise _usage(NO_RESOURCES)
    targets = resolve_targets(args.args)
    if any(name is None for _, name in targets):
        raise _usage("resource(s) were provided, but no name, label selector, or --all flag specified")
    out = []
    for kind, name in targets:
        ns = namespace_of(kind, None, ctx.namespace)
        out.append((kind, ns, api.get(kind, ns, name)))
    return out
