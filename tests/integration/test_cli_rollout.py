"""`skiff rollout`, `set image`, `cordon/uncordon/drain` against real apiservers.

There is no controller manager here, so each test plays its part: it creates the ReplicaSets a
Deployment controller would (named `<deployment>-<hash>`, a controller ownerReference to the
Deployment's uid, the revision and change-cause annotations), writes Deployment status through the
status subresource, and, for drain, finishes the graceful deletion of pods as a kubelet would.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest

from client import codec, kinds
from skiffpb.api.v1 import api_pb2, api_pb2_grpc
from skiffpb.k8s.apps.v1 import apps_pb2
from skiffpb.k8s.core.v1 import core_pb2
from tests.harness.proc import wait_for

ROOT = Path(__file__).resolve().parents[2]
SKIFF = [sys.executable, "-m", "cli"]
CHANGE_CAUSE = "kubernetes.io/change-cause"
REVISION = "deployment.kubernetes.io/revision"

pytestmark = pytest.mark.timeout(240)

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 5
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "web:1"}]}
"""


def _env() -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), SKIFFCONFIG="/nonexistent/skiff-test-config")
    env.pop("SKIFF_SERVER", None)
    return env


def skiff(api, *args, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*SKIFF, "--server", api.endpoint, *args], capture_output=True, text=True,
                          input=stdin, timeout=90, cwd=ROOT, env=_env())


