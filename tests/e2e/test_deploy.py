"""A user's first minutes: deploy/up.sh, the real etcdctl against the cluster, deploy/down.sh."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from tests.harness.deploy import LocalCluster, alive, ports_busy

ENDPOINTS = "127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379"


@pytest.mark.timeout(180)
def test_up_etcdctl_down_leaves_nothing_behind(tmp_path):
    """up.sh starts a store that etcdctl can use and an apiserver that skiff reaches through the config it writes, survives a second up.sh, and down.sh stops every process and leaves the config."""
    if shutil.which("etcdctl") is None:
        pytest.skip("etcdctl not installed (deploy/venv.sh installs it as root)")
    if ports_busy():
        pytest.skip("the default store ports are taken on this machine")
    env = dict(os.environ, ETCDCTL_API="3")
    env.pop("SKIFF_SERVER", None)
    cluster = LocalCluster(tmp_path, env)
    state, config = cluster.state, cluster.config
    # A config with a context of the user's own: up.sh must add its own and keep this one.
    config.write_text("apiVersion: v1\nkind: Config\nclusters:\n- name: prod\n  cluster: {server: 10.0.0.1:6443}\n"
                      "contexts:\n- name: prod\n  context: {cluster: prod, namespace: shop}\ncurrent-context: prod\n")
    env = cluster.env
    try:
        up = cluster.up()
        assert up.returncode == 0, up.stdout + up.stderr
        assert "store ready" in up.stdout
        pids = cluster.pids
        # 3 store members, the apiserver, the scheduler, the controller manager and the hollow kubelet
        assert len(pids) == 7 and all(map(alive, pids))
        assert f'wrote context "skiff-local" to {config}' in up.stdout, up.stdout
        written = yaml.safe_load(config.read_text())
        assert written["current-context"] == "skiff-local"
        assert {c["name"]: c["context"] for c in written["contexts"]} == {
            "prod": {"cluster": "prod", "namespace": "shop"}, "skiff-local": {"cluster": "skiff-local"}}
        assert {c["name"]: c["cluster"] for c in written["clusters"]} == {
            "prod": {"server": "10.0.0.1:6443"}, "skiff-local": {"server": "127.0.0.1:6443"}}

        def ctl(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run(["etcdctl", f"--endpoints={ENDPOINTS}", "--command-timeout=5s", *args],
                                  capture_output=True, text=True, timeout=30, env=env)
        assert ctl("put", "greeting", "hello").stdout == "OK\n"
        assert ctl("get", "greeting").stdout == "greeting\nhello\n"
        status = ctl("endpoint", "status")
        assert status.returncode == 0 and status.stdout.count(", true, false,") == 1, status.stdout

        sk = cluster.skiff
        namespaces = sk("get", "ns")   # no --server: the config's current context
        assert namespaces.returncode == 0 and "kube-system" in namespaces.stdout, namespaces
        assert sk("config", "current-context").stdout == "skiff-local\n"
        applied = sk("apply", "-f", "examples/")
        assert applied.returncode == 0 and "deployment.apps/nginx-deployment created" in applied.stdout, applied
        assert sk("scale", "deployment", "nginx-deployment", "--replicas=5").stdout == \
            "deployment.apps/nginx-deployment scaled\n"
        assert "replicas: 5" in sk("get", "deploy", "nginx-deployment", "-o", "yaml").stdout
        assert sk("delete", "deployment", "nginx-deployment").stdout == 'deployment.apps "nginx-deployment" deleted\n'
        gone = sk("get", "deployment", "nginx-deployment")
        assert gone.returncode == 1 and "NotFound" in gone.stderr

        again = cluster.up()
        assert again.returncode == 0 and again.stdout.count("already running") == 7, again.stdout
        assert ctl("get", "greeting", "--print-value-only").stdout == "hello\n"
    finally:
        down = cluster.down()
        left = cluster.kill_leftovers()  # never leave a member behind, even if down.sh is broken
    assert down.returncode == 0, down.stdout + down.stderr
    assert yaml.safe_load(config.read_text())["current-context"] == "skiff-local"  # down.sh leaves the config
    assert not left, f"down.sh left processes running: {left}"
    assert not (state / "store").exists()
