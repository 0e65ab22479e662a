"""`skiff rollout status|history|undo|pause|resume|restart`: a Deployment's rollout, as kubectl 1.20's.

    skiff rollout status deployment/web [-w=false] [--timeout=5m] [--revision=N]
    skiff rollout history deployment/web [--revision=N]
    skiff rollout undo deployment/web [--to-revision=N] [--dry-run=client|server]
    skiff rollout pause|resume|restart deployment/web

Names, flags, lines and exit codes are kubectl 1.20's (pkg/cmd/rollout and polymorphichelpers):
- status: kubectl's DeploymentStatusViewer (`status_message`), evaluated on the Deployment as listed
  and then on every ADDED/MODIFIED event of a watch on it (metadata.name field selector), one line
  per event as kubectl prints them (repeats included), until the rollout is done; -w=false prints
  the current line once and exits 0. A DELETED event is `error: object has been deleted`; --timeout
  (0: none) ends in `error: timed out waiting for the condition`; both exit 1.
- history: the ReplicaSets the Deployment controls (a controller ownerReference with its uid, among
  those its selector matches), keyed by their `deployment.kubernetes.io/revision` annotation (missing:
  revision 0; unparsable: left out), with their `kubernetes.io/change-cause`. The table is aligned by
  Go's tabwriter; with --revision the pod template is printed by kubectl's describe code on a plain
  PrefixWriter, so its cells keep their raw tabs, exactly as kubectl's do.
- undo: client-side, as kubectl 1.20 does it: the ReplicaSet of --to-revision (default: the one with
  the second-highest revision), its pod template copied into the Deployment without the
  `pod-template-hash` label, and the Deployment's annotations rebuilt as kubectl's rollbacker does
  (its own revision/last-applied bookkeeping kept, every other annotation, change-cause included,
  taken from that ReplicaSet), in one JSON patch. Paused deployments are refused; a template that
  already matches is `skipped rollback (current template already matches revision N)`, where N is
  --to-revision as given (kubectl prints 0 when the flag is absent, and so does Skiff).
- pause/resume: spec.paused through a merge patch; restart: the template annotation
  `kubectl.kubernetes.io/restartedAt` set to now in RFC 3339 (local time, as Go's time.Now()).

`kubectl` in kubectl's messages reads `skiff` here. The subcommands share one parser (as `skiff
config` does: a subcommand word, then its arguments and flags); a flag another subcommand owns is
refused with cobra's `unknown flag: --x`. Everything deciding is pure and unit-tested
(tests/unit/cli/test_cli_rollout_pure.py); `run_rollout` and its helpers are the shell.
"""
from __future__ import annotations

import argparse
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Mapping, Sequence

from google.protobuf.message import Message

from cli import outcome, printers
from cli.api import Api, Listed, ServerError, follow
from cli.commands import Context, UsageError, file_targets, namespace_of, resolve_targets, subcommand
from cli.describers import Clock, Writer
from cli.describers_pod import describe_pod_template
from cli.record import CHANGE_CAUSE
from client import codec, kinds
from client.kinds import Kind

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
HASH_LABEL = "pod-template-hash"
TIMED_OUT_REASON = "ProgressDeadlineExceeded"
# The Deployment's own bookkeeping, which an undo keeps rather than copies from the ReplicaSet
# (kubectl's annotationsToSkip).
ANNOTATIONS_TO_SKIP = frozenset({LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS,
                                 ROLLBACK_TO})
TIMEOUT_MESSAGE = "timed out waiting for the condition"   # Go's wait.ErrWaitTimeout

SUBCOMMANDS = ("history", "pause", "restart", "resume", "status", "undo")
# The flags each subcommand owns, by argparse dest; the others are refused (`unknown flag`).
OWN_FLAGS = {"status": {"watch": "--watch", "timeout": "--timeout", "revision": "--revision"},
             "history": {"revision": "--revision"},
             "undo": {"to_revision": "--to-revision", "dry_run": "--dry-run"},
             "pause": {}, "resume": {}, "restart": {}}

