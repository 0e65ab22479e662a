"""`python -m apiserver`: flags -> a frozen Config -> a serving apiserver."""
from __future__ import annotations

import argparse
import asyncio
import logging
import random
import signal
import sys
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from prometheus_client import CollectorRegistry, Counter, Histogram

from apiserver import errors
from apiserver.admission import Allocator
from apiserver.service import ApiService, add_to_server
from apiserver.storage import Storage
from apiserver.watchcache import WatchCache
from client import buildinfo, kinds
from client.httpserve import serve_metrics
from client.process import ConfigError, host_port, run_process
from skiffpb.k8s.core.v1 import core_pb2
from store.client import StoreClient

log = logging.getLogger("apiserver")

BOOTSTRAP_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@dataclass(frozen=True)
class Config:
    etcd_servers: tuple[str, ...]
    host: str
    port: int
    service_cidr: str
    node_ports: tuple[int, int]
    metrics: tuple[str, int] | None
    store_timeout: float


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m apiserver",
                                description="Skiff's API server: Kubernetes' API over gRPC, state in the store.")
    p.add_argument("--etcd-servers", required=True, help="store endpoints, comma-separated (http://127.0.0.1:2379,...)")
    p.add_argument("--listen", default="127.0.0.1:6443", help="HOST:PORT to serve gRPC on (port 0: any free port)")
    p.add_argument("--service-cluster-ip-range", default="10.96.0.0/16", help="CIDR that Service ClusterIPs come from")
    p.add_argument("--service-node-port-range", default="30000-32767", help="NodePort range, LOW-HIGH")
    p.add_argument("--metrics-listen", help="HOST:PORT for /metrics and /health (port 0: any free port)")
    p.add_argument("--store-timeout", type=float, default=5.0, help="deadline of each store call, seconds")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warn", "error"])
    return p


def config_from_args(argv: list[str]) -> tuple[Config, str]:
    a = build_parser().parse_args(argv)
    servers = tuple(s.strip() for s in a.etcd_servers.split(",") if s.strip())
    if not servers:
        raise ConfigError("--etcd-servers: give at least one store endpoint")
    host, port = host_port("--listen", a.listen)
    try:
        import ipaddress
        ipaddress.ip_network(a.service_cluster_ip_range, strict=False)
    except ValueError as e:
        raise ConfigError(f"--service-cluster-ip-range: {e}") from None
    lo, sep, hi = a.service_node_port_range.partition("-")
    if not sep or not lo.isdigit() or not hi.isdigit() or not 0 < int(lo) <= int(hi) < 65536:
        raise ConfigError(f"--service-node-port-range: {a.service_node_port_range!r} is not LOW-HIGH, e.g. 30000-32767")
    metrics = host_port("--metrics-listen", a.metrics_listen) if a.metrics_listen else None
    return Config(servers, host, port, a.service_cluster_ip_range, (int(lo), int(hi)), metrics,
                  a.store_timeout), a.log_level


class Metrics:
    """Request counts and latencies by verb and resource (apiserver_request_total & _duration_seconds)."""

    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter("apiserver_request_total", "Requests by verb, resource and outcome",
                                ["verb", "resource", "code"], registry=self.registry)
        self.latency = Histogram("apiserver_request_duration_seconds", "Request latency by verb and resource",
                                 ["verb", "resource"], registry=self.registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60))

    def observe(self, verb: str, resource: str, code: str, seconds: float) -> None:
        self.requests.labels(verb.upper(), resource, code).inc()
        if verb != "Watch":
            self.latency.labels(verb.upper(), resource).observe(seconds)


async def bootstrap(service: ApiService) -> None:
    """Creates the namespaces every cluster has; another apiserver may race us: AlreadyExists is fine."""
    ns_kind = kinds.by_resource("namespaces")
    for name in BOOTSTRAP_NAMESPACES:
        delay = 0.1
        while True:
            try:
                ns = core_pb2.Namespace(api_version="v1", kind="Namespace")
                ns.metadata.name = name
                await service.create(ns_kind, ns)
                log.info("created namespace %s", name)
                break
            except errors.AlreadyExists:
                break
            except errors.Unavailable as e:
                log.info("waiting for the store to create namespace %s: %s", name, e.message)
                await asyncio.sleep(delay * (0.8 + 0.4 * random.random()))
                delay = min(delay * 2, 2.0)


async def run(cfg: Config) -> None:
    loop = asyncio.get_running_loop()
    store = StoreClient(list(cfg.etcd_servers), timeout=cfg.store_timeout)
    storage = Storage(store)
    caches = {k.resource: WatchCache(k, storage) for k in kinds.KINDS}
    metrics = Metrics()
    service = ApiService(storage, caches, Allocator(store, cfg.service_cidr, cfg.node_ports), metrics=metrics)
    service.etcd_servers = cfg.etcd_servers
    tasks = [asyncio.ensure_future(c.run()) for c in caches.values()]

    server = grpc.aio.server(options=[("grpc.max_receive_message_length", 4 * 1024 * 1024),
                                      ("grpc.keepalive_permit_without_calls", 1),
                                      ("grpc.http2.max_ping_strikes", 0)])
    add_to_server(service, server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_insecure_port(f"{cfg.host}:{cfg.port}")
    if port == 0:
        raise ConfigError(f"--listen: cannot bind {cfg.host}:{cfg.port}")
    await asyncio.to_thread(buildinfo.build_info)  # asks git once, off the event loop, before serving
    await bootstrap(service)
    await asyncio.gather(*(c.ready.wait() for c in caches.values()))
    await server.start()
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    log.info("serving the API on %s:%d (store %s)", cfg.host, port, ",".join(cfg.etcd_servers))
    print(f"apiserver listening on {cfg.host}:{port}", file=sys.stderr, flush=True)
    metrics_server = None
    if cfg.metrics:
        metrics_server = await serve_metrics(cfg.metrics[0], cfg.metrics[1], metrics.registry,
                                             health=lambda: (True, ""))
        mport = metrics_server.sockets[0].getsockname()[1]
        log.info("serving /metrics on http://%s:%d", cfg.metrics[0], mport)
        print(f"apiserver metrics on {cfg.metrics[0]}:{mport}", file=sys.stderr, flush=True)

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
        log.info("SIGTERM: stopping")
    finally:
        await health_servicer.enter_graceful_shutdown()
        if metrics_server is not None:
            metrics_server.close()
        await server.stop(1.0)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await store.close()
        log.info("stopped")


def main(argv: list[str] | None = None) -> int:
    return run_process(argv, config_from_args, run, ConfigError)
