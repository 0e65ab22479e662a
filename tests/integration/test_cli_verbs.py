"""`skiff create/label/annotate/edit/expose`, `--record` and `apply -f URL` against real apiservers."""
from __future__ import annotations

import functools
import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SKIFF = [sys.executable, "-m", "cli"]
CHANGE_CAUSE = "kubernetes.io/change-cause"

pytestmark = pytest.mark.timeout(180)


def skiff(api, *args, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), SKIFFCONFIG="/nonexistent/skiff-test-config", **(env or {}))
    for name in ("SKIFF_EDITOR", "KUBE_EDITOR"):
        if name not in (env or {}):
            full_env.pop(name, None)
    return subprocess.run([*SKIFF, "--server", api.endpoint, *args], capture_output=True, text=True,
                          input=stdin, timeout=60, cwd=ROOT, env=full_env)


def get(api, *args) -> dict:
    r = skiff(api, "get", *args, "-o", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def editor(tmp_path: Path, body: str, name: str = "editor.sh") -> str:
    """A scripted editor: a shell script run as `editor.sh FILE`, which appends every file it is given
    to editor.log (so a test sees each round) before changing it."""
    script = tmp_path / name
    script.write_text(f'#!/bin/sh\nset -e\nf="$1"\n{{ echo "=== round"; cat "$f"; }} >> "{tmp_path}/editor.log"\n'
                      f"{body}\n")
    script.chmod(0o755)
    return str(script)


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "web:1", ports: [{containerPort: 8080}]}]}
"""
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: '1'}\n"


# -- create -------------------------------------------------------------------------------------
def test_create_namespace_and_deployment_from_flags(control_plane):
    """`create namespace`/`create deployment` build kubectl's objects, refuse duplicates; dry runs send nothing."""
    api = control_plane.apiservers[0]
    r = skiff(api, "create", "namespace", "shop")
    assert (r.returncode, r.stdout) == (0, "namespace/shop created\n"), r.stderr
    r = skiff(api, "create", "ns", "shop")
    assert r.returncode == 1
    assert r.stderr == 'Error from server (AlreadyExists): namespaces "shop" already exists\n'

    r = skiff(api, "-n", "shop", "create", "deployment", "web", "--image=registry.local/nginx:1.25",
              "--image=busybox", "--replicas=2", "--port=80")
    assert (r.returncode, r.stdout) == (0, "deployment.apps/web created\n"), r.stderr
    d = get(api, "-n", "shop", "deploy", "web")
    assert d["metadata"]["labels"] == {"app": "web"}
    assert d["spec"]["replicas"] == 2 and d["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert d["spec"]["template"]["metadata"]["labels"] == {"app": "web"}
    containers = d["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("nginx", "registry.local/nginx:1.25"),
                                                            ("busybox", "busybox")]
    assert [p["containerPort"] for p in containers[0]["ports"]] == [80] and "ports" not in containers[1]

    r = skiff(api, "-n", "shop", "create", "deployment", "web", "--image=nginx")
    assert r.returncode == 1
    assert r.stderr == 'error: failed to create deployment: deployments.apps "web" already exists\n'

    r = skiff(api, "create", "deployment", "draft", "--image=nginx", "--dry-run=client", "-o", "yaml")
    assert r.returncode == 0, r.stderr
    doc = yaml.safe_load(r.stdout)
    assert doc["kind"] == "Deployment" and doc["metadata"] == {"creationTimestamp": None, "labels": {"app": "draft"},
                                                              "name": "draft"}
    r = skiff(api, "create", "deployment", "draft", "--image=nginx", "--dry-run=server")
    assert (r.returncode, r.stdout) == (0, "deployment.apps/draft created (server dry run)\n"), r.stderr
    r = skiff(api, "get", "deploy", "draft")
    assert r.returncode == 1 and "NotFound" in r.stderr


def test_create_from_files_creates_only(control_plane, tmp_path):
    """`create -f` creates what is missing and reports each object that exists already, exiting 1."""
    api = control_plane.apiservers[0]
    f = tmp_path / "app.yaml"
    f.write_text(DEPLOYMENT + "---\n" + CONFIGMAP)
    r = skiff(api, "create", "-f", str(f), "--save-config")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "deployment.apps/web created\nconfigmap/settings created\n"
    assert skiff(api, "delete", "configmap", "settings").returncode == 0

    r = skiff(api, "create", "-f", str(f))
    assert r.returncode == 1
    assert r.stdout == "configmap/settings created\n"
    assert r.stderr == (f'Error from server (AlreadyExists): error when creating "{f}": '
                        'deployments.apps "web" already exists\n')
    # --save-config recorded the manifest, so apply merges against it without a warning
    r = skiff(api, "apply", "-f", str(f))
    assert r.returncode == 0 and "deployments/web is missing" not in r.stderr, r.stderr
    assert r.stdout.startswith("deployment.apps/web unchanged\n"), r.stdout


# -- label / annotate ---------------------------------------------------------------------------
def test_label_and_annotate(control_plane, tmp_path):
    """Labels and annotations are set, refused without --overwrite, removed, listed, and selected by -l."""
    api = control_plane.apiservers[0]
    assert skiff(api, "create", "deployment", "web", "--image=nginx").returncode == 0

    r = skiff(api, "label", "deployment", "web", "tier=front")
    assert (r.returncode, r.stdout) == (0, "deployment.apps/web labeled\n"), r.stderr
    r = skiff(api, "label", "deploy/web", "tier=front")
    assert (r.returncode, r.stdout) == (0, "deployment.apps/web not labeled\n"), r.stderr
    r = skiff(api, "label", "deploy", "web", "tier=back")
    assert r.returncode == 1
    assert r.stderr == "error: 'tier' already has a value (front), and --overwrite is false\n"
    r = skiff(api, "label", "deploy", "web", "tier=back", "team=ops", "--overwrite")
    assert (r.returncode, r.stdout) == (0, "deployment.apps/web labeled\n"), r.stderr
    assert get(api, "deploy", "web")["metadata"]["labels"] == {"app": "web", "tier": "back", "team": "ops"}
    r = skiff(api, "label", "deploy", "web", "--list")
    assert (r.returncode, r.stdout) == (0, "app=web\nteam=ops\ntier=back\n"), r.stderr
    r = skiff(api, "label", "deploy", "web", "tier-", "ghost-")
    assert (r.returncode, r.stdout) == (0, 'label "ghost" not found.\ndeployment.apps/web labeled\n'), r.stderr
    assert get(api, "deploy", "web")["metadata"]["labels"] == {"app": "web", "team": "ops"}

    # a stale --resource-version is the user's precondition: Conflict, nothing written
    r = skiff(api, "label", "deploy", "web", "stale=yes", "--resource-version=1")
    assert r.returncode == 1 and r.stderr.startswith("Error from server (Conflict): "), r.stderr
    rv = get(api, "deploy", "web")["metadata"]["resourceVersion"]
    r = skiff(api, "label", "deploy", "web", "fresh=yes", f"--resource-version={rv}")
    assert (r.returncode, r.stdout) == (0, "deployment.apps/web labeled\n"), r.stderr

    r = skiff(api, "annotate", "deploy", "web", "owner=ops", "note=a=b")
    assert (r.returncode, r.stdout) == (0, "deployment.apps/web annotated\n"), r.stderr
    r = skiff(api, "annotate", "deploy", "web", "owner=dev")
    assert r.returncode == 1
    assert r.stderr == ("error: --overwrite is false but found the following declared annotation(s): "
                        "'owner' already has a value (ops)\n")
    r = skiff(api, "annotate", "deploy", "web", "owner-", "-o", "name")
    assert (r.returncode, r.stdout) == (0, "deployment.apps/web\n"), r.stderr
    assert get(api, "deploy", "web")["metadata"]["annotations"] == {"note": "a=b"}

    for name, app in (("a", "x"), ("b", "x"), ("c", "y")):
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"app": app}}}
        assert skiff(api, "apply", "-f", "-", stdin=json.dumps(cm)).returncode == 0
    r = skiff(api, "label", "configmaps", "-l", "app=x", "team=blue")
    assert (r.returncode, r.stdout) == (0, "configmap/a labeled\nconfigmap/b labeled\n"), r.stderr
    r = skiff(api, "get", "cm", "-l", "team=blue", "-o", "name")
    assert r.stdout == "configmap/a\nconfigmap/b\n"
    r = skiff(api, "annotate", "cm", "--all", "checked=today")
    assert r.stdout == "configmap/a annotated\nconfigmap/b annotated\nconfigmap/c annotated\n", r.stderr

    r = skiff(api, "label", "pods", "nope", "a=b")
    assert r.returncode == 1 and r.stderr == 'Error from server (NotFound): pods "nope" not found\n'


