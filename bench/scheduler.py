"""Scheduler benchmark (Kubernetes' scheduler_perf idea, end to end): hollow nodes, thousands of pods,
how fast they are bound and how soon they all run.

    .venv/bin/python bench/scheduler.py [--nodes 100] [--pods 3000] [--apiservers 1] [--clients 32]
                                        [--bind-concurrency 64] [--workers 32] [--ready-delay 0.5]
                                        [--cpu 32 --memory 64Gi --max-pods 110] [--request-cpu 10m]
                                        [--request-memory 16Mi] [--via pods] [--backlog] [--timeout 120]
                                        [--runs 1] [--py-spy DIR | --cprofile DIR] [--keep]

Starts a 3-member store and `--apiservers` apiservers (tests/harness ControlPlane), one scheduler
(`python -m scheduler --leader-elect=false`), one hollow kubelet hosting `--nodes` nodes
(`python -m kubelet --hollow`, each node `--cpu`/`--memory`/`--max-pods`, the kubelet's default
lease timings), and waits until every node is registered and in the scheduler's cache. Then, in a
fresh namespace, it creates `--pods` pods (one container, requests `--request-cpu` and
`--request-memory`), unowned, as scheduler_perf does (`--via deployment`: one Deployment of that many
replicas instead, through a controller manager running the deployment and replicaset controllers),
from `--clients` concurrent grpc.aio creates. A Watch on the namespace's pods, opened before the
first create, times each pod: create sent -> seen bound (spec.nodeName set) -> seen Running. With
`--backlog`, every pod is created before the scheduler starts, so that its throughput is the
scheduler draining a queue (scheduler_perf's apiserver is in-process and creates far faster than
the scheduler binds; here creating shares the apiserver and the two cores with binding).

Prints: creates/s; time to schedule all (first create -> last bind); scheduling throughput, overall
(pods / (first create -> last bind)) and over whole 1 s windows from the first to the last bind
(average, median, p90, p99, as scheduler_perf's SchedulingThroughput); time until all Running (first
create -> last Running); p50/p99/max of create->bound and create->Running; pods per node (max/min);
the Events written; the scheduler's algorithm time (its metrics); apiserver requests and store RPCs
per pod (their metrics); CPU seconds of every process over the measured phase (utime+stime from
/proc/<pid>/stat, the bench itself included), the whole machine's busy CPU seconds over the same
phase from /proc/stat (what this run's processes did not use is other load: this is a shared
machine), and the load average before and after. Then PASS/FAIL against the targets: >= 300 pods/s
scheduled (overall) and all pods Running within 30 s of the first create; with `--runs N`, N whole
runs on fresh clusters, one line each, and the targets judged on the medians.

Profiling: `--py-spy DIR` records every process with py-spy over the measured phase (raw collapsed
stacks; BENCH_PY_SPY_NATIVE=1 adds C frames), `--cprofile DIR` runs every process under cProfile
(slower; where the time goes, not the figures).

No reference system runs beside it: Kubernetes' kube-scheduler is not installable here. Its
published scheduler_perf figures are quoted in docs/PERFORMANCE.md, labelled as not measured here.
Every process and temporary directory is removed at the end, on failure and on SIGTERM too
(`--keep`: keep the directories and their logs). Exit status 1 when a target fails.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import os
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import grpc
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from client import kinds  # noqa: E402
from client.codec import from_dict  # noqa: E402
from skiffpb.api.v1 import api_pb2, api_pb2_grpc  # noqa: E402
from skiffpb.k8s.apps.v1 import apps_pb2  # noqa: E402
from skiffpb.k8s.core.v1 import core_pb2  # noqa: E402
from tests.harness import ControlPlane, Proc, free_port, wait_for  # noqa: E402

SCHEDULED_PER_S = 300.0
ALL_RUNNING_S = 30.0
CHANNEL_OPTIONS = [("grpc.max_receive_message_length", 256 << 20), ("grpc.use_local_subchannel_pool", 1)]
CLK_TCK = os.sysconf("SC_CLK_TCK")
_SCHED_METRICS = re.compile(rb"scheduler metrics on ([\d.]+):(\d+)")
_KUBELET_READY = re.compile(rb"hollow kubelet: (\d+) nodes registered")


def pct(xs, p: float) -> float:
    """The p-quantile of `xs`; NaN when there is nothing to rank."""
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def cpu_seconds(pid: int | str) -> float:
    """utime + stime of a process (all its threads), from /proc/<pid>/stat; NaN once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy since boot, all cores (/proc/stat: everything but
    idle and iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / CLK_TCK


def loadavg() -> str:
    return "load average %.2f %.2f %.2f (1/5/15 min)" % os.getloadavg()


def scrape(port: int) -> dict[tuple, float]:
    """Every sample of a /metrics endpoint: (name, sorted label pairs) -> value; {} if it cannot be read."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return {}
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def counts(before: dict, after: dict, name: str, *keys: str) -> collections.Counter:
    """How much each counter `name` moved between two scrapes, summed by the label values `keys`."""
    out: collections.Counter = collections.Counter()
    for (n, labels), v in after.items():
        if n == name:
            d = dict(labels)
            out[tuple(d.get(k, "") for k in keys)] += v - before.get((n, labels), 0.0)
    return out


def metric(port: int, sample: str, labels: str = "") -> float:
    """One sample of the scheduler's /metrics, e.g. ('scheduler_cache_size', 'type="nodes"')."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    want = f"{sample}{{{labels}}}" if labels else sample
    for line in text.splitlines():
        if line.startswith(want + " "):
            return float(line.rsplit(" ", 1)[1])
    raise KeyError(want)


# -- objects ------------------------------------------------------------------------------------------
def namespace(name: str) -> api_pb2.Object:
    return kinds.wrap(from_dict(core_pb2.Namespace, {"apiVersion": "v1", "kind": "Namespace",
                                                     "metadata": {"name": name}}))


def pod_template(args) -> dict:
    return {"metadata": {"labels": {"app": "bench"}},
            "spec": {"containers": [{"name": "app", "image": "registry.example/pause:3.2",
                                     "resources": {"requests": {"cpu": args.request_cpu,
                                                                "memory": args.request_memory}}}]}}


def pod(ns: str, name: str, args) -> api_pb2.Object:
    t = pod_template(args)
    t["metadata"].update(name=name, namespace=ns)
    return kinds.wrap(from_dict(core_pb2.Pod, {"apiVersion": "v1", "kind": "Pod", **t}))


def deployment(ns: str, name: str, args) -> api_pb2.Object:
    return kinds.wrap(from_dict(apps_pb2.Deployment, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
        "spec": {"replicas": args.pods, "selector": {"matchLabels": {"app": "bench"}},
                 "template": pod_template(args)}}))


