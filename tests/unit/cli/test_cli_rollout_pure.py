"""The pure parts of `rollout`, `set image` and `cordon/uncordon/drain`, against kubectl 1.20's logic."""
from __future__ import annotations

import io
from datetime import timedelta, timezone

import pytest

from cli import node_cmds, record, rollout, set_cmd
from cli.commands import Context, UsageError
from cli.main import build_parsers, main
from cli.printers import parse_time
from client import codec, kinds
from skiffpb.k8s.apps.v1 import apps_pb2
from skiffpb.k8s.core.v1 import core_pb2

pytestmark = pytest.mark.timeout(30)

DEPLOY = kinds.by_resource("deployments")
RS = kinds.by_resource("replicasets")
PODS = kinds.by_resource("pods")
SERVICES = kinds.by_resource("services")
NOW = parse_time("2021-03-01T10:00:00Z")


def deployment(*, generation=1, observed=1, replicas=5, updated=5, total=5, available=5, conditions=(),
               annotations=None, image="web:2", paused=False, with_replicas=True) -> apps_pb2.Deployment:
    spec = {"selector": {"matchLabels": {"app": "web"}}, "paused": paused,
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "web", "image": image}]}}}
    if with_replicas:
        spec["replicas"] = replicas
    return codec.from_dict(apps_pb2.Deployment, {
        "metadata": {"name": "web", "namespace": "default", "uid": "d-uid", "generation": generation,
                     "annotations": annotations if annotations is not None else {rollout.REVISION: "2"}},
        "spec": spec,
        "status": {"observedGeneration": observed, "replicas": total, "updatedReplicas": updated,
                   "availableReplicas": available, "conditions": list(conditions)}})


def replica_set(revision, image, *, cause=None, owner="d-uid", controller=True, name=None,
                created="2021-03-01T09:00:00Z", extra_annotations=None) -> apps_pb2.ReplicaSet:
    annotations = {} if revision is None else {rollout.REVISION: str(revision)}
    if cause:
        annotations[record.CHANGE_CAUSE] = cause
    annotations.update(extra_annotations or {})
    h = f"h{image.replace(':', '').replace('.', '')}"
    return codec.from_dict(apps_pb2.ReplicaSet, {
        "metadata": {"name": name or f"web-{h}", "namespace": "default", "annotations": annotations,
                     "creationTimestamp": created,
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": owner,
                                          "controller": controller}]},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web", "pod-template-hash": h}},
                 "template": {"metadata": {"labels": {"app": "web", "pod-template-hash": h}},
                              "spec": {"containers": [{"name": "web", "image": image}]}}}})


# -- rollout status -----------------------------------------------------------------------------
WAIT = 'Waiting for deployment "web" rollout to finish: '


@pytest.mark.parametrize("d,line,done", [
    pytest.param(deployment(generation=2, observed=1), "Waiting for deployment spec update to be observed...", False,
                 id="spec-not-observed"),
    pytest.param(deployment(updated=2, total=6, available=4), WAIT + "2 out of 5 new replicas have been updated...",
                 False, id="updating"),
    pytest.param(deployment(updated=5, total=6, available=5), WAIT + "1 old replicas are pending termination...",
                 False, id="old-terminating"),
    pytest.param(deployment(available=3), WAIT + "3 of 5 updated replicas are available...", False,
                 id="becoming-available"),
    pytest.param(deployment(), 'deployment "web" successfully rolled out', True, id="done"),
    pytest.param(deployment(generation=3, observed=4), 'deployment "web" successfully rolled out', True,
                 id="observed-ahead"),
    pytest.param(deployment(with_replicas=False, updated=0, total=0, available=0),
                 'deployment "web" successfully rolled out', True, id="replicas-unset-skips-first-check"),
    pytest.param(deployment(replicas=0, updated=0, total=2, available=0),
                 WAIT + "2 old replicas are pending termination...", False, id="scaled-to-zero"),
    pytest.param(deployment(updated=2, conditions=[{"type": "Progressing", "status": "True",
                                                    "reason": "ReplicaSetUpdated"}]),
                 WAIT + "2 out of 5 new replicas have been updated...", False, id="progressing"),
])
def test_status_message(d, line, done):
    """kubectl's DeploymentStatusViewer: one line per state, checked in kubectl's order."""
    assert rollout.status_message(d) == (line, done)


