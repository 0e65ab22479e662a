"""`skiff describe`: fetch an object and what kubectl shows beside it, then print kubectl's text.

    skiff describe TYPE NAME | TYPE/NAME... | TYPE NAME-PREFIX | TYPE [-l SELECTOR] [-A]

The text is made by the pure describers (cli/describers.py, cli/describers_pod.py); this module only
fetches. Beside the object: its events; a deployment's replica sets (by its selector, then by
controller reference); a replica set's pods (for `Pods Status`); a service's Endpoints of the same
name; a node's pods (field selector spec.nodeName, not Succeeded or Failed) and its Lease in
kube-node-lease.

Events: as kubectl, the apiserver selects them by involvedObject.name, .namespace and (except for
pods, as kubectl) .kind field selectors; then, here, an event whose involvedObject names a uid must
name this object's uid (an event about an earlier object of the same name is not this one's), while
one recorded without a uid is kept: the event is about this object by uid, or by kind, name and
namespace. Node events are searched in every namespace, and the kubelet's habit of recording the
node name as its uid is accepted, as kubectl does.

As kubectl: several objects are separated by two blank lines; `TYPE NAME` that finds nothing
describes the objects whose names start with NAME; a failure is printed and the others still
described, exit 1 at the end; nothing found prints `No resources found in NS namespace.` on stderr.
"""
from __future__ import annotations

import argparse
from datetime import datetime
from typing import Sequence

from google.protobuf.message import Message

from cli import describers as d
from cli.api import Api, ServerError
from cli.commands import Context, UsageError, namespace_of, resolve_targets
from cli.describers_pod import describe_pod
from cli.printers import format_label_selector, no_resources
from client import kinds
from client.kinds import Kind

EVENTS = kinds.by_resource("events")


def add_parsers(subs: dict, make_parser, global_flags) -> None:
    p = subs["describe"] = make_parser(prog="skiff describe", formatter_class=argparse.RawDescriptionHelpFormatter,
                                       usage="skiff describe TYPE [NAME_PREFIX] | TYPE/NAME... | TYPE -l SEL [flags]",
                                       description="""\
Show details of an object or group of objects: kubectl's describe, with the object's events.
TYPE NAME describes the object NAME or, if there is none, every object whose name starts with NAME.

Examples:
  skiff describe pod web-5d4f8-x2x9z
  skiff describe deploy/web svc/web
  skiff describe pods -l app=web
  skiff describe nodes""")
    global_flags(p, suppress=True)
    p.add_argument("args", nargs="*", metavar="TYPE [NAME]", help="a kind and names or a name prefix, or kind/name")
    p.add_argument("-l", "--selector", metavar="SELECTOR", help="describe the objects matching a label selector")
    p.add_argument("-A", "--all-namespaces", action="store_true", help="describe across all namespaces")
    p.add_argument("--show-events", type=_boolean, nargs="?", const=True, default=True, metavar="true|false",
                   help="show the object's events (default: true)")


def _boolean(text: str) -> bool:
    from cli.main import boolean  # one parser of booleans for every flag
    return boolean(text)


def clock_of(ctx: Context) -> d.Clock:
    """Now, and the local time zone kubectl prints times in."""
    return d.Clock(ctx.now(), datetime.now().astimezone().tzinfo)


def run_describe(ctx: Context, args) -> int:
    if not args.args:
        raise UsageError('You must specify the type of resource to describe. Use "skiff describe --help" for the '
                         "kinds Skiff serves (pods, deployments, services, ...).")
    targets = resolve_targets(args.args)
    named = [(k, n) for k, n in targets if n is not None]
    if named and args.selector:
        raise UsageError("name cannot be provided when a selector is specified")
    if named and args.all_namespaces:
        raise UsageError("a resource cannot be retrieved by name across all namespaces")
    clock = clock_of(ctx)
    texts: list[str] = []
    failed = False
    with ctx.api() as api:
        if not named:
            kind = targets[0][0]
            all_ns = args.all_namespaces and kind.namespaced
            ns = "" if all_ns else namespace_of(kind, None, ctx.namespace)
            objs, _ = api.list(kind, ns, label_selector=args.selector or "")
            if not objs:
                ctx.complain(no_resources(kind, ns, all_ns))
                return 0
            for obj in sorted(objs, key=lambda o: (o.metadata.namespace, o.metadata.name)):
                texts.append(describe(api, kind, obj, clock, show_events=args.show_events))
        else:
            prefix_ok = len(args.args) == 2 and "/" not in args.args[0]
            for kind, name in named:
                ns = namespace_of(kind, None, ctx.namespace)
                try:
                    obj = api.get(kind, ns, name)
                except ServerError as e:
                    if e.code == "NOT_FOUND" and prefix_ok:
                        found = [o for o in api.list(kind, ns)[0] if o.metadata.name.startswith(name)]
                        if found:
                            for o in sorted(found, key=lambda o: o.metadata.name):
                                ctx.out.write(describe(api, kind, o, clock, show_events=args.show_events) + "\n")
                            ctx.out.flush()
                            return 0
                    ctx.complain(e.args[0])
                    failed = True
                    continue
                texts.append(describe(api, kind, obj, clock, show_events=args.show_events))
    ctx.out.write("\n\n".join(texts))
    ctx.out.flush()
    return 1 if failed else 0


