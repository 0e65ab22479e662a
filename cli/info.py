"""`skiff version`, `skiff cluster-info` and `skiff api-resources`: what skiff and the cluster are.

- `version`: kubectl 1.20's `Client Version: version.Info{Major:"0", ...}` and `Server Version: ...`
  lines (`--short`: just the gitVersions; `--client`: no server needed; `-o json|yaml`: kubectl's
  {clientVersion, serverVersion} document). The client's build is client/buildinfo.py; the server's
  comes from the apiserver's `Version` RPC (skiff.api.v1.Api), Kubernetes' GET /version over gRPC.
  As kubectl, an unreachable server still gets the client line printed first, then the error, exit 1.
- `cluster-info`: `Skiff control plane is running at HOST:PORT` (the apiserver that answered), and the
  store endpoints behind it from the `ClusterInfo` RPC. There is no `cluster-info dump`, so kubectl's
  line pointing at it is left out.
- `api-resources`: kubectl's table (NAME SHORTNAMES APIVERSION NAMESPACED KIND; `-o wide` adds VERBS,
  `-o name` prints `deployments.apps`), from client/kinds.py, the table the apiserver itself routes
  by, so it needs no server; `--namespaced`, `--api-group`, `--sort-by`, `--no-headers` as kubectl.

The pure parts (`version_lines`, `version_document`, `cluster_info_lines`, `api_resources_lines`)
take their inputs; the `run_*` functions fetch and print.
"""
from __future__ import annotations

import argparse
import json
from typing import Sequence

from cli import printers
from cli.commands import Context
from cli.tabwriter import tabwrite
from client import buildinfo, kinds
from client.kinds import Kind

VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")   # what the Api service serves


def add_parsers(subs: dict, make_parser, global_flags) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = subs["version"] = make_parser(prog="skiff version", formatter_class=fmt, usage="skiff version [flags]",
                                      description="Print the client and server version information.")
    global_flags(p, suppress=True)
    p.add_argument("--client", action="store_true", help="the client's version only (no server needed)")
    p.add_argument("--short", action="store_true", help="just the version numbers")
    p.add_argument("-o", "--output", choices=("json", "yaml"), help="output format: json or yaml")

    p = subs["cluster-info"] = make_parser(prog="skiff cluster-info", formatter_class=fmt,
                                           usage="skiff cluster-info [flags]", description="""\
Display the address of the control plane (the apiserver skiff talks to) and of the store behind it.""")
    global_flags(p, suppress=True)

    p = subs["api-resources"] = make_parser(prog="skiff api-resources", formatter_class=fmt,
                                            usage="skiff api-resources [flags]", description="""\
Print the API resources Skiff serves.

Examples:
  skiff api-resources
  skiff api-resources --namespaced=false
  skiff api-resources -o wide
  skiff api-resources --api-group=apps""")
    global_flags(p, suppress=True)
    p.add_argument("-o", "--output", choices=("wide", "name"), help="wide (adds VERBS) or name")
    p.add_argument("--namespaced", type=_boolean, metavar="true|false",
                   help="only namespaced (true) or only cluster-scoped (false) resources")
    p.add_argument("--api-group", metavar="GROUP", help='only this API group ("" for the core group)')
    p.add_argument("--sort-by", choices=("name", "kind"), help="sort by name or kind (default: group, then name)")
    p.add_argument("--no-headers", action="store_true", help="no header line")


def _boolean(text: str) -> bool:
    from cli.main import boolean  # one parser of booleans for every flag
    return boolean(text)


# -- version ------------------------------------------------------------------------------------
def version_lines(client: dict, server: dict | None, *, short: bool) -> list[str]:
    """kubectl 1.20's plain output: Go's %#v of version.Info, or just gitVersion with --short."""
    show = (lambda v: v["gitVersion"]) if short else buildinfo.go_struct
    lines = [f"Client Version: {show(client)}"]
    if server is not None:
        lines.append(f"Server Version: {show(server)}")
    return lines


def version_document(client: dict, server: dict | None, fmt: str) -> str:
    """-o json (2-space indent, fields in version.Info's order) or -o yaml (keys sorted), as kubectl."""
    doc = {"clientVersion": client, **({"serverVersion": server} if server is not None else {})}
    if fmt == "json":
        return json.dumps(doc, indent=2) + "\n"
    return printers.dump(doc, "yaml") + "\n"   # kubectl prints the YAML and then an empty line


def server_version_dict(info) -> dict:
    return {"major": info.major, "minor": info.minor, "gitVersion": info.git_version, "gitCommit": info.git_commit,
            "gitTreeState": info.git_tree_state, "buildDate": info.build_date, "goVersion": info.go_version,
            "compiler": info.compiler, "platform": info.platform}


def run_version(ctx: Context, args) -> int:
    client = buildinfo.build_info()
    server = None
    if not args.output:
        ctx.say(version_lines(client, None, short=args.short)[0])  # as kubectl: before the server is asked
    try:
        if not args.client:
            with ctx.api() as api:
                server = server_version_dict(api.version())
    finally:  # an unreachable server: what is known is printed, then main prints the error (exit 1)
        if args.output:
            ctx.out.write(version_document(client, server, args.output))
            ctx.out.flush()
        elif server is not None:
            ctx.say(version_lines(client, server, short=args.short)[1])
    return 0


# -- cluster-info -------------------------------------------------------------------------------
def cluster_info_lines(server: str, store: Sequence[str]) -> list[str]:
    lines = [f"Skiff control plane is running at {server}"]
    if store:
        lines.append(f"Skiff store is running at {','.join(store)}")
    return lines


def run_cluster_info(ctx: Context, args) -> int:
    with ctx.api() as api:
        info = api.cluster_info()
        server = api.server
    for line in cluster_info_lines(server, list(info.etcd_servers)):
        ctx.say(line)
    return 0


# -- api-resources ------------------------------------------------------------------------------
def api_resources_lines(all_kinds: Sequence[Kind], *, output: str = "", namespaced: bool | None = None,
                        api_group: str | None = None, sort_by: str = "", headers: bool = True) -> list[str]:
    """kubectl's api-resources table, sorted by group then name unless `sort_by` says name or kind."""
    chosen = [k for k in all_kinds
              if (namespaced is None or k.namespaced == namespaced) and (api_group is None or k.group == api_group)]
    key = {"name": lambda k: (k.resource,), "kind": lambda k: (k.kind, k.resource)}.get(
        sort_by, lambda k: (k.group, k.resource))
    chosen.sort(key=key)
    if output == "name":
        return [k.group_resource for k in chosen]
    rows = ["NAME\tSHORTNAMES\tAPIVERSION\tNAMESPACED\tKIND" + ("\tVERBS" if output == "wide" else "")] \
        if headers else []
    for k in chosen:
        row = f"{k.resource}\t{','.join(k.short_names)}\t{k.api_version}\t{'true' if k.namespaced else 'false'}\t{k.kind}"
        if output == "wide":
            row += f"\t[{' '.join(VERBS)}]"
        rows.append(row)
    if not rows:
        return []
    return [line.rstrip() for line in tabwrite("\n".join(rows) + "\n", minwidth=10, padding=3).splitlines()]


def run_api_resources(ctx: Context, args) -> int:
    for line in api_resources_lines(kinds.KINDS, output=args.output or "", namespaced=args.namespaced,
                                    api_group=args.api_group, sort_by=args.sort_by or "",
                                    headers=not args.no_headers):
        ctx.say(line)
    return 0

