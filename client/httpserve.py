"""A tiny HTTP/1.1 server for every process's `GET /metrics` (Prometheus text) and `GET /health`.

    server = await serve_metrics("127.0.0.1", 0, registry, health=lambda: (True, ""), before_scrape=f)
    server.sockets[0].getsockname()[1]   # the bound port

Enough HTTP for Prometheus and curl; not a web framework.
"""
from __future__ import annotations

import asyncio
import json
from typing import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


async def serve_metrics(host: str, port: int, registry: CollectorRegistry, *,
                        health: Callable[[], tuple[bool, str]],
                        before_scrape: Callable[[], None] | None = None) -> asyncio.AbstractServer:
    """`health()` returns (ok, reason); /health answers etcd's JSON with 200 or 503."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        try:
            line = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass  # headers: nothing we need
            parts = line.decode("latin-1").split()
            path = parts[1].split("?")[0] if len(parts) >= 2 else ""
            if len(parts) < 2 or parts[0] != "GET":
                status, ctype, body = "405 Method Not Allowed", "text/plain", b"only GET /metrics and /health\n"
            elif path == "/metrics":
                if before_scrape is not None:
                    before_scrape()
                status, ctype, body = "200 OK", CONTENT_TYPE_LATEST, generate_latest(registry)
            elif path == "/health":
                ok, reason = health()
                status = "200 OK" if ok else "503 Service Unavailable"
                ctype = "application/json"
                body = json.dumps({"health": "true" if ok else "false", "reason": reason}).encode()
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
