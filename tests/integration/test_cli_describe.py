"""`skiff` describe, version, cluster-info and the client config against real apiservers."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.harness.proc import free_port

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(180)

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports: [{containerPort: 80}]
        env: [{name: MODE, value: prod}]
"""


def skiff(*args: str, config: Path, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess:
    """`skiff` with its own client config file (never the developer's)."""
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), SKIFFCONFIG=str(config), **env)
    full_env.pop("SKIFF_SERVER", None)
    return subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, input=stdin,
                          timeout=60, cwd=ROOT, env=full_env)


def event(name: str, uid: str, reason: str, *, count: int = 1) -> str:
    return f"""\
apiVersion: v1
kind: Event
metadata: {{name: web.{reason.lower()}, namespace: default}}
involvedObject: {{apiVersion: apps/v1, kind: Deployment, name: {name}, namespace: default, uid: "{uid}"}}
reason: {reason}
message: "{reason} happened to {name}"
type: Normal
source: {{component: deployment-controller}}
firstTimestamp: "2021-03-01T10:00:00Z"
lastTimestamp: "2021-03-01T10:07:00Z"
count: {count}
"""


def test_describe_a_deployment_shows_kubectls_layout_and_its_events(control_plane, tmp_path):
    """describe of a deployment prints kubectl's sections and the events about it (by uid, or without one), not an earlier namesake's."""
    api = control_plane.apiservers[0].endpoint
    config = tmp_path / "config"
    assert skiff("--server", api, "apply", "-f", "-", config=config, stdin=DEPLOYMENT).returncode == 0
    uid = json.loads(skiff("--server", api, "get", "deploy", "web", "-o", "json", config=config).stdout)[
        "metadata"]["uid"]
    events = "---\n".join([event("web", uid, "ScalingReplicaSet", count=4), event("web", "", "NoUid"),
                           event("web", "uid-of-an-earlier-web", "Stale")])
    created = skiff("--server", api, "apply", "-f", "-", config=config, stdin=events)
    assert created.returncode == 0, created.stderr

    out = skiff("--server", api, "describe", "deployment", "web", config=config)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for line in ("Name:                   web\n", "Namespace:              default\n",
                 "Selector:               app=web\n",
                 "Replicas:               2 desired | 0 updated | 0 total | 0 available | 0 unavailable\n",
                 "StrategyType:           RollingUpdate\n", "MinReadySeconds:        0\n",
                 "RollingUpdateStrategy:  25% max unavailable, 25% max surge\n",
                 # Environment has entries, so it ends the block Image..Host Port align in (Go's tabwriter)
                 "Pod Template:\n  Labels:  app=web\n  Containers:\n   nginx:\n    Image:      nginx:1.25\n"
                 "    Port:       80/TCP\n    Host Port:  0/TCP\n    Environment:\n      MODE:      prod\n"
                 "    Mounts:      <none>\n  Volumes:       <none>\n",
                 "OldReplicaSets:  <none>\nNewReplicaSet:   <none>\n", "Events:\n  Type    Reason "):
        assert line in text, text
    assert re.search(r"\n  Normal  ScalingReplicaSet +\S+ \(x4 over \S+\) +deployment-controller +"
                     r"ScalingReplicaSet happened to web\n", text), text
    assert "NoUid happened to web" in text
    assert "Stale" not in text

    # The other ways of naming it describe the same thing.
    same = [skiff("--server", api, "describe", *args, config=config).stdout
            for args in (["deploy/web"], ["deployments", "-l", "app=web"], ["deploy", "we"])]
    assert all(s.startswith("Name:                   web\n") for s in same), same

    missing = skiff("--server", api, "describe", "deploy", "nope", config=config)
    assert missing.returncode == 1 and 'Error from server (NotFound): deployments.apps "nope" not found' in missing.stderr
    empty = skiff("--server", api, "describe", "pods", config=config)
    assert (empty.returncode, empty.stderr) == (0, "No resources found in default namespace.\n")
    ns = skiff("--server", api, "describe", "ns", "default", config=config)
    assert ns.stdout == "Name:         default\nLabels:       <none>\nAnnotations:  <none>\nStatus:       Active\n"


def test_config_contexts_several_apiservers_version_and_cluster_info(control_plane, tmp_path):
    """With no --server, skiff uses the current context: its namespace, and the first of its apiservers that answers; version and cluster-info ask the server."""
    api1, api2 = control_plane.endpoints
    dead = f"127.0.0.1:{free_port()}"
    config = tmp_path / "config"
    for args in (["set-cluster", "ha", f"--server={dead},{api2},{api1}"], ["set-cluster", "down", f"--server={dead}"],
                 ["set-context", "ha", "--cluster=ha", "--namespace=kube-system"], ["set-context", "down",
                 "--cluster=down"], ["use-context", "ha"]):
        assert skiff("config", *args, config=config).returncode == 0
    assert yaml.safe_load(config.read_text())["clusters"][0]["cluster"] == {"server": dead, "servers": [api2, api1]}

    # The dead address is skipped; the namespace is the context's.
    pods = skiff("get", "pods", config=config)
    assert (pods.returncode, pods.stderr) == (0, "No resources found in kube-system namespace.\n")
    info = skiff("cluster-info", config=config)
    assert info.returncode == 0, info.stderr
    assert info.stdout.splitlines()[0] == f"Skiff control plane is running at {api2}"
    assert info.stdout.splitlines()[1].startswith("Skiff store is running at ")
    assert info.stdout.splitlines()[1].endswith(",".join(control_plane.store.endpoints)), info.stdout

    version = skiff("version", config=config)
    assert version.returncode == 0, version.stderr
    client, server = version.stdout.splitlines()
    assert client.startswith('Client Version: version.Info{Major:"0", Minor:"1", GitVersion:"v0.1.0"')
    assert server.startswith('Server Version: version.Info{Major:"0", Minor:"1", GitVersion:"v0.1.0"')
    doc = json.loads(skiff("version", "-o", "json", config=config).stdout)
    assert doc["serverVersion"]["gitVersion"] == doc["clientVersion"]["gitVersion"] == "v0.1.0"

    # Every address of the context dead: one error naming it, exit 1.
    down = skiff("--context", "down", "get", "pods", config=config)
    assert down.returncode == 1
    assert down.stderr == (f"The connection to the server {dead} was refused - did you specify the right host or "
                           "port? (start a cluster with ./deploy/up.sh)\n")
    both = skiff("--server", f"{dead},127.0.0.1:{free_port()}", "version", config=config)
    assert both.returncode == 1 and both.stdout.startswith("Client Version: ")
    assert both.stderr.startswith(f"The connection to the servers {dead}, 127.0.0.1:") and "deploy/up.sh" in both.stderr
