"""The client config (`~/.skiff/config`, or the file $SKIFFCONFIG names) and `skiff config ...`.

What `kubectl` keeps in ~/.kube/config, in the same shape, so a user's habits carry over:

    apiVersion: v1
    kind: Config
    clusters:
    - name: skiff-local
      cluster:
        server: 127.0.0.1:6443
        servers: [127.0.0.1:7443]     # Skiff's addition: more apiservers, tried after `server`, in order
    contexts:
    - name: skiff-local
      context:
        cluster: skiff-local
        namespace: default            # the namespace when -n is not given
    current-context: skiff-local

A server is HOST:PORT (gRPC has no URL; a leading http:// or https:// is dropped). A cluster's
apiservers are `server` then each of `servers`, without repeats: skiff connects to the first that
accepts a connection (cli/api.py). Keys Skiff does not use (users, preferences, a context's user,
extensions) are kept as they are when skiff rewrites the file.

Which apiservers a command talks to: --server, else $SKIFF_SERVER, else the cluster of the context
(--context NAME, else current-context), else 127.0.0.1:6443; --server and $SKIFF_SERVER may list
several, comma-separated. The namespace: -n, else the context's namespace, else `default`.

Shape (STYLE.md §1): `parse` (text -> a checked Config, errors naming file, line or key path),
`target` (flags, environment and config -> servers and namespace) and the `set_*`/`delete_*` edits
are pure; `load` and `save` are the file I/O (save writes a temporary file and renames it, so a crash
never leaves half a config); `run_config` is the command.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from cli import printers
from cli.api import DEFAULT_SERVER, split_servers
from cli.commands import UsageError, subcommand
from cli.tabwriter import tabwrite

ENV = "SKIFFCONFIG"
DEFAULT_PATH = "~/.skiff/config"


class ConfigError(Exception):
    """A config file that cannot be read, or a context or cluster that is not in it."""


@dataclass
class Config:
    """A config file's content: the document as read (unknown keys kept) and where it lives."""
    path: str
    doc: dict = field(default_factory=dict)

    # -- reading (the document is checked by `parse`, so these trust its shape) --------------------
    def contexts(self) -> dict[str, dict]:
        return {c["name"]: c.get("context") or {} for c in self.doc.get("contexts") or []}

    def clusters(self) -> dict[str, dict]:
        return {c["name"]: c.get("cluster") or {} for c in self.doc.get("clusters") or []}

    @property
    def current(self) -> str:
        return self.doc.get("current-context") or ""


def path_of(environ: Mapping[str, str]) -> str:
    """$SKIFFCONFIG, else ~/.skiff/config (HOME from `environ`)."""
    given = environ.get(ENV, "")
    if given:
        return given
    home = environ.get("HOME") or os.path.expanduser("~")
    return str(Path(home) / ".skiff" / "config")


def cluster_servers(cluster: Mapping[str, Any]) -> list[str]:
    """A cluster's apiservers in the order tried: `server`, then `servers`, without repeats."""
    out: list[str] = []
    for s in [cluster.get("server") or "", *(cluster.get("servers") or [])]:
        s = strip_scheme(s)
        if s and s not in out:
            out.append(s)
    return out


def strip_scheme(server: str) -> str:
    for scheme in ("https://", "http://"):
        if server.startswith(scheme):
            return server[len(scheme):].rstrip("/")
    return server.strip()


# -- parsing and checking (pure) ----------------------------------------------------------------
def parse(text: str, path: str) -> Config:
    """The config in `text`, checked; ConfigError names the file and the line or key that is wrong."""
    try:
        doc = yaml.safe_load(text) if text.strip() else {}
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise ConfigError(f"{_bad(path)}{where}{e.problem or e}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{_bad(path)}{e}") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{_bad(path)}the file must hold a mapping (apiVersion, kind, clusters, contexts, "
                          f"current-context), not {_type(doc)}")
    for key, want in (("apiVersion", "v1"), ("kind", "Config")):
        if key in doc and doc[key] != want:
            raise ConfigError(f"{_bad(path)}{key}: must be {want!r}, not {doc[key]!r}")
    current = doc.get("current-context")
    if current is not None and not isinstance(current, str):
        raise ConfigError(f"{_bad(path)}current-context: must be a string, not {_type(current)}")
    _check_entries(doc, "clusters", "cluster", path, strings=("server",), lists=("servers",))
    _check_entries(doc, "contexts", "context", path, strings=("cluster", "namespace", "user"), lists=())
    return Config(path, doc)


