"""The commands: the pure parts (manifests, merge, printers) wired to the server through `api.Api`.

Each `run_<command>(ctx, args) -> exit code` prints results to ctx.out and kubectl's error lines to
ctx.err. As in kubectl, a command that acts on several objects goes on after an object fails and
exits 1 at the end; an unreachable server (api.Unreachable) stops it at once (main prints it).
"""
from __future__ import annotations

import copy
import signal
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence, TextIO

from google.protobuf.message import Message

from cli import manifests, merge, printers, record
from cli.api import Api, Listed, ServerError, follow
from cli.manifests import Manifest, ManifestError
from client import codec, kinds
from client.kinds import Kind

APPLY_RETRIES = 5           # Update attempts when someone else wrote in between (Conflict)


class UsageError(Exception):
    """A command line that cannot work; main prints `error: <message>` and exits 1."""


@dataclass
class Context:
    server: str
    namespace: str | None          # -n as given, else the config context's; None when neither
    timeout: float
    out: TextIO
    err: TextIO
    stdin: TextIO
    now: Callable[[], float] = field(default=time.time)
    namespace_flag: bool = False   # the namespace came from -n (kubectl enforces only that one on manifests)

    @property
    def enforced_namespace(self) -> str | None:
        """The namespace a manifest must agree with: -n's, not a context default (see check_namespace)."""
        return self.namespace if self.namespace_flag else None

    def api(self) -> Api:
        return Api(self.server, self.timeout)

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def complain(self, line: str) -> None:
        print(line, file=self.err, flush=True)


# -- arguments shared by commands (pure) --------------------------------------------------------
def resolve_targets(args: Sequence[str]) -> list[tuple[Kind, str | None]]:
    """`TYPE [NAME...]` or `TYPE/NAME...` -> (kind, name) pairs; (kind, None) for a whole collection."""
    if not args:
        raise UsageError("You must specify the type of resource. Use \"skiff get --help\" for the kinds "
                         "Skiff serves (pods, deployments, services, ...).")
    try:
        if "/" in args[0]:
            out = []
            for arg in args:
                if "/" not in arg:
                    raise UsageError('there is no need to specify a resource type as a separate argument when '
                                     "passing arguments in resource/name form (e.g. 'skiff get resource/<name>' "
                                     "instead of 'skiff get resource resource/<name>'")
                type_name, name = arg.split("/", 1)
                if not name:
                    raise UsageError(f'arguments in resource/name form must have a single resource and name: "{arg}"')
                out.append((kinds.by_name(type_name), name))
            return out
        kind = kinds.by_name(args[0])
    except kinds.UnknownKind as e:
        raise UsageError(str(e)) from None
    for name in args[1:]:
        if "/" in name:
            raise UsageError('there is no need to specify a resource type as a separate argument when passing '
                             "arguments in resource/name form (e.g. 'skiff get resource/<name>' instead of "
                             "'skiff get resource resource/<name>'")
    return [(kind, name) for name in args[1:]] or [(kind, None)]


def subcommand(ctx: Context, words: Sequence[str], group: str, known, usage: str) -> tuple[str, list[str]] | None:
    """`skiff GROUP SUB ARGS...` (config, rollout, set): (SUB, ARGS); None after printing `usage`
    when no SUB is given; UsageError for an unknown one, in kubectl's words."""
    if not words:
        ctx.say(usage)
        return None
    sub, rest = words[0], list(words[1:])
    if sub not in known:
        raise UsageError(f'unknown command "{sub}" for "skiff {group}"\nRun \'skiff {group} --help\' for usage.')
    return sub, rest


def namespace_of(kind: Kind, given: str | None, explicit: str | None) -> str:
    """A namespace for `kind`: the manifest's (`given`), else -n (`explicit`), else default; "" if cluster-scoped."""
    if not kind.namespaced:
        return ""
    return given or explicit or "default"


def check_namespace(m: Manifest, explicit: str | None) -> None:
    """kubectl refuses a manifest whose namespace differs from an explicit -n."""
    if m.kind.namespaced and explicit and m.namespace and m.namespace != explicit:
        raise UsageError(f'the namespace from the provided object "{m.namespace}" does not match the namespace '
                         f'"{explicit}". You must pass \'--namespace={m.namespace}\' to perform this operation.')