# -- processes ----------------------------------------------------------------------------------------
class Components:
    """The scheduler and the hollow kubelet (and py-spy recorders), beside a ControlPlane."""

    def __init__(self, base: Path, cp: ControlPlane, args):
        self.base, self.cp, self.args = base, cp, args
        self.scheduler: Proc | None = None
        self.kubelet: Proc | None = None
        self.sched_port = 0
        self.spies: list[Proc] = []

    def start_kubelet(self) -> None:
        a = self.args
        argv = ["--hollow", "--apiserver", ",".join(self.cp.endpoints), "--nodes", str(a.nodes),
                "--cpu", a.cpu, "--memory", a.memory, "--pods", str(a.max_pods), "--workers", str(a.workers),
                "--ready-delay", str(a.ready_delay)]
        self.kubelet = Proc.python_module("kubelet", "kubelet", argv, self.base / "kubelet.log").start()

        def ready():
            if not self.kubelet.alive:
                raise AssertionError(f"the hollow kubelet exited:\n{self.kubelet.log_tail()}")
            return _KUBELET_READY.search(self.kubelet.log_path.read_bytes())
        wait_for(ready, 120, f"the hollow kubelet to register {a.nodes} nodes", interval=0.2)

    def start_scheduler(self) -> None:
        a = self.args
        argv = ["--apiserver", ",".join(self.cp.endpoints), "--leader-elect=false", "--identity", "bench-scheduler",
                "--metrics-listen", "127.0.0.1:0", "--bind-concurrency", str(a.bind_concurrency)]
        self.scheduler = Proc.python_module("scheduler", "scheduler", argv, self.base / "scheduler.log").start()

        def listening():
            if not self.scheduler.alive:
                raise AssertionError(f"the scheduler exited:\n{self.scheduler.log_tail()}")
            m = _SCHED_METRICS.search(self.scheduler.log_path.read_bytes())
            if m:
                self.sched_port = int(m.group(2))
            return m
        wait_for(listening, 60, "the scheduler to serve /metrics", interval=0.1)

    def wait_scheduler_nodes(self) -> None:
        wait_for(lambda: metric(self.sched_port, "scheduler_cache_size", 'type="nodes"') >= self.args.nodes,
                 60, f"the scheduler's cache to hold {self.args.nodes} nodes", interval=0.1)

    def scrape_all(self) -> dict[str, dict]:
        """The apiservers' and the store members' metrics, each summed over its processes."""
        out: dict[str, dict] = {"api": {}, "store": {}}
        for group, ports in (("api", [a.metrics_port for a in self.cp.apiservers]),
                             ("store", [m.metrics_port for m in self.cp.store.members])):
            for port in ports:
                for k, v in (scrape(port) if port else {}).items():
                    out[group][k] = out[group].get(k, 0.0) + v
        return out

    def pids(self) -> dict[str, int]:
        """name -> pid of every process of this run."""
        out = {m.name: m.proc.pid for m in self.cp.store.members}
        out.update({a.name: a.proc.pid for a in self.cp.apiservers})
        if self.cp.controller_manager is not None and self.cp.controller_manager.proc is not None:
            out["controller-manager"] = self.cp.controller_manager.proc.pid
        if self.scheduler is not None:
            out["scheduler"] = self.scheduler.pid
        if self.kubelet is not None:
            out["kubelet"] = self.kubelet.pid
        return out

    def start_spies(self) -> None:
        """py-spy (raw collapsed stacks) on each component, from now until stop_spies()."""
        out = Path(self.args.py_spy)
        out.mkdir(parents=True, exist_ok=True)
        spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
        if spy is None:
            print("py-spy not found: no profiles", flush=True)
            return
        for name, pid in self.pids().items():
            # BENCH_PY_SPY_NATIVE=1: C frames too (py-spy then stops the process for each sample)
            native = ["--native"] if os.environ.get("BENCH_PY_SPY_NATIVE") else ["--nonblocking"]
            p = Proc(f"py-spy-{name}", [spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "100",
                                        *native, "-o", str(out / f"{name}.txt")],
                     self.base / f"py-spy-{name}.log").start()
            self.spies.append(p)

    def stop_spies(self) -> None:
        for p in self.spies:
            if p.alive:
                p.popen.send_signal(signal.SIGINT)         # py-spy writes its file on SIGINT
        for p in self.spies:
            try:
                p.popen.wait(20)
            except Exception:  # noqa: BLE001 - a recorder that hangs is killed; the run goes on
                p.stop(grace=1)
        if self.spies:
            print(f"py-spy profiles in {self.args.py_spy}", flush=True)

    def stop(self) -> None:
        for p in self.spies:
            p.stop(grace=1)
        for p in (self.scheduler, self.kubelet):
            if p is not None:
                p.stop()