USAGE = """\
Manage the rollout of a deployment (skiff's deployments: deployment, deploy, deployments.apps).

Subcommands:
  status   Show the status of the rollout; watches until it is done (-w, --watch=true), within
           --timeout (e.g. 5m; 0, the default, waits for ever); --revision=N pins the revision
  history  View the revisions and their change causes; --revision=N shows that revision's template
  undo     Roll back to the previous revision, or to --to-revision=N; --dry-run=client|server
  pause    Mark the deployment paused: template changes do not roll out until it is resumed
  resume   Resume a paused deployment
  restart  Restart the deployment's pods, rolling, by stamping its template with the time

Examples:
  skiff rollout status deployment/web
  skiff rollout status deploy web --timeout=2m
  skiff rollout history deployment/web
  skiff rollout history deployment/web --revision=2
  skiff rollout undo deployment/web --to-revision=1
  skiff rollout pause deployment/web
  skiff rollout restart deployment/web"""


class RolloutError(Exception):
    """A rollout command that cannot go on; str() is kubectl's message (main adds `error: `)."""


def add_parsers(subs: dict, make_parser, global_flags) -> None:
    p = subs["rollout"] = make_parser(prog="skiff rollout", formatter_class=argparse.RawDescriptionHelpFormatter,
                                      usage="skiff rollout SUBCOMMAND TYPE NAME | TYPE/NAME | -f FILE [flags]",
                                      description=USAGE)
    global_flags(p, suppress=True)
    p.add_argument("args", nargs="*", metavar="SUBCOMMAND TYPE NAME", help="status, history, undo, pause, "
                   "resume or restart, then deployment NAME or deployment/NAME")
    p.add_argument("-f", "--filename", action="append", default=[], metavar="FILE",
                   help="the objects named in a file, a directory, a URL, or - for stdin (repeatable)")
    p.add_argument("-w", "--watch", type=_boolean, nargs="?", const=True, default=None, metavar="true|false",
                   help="status: watch until the rollout is done (default: true)")
    p.add_argument("--timeout", type=_duration, default=None, metavar="DURATION",
                   help="status: how long to wait, e.g. 30s, 5m; 0 waits for ever (default: 0)")
    p.add_argument("--revision", type=int, default=None, metavar="N",
                   help="status: the revision to watch (0: the latest); history: the revision to show")
    p.add_argument("--to-revision", type=int, default=None, metavar="N",
                   help="undo: the revision to roll back to (0, the default: the previous one)")
    p.add_argument("--dry-run", nargs="?", const=outcome.BARE_DRY_RUN, default=None, metavar="none|client|server",
                   help="undo: client: print the template it would restore; server: submit without persisting")


def _boolean(text: str) -> bool:
    from cli.main import boolean  # main imports this module: import late
    return boolean(text)


def _duration(text: str) -> float:
    from cli.main import duration
    return duration(text)


# -- pure: revisions and ownership ---------------------------------------------------------------
def revision_of(obj: Message) -> int:
    """deploymentutil.Revision: the revision annotation as an int; 0 when absent. RolloutError (Go's
    strconv message) when it is not an integer."""
    text = obj.metadata.annotations.get(REVISION)
    if text is None:
        return 0
    if not re.fullmatch(r"[+-]?\d+", text):
        raise RolloutError(f'strconv.ParseInt: parsing "{text}": invalid syntax')
    return int(text)


def is_controlled_by(obj: Message, owner: Message) -> bool:
    return any(r.controller and r.uid == owner.metadata.uid for r in obj.metadata.owner_references)


def without_hash(template: Message) -> Message:
    out = type(template)()
    out.CopyFrom(template)
    out.metadata.labels.pop(HASH_LABEL, None)
    return out


def templates_match(a: Message, b: Message) -> bool:
    """kubectl's equalIgnoreHash: the two pod templates are equal once pod-template-hash is dropped."""
    return without_hash(a) == without_hash(b)


def all_replica_sets(deploy: Message, replica_sets: Iterable[Message]) -> list[Message]:
    """deploymentutil.GetAllReplicaSets, old ones then the new one: those `deploy` controls, in list
    order, the new one (the oldest whose template matches the Deployment's) moved last. The order
    decides which of two ReplicaSets claiming one revision the history keeps: the later, as kubectl."""
    owned = [rs for rs in replica_sets if is_controlled_by(rs, deploy)]
    by_age = sorted(owned, key=lambda rs: (printers.parse_time(rs.metadata.creation_timestamp) or 0.0,
                                           rs.metadata.name))
    new = next((rs for rs in by_age if templates_match(rs.spec.template, deploy.spec.template)), None)
    return [rs for rs in owned if rs is not new] + ([new] if new is not None else [])