def _copy(msg: Message) -> Message:
    out = type(msg)()
    out.CopyFrom(msg)
    return out


FILES_AND_RESOURCES = ("when paths, URLs, or stdin is provided as input, you may not specify resources as "
                       "arguments as well")
NO_RESOURCES = ("You must provide one or more resources by argument or filename.\nExample resource specifications "
                "include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'")


def _load(ctx: Context, files: Sequence[str]) -> tuple[list[Manifest], list[str]]:
    try:
        return manifests.load(files, ctx.stdin)
    except ManifestError as e:
        raise UsageError(str(e)) from None


def file_targets(ctx: Context, files: Sequence[str], resources: Sequence[str] = ()
                 ) -> tuple[list[tuple[Manifest, str]], list[str]]:
    """The objects of `-f` files, each with the namespace it goes to, and the files' load errors.
    UsageError when resources are named as well, or a manifest disagrees with -n (kubectl's rules)."""
    if resources:
        raise UsageError(FILES_AND_RESOURCES)
    found, errors = _load(ctx, files)
    out = []
    for m in found:
        check_namespace(m, ctx.enforced_namespace)
        out.append((m, namespace_of(m.kind, m.namespace, ctx.namespace)))
    return out, errors


# -- apply --------------------------------------------------------------------------------------
def run_apply(ctx: Context, args) -> int:
    if not args.filename:
        raise UsageError("must specify one of -f and -k")
    found, errors = _load(ctx, args.filename)
    if not found and not errors:
        raise UsageError("no objects passed to apply")
    failed = bool(errors)
    with ctx.api() as api:
        for m in found:
            try:
                check_namespace(m, ctx.enforced_namespace)
                ctx.say(apply_one(ctx, api, record.annotate_manifest(m, record.cause_of(args))))
            except UsageError as e:
                ctx.complain(f"error: {e}")
                failed = True
            except ServerError as e:
                ctx.complain(e.args[0])
                failed = True
    for e in errors:
        ctx.complain(f"error: {e}")
    return 1 if failed else 0


def apply_one(ctx: Context, api: Api, m: Manifest) -> str:
    """Creates or updates one object; the line to print (`deployment.apps/web created`)."""
    kind, name = m.kind, m.name
    ns = namespace_of(kind, m.namespace, ctx.namespace)
    data = copy.deepcopy(m.data)
    if kind.namespaced:
        data.setdefault("metadata", {})["namespace"] = ns
    annotation = merge.last_applied(data)
    obj = _copy(m.obj)
    if kind.namespaced:
        obj.metadata.namespace = ns
    else:
        obj.metadata.ClearField("namespace")
    obj.metadata.annotations[merge.LAST_APPLIED] = annotation
    shown = printers.object_name(kind, name)
    want = codec.to_dict(obj)
    # Get first, then Create or Update, as kubectl does. Not Create-first: a Service with an explicit
    # nodePort or clusterIP that exists already is refused by the allocator ("provided port is already
    # allocated", Invalid) before the store can say AlreadyExists, in Kubernetes as in Skiff.
    retry: ServerError | None = None
    for _ in range(APPLY_RETRIES):
        try:
            live = api.get(kind, ns, name)
        except ServerError as e:
            if e.code != "NOT_FOUND":
                raise _with_context(e, f'error when retrieving current configuration of "{shown}" from server '
                                       f'for: "{m.source}": ')
            try:
                api.create(obj)
                return f"{shown} created"
            except ServerError as e2:
                if e2.code != "ALREADY_EXISTS":
                    raise _with_context(e2, f'error when creating "{m.source}": ')
                retry = e2  # created by someone else between our Get and Create: update it instead
                continue
        live_d = codec.to_dict(live)
        if retry is None and merge.LAST_APPLIED not in live.metadata.annotations:
            ctx.complain(f"Warning: resource {kind.resource}/{name} is missing the {merge.LAST_APPLIED} annotation "
                         "which is required by skiff apply. skiff apply should only be used on resources created "
                         "declaratively by skiff apply. The missing annotation will be patched automatically.")
        planned = merge.planned_update(live_d, want, annotation)
        if merge.is_unchanged(live_d, planned):
            return f"{shown} unchanged"
        try:
            new = codec.from_dict(kind.message, planned)
        except codec.DecodeError as e:  # live and manifest both decode, so this is a bug: say where
            raise UsageError(f'error when merging "{m.source}" into the live {shown}: {e}') from None
        try:
            api.update(new)
            return f"{shown} configured"
        except ServerError as e:
            if e.code != "ABORTED" or m.obj.metadata.resource_version:
                # A resourceVersion in the manifest is the user's precondition: its Conflict is final.
                raise _with_context(e, f'error when updating "{m.source}": ')
            retry = e  # someone wrote between our Get and Update: merge into the fresh object
    assert retry is not None
    raise _with_context(retry, f'error when updating "{m.source}": ')


