"""`python -m controller`: flags -> a frozen Config -> the leader-elected controller manager.

    python -m controller --apiserver 127.0.0.1:6443[,HOST:PORT...] [--controllers '*' | replicaset,deployment]
        [--leader-elect=true --lease-name skiff-controller-manager --lease-namespace kube-system
         --lease-duration 15s --renew-deadline 10s --retry-period 2s] [--identity ID]
        [--concurrent-syncs 5] [--node-monitor-grace-period 10s] [--pod-eviction-timeout 10s]
        [--metrics-listen HOST:PORT] [--log-level info]

The process, as kube-controller-manager runs it:
1. Campaign for the Lease `--lease-namespace/--lease-name` (client.leaderelection). A standby only
   campaigns: no informer, no controller, no write.
2. On becoming leader (the leading task, `ControllerManager.lead`): one `ControllerContext`; every
   enabled controller made from `CONTROLLERS` (each registers its informer handlers); only then
   the shared informers are started and waited for; then every controller's `run()`.
3. Losing the lease (taken, or no renewal within --renew-deadline): the elector cancels the
   leading task at once (synchronously, before anything else can run), and the process exits with
   status 1, as Kubernetes' OnStoppedLeading does (`leaderelection lost`): a fresh process, not a
   half-torn-down one, is what campaigns again. Besides, every write a controller makes goes
   through `FencedApi`, which refuses writes once this process is no longer sure to lead (after a
   pause the controllers' timers may fire before the elector's watchdog; see client/candidate.py).
4. SIGTERM/SIGINT: controllers cancelled, queued Events flushed, the lease released (the standby
   takes over at its next retry instead of after the lease duration), exit 0.
5. A controller whose `run()` ends or raises is a bug: exit 1, so a standby (or a supervisor)
   takes over, rather than a leader that holds the lease and does nothing.
`--leader-elect=false` skips 1 and 3 (a single manager; tests and single-node setups).

Exit status 2: a bad flag, the message naming it. Durations are Go's (`15s`, `500ms`, `1m30s`) or a
bare number of seconds. `--controllers` is Kubernetes': a list of names, `*` for all, `-name` to
leave one out (`*,-endpoint`).

`CONTROLLERS` is the registry: controller name -> `make(ctx)` returning an object with `name` and
`async run()` (a `controller.manager.QueueController`, usually). Adding a controller is one entry.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import re
import signal
import socket
import sys
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge

from client.api import ApiClient
from client.httpserve import serve_metrics
from client.leaderelection import ApiLeaseLock, ElectionConfig, LeaderElector
from client.process import ConfigError, endpoints, host_port, run_process
from controller.deployment.controller import make as make_deployment
from controller.endpoints import make as make_endpoint
from controller.garbagecollector import make as make_garbagecollector
from controller.namespace import make as make_namespace
from controller.nodelifecycle import make as make_nodelifecycle
from controller.manager import ControllerContext, Options, QueueController
from controller.replicaset.controller import make as make_replicaset

log = logging.getLogger("controller")

EXIT_LOST = 1       # the lease was lost (or a controller died): exit, as Kubernetes' OnStoppedLeading


class Controller(Protocol):
    name: str

    async def run(self) -> None: ...


# The registry: `--controllers` names -> make(ctx). Keep it a plain dict (one line per controller).
CONTROLLERS: dict[str, Callable[[ControllerContext], Controller]] = {
    "deployment": make_deployment,
    "replicaset": make_replicaset,
    "endpoint": make_endpoint,
    "nodelifecycle": make_nodelifecycle,
    "garbagecollector": make_garbagecollector,
    "namespace": make_namespace,
}


@dataclass(frozen=True)
class Config:
    apiservers: tuple[str, ...]
    controllers: tuple[str, ...]          # enabled, in registry order
    leader_elect: bool
    lease_name: str
    lease_namespace: str
    election: ElectionConfig
    identity: str
    options: Options
    metrics: tuple[str, int] | None


# -- flags ------------------------------------------------------------------------------------------

_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str, flag: str) -> float:
    """Seconds in a Go duration (`10s`, `1m30s`, `500ms`) or a bare number of seconds."""
    s = text.strip()
    try:
        value = float(s)
    except ValueError:
        pos, value = 0, 0.0
        for m in _DURATION_PART.finditer(s):
            if m.start() != pos:
                break
            value += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
            pos = m.end()
        if pos != len(s) or not s:
            raise ConfigError(f"{flag}: invalid duration {text!r}; use e.g. 10s, 500ms, 1m30s") from None
    if not value >= 0 or value == float("inf"):
        raise ConfigError(f"{flag}: invalid duration {text!r}: must be a finite number of seconds >= 0")
    return value


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "t", "1", "yes"):
        return True
    if lowered in ("false", "f", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r}: use true or false")


def select_controllers(spec: str, known: list[str]) -> tuple[str, ...]:
    """The enabled controllers for a `--controllers` value, in `known` order (Kubernetes'
    IsControllerEnabled: `name` enables, `-name` disables, `*` enables the rest)."""
    items = [s.strip() for s in spec.split(",") if s.strip()]
    if not items:
        raise ConfigError("--controllers: empty; use '*' for all, or names such as replicaset,deployment")
    for item in items:
        name = item[1:] if item.startswith("-") else item
        if name != "*" and name not in known:
            raise ConfigError(f"--controllers: unknown controller {name!r}; known: {', '.join(known)}")
    star = "*" in items
    enabled = tuple(n for n in known if f"-{n}" not in items and (n in items or star))
    if not enabled:
        raise ConfigError(f"--controllers: {spec!r} enables no controller")
    return enabled


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m controller",
        description="Skiff's controller manager: level-triggered controllers (deployment, replicaset, ...) "
                    "on shared informers, leader-elected so that one manager acts at a time.")
    p.add_argument("--apiserver", required=True, help="apiserver endpoints HOST:PORT, comma-separated")
    p.add_argument("--controllers", default="*",
                   help=f"controllers to run: '*' for all, names, '-name' to leave one out "
                        f"(known: {', '.join(CONTROLLERS)})")
    p.add_argument("--leader-elect", type=_bool, nargs="?", const=True, default=True,
                   help="campaign for a Lease and run controllers only while leading (default: true)")
    p.add_argument("--lease-name", default="skiff-controller-manager", help="name of the leader-election Lease")
    p.add_argument("--lease-namespace", default="kube-system", help="namespace of the leader-election Lease")
    p.add_argument("--lease-duration", default="15s",
                   help="how long a standby waits after the leader's last renewal before taking over")
    p.add_argument("--renew-deadline", default="10s",
                   help="how long the leader keeps acting without a successful renewal")
    p.add_argument("--retry-period", default="2s", help="interval between leader-election attempts")
    p.add_argument("--identity", default="", help="this manager's holderIdentity (default: HOSTNAME_UUID)")
    p.add_argument("--concurrent-syncs", type=int, default=5,
                   help="workers per controller: keys synced in parallel (never one key twice at once)")
    p.add_argument("--node-monitor-grace-period", default="10s",
                   help="a node whose Lease is not renewed for this long becomes Ready=Unknown")
    p.add_argument("--pod-eviction-timeout", default="10s",
                   help="how long after a node became unreachable its pods are deleted")
    p.add_argument("--metrics-listen", help="HOST:PORT for /metrics and /health (port 0: any free port)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warn", "error"])
    return p


def config_from_args(argv: list[str]) -> tuple[Config, str]:
    a = build_parser().parse_args(argv)
    servers = endpoints("--apiserver", a.apiserver)
    controllers = select_controllers(a.controllers, list(CONTROLLERS))
    if a.concurrent_syncs < 1:
        raise ConfigError(f"--concurrent-syncs: must be at least 1, got {a.concurrent_syncs}")
    durations = {flag: parse_duration(getattr(a, flag[2:].replace("-", "_")), flag)
                 for flag in ("--lease-duration", "--renew-deadline", "--retry-period",
                              "--node-monitor-grace-period", "--pod-eviction-timeout")}
    try:
        election = ElectionConfig(durations["--lease-duration"], durations["--renew-deadline"],
                                  durations["--retry-period"])
    except ValueError as e:      # the message starts with the parameter's name: name the flag
        flag = "--" + str(e).split(" ", 1)[0].replace("_", "-")
        raise ConfigError(f"{flag}: {e}") from None
    if a.leader_elect and not a.lease_name:
        raise ConfigError("--lease-name: must not be empty")
    options = Options(workers=a.concurrent_syncs,
                      node_monitor_grace_period=durations["--node-monitor-grace-period"],
                      pod_eviction_timeout=durations["--pod-eviction-timeout"])
    identity = a.identity or f"{socket.gethostname()}_{uuid.uuid4()}"
    metrics = host_port("--metrics-listen", a.metrics_listen) if a.metrics_listen else None
    return Config(servers, controllers, a.leader_elect, a.lease_name, a.lease_namespace, election, identity,
                  options, metrics), a.log_level


# -- the fence ----------------------------------------------------------------------------------------

class NotLeader(Exception):
    """A controller tried to write while this process is no longer sure to lead."""


_WRITES = frozenset({"create", "update", "update_status", "patch", "delete", "bind", "update_scale"})


class FencedApi:
    """The API client as the controllers see it: reads pass through; every write first checks
    `is_leader()` and raises NotLeader when it is false.

    The elector cancels the controllers the moment leadership ends; this covers the case where it
    cannot be first (a process resumed after a pause runs every overdue callback at once, a
    controller's perhaps before the watchdog's). What no check can fence is a pause between the
    check and the request leaving the process: Kubernetes has the same window.
    """

    def __init__(self, api: Any, is_leader: Callable[[], bool]):
        self._api = api
        self._is_leader = is_leader

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._api, name)
        if name not in _WRITES:
            return attr

        async def fenced(*args: Any, **kwargs: Any) -> Any:
            if not self._is_leader():
                raise NotLeader(f"{name}: this controller manager is not the leader any more")
            return await attr(*args, **kwargs)
        return fenced


# -- metrics -------------------------------------------------------------------------------------------

class Metrics:
    """Kubernetes' names where it has them (leader_election_master_status, workqueue_depth)."""

    def __init__(self, lease_name: str):
        self.registry = CollectorRegistry()
        self.leader = Gauge("leader_election_master_status", "1 while this process leads, else 0", ["name"],
                            registry=self.registry).labels(lease_name)
        self.depth = Gauge("workqueue_depth", "Keys ready to be synced, by controller", ["name"],
                           registry=self.registry)
        self.syncs = Counter("controller_syncs", "sync(key) calls by controller and result "
                             "(success, requeue, error)", ["controller", "result"], registry=self.registry)
        self.objects = Gauge("controller_informer_objects", "Objects in each shared informer's cache",
                             ["resource"], registry=self.registry)


