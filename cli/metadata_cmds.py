"""`skiff label` and `skiff annotate`: add, change or remove an object's labels or annotations.

    skiff label pods web tier=front              # pod/web labeled
    skiff label deploy/web tier- --overwrite     # removes tier; changes need --overwrite
    skiff label pods -l app=web canary=true      # every pod the selector matches
    skiff annotate deploy web owner=ops          # deployment.apps/web annotated
    skiff label pods web --list                  # the labels, one key=value a line

The argument rules, messages and outputs are kubectl 1.20's: resources first, then `key=value` and
`key-` pairs; changing an existing value needs --overwrite (`error: 'app' already has a value (web),
and --overwrite is false`); label prints `labeled`, or `not labeled` when nothing changed, annotate
always `annotated`. `--list` is label's; annotate has it too here (kubectl added it later).

How it writes: Get, change the map, Update with the resourceVersion read as precondition. kubectl
sends a merge patch instead, which never conflicts; Skiff's Update gives the same outcome, and on a
Conflict (someone wrote in between) re-reads, re-checks --overwrite against the fresh object and
retries. --resource-version=RV is the user's precondition instead: its Conflict is final, as in
kubectl. As in kubectl, one object failing does not stop the others; the exit code is 1 at the end.
The argument parsing and map arithmetic are pure; `run_label`/`run_annotate` are the shell.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Mapping, Sequence

from google.protobuf.message import Message

from cli import outcome, record
from cli.api import Api, ServerError
from cli.commands import Context, UsageError, file_targets, namespace_of, resolve_targets
from client.kinds import Kind
from client.selectors import label_value_errors

RETRIES = 5   # Updates tried when someone else writes the object in between (Conflict)


class MetadataError(ValueError):
    """A change that cannot be made to one object; str() is kubectl's message."""


@dataclass(frozen=True)
class Field:
    """What differs between label and annotate."""
    noun: str          # "label" | "annotation"
    verb: str          # what the output line says: "labeled" | "annotated"
    attr: str          # the metadata map: "labels" | "annotations"
    unchanged: str     # the verb when nothing changed (kubectl's annotate still says "annotated")


LABEL = Field("label", "labeled", "labels", "not labeled")
ANNOTATION = Field("annotation", "annotated", "annotations", "annotated")


def add_parsers(subs: dict, make_parser, global_flags) -> None:
    for field, example in ((LABEL, "tier=front"), (ANNOTATION, "owner=ops")):
        verb = "label" if field is LABEL else "annotate"
        p = subs[verb] = make_parser(
            prog=f"skiff {verb}", formatter_class=argparse.RawDescriptionHelpFormatter,
            usage=f"skiff {verb} TYPE NAME... | TYPE/NAME... | TYPE -l SEL | TYPE --all | -f FILE "
                  f"KEY=VALUE... KEY-... [flags]",
            description=f"""\
Set (KEY=VALUE) or remove (KEY-) {field.attr} of objects. A key that has another value already is
changed only with --overwrite. Resources come first, then the changes.

Examples:
  skiff {verb} pods web {example}
  skiff {verb} deploy/web {example} --overwrite
  skiff {verb} pods -l app=web {example.split('=')[0]}-
  skiff {verb} pods --all {example} --resource-version=42
  skiff {verb} pods web --list""")
        global_flags(p, suppress=True)
        p.add_argument("args", nargs="*", metavar="TYPE NAME KEY=VALUE KEY-",
                       help="a kind and names (or kind/name), then the changes")
        p.add_argument("--overwrite", action="store_true", help=f"allow changing {field.attr} that have a value")
        p.add_argument("-l", "--selector", metavar="SELECTOR", help="change every object the label selector matches")
        p.add_argument("--field-selector", metavar="SELECTOR", help="change every object the field selector matches")
        p.add_argument("--all", action="store_true", help="change every object of the type in the namespace")
        p.add_argument("-f", "--filename", action="append", default=[], metavar="FILE",
                       help="the objects named in a file, a directory, a URL, or - for stdin (repeatable)")
        p.add_argument("--resource-version", default="", metavar="RV",
                       help="change only if the object's resourceVersion is still RV (one object)")
        p.add_argument("--list", action="store_true", help=f"print the {field.attr} (key=value lines)")
        outcome.add_flags(p)
        record.add_flag(p)