def history(deploy: Message, replica_sets: Iterable[Message]) -> dict[int, Message]:
    """revision -> the ReplicaSet of it (ReplicaSets with an unparsable revision are left out)."""
    out: dict[int, Message] = {}
    for rs in all_replica_sets(deploy, replica_sets):
        try:
            out[revision_of(rs)] = rs
        except RolloutError:
            continue   # kubectl logs it at -v=4 and goes on
    return out


# -- pure: status --------------------------------------------------------------------------------
def condition(deploy: Message, type_: str) -> Message | None:
    return next((c for c in deploy.status.conditions if c.type == type_), None)


def status_message(deploy: Message, revision: int = 0) -> tuple[str, bool]:
    """kubectl's DeploymentStatusViewer.Status: (the line to print, whether the rollout is done).
    RolloutError when it will never be done (deadline exceeded, another revision running)."""
    name = deploy.metadata.name
    if revision > 0:
        try:
            running = revision_of(deploy)
        except RolloutError as e:
            raise RolloutError(f'cannot get the revision of deployment "{name}": {e}') from None
        if revision != running:
            raise RolloutError(f"desired revision ({revision}) is different from the running revision ({running})")
    spec, status = deploy.spec, deploy.status
    if deploy.metadata.generation > status.observed_generation:
        return "Waiting for deployment spec update to be observed...", False
    cond = condition(deploy, "Progressing")
    if cond is not None and cond.reason == TIMED_OUT_REASON:
        raise RolloutError(f'deployment "{name}" exceeded its progress deadline')
    waiting = f'Waiting for deployment "{name}" rollout to finish: '
    if spec.HasField("replicas") and status.updated_replicas < spec.replicas:
        return f"{waiting}{status.updated_replicas} out of {spec.replicas} new replicas have been updated...", False
    if status.replicas > status.updated_replicas:
        return f"{waiting}{status.replicas - status.updated_replicas} old replicas are pending termination...", False
    if status.available_replicas < status.updated_replicas:
        return (f"{waiting}{status.available_replicas} of {status.updated_replicas} updated replicas are "
                "available..."), False
    return f'deployment "{name}" successfully rolled out', True


# -- pure: history -------------------------------------------------------------------------------
def history_table(revisions: Mapping[int, Message]) -> str:
    """kubectl's ViewHistory without --revision: the REVISION/CHANGE-CAUSE table (tabwriter, padding 2)."""
    if not revisions:
        return "No rollout history found."
    from cli.tabwriter import tabwrite
    lines = ["REVISION\tCHANGE-CAUSE\n"]
    for r in sorted(revisions):
        lines.append(f"{r}\t{revisions[r].metadata.annotations.get(CHANGE_CAUSE) or '<none>'}\n")
    return tabwrite("".join(lines))


class _PrefixWriter(Writer):
    """kubectl's describe.NewPrefixWriter on a plain buffer (rollout history's printTemplate): the same
    lines as describe's, but no tabwriter behind it, so the tabs stay as they are."""

    def text(self) -> str:
        return "".join(line for segment in self._segments for line in segment)


def template_text(rs: Message, now: float = 0.0) -> str:
    """kubectl's printTemplate of a revision: its pod template, the ReplicaSet's change cause added to
    the template's annotations (as ViewHistory does)."""
    template = type(rs.spec.template)()
    template.CopyFrom(rs.spec.template)
    cause = rs.metadata.annotations.get(CHANGE_CAUSE)
    if cause:
        template.metadata.annotations[CHANGE_CAUSE] = cause
    w = _PrefixWriter()
    describe_pod_template(w, template, Clock(now))
    return w.text()


def history_text(kind: Kind, name: str, revisions: Mapping[int, Message], revision: int = 0) -> str:
    """What `rollout history` prints for one object: kubectl's name printer with the history as its
    "operation" (hence `deployment.apps/web ` and a trailing space), then a newline."""
    if revision > 0:
        rs = revisions.get(revision)
        if rs is None:
            raise RolloutError("unable to find the specified revision")
        return f"{printers.object_name(kind, name)} with revision #{revision}\n{template_text(rs)}\n"
    return f"{printers.object_name(kind, name)} \n{history_table(revisions)}\n"