# -- edit ---------------------------------------------------------------------------------------
def test_edit_saves_cancels_and_merges_a_concurrent_write(control_plane, tmp_path):
    """An unchanged file cancels; a change is saved; a write by someone else meanwhile is kept (patch)."""
    api = control_plane.apiservers[0]
    assert skiff(api, "create", "deployment", "web", "--image=nginx").returncode == 0

    r = skiff(api, "edit", "deployment", "web", env={"EDITOR": "true"})
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "Edit cancelled, no changes made.\n")

    bump = editor(tmp_path, "sed -i 's/^  replicas: 1$/  replicas: 3/' \"$f\"")
    r = skiff(api, "edit", "deploy/web", env={"EDITOR": bump})
    assert (r.returncode, r.stdout) == (0, "deployment.apps/web edited\n"), r.stderr
    assert get(api, "deploy", "web")["spec"]["replicas"] == 3
    first = (tmp_path / "editor.log").read_text()
    assert first.startswith("=== round\n# Please edit the object below. Lines beginning with a '#' will be ignored,")
    assert "kind: Deployment" in first

    # JSON, through KUBE_EDITOR (which wins over EDITOR)
    to_json = editor(tmp_path, "sed -i 's/\"replicas\": 3,/\"replicas\": 4,/' \"$f\"", "json.sh")
    r = skiff(api, "edit", "deploy", "web", "-o", "json", env={"KUBE_EDITOR": to_json, "EDITOR": "false"})
    assert (r.returncode, r.stdout) == (0, "deployment.apps/web edited\n"), r.stderr
    assert get(api, "deploy", "web")["spec"]["replicas"] == 4

    # while the editor is open, someone else labels the deployment: the Update conflicts, the user's
    # change is patched onto the latest object, and both changes stay
    meanwhile = editor(tmp_path, f"PYTHONPATH={ROOT} {sys.executable} -m cli --server {api.endpoint} "
                                 "label deploy web touched=yes >/dev/null\n"
                                 "sed -i 's/^  replicas: 4$/  replicas: 5/' \"$f\"", "meanwhile.sh")
    r = skiff(api, "edit", "deploy", "web", env={"EDITOR": meanwhile})
    assert (r.returncode, r.stdout) == (0, "deployment.apps/web edited\n"), r.stderr
    d = get(api, "deploy", "web")
    assert d["spec"]["replicas"] == 5 and d["metadata"]["labels"]["touched"] == "yes"