def describe(api: Api, kind: Kind, obj: Message, clock: d.Clock, *, show_events: bool = True) -> str:
    """kubectl's description of `obj`, with what it shows beside it fetched from the server."""
    events = events_for(api, kind, obj) if show_events else None
    ns = obj.metadata.namespace
    if kind.resource == "pods":
        return describe_pod(obj, events, clock)
    if kind.resource == "deployments":
        rs_kind = kinds.by_resource("replicasets")
        try:
            rss: list[Message] | None = api.list(rs_kind, ns, label_selector=d.selector_string(obj.spec.selector))[0]
        except ServerError:
            rss = None  # kubectl leaves Old/NewReplicaSet out when it cannot list them
        return d.describe_deployment(obj, rss, events, clock)
    if kind.resource == "replicasets":
        try:
            pods: list[Message] | None = api.list(kinds.by_resource("pods"), ns,
                                                  label_selector=_selector(obj.spec.selector))[0]
            error = ""
        except ServerError as e:
            pods, error = None, e.message
        return d.describe_replica_set(obj, pods, events, clock, pods_error=error)
    if kind.resource == "services":
        try:
            endpoints: Message | None = api.get(kinds.by_resource("endpoints"), ns, obj.metadata.name)
        except ServerError:
            endpoints = None
        return d.describe_service(obj, endpoints, events, clock)
    if kind.resource == "nodes":
        return _describe_node(api, obj, events, clock)
    if kind.resource == "namespaces":
        return d.describe_namespace(obj, clock)
    if kind.resource == "configmaps":
        return d.describe_config_map(obj, events, clock)
    return d.describe_generic(d.object_data(kind.api_version, kind.kind, obj), events, clock)


def _selector(sel: Message) -> str:
    text = format_label_selector(sel)
    return "" if text == "<none>" else text


def _describe_node(api: Api, node: Message, events, clock: d.Clock) -> str:
    name = node.metadata.name
    try:
        pods: list[Message] | None = api.list(
            kinds.by_resource("pods"), "",
            field_selector=f"spec.nodeName={name},status.phase!=Succeeded,status.phase!=Failed")[0]
    except ServerError as e:
        if e.code != "PERMISSION_DENIED":
            raise
        pods = None
    lease, lease_error = None, ""
    try:
        lease = api.get(kinds.by_resource("leases"), "kube-node-lease", name)
    except ServerError as e:
        lease_error = e.message
    return d.describe_node(node, pods, lease, lease_error, events, clock)


def events_for(api: Api, kind: Kind, obj: Message) -> list[Message] | None:
    """The events about `obj` (see the module docstring); None when they cannot be listed, so the
    description goes without an Events section rather than failing (as kubectl)."""
    meta = obj.metadata
    selector = [f"involvedObject.name={meta.name}"]
    if kind.namespaced:
        selector.append(f"involvedObject.namespace={meta.namespace}")
    if kind.resource != "pods":
        selector.append(f"involvedObject.kind={kind.kind}")
    try:
        found, _ = api.list(EVENTS, meta.namespace if kind.namespaced else "", field_selector=",".join(selector))
    except ServerError:
        return None
    return about(found, obj, node=kind.resource == "nodes")


def about(events: Sequence[Message], obj: Message, *, node: bool = False) -> list[Message]:
    """The events whose involvedObject is `obj` by uid, or carries no uid. Pure."""
    uids = {"", obj.metadata.uid} | ({obj.metadata.name} if node else set())
    return [e for e in events if e.involved_object.uid in uids]