def _with_context(e: ServerError, context: str) -> ServerError:
    return ServerError(e.code, e.reason, f"{context}{e.message}", e.status)


# -- get ----------------------------------------------------------------------------------------
def get_output(args) -> tuple[printers.Output, printers.JSONPathPrinter | None]:
    """-o and the flags that shape it, checked before any request; the JSONPath printer if any.
    Reads a jsonpath-file template (the one piece of I/O here)."""
    try:
        output = printers.parse_output(args.output, getattr(args, "template", None),
                                       show_labels=getattr(args, "show_labels", False),
                                       no_headers=getattr(args, "no_headers", False))
        if output.format not in printers.TEMPLATE_FORMATS:
            return output, None
        text = output.template
        if output.format == "jsonpath-file":
            try:
                with open(text, encoding="utf-8") as f:
                    text = f.read()
            except OSError as e:
                raise printers.OutputError(f"error reading --template {output.template}, {e}\n") from None
        return output, printers.JSONPathPrinter(text, allow_missing_keys=getattr(args, "allow_missing_template_keys",
                                                                                  True),
                                                as_json=output.format == "jsonpath-as-json")
    except printers.OutputError as e:
        raise UsageError(str(e).rstrip("\n")) from None


def _output_failed(ctx: Context, e: printers.OutputError) -> int:
    """kubectl's report of a template failing on an object: its message as is (trailing newlines too)."""
    ctx.err.write(f"error: {e}")
    ctx.err.flush()
    return 1


def run_get(ctx: Context, args) -> int:
    if not args.args:
        raise UsageError('You must specify the type of resource to get. Use "skiff get --help" for the kinds '
                         "Skiff serves (pods, deployments, services, ...).")
    output, template = get_output(args)
    targets = get_targets(args.args)
    kinds_seen = list(dict.fromkeys(k.resource for k, _ in targets))
    if len(kinds_seen) > 1:
        if args.watch:
            raise UsageError("you may only specify a single resource type")
        return _get_several(ctx, args, targets, kinds_seen, output, template)
    kind = targets[0][0]
    names = [n for _, n in targets if n is not None]
    if names and args.all_namespaces:
        raise UsageError("a resource cannot be retrieved by name across all namespaces")
    if names and (args.selector or args.field_selector):
        raise UsageError("selectors and the all flag cannot be used when passing resource/name arguments")
    all_ns = args.all_namespaces and kind.namespaced
    ns = "" if all_ns else namespace_of(kind, None, ctx.namespace)
    try:
        with ctx.api() as api:
            if args.watch:
                if len(names) > 1:
                    raise UsageError(f"watch is only supported on individual resources and resource collections, "
                                     f"but {len(names)} resources were found")
                return watch(ctx, api, kind, ns, names[0] if names else None, args, all_ns,
                             output=output, template=template)
            if names:
                objs, failed = [], False
                for name in names:
                    try:
                        objs.append(api.get(kind, ns, name))
                    except ServerError as e:
                        ctx.complain(e.args[0])
                        failed = True
                if objs:
                    _print_objects(ctx, kind, objs, output, template, all_ns, single=len(names) == 1)
                return 1 if failed else 0
            objs, _ = api.list(kind, ns, label_selector=args.selector or "",
                               field_selector=args.field_selector or "")
        if not objs and output.table:
            # kubectl says so only for tables; -o json|yaml|name|jsonpath print an empty List
            ctx.complain(printers.no_resources(kind, ns, all_ns))
            return 0
        _print_objects(ctx, kind, objs, output, template, all_ns, single=False)
        return 0
    except printers.OutputError as e:
        return _output_failed(ctx, e)