def _check_entries(doc: dict, key: str, inner: str, path: str, *, strings: Sequence[str],
                   lists: Sequence[str]) -> None:
    entries = doc.get(key)
    if entries is None:
        return
    if not isinstance(entries, list):
        raise ConfigError(f"{_bad(path)}{key}: must be a list of {{name, {inner}}}, not {_type(entries)}")
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        where = f"{key}[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{_bad(path)}{where}: must be a mapping with name and {inner}, not {_type(entry)}")
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{_bad(path)}{where}.name: required: a non-empty string")
        if name in seen:
            raise ConfigError(f'{_bad(path)}{where}.name: "{name}" appears twice in {key}')
        seen.add(name)
        body = entry.get(inner)
        if body is None:
            continue
        if not isinstance(body, dict):
            raise ConfigError(f"{_bad(path)}{where}.{inner}: must be a mapping, not {_type(body)}")
        for k in strings:
            if body.get(k) is not None and not isinstance(body[k], str):
                raise ConfigError(f"{_bad(path)}{where}.{inner}.{k}: must be a string, not {_type(body[k])}")
        for k in lists:
            value = body.get(k)
            if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
                raise ConfigError(f"{_bad(path)}{where}.{inner}.{k}: must be a list of HOST:PORT strings")


def _bad(path: str) -> str:
    return f"error loading config file {path}: "


def _type(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", int: "a number", float: "a number",
            bool: "a boolean", type(None): "null"}.get(type(value), type(value).__name__)


# -- which apiservers and namespace (pure) ------------------------------------------------------
@dataclass(frozen=True)
class Target:
    servers: tuple[str, ...]
    namespace: str | None      # the context's namespace; None: none set
    context: str               # the context used; "" when none


def target(config: Config | None, *, server_flag: str | None, context_flag: str | None,
           environ: Mapping[str, str]) -> Target:
    """--server > $SKIFF_SERVER > the context's cluster > 127.0.0.1:6443; the context's namespace."""
    contexts = config.contexts() if config is not None else {}
    name = context_flag or (config.current if config is not None else "")
    ctx: dict = {}
    if name:
        if name not in contexts:
            where = f" (current-context in {config.path}; see \"skiff config get-contexts\")" \
                if config is not None and not context_flag else ""
            raise ConfigError(f"context was not found for specified context: {name}{where}")
        ctx = contexts[name]
    namespace = ctx.get("namespace") or None
    for given in (server_flag, environ.get("SKIFF_SERVER")):
        if given:
            return Target(tuple(split_servers(given)), namespace, name)
    cluster_name = ctx.get("cluster") or ""
    if name and cluster_name:
        assert config is not None
        clusters = config.clusters()
        if cluster_name not in clusters:
            raise ConfigError(f'context "{name}" names cluster "{cluster_name}", which is not in {config.path} '
                              f'(add it with "skiff config set-cluster {cluster_name} --server=HOST:PORT")')
        servers = cluster_servers(clusters[cluster_name])
        if not servers:
            raise ConfigError(f'cluster "{cluster_name}" in {config.path} has no server (set one with '
                              f'"skiff config set-cluster {cluster_name} --server=HOST:PORT")')
        return Target(tuple(servers), namespace, name)
    return Target((DEFAULT_SERVER,), namespace, name)


# -- edits (pure: each returns a new Config) ----------------------------------------------------
def _entries(doc: dict, key: str) -> list[dict]:
    doc.setdefault("apiVersion", "v1")
    doc.setdefault("kind", "Config")
    if doc.get(key) is None:
        doc[key] = []
    return doc[key]


def set_cluster(config: Config, name: str, servers: Sequence[str]) -> Config:
    """Adds or updates cluster `name`: `server` the first address, `servers` the others (or none)."""
    doc = copy.deepcopy(config.doc)
    entries = _entries(doc, "clusters")
    entry = next((e for e in entries if e["name"] == name), None)
    if entry is None:
        entry = {"name": name, "cluster": {}}
        entries.append(entry)
    body = entry.setdefault("cluster", {}) or {}
    entry["cluster"] = body
    if servers:
        body["server"] = servers[0]
        if len(servers) > 1:
            body["servers"] = list(servers[1:])
        else:
            body.pop("servers", None)
    return Config(config.path, doc)


def set_context(config: Config, name: str, *, cluster: str | None = None,
                namespace: str | None = None) -> tuple[Config, bool]:
    """Adds or updates context `name` (only the fields given); (the new config, whether it existed)."""
    doc = copy.deepcopy(config.doc)
    entries = _entries(doc, "contexts")
    entry = next((e for e in entries if e["name"] == name), None)
    existed = entry is not None
    if entry is None:
        entry = {"name": name, "context": {}}
        entries.append(entry)
    body = entry.get("context") or {}
    entry["context"] = body
    if cluster is not None:
        body["cluster"] = cluster
    if namespace is not None:
        if namespace:
            body["namespace"] = namespace
        else:
            body.pop("namespace", None)
    return Config(config.path, doc), existed


