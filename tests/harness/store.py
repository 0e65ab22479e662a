"""Three-member stores on loopback: Skiff's (`python -m store`) and the real etcd, same interface.

    with StoreCluster(tmp_path) as c:      # or EtcdCluster(tmp_path)
        c.endpoints                        # ["127.0.0.1:P1", ...]
        c.leader()                         # the Member that leads now
        c.kill9(m); c.restart(m)           # kill -9 a member, start it again on its data dir
"""
from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from skiffpb.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc
from tests.harness.proc import Proc, free_port, wait_for


@dataclass
class Member:
    name: str
    client_port: int
    peer_port: int
    data_dir: Path
    log_path: Path
    proc: Proc | None = None
    metrics_port: int | None = None
    _channel: grpc.Channel | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    @property
    def client_url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"

    def channel(self) -> grpc.Channel:
        if self._channel is None:
            self._channel = grpc.insecure_channel(self.endpoint)
        return self._channel

    def close_channel(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    def status(self, timeout: float = 1.0) -> rpc_pb2.StatusResponse:
        return rpc_pb2_grpc.MaintenanceStub(self.channel()).Status(rpc_pb2.StatusRequest(), timeout=timeout)

    def kv(self) -> rpc_pb2_grpc.KVStub:
        return rpc_pb2_grpc.KVStub(self.channel())


class _Cluster:
    """Shared behaviour; subclasses say how to start one member."""

    kind = "cluster"

    def __init__(self, base_dir: Path, size: int = 3, token: str | None = None):
        self.base_dir = Path(base_dir)
        self.token = token or f"t-{secrets.token_hex(4)}"
        self.members = [
            Member(name=f"s{i + 1}", client_port=free_port(), peer_port=free_port(),
                   data_dir=self.base_dir / f"s{i + 1}.data", log_path=self.base_dir / f"s{i + 1}.log")
            for i in range(size)
        ]

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    @property
    def initial_cluster(self) -> str:
        return ",".join(f"{m.name}={m.peer_url}" for m in self.members)

    @property
    def endpoints(self) -> list[str]:
        return [m.endpoint for m in self.members]

    def argv(self, m: Member) -> Proc:  # pragma: no cover - abstract
        raise NotImplementedError

    def start(self, wait: bool = True) -> None:
        for m in self.members:
            self.start_member(m)
        if wait:
            self.wait_ready()

    def start_member(self, m: Member) -> None:
        m.proc = self.make_proc(m)
        m.proc.start()

    def stop(self) -> None:
        for m in self.members:
            m.close_channel()
            if m.proc is not None:
                m.proc.stop()

    def kill9(self, m: Member) -> None:
        m.close_channel()
        m.proc.kill9()

    def restart(self, m: Member, wait: bool = True) -> None:
        if m.proc is not None and m.proc.alive:
            m.proc.stop()
        m.close_channel()
        self.start_member(m)
        if wait:
            self.wait_member_ready(m)

    def alive(self) -> list[Member]:
        return [m for m in self.members if m.proc is not None and m.proc.alive]

    # -- health ----------------------------------------------------------------------------
    def member_ready(self, m: Member) -> bool:
        """Ready = it knows a leader and serves a linearizable read."""
        st = m.status()
        if st.leader == 0:
            return False
        m.kv().Range(rpc_pb2.RangeRequest(key=b"health"), timeout=1.0)
        return True

    def wait_member_ready(self, m: Member, timeout: float = 20.0) -> None:
        def ready():
            if not m.proc.alive:
                raise AssertionError(f"{m.name} exited:\n{m.proc.log_tail()}")
            return self.member_ready(m)
        wait_for(ready, timeout, f"{self.kind} member {m.name} to be ready")

    def wait_ready(self, timeout: float = 30.0) -> None:
        for m in self.members:
            self.wait_member_ready(m, timeout)

    def leader(self, timeout: float = 10.0) -> Member:
        """The member every live member agrees is the leader."""
        def find():
            ids = set()
            for m in self.alive():
                st = m.status()
                ids.add(st.leader)
            if len(ids) != 1 or 0 in ids:
                return None
            (lid,) = ids
            for m in self.alive():
                if m.status().header.member_id == lid:
                    return m
            return None
        return wait_for(find, timeout, f"{self.kind} members to agree on a live leader")

    def followers(self) -> list[Member]:
        lead = self.leader()
        return [m for m in self.alive() if m is not lead]

    def logs(self) -> str:
        return "\n".join(f"===== {m.name} ({m.log_path}) =====\n{m.proc.log_tail(200) if m.proc else ''}"
                         for m in self.members)


class StoreCluster(_Cluster):
    """Skiff's store: `python -m store` × size."""

    kind = "skiff store"

    def __init__(self, base_dir: Path, size: int = 3, token: str | None = None,
                 election_timeout_ms: int | None = None, heartbeat_ms: int | None = None,
                 extra_args: list[str] | None = None, metrics: bool = False):
        super().__init__(base_dir, size, token)
        if metrics:
            for m in self.members:
                m.metrics_port = free_port()
        self.password = secrets.token_hex(16)
        self.election_timeout_ms = election_timeout_ms
        self.heartbeat_ms = heartbeat_ms
        self.extra_args = extra_args or []

    def make_proc(self, m: Member) -> Proc:
        m.data_dir.mkdir(parents=True, exist_ok=True)
        pw = m.data_dir / "peer-password"
        if not pw.exists():
            pw.write_text(self.password + "\n")
        args = ["--name", m.name, "--listen-client-urls", m.client_url,
                "--advertise-client-urls", m.client_url,
                "--listen-peer-urls", m.peer_url, "--initial-cluster", self.initial_cluster,
                "--initial-cluster-token", self.token, "--data-dir", str(m.data_dir)]
        if self.election_timeout_ms:
            args += ["--election-timeout", str(self.election_timeout_ms)]
        if self.heartbeat_ms:
            args += ["--heartbeat-interval", str(self.heartbeat_ms)]
        if m.metrics_port:
            args += ["--listen-metrics-urls", f"http://127.0.0.1:{m.metrics_port}"]
        return Proc.python_module(m.name, "store", args + self.extra_args, m.log_path)


class EtcdCluster(_Cluster):
    """The real etcd (Debian `etcd-server`), for side-by-side comparison."""

    kind = "etcd"

    @staticmethod
    def available() -> bool:
        return shutil.which("etcd") is not None

    def make_proc(self, m: Member) -> Proc:
        args = ["etcd", "--name", m.name, "--data-dir", str(m.data_dir),
                "--listen-client-urls", m.client_url, "--advertise-client-urls", m.client_url,
                "--listen-peer-urls", m.peer_url, "--initial-advertise-peer-urls", m.peer_url,
                "--initial-cluster", self.initial_cluster, "--initial-cluster-token", self.token,
                "--initial-cluster-state", "new", "--log-level", "warn"]
        return Proc(m.name, args, m.log_path)