# -- the measured run ---------------------------------------------------------------------------------
class Timeline:
    """What the watch saw, per pod name: first seen, first seen bound (and where), first seen Running."""

    def __init__(self):
        self.seen: dict[str, float] = {}
        self.bound: dict[str, float] = {}
        self.node: dict[str, str] = {}
        self.running: dict[str, float] = {}
        self.all_running = asyncio.Event()
        self.target = 0

    def observe(self, p: core_pb2.Pod, now: float) -> None:
        name = p.metadata.name
        self.seen.setdefault(name, now)
        if p.spec.node_name and name not in self.bound:
            self.bound[name] = now
            self.node[name] = p.spec.node_name
        if p.status.phase == "Running" and name not in self.running:
            self.running[name] = now
            if len(self.running) >= self.target:
                self.all_running.set()


async def watch_pods(stub, ns: str, rv: str, tl: Timeline, ready: asyncio.Event) -> None:
    call = stub.Watch(api_pb2.WatchRequest(resource="pods", namespace=ns, resource_version=rv))
    ready.set()
    try:
        async for batch in call:
            now = time.perf_counter()
            for ev in batch.events:
                if ev.type == "ERROR":
                    raise RuntimeError(f"watch ended: {ev.status.message}")
                if ev.type in ("ADDED", "MODIFIED"):
                    tl.observe(ev.object.pod, now)
    finally:
        call.cancel()