def test_status_progress_deadline_exceeded():
    """The Progressing condition's reason ProgressDeadlineExceeded is final: an error, not a wait."""
    d = deployment(updated=2, conditions=[{"type": "Progressing", "status": "False",
                                           "reason": "ProgressDeadlineExceeded"}])
    with pytest.raises(rollout.RolloutError, match='^deployment "web" exceeded its progress deadline$'):
        rollout.status_message(d)
    # ...but only once the controller has seen the current spec
    assert rollout.status_message(deployment(generation=2, observed=1, conditions=[
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]))[1] is False


@pytest.mark.parametrize("annotations,revision,error", [
    pytest.param({rollout.REVISION: "2"}, 2, None, id="same"),
    pytest.param({rollout.REVISION: "3"}, 2, "desired revision (2) is different from the running revision (3)",
                 id="other"),
    pytest.param({}, 2, "desired revision (2) is different from the running revision (0)", id="none"),
    pytest.param({rollout.REVISION: "x"}, 2,
                 'cannot get the revision of deployment "web": strconv.ParseInt: parsing "x": invalid syntax',
                 id="garbage"),
    pytest.param({rollout.REVISION: "x"}, 0, None, id="garbage-but-not-asked"),
])
def test_status_revision_pin(annotations, revision, error):
    """--revision compares with the Deployment's own revision annotation."""
    d = deployment(annotations=annotations)
    if error is None:
        assert rollout.status_message(d, revision)[1] is True
    else:
        with pytest.raises(rollout.RolloutError) as e:
            rollout.status_message(d, revision)
        assert str(e.value) == error


# -- rollout history ----------------------------------------------------------------------------
def test_history_owned_replica_sets_only():
    """Only ReplicaSets with a controller reference to the Deployment's uid count."""
    d = deployment()
    rss = [replica_set(1, "web:1"), replica_set(2, "web:2"),
           replica_set(7, "other:1", owner="other-uid"), replica_set(8, "web:8", controller=False)]
    assert sorted(rollout.history(d, rss)) == [1, 2]


def test_history_table_layout():
    """kubectl's layout: the name printer's trailing space, a tabwriter table, a blank line after."""
    d = deployment()
    rss = [replica_set(2, "web:2", cause="skiff set image deployment/web web=web:2 --record=true"),
           replica_set(1, "web:1"), replica_set(10, "web:10", cause="ten")]
    text = rollout.history_text(DEPLOY, "web", rollout.history(d, rss))
    assert text == ("deployment.apps/web \n"
                    "REVISION  CHANGE-CAUSE\n"
                    "1         <none>\n"
                    "2         skiff set image deployment/web web=web:2 --record=true\n"
                    "10        ten\n"
                    "\n")


def test_history_without_revisions():
    """A Deployment that owns nothing: kubectl's `No rollout history found.`."""
    assert rollout.history_text(DEPLOY, "web", {}) == "deployment.apps/web \nNo rollout history found.\n"


def test_history_revision_annotations_odd_cases():
    """A ReplicaSet without the annotation is revision 0; one with garbage is left out."""
    d = deployment()
    rss = [replica_set(None, "web:0"), replica_set("x", "web:x"), replica_set(1, "web:1")]
    assert sorted(rollout.history(d, rss)) == [0, 1]


def test_history_duplicate_revision_keeps_the_new_replica_set():
    """Two ReplicaSets claiming one revision: the new one (the Deployment's template) is visited last and kept."""
    d = deployment(image="web:2")
    new = replica_set(3, "web:2", name="web-a")
    old = replica_set(3, "web:1", name="web-b")
    assert rollout.history(d, [new, old])[3] is new


