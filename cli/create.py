"""`skiff create`: objects from files (create only, never update) or built from flags, as kubectl create.

    skiff create -f web.yaml                                       # deployment.apps/web created
    skiff create namespace shop                                    # namespace/shop created
    skiff create deployment web --image=nginx:1.25 --replicas=2    # deployment.apps/web created
    skiff create deployment web --image=nginx --dry-run=client -o yaml   # kubectl's manifest, nothing sent

The builders are pure and produce kubectl 1.20's objects field for field, in Go's field order (which
`-o json` shows) and with its empty markers (`creationTimestamp: null`, `strategy: {}`,
`resources: {}`, `status: {}`), so `create deployment --dry-run=client -o yaml` output matches what
kubectl users paste into their repositories. `create deployment` labels everything `app=NAME`, names
each container after its image (`registry/nginx:1.25` -> `nginx`; a name with `.` or `_` is made
DNS-safe and given a random 5-letter suffix, the random source coming in), and puts --port on the
first container; a command after `--` becomes the container's command.

Errors as kubectl's: a file's object that exists already is `Error from server (AlreadyExists): error
when creating "f.yaml": deployments.apps "web" already exists` and the other objects are still
created (exit 1 at the end); `create deployment` reports `error: failed to create deployment: ...`.
"""
from __future__ import annotations

import argparse
import copy
import random
from typing import Sequence

from google.protobuf.message import Message

from cli import merge, outcome, record
from cli.api import Api, ServerError
from cli.commands import Context, UsageError, check_namespace, namespace_of
from cli.manifests import Manifest, ManifestError, load
from client import codec, kinds
from client.kinds import Kind

SUBCOMMANDS = {"namespace": "namespace", "ns": "namespace", "deployment": "deployment", "deploy": "deployment"}
# The flags each form takes (argparse dest -> flag as the user wrote it); any other is refused as
# kubectl refuses a flag its subcommand does not define.
ONLY_FOR = {"filename": ("", "--filename"), "image": ("deployment", "--image"),
            "replicas": ("deployment", "--replicas"), "port": ("deployment", "--port")}
SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"   # apimachinery's utilrand.String alphabet


def add_parsers(subs: dict, make_parser, global_flags) -> None:
    p = subs["create"] = make_parser(
        prog="skiff create", formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="skiff create -f FILE | create namespace NAME | create deployment NAME --image=IMAGE [flags]",
        description="""\
Create objects from manifests (create only: an object that exists is an error; see apply), or build
one from flags: a namespace, or a deployment labelled app=NAME running one container per --image.

Examples:
  skiff create -f web.yaml
  skiff create namespace shop
  skiff create deployment web --image=nginx:1.25 --replicas=2 --port=80
  skiff create deployment job --image=busybox -- sleep 3600
  skiff create deployment web --image=nginx --dry-run=client -o yaml > web.yaml""")
    global_flags(p, suppress=True)
    p.add_argument("args", nargs="*", metavar="namespace|deployment NAME",
                   help="what to build: namespace (ns) NAME or deployment (deploy) NAME; none with -f")
    p.add_argument("-f", "--filename", action="append", default=[], metavar="FILE",
                   help="a file, a directory, an http(s) URL, or - for stdin (repeatable)")
    p.add_argument("--image", action="append", default=[], metavar="IMAGE",
                   help="create deployment: a container image (repeatable: one container each)")
    p.add_argument("--replicas", type=int, metavar="N", help="create deployment: replicas (default: 1)")
    p.add_argument("--port", type=int, metavar="PORT", help="create deployment: the first container's port")
    p.add_argument("--save-config", action="store_true",
                   help="keep the object in the last-applied annotation, so that apply can update it later")
    outcome.add_flags(p)
    record.add_flag(p)


# -- pure builders ------------------------------------------------------------------------------
def container_name(image: str, rng: random.Random) -> str:
    """kubectl's container name for an image: the last path element without tag or digest; `.` and `_`
    become `-` and a random suffix is added (kubectl's sanitizeAndUniquify)."""
    name = image.split("/")[-1].split(":")[0].split("@")[0]
    if "_" in name or "." in name:
        name = name.replace("_", "-").replace(".", "-")
        name = f"{name}-{''.join(rng.choice(SUFFIX_ALPHABET) for _ in range(5))}"
    return name


def deployment_dict(name: str, images: Sequence[str], *, replicas: int = 1, port: int = -1,
                    namespace: str = "", command: Sequence[str] = (), rng: random.Random) -> dict:
    """The Deployment `kubectl create deployment` builds (v1.20), as Kubernetes JSON in Go field order."""
    labels = {"app": name}
    containers = []
    for i, image in enumerate(images):
        c: dict = {"name": container_name(image, rng), "image": image}
        if command:
            c["command"] = list(command)
        if port >= 0 and i == 0:
            c["ports"] = [{"containerPort": port}]
        c["resources"] = {}
        containers.append(c)
    meta: dict = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta.update({"creationTimestamp": None, "labels": dict(labels)})
    return {
        "kind": "Deployment", "apiVersion": "apps/v1", "metadata": meta,
        "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                 "template": {"metadata": {"creationTimestamp": None, "labels": dict(labels)},
                              "spec": {"containers": containers}},
                 "strategy": {}},
        "status": {},
    }


def namespace_dict(name: str) -> dict:
    """The Namespace `kubectl create namespace` builds."""
    return {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": name, "creationTimestamp": None},
            "spec": {}, "status": {}}


def exactly_one_name(words: Sequence[str]) -> str:
    if len(words) != 1:
        raise UsageError(f"exactly one NAME is required, got {len(words)}")
    return words[0]


