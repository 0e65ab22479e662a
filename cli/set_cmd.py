"""`skiff set image`: new images for containers of deployments, replica sets and pods, as kubectl 1.20's.

    skiff set image deployment/web web=registry.local/web:2          # deployment.apps/web image updated
    skiff set image deploy web '*=web:2' --record                      # every container; change-cause
    skiff set image rs/web-5d4f8 sidecar=proxy:1.3 web=web:2
    skiff set image pods -l app=web web=web:2

kubectl's rules (pkg/cmd/set/set_image.go): resources first, then CONTAINER=IMAGE pairs (`*` names
every container, init containers included); a container no object has is `error: unable to find
container named "x"` (exit 1, after the other objects were updated); an object whose images are
already those asked for is left alone and prints nothing; --record puts the command line in the
object's `kubernetes.io/change-cause` (cli/record.py; for a Deployment the controller copies it to
the ReplicaSet of the new revision, which is what `rollout history` shows). The change goes as a
strategic merge patch naming only the containers whose image changes (with kubectl's
`$setElementOrder`), so a concurrent writer costs no Conflict. `set` has only the `image`
subcommand for now; the parser is one (`set SUBCOMMAND ...`), as `skiff config`'s. Pure parts:
`parse_images`, `validate`, `image_update`; `run_set` is the shell.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Mapping, Sequence

from google.protobuf.message import Message

from cli import outcome, printers, record
from cli.api import Api, ServerError
from cli.commands import Context, UsageError, file_targets, namespace_of, resolve_targets, subcommand
from cli.metadata_cmds import split_resources_and_pairs
from cli.rollout import report_lines
from client.kinds import Kind

SUBCOMMANDS = ("image",)
STRATEGIC = "application/strategic-merge-patch+json"

USAGE = """\
Set specific features on objects. Subcommands:
  image    Update the images of containers of deployments, replica sets and pods

skiff set image (TYPE NAME | TYPE/NAME | -f FILE | TYPE -l SEL | TYPE --all) CONTAINER=IMAGE ...
A container named * stands for every container (init containers included).

Examples:
  skiff set image deployment/web web=registry.local/web:2
  skiff set image deployment/web web=web:2 sidecar=proxy:1.3 --record
  skiff set image deploy web '*=web:2'
  skiff set image pods -l app=web web=web:2
  skiff set image deployment/web web=web:2 --dry-run=client -o yaml"""


def add_parsers(subs: dict, make_parser, global_flags) -> None:
    p = subs["set"] = make_parser(prog="skiff set", formatter_class=argparse.RawDescriptionHelpFormatter,
                                  usage="skiff set image TYPE NAME | TYPE/NAME | -f FILE CONTAINER=IMAGE... [flags]",
                                  description=USAGE)
    global_flags(p, suppress=True)
    p.add_argument("args", nargs="*", metavar="SUBCOMMAND TYPE NAME CONTAINER=IMAGE",
                   help="image, then the objects, then the changes")
    p.add_argument("-f", "--filename", action="append", default=[], metavar="FILE",
                   help="the objects named in a file, a directory, a URL, or - for stdin (repeatable)")
    p.add_argument("-l", "--selector", metavar="SELECTOR", help="change every object the label selector matches")
    p.add_argument("--all", action="store_true", help="change every object of the type in the namespace")
    outcome.add_flags(p)
    record.add_flag(p)


# -- pure ----------------------------------------------------------------------------------------
def parse_images(pairs: Sequence[str]) -> dict[str, str]:
    """kubectl's ParsePairs for images: `name=image`, in the order given; UsageError naming the others."""
    images: dict[str, str] = {}
    invalid: list[str] = []
    for pair in pairs:
        if "=" in pair and not pair.startswith("="):
            name, image = pair.split("=", 1)
            images[name] = image
        else:
            invalid.append(pair)
    if invalid:
        raise UsageError(f"invalid image format: {', '.join(invalid)}")
    return images


def validate(resources: Sequence[str], filenames: Sequence[str], images: Mapping[str, str], *, all_: bool,
             selector: str | None) -> list[str]:
    """kubectl's SetImageOptions.Validate: every problem, in its order."""
    errors = []
    if all_ and selector:
        errors.append("cannot set --all and --selector at the same time")
    if not resources and not filenames:
        errors.append("one or more resources must be specified as <resource> <name> or <resource>/<name>")
    if not images:
        errors.append("at least one image update is required")
    elif len(images) > 1 and "*" in images:
        errors.append("all containers are already specified by *, but saw more than one "
                      "container_name=container_image pairs")
    return errors


def pod_spec_path(kind: Kind) -> tuple[str, ...] | None:
    """Where the pod spec is: a Pod's spec, a workload's spec.template.spec; None for other kinds."""
    if kind.resource == "pods":
        return ("spec",)
    if kind.resource in ("deployments", "replicasets"):
        return ("spec", "template", "spec")
    return None