async def create_all(stubs, reqs: list[api_pb2.CreateRequest], clients: int, sent: dict[str, float],
                     acked: dict[str, float], errors: list[str]) -> None:
    nxt = iter(range(len(reqs)))

    async def worker(w: int):
        stub = stubs[w % len(stubs)]
        for i in nxt:
            req = reqs[i]
            name = req.object.pod.metadata.name
            for attempt in range(5):
                sent.setdefault(name, time.perf_counter())
                try:
                    await stub.Create(req, timeout=30)
                    break
                except grpc.aio.AioRpcError as e:
                    if e.code() == grpc.StatusCode.ALREADY_EXISTS:
                        break                              # an earlier attempt landed after all
                    errors.append(f"{name}: {e.code().name}: {e.details()}")
                    if attempt == 4:
                        return
                    await asyncio.sleep(0.2 * 2 ** attempt)
            acked[name] = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(clients)))


async def measure(cp: ControlPlane, comps: Components, args) -> dict:
    channels = [grpc.aio.insecure_channel(a.endpoint, options=CHANNEL_OPTIONS) for a in cp.apiservers]
    stubs = [api_pb2_grpc.ApiStub(ch) for ch in channels]
    ns = f"bench-sched-{os.getpid()}"
    r: dict = {"ns": ns}
    try:
        await stubs[0].Create(api_pb2.CreateRequest(object=namespace(ns)), timeout=10)
        start = await stubs[0].List(api_pb2.ListRequest(resource="pods", namespace=ns), timeout=10)
        tl = Timeline()
        tl.target = args.pods
        opened = asyncio.Event()
        watcher = asyncio.create_task(watch_pods(stubs[-1], ns, start.metadata.resource_version, tl, opened))
        await opened.wait()
        await asyncio.sleep(0.2)                   # the stream is registered before the first create

        # Built before the measured phase: the bench's own CPU then counts only sending and watching.
        reqs = [api_pb2.CreateRequest(object=pod(ns, f"pod-{i:05d}", args)) for i in range(args.pods)]
        pids = comps.pids()
        if args.py_spy:
            comps.start_spies()
        scrapes0 = comps.scrape_all()
        cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
        cpu0["bench"] = cpu_seconds("self")
        busy0, wall0 = machine_busy_seconds(), time.perf_counter()
        r["load before"] = os.getloadavg()
        print(f"== measuring: {loadavg()}", flush=True)

        sent: dict[str, float] = {}
        acked: dict[str, float] = {}
        errors: list[str] = []
        t0 = time.perf_counter()
        if args.via == "deployment":
            sent["deployment"] = t0
            await stubs[0].Create(api_pb2.CreateRequest(object=deployment(ns, "bench", args)), timeout=30)
            acked["deployment"] = time.perf_counter()
        else:
            t0 = time.perf_counter()
            await create_all(stubs, reqs, args.clients, sent, acked, errors)
        t_created = time.perf_counter()
        r["create s"] = t_created - t0
        r["create errors"] = errors
        if args.backlog:
            print(f"   {len(acked)} pods created in {t_created - t0:.1f} s; starting the scheduler", flush=True)
            t_sched = time.perf_counter()
            await asyncio.to_thread(comps.start_scheduler)   # the watch keeps timing meanwhile
            pids = comps.pids()
            cpu0["scheduler"] = 0.0                # a fresh process: all its CPU is this phase's
            r["scheduler start"] = t_sched
        try:
            await asyncio.wait_for(tl.all_running.wait(), args.timeout)
        except asyncio.TimeoutError:
            print(f"   timed out after {args.timeout:.0f} s: {len(tl.bound)} bound, {len(tl.running)} Running",
                  flush=True)
        t_end = time.perf_counter()
        cpu1 = {name: cpu_seconds(pid) for name, pid in pids.items()}
        cpu1["bench"] = cpu_seconds("self")
        busy1, wall1 = machine_busy_seconds(), time.perf_counter()
        scrapes1 = comps.scrape_all()
        r["load after"] = os.getloadavg()
        if args.py_spy:
            comps.stop_spies()
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)

        r.update(t0=t0, t_end=t_end, sent=sent, acked=acked, tl=tl,
                 cpu={n: cpu1[n] - cpu0.get(n, 0.0) for n in cpu1}, busy=busy1 - busy0, wall=wall1 - wall0,
                 requests=counts(scrapes0["api"], scrapes1["api"], "apiserver_request_total", "verb", "resource"),
                 store_rpcs=counts(scrapes0["store"], scrapes1["store"], "grpc_server_handled_total", "grpc_method"))
        # Events are written behind the binds (queued, 4 writers): give them a moment to land.
        r["events"] = await count_events(stubs[0], ns)
        dropped = re.findall(rb"\((\d+) dropped so far\)", comps.scheduler.log_path.read_bytes())
        r["events dropped"] = f">= {int(dropped[-1])}" if dropped else "none"
        if comps.sched_port:
            try:
                r["algorithm sum"] = metric(comps.sched_port, "scheduler_scheduling_algorithm_duration_seconds_sum")
                r["algorithm count"] = metric(comps.sched_port, "scheduler_scheduling_algorithm_duration_seconds_count")
            except (OSError, KeyError):
                pass
        return r
    finally:
        for ch in channels:
            await ch.close()


