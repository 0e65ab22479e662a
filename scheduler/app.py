"""`python -m scheduler`: flags -> a frozen Config -> informers, the scheduling loop, leader election.

    python -m scheduler --apiserver 127.0.0.1:6443[,HOST:PORT...] [--leader-elect=true]
        [--lease-name skiff-scheduler --lease-namespace kube-system --lease-duration 15
         --renew-deadline 10 --retry-period 2] [--identity ID] [--scheduler-name default-scheduler]
        [--metrics-listen HOST:PORT] [--log-level info]

Exit status: 0 after SIGTERM/SIGINT (the lease released, so a standby takes over at its next retry);
1 when the scheduling loop crashed (a bug: the process leaves rather than hold the lease idle);
2 for a bad flag. With --metrics-listen it prints `scheduler metrics on HOST:PORT` to stderr once
serving.

Losing the lease stops scheduling at once (the elector cancels the loop, and every bind and status
write with it) and the process campaigns again as a standby. kube-scheduler exits instead and relies
on its supervisor to restart it; Skiff's processes run unsupervised and must "never need a restart"
(ARCHITECTURE.md), so a sole scheduler cut off from the apiservers for longer than --renew-deadline
must come back by itself. What kube-scheduler gets from a fresh process, each term here gets from
`Scheduler.run`: a snapshot and queue rebuilt from the informer caches, with nothing assumed.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import random
import signal
import socket
import sys
import uuid
from dataclasses import dataclass

from client.api import ApiClient
from client.events import EventRecorder
from client.httpserve import serve_metrics
from client.informer import Informer
from client.leaderelection import ApiLeaseLock, ElectionConfig, LeaderElector
from client.process import ConfigError, endpoints, host_port, run_process
from scheduler.loop import DEFAULT_SCHEDULER, Scheduler, Settings
from scheduler.metrics import Metrics

log = logging.getLogger("scheduler")

EXIT_CRASHED = 1


@dataclass(frozen=True)
class Config:
    apiservers: tuple[str, ...]
    leader_elect: bool
    lease_name: str
    lease_namespace: str
    election: ElectionConfig
    identity: str
    metrics: tuple[str, int] | None
    settings: Settings


_TRUE, _FALSE = ("true", "t", "1", "yes"), ("false", "f", "0", "no")


def _bool(text: str) -> bool:
    low = text.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not a boolean: use true or false")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):     # argparse's own errors: exit status 2, the flag named
        raise ConfigError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m scheduler",
                description="Skiff's scheduler: binds every pending pod to a node that can run it.")
    p.add_argument("--apiserver", required=True, help="apiserver endpoints HOST:PORT, comma-separated")
    p.add_argument("--leader-elect", type=_bool, nargs="?", const=True, default=True, metavar="BOOL",
                   help="campaign for a Lease and schedule only while holding it (default true)")
    p.add_argument("--lease-name", default="skiff-scheduler", help="name of the Lease (default skiff-scheduler)")
    p.add_argument("--lease-namespace", default="kube-system", help="namespace of the Lease (default kube-system)")
    p.add_argument("--lease-duration", type=float, default=15.0,
                   help="seconds a standby waits after the leader's last renewal before taking over "
                        "(default 15; whole seconds: the Lease stores an integer)")
    p.add_argument("--renew-deadline", type=float, default=10.0,
                   help="seconds the leader keeps scheduling without a successful renewal (default 10)")
    p.add_argument("--retry-period", type=float, default=2.0, help="seconds between lease attempts (default 2)")
    p.add_argument("--identity", default="", help="holderIdentity, unique per process (default HOSTNAME_RANDOM)")
    p.add_argument("--scheduler-name", default=DEFAULT_SCHEDULER,
                   help="schedule the pods whose spec.schedulerName is this (default default-scheduler)")
    p.add_argument("--metrics-listen", help="HOST:PORT for /metrics and /health (port 0: any free port)")
    p.add_argument("--bind-concurrency", type=int, default=Settings.bind_concurrency,
                   help=f"binds on the wire at once (default {Settings.bind_concurrency})")
    p.add_argument("--pod-initial-backoff-seconds", type=float, default=Settings.initial_backoff,
                   help="backoff after a pod's first failed attempt, doubling per attempt (default 1)")
    p.add_argument("--pod-max-backoff-seconds", type=float, default=Settings.max_backoff,
                   help="longest backoff between a pod's attempts (default 10)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warn", "error"])
    return p


def config_from_args(argv: list[str]) -> tuple[Config, str]:
    a = build_parser().parse_args(argv)
    servers = endpoints("--apiserver", a.apiserver)
    if not a.lease_name:
        raise ConfigError("--lease-name: must not be empty")
    if not a.lease_namespace:
        raise ConfigError("--lease-namespace: must not be empty")
    try:
        election = ElectionConfig(a.lease_duration, a.renew_deadline, a.retry_period)
    except ValueError as e:     # its message starts with the parameter's name: name the flag
        raise ConfigError(f"--{str(e).split(' ', 1)[0].replace('_', '-')}: {e}") from None
    if not a.scheduler_name:
        raise ConfigError("--scheduler-name: must not be empty")
    if a.bind_concurrency < 1:
        raise ConfigError(f"--bind-concurrency: must be at least 1, got {a.bind_concurrency}")
    if not a.pod_initial_backoff_seconds > 0:
        raise ConfigError(f"--pod-initial-backoff-seconds: must be positive, got {a.pod_initial_backoff_seconds}")
    if not a.pod_max_backoff_seconds >= a.pod_initial_backoff_seconds:
        raise ConfigError(f"--pod-max-backoff-seconds: must be at least --pod-initial-backoff-seconds "
                          f"({a.pod_initial_backoff_seconds}), got {a.pod_max_backoff_seconds}")
    metrics = host_port("--metrics-listen", a.metrics_listen) if a.metrics_listen else None
    identity = a.identity or f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"
    settings = Settings(scheduler_name=a.scheduler_name, bind_concurrency=a.bind_concurrency,
                        initial_backoff=a.pod_initial_backoff_seconds, max_backoff=a.pod_max_backoff_seconds)
    return Config(servers, a.leader_elect, a.lease_name, a.lease_namespace, election, identity, metrics,
                  settings), a.log_level


async def run(cfg: Config) -> int:
    """Wire the process and run it until SIGTERM (0) or a crashed loop (1)."""
    loop = asyncio.get_running_loop()
    api = ApiClient(cfg.apiservers)
    metrics = Metrics(cfg.lease_name if cfg.leader_elect else "")
    recorder = EventRecorder(api, component=cfg.settings.scheduler_name)
    pods, nodes = Informer(api, "pods"), Informer(api, "nodes")
    stop, crashed = asyncio.Event(), asyncio.Event()
    elector: LeaderElector | None = None

    def may_act() -> bool:
        return elector is None or elector.is_leader

    scheduler = Scheduler(api, pods, nodes, cfg.settings, metrics, recorder, rng=random.Random(),
                          may_act=may_act)

    async def lead() -> None:
        metrics.set_leader(True)
        try:
            await scheduler.run()
        except asyncio.CancelledError:
            raise
        except BaseException:
            # A leader that stopped scheduling must not keep the lease: exit, and let a standby lead.
            log.exception("%s: the scheduling loop crashed", cfg.identity)
            crashed.set()
            raise
        finally:
            metrics.set_leader(False)

    def on_stopped_leading() -> None:
        # The loop is cancelled already (the elector does it in the same step); campaign again.
        metrics.set_leader(False)
        if not stop.is_set():
            log.info("%s: stopped scheduling; campaigning again", cfg.identity)

    background = [asyncio.ensure_future(pods.run()), asyncio.ensure_future(nodes.run()),
                  asyncio.ensure_future(scheduler.warm())]
    metrics_server = None
    if cfg.metrics:
        metrics_server = await serve_metrics(
            cfg.metrics[0], cfg.metrics[1], metrics.registry, before_scrape=scheduler.update_gauges,
            health=lambda: (True, "") if scheduler.ready.is_set() else (False, "informers not synced"))
        port = metrics_server.sockets[0].getsockname()[1]
        print(f"scheduler metrics on {cfg.metrics[0]}:{port}", file=sys.stderr, flush=True)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    if cfg.leader_elect:
        e = cfg.election
        lock = ApiLeaseLock(api, cfg.lease_name, cfg.lease_namespace, timeout=e.renew_deadline / 2)
        elector = LeaderElector(lock, cfg.identity, lease_duration=e.lease_duration,
                                renew_deadline=e.renew_deadline, retry_period=e.retry_period,
                                on_started_leading=lead, on_stopped_leading=on_stopped_leading,
                                on_new_leader=lambda who: log.info("%s: the leader is %s", cfg.identity, who))
        log.info("%s: campaigning for lease %s/%s via %s", cfg.identity, cfg.lease_namespace, cfg.lease_name,
                 ",".join(cfg.apiservers))
        main = asyncio.ensure_future(elector.run())
    else:
        log.info("%s: leader election off: scheduling via %s", cfg.identity, ",".join(cfg.apiservers))
        main = asyncio.ensure_future(lead())
    waits = [asyncio.ensure_future(ev.wait()) for ev in (stop, crashed)]
    try:
        await asyncio.wait({main, *waits}, return_when=asyncio.FIRST_COMPLETED)
        if main.done() and not main.cancelled() and main.exception() is not None and not crashed.is_set():
            raise main.exception()
    finally:
        # Cancelling the elector stops the loop first, then releases the lease if still ours.
        main.cancel()
        for t in (*waits, *background):
            t.cancel()
        await asyncio.gather(main, *waits, *background, return_exceptions=True)
        if metrics_server is not None:
            metrics_server.close()
        await recorder.close(timeout=2.0)
        await api.close()
    if stop.is_set() and not crashed.is_set():
        log.info("%s: stopped", cfg.identity)
        return 0
    log.error("%s: the scheduling loop ended; exiting with status %d", cfg.identity, EXIT_CRASHED)
    return EXIT_CRASHED


def main(argv: list[str] | None = None) -> int:
    # grpc's debug lines ("Loaded running loop", one per call) would drown the scheduler's own.
    return run_process(argv, config_from_args, run, ConfigError, quiet_loggers=("grpc",))
