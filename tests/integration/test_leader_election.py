"""Leader election between real candidate processes (`python -m client.leaderelection`) over a real control plane:
the leader killed, paused past its lease, and cut off from its apiserver. Each candidate appends
{"identity", "time", "seq"} to one shared action log every 100 ms while it leads; times are time.time() of
processes on this machine, so they compare directly with each other and with the Lease's MicroTimes."""
from __future__ import annotations

import json
import time
from pathlib import Path

import grpc
import pytest

from client import kinds
from client.candidate import EXIT_LOST
from client.leaderelection import parse_micro_time
from skiffpb.api.v1 import api_pb2, api_pb2_grpc
from skiffpb.k8s.coordination.v1.coordination_pb2 import Lease
from tests.harness import Proc, wait_for

pytestmark = pytest.mark.timeout(120)

LD, RD, RP = 4.0, 3.0, 0.5   # lease duration, renew deadline, retry period (seconds)
LEASE = "demo"


def read_lease(endpoint: str) -> Lease | None:
    """The Lease as the apiserver at `endpoint` has it (a linearizable read), or None if absent."""
    with grpc.insecure_channel(endpoint) as ch:
        try:
            obj = api_pb2_grpc.ApiStub(ch).Get(
                api_pb2.GetRequest(resource="leases", namespace="default", name=LEASE), timeout=5)
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise
    return kinds.unwrap(obj)


def holder(endpoint: str) -> str:
    lease = read_lease(endpoint)
    return lease.spec.holder_identity if lease is not None else ""


class Candidates:
    """Candidate processes sharing one action log; all stopped (SIGCONT, SIGTERM, then SIGKILL) at teardown."""

    def __init__(self, base_dir: Path):
        self.base_dir = base_dir
        self.action_log = base_dir / "actions.jsonl"
        self.procs: dict[str, Proc] = {}

    def start(self, identity: str, endpoints: list[str], *extra: str) -> Proc:
        args = ["--apiserver", ",".join(endpoints), "--lease-namespace", "default", "--lease-name", LEASE,
                "--identity", identity, "--lease-duration", str(LD), "--renew-deadline", str(RD),
                "--retry-period", str(RP), "--action-log", str(self.action_log), *extra]
        proc = self.procs[identity] = Proc.python_module(
            identity, "client.leaderelection", args, self.base_dir / f"{identity}.log").start()
        return proc

    def actions(self, identity: str) -> list[float]:
        """The times of `identity`'s actions, in the order they were written."""
        try:
            text = self.action_log.read_text()
        except FileNotFoundError:
            return []
        lines = text.split("\n")[:-1]  # a line still being written has no newline yet
        return [x["time"] for x in map(json.loads, lines) if x["identity"] == identity]

    def log(self, identity: str) -> str:
        return self.procs[identity].log_path.read_text(errors="replace")

    def alive(self, identity: str) -> bool:
        proc = self.procs[identity]
        if not proc.alive:
            raise AssertionError(f"{identity} exited with {proc.popen.returncode}:\n{proc.log_tail()}")
        return True

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.stop()

    def logs(self) -> str:
        return "\n".join(f"===== {name} ({p.log_path}) =====\n{p.log_tail(80)}" for name, p in self.procs.items())


@pytest.fixture
def candidates(tmp_path, request):
    c = Candidates(tmp_path)
    try:
        yield c
    finally:
        c.stop()
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            print(f"\n----- logs of the candidates -----\n{c.logs()}")


def lead_then_follow(cp, candidates: Candidates, a_endpoints: list[str], b_endpoints: list[str],
                     *a_extra: str) -> None:
    """Starts a, waits until it leads and acts, then starts b and waits until b has seen a as the leader."""
    candidates.start("a", a_endpoints, *a_extra)
    wait_for(lambda: candidates.alive("a") and holder(cp.endpoints[-1]) == "a" and candidates.actions("a"),
             30, "a to acquire the lease and act")
    candidates.start("b", b_endpoints)
    wait_for(lambda: candidates.alive("b") and "b: the leader is a" in candidates.log("b"), 30,
             "b to campaign and see a as the leader")
    assert candidates.actions("b") == []