# -- pure: arguments ----------------------------------------------------------------------------
def _is_pair(arg: str) -> bool:
    return ("=" in arg and not arg.startswith("=")) or (arg.endswith("-") and arg != "-")


def split_resources_and_pairs(args: Sequence[str], noun: str) -> tuple[list[str], list[str]]:
    """kubectl's GetResourcesAndPairs: resources first, then `k=v` / `k-` changes, never mixed."""
    resources: list[str] = []
    pairs: list[str] = []
    for arg in args:
        if _is_pair(arg):
            pairs.append(arg)
        elif pairs:
            raise UsageError(f"all resources must be specified before {noun} changes: {arg}")
        else:
            resources.append(arg)
    return resources, pairs


def parse_label_changes(pairs: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """(labels to set, labels to remove) from `k=v` and `k-`, with kubectl label's checks."""
    new: dict[str, str] = {}
    remove: list[str] = []
    for spec in pairs:
        if "=" in spec:
            parts = spec.split("=")
            if len(parts) != 2:
                raise UsageError(f"invalid label spec: {spec}")
            errs = label_value_errors(parts[1])
            if errs:
                raise UsageError(f'invalid label value: "{spec}": {";".join(errs)}')
            new[parts[0]] = parts[1]
        elif spec.endswith("-"):
            remove.append(spec[:-1])
        else:
            raise UsageError(f"unknown label spec: {spec}")
    if any(key in new for key in remove):
        raise UsageError("can not both modify and remove a label in the same command")
    return new, remove


def parse_annotation_changes(pairs: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """(annotations to set, annotations to remove): values may hold `=`; keys are checked by the server."""
    new: dict[str, str] = {}
    remove: list[str] = []
    invalid = []
    for spec in pairs:
        if "=" in spec and not spec.startswith("="):
            key, value = spec.split("=", 1)
            new[key] = value
        elif spec.endswith("-") and spec != "-":
            remove.append(spec[:-1])
        else:
            invalid.append(spec)
    if invalid:
        raise UsageError(f"invalid annotation format: {', '.join(invalid)}")
    both = [key for key in remove if key in new]
    if both:
        raise UsageError("can not both modify and remove the following annotation(s) in the same command: "
                         + ", ".join(both))
    return new, remove


# -- pure: the change ---------------------------------------------------------------------------
def overwrite_errors(field: Field, current: Mapping[str, str], new: Mapping[str, str]) -> str | None:
    """kubectl's refusal when a key already has another value and --overwrite is false; None if none."""
    clashes = [(k, current[k]) for k in sorted(new)
               if k in current and current[k] != new[k] and not (field is ANNOTATION and k == record.CHANGE_CAUSE)]
    if not clashes:
        return None
    if field is ANNOTATION:
        listed = "; ".join(f"'{k}' already has a value ({v})" for k, v in clashes)
        return f"--overwrite is false but found the following declared annotation(s): {listed}"
    errs = [f"'{k}' already has a value ({v}), and --overwrite is false" for k, v in clashes]
    return errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]"


def changed_map(field: Field, current: Mapping[str, str], new: Mapping[str, str], remove: Sequence[str], *,
                overwrite: bool) -> dict[str, str]:
    """The map after the changes; MetadataError when they would overwrite without --overwrite."""
    if not overwrite:
        problem = overwrite_errors(field, current, new)
        if problem:
            raise MetadataError(problem)
    out = dict(current)
    out.update(new)
    for key in remove:
        out.pop(key, None)
    return out


def listing(kind: Kind, name: str, values: Mapping[str, str], *, single: bool) -> tuple[str | None, list[str]]:
    """--list: (heading for stderr or None, `key=value` lines). With several objects kubectl heads each
    with `Listing labels for <Kind>.<group>/<name>:` and indents its lines by one space."""
    lines = [f"{k}={v}" for k, v in sorted(values.items())]
    if single:
        return None, lines
    return f"Listing labels for {kind.kind}.{kind.group}/{name}:", [" " + line for line in lines]


# -- the shell ----------------------------------------------------------------------------------
def run_label(ctx: Context, args) -> int:
    return _run(ctx, args, LABEL)


def run_annotate(ctx: Context, args) -> int:
    return _run(ctx, args, ANNOTATION)


def _run(ctx: Context, args, field: Field) -> int:
    resources, pairs = split_resources_and_pairs(args.args, field.noun)
    parse = parse_label_changes if field is LABEL else parse_annotation_changes
    new, remove = parse(pairs)
    if args.all and args.selector:
        raise UsageError("cannot set --all and --selector at the same time")
    if args.all and args.field_selector:
        raise UsageError("cannot set --all and --field-selector at the same time")
    if not resources and not args.filename:
        raise UsageError("one or more resources must be specified as <resource> <name> or <resource>/<name>")
    if not new and not remove and not args.list:
        raise UsageError(f"at least one {field.noun} update is required")
    try:
        strategy = outcome.dry_run_of(args.dry_run, ctx.complain)
    except outcome.OutcomeError as e:
        raise UsageError(str(e)) from None
    cause = record.cause_of(args)
    reporter = outcome.Reporter(ctx.out, args.output)
    with ctx.api() as api:
        targets, single, failed = _targets(ctx, api, args, resources)
        for kind, ns, name in targets:
            try:
                _change_one(ctx, api, reporter, field, kind, ns, name, new, remove, args, strategy, cause,
                            single=single)
            except MetadataError as e:
                ctx.complain(f"error: {e}")
                failed = True
            except ServerError as e:
                ctx.complain(e.args[0])
                failed = True
    return 1 if failed else 0


def _targets(ctx: Context, api: Api, args, resources: list[str]) -> tuple[list[tuple[Kind, str, str]], bool, bool]:
    """(kind, namespace, name) of each object to change, whether one object was named, whether some
    file failed to load."""
    if args.filename:
        found, errors = file_targets(ctx, args.filename, resources)
        for e in errors:
            ctx.complain(f"error: {e}")
        return [(m.kind, ns, m.name) for m, ns in found], len(found) == 1, bool(errors)
    targets = resolve_targets(resources)
    named = [(k, n) for k, n in targets if n is not None]
    if named and (args.all or args.selector or args.field_selector):
        raise UsageError("name cannot be provided when a selector is specified")
    if named:
        return [(k, namespace_of(k, None, ctx.namespace), n) for k, n in named], len(named) == 1, False
    if not (args.all or args.selector or args.field_selector):
        raise UsageError("resource(s) were provided, but no name, label selector, or --all flag specified")
    kind = targets[0][0]
    ns = namespace_of(kind, None, ctx.namespace)
    objs, _ = api.list(kind, ns, label_selector=args.selector or "", field_selector=args.field_selector or "")
    return [(kind, ns, o.metadata.name) for o in objs], False, False


def _copy(msg: Message) -> Message:
    out = type(msg)()
    out.CopyFrom(msg)
    return out


def _change_one(ctx: Context, api: Api, reporter: outcome.Reporter, field: Field, kind: Kind, ns: str, name: str,
                new: dict[str, str], remove: list[str], args, strategy: str, cause: str | None, *,
                single: bool) -> None:
    conflict: ServerError | None = None
    for attempt in range(RETRIES):
        live = api.get(kind, ns, name)
        current = dict(getattr(live.metadata, field.attr))
        updated = changed_map(field, current, new, remove, overwrite=args.overwrite)
        obj = _copy(live)
        target = getattr(obj.metadata, field.attr)
        target.clear()
        target.update(updated)
        if cause:
            obj.metadata.annotations[record.CHANGE_CAUSE] = cause
        changed = obj != live
        verb = field.verb if changed or args.resource_version else field.unchanged
        if args.list:
            heading, lines = listing(kind, name, getattr(obj.metadata, field.attr), single=single)
            if heading:
                ctx.complain(heading)
            for line in lines:
                ctx.say(line)
            return
        if strategy == "client":
            reporter.emit(kind, obj, verb, strategy)
            return
        if attempt == 0 and field is LABEL:
            for key in remove:
                if key not in current:
                    ctx.say(f'label "{key}" not found.')
        if not changed and not args.resource_version:
            reporter.emit(kind, live, verb, strategy)
            return
        if args.resource_version:
            obj.metadata.resource_version = args.resource_version
        try:
            result = api.update(obj, dry_run=strategy == "server")
        except ServerError as e:
            if e.code != "ABORTED" or args.resource_version:
                raise
            conflict = e   # written by someone else since our Get: re-read and decide again
            continue
        reporter.emit(kind, result, verb, strategy)
        return
    assert conflict is not None
    raise conflict