# -- the manager ---------------------------------------------------------------------------------------

class ControllerManager:
    """The leading task (`lead`) and what the process needs to know about it."""

    def __init__(self, cfg: Config, api: Any, metrics: Metrics, is_leader: Callable[[], bool]):
        self.cfg = cfg
        self.api = api
        self.metrics = metrics
        self.is_leader = is_leader
        self.failed = asyncio.Event()       # a controller ended: the process must exit
        self.ctx: ControllerContext | None = None
        self.controllers: list[Controller] = []

    async def lead(self) -> None:
        """Make the controllers, start the informers, run the controllers; cancelled on a lost lease."""
        ctx = self.ctx = ControllerContext(FencedApi(self.api, self.is_leader), options=self.cfg.options)
        try:
            # Handlers first, informers after: no controller misses the first list's adds.
            self.controllers = [CONTROLLERS[name](ctx) for name in self.cfg.controllers]
            for c in self.controllers:
                self._instrument(c)
            await ctx.start_informers()
            log.info("%s: caches synced; running controllers %s", self.cfg.identity, ", ".join(self.cfg.controllers))
            async with asyncio.TaskGroup() as tg:
                for c in self.controllers:
                    tg.create_task(self._guard(c), name=f"controller-{c.name}")
        except asyncio.CancelledError:
            raise
        except BaseException:  # noqa: BLE001 - reported, then the process exits (see module doc)
            log.exception("%s: the controllers stopped", self.cfg.identity)
            self.failed.set()
        finally:
            self.controllers = []
            await ctx.close()

    @staticmethod
    async def _guard(c: Controller) -> None:
        await c.run()
        raise RuntimeError(f"the {c.name} controller stopped by itself")

    def _instrument(self, c: Controller) -> None:
        """Counts each sync's result (QueueControllers only: their worker calls `self.sync`)."""
        if not isinstance(c, QueueController):
            return
        sync, counter = c.sync, self.metrics.syncs

        async def counted(key: str):
            try:
                result = await sync(key)
            except asyncio.CancelledError:
                raise
            except BaseException:
                counter.labels(c.name, "error").inc()
                raise
            counter.labels(c.name, "requeue" if result is not None else "success").inc()
            return result
        c.sync = counted   # type: ignore[method-assign] - an instance attribute shadows the method

    def before_scrape(self) -> None:
        self.metrics.leader.set(1 if self.is_leader() else 0)
        for c in self.controllers:
            if isinstance(c, QueueController):
                self.metrics.depth.labels(c.name).set(len(c.queue))
        if self.ctx is not None:
            for resource, inf in list(self.ctx._informers.items()):
                self.metrics.objects.labels(resource).set(len(inf.store))