def test_history_one_revision_prints_its_template_with_raw_tabs():
    """--revision: kubectl's printTemplate on a plain PrefixWriter, so cells keep their tabs."""
    d = deployment()
    rss = [replica_set(1, "web:1"), replica_set(2, "web:2", cause="skiff set image deployment/web web=web:2")]
    text = rollout.history_text(DEPLOY, "web", rollout.history(d, rss), revision=2)
    assert text == ("deployment.apps/web with revision #2\n"
                    "Pod Template:\n"
                    "  Labels:\tapp=web\n"
                    "\tpod-template-hash=hweb2\n"
                    "  Annotations:\tkubernetes.io/change-cause: skiff set image deployment/web web=web:2\n"
                    "  Containers:\n"
                    "   web:\n"
                    "    Image:\tweb:2\n"
                    "    Port:\t<none>\n"
                    "    Host Port:\t<none>\n"
                    "    Environment:\t<none>\n"
                    "    Mounts:\t<none>\n"
                    "  Volumes:\t<none>\n"
                    "\n")
    with pytest.raises(rollout.RolloutError, match="^unable to find the specified revision$"):
        rollout.history_text(DEPLOY, "web", rollout.history(d, rss), revision=9)


# -- rollout undo -------------------------------------------------------------------------------
def _undo_fixture():
    d = deployment(image="web:3", annotations={rollout.REVISION: "3", record.CHANGE_CAUSE: "three",
                                               rollout.LAST_APPLIED: "{}", "team": "a"})
    rss = [replica_set(1, "web:1", cause="one", extra_annotations={"team": "b", rollout.DESIRED_REPLICAS: "5"}),
           replica_set(2, "web:2"), replica_set(3, "web:3", cause="three")]
    return d, rss


@pytest.mark.parametrize("to_revision,image", [
    pytest.param(0, "web:2", id="default-previous"), pytest.param(1, "web:1", id="explicit"),
    pytest.param(3, "web:3", id="current")])
def test_undo_source(to_revision, image):
    """No --to-revision: the second-highest revision; else exactly that one."""
    d, rss = _undo_fixture()
    assert rollout.undo_source(d, rss, to_revision).spec.template.spec.containers[0].image == image


@pytest.mark.parametrize("to_revision,rss,message", [
    pytest.param(9, None, "unable to find specified revision 9 in history", id="missing"),
    pytest.param(-1, None, "unable to find specified revision -1 in history", id="negative"),
    pytest.param(0, [replica_set(1, "web:3")], 'no rollout history found for deployment "web"', id="one-revision"),
])
def test_undo_source_errors(to_revision, rss, message):
    d, all_rss = _undo_fixture()
    with pytest.raises(rollout.RolloutError) as e:
        rollout.undo_source(d, all_rss if rss is None else rss, to_revision)
    assert str(e.value) == message


def test_undo_patch_copies_template_without_hash_and_rebuilds_annotations():
    """The template minus pod-template-hash; the Deployment keeps its bookkeeping and takes the rest
    (change-cause included) from the ReplicaSet; annotations only the Deployment had are dropped."""
    d, rss = _undo_fixture()
    result, patch = rollout.undo_plan(d, rss, 1)
    assert result == "rolled back"
    assert patch[0] == {"op": "replace", "path": "/spec/template", "value": {
        "metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "web:1"}]}}}
    assert patch[1] == {"op": "add", "path": "/metadata/annotations", "value": {
        rollout.REVISION: "3", rollout.LAST_APPLIED: "{}", record.CHANGE_CAUSE: "one", "team": "b"}}


def test_undo_to_a_revision_without_change_cause_drops_it():
    d, rss = _undo_fixture()
    _, patch = rollout.undo_plan(d, rss, 2)
    assert record.CHANGE_CAUSE not in patch[1]["value"]


def test_undo_skipped_and_paused_and_dry_run():
    """The current template: skipped (naming --to-revision as given); paused: refused; client dry run: the template."""
    d, rss = _undo_fixture()
    assert rollout.undo_plan(d, rss, 3) == ("skipped rollback (current template already matches revision 3)", None)
    paused = deployment(image="web:3", paused=True)
    with pytest.raises(rollout.RolloutError) as e:
        rollout.undo_plan(paused, rss, 1)
    assert str(e.value) == ("you cannot rollback a paused deployment; resume it first with 'skiff rollout resume "
                            "deployment/web' and try again")
    text, patch = rollout.undo_plan(paused, rss, 1, "client")
    assert patch is None and text.startswith("Pod Template:\n") and "Image:\tweb:1\n" in text


def test_templates_match_ignores_only_the_hash_label():
    a = replica_set(1, "web:1").spec.template
    b = apps_pb2.ReplicaSet()
    b.CopyFrom(replica_set(1, "web:1"))
    b.spec.template.metadata.labels["pod-template-hash"] = "other"
    assert rollout.templates_match(a, b.spec.template)
    b.spec.template.metadata.labels["tier"] = "x"
    assert not rollout.templates_match(a, b.spec.template)


# -- pause, resume, restart ---------------------------------------------------------------------
def test_pause_resume_patches_and_errors():
    running, paused = deployment(), deployment(paused=True)
    assert rollout.pause_patch(DEPLOY, running, True) == {"spec": {"paused": True}}
    assert rollout.pause_patch(DEPLOY, paused, False) == {"spec": {"paused": None}}
    for obj, want, message in ((paused, True, "is already paused"), (running, False, "is not paused")):
        with pytest.raises(rollout.RolloutError) as e:
            rollout.pause_patch(DEPLOY, obj, want)
        assert rollout.object_error(DEPLOY, "web", e.value) == f'error: deployments.apps "web" {message}'
    with pytest.raises(rollout.RolloutError, match="^pausing is not supported$"):
        rollout.pause_patch(SERVICES, core_pb2.Service(), True)


def test_restart_stamps_rfc3339_now():
    utc = rollout.restart_patch(DEPLOY, deployment(), NOW, timezone.utc)
    assert utc == {"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": "2021-03-01T10:00:00Z"}}}}}
    assert rollout.rfc3339(NOW, timezone(timedelta(hours=2))) == "2021-03-01T12:00:00+02:00"
    with pytest.raises(rollout.RolloutError, match=r"^can't restart paused deployment \(run rollout resume first\)$"):
        rollout.restart_patch(DEPLOY, deployment(paused=True), NOW)


