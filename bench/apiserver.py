"""API server benchmark: create, get, list and watch against a 3-member store and N apiservers.

    .venv/bin/python bench/apiserver.py [--apiservers 1] [--clients 16] [--seq 300] [--list-size 1000]
                                        [--watchers 1000] [--rates 100,10,1] [--watch-seconds 10]

Phases, each in a fresh namespace of ~1 KB ConfigMaps, all through the gRPC API (grpc.aio clients):
- create: sequential, then `--clients` concurrent clients creating `--list-size` objects (creates/s,
  p50/p99); those objects are what the later phases read and watch;
- get: sequential, then `--clients` concurrent clients for `--duration` seconds;
- list: the namespace of `--list-size` objects, resourceVersion "" (consistent) and "0" (cache);
- watch: `--watchers` Watch streams on the namespace's configmaps while a writer updates its objects
  at each of `--rates` writes/s for `--watch-seconds`; each update carries its send time
  (time.time_ns()) in `data.sent`, and delivery latency is receive time minus send time over every
  (watcher, event) pair. Two shapes (--watch-shapes): broadcast, every stream watches every
  object (each write is delivered to every stream, as to kube-proxies watching Endpoints), and
  selective, stream i selects label shard=i (each write reaches the one stream that selects its
  object, as each kubelet watches its own node's pods). Every watcher must receive every write the
  store applied that it selects, once: any shortfall or duplicate is printed. Each rate runs first with 1 watcher, and the apiservers' CPU
  seconds (/proc/<pid>/stat utime+stime) of the two runs are compared, in total and per write: the
  watch cache is meant to make 1,000 watchers cost little more than one.
Prints one line per figure, then PASS/FAIL against the targets: mutating p99 <= 50 ms, watch
delivery p99 <= 100 ms (Kubernetes' SLO for mutating calls is 1 s). A phase that fails prints its
error and the run goes on; a failed watch phase is retried once with a quarter of the watchers.

The writer runs on its own thread with a synchronous channel and futures (open loop: a write every
1/rate s whether or not the previous one returned, 10 s timeout), so a busy asyncio loop of 1,000
watchers does not slow the write rate down. The client shares the machine with the store and the
apiservers; its own CPU seconds are printed beside theirs, because on a small machine it is part of
what is measured.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from client import kinds  # noqa: E402
from client.codec import from_dict  # noqa: E402
from skiffpb.api.v1 import api_pb2, api_pb2_grpc  # noqa: E402
from skiffpb.k8s.core.v1 import core_pb2  # noqa: E402
from tests.harness import ControlPlane  # noqa: E402

MUTATING_P99_MS = 50.0
WATCH_P99_MS = 100.0
K8S_MUTATING_SLO_MS = 1000.0
# A local subchannel pool gives each channel its own TCP connection (grpc otherwise shares one
# connection between channels with the same target and arguments).
CHANNEL_OPTIONS = [("grpc.max_receive_message_length", 256 << 20), ("grpc.use_local_subchannel_pool", 1)]
CLK_TCK = os.sysconf("SC_CLK_TCK")
PRIMER = "primer"


def pct(xs, p: float) -> float:
    """The p-quantile of `xs` (seconds) in ms; NaN when there is nothing to rank."""
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] * 1000


def cpu_seconds(pid: int | str) -> float:
    """utime + stime of a process (all its threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def namespace(name: str) -> api_pb2.Object:
    return kinds.wrap(from_dict(core_pb2.Namespace, {"apiVersion": "v1", "kind": "Namespace",
                                                     "metadata": {"name": name}}))


def config_map(ns: str, name: str, size: int, shard: str = "") -> api_pb2.Object:
    """A ConfigMap whose encoding is about `size` bytes once the server has added uid and timestamps.
    `shard` is a label the selective watchers select on."""
    labels = {"app": "bench", "shard": shard} if shard else {"app": "bench"}
    data = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns,
                                                                  "labels": labels},
            "data": {"payload": ""}}
    bare = from_dict(core_pb2.ConfigMap, data).ByteSize()
    data["data"]["payload"] = "x" * max(0, size - bare - 100)  # ~100 B: uid, creationTimestamp, rv
    return kinds.wrap(from_dict(core_pb2.ConfigMap, data))