def use_context(config: Config, name: str) -> Config:
    if name not in config.contexts():
        raise ConfigError(f'no context exists with the name: "{name}"')
    doc = copy.deepcopy(config.doc)
    doc["current-context"] = name
    return Config(config.path, doc)


def delete_entry(config: Config, key: str, name: str) -> Config:
    """Removes context or cluster `name` (`key` is "contexts" or "clusters")."""
    doc = copy.deepcopy(config.doc)
    entries = doc.get(key) or []
    if not any(e["name"] == name for e in entries):
        raise ConfigError(f"cannot delete {key[:-1]} {name}, not in {config.path}")
    doc[key] = [e for e in entries if e["name"] != name]
    return Config(config.path, doc)


def view(config: Config, *, minify: bool = False) -> dict:
    """The config as `config view` shows it: kubectl's keys always present, sorted when dumped."""
    doc = copy.deepcopy(config.doc)
    clusters = doc.get("clusters") or []
    contexts = doc.get("contexts") or []
    if minify:
        current = config.current
        if not current:
            raise ConfigError("current-context must exist in order to minify")
        contexts = [c for c in contexts if c["name"] == current]
        wanted = {(c.get("context") or {}).get("cluster") for c in contexts}
        clusters = [c for c in clusters if c["name"] in wanted]
    for c in contexts:
        body = c.get("context") or {}
        c["context"] = {"cluster": body.get("cluster", ""), "user": body.get("user", ""),
                        **{k: v for k, v in body.items() if k not in ("cluster", "user")}}
    for c in clusters:
        body = c.get("cluster") or {}
        c["cluster"] = {"server": body.get("server", ""), **{k: v for k, v in body.items() if k != "server"}}
    out = {**doc, "apiVersion": "v1", "kind": "Config", "clusters": clusters or None, "contexts": contexts or None,
           "current-context": doc.get("current-context") or "", "preferences": doc.get("preferences") or {},
           "users": doc.get("users") or None}
    return out


