"""A whole Skiff cluster of real processes on loopback, for the workload tests of issue 5.

    with Cluster(tmp_path, nodes=3) as c:          # or the `cluster` fixture (tests/conftest.py)
        c.skiff("apply", "-f", "-", stdin=yaml)    # the CLI, as a user runs it, against both apiservers
        c.api.get("deployments", "default", "web") # the typed API client, synchronous (ClusterClient)
        c.controller_leader().kill9()              # the manager the Lease names, kill -9
        c.kubelet.stop_heartbeat("hollow-1"); c.kubelet.add_nodes(1)

What runs: a ControlPlane (3 store members, 2 apiservers), two schedulers and two controller managers
(all leader-elected with short leases, so a standby takes over within seconds of a kill -9), and one
hollow kubelet hosting `nodes` nodes with fast heartbeats. The node lifecycle timings are short
(`grace`, `eviction`: 4 s each) so a node failure plays out within a test.

`start()` returns once every process is up: the store and apiservers serve, one scheduler and one
controller manager lead (their Leases name them and the leaders say so in their logs), the standbys
have seen them, and every hollow node is Ready. `stop()` stops every process it started, even when
`start()` failed half-way (SIGTERM, then SIGKILL after a grace period); `logs()` gathers the tail of
every log for the failure dump.

`Scheduler`, `ElectedControllerManager` and `HollowKubelet` are the single processes, usable alone.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Sequence

from client.api import ApiClient
from client.informer import Informer
from tests.harness.apiserver import ControlPlane
from tests.harness.controller import ControllerManager
from tests.harness.proc import Proc, wait_for

ROOT = Path(__file__).resolve().parents[2]

SCHEDULER_LEASE = ("kube-system", "skiff-scheduler")
CONTROLLER_LEASE = ("kube-system", "skiff-controller-manager")

# Leader election for both pairs: a standby takes over at most lease + retry after the leader's last
# renewal. Shorter leases flap on this shared 2-core machine (a controller manager that misses its
# renew deadline exits, as kube-controller-manager does).
LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD = 3.0, 2.0, 0.5
# Node lifecycle: Ready=Unknown `GRACE` s after the last heartbeat, pods deleted `EVICTION` s later.
GRACE, EVICTION = 4.0, 4.0

_SCHED_METRICS = re.compile(rb"scheduler metrics on ([\d.]+):(\d+)")
_CM_METRICS = re.compile(rb"controller-manager metrics on ([\d.]+):(\d+)")
_KUBELET_READY = re.compile(r"hollow kubelet: (\d+) nodes registered .*control (http://[\d.]+:\d+)")


def _offset(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _wait_up(c: "_Component", probe: Callable[[], object], timeout: float, what: str) -> None:
    """Until `probe()` is truthy; fails at once (with the log's tail) if the process exits meanwhile
    (wait_for would count the exit as "not yet" until its timeout)."""
    wait_for(lambda: not c.alive or probe(), timeout, what)
    c.check_alive()


class _Component:
    """One supervised process whose log tells when it is up; its log read from the latest start."""

    name: str
    log_path: Path
    proc: Proc | None = None
    _offset = 0

    def log(self) -> str:
        """This run's log (a restart's output only)."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._offset)
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def check_alive(self) -> bool:
        if self.proc is None or not self.proc.alive:
            code = self.proc.popen.returncode if self.proc and self.proc.popen else None
            raise AssertionError(f"{self.name} exited with {code}:\n{self.proc.log_tail() if self.proc else ''}")
        return True

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.alive

    def stop(self, grace: float = 5.0) -> int | None:
        return self.proc.stop(grace) if self.proc is not None else None

    def kill9(self) -> None:
        if self.proc is not None:
            self.proc.kill9()

    def logs(self, lines: int = 200) -> str:
        tail = self.proc.log_tail(lines) if self.proc else "(not started)"
        return f"===== {self.name} ({self.log_path}) =====\n{tail}"


