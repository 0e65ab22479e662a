"""`skiff` flags -> a command. argparse and dispatch only; the commands are in cli.commands.

Global flags (--server, -n/--namespace, --request-timeout) go before or after the command, as with
kubectl; options and arguments of a command may be intermixed (`skiff get pods -n web nginx -o yaml`).
Usage errors print `error: ...` and exit 1, as kubectl does (not argparse's 2).
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Sequence, TextIO

from cli import commands
from cli import config as skiffconfig
from cli import describe, info
from cli import create, edit, expose, metadata_cmds, record
from cli import node_cmds, rollout, set_cmd
from cli.api import DEFAULT_SERVER, DEFAULT_TIMEOUT, ServerError, Unreachable
from cli.commands import Context, UsageError

OUTPUTS = ("json", "yaml", "wide", "name")
GLOBAL_WITH_VALUE = ("--server", "-s", "-n", "--namespace", "--request-timeout", "--context")

DESCRIPTION = """\
skiff controls a Skiff cluster through its apiserver, as kubectl controls Kubernetes.

Commands:
  create         Create a resource from a file or stdin, or a namespace or deployment from flags
  apply          Apply a configuration to a resource by file name or stdin
  get            Display one or many resources
  edit           Edit a resource on the server in your editor
  delete         Delete resources by file names, stdin, resources and names, or by label selector
  describe       Show details of a specific resource or group of resources
  label          Update the labels on a resource
  annotate       Update the annotations on a resource
  expose         Take a deployment, replica set, pod or service and expose it as a new Service
  scale          Set a new size for a deployment or replica set
  set            Set features of objects: set image updates the images of containers
  rollout        Manage the rollout of a deployment: status, history, undo, pause, resume, restart
  cordon         Mark nodes as unschedulable
  uncordon       Mark nodes as schedulable
  drain          Drain a node in preparation for maintenance
  config         Modify the client config (contexts, clusters, namespaces)
  version        Print the client and server version information
  cluster-info   Display the addresses of the control plane and the store
  api-resources  Print the supported API resources

The server is --server HOST:PORT, else $SKIFF_SERVER, else the cluster of the current context in
$SKIFFCONFIG or ~/.skiff/config (--context NAME picks another), else 127.0.0.1:6443; several
comma-separated addresses are tried in order. The namespace: -n, else the context's, else default.
Use "skiff <command> --help" for more information about a given command."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # noqa: D401 - argparse's hook
        raise UsageError(f"{message}\nSee '{self.prog} --help' for usage.")


def duration(text: str) -> float:
    """kubectl's durations: `10`, `10s`, `1m`, `2h`, `1m30s`; `0` means no limit."""
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise argparse.ArgumentTypeError(f'invalid duration "{text}": use a number of seconds or 30s, 5m, 1h')
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(n) * scale[u] for n, u in parts)


def boolean(text: str) -> bool:
    value = text.lower()
    if value in ("true", "1", "yes", "t"):
        return True
    if value in ("false", "0", "no", "f"):
        return False
    raise argparse.ArgumentTypeError(f'invalid boolean value "{text}"')


def _global_flags(p: argparse.ArgumentParser, *, suppress: bool) -> None:
    d = {"default": argparse.SUPPRESS} if suppress else {}
    p.add_argument("-s", "--server", metavar="HOST:PORT", help="the apiserver's gRPC address, or several "
                   "comma-separated, tried in order (default: $SKIFF_SERVER, else the current context's cluster, "
                   f"else {DEFAULT_SERVER})", **({"default": None} | d))
    p.add_argument("-n", "--namespace", metavar="NS", help="the namespace of this request (default: the current "
                   "context's, else default)", **({"default": None} | d))
    p.add_argument("--context", metavar="NAME", help="the context of the client config to use "
                   "(default: its current-context)", **({"default": None} | d))
    p.add_argument("--request-timeout", type=duration, metavar="DURATION",
                   help=f"deadline of each call to the server, e.g. 10s, 1m; 0 for none (default: "
                        f"{DEFAULT_TIMEOUT:g}s)", **({"default": None} | d))


