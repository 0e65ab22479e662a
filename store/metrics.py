"""Prometheus metrics of a store member, served at `--listen-metrics-urls` + `/metrics`.

Names follow etcd's where etcd has one (`etcd_server_has_leader`, `etcd_mvcc_db_total_size_in_bytes`,
`grpc_server_handled_total`), so dashboards made for etcd read them.
"""
from __future__ import annotations

import time

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from client.httpserve import serve_metrics

REGISTRY = CollectorRegistry()

GRPC_HANDLED = Counter("grpc_server_handled_total", "RPCs completed, by method and status code",
                       ["grpc_service", "grpc_method", "grpc_code"], registry=REGISTRY)
GRPC_STARTED = Counter("grpc_server_started_total", "RPCs started, by method",
                       ["grpc_service", "grpc_method"], registry=REGISTRY)
GRPC_SECONDS = Histogram("grpc_server_handling_seconds", "Latency of unary RPCs, by method",
                         ["grpc_service", "grpc_method"], registry=REGISTRY,
                         buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
HAS_LEADER = Gauge("etcd_server_has_leader", "1 if this member knows a leader", registry=REGISTRY)
IS_LEADER = Gauge("etcd_server_is_leader", "1 if this member is the leader", registry=REGISTRY)
TERM = Gauge("etcd_server_raft_term", "Current Raft term", registry=REGISTRY)
APPLIED = Gauge("etcd_server_raft_applied_index", "Raft entries applied", registry=REGISTRY)
REVISION = Gauge("etcd_debugging_mvcc_current_revision", "Current store revision", registry=REGISTRY)
COMPACT_REVISION = Gauge("etcd_debugging_mvcc_compact_revision", "Compact revision", registry=REGISTRY)
KEYS = Gauge("etcd_debugging_mvcc_keys_total", "Keys with retained history", registry=REGISTRY)
WATCHERS = Gauge("etcd_debugging_mvcc_watcher_total", "Active watchers", registry=REGISTRY)
LEASES = Gauge("etcd_debugging_lease_granted_total", "Live leases", registry=REGISTRY)
DB_SIZE = Gauge("etcd_mvcc_db_total_size_in_bytes", "Size of the data directory's files", registry=REGISTRY)
PROPOSALS_FAILED = Counter("etcd_server_proposals_failed_total", "Proposals Raft did not confirm",
                           registry=REGISTRY)


def _split(method: str) -> tuple[str, str]:
    _, service, name = method.split("/", 2) if method.count("/") >= 2 else ("", "unknown", method)
    return service, name


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    """Counts and times every RPC. Streams are counted when they start and when they end."""

    async def intercept_service(self, continuation, details):
        handler = await continuation(details)
        if handler is None:
            return None
        service, name = _split(details.method)
        GRPC_STARTED.labels(service, name).inc()
        if handler.unary_unary is not None:
            inner = handler.unary_unary

            async def unary(request, context):
                t0 = time.perf_counter()
                code = "OK"
                try:
                    return await inner(request, context)
                except BaseException:
                    c = context.code()
                    code = c.name if isinstance(c, grpc.StatusCode) else "UNKNOWN"
                    raise
                finally:
                    GRPC_SECONDS.labels(service, name).observe(time.perf_counter() - t0)
                    GRPC_HANDLED.labels(service, name, code).inc()
            return grpc.unary_unary_rpc_method_handler(unary, handler.request_deserializer,
                                                       handler.response_serializer)
        if handler.stream_stream is not None:
            inner_stream = handler.stream_stream

            async def streaming(request_iterator, context):
                code = "OK"
                try:
                    async for resp in inner_stream(request_iterator, context):
                        yield resp
                except BaseException:
                    c = context.code()
                    code = c.name if isinstance(c, grpc.StatusCode) else "CANCELLED"
                    raise
                finally:
                    GRPC_HANDLED.labels(service, name, code).inc()
            return grpc.stream_stream_rpc_method_handler(streaming, handler.request_deserializer,
                                                         handler.response_serializer)
        return handler


def update_gauges(member) -> None:
    """Refreshes the gauges from the member's state (called just before each scrape)."""
    node = member.node
    leader = node.leader_addr()
    HAS_LEADER.set(1 if leader else 0)
    IS_LEADER.set(1 if node.is_leader() else 0)
    TERM.set(node.raftCurrentTerm)
    APPLIED.set(node.raftLastApplied)
    with node.lock:
        REVISION.set(node.mvcc.rev)
        COMPACT_REVISION.set(node.mvcc.compact_rev)
        KEYS.set(len(node.mvcc.keys))
        LEASES.set(len(node.mvcc.leases))
    WATCHERS.set(len(member.hub.watchers) if member.hub else 0)
    DB_SIZE.set(member.db_size())



async def serve_http(host: str, port: int, member):
    """/metrics and /health of this member (see client/httpserve.py)."""
    def health():
        ok = member.node.leader_addr() is not None
        return ok, "" if ok else "no leader"
    return await serve_metrics(host, port, REGISTRY, health=health, before_scrape=lambda: update_gauges(member))