class Running:
    """A `skiff` process whose stdout is read line by line as it comes."""

    def __init__(self, api, *args):
        self.proc = subprocess.Popen([*SKIFF, "--server", api.endpoint, *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, cwd=ROOT, env=_env())
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_line(self, line: str, timeout: float = 30.0) -> None:
        wait_for(lambda: line in self.lines, timeout, f"{line!r} in {self.lines!r}")

    def finish(self, timeout: float = 30.0) -> tuple[int, str]:
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code, self.proc.stderr.read()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


class Controller:
    """Typed calls for the test's own writes: what the controllers and a kubelet would do."""

    def __init__(self, endpoint: str):
        self.channel = grpc.insecure_channel(endpoint)
        self.stub = api_pb2_grpc.ApiStub(self.channel)

    def get(self, resource: str, name: str, ns: str = "default"):
        return kinds.unwrap(self.stub.Get(api_pb2.GetRequest(resource=resource, namespace=ns, name=name), timeout=10))

    def create(self, obj):
        return kinds.unwrap(self.stub.Create(api_pb2.CreateRequest(object=kinds.wrap(obj)), timeout=10))

    def deployment_status(self, name: str = "web", **status) -> None:
        d = self.get("deployments", name)
        status.setdefault("readyReplicas", status.get("availableReplicas", 0))   # available <= ready <= total
        d.ClearField("status")
        d.status.CopyFrom(codec.from_dict(apps_pb2.DeploymentStatus, status))
        self.stub.UpdateStatus(api_pb2.UpdateRequest(object=kinds.wrap(d)), timeout=10)

    def new_revision(self, revision: int, name: str = "web") -> apps_pb2.ReplicaSet:
        """The ReplicaSet of the Deployment's current template, as the Deployment controller makes it."""
        d = self.get("deployments", name)
        h = f"h{revision}"
        rs = apps_pb2.ReplicaSet()
        rs.metadata.name, rs.metadata.namespace = f"{name}-{h}", "default"
        rs.metadata.annotations[REVISION] = str(revision)
        if CHANGE_CAUSE in d.metadata.annotations:
            rs.metadata.annotations[CHANGE_CAUSE] = d.metadata.annotations[CHANGE_CAUSE]
        rs.metadata.owner_references.add(api_version="apps/v1", kind="Deployment", name=name, uid=d.metadata.uid,
                                         controller=True, block_owner_deletion=True)
        rs.spec.replicas = 0
        rs.spec.selector.CopyFrom(d.spec.selector)
        rs.spec.selector.match_labels["pod-template-hash"] = h
        rs.spec.template.CopyFrom(d.spec.template)
        rs.spec.template.metadata.labels["pod-template-hash"] = h
        rs.metadata.labels.update(rs.spec.template.metadata.labels)
        return self.create(rs)

    def patch_revision(self, rs_name: str, revision: int) -> None:
        """The controller reusing an old ReplicaSet for a rollback gives it the next revision."""
        patch = ('{"metadata": {"annotations": {"%s": "%d"}}}' % (REVISION, revision)).encode()
        self.stub.Patch(api_pb2.PatchRequest(resource="replicasets", namespace="default", name=rs_name,
                                             patch_type="application/merge-patch+json", patch=patch), timeout=10)

    def pods_on(self, node: str) -> list:
        resp = self.stub.List(api_pb2.ListRequest(resource="pods", field_selector=f"spec.nodeName={node}"),
                              timeout=10)
        return [kinds.unwrap(o) for o in resp.items]

    def finish_deletions(self, node: str) -> None:
        """The kubelet's part of a graceful deletion: a pod marked for deletion goes now."""
        for p in self.pods_on(node):
            if p.metadata.deletion_timestamp:
                try:
                    self.stub.Delete(api_pb2.DeleteRequest(resource="pods", namespace=p.metadata.namespace,
                                                           name=p.metadata.name, grace_period_seconds=0), timeout=10)
                except grpc.RpcError:
                    pass

    def close(self) -> None:
        self.channel.close()


@pytest.fixture
def cluster(control_plane):
    c = Controller(control_plane.apiservers[0].endpoint)
    yield control_plane.apiservers[0], c
    c.close()


# -- rollout status -----------------------------------------------------------------------------
def test_rollout_status_follows_the_deployment_to_the_end(cluster, tmp_path):
    """`rollout status` prints kubectl's line for each status the controller writes, and exits 0 when done."""
    api, ctl = cluster
    r = skiff(api, "apply", "-f", "-", stdin=DEPLOYMENT)
    assert r.returncode == 0, r.stderr
    watch = Running(api, "rollout", "status", "deployment/web")
    try:
        watch.wait_line("Waiting for deployment spec update to be observed...")
        wait = 'Waiting for deployment "web" rollout to finish: '
        steps = [
            (dict(observedGeneration=1, replicas=3, updatedReplicas=2, availableReplicas=1),
             wait + "2 out of 5 new replicas have been updated..."),
            (dict(observedGeneration=1, replicas=6, updatedReplicas=5, availableReplicas=4),
             wait + "1 old replicas are pending termination..."),
            (dict(observedGeneration=1, replicas=5, updatedReplicas=5, availableReplicas=3),
             wait + "3 of 5 updated replicas are available..."),
        ]
        for status, line in steps:
            ctl.deployment_status(**status)
            watch.wait_line(line)
        ctl.deployment_status(observedGeneration=1, replicas=5, updatedReplicas=5, availableReplicas=5)
        code, err = watch.finish()
        assert (code, err) == (0, "")
        assert watch.lines[-1] == 'deployment "web" successfully rolled out'
        assert watch.lines[0] == "Waiting for deployment spec update to be observed..."
    finally:
        watch.kill()

    # done already: one line, exit 0; -w=false on an unfinished rollout: one line, exit 0 too
    r = skiff(api, "rollout", "status", "deploy", "web")
    assert (r.returncode, r.stdout) == (0, 'deployment "web" successfully rolled out\n'), r.stderr
    ctl.deployment_status(observedGeneration=1, replicas=5, updatedReplicas=5, availableReplicas=2)
    r = skiff(api, "rollout", "status", "deploy/web", "-w=false")
    assert (r.returncode, r.stdout) == (0, 'Waiting for deployment "web" rollout to finish: 2 of 5 updated '
                                           'replicas are available...\n'), r.stderr
    # --revision pins the Deployment's revision annotation (none here: revision 0)
    r = skiff(api, "rollout", "status", "deploy/web", "--revision=2")
    assert (r.returncode, r.stderr) == (1, "error: desired revision (2) is different from the running revision (0)\n")
    # --timeout ends the wait with kubectl's error
    started = time.monotonic()
    r = skiff(api, "rollout", "status", "deploy/web", "--timeout=2s")
    assert r.returncode == 1 and r.stderr == "error: timed out waiting for the condition\n", r.stderr
    assert time.monotonic() - started < 30
    # missing object, wrong kind
    r = skiff(api, "rollout", "status", "deployment/nope")
    assert (r.returncode, r.stderr) == (1, 'Error from server (NotFound): deployments.apps "nope" not found\n')


def test_rollout_status_progress_deadline_and_deletion(cluster):
    """ProgressDeadlineExceeded ends the watch with kubectl's error; so does the Deployment's deletion."""
    api, ctl = cluster
    assert skiff(api, "apply", "-f", "-", stdin=DEPLOYMENT).returncode == 0
    ctl.deployment_status(observedGeneration=1, replicas=5, updatedReplicas=2, availableReplicas=2)
    watch = Running(api, "rollout", "status", "deployment/web")
    try:
        watch.wait_line('Waiting for deployment "web" rollout to finish: 2 out of 5 new replicas have been updated...')
        ctl.deployment_status(observedGeneration=1, replicas=5, updatedReplicas=2, availableReplicas=2, conditions=[
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
             "message": 'ReplicaSet "web-h2" has timed out progressing.'}])
        code, err = watch.finish()
        assert (code, err) == (1, 'error: deployment "web" exceeded its progress deadline\n')
    finally:
        watch.kill()

    ctl.deployment_status(observedGeneration=1, replicas=5, updatedReplicas=2, availableReplicas=2)
    watch = Running(api, "rollout", "status", "deployment/web")
    try:
        watch.wait_line('Waiting for deployment "web" rollout to finish: 2 out of 5 new replicas have been updated...')
        assert skiff(api, "delete", "deployment", "web").returncode == 0
        code, err = watch.finish()
        assert (code, err) == (1, "error: object has been deleted\n")
    finally:
        watch.kill()