def build_parsers() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser (global flags) and one parser per command."""
    fmt = argparse.RawDescriptionHelpFormatter
    top = _Parser(prog="skiff", description=DESCRIPTION, formatter_class=fmt,
                  usage="skiff [--server HOST:PORT] [-n NS] <command> [flags]")
    _global_flags(top, suppress=False)
    subs: dict[str, argparse.ArgumentParser] = {}

    p = subs["apply"] = _Parser(prog="skiff apply", formatter_class=fmt, usage="skiff apply -f FILE [-f FILE]... [flags]",
                                description="""\
Create or update objects from Kubernetes manifests (YAML or JSON, several documents per file).
An object that exists is updated with a three-way merge (the manifest, the live object and the
manifest last applied, kept in the kubectl.kubernetes.io/last-applied-configuration annotation).

Examples:
  skiff apply -f web.yaml
  skiff apply -f manifests/          # every *.yaml, *.yml, *.json in it, in name order
  cat web.yaml | skiff apply -f -""")
    _global_flags(p, suppress=True)
    p.add_argument("-f", "--filename", action="append", default=[], metavar="FILE",
                   help="a file, a directory, an http(s) URL, or - for stdin (repeatable)")
    record.add_flag(p)

    p = subs["get"] = _Parser(prog="skiff get", formatter_class=fmt,
                              usage="skiff get TYPE[,TYPE...] [NAME...] | TYPE/NAME... [flags]", description="""\
Display one or many objects of one or several kinds: a table with kubectl's columns by default, or
-o json|yaml|wide|name|jsonpath=TEMPLATE.
TYPE is a kind as kubectl names it: pods (po), deployments (deploy, deployments.apps),
replicasets (rs), services (svc), nodes (no), namespaces (ns), endpoints (ep), events (ev),
configmaps (cm), ingresses (ing), leases.

-o jsonpath=TEMPLATE applies kubectl's JSONPath to the object (one NAME) or to a List of them
(its .items): {.metadata.name}, {.items[*].metadata.name}, {.items[0].spec.containers[*].image},
{..image}, {.items[?(@.status.phase=="Running")].metadata.name}, {.items[-1:]},
{range .items[*]}{.metadata.name}{"\\t"}{.status.podIP}{"\\n"}{end}; a key holding dots needs
escapes: {.metadata.annotations['example\\.com/owner']}. Also -o jsonpath-as-json=TEMPLATE and
-o jsonpath-file=FILE.

Examples:
  skiff get pods
  skiff get pods -o wide --show-labels
  skiff get deploy web -o yaml
  skiff get svc -A
  skiff get deploy,rs,pods -o wide     # several kinds: a table each, NAME as kind/name
  skiff get pods -l app=web --field-selector status.phase=Running
  skiff get pods -o jsonpath='{.items[*].metadata.name}'
  skiff get pod web-1 -o jsonpath='{.status.podIP}'
  skiff get deploy -w""")
    _global_flags(p, suppress=True)
    p.add_argument("args", nargs="*", metavar="TYPE [NAME]",
                   help="a kind (pods, po, deploy, deployments.apps, svc, ...) and names, or kind/name")
    p.add_argument("-o", "--output", metavar="FORMAT",
                   help="json, yaml, wide, name, jsonpath=TEMPLATE, jsonpath-as-json=TEMPLATE or "
                        "jsonpath-file=FILE (default: a table)")
    p.add_argument("--template", metavar="TEMPLATE", help="the template of -o jsonpath, when not given after `=`")
    p.add_argument("--allow-missing-template-keys", type=boolean, nargs="?", const=True, default=True,
                   metavar="true|false", help="a template field that is missing prints nothing; false: an error "
                                              "(default: true)")
    p.add_argument("--show-labels", action="store_true", help="add a LABELS column, last (tables only)")
    p.add_argument("--no-headers", action="store_true", help="tables without their header line")
    p.add_argument("-A", "--all-namespaces", action="store_true", help="list across all namespaces")
    p.add_argument("-l", "--selector", metavar="SELECTOR", help="label selector: app=web,tier in (a,b),!canary")
    p.add_argument("--field-selector", metavar="SELECTOR",
                   help="field selector: metadata.name=web,status.phase!=Running")
    p.add_argument("-w", "--watch", action="store_true",
                   help="after listing, watch for changes until interrupted (Ctrl-C)")

    p = subs["scale"] = _Parser(prog="skiff scale", formatter_class=fmt,
                                usage="skiff scale TYPE NAME... | TYPE/NAME... --replicas=N [flags]", description="""\
