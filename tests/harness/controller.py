"""A controller manager (`python -m controller`) as a real process, in front of given apiservers.

    cm = ControllerManager(base_dir, ["127.0.0.1:6443"], controllers="garbagecollector,namespace",
                           extra_args=["--node-monitor-grace-period", "3s"]).start()
    cm.metrics_port; cm.stop()

Leader election is off (one manager); `start` returns once the manager logged that its caches are
synced and its controllers run, so a test's first write is seen by every controller.
"""
from __future__ import annotations

import re
from pathlib import Path

from tests.harness.proc import Proc, wait_for

_METRICS = re.compile(rb"controller-manager metrics on ([\d.]+):(\d+)")
_RUNNING = b"caches synced; running controllers"


class ControllerManager:
    def __init__(self, base_dir: Path, apiservers: list[str], controllers: str = "*",
                 name: str = "controller-manager", extra_args: list[str] | None = None):
        self.name = name
        self.base_dir = Path(base_dir)
        self.apiservers = apiservers
        self.controllers = controllers
        self.extra_args = extra_args or []
        self.log_path = self.base_dir / f"{name}.log"
        self.proc: Proc | None = None
        self.metrics_port = 0

    def start(self, timeout: float = 30.0) -> "ControllerManager":
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        args = ["--apiserver", ",".join(self.apiservers), "--controllers", self.controllers,
                "--leader-elect=false", "--identity", self.name, "--metrics-listen", "127.0.0.1:0",
                *self.extra_args]
        self.proc = Proc.python_module(self.name, "controller", args, self.log_path).start()

        def running():
            if not self.proc.alive:
                raise AssertionError(f"{self.name} exited:\n{self.proc.log_tail()}")
            text = self.log_path.read_bytes()[offset:]
            m = _METRICS.search(text)
            if m:
                self.metrics_port = int(m.group(2))
            return m is not None and _RUNNING in text
        wait_for(running, timeout, f"{self.name} to run its controllers")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()

    def kill9(self) -> None:
        if self.proc is not None:
            self.proc.kill9()

    def logs(self, lines: int = 200) -> str:
        return f"===== {self.name} ({self.log_path}) =====\n{self.proc.log_tail(lines) if self.proc else ''}"