def test_report_lines_as_kubectl_checkerr():
    assert rollout.report_lines(["boom"]) == ["error: boom"]
    assert rollout.report_lines(['error: unable to find container named "x"']) == [
        'error: unable to find container named "x"']
    assert rollout.report_lines(["a", "error: b"]) == ["a", "error: b"]


# -- set image ----------------------------------------------------------------------------------
def test_parse_images_and_validate():
    assert set_cmd.parse_images(["web=web:2", "*=x=y"]) == {"web": "web:2", "*": "x=y"}
    with pytest.raises(UsageError, match="^invalid image format: web-, =x$"):
        set_cmd.parse_images(["web-", "=x"])
    assert set_cmd.validate([], [], {}, all_=True, selector="a=b") == [
        "cannot set --all and --selector at the same time",
        "one or more resources must be specified as <resource> <name> or <resource>/<name>",
        "at least one image update is required"]
    assert set_cmd.validate(["deploy/web"], [], {"*": "a", "web": "b"}, all_=False, selector=None) == [
        "all containers are already specified by *, but saw more than one container_name=container_image pairs"]


def _two_container_deployment():
    d = deployment(image="web:1")
    d.spec.template.spec.containers.add(name="proxy", image="proxy:1")
    d.spec.template.spec.init_containers.add(name="init", image="init:1")
    return d


def test_image_update_patches_only_changed_containers():
    """A strategic merge patch naming the changed containers, with kubectl's $setElementOrder."""
    u = set_cmd.image_update(DEPLOY, _two_container_deployment(), {"proxy": "proxy:2", "web": "web:1"})
    assert u.errors == []
    assert u.patch == {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "web"}, {"name": "proxy"}],
        "containers": [{"image": "proxy:2", "name": "proxy"}]}}}}
    assert [c.image for c in u.updated.spec.template.spec.containers] == ["web:1", "proxy:2"]


def test_image_update_star_missing_unchanged_and_record():
    d = _two_container_deployment()
    star = set_cmd.image_update(DEPLOY, d, {"*": "all:9"})
    spec = star.patch["spec"]["template"]["spec"]
    assert [c["name"] for c in spec["containers"]] == ["web", "proxy"]
    assert spec["initContainers"] == [{"image": "all:9", "name": "init"}]
    missing = set_cmd.image_update(DEPLOY, d, {"nope": "x"})
    assert missing.patch == {} and missing.errors == ['error: unable to find container named "nope"']
    same = set_cmd.image_update(DEPLOY, d, {"web": "web:1"})
    assert same.patch == {} and same.errors == []
    recorded = set_cmd.image_update(DEPLOY, d, {"web": "web:1"}, cause="skiff set image ...")
    assert recorded.patch == {"metadata": {"annotations": {record.CHANGE_CAUSE: "skiff set image ..."}}}