def split_command(words: Sequence[str], argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """(words before `--`, the command after it). argparse drops the `--` itself, so the raw command
    line tells how many trailing words came after it."""
    argv = list(argv)
    if "--" not in argv:
        return list(words), []
    after = argv[argv.index("--") + 1:]
    if not after or len(after) > len(words):
        return list(words), []
    return list(words[:len(words) - len(after)]), list(words[len(words) - len(after):])


def save_config(data: dict) -> dict:
    """--save-config: the object with apply's last-applied annotation (its own canonical JSON), so a
    later `skiff apply` merges against it instead of warning."""
    out = copy.deepcopy(data)
    meta = out.setdefault("metadata", {})
    canonical = {k: v for k, v in out.items() if k != "status"}
    canonical["metadata"] = {k: v for k, v in meta.items() if v is not None}
    meta["annotations"] = {**(meta.get("annotations") or {}),
                           merge.LAST_APPLIED: merge.last_applied(canonical)}
    return out


# -- the command --------------------------------------------------------------------------------
def run_create(ctx: Context, args) -> int:
    try:
        strategy = outcome.dry_run_of(args.dry_run, ctx.complain)
    except outcome.OutcomeError as e:
        raise UsageError(str(e)) from None
    words = list(args.args)
    sub = SUBCOMMANDS.get(words[0]) if words else None
    if words and sub is None:
        if args.filename:
            raise UsageError(f"Unexpected args: [{' '.join(words)}]")
        raise UsageError(f'unknown command "{words[0]}" for "skiff create"\nAvailable commands: deployment '
                         "(deploy), namespace (ns); or create from files with -f FILE")
    for dest, (form, flag) in ONLY_FOR.items():
        given = getattr(args, dest)
        if given not in (None, []) and form != (sub or ""):
            raise UsageError(f"unknown flag: {flag}")
    cause = record.cause_of(args)
    if sub is None:
        if not args.filename:
            raise UsageError("must specify one of -f and -k")
        return _create_from_files(ctx, args, strategy, cause)
    rest, command = split_command(words[1:], getattr(args, "command_line", ()) or ())
    name = exactly_one_name(rest)
    if sub == "namespace":
        if command:
            raise UsageError(f"exactly one NAME is required, got {len(rest) + len(command)}")
        return _create_built(ctx, args, kinds.by_resource("namespaces"), namespace_dict(name), strategy, cause,
                             failure="")
    if not args.image:
        raise UsageError('required flag(s) "image" not set')
    if len(args.image) > 1 and command:
        raise UsageError("cannot specify multiple --image options and command")
    data = deployment_dict(name, args.image, replicas=1 if args.replicas is None else args.replicas,
                           port=-1 if args.port is None else args.port, namespace=ctx.namespace or "",
                           command=command, rng=random.Random())
    return _create_built(ctx, args, kinds.by_resource("deployments"), data, strategy, cause,
                         failure="failed to create deployment: ")


def _finish(data: dict, args, cause: str | None) -> dict:
    data = record.annotate_dict(data, cause)
    return save_config(data) if args.save_config else data


def _create_built(ctx: Context, args, kind: Kind, data: dict, strategy: str, cause: str | None, *,
                  failure: str) -> int:
    """Creates (or, for a client dry run, prints) one object built from flags."""
    data = _finish(data, args, cause)
    if strategy == "client":
        outcome.Reporter(ctx.out, args.output).emit(kind, data, "created", strategy)
        return 0
    obj = codec.from_dict(kind.message, data)
    obj.metadata.namespace = namespace_of(kind, None, ctx.namespace)
    with ctx.api() as api:
        try:
            created = api.create(obj, dry_run=strategy == "server")
        except ServerError as e:
            if not failure:
                raise
            raise UsageError(f"{failure}{e.message}") from None
    outcome.Reporter(ctx.out, args.output).emit(kind, created, "created", strategy)
    return 0


def _create_from_files(ctx: Context, args, strategy: str, cause: str | None) -> int:
    try:
        found, errors = load(args.filename, ctx.stdin)
    except ManifestError as e:
        raise UsageError(str(e)) from None
    if not found and not errors:
        raise UsageError("no objects passed to create")
    failed = bool(errors)
    reporter = outcome.Reporter(ctx.out, args.output)
    with ctx.api() as api:
        for m in found:
            try:
                kind, obj = _create_one(ctx, api, m, args, strategy, cause)
            except UsageError as e:
                ctx.complain(f"error: {e}")
                failed = True
                continue
            except ServerError as e:
                ctx.complain(e.line(f'error when creating "{m.source}": '))
                failed = True
                continue
            reporter.emit(kind, obj, "created", strategy)
    for e in errors:
        ctx.complain(f"error: {e}")
    return 1 if failed else 0


def _create_one(ctx: Context, api: Api, m: Manifest, args, strategy: str,
                cause: str | None) -> tuple[Kind, Message]:
    """Creates one manifest's object (or, for a client dry run, only builds it); the object to report."""
    check_namespace(m, ctx.enforced_namespace)
    kind = m.kind
    data = copy.deepcopy(m.data)
    if kind.namespaced:
        data.setdefault("metadata", {})["namespace"] = namespace_of(kind, m.namespace, ctx.namespace)
    data = _finish(data, args, cause)
    obj = codec.from_dict(kind.message, data)
    if not kind.namespaced:
        obj.metadata.ClearField("namespace")
    if strategy == "client":
        return kind, obj
    return kind, api.create(obj, dry_run=strategy == "server")