def test_edit_reopens_invalid_files_with_the_reasons(control_plane, tmp_path):
    """An invalid edit reopens the file with the reasons on top; fixing it saves, saving it unchanged gives up."""
    api = control_plane.apiservers[0]
    assert skiff(api, "create", "deployment", "web", "--image=nginx").returncode == 0

    # the editor makes replicas negative, and does nothing more when the file comes back
    negative = editor(tmp_path, "sed -i 's/^  replicas: 1$/  replicas: -1/' \"$f\"")
    r = skiff(api, "edit", "deploy", "web", env={"EDITOR": negative})
    assert r.returncode == 1 and r.stdout == ""
    lines = r.stderr.splitlines()
    assert lines[0] == 'error: deployments.apps "web" is invalid'
    assert lines[-1] == "error: Edit cancelled, no valid changes were saved."
    assert 'deployments.apps "web" was not valid:' in lines
    assert any(line.startswith('A copy of your changes has been stored to "') for line in lines)
    rounds = (tmp_path / "editor.log").read_text().split("=== round\n")[1:]
    assert len(rounds) == 2
    assert ('#\n# deployments.apps "web" was not valid:\n'
            "# * spec.replicas: Invalid value: -1: must be greater than or equal to 0\n#\n") in rounds[1]
    kept = lines[-2].split('"')[1]
    assert "replicas: -1" in Path(kept).read_text()
    os.unlink(kept)
    assert get(api, "deploy", "web")["spec"]["replicas"] == 1

    # this editor fixes the file when it comes back with the reasons
    fixing = editor(tmp_path, "if grep -q 'was not valid' \"$f\"; then sed -i 's/replicas: -1/replicas: 2/' \"$f\"; "
                              "else sed -i 's/^  replicas: 1$/  replicas: -1/' \"$f\"; fi", "fixing.sh")
    r = skiff(api, "edit", "deploy", "web", env={"EDITOR": fixing})
    assert r.returncode == 0, r.stderr
    assert r.stdout == "deployment.apps/web edited\n"
    assert r.stderr == 'error: deployments.apps "web" is invalid\n'
    assert get(api, "deploy", "web")["spec"]["replicas"] == 2

    # a YAML syntax error is reported in the reopened file too
    (tmp_path / "editor.log").unlink()
    broken = editor(tmp_path, "grep -q 'syntax error' \"$f\" || echo 'spec: [' >> \"$f\"", "broken.sh")
    r = skiff(api, "edit", "deploy", "web", env={"EDITOR": broken})
    assert r.returncode == 1 and r.stderr.endswith("error: Edit cancelled, no valid changes were saved.\n")
    assert "# The edited file had a syntax error: " in (tmp_path / "editor.log").read_text()
    os.unlink(r.stderr.split('stored to "')[1].split('"')[0])

    renamed = editor(tmp_path, "sed -i 's/^  name: web$/  name: other/' \"$f\"", "rename.sh")
    r = skiff(api, "edit", "deploy", "web", env={"EDITOR": renamed})
    assert r.returncode == 1
    assert r.stderr.endswith("error: At least one of apiVersion, kind and name was changed\n"), r.stderr
    os.unlink(r.stderr.split('stored to "')[1].split('"')[0])