def get_targets(args: Sequence[str]) -> list[tuple[Kind, str | None]]:
    """`get`'s arguments: as resolve_targets, plus kubectl's `TYPE1,TYPE2[,...] [NAME...]`."""
    if args and "," in args[0] and "/" not in args[0]:
        out = []
        for type_name in args[0].split(","):
            out += resolve_targets([type_name, *args[1:]])
        return out
    return resolve_targets(args)


def _get_several(ctx: Context, args, targets: list[tuple[Kind, str | None]], resources: list[str],
                 output: printers.Output, template: printers.JSONPathPrinter | None) -> int:
    """`get deploy,rs` / `get deploy/web rs/web-1`: one table per kind, NAME as kind/name, a blank
    line between tables, as kubectl prints them (one List for -o json|yaml|name|jsonpath)."""
    groups: list[tuple[Kind, list[Message]]] = []
    failed = False
    with ctx.api() as api:
        for resource in resources:
            kind = kinds.by_resource(resource)
            names = [n for k, n in targets if k.resource == resource and n is not None]
            all_ns = args.all_namespaces and kind.namespaced
            ns = "" if all_ns else namespace_of(kind, None, ctx.namespace)
            if names:
                objs = []
                for name in names:
                    try:
                        objs.append(api.get(kind, ns, name))
                    except ServerError as e:
                        ctx.complain(e.args[0])
                        failed = True
            else:
                objs, _ = api.list(kind, ns, label_selector=args.selector or "",
                                   field_selector=args.field_selector or "")
            if objs:
                groups.append((kind, objs))
    try:
        if not output.table:
            if groups or not failed:
                ctx.out.write(printers.render_groups(groups or [(kinds.by_resource(resources[0]), [])],
                                                     output.format, template))
                ctx.out.flush()
            return 1 if failed else 0
    except printers.OutputError as e:
        return _output_failed(ctx, e)
    if not groups and not failed:
        kind = kinds.by_resource(resources[0])
        all_ns = args.all_namespaces
        ctx.complain(printers.no_resources(kind, "" if all_ns else namespace_of(kind, None, ctx.namespace), all_ns))
    for i, (kind, objs) in enumerate(groups):
        if i:
            ctx.say("")
        cols = printers.columns(kind, wide=output.format == "wide",
                                all_namespaces=args.all_namespaces and kind.namespaced,
                                show_labels=output.show_labels)
        cols = [(title, (lambda o, n, k=kind: printers.object_name(k, o.metadata.name)) if title == "NAME" else fn)
                for title, fn in cols]
        for line in printers.format_table(cols, objs, ctx.now(), no_headers=output.no_headers):
            ctx.say(line)
    return 1 if failed else 0


def _print_objects(ctx: Context, kind: Kind, objs: list[Message], output: printers.Output,
                   template: printers.JSONPathPrinter | None, all_ns: bool, *, single: bool) -> None:
    if not output.table:
        ctx.out.write(printers.render_objects(kind, objs, output.format, single=single, template=template))
        ctx.out.flush()
        return
    cols = printers.columns(kind, wide=output.format == "wide", all_namespaces=all_ns,
                            show_labels=output.show_labels)
    for line in printers.format_table(cols, objs, ctx.now(), no_headers=output.no_headers):
        ctx.say(line)


