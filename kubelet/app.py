"""`python -m kubelet --hollow`: flags -> a frozen Config -> a Fleet of hollow nodes and its control endpoint.

Exit codes (client/process.py): 0 after SIGTERM/SIGINT (the nodes and their pods stay registered,
as when a real kubelet stops), 2 for a bad flag (the message names it).
"""
from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import re
import signal
import sys
from dataclasses import dataclass, replace

from client.api import ApiClient
from client.process import ConfigError, endpoints, host_port, run_process
from client.quantity import parse_quantity
from client.selectors import label_value_errors, qualified_name_errors
from kubelet.control import serve_control
from kubelet.fleet import Fleet
from kubelet.hollow import Timing
from kubelet.nodestatus import HOSTNAME_LABEL, MAX_NODES, NodeShape

log = logging.getLogger("kubelet")

MAX_PODS = 253   # hosts of a /24 pod CIDR after the gateway: every admitted pod gets its own IP
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


@dataclass(frozen=True)
class Config:
    apiservers: tuple[str, ...]
    nodes: int
    name_prefix: str
    shape: NodeShape
    timing: Timing
    lease_duration: int
    renew_interval: float
    status_update_frequency: float
    status_report_frequency: float
    control: tuple[str, int]
    workers: int
    api_timeout: float


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m kubelet",
        description="Skiff's kubelet. Only the hollow kubelet exists so far (--hollow): one process "
                    "hosting many fake nodes that register, heartbeat and report their pods Running "
                    "without running anything (Kubernetes' kubemark). See kubelet/README.md.")
    p.add_argument("--hollow", action="store_true", help="run hollow nodes (required for now)")
    p.add_argument("--apiserver", required=True, help="apiserver endpoints HOST:PORT, comma-separated")
    p.add_argument("--nodes", type=int, default=1, help="hollow nodes to host at start (default 1)")
    p.add_argument("--name-prefix", default="hollow-", help="node i is named PREFIX<i> (default hollow-)")
    p.add_argument("--cpu", default="4", help="cpu capacity of each node, a quantity (default 4)")
    p.add_argument("--memory", default="8Gi", help="memory capacity of each node (default 8Gi)")
    p.add_argument("--pods", type=int, default=110, help=f"pods capacity of each node, 1..{MAX_PODS} (default 110)")
    p.add_argument("--ephemeral-storage", default="100Gi", help="ephemeral-storage capacity (default 100Gi)")
    p.add_argument("--node-labels", default="", help="extra labels for every node, k=v,k2=v2")
    p.add_argument("--ready-delay", type=float, default=0.5,
                   help="seconds from a pod's arrival to Running+Ready (default 0.5)")
    p.add_argument("--stop-delay", type=float, default=0.5,
                   help="seconds a graceful deletion takes at most (it takes min(grace, this); default 0.5)")
    p.add_argument("--lease-duration", type=int, default=10,
                   help="leaseDurationSeconds of each node Lease (default 10: Kubernetes has 40 with a 40 s "
                        "node-monitor-grace-period; Skiff's controller manager defaults to 10 s)")
    p.add_argument("--renew-interval", type=float, default=2.5,
                   help="seconds between Lease renewals (default 2.5: a quarter of the lease duration, the "
                        "ratio Kubernetes uses)")
    p.add_argument("--node-status-update-frequency", type=float, default=10.0,
                   help="seconds between node status computations; posted when changed (default 10)")
    p.add_argument("--node-status-report-frequency", type=float, default=300.0,
                   help="seconds after which an unchanged node status is posted anyway (default 300)")
    p.add_argument("--control-listen", default="127.0.0.1:0",
                   help="loopback HOST:PORT of the control endpoint (port 0: any free port; default 127.0.0.1:0)")
    p.add_argument("--workers", type=int, default=32,
                   help="pods synced concurrently (default 32; the store batches concurrent writes, so "
                        "more in flight means more written per second)")
    p.add_argument("--api-timeout", type=float, default=10.0, help="deadline of each API call, seconds (default 10)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warn", "error"])
    return p


def _quantity(flag: str, text: str) -> str:
    try:
        value = parse_quantity(text)
    except ValueError as e:
        raise ConfigError(f"{flag}: {e}") from None
    if value <= 0:
        raise ConfigError(f"{flag}: must be a positive quantity, got {text!r}")
    return text.strip()


def _labels(text: str) -> tuple[tuple[str, str], ...]:
    out: dict[str, str] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--node-labels: {item!r} is not key=value")
        errs = qualified_name_errors(key)
        if errs:
            raise ConfigError(f"--node-labels: invalid label key {key!r}: {'; '.join(errs)}")
        errs = label_value_errors(value)
        if errs:
            raise ConfigError(f"--node-labels: invalid label value {value!r} for {key}: {'; '.join(errs)}")
        if key == HOSTNAME_LABEL:
            raise ConfigError(f"--node-labels: {HOSTNAME_LABEL} is the node's name, set by the kubelet")
        out[key] = value
    return tuple(sorted(out.items()))