def contexts_table(config: Config, names: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """`config get-contexts`: kubectl's table lines (CURRENT NAME CLUSTER AUTHINFO NAMESPACE) and the
    errors for names asked for that are not there."""
    contexts = config.contexts()
    missing = [f"context {n} not found" for n in names if n not in contexts]
    shown = sorted(n for n in (names or contexts) if n in contexts)
    text = "CURRENT\tNAME\tCLUSTER\tAUTHINFO\tNAMESPACE\n" + "".join(
        f"{'*' if n == config.current else ' '}\t{n}\t{contexts[n].get('cluster') or ''}\t"
        f"{contexts[n].get('user') or ''}\t{contexts[n].get('namespace') or ''}\n" for n in shown)
    lines = [line.rstrip() for line in tabwrite(text, minwidth=10, padding=3).splitlines()]
    return lines, missing


# -- file I/O -----------------------------------------------------------------------------------
def load(path: str) -> Config:
    """The config at `path`; an empty one when the file does not exist (as kubectl treats a missing file)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config(path, {})
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{_bad(path)}{e}") from None
    return parse(text, path)


def save(config: Config) -> None:
    """Writes the config atomically (temporary file, then rename), readable by its owner only."""
    path = Path(config.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(config.doc, sort_keys=True, default_flow_style=False, allow_unicode=True)
    fd, tmp = tempfile.mkstemp(prefix=".config-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# -- the command --------------------------------------------------------------------------------
SUBCOMMANDS = ("view", "get-contexts", "get-clusters", "current-context", "use-context", "set-context",
               "set-cluster", "delete-context", "delete-cluster")

USAGE = """\
Modify the client config ($SKIFFCONFIG, else ~/.skiff/config), as `kubectl config` does.

  skiff config view [--minify] [-o yaml|json]
  skiff config get-contexts [NAME...] [-o name]
  skiff config get-clusters
  skiff config current-context
  skiff config use-context NAME
  skiff config set-context NAME|--current [--cluster=NAME] [--namespace=NS]
  skiff config set-cluster NAME --server=HOST:PORT[,HOST:PORT...]
  skiff config delete-context NAME
  skiff config delete-cluster NAME

A cluster lists one apiserver (server) or several (server and servers): skiff uses the first that
accepts a connection, in order."""


def add_parsers(subs: dict, make_parser, global_flags) -> None:
    """Registers `skiff config` (one parser: a subcommand word, its arguments and every flag)."""
    fmt = argparse.RawDescriptionHelpFormatter
    p = subs["config"] = make_parser(prog="skiff config", formatter_class=fmt,
                                     usage="skiff config SUBCOMMAND [ARGS] [flags]", description=USAGE)
    global_flags(p, suppress=True)   # --server and --namespace double as set-cluster's and set-context's
    p.add_argument("args", nargs="*", metavar="SUBCOMMAND [ARGS]")
    p.add_argument("--cluster", metavar="NAME", help="set-context: the context's cluster")
    p.add_argument("--current", action="store_true", help="set-context: modify the current context")
    p.add_argument("--minify", action="store_true", help="view: only the current context and its cluster")
    p.add_argument("-o", "--output", metavar="FORMAT", help="view: yaml (default) or json; get-contexts: name")
    p.add_argument("--no-headers", action="store_true", help="get-contexts: no header line")


def run_config(ctx, args) -> int:
    """`skiff config SUBCOMMAND ...`; the exit code. ctx.out/ctx.err are used; ctx.server is not."""
    picked = subcommand(ctx, args.args, "config", SUBCOMMANDS, USAGE)
    if picked is None:
        return 0
    sub, rest = picked
    path = path_of(os.environ)
    try:
        config = load(path)
        return _run(ctx, args, config, sub, rest)
    except ConfigError as e:
        ctx.complain(f"error: {e}")
        return 1


def _run(ctx, args, config: Config, sub: str, rest: list[str]) -> int:
    def one_name(what: str) -> str:
        if len(rest) != 1:
            raise UsageError(f"skiff config {sub} takes exactly one {what} name, got {len(rest)}: "
                             f"skiff config {sub} NAME")
        if not rest[0]:
            raise UsageError(f"empty {what} names are not allowed")
        return rest[0]

    if sub == "view":
        fmt = args.output or "yaml"
        if fmt not in ("yaml", "json"):
            raise UsageError(f'--output {fmt} is not available in skiff config view: use yaml or json')
        data = view(config, minify=args.minify)
        ctx.out.write(json.dumps(data, indent=4) + "\n" if fmt == "json" else printers.dump(data, "yaml"))
        ctx.out.flush()
        return 0
    if sub == "get-contexts":
        if args.output not in (None, "", "name"):
            raise UsageError(f"--output {args.output} is not available in skiff config get-contexts; use name")
        lines, missing = contexts_table(config, rest)
        if args.output == "name":
            lines = [n for n in sorted(config.contexts()) if not rest or n in rest]
        elif args.no_headers:
            lines = lines[1:]
        for line in lines:
            ctx.say(line)
        for m in missing:
            ctx.complain(f"error: {m}")
        return 1 if missing else 0
    if sub == "get-clusters":
        ctx.say("NAME")
        for name in sorted(config.clusters()):
            ctx.say(name)
        return 0
    if sub == "current-context":
        if not config.current:
            ctx.complain("error: current-context is not set")
            return 1
        ctx.say(config.current)
        return 0
    if sub == "use-context":
        name = one_name("context")
        save(use_context(config, name))
        ctx.say(f'Switched to context "{name}".')
        return 0
    if sub == "set-context":
        if args.current and rest:
            raise UsageError("you cannot specify both a context name and --current")
        if args.current:
            if not config.current:
                raise ConfigError("no current context is set")
            name = config.current
        else:
            if not rest:
                raise UsageError("you must specify a non-empty context name or --current")
            name = one_name("context")
        new, existed = set_context(config, name, cluster=args.cluster, namespace=args.namespace)
        save(new)
        ctx.say(f'Context "{name}" {"modified" if existed else "created"}.')
        return 0
    if sub == "set-cluster":
        name = one_name("cluster")
        servers = [strip_scheme(s) for s in split_servers(args.server or "")]
        save(set_cluster(config, name, servers))
        ctx.say(f'Cluster "{name}" set.')
        return 0
    if sub in ("delete-context", "delete-cluster"):
        key = "contexts" if sub == "delete-context" else "clusters"
        name = one_name(key[:-1])
        new = delete_entry(config, key, name)
        if key == "contexts" and config.current == name:
            ctx.complain('warning: this removed your active context, use "skiff config use-context" to select '
                         "a different one")
        save(new)
        ctx.say(f"deleted {key[:-1]} {name} from {config.path}")
        return 0
    raise AssertionError(sub)  # pragma: no cover - SUBCOMMANDS is checked above