class _WatchPrinter:
    """Prints the objects of `get -w` as they come: table rows under one header, or -o documents."""

    def __init__(self, ctx: Context, kind: Kind, output: printers.Output, template: printers.JSONPathPrinter | None,
                 all_ns: bool):
        self.ctx, self.kind, self.output, self.template = ctx, kind, output, template
        self.cols = printers.columns(kind, wide=output.format == "wide", all_namespaces=all_ns,
                                     show_labels=output.show_labels)
        self.table = printers.Table()
        self.headed = output.no_headers

    def show(self, objs: Sequence[Message]) -> None:
        if not objs:
            return
        if not self.output.table:
            for o in objs:
                self.ctx.out.write(printers.render_watched(self.kind, o, self.output.format, self.template))
            self.ctx.out.flush()
            return
        now = self.ctx.now()
        rows = [printers.row(self.cols, o, now) for o in objs]
        if not self.headed:
            rows.insert(0, printers.header(self.cols))
            self.headed = True
        for line in self.table.lines(rows):
            self.ctx.say(line)


class _Stop(BaseException):
    """SIGINT or SIGTERM during a watch: end quietly."""


def _raise_stop(signum, frame):
    raise _Stop()


def watch(ctx: Context, api: Api, kind: Kind, ns: str, name: str | None, args, all_ns: bool, *,
          output: printers.Output | None = None, template: printers.JSONPathPrinter | None = None) -> int:
    """`get -w`: the current objects, then every change from the list's resourceVersion on, until a signal."""
    field_selector = args.field_selector or ""
    if name:
        field_selector = ",".join(s for s in (f"metadata.name={name}", field_selector) if s)
    label_selector = args.selector or ""
    if output is None:
        output, template = get_output(args)
    printer = _WatchPrinter(ctx, kind, output, template, all_ns)
    # Both signals end the watch quietly with exit 0. SIGINT gets a handler too, because a process
    # started in the background by a shell inherits SIGINT ignored.
    previous: dict[int, object] = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[signum] = signal.signal(signum, _raise_stop)
        except ValueError:  # not the main thread (an embedding test): keep the process's handlers
            pass
    events = follow(api, kind, ns, label_selector=label_selector, field_selector=field_selector)
    first = True
    try:
        for item in events:
            if isinstance(item, Listed):
                if first and name and not item.objs:
                    raise ServerError("NOT_FOUND", "NotFound", f'{kind.group_resource} "{name}" not found')
                first = False
                printer.show(item.objs)
            else:
                printer.show([item.obj])
        return 0
    except (KeyboardInterrupt, _Stop):
        return 0
    finally:
        events.close()      # cancels the stream in progress
        for signum, handler in previous.items():
            signal.signal(signum, handler)


# -- scale --------------------------------------------------------------------------------------
def run_scale(ctx: Context, args) -> int:
    if args.replicas is None:
        raise UsageError('required flag(s) "replicas" not set')
    if args.replicas < 0:
        raise UsageError("The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0")
    targets = resolve_targets(args.args)
    if any(name is None for _, name in targets):
        raise UsageError("resource(s) were provided, but no name was specified")
    failed = False
    with ctx.api() as api:
        for kind, name in targets:
            ns = namespace_of(kind, None, ctx.namespace)
            try:
                rv = args.resource_version or ""
                if args.current_replicas is not None and args.current_replicas >= 0:
                    current = api.get_scale(kind, ns, name)
                    if current.spec.replicas != args.current_replicas:
                        ctx.complain(f"error: Expected replicas to be {args.current_replicas}, "
                                     f"was {current.spec.replicas}")
                        failed = True
                        continue
                    rv = rv or current.metadata.resource_version
                api.update_scale(kind, ns, name, args.replicas, rv)
                record.patch_change_cause(api, kind, ns, name, record.cause_of(args))  # --record
                ctx.say(f"{printers.object_name(kind, name)} scaled")
            except ServerError as e:
                ctx.complain(e.args[0])
                failed = True
    return 1 if failed else 0


# -- delete -------------------------------------------------------------------------------------
CASCADE = {"background": "Background", "foreground": "Foreground", "orphan": "Orphan",
           "true": "Background", "false": "Orphan"}


