"""API servers on free loopback ports, in front of a StoreCluster (and, when asked, a controller manager).

    with ControlPlane(tmp_path, apiservers=2) as cp:
        cp.apiservers[0].endpoint     # "127.0.0.1:PORT" for gRPC (client/ or `skiff --server`)
        cp.apiservers[0].kill9(); cp.apiservers[0].restart()
    with ControlPlane(tmp_path, controllers="garbagecollector,namespace") as cp:
        cp.controller_manager         # `python -m controller` with those controllers ("*": all)
"""
from __future__ import annotations

import re
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.harness.controller import ControllerManager
from tests.harness.proc import Proc, wait_for
from tests.harness.store import StoreCluster

_LISTEN = re.compile(rb"apiserver listening on ([\d.]+):(\d+)")
_METRICS = re.compile(rb"apiserver metrics on ([\d.]+):(\d+)")


class ApiServer:
    def __init__(self, base_dir: Path, etcd_servers: list[str], name: str = "api1",
                 extra_args: list[str] | None = None):
        self.name = name
        self.base_dir = Path(base_dir)
        self.etcd_servers = etcd_servers
        self.extra_args = extra_args or []
        self.log_path = self.base_dir / f"{name}.log"
        self.proc: Proc | None = None
        self.port = 0            # kept across restarts, so clients can reconnect to the same address
        self.metrics_port = 0

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "ApiServer":
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        args = ["--etcd-servers", ",".join(self.etcd_servers), "--listen", f"127.0.0.1:{self.port}",
                "--metrics-listen", f"127.0.0.1:{self.metrics_port}", *self.extra_args]
        self.proc = Proc.python_module(self.name, "apiserver", args, self.log_path).start()

        def listening():
            if not self.proc.alive:
                raise AssertionError(f"{self.name} exited:\n{self.proc.log_tail()}")
            text = self.log_path.read_bytes()[offset:]
            m, mm = _LISTEN.search(text), _METRICS.search(text)
            if not (m and mm):
                return False
            self.port, self.metrics_port = int(m.group(2)), int(mm.group(2))
            return True
        wait_for(listening, timeout, f"{self.name} to listen")
        wait_for(self.serving, timeout, f"{self.name} to report SERVING")
        return self

    def serving(self) -> bool:
        with grpc.insecure_channel(self.endpoint) as ch:
            resp = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=1)
            return resp.status == health_pb2.HealthCheckResponse.SERVING

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()

    def kill9(self) -> None:
        if self.proc is not None:
            self.proc.kill9()

    def restart(self) -> None:
        self.stop()
        self.start()


class ControlPlane:
    """A 3-member store and `apiservers` API servers; with `controllers` (a `--controllers` value), a
    controller manager running those controllers too (`controller_args`: more of its flags)."""

    kind = "control plane"

    def __init__(self, base_dir: Path, apiservers: int = 2, apiserver_args: list[str] | None = None,
                 controllers: str | None = None, controller_args: list[str] | None = None):
        self.base_dir = Path(base_dir)
        self.store = StoreCluster(self.base_dir / "store")
        self.apiservers = [ApiServer(self.base_dir, self.store.endpoints, f"api{i + 1}", apiserver_args)
                           for i in range(apiservers)]
        self.controller_manager: ControllerManager | None = None
        if controllers:
            # The apiservers' ports are known only once they run: the endpoints are filled in at start.
            self.controller_manager = ControllerManager(self.base_dir, [], controllers, extra_args=controller_args)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self) -> None:
        self.store.start()
        for a in self.apiservers:
            a.start()
        if self.controller_manager is not None:
            self.controller_manager.apiservers = self.endpoints
            self.controller_manager.start()

    def stop(self) -> None:
        if self.controller_manager is not None:
            self.controller_manager.stop()
        for a in self.apiservers:
            a.stop()
        self.store.stop()

    @property
    def endpoints(self) -> list[str]:
        return [a.endpoint for a in self.apiservers]

    def logs(self) -> str:
        parts = [self.store.logs()]
        for a in self.apiservers:
            parts.append(f"===== {a.name} ({a.log_path}) =====\n{a.proc.log_tail(200) if a.proc else ''}")
        if self.controller_manager is not None:
            parts.append(self.controller_manager.logs())
        return "\n".join(parts)
