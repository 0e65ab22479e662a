"""`python -m store`: flags (etcd's names) -> a frozen Config -> a running member."""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import os
import re
import signal
import sys
import time
from dataclasses import dataclass
from urllib.parse import urlparse

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from client.process import run_process
from skiffpb.etcd.etcdserverpb import rpc_pb2_grpc
from store.metrics import MetricsInterceptor, serve_http
from store.raft import ProposalFailed, RaftConfig, RaftNode
from store.server import (MAX_REQUEST_BYTES, ClusterService, KVService, LeaseService, MaintenanceService,
                          Member, RequireLeader, WatchService, min_lease_ttl)
from store.watch import WatchHub

log = logging.getLogger("store")

GRPC_MAX_RECV = MAX_REQUEST_BYTES + 512 * 1024  # etcd: max-request-bytes + 512 KiB


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class Config:
    name: str
    data_dir: str
    client_host: str
    client_port: int
    advertise_client_urls: tuple[str, ...]
    peer_host: str
    peer_port: int
    initial_cluster: tuple[tuple[str, str], ...]   # ((name, peer_url), ...)
    token: str
    election_timeout_ms: int
    heartbeat_ms: int
    password: str | None
    snapshot_count: int
    progress_notify_interval: float
    request_timeout: float
    metrics: tuple[str, int] | None = None


def parse_url(flag: str, url: str) -> tuple[str, int]:
    u = urlparse(url if "://" in url else "http://" + url)
    if u.scheme not in ("http", "https") or not u.hostname or u.port is None:
        raise ConfigError(f"{flag}: {url!r} is not a URL like http://127.0.0.1:2379")
    if u.scheme == "https":
        raise ConfigError(f"{flag}: {url!r}: TLS is not supported, use http://")
    return u.hostname, u.port


def parse_duration(flag: str, text: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text.strip())
    if not m:
        raise ConfigError(f"{flag}: {text!r} is not a duration like 10m, 30s or 500ms")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def id_of(*parts: str) -> int:
    """A stable non-zero uint64 id, as etcd derives member and cluster ids from their URLs."""
    h = int.from_bytes(hashlib.sha256("\0".join(parts).encode()).digest()[:8], "big")
    return h or 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m store",
        description="A member of Skiff's Raft-replicated, etcd v3-compatible key-value store.")
    p.add_argument("--name", default="default", help="human-readable name of this member")
    p.add_argument("--data-dir", help="directory for the Raft journal and snapshots (default: NAME.skiff)")
    p.add_argument("--listen-client-urls", default="http://127.0.0.1:2379",
                   help="URL to serve clients on (port 0: any free port, printed at start)")
    p.add_argument("--advertise-client-urls", help="client URLs published to the cluster (default: the listen URL)")
    p.add_argument("--listen-peer-urls", default="http://127.0.0.1:2380",
                   help="URL for Raft traffic; binds only this address")
    p.add_argument("--initial-advertise-peer-urls", help="accepted for etcd compatibility; must equal the "
                   "member's URL in --initial-cluster")
    p.add_argument("--initial-cluster", help="NAME=PEER_URL,... for every member (default: this one alone)")
    p.add_argument("--initial-cluster-token", default="skiff-cluster", help="distinguishes clusters; part of the cluster id")
    p.add_argument("--initial-cluster-state", default="new", choices=["new", "existing"],
                   help="accepted for etcd compatibility; membership is static")
    p.add_argument("--election-timeout", type=int, default=1000, metavar="MS", help="Raft election timeout in ms")
    p.add_argument("--heartbeat-interval", type=int, default=100, metavar="MS", help="Raft heartbeat interval in ms")
    p.add_argument("--peer-password", help="shared secret that authenticates and encrypts peer traffic")
    p.add_argument("--peer-password-file", help="file holding the shared secret (default: DATA_DIR/peer-password)")
    p.add_argument("--snapshot-count", type=int, default=10000,
                   help="Raft entries between snapshots (an entry carries a batch of requests)")
    p.add_argument("--experimental-watch-progress-notify-interval", default="10m",
                   help="idle time after which watchers that asked for progress notifications get one")
    p.add_argument("--request-timeout", default="5s", help="how long a request may wait for Raft")
    p.add_argument("--listen-metrics-urls", help="URL to serve /metrics (Prometheus) and /health on "
                   "(port 0: any free port, printed at start)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warn", "error"])
    return p


