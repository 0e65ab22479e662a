"""A user's session, as issue 4 scripts it: deploy/up.sh, `skiff apply -f examples/`, `get` in every
format, `get -w` in one shell while another scales, describe, label, delete, deploy/down.sh. up.sh
also starts the scheduler, the controller manager and 3 hollow nodes, so the Deployments really run.

Everything goes through the real scripts and the installed `skiff` console script with no --server:
the address comes from the config up.sh writes (SKIFFCONFIG points into the test's tmp dir).
"""
from __future__ import annotations

import json
import os
import queue
import signal
import threading
import time

import pytest
import yaml

from tests.harness import wait_for
from tests.harness.deploy import ROOT, LocalCluster, ports_busy

EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def _documents() -> list[dict]:
    return [d for p in EXAMPLES for d in yaml.safe_load_all(p.read_text()) if d]


class LineReader:
    """The lines a long-running process prints, read on a thread so the test can wait with a deadline."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self._q: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream) -> None:
        for line in stream:
            self._q.put(line.rstrip("\n"))
        self._q.put(None)

    def wait_for(self, predicate, timeout: float, what: str) -> str:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no line {what} within {timeout:g}s; got {self.lines}")
            try:
                line = self._q.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"the process ended before printing a line {what}; got {self.lines}")
            self.lines.append(line)
            if predicate(line):
                return line


@pytest.mark.timeout(300)
def test_a_user_session_from_up_to_down(tmp_path):
    if ports_busy():
        pytest.skip("the default cluster ports are taken on this machine (is ./deploy/up.sh running?)")
    env = dict(os.environ)
    env.pop("SKIFF_SERVER", None)
    cluster = LocalCluster(tmp_path, env)
    sk = cluster.skiff
    watcher = None
    try:
        up = cluster.up()
        assert up.returncode == 0, up.stdout + up.stderr
        assert len(cluster.pids) == 7

        # apply the examples: one "created" line per object, then "unchanged" for all of them.
        docs = _documents()
        applied = sk("apply", "-f", "examples/")
        assert applied.returncode == 0, applied.stderr
        assert applied.stdout.count(" created\n") == len(docs), applied.stdout
        assert "deployment.apps/nginx-deployment created" in applied.stdout
        assert "service/my-nodeport-service created" in applied.stdout
        assert "ingress.networking.k8s.io/minimal-ingress created" in applied.stdout
        again = sk("apply", "-f", "examples/")
        assert again.stdout.count(" unchanged\n") == len(docs), again.stdout

        # the controllers and the hollow nodes run what was applied.
        def ready(name: str, n: int) -> bool:
            out = sk("get", "deploy", name, "-o", "jsonpath={.status.readyReplicas}").stdout
            return out == str(n)
        wait_for(lambda: ready("nginx-deployment", 3), 60, "nginx-deployment to have 3 ready replicas")

        # get, in every format.
        table = sk("get", "deployments")
        assert table.returncode == 0
        header, *rows = table.stdout.splitlines()
        assert header.split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
        assert sorted(r.split()[0] for r in rows) == ["nginx-deployment", "web-api"]
        assert next(r for r in rows if r.startswith("nginx-deployment")).split()[1:4] == ["3/3", "3", "3"]
        nodes = sk("get", "nodes").stdout.splitlines()
        assert nodes[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
        assert [r.split()[1] for r in nodes[1:]] == ["Ready"] * 3, nodes
        pods = sk("get", "pods", "-l", "app=nginx", "-o", "wide").stdout.splitlines()
        assert pods[0].split()[:7] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
        assert len(pods) == 4 and all(r.split()[1:3] == ["1/1", "Running"] and "hollow-" in r for r in pods[1:]), pods
        wide = sk("get", "deploy", "-o", "wide").stdout.splitlines()
        assert wide[0].split()[-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
        assert any("nginx:1.14.2" in r and "app=nginx" in r for r in wide[1:]), wide
        svc = sk("get", "svc").stdout
        assert svc.splitlines()[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
        assert "NodePort" in svc and "ExternalName" in svc and "my.database.example.com" in svc
        as_yaml = yaml.safe_load(sk("get", "deploy", "nginx-deployment", "-o", "yaml").stdout)
        assert as_yaml["spec"]["replicas"] == 3 and as_yaml["spec"]["strategy"]["type"] == "RollingUpdate"
        as_json = json.loads(sk("get", "cm", "-o", "json").stdout)
        assert as_json["kind"] == "List" and "game-demo" in [i["metadata"]["name"] for i in as_json["items"]]
        names = set(sk("get", "svc", "-o", "name").stdout.split())
        assert {"service/my-service", "service/my-nodeport-service", "service/my-lb-service",
                "service/my-external-service"} <= names, names
        image = sk("get", "deploy", "nginx-deployment", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
        assert image.stdout == "nginx:1.14.2"
        labelled = sk("get", "deploy", "nginx-deployment", "--show-labels").stdout.splitlines()
        assert labelled[0].split()[-1] == "LABELS" and labelled[1].split()[-1] == "app=nginx", labelled
        everywhere = sk("get", "ns", "-A")
        assert {"default", "kube-system"} <= {r.split()[0] for r in everywhere.stdout.splitlines()[1:]}
        missing = sk("get", "deploy", "nope")
        assert missing.returncode == 1
        assert missing.stderr.strip() == 'Error from server (NotFound): deployments.apps "nope" not found'

        # get -w in one shell while another scales: the watch prints the new size.
        watcher = cluster.popen_skiff("get", "deploy", "nginx-deployment", "-w")
        out = LineReader(watcher.stdout)
        out.wait_for(lambda line: line.startswith("NAME"), 30, "with the table header")
        out.wait_for(lambda line: line.split()[:2] == ["nginx-deployment", "3/3"], 30, "with the current row")
        scaled = sk("scale", "deployment", "nginx-deployment", "--replicas=7")
        assert scaled.stdout == "deployment.apps/nginx-deployment scaled\n", scaled.stderr
        out.wait_for(lambda line: line.split()[:2] == ["nginx-deployment", "7/7"], 60,
                     "with the new size, 7/7, once the new pods are ready")
        watcher.send_signal(signal.SIGINT)
        assert watcher.wait(timeout=15) == 0
        watcher = None

        # describe, label, annotate.
        described = sk("describe", "deployment", "nginx-deployment")
        assert described.returncode == 0
        assert "Replicas:" in described.stdout and "7 desired" in described.stdout
        assert sk("label", "deploy", "nginx-deployment", "tier=web").stdout == \
            "deployment.apps/nginx-deployment labeled\n"
        assert sk("get", "deploy", "-l", "tier=web", "-o", "name").stdout == "deployment.apps/nginx-deployment\n"

        # delete what was applied: one "deleted" line per object, then nothing of it is left.
        deleted = sk("delete", "-f", "examples/")
        assert deleted.returncode == 0, deleted.stderr
        assert deleted.stdout.count(" deleted\n") == len(docs), deleted.stdout
        assert sk("get", "deploy").stderr.strip() == "No resources found in default namespace."
        wait_for(lambda: sk("get", "pods", "-l", "app=nginx", "-o", "name").stdout == "", 60,
                 "the garbage collector to delete the deployment's pods")
    finally:
        if watcher is not None:
            watcher.kill()
            watcher.wait()
        down = cluster.down()
        left = cluster.kill_leftovers()
    assert down.returncode == 0, down.stdout + down.stderr
    assert not left, f"down.sh left processes running: {left}"
