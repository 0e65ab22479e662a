"""`skiff cordon|uncordon|drain NODE`: take nodes out of scheduling and empty them, as kubectl 1.20's.

    skiff cordon n1                      # node/n1 cordoned  (again: node/n1 already cordoned)
    skiff uncordon n1                    # node/n1 uncordoned
    skiff drain n1 --ignore-daemonsets   # node/n1 cordoned, pod/web-1 deleted, ..., node/n1 drained

cordon/uncordon merge-patch `spec.unschedulable` (true, or removed), as kubectl's CordonHelper; a
node already so prints `already cordoned`/`already uncordoned`. As in kubectl, a failed patch is
printed (`error: unable to cordon node "n1": ...`) without failing the command; a node that does
not exist fails it before anything is done.

drain = cordon, then delete every pod bound to the node (all namespaces, `spec.nodeName=NODE`,
narrowed by --pod-selector), then wait until they are gone. Which pods, as kubectl's filters
(pkg/drain/filters.go), each pod through them in order, the first that does not say "delete" deciding:
- a pod deleted more than --skip-wait-for-delete-timeout seconds ago (when > 0): skipped;
- controlled by a DaemonSet (and not finished): refused without --ignore-daemonsets, else skipped
  with a warning. Skiff serves no DaemonSets, so kubectl's check that the DaemonSet exists is not
  made: the controller reference alone decides;
- a mirror pod (annotation kubernetes.io/config.mirror): skipped;
- with an emptyDir volume (and not finished): refused without --delete-emptydir-data
  (--delete-local-data is its deprecated name, as in 1.20);
- without a controller reference (and not finished): refused without --force.
Refusals are listed per reason (`cannot delete Pods with local storage (use --delete-emptydir-data
to override): default/cache-1`) and stop the drain of that node: `error: unable to drain node "n1",
aborting command...`, the nodes not drained, then the errors; exit 1. Warnings go to stderr as
`WARNING: ...`. Deleting: Skiff has no eviction subresource (so no PodDisruptionBudgets), and
kubectl, when the server offers no eviction (or with --disable-eviction), deletes instead; so does
Skiff, always, with --grace-period if given (>= 0), else the pod's own terminationGracePeriodSeconds.
Its lines are then kubectl's for deletion: `pod/web-1 deleted` as each pod disappears (not the
`evicting pod ...`/`evicted` of an eviction), polled every second; --timeout (0: none) ends in
`There are pending pods in node "n1" when an error occurred: timed out waiting for the condition`,
their names, and `error: timed out waiting for the condition`. Finally `node/n1 drained`.

The filters and the cordon decision are pure (`pod_delete_status`, `delete_list`, `cordon_patch`);
`run_cordon`, `run_uncordon` and `run_drain` are the shell. --dry-run=client sends nothing and prints
what would be done (`node/n1 cordoned (dry run)`, `evicting pod default/web-1 (dry run)`);
--dry-run=server sends the cordon as a server dry run but, like kubectl's, deletes no pod.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from google.protobuf.message import Message

from cli import outcome, printers
from cli.api import Api, ServerError
from cli.commands import Context, UsageError
from cli.rollout import TIMEOUT_MESSAGE, report_lines
from client import kinds

NODES = kinds.by_resource("nodes")
PODS = kinds.by_resource("pods")
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
POLL_INTERVAL = 1.0   # kubectl's waitForDelete interval

DAEMONSET_FATAL = "DaemonSet-managed Pods (use --ignore-daemonsets to ignore)"
DAEMONSET_WARNING = "ignoring DaemonSet-managed Pods"
LOCAL_STORAGE_FATAL = "Pods with local storage (use --delete-emptydir-data to override)"
LOCAL_STORAGE_WARNING = "deleting Pods with local storage"
UNMANAGED_FATAL = ("Pods not managed by ReplicationController, ReplicaSet, Job, DaemonSet or StatefulSet "
                   "(use --force to override)")
UNMANAGED_WARNING = "deleting Pods not managed by ReplicationController, ReplicaSet, Job, DaemonSet or StatefulSet"
DELETE_LOCAL_DATA_DEPRECATED = ("Flag --delete-local-data has been deprecated, This option is deprecated and will "
                                "be deleted. Use --delete-emptydir-data.")


def add_parsers(subs: dict, make_parser, global_flags) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    for verb, what in (("cordon", "Mark nodes unschedulable: the scheduler places no new pods on them."),
                       ("uncordon", "Mark nodes schedulable again.")):
        p = subs[verb] = make_parser(prog=f"skiff {verb}", formatter_class=fmt, usage=f"skiff {verb} NODE... [flags]",
                                     description=f"{what}\n\nExamples:\n  skiff {verb} n1\n  skiff {verb} -l zone=a")
        global_flags(p, suppress=True)
        _node_flags(p)

    p = subs["drain"] = make_parser(prog="skiff drain", formatter_class=fmt, usage="skiff drain NODE [flags]",
                                    description="""\