# -- pure: undo ----------------------------------------------------------------------------------
def revision_not_found(revision: int) -> RolloutError:
    return RolloutError(f"unable to find specified revision {revision} in history")


def undo_source(deploy: Message, replica_sets: Iterable[Message], to_revision: int) -> Message:
    """kubectl's deploymentRevision: the ReplicaSet of `to_revision`, or for 0 the one with the
    second-highest revision."""
    if to_revision < 0:
        raise revision_not_found(to_revision)
    latest, latest_rev, previous, previous_rev = None, -1, None, -1
    for rs in all_replica_sets(deploy, replica_sets):
        try:
            v = revision_of(rs)
        except RolloutError:
            continue
        if to_revision == 0:
            if latest_rev < v:
                previous, previous_rev, latest, latest_rev = latest, latest_rev, rs, v
            elif previous_rev < v:
                previous, previous_rev = rs, v
        elif to_revision == v:
            return rs
    if to_revision > 0:
        raise revision_not_found(to_revision)
    if previous is None:
        raise RolloutError(f'no rollout history found for deployment "{deploy.metadata.name}"')
    return previous


def undo_annotations(deploy: Message, rs: Message) -> dict[str, str]:
    """The Deployment's annotations after the undo: its own bookkeeping kept, every other annotation
    (change-cause included) taken from the ReplicaSet of the revision."""
    out = {k: v for k, v in deploy.metadata.annotations.items() if k in ANNOTATIONS_TO_SKIP}
    out.update({k: v for k, v in rs.metadata.annotations.items() if k not in ANNOTATIONS_TO_SKIP})
    return out


def undo_patch(deploy: Message, rs: Message) -> list[dict]:
    """kubectl's getDeploymentPatch: a JSON patch replacing spec.template (pod-template-hash dropped)
    and metadata.annotations. `add` rather than kubectl's `replace` for the annotations: the same
    result when they exist, and no failure on a Deployment that has none."""
    return [{"op": "replace", "path": "/spec/template", "value": codec.to_dict(without_hash(rs.spec.template))},
            {"op": "add", "path": "/metadata/annotations", "value": undo_annotations(deploy, rs)}]


def undo_plan(deploy: Message, replica_sets: Iterable[Message], to_revision: int, strategy: str = "none"
              ) -> tuple[str, list[dict] | None]:
    """(what to print after the name, the patch to send or None): kubectl's DeploymentRollbacker."""
    rs = undo_source(deploy, replica_sets, to_revision)
    if strategy == "client":
        return template_text(rs), None
    if deploy.spec.paused:
        raise RolloutError("you cannot rollback a paused deployment; resume it first with 'skiff rollout resume "
                           f"deployment/{deploy.metadata.name}' and try again")
    if templates_match(rs.spec.template, deploy.spec.template):
        return f"skipped rollback (current template already matches revision {to_revision})", None
    return "rolled back", undo_patch(deploy, rs)


# -- pure: pause, resume, restart ----------------------------------------------------------------
def rfc3339(now: float, tz=None) -> str:
    """Go's time.Now().Format(time.RFC3339): local time, seconds, `Z` or `+02:00`."""
    dt = datetime.fromtimestamp(now, tz) if tz is not None else datetime.fromtimestamp(now).astimezone()
    text = dt.isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def pause_patch(kind: Kind, obj: Message, paused: bool) -> dict:
    """kubectl's ObjectPauser/ObjectResumer: the patch, or RolloutError (`is already paused`,
    `is not paused`, `pausing is not supported`)."""
    if kind.resource != "deployments":
        raise RolloutError("pausing is not supported" if paused else "resuming is not supported")
    if paused and obj.spec.paused:
        raise RolloutError("is already paused")
    if not paused and not obj.spec.paused:
        raise RolloutError("is not paused")
    return {"spec": {"paused": True if paused else None}}


def restart_patch(kind: Kind, obj: Message, now: float, tz=None) -> dict:
    """kubectl's ObjectRestarter: the template annotation restartedAt = now."""
    if kind.resource != "deployments":
        raise RolloutError("restarting is not supported")
    if obj.spec.paused:
        raise RolloutError("can't restart paused deployment (run rollout resume first)")
    return {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: rfc3339(now, tz)}}}}}


