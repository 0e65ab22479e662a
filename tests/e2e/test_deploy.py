"""A user's first minutes: deploy/up.sh, the real etcdctl against the cluster, deploy/down.sh."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENDPOINTS = "127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379"


def _port_busy(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _pids(state: Path) -> list[int]:
    return [int(p.read_text()) for p in (state / "run").glob("*.pid")]


def _alive(pid: int) -> bool:
    """Running (a zombie awaiting its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.timeout(180)
def test_up_etcdctl_down_leaves_nothing_behind(tmp_path):
    """up.sh starts a store that etcdctl can use and an apiserver that skiff can, survives a second up.sh, and down.sh stops every process."""
    if shutil.which("etcdctl") is None:
        pytest.skip("etcdctl not installed (deploy/venv.sh installs it as root)")
    if any(_port_busy(p) for p in (2379, 22379, 32379, 2380, 22380, 32380, 6443, 6444)):
        pytest.skip("the default store ports are taken on this machine")
    state = tmp_path / "state"
    env = dict(os.environ, ETCDCTL_API="3")
    pids: list[int] = []
    try:
        up = subprocess.run([str(ROOT / "deploy/up.sh"), "--state-dir", str(state)], capture_output=True,
                            text=True, timeout=120, env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "store ready" in up.stdout
        pids = _pids(state)
        assert len(pids) == 4 and all(map(_alive, pids))  # 3 store members and the apiserver

        def ctl(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run(["etcdctl", f"--endpoints={ENDPOINTS}", "--command-timeout=5s", *args],
                                  capture_output=True, text=True, timeout=30, env=env)
        assert ctl("put", "greeting", "hello").stdout == "OK\n"
        assert ctl("get", "greeting").stdout == "greeting\nhello\n"
        status = ctl("endpoint", "status")
        assert status.returncode == 0 and status.stdout.count(", true, false,") == 1, status.stdout

        def sk(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([str(ROOT / ".venv/bin/skiff"), *args], capture_output=True, text=True,
                                  timeout=60, env=env, cwd=ROOT)
        applied = sk("apply", "-f", "examples/")
        assert applied.returncode == 0 and "deployment.apps/nginx-deployment created" in applied.stdout, applied
        assert sk("scale", "deployment", "nginx-deployment", "--replicas=5").stdout == \
            "deployment.apps/nginx-deployment scaled\n"
        assert "replicas: 5" in sk("get", "deploy", "nginx-deployment", "-o", "yaml").stdout
        assert sk("delete", "deployment", "nginx-deployment").stdout == 'deployment.apps "nginx-deployment" deleted\n'
        gone = sk("get", "deployment", "nginx-deployment")
        assert gone.returncode == 1 and "NotFound" in gone.stderr

        again = subprocess.run([str(ROOT / "deploy/up.sh"), "--state-dir", str(state)], capture_output=True,
                               text=True, timeout=120, env=env)
        assert again.returncode == 0 and again.stdout.count("already running") == 4, again.stdout
        assert ctl("get", "greeting", "--print-value-only").stdout == "hello\n"
    finally:
        down = subprocess.run([str(ROOT / "deploy/down.sh"), "--state-dir", str(state), "--purge"],
                              capture_output=True, text=True, timeout=60)
        for pid in pids:  # never leave a member behind, even if down.sh is broken
            if _alive(pid):
                os.kill(pid, 9)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not any(map(_alive, pids)), "down.sh left store processes running"
    assert not (state / "store").exists()