Drain nodes in preparation for maintenance: cordon them, then delete every pod bound to them and wait
until they are gone. Pods without a controller (which nothing would recreate) need --force; pods with
emptyDir volumes (whose data is lost) need --delete-emptydir-data; DaemonSet pods need
--ignore-daemonsets (they are left running). Skiff has no eviction subresource, so no
PodDisruptionBudget is consulted: pods are deleted with their grace period (or --grace-period).
Afterwards, `skiff uncordon NODE` makes the node schedulable again.

Examples:
  skiff drain n1 --ignore-daemonsets
  skiff drain n1 --force --delete-emptydir-data --timeout=2m
  skiff drain n1 --pod-selector='app!=db' --grace-period=5""")
    global_flags(p, suppress=True)
    _node_flags(p)
    p.add_argument("--force", action="store_true",
                   help="also delete pods that no controller manages (nothing recreates them)")
    p.add_argument("--grace-period", type=int, default=-1, metavar="SECONDS",
                   help="seconds each pod gets to terminate gracefully; negative: the pod's own (default: -1)")
    p.add_argument("--ignore-daemonsets", action="store_true", help="leave DaemonSet-managed pods alone")
    p.add_argument("--ignore-errors", action="store_true",
                   help="with several nodes: go on to the next node when one fails")
    p.add_argument("--timeout", type=_duration, default=0.0, metavar="DURATION",
                   help="how long to wait for the pods to go, e.g. 2m; 0 waits for ever (default: 0)")
    p.add_argument("--delete-emptydir-data", action="store_true",
                   help="also delete pods with emptyDir volumes (their data is lost)")
    p.add_argument("--delete-local-data", action="store_true", help="deprecated: --delete-emptydir-data")
    p.add_argument("--pod-selector", default="", metavar="SELECTOR",
                   help="only pods matching this label selector")
    p.add_argument("--disable-eviction", action="store_true",
                   help="delete rather than evict (Skiff always deletes: it has no eviction subresource)")
    p.add_argument("--skip-wait-for-delete-timeout", type=int, default=0, metavar="SECONDS",
                   help="do not wait for pods whose deletion began more than SECONDS ago (0: wait for all)")


def _node_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("args", nargs="*", metavar="NODE", help="node names")
    p.add_argument("-l", "--selector", default="", metavar="SELECTOR", help="the nodes matching a label selector")
    p.add_argument("--dry-run", nargs="?", const=outcome.BARE_DRY_RUN, default="none", metavar="none|client|server",
                   help="client: only print what would be done; server: submit without persisting")


def _duration(text: str) -> float:
    from cli.main import duration   # main imports this module: import late
    return duration(text)


# -- pure: cordon ------------------------------------------------------------------------------
def cordon_patch(node: Message, desired: bool) -> dict | None:
    """The merge patch that makes the node (un)schedulable; None when it is so already."""
    if node.spec.unschedulable == desired:
        return None
    return {"spec": {"unschedulable": True if desired else None}}


def cordon_verb(desired: bool, changed: bool) -> str:
    word = "cordoned" if desired else "uncordoned"
    return word if changed else f"already {word}"


# -- pure: which pods a drain deletes ------------------------------------------------------------
@dataclass(frozen=True)
class DrainOptions:
    force: bool = False
    ignore_daemonsets: bool = False
    delete_emptydir_data: bool = False
    skip_wait_for_delete_timeout: int = 0


@dataclass(frozen=True)
class PodDeleteStatus:
    delete: bool
    reason: str          # okay | skip | warning | error
    message: str = ""


OKAY = PodDeleteStatus(True, "okay")
SKIP = PodDeleteStatus(False, "skip")


def _warning(delete: bool, message: str) -> PodDeleteStatus:
    return PodDeleteStatus(delete, "warning", message)


def _error(message: str) -> PodDeleteStatus:
    return PodDeleteStatus(False, "error", message)


def controller_ref(pod: Message) -> Message | None:
    return next((r for r in pod.metadata.owner_references if r.controller), None)


def _finished(pod: Message) -> bool:
    return pod.status.phase in ("Succeeded", "Failed")


def should_skip(pod: Message, skip_after: int, now: float) -> bool:
    """kubectl's shouldSkipPod: deleted more than `skip_after` (> 0) seconds ago."""
    if skip_after <= 0 or not pod.metadata.deletion_timestamp:
        return False
    deleted = printers.parse_time(pod.metadata.deletion_timestamp)
    return deleted is not None and int(now - deleted) > skip_after