def test_leader_killed_the_other_takes_over_within_the_lease_duration(control_plane, candidates):
    """The leader is killed with SIGKILL; the other candidate acts as leader within lease duration + 1 s of the kill."""
    cp = control_plane
    lead_then_follow(cp, candidates, cp.endpoints, cp.endpoints)

    killed_at = time.time()
    candidates.procs["a"].kill9()
    wait_for(lambda: candidates.alive("b") and candidates.actions("b"), LD + 10, "b to take over and act")
    took = candidates.actions("b")[0] - killed_at
    assert took <= LD + 1, f"b first acted {took:.3f}s after a was killed (lease duration {LD}s)"

    lease = read_lease(cp.endpoints[0])
    assert lease.spec.holder_identity == "b" and lease.spec.lease_transitions == 1
    assert max(candidates.actions("a")) < killed_at


def test_leader_paused_past_its_lease_never_acts_after_the_other_acquired(control_plane, candidates):
    """The leader is SIGSTOPped until the other acquires, then SIGCONTed: it acts no more, and exits as having lost."""
    cp = control_plane
    lead_then_follow(cp, candidates, cp.endpoints, cp.endpoints)
    a = candidates.procs["a"]

    a.pause()
    paused_at = time.time()
    try:
        wait_for(lambda: candidates.alive("b") and candidates.actions("b"), LD + 10, "b to take over and act")
        lease = read_lease(cp.endpoints[0])
        assert lease.spec.holder_identity == "b" and lease.spec.lease_transitions == 1
        acquired = parse_micro_time(lease.spec.acquire_time)
    finally:
        a.resume()
    wait_for(lambda: not a.alive, 10, "a to exit once resumed")

    assert a.popen.returncode == EXIT_LOST, a.log_tail()
    assert "a: stopped leading" in candidates.log("a") and "a: lost the lease" in candidates.log("a")
    a_times, b_first = candidates.actions("a"), candidates.actions("b")[0]
    assert a_times, "a never acted"
    assert max(a_times) < acquired <= b_first, (
        f"a acted at {max(a_times):.6f}, after b acquired at {acquired:.6f}")
    assert max(a_times) < paused_at, "a acted after it was paused and resumed"

    # b leads on undisturbed: it keeps acting after a's exit, and the lease still names it.
    exited = len(candidates.actions("b"))
    wait_for(lambda: candidates.alive("b") and len(candidates.actions("b")) > exited + 5, 10, "b to keep acting")
    lease = read_lease(cp.endpoints[0])
    assert lease.spec.holder_identity == "b" and lease.spec.lease_transitions == 1


def test_leader_cut_off_from_its_apiserver_stops_before_the_lease_expires(control_plane, candidates):
    """The only apiserver the leader talks to is killed: it stops acting at its renew deadline, before the lease
    expires for the other (which talks to the other apiserver and takes over), and campaigns again (--rejoin)."""
    cp = control_plane
    api1, api2 = cp.apiservers
    lead_then_follow(cp, candidates, [api1.endpoint], [api2.endpoint], "--rejoin")

    killed_at = time.time()
    api1.kill9()
    # a can no longer write, so the lease now holds a's last renewal: the one others measure expiry from.
    lease = read_lease(api2.endpoint)
    assert lease.spec.holder_identity == "a"
    renewed = parse_micro_time(lease.spec.renew_time)
    expires = renewed + lease.spec.lease_duration_seconds

    wait_for(lambda: candidates.alive("b") and candidates.actions("b"), LD + 10, "b to take over and act")
    wait_for(lambda: "a: stopped leading" in candidates.log("a"), 5, "a to log that it stopped leading")
    last = max(candidates.actions("a"))
    assert killed_at < last, "a stopped acting as soon as its apiserver died, not at its renew deadline"
    assert last < renewed + RD, f"a acted {last - renewed:.3f}s after its last renewal (renew deadline {RD}s)"
    assert last < expires < candidates.actions("b")[0]
    lease = read_lease(api2.endpoint)
    assert lease.spec.holder_identity == "b" and lease.spec.lease_transitions == 1
    assert parse_micro_time(lease.spec.acquire_time) > expires

    # a is a candidate again, not a leader: alive, with no action since.
    count = len(candidates.actions("a"))
    wait_for(lambda: len(candidates.actions("b")) > 10, 10, "b to keep acting")
    assert candidates.alive("a") and len(candidates.actions("a")) == count