def grace_period_of(grace: int, force: bool, now_flag: bool) -> int | None:
    """kubectl's rules: negative means the object's own; --now is 1; 0 without --force becomes 1."""
    if now_flag:
        if grace >= 0:
            raise UsageError("--now and --grace-period cannot be specified together")
        return 1
    if force and grace < 0:
        return 0
    if grace == 0 and not force:
        return 1  # as kubectl: prevents accidental immediate deletion; --force bypasses it
    return grace if grace >= 0 else None


def run_delete(ctx: Context, args) -> int:
    cascade = (args.cascade or "background").lower()
    if cascade not in CASCADE:
        raise UsageError(f'invalid cascade value ({args.cascade}). Must be "background", "foreground", or "orphan".')
    if cascade in ("true", "false"):
        ctx.complain(f"warning: --cascade={cascade} is deprecated (boolean value) and can be replaced with "
                     f"--cascade={'background' if cascade == 'true' else 'orphan'}.")
    policy = CASCADE[cascade]
    grace = grace_period_of(args.grace_period, args.force, args.now)
    if args.force:
        ctx.complain("Warning: Immediate deletion does not wait for confirmation that the running resource has "
                     "been terminated. The resource may continue to run on the cluster indefinitely.")
    if args.filename and args.args:
        raise UsageError(FILES_AND_RESOURCES)
    failed = False
    plan: list[tuple[Kind, str, str, str]] = []   # kind, namespace, name, source ("" for arguments)
    with ctx.api() as api:
        if args.filename:
            found, errors = _load(ctx, args.filename)
            for e in errors:
                ctx.complain(f"error: {e}")
                failed = True
            for m in found:
                try:
                    check_namespace(m, ctx.enforced_namespace)
                except UsageError as e:
                    ctx.complain(f"error: {e}")
                    failed = True
                    continue
                plan.append((m.kind, namespace_of(m.kind, m.namespace, ctx.namespace), m.name, m.source))
        else:
            if not args.args:
                raise UsageError(NO_RESOURCES)
            targets = resolve_targets(args.args)
            named = [(k, n) for k, n in targets if n is not None]
            if named and (args.all or args.selector):
                raise UsageError("name cannot be provided when a selector is specified")
            if not named:
                if not (args.all or args.selector):
                    raise UsageError("resource(s) were provided, but no name was specified")
                kind = targets[0][0]
                ns = namespace_of(kind, None, ctx.namespace)
                objs, _ = api.list(kind, ns, label_selector=args.selector or "")
                if not objs:
                    ctx.complain(printers.no_resources(kind, ns, False))
                plan.extend((kind, ns, o.metadata.name, "") for o in objs)
            else:
                plan.extend((k, namespace_of(k, None, ctx.namespace), n, "") for k, n in named)
        deleted: list[tuple[Kind, str, str]] = []
        for kind, ns, name, source in plan:
            try:
                api.delete(kind, ns, name, grace_period=grace, propagation_policy=policy)
            except ServerError as e:
                if e.code == "NOT_FOUND" and args.ignore_not_found:
                    continue
                ctx.complain(_with_context(e, f'error when deleting "{source}": ' if source else "").args[0])
                failed = True
                continue
            ctx.say(f'{printers.kind_ref(kind)} "{name}" deleted')
            deleted.append((kind, ns, name))
        if args.wait and deleted and not _wait_deleted(ctx, api, deleted, args.timeout):
            failed = True
    return 1 if failed else 0


def _wait_deleted(ctx: Context, api: Api, deleted: list[tuple[Kind, str, str]], timeout: float) -> bool:
    """--wait: polls until every deleted object is gone (finalizers, graceful pod deletion, foreground)."""
    deadline = time.monotonic() + timeout
    pending = list(deleted)
    while pending:
        still = []
        for kind, ns, name in pending:
            try:
                api.get(kind, ns, name)
                still.append((kind, ns, name))
            except ServerError as e:
                if e.code != "NOT_FOUND":
                    raise
        pending = still
        if pending and time.monotonic() >= deadline:
            for kind, _, name in pending:
                ctx.complain(f'error: timed out waiting for the condition on {kind.resource}/{name}')
            return False
        if pending:
            time.sleep(0.2)
    return True