class Scheduler(_Component):
    """`python -m scheduler`: leader-elected (short leases) unless `leader_elect=False`."""

    def __init__(self, base_dir: Path, apiservers: Sequence[str], name: str = "scheduler", *,
                 leader_elect: bool = True, lease: tuple[float, float, float] = (LEASE_DURATION, RENEW_DEADLINE,
                                                                                 RETRY_PERIOD),
                 extra_args: Sequence[str] = ()):
        self.name = name
        self.base_dir = Path(base_dir)
        self.apiservers = list(apiservers)
        self.leader_elect = leader_elect
        self.lease = lease
        self.extra_args = list(extra_args)
        self.log_path = self.base_dir / f"{name}.log"
        self.metrics_port = 0

    def launch(self) -> "Scheduler":
        self._offset = _offset(self.log_path)
        ld, rd, rp = self.lease
        args = ["--apiserver", ",".join(self.apiservers), "--identity", self.name,
                f"--leader-elect={'true' if self.leader_elect else 'false'}",
                "--lease-duration", f"{ld:g}", "--renew-deadline", f"{rd:g}", "--retry-period", f"{rp:g}",
                "--metrics-listen", "127.0.0.1:0", *self.extra_args]
        self.proc = Proc.python_module(self.name, "scheduler", args, self.log_path).start()
        return self

    def wait_started(self, timeout: float = 30.0) -> "Scheduler":
        """Until /metrics serves (the process is wired; it may be a standby)."""
        def serving():
            m = _SCHED_METRICS.search(self.log().encode())
            if m:
                self.metrics_port = int(m.group(2))
            return m
        _wait_up(self, serving, timeout, f"{self.name} to serve /metrics")
        return self

    def start(self, timeout: float = 30.0) -> "Scheduler":
        return self.launch().wait_started(timeout)

    def scheduling(self) -> bool:
        """True once this process has started a term (it leads, or runs without election)."""
        self.check_alive()
        return "scheduling as " in self.log()


class ElectedControllerManager(_Component, ControllerManager):
    """`python -m controller` with leader election on (short leases) and test-sized node lifecycle
    timings; `ControllerManager` (tests/harness/controller.py) is the unelected one."""

    def __init__(self, base_dir: Path, apiservers: Sequence[str], name: str = "controller-manager", *,
                 controllers: str = "*", lease: tuple[float, float, float] = (LEASE_DURATION, RENEW_DEADLINE,
                                                                              RETRY_PERIOD),
                 grace: float = GRACE, eviction: float = EVICTION, extra_args: Sequence[str] = ()):
        super().__init__(base_dir, list(apiservers), controllers, name=name, extra_args=list(extra_args))
        self.lease = lease
        self.grace, self.eviction = grace, eviction

    def launch(self) -> "ElectedControllerManager":
        self._offset = _offset(self.log_path)
        ld, rd, rp = self.lease
        args = ["--apiserver", ",".join(self.apiservers), "--controllers", self.controllers,
                "--leader-elect=true", "--identity", self.name,
                "--lease-duration", f"{ld:g}s", "--renew-deadline", f"{rd:g}s", "--retry-period", f"{rp:g}s",
                "--node-monitor-grace-period", f"{self.grace:g}s", "--pod-eviction-timeout", f"{self.eviction:g}s",
                "--metrics-listen", "127.0.0.1:0", *self.extra_args]
        self.proc = Proc.python_module(self.name, "controller", args, self.log_path).start()
        return self

    def wait_started(self, timeout: float = 30.0) -> "ElectedControllerManager":
        """Until /metrics serves (the process campaigns; it may be a standby)."""
        def serving():
            m = _CM_METRICS.search(self.log().encode())
            if m:
                self.metrics_port = int(m.group(2))
            return m
        _wait_up(self, serving, timeout, f"{self.name} to serve /metrics")
        return self

    def start(self, timeout: float = 30.0) -> "ElectedControllerManager":
        return self.launch().wait_started(timeout)

    def running(self) -> bool:
        """True once this manager leads and its controllers run on synced caches."""
        self.check_alive()
        return f"{self.name}: caches synced; running controllers" in self.log()

    def sees_leader(self, leader: str) -> bool:
        self.check_alive()
        return f"{self.name}: the leader is {leader}" in self.log()