async def count_events(stub, ns: str, settle: float = 1.0, limit: float = 15.0) -> collections.Counter:
    """Events in the namespace by reason, once their number has not moved for `settle` s."""
    last, since, give_up = None, time.perf_counter(), time.perf_counter() + limit
    while True:
        resp = await stub.List(api_pb2.ListRequest(resource="events", namespace=ns), timeout=30)
        counts = collections.Counter(o.event.reason for o in resp.items)
        total = sum(counts.values())
        if total != last:
            last, since = total, time.perf_counter()
        elif time.perf_counter() - since >= settle or time.perf_counter() > give_up:
            return counts
        await asyncio.sleep(0.25)


# -- figures ------------------------------------------------------------------------------------------
def windows(times: list[float], start: float, end: float) -> list[int]:
    """How many of `times` fall in each whole 1 s window from `start` up to `end`."""
    n = int(end - start)
    counts = [0] * n
    for t in times:
        i = int(t - start)
        if 0 <= i < n:
            counts[i] += 1
    return counts


def report(r: dict, args) -> dict:
    tl: Timeline = r["tl"]
    t0 = r["t0"]
    f: dict = {}
    sent = r["sent"]
    created = len(r["acked"]) if args.via == "pods" else len(tl.seen)
    f["created"] = created
    print("\n== figures", flush=True)
    if args.via == "pods":
        f["creates/s"] = created / r["create s"] if r["create s"] else float("nan")
        print(f"{'creates':44} {created:6d} pods in {r['create s']:6.2f} s = {f['creates/s']:6.0f} creates/s "
              f"({args.clients} in flight over {args.apiservers} apiserver(s)); {len(r['create errors'])} errors",
              flush=True)
        for e in r["create errors"][:3]:
            print(f"   {e}", flush=True)
        start_of = sent
    else:
        print(f"{'deployment created':44} pods appeared over {max(tl.seen.values(), default=t0) - t0:6.2f} s",
              flush=True)
        start_of = tl.seen                          # a pod's birth: when the watch first saw it
    bound = sorted(tl.bound.values())
    running = sorted(tl.running.values())
    f["bound"], f["running"] = len(bound), len(running)
    origin = r.get("scheduler start", t0)
    if bound:
        f["schedule all s"] = bound[-1] - t0
        f["overall /s"] = len(bound) / (bound[-1] - t0)
        w = windows(bound, bound[0], bound[-1])
        f["window avg"] = statistics.fmean(w) if w else float("nan")
        f["window p50"], f["window p90"], f["window p99"] = pct(w, 0.5), pct(w, 0.9), pct(w, 0.99)
        print(f"{'time to schedule all (first create -> last bind)':44} {f['schedule all s']:6.2f} s "
              f"({len(bound)}/{args.pods} bound; first bind {bound[0] - t0:.2f} s)", flush=True)
        print(f"{'scheduling throughput, overall':44} {f['overall /s']:6.0f} pods/s  (bound / (first create -> "
              f"last bind))", flush=True)
        if args.backlog:
            f["backlog /s"] = len(bound) / (bound[-1] - origin)
            f["drain /s"] = len(bound) / (bound[-1] - bound[0]) if len(bound) > 1 else float("nan")
            print(f"{'  from scheduler start (process start too)':44} {f['backlog /s']:6.0f} pods/s; first bind "
                  f"{bound[0] - origin:.2f} s after start, then {f['drain /s']:.0f} pods/s to the last", flush=True)
        print(f"{'scheduling throughput, 1 s windows':44} avg {f['window avg']:5.0f}  p50 {f['window p50']:5.0f}  "
              f"p90 {f['window p90']:5.0f}  p99 {f['window p99']:5.0f} pods/s  ({len(w)} whole windows from "
              f"first to last bind: {' '.join(map(str, w))})", flush=True)
    if running:
        f["all running s"] = running[-1] - t0
        print(f"{'time until all Running (first create -> last)':44} {f['all running s']:6.2f} s "
              f"({len(running)}/{args.pods} Running)", flush=True)
    lat_b = [tl.bound[n] - start_of[n] for n in tl.bound if n in start_of]
    lat_r = [tl.running[n] - start_of[n] for n in tl.running if n in start_of]
    what = "create sent" if args.via == "pods" else "first seen"
    for label, lat in ((f"{what} -> bound", lat_b), (f"{what} -> Running", lat_r)):
        print(f"{'latency ' + label:44} p50 {pct(lat, 0.5):6.2f} s  p99 {pct(lat, 0.99):6.2f} s  "
              f"max {max(lat, default=float('nan')):6.2f} s", flush=True)
    f["bound p50"], f["bound p99"] = pct(lat_b, 0.5), pct(lat_b, 0.99)
    f["running p50"], f["running p99"] = pct(lat_r, 0.5), pct(lat_r, 0.99)
    per_node = collections.Counter(tl.node.values())
    counts = [per_node.get(f"hollow-{i}", 0) for i in range(args.nodes)]
    f["per node"] = (max(counts), min(counts)) if counts else (0, 0)
    over = [n for n, c in per_node.items() if c > args.max_pods]
    print(f"{'pods per node':44} max {max(counts)}  min {min(counts)}  (ideal {args.pods / args.nodes:.0f}; "
          f"{len(per_node)} nodes used{'; OVER CAPACITY: ' + ', '.join(over) if over else ''})", flush=True)
    ev = r["events"]
    f["events"] = dict(ev)
    missing = len(bound) - ev.get("Scheduled", 0)
    print(f"{'Events in the namespace, by reason':44} "
          + (", ".join(f"{k} {v}" for k, v in sorted(ev.items())) or "none")
          + (f"  ({missing} bound pods have no Scheduled Event: dropped by the scheduler's full event queue, "
             f"{r.get('events dropped', '?')} by its log)" if missing > 0 else ""), flush=True)
    if r.get("algorithm count"):
        per = r["algorithm sum"] / r["algorithm count"] * 1000
        f["algorithm ms"] = per
        print(f"{'scheduler: schedule() per attempt (metrics)':44} {per:6.2f} ms mean over "
              f"{r['algorithm count']:.0f} attempts", flush=True)
    reqs = r["requests"]
    n = max(1, args.pods)
    f["requests"] = {" ".join(k): v for k, v in reqs.items() if v}
    print(f"{'apiserver requests (per pod)':44} " + ", ".join(
        f"{verb} {res} {v:.0f} ({v / n:.2f})".replace("  ", " ")
        for (verb, res), v in sorted(reqs.items(), key=lambda kv: -kv[1])
        if v and verb != "WATCH"), flush=True)
    rpcs = r["store_rpcs"]
    f["store rpcs"] = {k[0]: v for k, v in rpcs.items() if v}
    print(f"{'store RPCs, all members (per pod)':44} " + ", ".join(
        f"{m} {v:.0f} ({v / n:.2f})" for (m,), v in sorted(rpcs.items(), key=lambda kv: -kv[1]) if v), flush=True)
    cpu = r["cpu"]
    ours = sum(v for v in cpu.values() if v == v)
    f["cpu"] = cpu
    print(f"{'CPU seconds over the measured phase':44} "
          + ", ".join(f"{n} {v:.2f}" for n, v in cpu.items()) + f"; total {ours:.2f}", flush=True)
    other = max(0.0, r["busy"] - ours)     # /proc ticks are 10 ms per process: a tiny negative is 0
    f["machine busy"], f["other"], f["wall"] = r["busy"], other, r["wall"]
    cores = os.cpu_count() or 1
    print(f"{'machine busy CPU seconds, same phase':44} {r['busy']:.2f} of {r['wall'] * cores:.2f} "
          f"({cores} cores x {r['wall']:.2f} s); not this run's processes: {other:.2f} "
          f"({other / r['wall']:.2f} cores on average)", flush=True)
    lb, la = r["load before"], r["load after"]
    f["load"] = (lb, la)
    print(f"{'load average (1/5/15 min)':44} before {lb[0]:.2f} {lb[1]:.2f} {lb[2]:.2f}, "
          f"after {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}", flush=True)
    return f


