"""Prometheus metrics of a store member, served at `--listen-metrics-urls` + `/metrics`.

Names follow etcd's where etcd has one (`etcd_server_has_leader`, `etcd_mvcc_db_total_size_in_bytes`,
`grpc_server_handled_total`), so dashboards made for etcd read them.
"""
from __future__ import annotations

import time

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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
    """A tiny HTTP/1.1 server for `GET /metrics` (Prometheus text) and `GET /health` (etcd's JSON).
    Returns the asyncio server; its socket tells the bound port."""
    import asyncio
    import json

    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        try:
            line = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass  # headers: nothing we need
            parts = line.decode("latin-1").split()
            path = parts[1] if len(parts) >= 2 else ""
            if len(parts) < 2 or parts[0] != "GET":
                status, ctype, body = "405 Method Not Allowed", "text/plain", b"only GET /metrics and /health\n"
            elif path.split("?")[0] == "/metrics":
                update_gauges(member)
                status, ctype, body = "200 OK", CONTENT_TYPE_LATEST, generate_latest(REGISTRY)
            elif path.split("?")[0] == "/health":
                ok = member.node.leader_addr() is not None
                status = "200 OK" if ok else "503 Service Unavailable"
                ctype = "application/json"
                body = json.dumps({"health": "true" if ok else "false",
                                   "reason": "" if ok else "no leader"}).encode()
            else:
                status, ctype, body = "404 Not Found", "text/plain", b"not found: try /metrics or /health\n"
            writer.write(f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                         f"Connection: close\r\n\r\n".encode() + body)
            await writer.drain()
        except (asyncio.TimeoutError, ConnectionError, UnicodeDecodeError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port)