def test_image_update_pods_and_other_kinds():
    pod = codec.from_dict(core_pb2.Pod, {"metadata": {"name": "p"},
                                         "spec": {"containers": [{"name": "c", "image": "a"}]}})
    assert set_cmd.image_update(PODS, pod, {"c": "b"}).patch == {"spec": {
        "$setElementOrder/containers": [{"name": "c"}], "containers": [{"image": "b", "name": "c"}]}}
    svc = codec.from_dict(core_pb2.Service, {"metadata": {"name": "web"}})
    assert set_cmd.image_update(SERVICES, svc, {"c": "b"}).errors == [
        "error: services/web the object is not a pod or does not have a pod template: *v1.Service"]


def test_set_image_record_change_cause_format():
    """--record's change cause for set image, in kubectl's format."""
    _, subs = build_parsers()
    argv = ["set", "image", "deployment/web", "web=web:2", "--record"]
    assert record.change_cause(argv, subs["set"]) == "skiff set image deployment/web web=web:2 --record=true"


# -- rollout parsing ----------------------------------------------------------------------------
def test_rollout_flags_parse_and_foreign_flags_are_refused():
    _, subs = build_parsers()
    ns = subs["rollout"].parse_intermixed_args(["status", "deploy/web", "-w=false", "--timeout=1m", "--revision=2"])
    assert (ns.args, ns.watch, ns.timeout, ns.revision) == (["status", "deploy/web"], False, 60.0, 2)
    out, err = io.StringIO(), io.StringIO()
    assert main(["rollout", "history", "deploy/web", "--to-revision=1"], stdout=out, stderr=err) == 1
    assert err.getvalue() == "error: unknown flag: --to-revision\nSee 'skiff rollout --help' for usage.\n"
    err = io.StringIO()
    assert main(["rollout", "frobnicate", "deploy/web"], stdout=out, stderr=err) == 1
    assert err.getvalue().startswith('error: unknown command "frobnicate" for "skiff rollout"')


# -- cordon and drain ---------------------------------------------------------------------------
def test_cordon_patch():
    node = core_pb2.Node()
    assert node_cmds.cordon_patch(node, True) == {"spec": {"unschedulable": True}}
    assert node_cmds.cordon_patch(node, False) is None
    node.spec.unschedulable = True
    assert node_cmds.cordon_patch(node, True) is None
    assert node_cmds.cordon_patch(node, False) == {"spec": {"unschedulable": None}}
    assert [node_cmds.cordon_verb(True, c) for c in (True, False)] == ["cordoned", "already cordoned"]


def pod(name, *, owner_kind="ReplicaSet", empty_dir=False, phase="Running", mirror=False, deleted=None, ns="default"):
    data = {"metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}"},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "x"}]},
            "status": {"phase": phase}}
    if owner_kind:
        data["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner_kind, "name": "o",
                                                "uid": "o-uid", "controller": True}]
    if empty_dir:
        data["spec"]["volumes"] = [{"name": "scratch", "emptyDir": {}}]
    if mirror:
        data["metadata"]["annotations"] = {node_cmds.MIRROR_ANNOTATION: "x"}
    if deleted:
        data["metadata"]["deletionTimestamp"] = deleted
    return codec.from_dict(core_pb2.Pod, data)


O = node_cmds.DrainOptions