def config_from_args(argv: list[str]) -> tuple[Config, str]:
    a = build_parser().parse_args(argv)
    data_dir = a.data_dir or f"{a.name}.skiff"
    client_host, client_port = parse_url("--listen-client-urls", a.listen_client_urls.split(",")[0])
    peer_host, peer_port = parse_url("--listen-peer-urls", a.listen_peer_urls.split(",")[0])
    if peer_port == 0:
        raise ConfigError("--listen-peer-urls: port 0 is not allowed: peers must know each other's ports")
    initial = a.initial_cluster or f"{a.name}=http://{peer_host}:{peer_port}"
    members = []
    for item in initial.split(","):
        if "=" not in item:
            raise ConfigError(f"--initial-cluster: {item!r} is not NAME=URL")
        n, url = item.split("=", 1)
        parse_url("--initial-cluster", url)
        members.append((n.strip(), url.strip().rstrip("/")))
    names = [n for n, _ in members]
    if len(set(names)) != len(names):
        raise ConfigError(f"--initial-cluster: duplicate member names in {initial!r}")
    if a.name not in names:
        raise ConfigError(f"--name: {a.name!r} is not one of the members of --initial-cluster ({', '.join(names)})")
    mine = dict(members)[a.name]
    if parse_url("--initial-cluster", mine) != (peer_host, peer_port):
        raise ConfigError(f"--initial-cluster: member {a.name} has URL {mine}, but --listen-peer-urls is "
                          f"{a.listen_peer_urls}")
    if a.initial_advertise_peer_urls and parse_url("--initial-advertise-peer-urls",
                                                   a.initial_advertise_peer_urls.split(",")[0]) != (peer_host, peer_port):
        raise ConfigError("--initial-advertise-peer-urls: must equal --listen-peer-urls "
                          "(peers dial the address this member binds)")
    if a.heartbeat_interval <= 0:
        raise ConfigError("--heartbeat-interval: must be a positive number of milliseconds")
    if a.election_timeout < 5 * a.heartbeat_interval:
        raise ConfigError(f"--election-timeout: {a.election_timeout} ms must be at least 5 times "
                          f"--heartbeat-interval ({a.heartbeat_interval} ms)")
    if a.election_timeout > 50000:
        raise ConfigError("--election-timeout: must be at most 50000 ms")
    if a.snapshot_count < 100:
        raise ConfigError("--snapshot-count: must be at least 100")
    password = a.peer_password
    pw_file = a.peer_password_file or os.path.join(data_dir, "peer-password")
    if password is None and os.path.exists(pw_file):
        with open(pw_file) as f:
            password = f.read().strip() or None
    elif password is None and a.peer_password_file:
        raise ConfigError(f"--peer-password-file: {pw_file} does not exist")
    advertise = tuple((a.advertise_client_urls or "").split(",")) if a.advertise_client_urls else ()
    cfg = Config(
        name=a.name, data_dir=data_dir, client_host=client_host, client_port=client_port,
        advertise_client_urls=advertise, peer_host=peer_host, peer_port=peer_port,
        initial_cluster=tuple(members), token=a.initial_cluster_token,
        election_timeout_ms=a.election_timeout, heartbeat_ms=a.heartbeat_interval, password=password,
        snapshot_count=a.snapshot_count,
        progress_notify_interval=parse_duration("--experimental-watch-progress-notify-interval",
                                                a.experimental_watch_progress_notify_interval),
        request_timeout=parse_duration("--request-timeout", a.request_timeout),
        metrics=parse_url("--listen-metrics-urls", a.listen_metrics_urls) if a.listen_metrics_urls else None)
    return cfg, a.log_level


def _addr(url: str) -> str:
    h, p = parse_url("--initial-cluster", url)
    return f"{h}:{p}"