async def run(cfg: Config) -> int:
    loop = asyncio.get_running_loop()
    api = ApiClient(cfg.apiservers)
    metrics = Metrics(cfg.lease_name)
    stop, lost = asyncio.Event(), asyncio.Event()
    elector: LeaderElector | None = None

    def is_leader() -> bool:
        return elector.is_leader if elector is not None else True

    manager = ControllerManager(cfg, api, metrics, is_leader)
    if cfg.leader_elect:
        e = cfg.election
        # A renewal is a get and a write: each may take half the renew deadline.
        lock = ApiLeaseLock(api, cfg.lease_name, cfg.lease_namespace, timeout=e.renew_deadline / 2)
        elector = LeaderElector(lock, cfg.identity, lease_duration=e.lease_duration, renew_deadline=e.renew_deadline,
                                retry_period=e.retry_period, on_started_leading=manager.lead,
                                on_stopped_leading=lost.set,
                                on_new_leader=lambda who: log.info("%s: the leader is %s", cfg.identity, who))
        main = asyncio.ensure_future(elector.run())
        log.info("%s: campaigning for lease %s/%s via %s", cfg.identity, cfg.lease_namespace, cfg.lease_name,
                 ",".join(cfg.apiservers))
    else:
        main = asyncio.ensure_future(manager.lead())
        log.info("%s: leader election disabled; running controllers via %s", cfg.identity, ",".join(cfg.apiservers))

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    metrics_server = None
    if cfg.metrics:
        metrics_server = await serve_metrics(
            cfg.metrics[0], cfg.metrics[1], metrics.registry, before_scrape=manager.before_scrape,
            health=lambda: (True, "leading" if cfg.leader_elect and is_leader() else
                            "standby" if cfg.leader_elect else "running"))
        port = metrics_server.sockets[0].getsockname()[1]
        print(f"controller-manager metrics on {cfg.metrics[0]}:{port}", file=sys.stderr, flush=True)

    waits = [asyncio.ensure_future(x.wait()) for x in (stop, lost, manager.failed)]
    status = 0
    try:
        await asyncio.wait({main, *waits}, return_when=asyncio.FIRST_COMPLETED)
        if main.done() and not main.cancelled():
            main.result()               # elector.run() only ends by raising: let it
        if lost.is_set() and not stop.is_set():
            log.error("%s: leaderelection lost; exiting with status %d", cfg.identity, EXIT_LOST)
            status = EXIT_LOST
        elif manager.failed.is_set() and not stop.is_set():
            log.error("%s: a controller stopped; exiting with status %d", cfg.identity, EXIT_LOST)
            status = EXIT_LOST
        else:
            log.info("%s: stopping", cfg.identity)
    finally:
        for w in waits:
            w.cancel()
        if elector is not None and status != 0:
            # Not ours to release any more (or a broken process): let the lease expire, as Kubernetes.
            elector.release_on_cancel = False
        main.cancel()
        # Cancelling stops the controllers, flushes their Events and (on SIGTERM) releases the lease.
        done, _ = await asyncio.wait({main, *waits}, timeout=10.0 if status == 0 else 2.0)
        for t in done:
            if not t.cancelled() and t.exception() is not None and t is not main:
                log.warning("%s: %r", cfg.identity, t.exception())
        if metrics_server is not None:
            metrics_server.close()
        await api.close()
    log.info("%s: stopped", cfg.identity)
    return status


def main(argv: list[str] | None = None) -> int:
    return run_process(argv, config_from_args, run, ConfigError)