@pytest.mark.parametrize("p,opts,want", [
    pytest.param(pod("a"), O(), node_cmds.OKAY, id="managed"),
    pytest.param(pod("a", owner_kind=None), O(), ("error", node_cmds.UNMANAGED_FATAL), id="unmanaged"),
    pytest.param(pod("a", owner_kind=None), O(force=True), ("warning", node_cmds.UNMANAGED_WARNING),
                 id="unmanaged-forced"),
    pytest.param(pod("a", owner_kind=None, phase="Succeeded"), O(), node_cmds.OKAY, id="unmanaged-finished"),
    pytest.param(pod("a", empty_dir=True), O(), ("error", node_cmds.LOCAL_STORAGE_FATAL), id="emptydir"),
    pytest.param(pod("a", empty_dir=True), O(delete_emptydir_data=True), node_cmds.OKAY,
                 id="emptydir-allowed-warning-overwritten"),
    pytest.param(pod("a", empty_dir=True, owner_kind=None), O(delete_emptydir_data=True),
                 ("error", node_cmds.UNMANAGED_FATAL), id="emptydir-allowed-but-unmanaged"),
    pytest.param(pod("a", empty_dir=True, phase="Failed"), O(), node_cmds.OKAY, id="emptydir-finished"),
    pytest.param(pod("a", owner_kind="DaemonSet"), O(), ("error", node_cmds.DAEMONSET_FATAL), id="daemonset"),
    pytest.param(pod("a", owner_kind="DaemonSet", empty_dir=True), O(ignore_daemonsets=True),
                 ("warning", node_cmds.DAEMONSET_WARNING), id="daemonset-ignored-before-emptydir"),
    pytest.param(pod("a", mirror=True, owner_kind=None), O(), node_cmds.SKIP, id="mirror"),
    pytest.param(pod("a", deleted="2021-03-01T09:58:00Z"), O(skip_wait_for_delete_timeout=60), node_cmds.SKIP,
                 id="deleted-long-ago"),
    pytest.param(pod("a", deleted="2021-03-01T09:59:30Z"), O(skip_wait_for_delete_timeout=60), node_cmds.OKAY,
                 id="deleted-recently"),
])
def test_pod_delete_status(p, opts, want):
    """kubectl's filters in kubectl's order; the first that does not delete decides."""
    got = node_cmds.pod_delete_status(p, opts, NOW)
    if isinstance(want, tuple):
        assert (got.reason, got.message) == want
    else:
        assert got == want


def test_delete_list_errors_and_warnings_grouped():
    pods = [pod("a", owner_kind=None), pod("b", empty_dir=True), pod("c", owner_kind=None, ns="x"), pod("d"),
            pod("e", owner_kind="DaemonSet")]
    plan = node_cmds.delete_list(pods, O(), NOW)
    assert plan.errors() == [f"cannot delete {node_cmds.UNMANAGED_FATAL}: default/a, x/c",
                             f"cannot delete {node_cmds.LOCAL_STORAGE_FATAL}: default/b",
                             f"cannot delete {node_cmds.DAEMONSET_FATAL}: default/e"]
    forced = node_cmds.delete_list(pods, O(force=True, delete_emptydir_data=True, ignore_daemonsets=True), NOW)
    assert forced.errors() == []
    assert [p.metadata.name for p in forced.pods()] == ["a", "b", "c", "d"]
    assert forced.warnings() == (f"{node_cmds.UNMANAGED_WARNING}: default/a, x/c; "
                                 f"{node_cmds.DAEMONSET_WARNING}: default/e")


# -- drain's shell, against a fake apiserver ------------------------------------------------------
class _FakeApi:
    """Nodes and pods in memory; a deleted pod lingers for `linger` reads (its graceful termination)."""

    def __init__(self, nodes, pods, linger=1):
        self.nodes = {n.metadata.name: n for n in nodes}
        self.pods = {(p.metadata.namespace, p.metadata.name): p for p in pods}
        self.deleting: dict[tuple[str, str], int] = {}
        self.linger, self.patches, self.deletes = linger, [], []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def get(self, kind, ns, name):
        from cli.api import ServerError
        if kind.resource == "nodes":
            if name not in self.nodes:
                raise ServerError("NOT_FOUND", "NotFound", f'nodes "{name}" not found')
            return self.nodes[name]
        key = (ns, name)
        if key in self.deleting:
            self.deleting[key] -= 1
            if self.deleting[key] < 0:
                self.pods.pop(key, None)
        if key not in self.pods:
            raise ServerError("NOT_FOUND", "NotFound", f'pods "{name}" not found')
        return self.pods[key]

    def list(self, kind, ns, *, label_selector="", field_selector=""):
        if kind.resource == "nodes":
            return list(self.nodes.values()), "1"
        node = field_selector.split("=", 1)[1]
        return [p for p in self.pods.values() if p.spec.node_name == node], "1"

    def patch(self, kind, ns, name, patch, **kw):
        self.patches.append((name, patch))
        self.nodes[name].spec.unschedulable = bool(patch["spec"]["unschedulable"])
        return self.nodes[name]

    def delete(self, kind, ns, name, grace_period=None, **kw):
        self.deletes.append((ns, name, grace_period))
        self.deleting.setdefault((ns, name), self.linger)