Set a new size for a deployment or replica set, through its scale subresource.

Examples:
  skiff scale deployment web --replicas=3
  skiff scale deploy/web --replicas=0
  skiff scale --current-replicas=2 --replicas=3 deployment/web""")
    _global_flags(p, suppress=True)
    p.add_argument("args", nargs="*", metavar="TYPE NAME",
                   help="a kind (deploy, rs, ...) and names, or kind/name")
    p.add_argument("--replicas", type=int, metavar="N", help="the new desired number of replicas (required)")
    p.add_argument("--current-replicas", type=int, default=-1, metavar="N",
                   help="precondition: scale only if the current size is N (-1: no precondition)")
    p.add_argument("--resource-version", default="", metavar="RV",
                   help="precondition: scale only if the resourceVersion is RV")
    record.add_flag(p)

    p = subs["delete"] = _Parser(prog="skiff delete", formatter_class=fmt,
                                 usage="skiff delete TYPE NAME... | TYPE/NAME... | -f FILE | TYPE -l SEL [flags]",
                                 description="""\
Delete objects by type and name, by file, or by label selector.

Examples:
  skiff delete deployment web
  skiff delete pod/web-1 pod/web-2 --grace-period=0 --force
  skiff delete -f web.yaml
  skiff delete deploy web --cascade=orphan
  skiff delete pods -l app=web""")
    _global_flags(p, suppress=True)
    p.add_argument("args", nargs="*", metavar="TYPE NAME",
                   help="a kind (pods, po, deploy, svc, ...) and names, or kind/name")
    p.add_argument("-f", "--filename", action="append", default=[], metavar="FILE",
                   help="delete the objects in a file, a directory, or - for stdin (repeatable)")
    p.add_argument("-l", "--selector", metavar="SELECTOR", help="delete the objects matching a label selector")
    p.add_argument("--all", action="store_true", help="delete every object of the type in the namespace")
    p.add_argument("--grace-period", type=int, default=-1, metavar="N",
                   help="seconds given to the object to terminate gracefully; negative: the object's own; "
                        "0 needs --force")
    p.add_argument("--cascade", nargs="?", const="background", default="background",
                   metavar="background|foreground|orphan",
                   help="what happens to dependents: deleted in the background (default), deleted before the "
                        "owner (foreground), or kept (orphan)")
    p.add_argument("--force", action="store_true", help="with --grace-period=0: remove immediately")
    p.add_argument("--now", action="store_true", help="signal the object for immediate shutdown "
                                                      "(--grace-period=1)")
    p.add_argument("--ignore-not-found", action="store_true", help="treat a missing object as deleted")
    p.add_argument("--wait", type=boolean, nargs="?", const=True, default=False, metavar="true|false",
                   help="wait until the objects are gone (default: false)")
    p.add_argument("--timeout", type=duration, default=60.0, metavar="DURATION",
                   help="how long --wait waits (default: 60s)")
    for module in (describe, skiffconfig, info):
        module.add_parsers(subs, _Parser, _global_flags)
    for module in (create, edit, metadata_cmds, expose):   # the mutating verbs
        module.add_parsers(subs, _Parser, _global_flags)
    for module in (rollout, set_cmd, node_cmds):   # rollouts and node maintenance
        module.add_parsers(subs, _Parser, _global_flags)
    return top, subs


def split_command(argv: Sequence[str], commands_: Sequence[str]) -> tuple[str | None, list[str], list[str]]:
    """(command, global flags before it, everything else): the first word that is not a global flag."""
    before: list[str] = []
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok in GLOBAL_WITH_VALUE:
            before.extend(argv[i:i + 2])
            i += 2
            continue
        if tok.startswith("-"):
            before.append(tok)
            i += 1
            continue
        if tok in commands_:
            return tok, before, list(argv[i + 1:])
        raise UsageError(f'unknown command "{tok}" for "skiff"\nRun \'skiff --help\' for usage.')
    return None, before, []


RUNNERS = {"apply": commands.run_apply, "get": commands.run_get, "scale": commands.run_scale,
           "delete": commands.run_delete}
RUNNERS.update({"describe": describe.run_describe, "config": skiffconfig.run_config, "version": info.run_version,
                "cluster-info": info.run_cluster_info, "api-resources": info.run_api_resources})
RUNNERS.update({"create": create.run_create, "edit": edit.run_edit, "label": metadata_cmds.run_label,
                "annotate": metadata_cmds.run_annotate, "expose": expose.run_expose})
RUNNERS.update({"rollout": rollout.run_rollout, "set": set_cmd.run_set, "cordon": node_cmds.run_cordon,
                "uncordon": node_cmds.run_uncordon, "drain": node_cmds.run_drain})


def main(argv: Sequence[str] | None = None, *, stdin: TextIO | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    """Runs `skiff` with `argv` (default: sys.argv[1:]); the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    out, err = stdout or sys.stdout, stderr or sys.stderr
    try:
        top, subs = build_parsers()
        command, before, rest = split_command(argv, list(subs))
        ns = _parse(top, before, out, err)
        if command is None:
            if isinstance(ns, int):
                return ns
            top.print_help(out)
            return 0
        if isinstance(ns, int):
            return ns
        ns = _parse(subs[command], rest, out, err, namespace=ns)
        if isinstance(ns, int):
            return ns
        timeout = DEFAULT_TIMEOUT if ns.request_timeout is None else (ns.request_timeout or None)
        target = _target(command, ns)
        ctx = Context(server=",".join(target.servers), namespace=ns.namespace or target.namespace or None,
                      timeout=timeout, out=out, err=err, stdin=stdin or sys.stdin,
                      namespace_flag=bool(ns.namespace))
        ns.command_line = argv   # for --record's change cause (cli/record.py)
        return RUNNERS[command](ctx, ns)
    except (UsageError, skiffconfig.ConfigError) as e:
        print(f"error: {e}", file=err, flush=True)
        return 1
    except ServerError as e:
        print(e.args[0], file=err, flush=True)
        return 1
    except Unreachable as e:
        print(str(e), file=err, flush=True)
        return 1
    except BrokenPipeError:
        # `skiff get ... | head`: the reader left; nothing more to say. Point stdout at devnull so
        # the interpreter's final flush does not complain.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 0
    except KeyboardInterrupt:
        return 130


def _target(command: str, ns: argparse.Namespace) -> skiffconfig.Target:
    """The apiservers and default namespace (cli/config.py); `config` itself and `version --client`
    need no server, so a broken config file does not stop them."""
    if command == "config" or (command == "version" and ns.client):
        return skiffconfig.Target((DEFAULT_SERVER,), None, "")
    path = skiffconfig.path_of(os.environ)
    return skiffconfig.target(skiffconfig.load(path), server_flag=ns.server, context_flag=ns.context,
                              environ=os.environ)


def _parse(parser: argparse.ArgumentParser, args: list[str], out: TextIO, err: TextIO,
           namespace: argparse.Namespace | None = None) -> argparse.Namespace | int:
    """parse_intermixed_args, with --help written to `out` and reported as exit code 0."""
    if "-h" in args or "--help" in args:
        parser.print_help(out)
        return 0
    return parser.parse_intermixed_args(args, namespace=namespace)