def _positive(flag: str, value: float, *, zero: bool = False) -> float:
    if value != value or value < 0 or (value == 0 and not zero):
        raise ConfigError(f"{flag}: must be {'>= 0' if zero else '> 0'} seconds, got {value}")
    return value


def config_from_args(argv: list[str]) -> tuple[Config, str]:
    a = build_parser().parse_args(argv)
    if not a.hollow:
        raise ConfigError("--hollow: only the hollow kubelet exists so far; pass --hollow")
    servers = endpoints("--apiserver", a.apiserver)
    if not 0 <= a.nodes <= MAX_NODES:
        raise ConfigError(f"--nodes: must be between 0 and {MAX_NODES} (each node gets a /24 of 10.244.0.0/12), "
                          f"got {a.nodes}")
    last = f"{a.name_prefix}{max(MAX_NODES - 1, 0)}"
    if not _DNS1123_SUBDOMAIN.fullmatch(f"{a.name_prefix}0") or len(last) > 253:
        raise ConfigError(f"--name-prefix: {a.name_prefix!r} followed by a number must be a DNS-1123 subdomain "
                          "(lower case alphanumerics, '-' and '.', starting and ending alphanumeric)")
    if not 1 <= a.pods <= MAX_PODS:
        raise ConfigError(f"--pods: must be between 1 and {MAX_PODS} (the pod IPs of a node's /24), got {a.pods}")
    shape = NodeShape(cpu=_quantity("--cpu", a.cpu), memory=_quantity("--memory", a.memory), pods=a.pods,
                      ephemeral_storage=_quantity("--ephemeral-storage", a.ephemeral_storage),
                      labels=_labels(a.node_labels))
    timing = Timing(_positive("--ready-delay", a.ready_delay, zero=True),
                    _positive("--stop-delay", a.stop_delay, zero=True))
    if a.lease_duration < 1:
        raise ConfigError(f"--lease-duration: must be a whole number of seconds >= 1, got {a.lease_duration}")
    _positive("--renew-interval", a.renew_interval)
    if a.renew_interval >= a.lease_duration:
        raise ConfigError(f"--renew-interval: must be shorter than --lease-duration ({a.lease_duration}s), "
                          f"got {a.renew_interval}")
    _positive("--node-status-update-frequency", a.node_status_update_frequency)
    _positive("--node-status-report-frequency", a.node_status_report_frequency)
    host, port = host_port("--control-listen", a.control_listen)
    host = host.strip("[]")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigError(f"--control-listen: {host!r} is not a loopback address; the control endpoint "
                          "has no authentication, so it only listens on 127.0.0.1 or ::1")
    if a.workers < 1:
        raise ConfigError(f"--workers: must be >= 1, got {a.workers}")
    _positive("--api-timeout", a.api_timeout)
    return Config(servers, a.nodes, a.name_prefix, shape, timing, a.lease_duration, a.renew_interval,
                  a.node_status_update_frequency, a.node_status_report_frequency, (host, port), a.workers,
                  a.api_timeout), a.log_level


async def run(cfg: Config) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    cfg = replace(cfg, shape=replace(cfg.shape, kernel_version=cfg.shape.kernel_version or os.uname().release))
    async with ApiClient(cfg.apiservers, timeout=cfg.api_timeout) as api:
        fleet = Fleet(api, cfg)
        try:
            server = await serve_control(cfg.control[0], cfg.control[1], fleet)
        except OSError as e:
            raise ConfigError(f"--control-listen: cannot listen on {cfg.control[0]}:{cfg.control[1]}: {e}") from None
        host, port = server.sockets[0].getsockname()[:2]
        fleet.control_url = f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"
        log.info("control endpoint on %s", fleet.control_url)
        print(f"hollow kubelet control on {fleet.control_url}", file=sys.stderr, flush=True)
        runner = asyncio.create_task(fleet.run(), name="fleet")
        stopper = asyncio.create_task(stop.wait(), name="sigterm")
        announcer = asyncio.create_task(_announce(fleet), name="announce")
        try:
            await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if runner.done():
                runner.result()     # the fleet never ends by itself: this raises its error
            log.info("SIGTERM: stopping (the nodes stay registered)")
        finally:
            server.close()
            for t in (runner, stopper, announcer):
                t.cancel()
            await asyncio.gather(runner, stopper, announcer, return_exceptions=True)
            await fleet.close()
    log.info("stopped")


async def _announce(fleet: Fleet) -> None:
    await fleet.ready.wait()
    print(fleet.ready_line(), file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    return run_process(argv, config_from_args, run, ConfigError)