class HollowKubelet(_Component):
    """`python -m kubelet --hollow` hosting `nodes` nodes named `<prefix><i>`, with fast heartbeats
    (Lease renewed every `renew_interval` s, status computed every second) and its control endpoint."""

    def __init__(self, base_dir: Path, apiservers: Sequence[str], name: str = "kubelet", *, nodes: int = 3,
                 prefix: str = "hollow-", cpu: str = "4", memory: str = "8Gi", pods: int = 110,
                 ready_delay: float = 0.5, stop_delay: float = 0.3, renew_interval: float = 0.5,
                 lease_duration: int = 4, extra_args: Sequence[str] = ()):
        self.name = name
        self.base_dir = Path(base_dir)
        self.apiservers = list(apiservers)
        self.nodes, self.prefix = nodes, prefix
        self.cpu, self.memory, self.pods = cpu, memory, pods
        self.ready_delay, self.stop_delay = ready_delay, stop_delay
        self.renew_interval, self.lease_duration = renew_interval, lease_duration
        self.extra_args = list(extra_args)
        self.log_path = self.base_dir / f"{name}.log"
        self.url = ""

    def node_names(self) -> list[str]:
        """The nodes hosted at start (`add_nodes` hosts more)."""
        return [f"{self.prefix}{i}" for i in range(self.nodes)]

    def launch(self) -> "HollowKubelet":
        self._offset = _offset(self.log_path)
        args = ["--hollow", "--apiserver", ",".join(self.apiservers), "--nodes", str(self.nodes),
                "--name-prefix", self.prefix, "--cpu", self.cpu, "--memory", self.memory, "--pods", str(self.pods),
                "--ready-delay", f"{self.ready_delay:g}", "--stop-delay", f"{self.stop_delay:g}",
                "--lease-duration", str(self.lease_duration), "--renew-interval", f"{self.renew_interval:g}",
                "--node-status-update-frequency", "1", "--control-listen", "127.0.0.1:0", *self.extra_args]
        self.proc = Proc.python_module(self.name, "kubelet", args, self.log_path).start()
        return self

    def wait_started(self, timeout: float = 60.0) -> "HollowKubelet":
        """Until the process reports every start node registered and leased."""
        def ready():
            m = _KUBELET_READY.search(self.log())
            if m:
                self.url = m.group(2)
            return m
        _wait_up(self, ready, timeout, f"{self.name} to report its {self.nodes} nodes registered")
        return self

    def start(self, timeout: float = 60.0) -> "HollowKubelet":
        return self.launch().wait_started(timeout)

    # -- the control endpoint (kubelet/README.md) -------------------------------------------------
    def call(self, method: str, path: str, timeout: float = 30.0) -> tuple[int, dict]:
        req = urllib.request.Request(self.url + path, method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def _ok(self, method: str, path: str, expect: tuple[int, ...] = (200,)) -> dict:
        status, body = self.call(method, path)
        if status not in expect:
            raise AssertionError(f"{method} {path} on {self.name}'s control endpoint: {status} {body}")
        return body

    def stop_heartbeat(self, node: str) -> dict:
        """Partition `node`: no Lease renewal, no status, no pod write (returns once none is in flight)."""
        return self._ok("POST", f"/nodes/{node}/stop-heartbeat")

    def start_heartbeat(self, node: str) -> dict:
        return self._ok("POST", f"/nodes/{node}/start-heartbeat")

    def add_nodes(self, count: int = 1, wait: float = 20.0) -> list[str]:
        """Host `count` more nodes; their names, once registered and leased."""
        body = self._ok("POST", f"/nodes?count={count}&wait={wait:g}", expect=(201,))
        return [n["name"] for n in body["nodes"]]

    def node_state(self, node: str) -> dict:
        return self._ok("GET", f"/nodes/{node}")


class ClusterClient:
    """`client.api.ApiClient` on a private event loop in a daemon thread, for synchronous tests.

    `get`, `list`, `create`, `update`, `delete` block for the answer; `informer(kind, ns, **handlers)`
    runs an Informer on that loop (handlers are called on the loop's thread: they must only record).
    """

    def __init__(self, endpoints: Sequence[str]):
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="cluster-client", daemon=True)
        self._thread.start()
        self._tasks: list[asyncio.Future] = []

        async def make() -> ApiClient:
            return ApiClient(list(endpoints))
        self.api: ApiClient = self.run(make())

    def run(self, coro, timeout: float = 60.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def get(self, kind: str, namespace: str, name: str):
        return self.run(self.api.get(kind, namespace, name))

    def list(self, kind: str, namespace: str = "", **selectors) -> list:
        items, _ = self.run(self.api.list(kind, namespace, **selectors))
        return items

    def create(self, obj):
        return self.run(self.api.create(obj))

    def update(self, obj):
        return self.run(self.api.update(obj))

    def delete(self, kind: str, namespace: str, name: str, **kw):
        return self.run(self.api.delete(kind, namespace, name, **kw))

    def informer(self, kind: str, namespace: str = "", *, on_add: Callable | None = None,
                 on_update: Callable | None = None, on_delete: Callable | None = None,
                 sync_timeout: float = 30.0) -> Informer:
        """A running Informer with these handlers (registered before its first list); returns once synced."""
        async def start() -> Informer:
            inf = Informer(self.api, kind, namespace)
            inf.add_handler(on_add=on_add, on_update=on_update, on_delete=on_delete)
            self._tasks.append(asyncio.ensure_future(inf.run()))
            await inf.wait_for_sync(sync_timeout)
            return inf
        return self.run(start(), timeout=sync_timeout + 5)

    def close(self) -> None:
        async def shut() -> None:
            for t in self._tasks:
                t.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self.api.close()
        try:
            self.run(shut(), timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)


def skiff_argv() -> list[str]:
    """The CLI as installed in the virtualenv (`.venv/bin/skiff`), else `python -m cli`."""
    exe = ROOT / ".venv" / "bin" / "skiff"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "cli"]