def figure(name: str, n: int, dt: float, lat: list[float], unit: str = "ops/s") -> dict:
    r = {"n": n, "rate": n / dt if dt else 0.0, "p50": pct(lat, 0.5), "p99": pct(lat, 0.99), "unit": unit}
    print(f"{name:46} {r['rate']:8.0f} {unit:9} p50 {r['p50']:7.2f} ms  p99 {r['p99']:7.2f} ms  (n={n})",
          flush=True)
    return r


class Bench:
    def __init__(self, cp: ControlPlane, args):
        self.cp = cp
        self.args = args
        self.channels = [grpc.aio.insecure_channel(a.endpoint, options=CHANNEL_OPTIONS) for a in cp.apiservers]
        self.stubs = [api_pb2_grpc.ApiStub(ch) for ch in self.channels]
        self.run_id = f"{os.getpid()}-{random.randrange(1 << 16):04x}"
        self.results: dict[str, dict] = {}
        self.objects: dict[str, api_pb2.Object] = {}    # the list namespace's objects, by name
        self.ns_list = f"bench-list-{self.run_id}"
        self.primer: api_pb2.Object | None = None       # written once before each watch phase

    def stub(self, i: int = 0) -> api_pb2_grpc.ApiStub:
        return self.stubs[i % len(self.stubs)]

    async def close(self):
        for ch in self.channels:
            await ch.close()

    # -- create --------------------------------------------------------------------------------
    async def create_sequential(self):
        ns = f"bench-seq-{self.run_id}"
        await self.stub().Create(api_pb2.CreateRequest(object=namespace(ns)), timeout=10)
        await self.stub().Create(api_pb2.CreateRequest(object=config_map(ns, "warmup", self.args.object_bytes)),
                                 timeout=10)
        lat = []
        t0 = time.perf_counter()
        for i in range(self.args.seq):
            req = api_pb2.CreateRequest(object=config_map(ns, f"cm-{i:05d}", self.args.object_bytes))
            t = time.perf_counter()
            await self.stub().Create(req, timeout=10)
            lat.append(time.perf_counter() - t)
        self.results["create sequential"] = figure("create sequential", len(lat), time.perf_counter() - t0, lat,
                                                   "creates/s")

    async def create_concurrent(self):
        ns = self.ns_list
        await self.stub().Create(api_pb2.CreateRequest(object=namespace(ns)), timeout=10)
        n, clients = self.args.list_size, self.args.clients
        reqs = [api_pb2.CreateRequest(object=config_map(ns, f"cm-{i:05d}", self.args.object_bytes, str(i)))
                for i in range(n)]
        lat: list[float] = []
        errors: list[str] = []
        nxt = iter(range(n))

        async def worker(w: int):
            for i in nxt:
                t = time.perf_counter()
                try:
                    obj = await self.stub(w).Create(reqs[i], timeout=10)
                except grpc.aio.AioRpcError as e:
                    errors.append(f"{e.code().name}: {e.details()}")
                    continue
                lat.append(time.perf_counter() - t)
                self.objects[obj.config_map.metadata.name] = obj
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(clients)))
        dt = time.perf_counter() - t0
        self.results[f"create {clients} clients"] = figure(f"create {clients} clients", len(lat), dt, lat,
                                                           "creates/s")
        if errors:
            print(f"  {len(errors)} creates failed, first: {errors[0]}", flush=True)
        size = next(iter(self.objects.values())).ByteSize() if self.objects else 0
        print(f"  objects: {len(self.objects)} ConfigMaps of {size} B encoded in namespace {ns}", flush=True)

    # -- get and list ---------------------------------------------------------------------------
    async def _names(self) -> list[str]:
        if not self.objects:  # the create phase failed: read back whatever is there
            resp = await self.stub().List(api_pb2.ListRequest(resource="configmaps", namespace=self.ns_list),
                                          timeout=30)
            self.objects = {o.config_map.metadata.name: o for o in resp.items}
        if not self.objects:
            raise RuntimeError(f"namespace {self.ns_list} holds no ConfigMaps")
        return sorted(self.objects)

    async def get_sequential(self):
        names = await self._names()
        rng = random.Random(1)
        lat = []
        t0 = time.perf_counter()
        for _ in range(self.args.seq):
            req = api_pb2.GetRequest(resource="configmaps", namespace=self.ns_list, name=rng.choice(names))
            t = time.perf_counter()
            await self.stub().Get(req, timeout=10)
            lat.append(time.perf_counter() - t)
        self.results["get sequential"] = figure("get sequential", len(lat), time.perf_counter() - t0, lat)

    async def get_concurrent(self):
        names = await self._names()
        lat: list[float] = []
        stop_at = time.perf_counter() + self.args.duration

        async def worker(w: int):
            rng = random.Random(w)
            while time.perf_counter() < stop_at:
                req = api_pb2.GetRequest(resource="configmaps", namespace=self.ns_list, name=rng.choice(names))
                t = time.perf_counter()
                await self.stub(w).Get(req, timeout=10)
                lat.append(time.perf_counter() - t)
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(self.args.clients)))
        name = f"get {self.args.clients} clients"
        self.results[name] = figure(name, len(lat), time.perf_counter() - t0, lat)

    async def list_sequential(self, rv: str):
        names = await self._names()
        req = api_pb2.ListRequest(resource="configmaps", namespace=self.ns_list, resource_version=rv)
        await self.stub().List(req, timeout=30)
        lat = []
        items = 0
        t0 = time.perf_counter()
        for _ in range(self.args.lists):
            t = time.perf_counter()
            resp = await self.stub().List(req, timeout=30)
            lat.append(time.perf_counter() - t)
            items = len(resp.items)
        if items != len(names):
            print(f"  list returned {items} items, expected {len(names)}", flush=True)
        label = f'list {items} objects rv="{rv}" ({"consistent" if rv == "" else "cache"})'
        self.results[label] = figure(label, len(lat), time.perf_counter() - t0, lat, "lists/s")

    # -- watch ----------------------------------------------------------------------------------
    async def quiesce(self, timeout: float = 30.0) -> None:
        """Waits until the apiserver's configmaps cache stops moving (late writes of an overloaded
        earlier phase have landed), so that one phase's backlog is not charged to the next."""
        last, since = None, time.perf_counter()
        give_up = time.perf_counter() + timeout
        while time.perf_counter() < give_up:
            resp = await self.stub().List(api_pb2.ListRequest(resource="configmaps", namespace=self.ns_list,
                                                              resource_version="0", limit=1), timeout=30)
            if resp.metadata.resource_version != last:
                last, since = resp.metadata.resource_version, time.perf_counter()
            elif time.perf_counter() - since >= 1.0:
                return
            await asyncio.sleep(0.1)

    async def watch(self, watchers: int, rate: float, shape: str = "broadcast") -> dict:
        """`watchers` Watch streams while a writer thread updates the namespace's objects at `rate`/s.

        broadcast: every stream watches every ConfigMap of the namespace, so each write goes to all
        of them (as every kube-proxy watches every Endpoints object). selective: stream i selects
        the labels `shard in (i, primer)`, so each write goes to the one stream that selects its
        object (as each kubelet watches the pods bound to its node)."""
        args = self.args
        names = await self._names()
        ns = self.ns_list
        await self.quiesce()
        phase = f"{shape}-{watchers}@{rate:g}-{time.time_ns()}"   # events of other phases' late writes are ignored
        start = await self.stub().List(api_pb2.ListRequest(resource="configmaps", namespace=ns, resource_version="0",
                                                           limit=1), timeout=30)
        rv = start.metadata.resource_version
        counts: collections.Counter = collections.Counter()   # (name, rv) -> watchers that received it
        lat: list[float] = []
        primed = [0]
        all_primed = asyncio.Event()
        ended: list[str] = []
        watch_channels = [grpc.aio.insecure_channel(self.cp.apiservers[i % len(self.cp.apiservers)].endpoint,
                                                    options=CHANNEL_OPTIONS)
                          for i in range(max(1, min(args.watch_channels, watchers)))]
        watch_stubs = [api_pb2_grpc.ApiStub(ch) for ch in watch_channels]
        calls = []

        def fan(name: str) -> int:
            """How many streams select object `name`."""
            if shape == "broadcast":
                return watchers
            shard = self.objects[name].config_map.metadata.labels.get("shard", "")
            return 1 if shard.isdigit() and int(shard) < watchers else 0

        async def watcher(i: int):
            selector = f"shard in ({i},{PRIMER})" if shape == "selective" else ""
            call = watch_stubs[i % len(watch_stubs)].Watch(
                api_pb2.WatchRequest(resource="configmaps", namespace=ns, resource_version=rv,
                                     label_selector=selector))
            calls.append(call)
            try:
                async for msg in call:
                    now = time.time_ns()
                    for ev in msg.events:
                        if ev.type == "ERROR":
                            ended.append(f"watcher {i}: ERROR {ev.status.reason}: {ev.status.message}")
                            return
                        if ev.type != "MODIFIED":
                            continue
                        cm = ev.object.config_map
                        if cm.data.get("phase") != phase:
                            continue
                        sent = cm.data.get("sent")
                        if sent:
                            lat.append((now - int(sent)) / 1e9)
                            counts[(cm.metadata.name, cm.metadata.resource_version)] += 1
                        elif cm.metadata.name == PRIMER:
                            primed[0] += 1
                            if primed[0] == watchers:
                                all_primed.set()
                ended.append(f"watcher {i}: stream ended by the server")
            except grpc.aio.AioRpcError as e:
                if e.code() != grpc.StatusCode.CANCELLED:
                    ended.append(f"watcher {i}: {e.code().name}: {e.details()}")

        tasks = [asyncio.create_task(watcher(i)) for i in range(watchers)]
        try:
            # Prime: one write that every watcher must see before timing starts, so that every stream
            # is open and subscribed (they start from `rv`, so nothing is missed either way).
            t = time.perf_counter()
            primer = self.primer
            primer.config_map.data["phase"] = phase
            await self.stub().Update(api_pb2.UpdateRequest(object=primer), timeout=10)
            try:
                await asyncio.wait_for(all_primed.wait(), args.drain)
            except asyncio.TimeoutError:
                print(f"  only {primed[0]} of {watchers} watchers open after {args.drain:.0f} s", flush=True)
            open_s = time.perf_counter() - t

            pids = [a.proc.pid for a in self.cp.apiservers]
            store_pids = [m.proc.pid for m in self.cp.store.members]
            cpu0 = ([cpu_seconds(p) for p in pids], sum(cpu_seconds(p) for p in store_pids), cpu_seconds("self"))
            t0 = time.perf_counter()
            writer = Writer(self.cp.apiservers[0].endpoint, [self.objects[n] for n in names], rate,
                            args.watch_seconds, phase)
            thread = threading.Thread(target=writer.run, name="bench-writer", daemon=True)
            thread.start()
            while thread.is_alive():
                await asyncio.sleep(0.05)
            write_s = time.perf_counter() - t0

            short_why = ""
            # Drain: until every watcher has every write the store applied (acknowledged, or seen by
            # any watcher although its Update timed out), or nothing moves for 5 s.
            def delivered() -> tuple[int, int]:
                applied = writer.acked | counts.keys()
                return sum(min(counts[k], fan(k[0])) for k in applied), sum(fan(k[0]) for k in applied)
            last, last_move = -1, time.perf_counter()
            while True:
                got, expected = delivered()
                if got >= expected:
                    break
                if got != last:
                    last, last_move = got, time.perf_counter()
                if time.perf_counter() - last_move > 5:
                    short_why = "then nothing arrived for 5 s"
                    break
                if time.perf_counter() - t0 > args.watch_seconds + args.drain:
                    short_why = f"still arriving when the wait ended, {args.drain:g} s after the writes"
                    break
                await asyncio.sleep(0.05)
            phase_s = time.perf_counter() - t0
            cpu1 = ([cpu_seconds(p) for p in pids], sum(cpu_seconds(p) for p in store_pids), cpu_seconds("self"))
        finally:
            for c in calls:
                c.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for ch in watch_channels:
                await ch.close()

        applied = writer.acked | counts.keys()
        got, expected = delivered()
        dup = sum(max(0, counts[k] - fan(k[0])) for k in applied)
        unacked = len(applied - writer.acked)
        r = {
            "watchers": watchers, "rate": rate, "shape": shape, "open s": open_s, "acked": len(writer.acked),
            "applied": len(applied), "unacked applied": unacked, "write errors": writer.errors,
            "write rate": len(writer.acked) / write_s if write_s else 0.0, "phase s": phase_s,
            "update p50": pct(writer.latencies, 0.5), "update p99": pct(writer.latencies, 0.99),
            "delivered": got, "expected": expected, "duplicates": dup,
            "p50": pct(lat, 0.5), "p99": pct(lat, 0.99), "max": max(lat) * 1000 if lat else float("nan"),
            "apiserver cpu": sum(b - a for a, b in zip(cpu0[0], cpu1[0])),
            "store cpu": cpu1[1] - cpu0[1], "client cpu": cpu1[2] - cpu0[2], "ended": ended,
        }
        w = f"{watchers:4} {shape} @ {rate:g}/s"
        print(f"watch {w:20} writes acknowledged {r['acked']} ({r['write rate']:.0f}/s), {r['write errors']} failed"
              + (f" ({unacked} of them applied all the same)" if unacked else "")
              + f"; update p50 {r['update p50']:.2f} ms p99 {r['update p99']:.2f} ms", flush=True)
        print(f"watch {w:20} delivery p50 {r['p50']:8.2f} ms  p99 {r['p99']:8.2f} ms  max {r['max']:8.2f} ms  "
              f"events {got}/{expected}" + (f" SHORT by {expected - got} ({short_why})" if got < expected else "")
              + (f", {dup} duplicates" if dup else ""), flush=True)
        cpw = r["apiserver cpu"] / r["applied"] * 1000 if r["applied"] else float("nan")
        print(f"watch {w:20} CPU s over {phase_s:.1f} s: apiserver {r['apiserver cpu']:.2f} ({cpw:.1f} ms/write), "
              f"stores {r['store cpu']:.2f}, bench client {r['client cpu']:.2f}; streams open in {open_s:.1f} s",
              flush=True)
        for line in ended[:5]:
            print(f"  {line}", flush=True)
        if len(ended) > 5:
            print(f"  ... and {len(ended) - 5} more watch streams ended early", flush=True)
        return r

    async def make_primer(self):
        obj = config_map(self.ns_list, PRIMER, 200)
        obj.config_map.metadata.labels["app"] = "bench-primer"
        obj.config_map.metadata.labels["shard"] = PRIMER
        self.primer = await self.stub().Create(api_pb2.CreateRequest(object=obj), timeout=10)
        self.primer.config_map.metadata.ClearField("resource_version")