async def run(cfg: Config) -> None:
    loop = asyncio.get_running_loop()
    os.makedirs(cfg.data_dir, exist_ok=True)
    if cfg.password is None:
        log.warning("peer traffic is NOT authenticated (no --peer-password, no %s): pysyncobj unpickles "
                    "what peers send, so the peer port must never face an untrusted network",
                    os.path.join(cfg.data_dir, "peer-password"))
    cluster_id = id_of(cfg.token, *sorted(u for _, u in cfg.initial_cluster))
    members = [{"id": id_of(cfg.token, n, u), "name": n, "peer_url": u, "addr": _addr(u)}
               for n, u in cfg.initial_cluster]
    me = next(m for m in members if m["name"] == cfg.name)
    self_addr = f"{cfg.peer_host}:{cfg.peer_port}"
    member: Member | None = None

    def on_events(changed):
        if member is not None and member.hub is not None:
            member.hub.notify(changed)

    def on_reset():
        if member is not None and member.hub is not None:
            member.hub.reset()

    node = RaftNode(RaftConfig(self_addr=self_addr,
                               partner_addrs=tuple(m["addr"] for m in members if m is not me),
                               data_dir=cfg.data_dir, election_timeout_ms=cfg.election_timeout_ms,
                               heartbeat_ms=cfg.heartbeat_ms, password=cfg.password,
                               snapshot_entries=cfg.snapshot_count),
                    loop, on_events, on_reset)
    member = Member(node, cluster_id=cluster_id, member_id=me["id"], members=members,
                    request_timeout=cfg.request_timeout, min_lease_ttl=min_lease_ttl(cfg.election_timeout_ms),
                    data_dir=cfg.data_dir)
    member.hub = WatchHub(node, member.header, cfg.progress_notify_interval)
    node.start()

    server = grpc.aio.server(interceptors=[MetricsInterceptor(), RequireLeader(node)], options=[
        ("grpc.max_receive_message_length", GRPC_MAX_RECV),
        ("grpc.max_send_message_length", 2**31 - 1),
        ("grpc.http2.min_recv_ping_interval_without_data_ms", 5000),
        ("grpc.http2.max_ping_strikes", 0),
        ("grpc.keepalive_permit_without_calls", 1),
    ])
    rpc_pb2_grpc.add_KVServicer_to_server(KVService(member), server)
    rpc_pb2_grpc.add_WatchServicer_to_server(WatchService(member), server)
    rpc_pb2_grpc.add_LeaseServicer_to_server(LeaseService(member), server)
    rpc_pb2_grpc.add_ClusterServicer_to_server(ClusterService(member), server)
    rpc_pb2_grpc.add_MaintenanceServicer_to_server(MaintenanceService(member), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_insecure_port(f"{cfg.client_host}:{cfg.client_port}")
    if port == 0:
        raise ConfigError(f"--listen-client-urls: cannot bind {cfg.client_host}:{cfg.client_port}")
    await server.start()
    client_urls = list(cfg.advertise_client_urls) or [f"http://{cfg.client_host}:{port}"]
    log.info("serving client requests on %s:%d; peers on %s; member_id=%x cluster_id=%x",
             cfg.client_host, port, self_addr, me["id"], cluster_id)
    print(f"store {cfg.name} listening on {cfg.client_host}:{port}", file=sys.stderr, flush=True)

    metrics_server = None
    if cfg.metrics:
        metrics_server = await serve_http(cfg.metrics[0], cfg.metrics[1], member)
        mport = metrics_server.sockets[0].getsockname()[1]
        log.info("serving /metrics and /health on http://%s:%d", cfg.metrics[0], mport)
        print(f"store {cfg.name} metrics on {cfg.metrics[0]}:{mport}", file=sys.stderr, flush=True)

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def publish():
        """Publishes this member's name and client URLs through Raft (etcd's member attributes)."""
        want = (cfg.name, (me["peer_url"],), tuple(client_urls))
        while True:
            with node.lock:
                have = node.mvcc.members.get(me["id"])
            if have == want:
                return
            try:
                await node.submit(("publish", me["id"], *want), cfg.request_timeout)
            except ProposalFailed as e:
                log.info("publishing member attributes: %s; retrying", e.message)
                await asyncio.sleep(0.2)

    async def health_loop():
        serving = None
        while True:
            ok = node.leader_addr() is not None
            if ok != serving:
                serving = ok
                status = health_pb2.HealthCheckResponse.SERVING if ok else health_pb2.HealthCheckResponse.NOT_SERVING
                await health_servicer.set("", status)
            await asyncio.sleep(0.2)

    async def expire_leases():
        """Only the leader expires leases; the revoke goes through Raft like any write."""
        while True:
            await asyncio.sleep(0.1)
            if not node.is_leader():
                continue
            now = time.monotonic()
            with node.lock:
                expired = [lid for lid in node.mvcc.leases if node.lease_deadlines.get(lid, now + 1) <= now]
            for lid in expired:
                try:
                    await node.submit(("lease_revoke", lid), cfg.request_timeout)
                    log.info("lease %x expired and was revoked", lid)
                except ProposalFailed as e:
                    log.info("lease %x expired; revoke not confirmed: %s", lid, e.message)

    tasks = [asyncio.ensure_future(c) for c in (publish(), health_loop(), expire_leases(),
                                                member.hub.progress_loop())]
    try:
        await stop.wait()
        log.info("SIGTERM: stopping")
    finally:
        for t in tasks:
            t.cancel()
        if metrics_server is not None:
            metrics_server.close()
        await server.stop(1.0)
        await loop.run_in_executor(None, node.stop)
        log.info("stopped")


def main(argv: list[str] | None = None) -> int:
    # pysyncobj's per-message chatter is not ours to show at info level.
    return run_process(argv, config_from_args, run, ConfigError, quiet_loggers=("pysyncobj",))