def verdicts(f: dict, args) -> bool:
    print("\n== targets", flush=True)
    rate = f.get("overall /s", float("nan"))
    ok1 = rate >= SCHEDULED_PER_S and f.get("bound") == args.pods
    print(f"{'pods scheduled per second (overall)':44} {rate:6.0f} pods/s  target >= {SCHEDULED_PER_S:.0f}  "
          f"{'PASS' if ok1 else 'FAIL'}", flush=True)
    t = f.get("all running s", float("nan"))
    ok2 = t <= ALL_RUNNING_S and f.get("running") == args.pods
    print(f"{f'all {args.pods} pods Running (first create -> last)':44} {t:6.2f} s       target <= "
          f"{ALL_RUNNING_S:.0f} s  {'PASS' if ok2 else 'FAIL'}", flush=True)
    print(f"{'machine':44} {loadavg()} at the end; {f.get('other', float('nan')):.2f} CPU s of other "
          f"processes during the {f.get('wall', float('nan')):.1f} s measured", flush=True)
    return ok1 and ok2


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=100, help="hollow nodes (one kubelet process), named hollow-<i>")
    ap.add_argument("--pods", type=int, default=3000, help="pods to create")
    ap.add_argument("--apiservers", type=int, default=1)
    ap.add_argument("--clients", type=int, default=32, help="creates in flight")
    ap.add_argument("--bind-concurrency", type=int, default=64, help="the scheduler's --bind-concurrency")
    ap.add_argument("--workers", type=int, default=32, help="the hollow kubelet's --workers")
    ap.add_argument("--ready-delay", type=float, default=0.5, help="the hollow kubelet's --ready-delay, s")
    ap.add_argument("--cpu", default="32", help="cpu capacity of each node")
    ap.add_argument("--memory", default="64Gi", help="memory capacity of each node")
    ap.add_argument("--max-pods", type=int, default=110, help="pods capacity of each node")
    ap.add_argument("--request-cpu", default="10m")
    ap.add_argument("--request-memory", default="16Mi")
    ap.add_argument("--via", choices=["pods", "deployment"], default="pods",
                    help="create the pods directly, unowned (default), or as one Deployment through a "
                         "controller manager (deployment and replicaset controllers)")
    ap.add_argument("--backlog", action="store_true",
                    help="create every pod first, then start the scheduler (its drain rate alone)")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for every pod to be Running")
    ap.add_argument("--py-spy", metavar="DIR", help="record py-spy profiles (raw collapsed stacks, 100 Hz) of "
                                                   "every process over the measured phase")
    ap.add_argument("--cprofile", metavar="DIR", help="run every process under cProfile (slower: for where "
                                                     "the time goes, not for the figures)")
    ap.add_argument("--runs", type=int, default=1, help="whole runs, each on a fresh cluster; with more than "
                                                        "one, the targets are judged on the medians")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directories (logs)")
    args = ap.parse_args()
    if args.nodes < 1 or args.pods < 1 or args.runs < 1:
        ap.error("--nodes, --pods and --runs must be at least 1")
    if args.pods > args.nodes * args.max_pods:
        ap.error(f"--pods {args.pods} cannot fit on {args.nodes} nodes of --max-pods {args.max_pods}")
    if args.backlog and args.via != "pods":
        ap.error("--backlog needs --via pods")

    def on_term(signum, frame):
        raise SystemExit(128 + signum)          # unwinds through the finally below: nothing is left behind
    signal.signal(signal.SIGTERM, on_term)

    if args.cprofile:
        profile_processes(Path(args.cprofile))
    t_start = time.perf_counter()
    print(f"== {loadavg()}; {os.cpu_count()} cores", flush=True)
    runs = []
    for i in range(args.runs):
        if args.runs > 1:
            print(f"\n==== run {i + 1} of {args.runs}", flush=True)
        runs.append(run_once(args))
    ok = summary(runs, args) if args.runs > 1 else runs[0].get("ok", False)
    print(f"total {time.perf_counter() - t_start:.0f} s", flush=True)
    return 0 if ok else 1