# -- expose -------------------------------------------------------------------------------------
def test_expose(control_plane, tmp_path):
    """expose builds a Service from the object's selector and ports, and refuses what it cannot expose."""
    api = control_plane.apiservers[0]
    assert skiff(api, "create", "deployment", "web", "--image=nginx", "--port=8080").returncode == 0

    r = skiff(api, "expose", "deployment", "web", "--port=80", "--target-port=8080")
    assert (r.returncode, r.stdout) == (0, "service/web exposed\n"), r.stderr
    svc = get(api, "svc", "web")
    assert svc["metadata"]["labels"] == {"app": "web"} and svc["spec"]["selector"] == {"app": "web"}
    assert svc["spec"]["ports"] == [{"protocol": "TCP", "port": 80, "targetPort": 8080}]
    assert svc["spec"]["clusterIP"]

    r = skiff(api, "expose", "deploy/web")
    assert r.returncode == 1 and r.stderr == 'Error from server (AlreadyExists): services "web" already exists\n'

    r = skiff(api, "expose", "deploy", "web", "--name=web-np", "--type=NodePort")
    assert (r.returncode, r.stdout) == (0, "service/web-np exposed\n"), r.stderr
    port = get(api, "svc", "web-np")["spec"]["ports"][0]
    assert (port["port"], port["targetPort"]) == (8080, 8080) and 30000 <= port["nodePort"] <= 32767

    r = skiff(api, "expose", "service", "web", "--name=web-tls", "--port=443", "--target-port=https")
    assert (r.returncode, r.stdout) == (0, "service/web-tls exposed\n"), r.stderr
    tls = get(api, "svc", "web-tls")
    assert tls["spec"]["selector"] == {"app": "web"} and tls["spec"]["ports"][0]["targetPort"] == "https"

    assert skiff(api, "create", "deployment", "quiet", "--image=nginx").returncode == 0
    r = skiff(api, "expose", "deployment", "quiet")
    assert r.returncode == 1
    assert r.stderr == ("error: couldn't find port via --port flag or introspection\n"
                        "See 'skiff expose -h' for help and examples\n")
    assert skiff(api, "apply", "-f", "-", stdin=CONFIGMAP).returncode == 0
    r = skiff(api, "expose", "configmap", "settings", "--port=80")
    assert (r.returncode, r.stderr) == (1, "error: cannot expose a ConfigMap\n")

    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "solo"},
           "spec": {"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 53, "protocol": "UDP"}]}]}}
    assert skiff(api, "apply", "-f", "-", stdin=json.dumps(pod)).returncode == 0
    r = skiff(api, "expose", "pod", "solo")
    assert r.returncode == 1 and r.stderr.startswith("error: couldn't retrieve selectors via --selector flag or "
                                                     "introspection: the pod has no labels and cannot be exposed\n")
    r = skiff(api, "label", "pod", "solo", "app=solo", "role=dns")
    assert (r.returncode, r.stdout) == (0, "pod/solo labeled\n"), r.stderr
    r = skiff(api, "expose", "pod/solo")
    assert (r.returncode, r.stdout) == (0, "service/solo exposed\n"), r.stderr
    solo = get(api, "svc", "solo")["spec"]
    assert solo["selector"] == {"app": "solo", "role": "dns"}
    assert solo["ports"] == [{"protocol": "UDP", "port": 53, "targetPort": 53}]

    r = skiff(api, "expose", "deploy", "quiet", "--port=80", "--dry-run=client", "-o", "yaml")
    assert r.returncode == 0, r.stderr
    assert yaml.safe_load(r.stdout)["spec"] == {"ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
                                                "selector": {"app": "quiet"}}
    assert skiff(api, "get", "svc", "quiet").returncode == 1


# -- --record and -f URL ------------------------------------------------------------------------
def test_record_writes_the_change_cause(control_plane, tmp_path):
    """--record on apply, scale, create, label and annotate keeps kubectl's rendering of the command line."""
    api = control_plane.apiservers[0]
    server = f"--server={api.endpoint}"
    f = tmp_path / "web.yaml"
    f.write_text(DEPLOYMENT)
    r = skiff(api, "apply", "-f", str(f), "--record")
    assert r.returncode == 0, r.stderr

    def cause(*what):
        return get(api, *what)["metadata"]["annotations"][CHANGE_CAUSE]
    assert cause("deploy", "web") == f"skiff apply {server} --filename={f} --record=true"
    r = skiff(api, "apply", "-f", str(f), "--record")
    assert r.stdout == "deployment.apps/web unchanged\n"

    assert skiff(api, "scale", "--replicas=3", "deploy/web", "--record").returncode == 0
    assert cause("deploy", "web") == f"skiff scale deploy/web {server} --replicas=3 --record=true"
    assert get(api, "deploy", "web")["spec"]["replicas"] == 3

    assert skiff(api, "-n", "default", "label", "deploy", "web", "x=1", "--record=true").returncode == 0
    assert cause("deploy", "web") == f"skiff label deploy web x=1 {server} --namespace=default --record=true"
    assert skiff(api, "create", "deployment", "api", "--image=nginx", "--record").returncode == 0
    assert cause("deploy", "api") == f"skiff create deployment api {server} --image=nginx --record=true"
    assert skiff(api, "annotate", "deploy", "api", "a=b", "--record=false").returncode == 0
    assert cause("deploy", "api") == f"skiff create deployment api {server} --image=nginx --record=true"


@pytest.fixture
def http_dir(tmp_path):
    """A static HTTP server on a free loopback port serving tmp_path/www; yields its base URL."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_apply_and_create_from_url(control_plane, http_dir):
    """`apply -f URL` and `create -f URL` read the manifest over HTTP; a missing one names the URL."""
    api = control_plane.apiservers[0]
    root, base = http_dir
    (root / "web.yaml").write_text(DEPLOYMENT)
    (root / "settings.yaml").write_text(CONFIGMAP)
    r = skiff(api, "apply", "-f", f"{base}/web.yaml")
    assert (r.returncode, r.stdout) == (0, "deployment.apps/web created\n"), r.stderr
    r = skiff(api, "create", "-f", f"{base}/settings.yaml", "-f", f"{base}/web.yaml")
    assert r.returncode == 1 and r.stdout == "configmap/settings created\n"
    assert r.stderr == (f'Error from server (AlreadyExists): error when creating "{base}/web.yaml": '
                        'deployments.apps "web" already exists\n')
    r = skiff(api, "apply", "-f", f"{base}/missing.yaml")
    assert r.returncode == 1
    assert r.stderr.startswith(f'error: unable to read URL "{base}/missing.yaml", server reported 404 '), r.stderr
    assert r.stderr.endswith(", status code=404\n")