def object_error(kind: Kind, name: str, problem: RolloutError) -> str:
    """kubectl's `error: deployments.apps "web" is already paused`."""
    return f'error: {kind.group_resource} "{name}" {problem}'


# -- the shell -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    kind: Kind
    namespace: str
    name: str


def _check_flags(sub: str, args) -> None:
    own = OWN_FLAGS[sub]
    for dest, flag in (("watch", "--watch"), ("timeout", "--timeout"), ("revision", "--revision"),
                       ("to_revision", "--to-revision"), ("dry_run", "--dry-run")):
        if getattr(args, dest) is not None and dest not in own:
            raise UsageError(f"unknown flag: {flag}\nSee 'skiff rollout --help' for usage.")


def targets_of(ctx: Context, api: Api, words: Sequence[str], filenames: Sequence[str]) -> list[Target]:
    """The objects named (TYPE NAME..., TYPE/NAME..., a bare TYPE for all of it, or -f files)."""
    if filenames:
        found, errors = file_targets(ctx, filenames, words)
        if errors:
            raise UsageError(errors[0])
        return [Target(m.kind, ns, m.name) for m, ns in found]
    if not words:
        raise UsageError("required resource not specified")
    out = []
    for kind, name in resolve_targets(words):
        ns = namespace_of(kind, None, ctx.namespace)
        if name is not None:
            out.append(Target(kind, ns, name))
        else:
            objs, _ = api.list(kind, ns)
            out.extend(Target(kind, ns, o.metadata.name) for o in objs)
    return out


def run_rollout(ctx: Context, args) -> int:
    picked = subcommand(ctx, args.args, "rollout", SUBCOMMANDS, USAGE)
    if picked is None:
        return 0
    sub, rest = picked
    _check_flags(sub, args)
    try:
        with ctx.api() as api:
            targets = targets_of(ctx, api, rest, args.filename)
            runner = {"status": _status, "history": _history, "undo": _undo, "pause": _pause, "resume": _resume,
                      "restart": _restart}[sub]
            return runner(ctx, api, targets, args)
    except RolloutError as e:
        ctx.complain(f"error: {e}")
        return 1


def _replica_sets(api: Api, deploy: Message) -> list[Message]:
    # The selector narrows the list; ownership (the controller uid) decides, so "" (all) is safe too.
    rss, _ = api.list(kinds.by_resource("replicasets"), deploy.metadata.namespace,
                      label_selector=printers.selector_string(deploy.spec.selector) or "")
    return rss


def _history(ctx: Context, api: Api, targets: list[Target], args) -> int:
    for t in targets:
        obj = api.get(t.kind, t.namespace, t.name)
        if t.kind.resource != "deployments":
            raise RolloutError(f'no history viewer has been implemented for "{_group_kind(t.kind)}"')
        revisions = history(obj, _replica_sets(api, obj))
        ctx.out.write(history_text(t.kind, t.name, revisions, args.revision or 0))
        ctx.out.flush()
    return 0


def _group_kind(kind: Kind) -> str:
    return f"{kind.kind}.{kind.group}" if kind.group else kind.kind


def _undo(ctx: Context, api: Api, targets: list[Target], args) -> int:
    try:
        strategy = outcome.dry_run_of(args.dry_run, ctx.complain)
    except outcome.OutcomeError as e:
        raise UsageError(str(e)) from None
    objs = [(t, api.get(t.kind, t.namespace, t.name)) for t in targets]
    for t, obj in objs:
        if t.kind.resource != "deployments":
            raise RolloutError(f'no rollbacker has been implemented for "{_group_kind(t.kind)}"')
        result, patch = undo_plan(obj, _replica_sets(api, obj), args.to_revision or 0, strategy)
        if patch is not None:
            try:
                api.patch(t.kind, t.namespace, t.name, patch, patch_type="application/json-patch+json",
                          dry_run=strategy == "server")
            except ServerError as e:
                raise RolloutError(f"failed restoring revision {args.to_revision or 0}: {e.message}") from None
        ctx.say(f"{printers.object_name(t.kind, t.name)} {outcome.operation(result, strategy)}")
    return 0


