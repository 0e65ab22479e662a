"""deploy/up.sh and deploy/down.sh as a user runs them, for the end-to-end tests.

`LocalCluster(tmp_path)` runs the scripts with a private --state-dir and SKIFFCONFIG; `stop()` runs
down.sh --purge and then kills by pid whatever the scripts recorded and left alive, so a broken
down.sh never leaves a process behind. The scripts use fixed ports (2379.., 6443, 10250..): `ports_busy()`
tells a test to skip when another cluster holds them.
"""
from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PORTS = (2379, 22379, 32379, 2380, 22380, 32380, 6443, 6444, 10250, 10257, 10259)


def ports_busy() -> bool:
    def busy(port: int) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0
    return any(busy(p) for p in PORTS)


def alive(pid: int) -> bool:
    """Running (a zombie awaiting its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class LocalCluster:
    def __init__(self, tmp: Path, env: dict | None = None):
        self.state = tmp / "state"
        self.config = tmp / "skiff-config"
        self.env = dict(env or os.environ, SKIFFCONFIG=str(self.config))
        self.pids: list[int] = []

    def up(self) -> subprocess.CompletedProcess:
        done = subprocess.run([str(ROOT / "deploy/up.sh"), "--state-dir", str(self.state)], capture_output=True,
                              text=True, timeout=120, env=self.env)
        self.pids = sorted(set(self.pids) | set(self.recorded_pids()))
        return done

    def recorded_pids(self) -> list[int]:
        return [int(p.read_text()) for p in (self.state / "run").glob("*.pid")]

    def down(self) -> subprocess.CompletedProcess:
        return subprocess.run([str(ROOT / "deploy/down.sh"), "--state-dir", str(self.state), "--purge"],
                              capture_output=True, text=True, timeout=60, env=self.env)

    def kill_leftovers(self) -> list[int]:
        """SIGKILLs every recorded process still alive; the pids it had to kill."""
        left = [pid for pid in self.pids if alive(pid)]
        for pid in left:
            os.kill(pid, 9)
        return left

    def skiff(self, *args: str, stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([str(ROOT / ".venv/bin/skiff"), *args], capture_output=True, text=True,
                              input=stdin, timeout=timeout, env=self.env, cwd=ROOT)

    def popen_skiff(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([str(ROOT / ".venv/bin/skiff"), *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.env, cwd=ROOT)