def _run(api, command, *argv):
    ctx = Context(server="fake", namespace=None, timeout=1.0, out=io.StringIO(), err=io.StringIO(),
                  stdin=io.StringIO(), now=lambda: NOW)
    ctx.api = lambda: api
    _, subs = build_parsers()
    ns = subs[command].parse_intermixed_args(list(argv))
    code = {"drain": node_cmds.run_drain, "cordon": node_cmds.run_cordon,
            "uncordon": node_cmds.run_uncordon}[command](ctx, ns)
    return code, ctx.out.getvalue(), ctx.err.getvalue()


def _node(name):
    return codec.from_dict(core_pb2.Node, {"metadata": {"name": name}})


def test_drain_deletes_waits_and_reports(monkeypatch):
    """Cordon, a warning for the forced pod, `pod/x deleted` as each goes, then `node/n1 drained`."""
    monkeypatch.setattr(node_cmds, "POLL_INTERVAL", 0.01)
    api = _FakeApi([_node("n1")], [pod("web-1"), pod("solo", owner_kind=None)])
    code, out, err = _run(api, "drain", "n1", "--force", "--grace-period=5")
    assert (code, err) == (0, f"WARNING: {node_cmds.UNMANAGED_WARNING}: default/solo\n")
    assert out == "node/n1 cordoned\npod/web-1 deleted\npod/solo deleted\nnode/n1 drained\n"
    assert api.deletes == [("default", "web-1", 5), ("default", "solo", 5)]


def test_drain_refuses_unmanaged_pods_without_force():
    api = _FakeApi([_node("n1")], [pod("web-1"), pod("solo", owner_kind=None)])
    code, out, err = _run(api, "drain", "n1")
    assert code == 1 and out == "node/n1 cordoned\n" and api.deletes == []
    assert err == ('error: unable to drain node "n1", aborting command...\n\n'
                   "There are pending nodes to be drained:\n n1\n"
                   f"error: cannot delete {node_cmds.UNMANAGED_FATAL}: default/solo\n")


def test_drain_timeout(monkeypatch):
    """--timeout: the pods still there are listed, then kubectl's timeout error."""
    monkeypatch.setattr(node_cmds, "POLL_INTERVAL", 0.01)
    api = _FakeApi([_node("n1")], [pod("web-1")], linger=10 ** 6)
    code, out, err = _run(api, "drain", "n1", "--timeout=0.05", "--delete-local-data")
    assert code == 1 and out == "node/n1 cordoned\n"
    assert err == (node_cmds.DELETE_LOCAL_DATA_DEPRECATED + "\n"
                   'There are pending pods in node "n1" when an error occurred: timed out waiting for the condition\n'
                   "pod/web-1\n"
                   'error: unable to drain node "n1", aborting command...\n\n'
                   "There are pending nodes to be drained:\n n1\n"
                   "error: timed out waiting for the condition\n")


def test_drain_client_dry_run_changes_nothing():
    api = _FakeApi([_node("n1")], [pod("web-1")])
    code, out, err = _run(api, "drain", "n1", "--dry-run=client")
    assert (code, err) == (0, "")
    assert out == "node/n1 cordoned (dry run)\nevicting pod default/web-1 (dry run)\nnode/n1 drained (dry run)\n"
    assert api.patches == [] and api.deletes == []


def test_cordon_uncordon_and_usage():
    api = _FakeApi([_node("n1"), _node("n2")], [])
    assert _run(api, "cordon", "n1") == (0, "node/n1 cordoned\n", "")
    assert _run(api, "cordon", "n1", "n2") == (0, "node/n1 already cordoned\nnode/n2 cordoned\n", "")
    assert _run(api, "uncordon", "n1") == (0, "node/n1 uncordoned\n", "")
    assert _run(api, "uncordon", "n1") == (0, "node/n1 already uncordoned\n", "")
    with pytest.raises(UsageError, match="^USAGE: cordon NODE"):
        _run(api, "cordon")
    with pytest.raises(UsageError, match="^cannot specify both a node name and a --selector option"):
        _run(api, "drain", "n1", "-l", "a=b")