def _pause(ctx: Context, api: Api, targets: list[Target], args) -> int:
    return _patch_each(ctx, api, targets, lambda t, obj: pause_patch(t.kind, obj, True), "paused")


def _resume(ctx: Context, api: Api, targets: list[Target], args) -> int:
    return _patch_each(ctx, api, targets, lambda t, obj: pause_patch(t.kind, obj, False), "resumed")


def _restart(ctx: Context, api: Api, targets: list[Target], args) -> int:
    return _patch_each(ctx, api, targets, lambda t, obj: restart_patch(t.kind, obj, ctx.now()), "restarted")


def _patch_each(ctx: Context, api: Api, targets: list[Target], make_patch, done: str) -> int:
    """pause/resume/restart: the patch `make_patch(target, live object)` on every object; every object
    is tried, and errors are listed at the end (kubectl's aggregate)."""
    objs = [(t, api.get(t.kind, t.namespace, t.name)) for t in targets]
    errors = []
    for t, obj in objs:
        try:
            patch = make_patch(t, obj)
        except RolloutError as e:
            errors.append(object_error(t.kind, t.name, e))
            continue
        try:
            api.patch(t.kind, t.namespace, t.name, patch)
        except ServerError as e:
            errors.append(f"failed to patch: {e.message}")
            continue
        ctx.say(f"{printers.object_name(t.kind, t.name)} {done}")
    return _report(ctx, errors)


def report_lines(errors: Sequence[str]) -> list[str]:
    """kubectl's CheckErr of an aggregate: one error gets `error: ` unless it has it; several are
    printed one a line as they are."""
    if len(errors) == 1:
        e = errors[0].rstrip("\n")
        return [e if e.startswith("error: ") or e.startswith("Error from server") else f"error: {e}"]
    return [e.rstrip("\n") for e in errors]


def _report(ctx: Context, errors: Sequence[str]) -> int:
    for line in report_lines(errors):
        ctx.complain(line)
    return 1 if errors else 0


# -- status: the watch ----------------------------------------------------------------------------
class _Deadline:
    """--timeout: cancels the watch in progress when time is up (a watch has no deadline of its own)."""

    def __init__(self, seconds: float | None):
        self.at = time.monotonic() + seconds if seconds else None
        self.stream = None
        self.expired = False
        self._lock = threading.Lock()
        self._timer = None
        if self.at is not None:
            self._timer = threading.Timer(seconds, self._expire)
            self._timer.daemon = True
            self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            if self.stream is not None:
                self.stream.cancel()

    def watching(self, stream) -> bool:
        """Registers the stream to cancel; False when time is up already."""
        with self._lock:
            self.stream = stream
            if self.expired:
                stream.cancel()
            return not self.expired

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


def _status(ctx: Context, api: Api, targets: list[Target], args) -> int:
    if len(targets) != 1:
        raise RolloutError(f"rollout status is only supported on individual resources and resource collections "
                           f"but {len(targets)} resources were found")
    t = targets[0]
    if t.kind.resource != "deployments":
        api.get(t.kind, t.namespace, t.name)   # a missing object is reported as such first, as kubectl does
        raise RolloutError(f"no status viewer has been implemented for {_group_kind(t.kind)}")
    watch = True if args.watch is None else args.watch
    revision = args.revision or 0
    selector = f"metadata.name={t.name}"
    deadline = _Deadline(args.timeout)

    def done(obj: Message) -> bool:
        line, finished = status_message(obj, revision)
        ctx.say(line)
        return finished or not watch

    events = follow(api, t.kind, t.namespace, field_selector=selector, on_stream=deadline.watching,
                    expired=lambda: deadline.expired)
    try:
        first = True
        for item in events:
            if isinstance(item, Listed):
                if not item.objs:
                    if first:
                        raise ServerError("NOT_FOUND", "NotFound", f'{t.kind.group_resource} "{t.name}" not found')
                    raise RolloutError("object has been deleted")
                first = False
                if done(item.objs[0]):
                    return 0
            elif item.type == "DELETED":
                raise RolloutError("object has been deleted")
            elif done(item.obj):
                return 0
        raise RolloutError(TIMEOUT_MESSAGE)
    finally:
        events.close()      # cancels the stream in progress
        deadline.stop()
