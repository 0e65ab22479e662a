"""The hollow kubelet's control endpoint: a tiny HTTP/1.1 server on a loopback address, for tests,
benchmarks and people (curl). It has no authentication, hence loopback only (--control-listen).

    GET  /nodes                          every hosted node as JSON (see Fleet.describe), plus totals
    GET  /nodes/<name>                   one node
    POST /nodes?count=N[&wait=S]         host N more nodes (the next indexes); answers once they are
                                         registered and leased (201), or after S seconds (default 10)
                                         with 202 while they are still registering
    POST /nodes/<name>/stop-heartbeat    stop renewing its Lease and posting its status; its pods keep
                                         their status (a partitioned node); answers once no write of
                                         it is in flight, so the Lease stays as it is from then on
    POST /nodes/<name>/start-heartbeat   resume: the Lease is renewed and the status checked at once
    POST /nodes/<name>/delete            stop hosting it and delete its Node and Lease (its pods stay
                                         for the cluster to clean up); 503 if the apiserver would not
    GET  /health                         200 {"health": "true"} once every start node is registered, else 503
    GET  /metrics                        Prometheus text

Answers are JSON (`{"error": "..."}` with 4xx/5xx). One request per connection (Connection: close).
`route` is the pure part: method and target in, what to do out.
"""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from client.errors import ApiError

log = logging.getLogger("kubelet.control")

MAX_ADD = 1000              # nodes one POST may add
DEFAULT_ADD_WAIT = 10.0     # seconds POST /nodes waits for the new nodes to register
_VERBS = ("stop-heartbeat", "start-heartbeat", "delete")
USAGE = ("GET /nodes, GET /nodes/<name>, POST /nodes?count=N, POST /nodes/<name>/stop-heartbeat, "
         "POST /nodes/<name>/start-heartbeat, POST /nodes/<name>/delete, GET /health, GET /metrics")


class HttpError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Route:
    """What a request asks: op is list|get|add|stop-heartbeat|start-heartbeat|delete|health|metrics."""

    op: str
    node: str = ""
    count: int = 0
    wait: float = DEFAULT_ADD_WAIT


def route(method: str, target: str) -> Route:
    """The Route for a request line's method and target; HttpError(404/405/400) when there is none."""
    parts = urlsplit(target)
    path = [unquote(p) for p in parts.path.split("/") if p]
    query = parse_qs(parts.query)

    def allow(*methods: str) -> None:
        if method not in methods:
            raise HttpError(405, f"{method} {parts.path}: method not allowed (use {' or '.join(methods)})")

    if path == ["health"] or path == ["metrics"]:
        allow("GET")
        return Route(path[0])
    if path == ["nodes"]:
        allow("GET", "POST")
        if method == "GET":
            return Route("list")
        count = _number(query, "count", int, None)
        if count is None or not 1 <= count <= MAX_ADD:
            raise HttpError(400, f"POST /nodes: give count=N, 1 <= N <= {MAX_ADD}")
        wait = _number(query, "wait", float, DEFAULT_ADD_WAIT)
        if not 0 <= wait <= 600:
            raise HttpError(400, "POST /nodes: wait must be between 0 and 600 seconds")
        return Route("add", count=count, wait=wait)
    if len(path) == 2 and path[0] == "nodes":
        allow("GET")
        return Route("get", node=path[1])
    if len(path) == 3 and path[0] == "nodes" and path[2] in _VERBS:
        allow("POST")
        return Route(path[2], node=path[1])
    raise HttpError(404, f"{method} {parts.path}: not found; try {USAGE}")


def _number(query: dict[str, list[str]], name: str, conv, default):
    values = query.get(name)
    if not values:
        return default
    try:
        return conv(values[-1])
    except ValueError:
        raise HttpError(400, f"{name}: {values[-1]!r} is not a number") from None


async def handle(fleet, r: Route) -> tuple[int, str, bytes]:
    """Carry out `r` on `fleet`: (status, content type, body)."""
    if r.op == "metrics":
        fleet.refresh_gauges()
        return 200, CONTENT_TYPE_LATEST, generate_latest(fleet.metrics.registry)
    if r.op == "health":
        ok = fleet.ready.is_set()
        return _json(200 if ok else 503, {"health": "true" if ok else "false",
                                          "reason": "" if ok else "registering the start nodes"})
    if r.op == "list":
        return _json(200, fleet.snapshot())
    if r.op == "add":
        try:
            added = fleet.add_nodes(r.count)
        except ValueError as e:
            raise HttpError(400, f"POST /nodes: {e}") from None
        log.info("control: adding %d nodes (%s)", len(added), ", ".join(n.name for n in added))
        done = True
        try:
            await asyncio.wait_for(asyncio.gather(*(n.leased.wait() for n in added)), r.wait)
        except asyncio.TimeoutError:
            done = False
        return _json(201 if done else 202, {"nodes": [fleet.describe(n) for n in added]})
    verb = {"get": None, "stop-heartbeat": fleet.stop_heartbeat, "start-heartbeat": fleet.start_heartbeat,
            "delete": fleet.delete_node}[r.op]
    if verb is None:
        node = fleet.nodes.get(r.node)
    else:
        log.info("control: %s %s", r.op, r.node)
        try:
            node = await verb(r.node)
        except ApiError as e:
            raise HttpError(503, f"node {r.node} is no longer hosted, but deleting its Node failed: {e}; "
                                 f"retry, or delete it with `skiff delete node {r.node}`") from None
    if node is None:
        raise HttpError(404, f"node {r.node!r} is not hosted by this hollow kubelet (GET /nodes lists them)")
    return _json(200, {"deleted": r.node} if r.op == "delete" else fleet.describe(node))


def _json(status: int, value) -> tuple[int, str, bytes]:
    return status, "application/json", (json.dumps(value, indent=1) + "\n").encode()


_REASONS = {200: "OK", 201: "Created", 202: "Accepted", 400: "Bad Request", 404: "Not Found",
            405: "Method Not Allowed", 500: "Internal Server Error", 503: "Service Unavailable"}


async def serve_control(host: str, port: int, fleet) -> asyncio.AbstractServer:
    """Listen on host:port (port 0: any free one) and answer until the server is closed."""

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 10)
            length = 0
            while True:
                header = await asyncio.wait_for(reader.readline(), 10)
                if header in (b"\r\n", b"\n", b""):
                    break
                name, _, value = header.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length" and value.strip().isdigit():
                    length = int(value.strip())
            if 0 < length <= 1 << 16:
                await asyncio.wait_for(reader.readexactly(length), 10)   # no body is read; drain it
            parts = line.decode("latin-1").split()
            try:
                if len(parts) < 2:
                    raise HttpError(400, "malformed request line")
                status, ctype, body = await handle(fleet, route(parts[0], parts[1]))
            except HttpError as e:
                status, ctype, body = _json(e.status, {"error": e.message})
            except Exception as e:  # noqa: BLE001 - a bug in one request must not take the endpoint down
                log.exception("control: %s failed", line.strip())
                status, ctype, body = _json(500, {"error": f"{type(e).__name__}: {e}"})
            writer.write(f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\nContent-Type: {ctype}\r\n"
                         f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
            await writer.drain()
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError, UnicodeDecodeError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(on_connection, host, port)