@dataclass(frozen=True)
class ImageUpdate:
    patch: dict          # {} when nothing changes
    updated: Message     # the object with the new images (and change cause)
    errors: list[str]    # kubectl's `error: unable to find container named "x"`, ...


def image_update(kind: Kind, obj: Message, images: Mapping[str, str], cause: str | None = None) -> ImageUpdate:
    """The strategic merge patch that sets `images` on `obj`, the object as it would become, and
    the containers not found."""
    path = pod_spec_path(kind)
    if path is None:
        return ImageUpdate({}, obj, [f"error: {kind.resource}/{obj.metadata.name} the object is not a pod or does "
                                     f"not have a pod template: *{kind.version}.{kind.kind}"])
    updated = type(obj)()
    updated.CopyFrom(obj)
    spec = updated
    for part in path:
        spec = getattr(spec, part)
    errors = []
    for name, image in images.items():
        found = False
        for container in (*spec.init_containers, *spec.containers):
            if container.name == name or name == "*":
                container.image = image
                found = True
        if not found:
            errors.append(f'error: unable to find container named "{name}"')
    fragment: dict = {}
    for field, json_name in (("init_containers", "initContainers"), ("containers", "containers")):
        before = {c.name: c.image for c in _spec(obj, path, field)}
        after = list(getattr(spec, field))
        changed = [{"image": c.image, "name": c.name} for c in after if before.get(c.name) != c.image]
        if changed:
            fragment[f"$setElementOrder/{json_name}"] = [{"name": c.name} for c in after]
            fragment[json_name] = changed
    patch: dict = {}
    if fragment:
        node = patch
        for part in path:
            node = node.setdefault(part, {})
        node.update(fragment)
    if cause and obj.metadata.annotations.get(record.CHANGE_CAUSE) != cause:
        updated.metadata.annotations[record.CHANGE_CAUSE] = cause
        patch["metadata"] = {"annotations": {record.CHANGE_CAUSE: cause}}
    return ImageUpdate(patch, updated, errors)


def _spec(obj: Message, path: Sequence[str], field: str):
    node = obj
    for part in path:
        node = getattr(node, part)
    return getattr(node, field)


# -- the shell -----------------------------------------------------------------------------------
def run_set(ctx: Context, args) -> int:
    picked = subcommand(ctx, args.args, "set", SUBCOMMANDS, USAGE)
    if picked is None:
        return 0
    sub, rest = picked
    resources, pairs = split_resources_and_pairs(rest, "image")
    images = parse_images(pairs)
    problems = validate(resources, args.filename, images, all_=args.all, selector=args.selector)
    if problems:
        return _report(ctx, problems)
    try:
        strategy = outcome.dry_run_of(args.dry_run, ctx.complain)
    except outcome.OutcomeError as e:
        raise UsageError(str(e)) from None
    cause = record.cause_of(args)
    reporter = outcome.Reporter(ctx.out, args.output)
    errors: list[str] = []
    with ctx.api() as api:
        objs = [(kind, ns, api.get(kind, ns, name)) for kind, ns, name in _targets(ctx, api, args, resources)]
        updates = []
        for kind, ns, obj in objs:
            u = image_update(kind, obj, images, cause)
            errors.extend(u.errors)
            updates.append((kind, ns, obj, u))
        for kind, ns, obj, u in updates:
            if not u.patch:
                continue
            if strategy == "client":
                reporter.emit(kind, u.updated, "image updated", strategy)
                continue
            try:
                result = api.patch(kind, ns, obj.metadata.name, u.patch, patch_type=STRATEGIC,
                                   dry_run=strategy == "server")
            except ServerError as e:
                errors.append(f"failed to patch image update to pod template: {e.message}")
                continue
            reporter.emit(kind, result, "image updated", strategy)
    return _report(ctx, errors)


def _targets(ctx: Context, api: Api, args, resources: list[str]) -> list[tuple[Kind, str, str]]:
    if args.filename:
        found, errors = file_targets(ctx, args.filename, resources)
        if errors:
            raise UsageError(errors[0])
        return [(m.kind, ns, m.name) for m, ns in found]
    targets = resolve_targets(resources)
    named = [(k, n) for k, n in targets if n is not None]
    if named and (args.all or args.selector):
        raise UsageError("name cannot be provided when a selector is specified")
    if named:
        return [(k, namespace_of(k, None, ctx.namespace), n) for k, n in named]
    if not (args.all or args.selector):
        raise UsageError("resource(s) were provided, but no name, label selector, or --all flag specified")
    kind = targets[0][0]
    ns = namespace_of(kind, None, ctx.namespace)
    objs, _ = api.list(kind, ns, label_selector=args.selector or "")
    if not objs:
        ctx.complain(printers.no_resources(kind, ns, False))
    return [(kind, ns, o.metadata.name) for o in objs]


def _report(ctx: Context, errors: Sequence[str]) -> int:
    for line in report_lines(errors):
        ctx.complain(line)
    return 1 if errors else 0