# -- set image, history, undo, pause, resume, restart ---------------------------------------------
def test_set_image_history_and_undo(cluster):
    """The seed scenario's CLI half: two recorded revisions, their history, an undo to revision 1 and back."""
    api, ctl = cluster
    r = skiff(api, "apply", "-f", "-", "--record", stdin=DEPLOYMENT)
    assert r.returncode == 0, r.stderr
    ctl.new_revision(1)

    r = skiff(api, "set", "image", "deployment/web", "web=web:2", "--record")
    assert (r.returncode, r.stdout) == (0, "deployment.apps/web image updated\n"), r.stderr
    d = ctl.get("deployments", "web")
    assert d.spec.template.spec.containers[0].image == "web:2"
    # kubectl's format: positional words, then every flag as given, global ones included
    set_cause = f"skiff set image deployment/web web=web:2 --server={api.endpoint} --record=true"
    apply_cause = f"skiff apply --server={api.endpoint} --filename=- --record=true"
    assert d.metadata.annotations[CHANGE_CAUSE] == set_cause
    ctl.new_revision(2)

    # the same image again: nothing to do, nothing printed; an unknown container: kubectl's error
    r = skiff(api, "set", "image", "deploy/web", "web=web:2")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    r = skiff(api, "set", "image", "deploy/web", "sidecar=proxy:1")
    assert (r.returncode, r.stdout, r.stderr) == (1, "", 'error: unable to find container named "sidecar"\n')
    r = skiff(api, "set", "image", "deploy/web", "*=web:3", "--dry-run=client")
    assert (r.returncode, r.stdout) == (0, "deployment.apps/web image updated (dry run)\n"), r.stderr
    r = skiff(api, "set", "image", "deploy/web", "web=web:3", "--dry-run=server", "-o", "name")
    assert (r.returncode, r.stdout) == (0, "deployment.apps/web\n"), r.stderr
    assert ctl.get("deployments", "web").spec.template.spec.containers[0].image == "web:2"

    r = skiff(api, "rollout", "history", "deployment/web")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("deployment.apps/web \n"
                        "REVISION  CHANGE-CAUSE\n"
                        f"1         {apply_cause}\n"
                        f"2         {set_cause}\n"
                        "\n")
    r = skiff(api, "rollout", "history", "deployment/web", "--revision=1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("deployment.apps/web with revision #1\nPod Template:\n  Labels:\tapp=web\n"
                               "\tpod-template-hash=h1\n")
    assert "    Image:\tweb:1\n" in r.stdout
    r = skiff(api, "rollout", "history", "deployment/web", "--revision=7")
    assert (r.returncode, r.stderr) == (1, "error: unable to find the specified revision\n")

    r = skiff(api, "rollout", "undo", "deployment/web", "--to-revision=9")
    assert (r.returncode, r.stderr) == (1, "error: unable to find specified revision 9 in history\n")
    r = skiff(api, "rollout", "undo", "deployment/web", "--to-revision=2")
    assert (r.returncode, r.stdout) == (
        0, "deployment.apps/web skipped rollback (current template already matches revision 2)\n"), r.stderr
    r = skiff(api, "rollout", "undo", "deployment/web", "--to-revision=1")
    assert (r.returncode, r.stdout) == (0, "deployment.apps/web rolled back\n"), r.stderr
    d = ctl.get("deployments", "web")
    assert d.spec.template.spec.containers[0].image == "web:1"
    assert dict(d.spec.template.metadata.labels) == {"app": "web"}
    assert d.metadata.annotations[CHANGE_CAUSE] == apply_cause

    # Until the controller reuses revision 1's ReplicaSet as revision 3, "the previous revision" is
    # revision 1 again, which matches: skipped, naming --to-revision as given (0), as kubectl does.
    r = skiff(api, "rollout", "undo", "deploy/web")
    assert (r.returncode, r.stdout) == (
        0, "deployment.apps/web skipped rollback (current template already matches revision 0)\n"), r.stderr
    ctl.patch_revision("web-h1", 3)
    r = skiff(api, "rollout", "history", "deployment/web")
    assert r.stdout.splitlines()[2:] == [f"2         {set_cause}", f"3         {apply_cause}", ""]
    r = skiff(api, "rollout", "undo", "deploy/web")
    assert (r.returncode, r.stdout) == (0, "deployment.apps/web rolled back\n"), r.stderr
    d = ctl.get("deployments", "web")
    assert d.spec.template.spec.containers[0].image == "web:2" and d.metadata.annotations[CHANGE_CAUSE] == set_cause


