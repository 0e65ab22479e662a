"""Store benchmark: Skiff's 3-member store and a 3-member etcd, side by side in one run.

    .venv/bin/python bench/store.py [--duration 5] [--clients 16] [--seq 1000]

For each system: sequential puts (latency), concurrent puts from N asyncio clients on one channel
to the leader (throughput, latency), the same against a follower, and linearizable and serializable
ranges, and the write gap after kill -9 of the leader. Keys are 8 bytes, values 256 bytes (etcd's
benchmark defaults). Prints one line per figure and the Skiff/etcd ratios. The two clusters run one
after the other on this machine, never at the same time.
"""
from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from skiffpb.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc  # noqa: E402
from tests.harness import EtcdCluster, StoreCluster  # noqa: E402

VALUE = b"v" * 256


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] * 1000


async def sequential(endpoint: str, n: int, op: str) -> dict:
    async with grpc.aio.insecure_channel(endpoint) as ch:
        kv = rpc_pb2_grpc.KVStub(ch)
        await kv.Put(rpc_pb2.PutRequest(key=b"warmup00", value=VALUE))
        lat = []
        t0 = time.perf_counter()
        for i in range(n):
            t = time.perf_counter()
            if op == "put":
                await kv.Put(rpc_pb2.PutRequest(key=b"k%07d" % (i % 10000), value=VALUE))
            else:
                await kv.Range(rpc_pb2.RangeRequest(key=b"warmup00", serializable=op == "range-s"))
            lat.append(time.perf_counter() - t)
        dt = time.perf_counter() - t0
    return {"ops/s": n / dt, "p50 ms": pct(lat, 0.5), "p99 ms": pct(lat, 0.99)}


async def concurrent(endpoint: str, clients: int, duration: float, op: str) -> dict:
    async with grpc.aio.insecure_channel(endpoint) as ch:
        kv = rpc_pb2_grpc.KVStub(ch)
        await kv.Put(rpc_pb2.PutRequest(key=b"warmup00", value=VALUE))
        lat: list[float] = []
        stop_at = time.perf_counter() + duration

        async def worker(w: int):
            i = 0
            while time.perf_counter() < stop_at:
                t = time.perf_counter()
                if op == "put":
                    await kv.Put(rpc_pb2.PutRequest(key=b"c%03d%04d" % (w, i % 1000), value=VALUE))
                else:
                    await kv.Range(rpc_pb2.RangeRequest(key=b"warmup00", serializable=op == "range-s"))
                lat.append(time.perf_counter() - t)
                i += 1
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(clients)))
        dt = time.perf_counter() - t0
    return {"ops/s": len(lat) / dt, "p50 ms": pct(lat, 0.5), "p99 ms": pct(lat, 0.99)}


def failover_gaps(cluster, rounds: int) -> list[float]:
    """kill -9 the leader while a follower takes sequential puts (0.5 s timeout each); the gap is the
    time from the kill to the first put acknowledged after it. The old leader is restarted after."""
    gaps = []
    for r in range(rounds):
        leader = cluster.leader()
        follower = next(m for m in cluster.members if m is not leader)
        stub = rpc_pb2_grpc.KVStub(grpc.insecure_channel(follower.endpoint))
        stub.Put(rpc_pb2.PutRequest(key=b"fo", value=b"before"), timeout=5)
        cluster.kill9(leader)
        t0 = time.perf_counter()
        while True:
            try:
                stub.Put(rpc_pb2.PutRequest(key=b"fo", value=b"after"), timeout=0.5)
                break
            except grpc.RpcError:
                if time.perf_counter() - t0 > 30:
                    raise
        gaps.append(time.perf_counter() - t0)
        cluster.restart(leader)
    return gaps


def run_suite(cluster, args) -> dict[str, dict]:
    leader = cluster.leader()
    follower = next(m for m in cluster.members if m is not leader)
    out = {}
    out["put sequential -> leader"] = asyncio.run(sequential(leader.endpoint, args.seq, "put"))
    out["put sequential -> follower"] = asyncio.run(sequential(follower.endpoint, args.seq, "put"))
    out[f"put {args.clients} clients -> leader"] = asyncio.run(
        concurrent(leader.endpoint, args.clients, args.duration, "put"))
    out[f"put {args.clients} clients -> follower"] = asyncio.run(
        concurrent(follower.endpoint, args.clients, args.duration, "put"))
    out["range linearizable sequential -> follower"] = asyncio.run(sequential(follower.endpoint, args.seq, "range"))
    out["range serializable sequential -> follower"] = asyncio.run(sequential(follower.endpoint, args.seq, "range-s"))
    out[f"range linearizable {args.clients} clients -> follower"] = asyncio.run(
        concurrent(follower.endpoint, args.clients, args.duration, "range"))
    if args.failovers:
        gaps = failover_gaps(cluster, args.failovers)
        out["failover: kill -9 leader, write gap"] = {"ops/s": 0.0, "p50 ms": pct(gaps, 0.5),
                                                     "p99 ms": max(gaps) * 1000}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per concurrent phase")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seq", type=int, default=1000, help="requests per sequential phase")
    ap.add_argument("--failovers", type=int, default=3, help="leader kills to time (0: none)")
    ap.add_argument("--skip-etcd", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="skiff-bench-"))
    results: dict[str, dict[str, dict]] = {}
    systems = [("skiff", StoreCluster)]
    if not args.skip_etcd:
        if EtcdCluster.available():
            systems.append(("etcd", EtcdCluster))
        else:
            print("etcd not installed: skipping the reference run (deploy/venv.sh installs it as root)")
    try:
        for name, cls in systems:
            cluster = cls(tmp / name)
            print(f"== {name}: starting 3 members", flush=True)
            cluster.start()
            try:
                results[name] = run_suite(cluster, args)
            finally:
                cluster.stop()
            for test, r in results[name].items():
                if test.startswith("failover"):
                    print(f"{name:5} {test:48} median {r['p50 ms']:7.0f} ms  max {r['p99 ms']:7.0f} ms", flush=True)
                    continue
                print(f"{name:5} {test:48} {r['ops/s']:9.0f} ops/s  p50 {r['p50 ms']:7.2f} ms  p99 {r['p99 ms']:7.2f} ms",
                      flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if "etcd" in results:
        print("\n== skiff / etcd")
        print(f"{'test':48} {'ops/s ratio':>12} {'p50 ratio':>10} {'p99 ratio':>10}")
        for test, s in results["skiff"].items():
            e = results["etcd"][test]
            ops = f"{s['ops/s'] / e['ops/s']:12.2f}" if e["ops/s"] else f"{'-':>12}"
            print(f"{test:48} {ops} {s['p50 ms'] / e['p50 ms']:10.2f} {s['p99 ms'] / e['p99 ms']:10.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