def _skip_deleted(pod: Message, opts: DrainOptions, now: float) -> PodDeleteStatus:
    return SKIP if should_skip(pod, opts.skip_wait_for_delete_timeout, now) else OKAY


def _daemonset(pod: Message, opts: DrainOptions, now: float) -> PodDeleteStatus:
    ref = controller_ref(pod)
    if ref is None or ref.kind != "DaemonSet" or _finished(pod):
        return OKAY
    return _warning(False, DAEMONSET_WARNING) if opts.ignore_daemonsets else _error(DAEMONSET_FATAL)


def _mirror(pod: Message, opts: DrainOptions, now: float) -> PodDeleteStatus:
    return SKIP if MIRROR_ANNOTATION in pod.metadata.annotations else OKAY


def _local_storage(pod: Message, opts: DrainOptions, now: float) -> PodDeleteStatus:
    if not any(v.HasField("empty_dir") for v in pod.spec.volumes) or _finished(pod):
        return OKAY
    # As in kubectl, this warning is overwritten by the next filter's verdict: it never shows.
    return _warning(True, LOCAL_STORAGE_WARNING) if opts.delete_emptydir_data else _error(LOCAL_STORAGE_FATAL)


def _unreplicated(pod: Message, opts: DrainOptions, now: float) -> PodDeleteStatus:
    if _finished(pod) or controller_ref(pod) is not None:
        return OKAY
    return _warning(True, UNMANAGED_WARNING) if opts.force else _error(UNMANAGED_FATAL)


FILTERS: tuple[Callable[[Message, DrainOptions, float], PodDeleteStatus], ...] = (
    _skip_deleted, _daemonset, _mirror, _local_storage, _unreplicated)


def pod_delete_status(pod: Message, opts: DrainOptions, now: float) -> PodDeleteStatus:
    """The last filter's verdict, stopping at the first that does not delete (kubectl's loop)."""
    status = OKAY
    for f in FILTERS:
        status = f(pod, opts, now)
        if not status.delete:
            break
    return status