class Cluster:
    """The processes of issue 5's acceptance tests; see the module docstring."""

    kind = "cluster"

    def __init__(self, base_dir: Path, *, nodes: int = 3, schedulers: int = 2, controller_managers: int = 2,
                 kubelet_args: dict | None = None, controller_args: Sequence[str] = (),
                 scheduler_args: Sequence[str] = (), grace: float = GRACE, eviction: float = EVICTION):
        self.base_dir = Path(base_dir)
        self.control_plane = ControlPlane(self.base_dir / "cp", apiservers=2)
        self.grace, self.eviction = grace, eviction
        self._n_schedulers, self._n_managers = schedulers, controller_managers
        self._scheduler_args, self._controller_args = list(scheduler_args), list(controller_args)
        self._kubelet_args = dict(kubelet_args or {})
        self._nodes = nodes
        self.schedulers: list[Scheduler] = []
        self.controller_managers: list[ElectedControllerManager] = []
        self.kubelet: HollowKubelet | None = None
        self.api: ClusterClient | None = None

    def __enter__(self) -> "Cluster":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def endpoints(self) -> list[str]:
        return self.control_plane.endpoints

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> None:
        self.control_plane.start()
        eps, d = self.endpoints, self.base_dir
        self.kubelet = HollowKubelet(d, eps, nodes=self._nodes, **self._kubelet_args)
        self.schedulers = [Scheduler(d, eps, f"scheduler-{i + 1}", extra_args=self._scheduler_args)
                           for i in range(self._n_schedulers)]
        self.controller_managers = [ElectedControllerManager(d, eps, f"cm-{i + 1}", grace=self.grace,
                                                             eviction=self.eviction, extra_args=self._controller_args)
                                    for i in range(self._n_managers)]
        # Launch everything at once (each Python process takes a second or two to import on this
        # machine), then wait for each to report.
        for p in (self.kubelet, *self.schedulers, *self.controller_managers):
            p.launch()
        self.api = ClusterClient(eps)
        self.kubelet.wait_started(timeout)
        for p in (*self.schedulers, *self.controller_managers):
            p.wait_started(timeout)
        self.wait_leaders(timeout)
        wait_for(lambda: self.ready_nodes() >= set(self.kubelet.node_names()), timeout,
                 f"nodes {', '.join(self.kubelet.node_names())} to be Ready")

    def stop(self) -> None:
        """Every process, whatever state start() reached; each is stopped even if another fails to."""
        errors: list[BaseException] = []
        if self.api is not None:
            try:
                self.api.close()
            except BaseException as e:  # noqa: BLE001 - the processes must still be stopped
                errors.append(e)
            self.api = None
        for p in (*self.controller_managers, *self.schedulers, self.kubelet):
            if p is None:
                continue
            try:
                p.stop(grace=3.0)
            except BaseException as e:  # noqa: BLE001
                errors.append(e)
        self.control_plane.stop()
        if errors:
            raise errors[0]

    # -- leaders -------------------------------------------------------------------------------------
    def lease_holder(self, lease: tuple[str, str]) -> str:
        try:
            return self.api.get("leases", *lease).spec.holder_identity
        except Exception:  # noqa: BLE001 - no Lease yet
            return ""

    def scheduler_leader(self) -> Scheduler | None:
        holder = self.lease_holder(SCHEDULER_LEASE)
        return next((s for s in self.schedulers if s.name == holder and s.alive), None)

    def controller_leader(self) -> ElectedControllerManager | None:
        """The manager the Lease names (None while no live manager holds it)."""
        holder = self.lease_holder(CONTROLLER_LEASE)
        return next((m for m in self.controller_managers if m.name == holder and m.alive), None)

    def wait_leaders(self, timeout: float = 60.0) -> tuple[Scheduler | None, ElectedControllerManager | None]:
        """Until a scheduler and a controller manager lead and run, and the live standbys know them."""
        sched = cm = None
        if self.schedulers:
            def scheduler_leads():
                s = self.scheduler_leader()
                return s if s is not None and s.scheduling() else None
            sched = wait_for(scheduler_leads, timeout, "a scheduler to hold the Lease and schedule")
        if self.controller_managers:
            def manager_runs():
                m = self.controller_leader()
                return m if m is not None and m.running() else None
            cm = wait_for(manager_runs, timeout, "a controller manager to hold the Lease and run its controllers")
            for other in self.controller_managers:
                if other is not cm and other.alive:
                    wait_for(lambda: other.sees_leader(cm.name), timeout, f"{other.name} to see {cm.name} lead")
        return sched, cm

    # -- nodes ---------------------------------------------------------------------------------------
    def ready_nodes(self) -> set[str]:
        out = set()
        for n in self.api.list("nodes"):
            if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions):
                out.add(n.metadata.name)
        return out

    # -- the CLI -------------------------------------------------------------------------------------
    def skiff_env(self) -> dict:
        env = dict(os.environ, SKIFFCONFIG=str(self.base_dir / "no-skiff-config"))
        env.pop("SKIFF_SERVER", None)
        return env

    def skiff(self, *args: str, stdin: str | None = None, timeout: float = 60.0) -> subprocess.CompletedProcess:
        """`skiff --server API1,API2 ARGS...` as a user runs it: the completed process (text)."""
        return subprocess.run([*skiff_argv(), "--server", ",".join(self.endpoints), *args], capture_output=True,
                              text=True, input=stdin, timeout=timeout, cwd=ROOT, env=self.skiff_env())

    def skiff_ok(self, *args: str, stdin: str | None = None, timeout: float = 60.0) -> str:
        """`skiff ...` that must exit 0: its stdout."""
        r = self.skiff(*args, stdin=stdin, timeout=timeout)
        if r.returncode != 0:
            raise AssertionError(f"skiff {' '.join(args)} exited {r.returncode}:\n{r.stdout}{r.stderr}")
        return r.stdout

    # -- logs ----------------------------------------------------------------------------------------
    def logs(self) -> str:
        parts = [self.control_plane.logs()]
        for p in (*self.schedulers, *self.controller_managers, self.kubelet):
            if p is not None:
                parts.append(p.logs())
        return "\n".join(parts)