class Writer:
    """Open-loop updates of `objects`, round robin, `rate` per second for `seconds`, from one thread.

    Updates are unconditional (no resourceVersion), as Kubernetes allows for ConfigMaps; each object
    is written at most once per len(objects)/rate seconds, so they never race each other."""

    def __init__(self, endpoint: str, objects: list[api_pb2.Object], rate: float, seconds: float, phase: str):
        self.endpoint = endpoint
        self.templates = []
        for o in objects:
            t = api_pb2.Object()
            t.CopyFrom(o)
            t.config_map.metadata.ClearField("resource_version")
            t.config_map.data["phase"] = phase
            self.templates.append(t)
        self.rate = rate
        self.seconds = seconds
        self.acked: set[tuple[str, str]] = set()
        self.latencies: list[float] = []
        self.errors = 0
        self._lock = threading.Lock()

    def run(self) -> None:
        with grpc.insecure_channel(self.endpoint, options=CHANNEL_OPTIONS) as ch:
            update = api_pb2_grpc.ApiStub(ch).Update
            futures = []
            n = int(self.rate * self.seconds)
            t0 = time.perf_counter()
            for i in range(n):
                delay = t0 + i / self.rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                obj = self.templates[i % len(self.templates)]
                obj.config_map.data["sent"] = str(time.time_ns())
                # future() serializes the request before it returns, so the template can change next.
                fut = update.future(api_pb2.UpdateRequest(object=obj), timeout=10)
                fut.add_done_callback(self._done(time.perf_counter()))
                futures.append(fut)
            for f in futures:
                try:
                    f.result()
                except grpc.RpcError:
                    pass

    def _done(self, t: float):
        def callback(fut):
            dt = time.perf_counter() - t
            try:
                cm = fut.result().config_map
            except grpc.RpcError:
                with self._lock:
                    self.errors += 1
                return
            with self._lock:
                self.latencies.append(dt)
                self.acked.add((cm.metadata.name, cm.metadata.resource_version))
        return callback