def test_pause_resume_restart(cluster):
    """pause/resume flip spec.paused with kubectl's lines and errors; restart stamps the template."""
    api, ctl = cluster
    assert skiff(api, "apply", "-f", "-", stdin=DEPLOYMENT).returncode == 0
    ctl.new_revision(1)
    r = skiff(api, "rollout", "pause", "deployment/web")
    assert (r.returncode, r.stdout) == (0, "deployment.apps/web paused\n"), r.stderr
    assert ctl.get("deployments", "web").spec.paused is True
    r = skiff(api, "rollout", "pause", "deployment/web")
    assert (r.returncode, r.stderr) == (1, 'error: deployments.apps "web" is already paused\n')
    r = skiff(api, "rollout", "restart", "deployment/web")
    assert (r.returncode, r.stderr) == (
        1, "error: deployments.apps \"web\" can't restart paused deployment (run rollout resume first)\n")
    r = skiff(api, "rollout", "undo", "deployment/web", "--to-revision=1")
    assert r.returncode == 1 and "you cannot rollback a paused deployment" in r.stderr
    r = skiff(api, "rollout", "resume", "deployment/web")
    assert (r.returncode, r.stdout) == (0, "deployment.apps/web resumed\n"), r.stderr
    r = skiff(api, "rollout", "resume", "deployment/web")
    assert (r.returncode, r.stderr) == (1, 'error: deployments.apps "web" is not paused\n')
    r = skiff(api, "rollout", "restart", "deployment/web")
    assert (r.returncode, r.stdout) == (0, "deployment.apps/web restarted\n"), r.stderr
    stamp = ctl.get("deployments", "web").spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"]
    assert len(stamp) >= 20 and stamp[10] == "T"
    r = skiff(api, "rollout", "history", "pods/x")
    assert r.returncode == 1


# -- cordon, uncordon, drain --------------------------------------------------------------------
def _pod(name: str, node: str, *, owner=None, empty_dir: bool = False) -> core_pb2.Pod:
    p = core_pb2.Pod()
    p.metadata.name, p.metadata.namespace = name, "default"
    p.metadata.labels["app"] = "web"
    if owner is not None:
        p.metadata.owner_references.add(api_version="apps/v1", kind="ReplicaSet", name=owner.metadata.name,
                                        uid=owner.metadata.uid, controller=True)
    p.spec.node_name = node
    p.spec.termination_grace_period_seconds = 30
    p.spec.containers.add(name="web", image="web:1")
    if empty_dir:
        v = p.spec.volumes.add(name="scratch")
        v.empty_dir.SetInParent()
    return p