@dataclass(frozen=True)
class DeleteList:
    items: tuple[tuple[Message, PodDeleteStatus], ...] = field(default_factory=tuple)

    def pods(self) -> list[Message]:
        return [pod for pod, status in self.items if status.delete]

    def _grouped(self, reason: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for pod, status in self.items:
            if status.reason == reason:
                message = status.message or ("unexpected error" if reason == "error" else "")
                out.setdefault(message, []).append(f"{pod.metadata.namespace}/{pod.metadata.name}")
        return out

    def warnings(self) -> str:
        """kubectl's `msg: ns/a, ns/b; msg2: ns/c` (grouped in order of first appearance, where Go's
        map order is random)."""
        return "; ".join(f"{msg}: {', '.join(pods)}" for msg, pods in self._grouped("warning").items())

    def errors(self) -> list[str]:
        return [f"cannot delete {msg}: {', '.join(pods)}" for msg, pods in self._grouped("error").items()]


def delete_list(pods: Sequence[Message], opts: DrainOptions, now: float) -> DeleteList:
    return DeleteList(tuple((pod, pod_delete_status(pod, opts, now)) for pod in pods))


def aggregate(errors: Sequence[str]) -> str:
    """Go's utilerrors.Aggregate.Error(): the one message, or `[a, b]`."""
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


def grace_period_of(grace: int) -> int | None:
    """kubectl's makeDeleteOptions: a grace period only when >= 0; else the pod's own."""
    return grace if grace >= 0 else None


# -- the shell -----------------------------------------------------------------------------------
class DrainFailed(Exception):
    """One node could not be drained; args are the errors (kubectl's aggregate)."""


def _nodes(ctx: Context, api: Api, verb: str, args) -> list[Message]:
    if not args.args and not args.selector:
        raise UsageError(f"USAGE: {verb} NODE [flags]\nSee 'skiff {verb} -h' for help and examples")
    if args.args and args.selector:
        raise UsageError(f"cannot specify both a node name and a --selector option\nSee 'skiff {verb} -h' for help "
                         "and examples")
    if args.selector:
        objs, _ = api.list(NODES, "", label_selector=args.selector)
        return objs
    return [api.get(NODES, "", name) for name in args.args]   # a missing node stops everything (NotFound)


def _strategy(ctx: Context, args) -> str:
    try:
        return outcome.dry_run_of(args.dry_run, ctx.complain)
    except outcome.OutcomeError as e:
        raise UsageError(str(e)) from None


def _cordon_all(ctx: Context, api: Api, nodes: Sequence[Message], desired: bool, strategy: str) -> None:
    word = "cordon" if desired else "uncordon"
    for node in nodes:
        name = node.metadata.name
        patch = cordon_patch(node, desired)
        if patch is not None and strategy != "client":
            try:
                api.patch(NODES, "", name, patch, dry_run=strategy == "server")
            except ServerError as e:
                ctx.complain(f'error: unable to {word} node "{name}": {e.message}')
                continue
        verb = outcome.operation(cordon_verb(desired, patch is not None), strategy)
        ctx.say(f"{printers.object_name(NODES, name)} {verb}")


def run_cordon(ctx: Context, args) -> int:
    return _run_cordon(ctx, args, True)


def run_uncordon(ctx: Context, args) -> int:
    return _run_cordon(ctx, args, False)


def _run_cordon(ctx: Context, args, desired: bool) -> int:
    strategy = _strategy(ctx, args)
    with ctx.api() as api:
        nodes = _nodes(ctx, api, "cordon" if desired else "uncordon", args)
        _cordon_all(ctx, api, nodes, desired, strategy)
    return 0   # as kubectl's RunCordonOrUncordon: a failed patch is reported, not fatal


def run_drain(ctx: Context, args) -> int:
    if args.delete_local_data:
        ctx.complain(DELETE_LOCAL_DATA_DEPRECATED)
    if args.pod_selector:
        from client.selectors import SelectorError, parse_label_selector
        try:
            parse_label_selector(args.pod_selector)
        except SelectorError:
            raise UsageError("--pod-selector=<pod_selector> must be a valid label selector") from None
    strategy = _strategy(ctx, args)
    opts = DrainOptions(force=args.force, ignore_daemonsets=args.ignore_daemonsets,
                        delete_emptydir_data=args.delete_emptydir_data or args.delete_local_data,
                        skip_wait_for_delete_timeout=args.skip_wait_for_delete_timeout)
    with ctx.api() as api:
        nodes = _nodes(ctx, api, "drain", args)
        _cordon_all(ctx, api, nodes, True, strategy)
        drained: set[str] = set()
        for node in nodes:
            name = node.metadata.name
            try:
                _drain_node(ctx, api, name, opts, args, strategy)
            except DrainFailed as e:
                if args.ignore_errors and len(nodes) > 1:
                    ctx.complain(f'error: unable to drain node "{name}" due to error:{aggregate(e.args)}, '
                                 "continuing command...")
                    continue
                ctx.complain(f'error: unable to drain node "{name}", aborting command...\n')
                remaining = [n.metadata.name for n in nodes if n.metadata.name not in drained]
                ctx.complain("There are pending nodes to be drained:\n" + "\n".join(f" {n}" for n in remaining))
                for line in report_lines(list(e.args)):
                    ctx.complain(line)
                return 1
            drained.add(name)
            ctx.say(f"{printers.object_name(NODES, name)} {outcome.operation('drained', strategy)}")
    return 0


def _pods_on(api: Api, node: str, args, opts: DrainOptions, now: float) -> DeleteList:
    pods, _ = api.list(PODS, "", label_selector=args.pod_selector or "", field_selector=f"spec.nodeName={node}")
    return delete_list(pods, opts, now)


def _drain_node(ctx: Context, api: Api, node: str, opts: DrainOptions, args, strategy: str) -> None:
    plan = _pods_on(api, node, args, opts, ctx.now())
    errors = plan.errors()
    if errors:
        raise DrainFailed(*errors)
    warnings = plan.warnings()
    if warnings:
        ctx.complain(f"WARNING: {warnings}")
    pods = plan.pods()
    if strategy != "none":
        for pod in pods:
            suffix = outcome.operation("", strategy).strip()   # (dry run) | (server dry run)
            ctx.say(f"evicting pod {pod.metadata.namespace}/{pod.metadata.name} {suffix}")
        return
    try:
        for pod in pods:
            try:
                api.delete(PODS, pod.metadata.namespace, pod.metadata.name,
                           grace_period=grace_period_of(args.grace_period))
            except ServerError as e:
                if e.code != "NOT_FOUND":
                    raise DrainFailed(e.args[0]) from None
        _wait_gone(ctx, api, pods, args.timeout, opts.skip_wait_for_delete_timeout)
    except DrainFailed as e:
        pending = _pods_on(api, node, args, opts, ctx.now()).pods()
        if pending:
            ctx.complain(f'There are pending pods in node "{node}" when an error occurred: {aggregate(e.args)}\n'
                         + "\n".join(f"pod/{p.metadata.name}" for p in pending))
        raise


def _wait_gone(ctx: Context, api: Api, pods: Sequence[Message], timeout: float, skip_after: int) -> None:
    """kubectl's waitForDelete: poll every second; a pod is gone when NotFound or replaced (another
    uid); `pod/NAME deleted` as each goes. --timeout 0: no limit."""
    deadline = time.monotonic() + timeout if timeout > 0 else None
    pending = list(pods)
    while True:
        still = []
        for pod in pending:
            try:
                live = api.get(PODS, pod.metadata.namespace, pod.metadata.name)
            except ServerError as e:
                if e.code != "NOT_FOUND":
                    raise DrainFailed(e.args[0]) from None
                live = None
            if live is None or live.metadata.uid != pod.metadata.uid:
                ctx.say(f"{printers.object_name(PODS, pod.metadata.name)} deleted")
                continue
            if should_skip(live, skip_after, ctx.now()):
                ctx.say(f'pod "{pod.metadata.name}" has DeletionTimestamp older than {skip_after} seconds, skipping')
                continue
            still.append(pod)
        pending = still
        if not pending:
            return
        if deadline is not None and time.monotonic() >= deadline:
            raise DrainFailed(TIMEOUT_MESSAGE)
        wait = POLL_INTERVAL if deadline is None else max(0.0, min(POLL_INTERVAL, deadline - time.monotonic()))
        time.sleep(wait)