async def run_suite(cp: ControlPlane, args) -> dict:
    b = Bench(cp, args)
    phases = [("create sequential", b.create_sequential), ("create concurrent", b.create_concurrent),
              ("get sequential", b.get_sequential), ("get concurrent", b.get_concurrent),
              ('list rv=""', lambda: b.list_sequential("")), ('list rv="0"', lambda: b.list_sequential("0")),
              ("watch primer", b.make_primer)]
    try:
        for name, phase in phases:
            try:
                await phase()
            except Exception as e:  # noqa: BLE001 - a benchmark reports a failed phase and goes on
                print(f"{name}: FAILED {type(e).__name__}: {e}", flush=True)
        if b.primer is None:
            return b.results
        runs = [(rate, shape, watchers) for rate in args.rates for shape in args.watch_shapes
                for watchers in (sorted({1, args.watchers}) if shape == "broadcast" else [args.watchers])]
        for rate, shape, watchers in runs:
            try:
                b.results[f"watch {shape} {watchers}@{rate:g}"] = await b.watch(watchers, rate, shape)
            except Exception as e:  # noqa: BLE001
                print(f"watch {shape} {watchers} @ {rate:g}/s: FAILED {type(e).__name__}: {e}", flush=True)
                if watchers >= 8:
                    print(f"watch: retrying with {watchers // 4} watchers", flush=True)
                    try:
                        b.results[f"watch {shape} {watchers // 4}@{rate:g}"] = await b.watch(watchers // 4, rate, shape)
                    except Exception as e2:  # noqa: BLE001
                        print(f"watch {shape} {watchers // 4} @ {rate:g}/s: FAILED {type(e2).__name__}: {e2}",
                              flush=True)
    finally:
        await b.close()
    return b.results


def watchers_label(r: dict) -> str:
    n = r["watchers"]
    return f"{n} {r['shape']} watcher{'s' if n != 1 else ''}"


def verdicts(results: dict) -> None:
    print("\n== targets", flush=True)

    def line(what: str, value: float, target: float, slo: float | None = None):
        ok = value <= target  # NaN (no data) fails
        extra = f"   (Kubernetes SLO {slo:.0f} ms: {'met' if value <= slo else 'missed'})" if slo else ""
        print(f"{what:62} p99 {value:8.2f} ms  target <= {target:3.0f} ms  {'PASS' if ok else 'FAIL'}{extra}",
              flush=True)
    for name, r in results.items():
        if name.startswith("create"):
            line(f"mutating: {name}", r["p99"], MUTATING_P99_MS, K8S_MUTATING_SLO_MS)
    watches = [r for n, r in results.items() if n.startswith("watch")]
    for r in watches:
        line(f"mutating: update, {watchers_label(r)} @ {r['rate']:g}/s", r["update p99"], MUTATING_P99_MS,
             K8S_MUTATING_SLO_MS)
    for r in watches:
        line(f"watch delivery, {watchers_label(r)} @ {r['rate']:g}/s", r["p99"], WATCH_P99_MS)
        complete = r["delivered"] >= r["expected"] and not r["duplicates"]
        print(f"{'':62} every watcher got every event once (within the wait): {'PASS' if complete else 'FAIL'} "
              f"({r['delivered']}/{r['expected']}, {r['duplicates']} duplicates)", flush=True)
    for rate in sorted({r["rate"] for r in watches}, reverse=True):
        same = sorted((r for r in watches if r["rate"] == rate and r["shape"] == "broadcast"),
                      key=lambda r: r["watchers"])
        if len(same) < 2 or same[0]["watchers"] != 1 or not same[0]["apiserver cpu"]:
            continue
        one, many = same[0], same[-1]
        per_one = one["apiserver cpu"] / max(1, one["applied"])
        per_many = many["apiserver cpu"] / max(1, many["applied"])
        print(f"apiserver CPU @ {rate:g} writes/s: {many['watchers']} watchers {many['apiserver cpu']:.2f} s vs "
              f"1 watcher {one['apiserver cpu']:.2f} s, ratio {many['apiserver cpu'] / one['apiserver cpu']:.2f}; "
              f"per applied write {per_many * 1000:.1f} vs {per_one * 1000:.1f} ms, ratio {per_many / per_one:.1f}",
              flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--apiservers", type=int, default=1)
    ap.add_argument("--clients", type=int, default=16, help="concurrent asyncio clients for create and get")
    ap.add_argument("--seq", type=int, default=300, help="requests per sequential create and get phase")
    ap.add_argument("--duration", type=float, default=5.0, help="seconds of concurrent gets")
    ap.add_argument("--list-size", type=int, default=1000, help="ConfigMaps created concurrently, listed, watched")
    ap.add_argument("--lists", type=int, default=20, help="lists per resourceVersion")
    ap.add_argument("--object-bytes", type=int, default=1024, help="encoded size of each ConfigMap")
    ap.add_argument("--watchers", type=int, default=1000)
    ap.add_argument("--watch-channels", type=int, default=4, help="grpc.aio channels the watchers share")
    ap.add_argument("--rates", type=lambda s: [float(x) for x in s.split(",")], default=[100.0, 10.0, 1.0],
                    help="writes/s of the watch phases, comma-separated; each runs with 1 and --watchers watchers")
    ap.add_argument("--watch-shapes", type=lambda s: s.split(","), default=["broadcast", "selective"],
                    help="broadcast (every stream gets every write; also run with 1 watcher) and/or selective "
                         "(stream i selects the objects labelled shard=i: each write reaches one stream)")
    ap.add_argument("--watch-seconds", type=float, default=10.0)
    ap.add_argument("--drain", type=float, default=30.0, help="max seconds to wait for streams to open and for "
                                                             "late events")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="skiff-bench-api-"))
    cp = ControlPlane(tmp, apiservers=args.apiservers)
    t0 = time.perf_counter()
    results: dict = {}
    try:
        print(f"== starting 3 store members and {args.apiservers} apiserver(s)", flush=True)
        cp.start()
        results = asyncio.run(run_suite(cp, args))
    finally:
        cp.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    verdicts(results)
    print(f"total {time.perf_counter() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