def test_cordon_uncordon_and_drain(cluster):
    """drain refuses unmanaged and emptyDir pods, then with the flags deletes every pod and waits for them."""
    api, ctl = cluster
    for name in ("n1", "n2"):
        node = core_pb2.Node()
        node.metadata.name = name
        ctl.create(node)
    r = skiff(api, "cordon", "n1")
    assert (r.returncode, r.stdout) == (0, "node/n1 cordoned\n"), r.stderr
    assert ctl.get("nodes", "n1", "").spec.unschedulable is True
    r = skiff(api, "cordon", "n1")
    assert (r.returncode, r.stdout) == (0, "node/n1 already cordoned\n"), r.stderr
    r = skiff(api, "uncordon", "n1")
    assert (r.returncode, r.stdout) == (0, "node/n1 uncordoned\n"), r.stderr
    assert ctl.get("nodes", "n1", "").spec.unschedulable is False
    r = skiff(api, "cordon", "n9")
    assert (r.returncode, r.stderr) == (1, 'Error from server (NotFound): nodes "n9" not found\n')

    assert skiff(api, "apply", "-f", "-", stdin=DEPLOYMENT).returncode == 0
    rs = ctl.new_revision(1)
    for p in (_pod("web-1", "n1", owner=rs), _pod("web-2", "n1", owner=rs), _pod("solo", "n1"),
              _pod("cache", "n1", owner=rs, empty_dir=True), _pod("web-3", "n2", owner=rs)):
        ctl.create(p)

    r = skiff(api, "drain", "n1")
    assert r.returncode == 1 and r.stdout == "node/n1 cordoned\n"
    assert r.stderr == (
        'error: unable to drain node "n1", aborting command...\n\n'
        "There are pending nodes to be drained:\n n1\n"
        "cannot delete Pods with local storage (use --delete-emptydir-data to override): default/cache\n"
        "cannot delete Pods not managed by ReplicationController, ReplicaSet, Job, DaemonSet or StatefulSet "
        "(use --force to override): default/solo\n")
    assert len(ctl.pods_on("n1")) == 4   # nothing was deleted

    # no kubelet finishes n2's deletions: its pod stays Terminating and --timeout gives up
    r = skiff(api, "drain", "n2", "--timeout=2s")
    assert (r.returncode, r.stdout) == (1, "node/n2 cordoned\n")
    assert r.stderr == ('There are pending pods in node "n2" when an error occurred: timed out waiting for the '
                        'condition\npod/web-3\n'
                        'error: unable to drain node "n2", aborting command...\n\n'
                        "There are pending nodes to be drained:\n n2\nerror: timed out waiting for the condition\n")
    assert ctl.get("pods", "web-3").metadata.deletion_timestamp

    # now a kubelet finishes graceful deletions: the drain completes, pod by pod
    stop = threading.Event()

    def kubelet():
        while not stop.is_set():
            ctl.finish_deletions("n1")
            time.sleep(0.2)
    t = threading.Thread(target=kubelet, daemon=True)
    t.start()
    try:
        r = skiff(api, "drain", "n1", "--force", "--delete-emptydir-data", "--grace-period=10")
    finally:
        stop.set()
        t.join(10)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ("WARNING: deleting Pods not managed by ReplicationController, ReplicaSet, Job, DaemonSet or "
                        "StatefulSet: default/solo\n")
    lines = r.stdout.splitlines()
    assert lines[0] == "node/n1 already cordoned" and lines[-1] == "node/n1 drained"
    assert sorted(lines[1:-1]) == ["pod/cache deleted", "pod/solo deleted", "pod/web-1 deleted", "pod/web-2 deleted"]
    assert ctl.pods_on("n1") == [] and [p.metadata.name for p in ctl.pods_on("n2")] == ["web-3"]
    r = skiff(api, "uncordon", "n1")
    assert (r.returncode, r.stdout) == (0, "node/n1 uncordoned\n"), r.stderr