def profile_processes(out: Path) -> None:
    """Every process this bench starts runs under cProfile, writing out/<name>.prof when it exits
    (SIGTERM ends each one through its normal exit path, so the profile is written)."""
    out.mkdir(parents=True, exist_ok=True)
    plain = Proc.python_module.__func__

    def profiled(cls, name, module, args, log_path, **kw):
        proc = plain(cls, name, module, args, log_path, **kw)
        proc.argv = [sys.executable, "-m", "cProfile", "-o", str(out / f"{name}.prof"), "-m", module, *args]
        return proc
    Proc.python_module = classmethod(profiled)
    print(f"cProfile: every process writes {out}/<name>.prof (python -m pstats to read)", flush=True)


def run_once(args) -> dict:
    """One whole run in a fresh temporary directory: processes up, measured, torn down, whatever happens."""
    tmp = Path(tempfile.mkdtemp(prefix="skiff-bench-sched-"))
    controllers = "deployment,replicaset" if args.via == "deployment" else None
    cp = ControlPlane(tmp, apiservers=args.apiservers, controllers=controllers)
    for m in cp.store.members:
        m.metrics_port = free_port()             # store RPC counts (grpc_server_handled_total)
    comps = Components(tmp, cp, args)
    t_start = time.perf_counter()
    f: dict = {}
    try:
        print(f"== starting 3 store members, {args.apiservers} apiserver(s)"
              + (", a controller manager" if controllers else ""), flush=True)
        cp.start()
        print(f"== starting the hollow kubelet ({args.nodes} nodes: cpu {args.cpu}, memory {args.memory}, "
              f"pods {args.max_pods}) and the scheduler (--bind-concurrency {args.bind_concurrency})", flush=True)
        comps.start_kubelet()
        if not args.backlog:
            comps.start_scheduler()
            comps.wait_scheduler_nodes()
        print(f"   ready after {time.perf_counter() - t_start:.1f} s", flush=True)
        r = asyncio.run(measure(cp, comps, args))
        pids = comps.pids()
        print("   pids: " + ", ".join(f"{n} {p}" for n, p in pids.items()), flush=True)
        f = report(r, args)
        f["ok"] = verdicts(f, args)
    finally:
        comps.stop()
        cp.stop()
        if args.keep:
            print(f"logs kept in {tmp}", flush=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return f


def summary(runs: list[dict], args) -> bool:
    """Each run in one line, then the targets judged on the medians."""
    print(f"\n== {len(runs)} runs", flush=True)
    print(f"{'run':>3} {'creates/s':>9} {'overall/s':>9} {'window p50':>10} {'bound s':>8} {'Running s':>9} "
          f"{'bound p99':>9} {'our CPU s':>9} {'other CPU s':>11} {'other cores':>11}", flush=True)
    for i, f in enumerate(runs, 1):
        ours = sum(v for v in f.get("cpu", {}).values() if v == v)
        wall = f.get("wall", float("nan"))
        print(f"{i:3d} {f.get('creates/s', float('nan')):9.0f} {f.get('overall /s', float('nan')):9.0f} "
              f"{f.get('window p50', float('nan')):10.0f} {f.get('schedule all s', float('nan')):8.2f} "
              f"{f.get('all running s', float('nan')):9.2f} {f.get('bound p99', float('nan')):9.2f} {ours:9.2f} "
              f"{f.get('other', float('nan')):11.2f} {f.get('other', float('nan')) / wall:11.2f}", flush=True)

    def med(key):
        xs = [f[key] for f in runs if key in f and f[key] == f[key]]
        return statistics.median(xs) if xs else float("nan")
    rate, running = med("overall /s"), med("all running s")
    complete = all(f.get("bound") == args.pods and f.get("running") == args.pods for f in runs)
    ok1, ok2 = rate >= SCHEDULED_PER_S and complete, running <= ALL_RUNNING_S and complete
    print(f"\n== targets (medians of {len(runs)} runs)", flush=True)
    passing = sum(1 for f in runs if f.get("overall /s", 0) >= SCHEDULED_PER_S)
    print(f"{'pods scheduled per second (overall)':44} {rate:6.0f} pods/s  target >= {SCHEDULED_PER_S:.0f}  "
          f"{'PASS' if ok1 else 'FAIL'}  (runs at or above: {passing}/{len(runs)})", flush=True)
    print(f"{f'all {args.pods} pods Running (first create -> last)':44} {running:6.2f} s       target <= "
          f"{ALL_RUNNING_S:.0f} s  {'PASS' if ok2 else 'FAIL'}", flush=True)
    print(f"{'machine':44} {loadavg()} at the end", flush=True)
    return ok1 and ok2


if __name__ == "__main__":
    raise SystemExit(main())
