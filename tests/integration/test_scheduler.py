"""The scheduler as real processes (`python -m scheduler`) over a real control plane: binding, spreading,
selectors and taints, Kubernetes' unschedulable message and prompt retry, leader election with kill -9,
and two unelected schedulers racing. Nodes are plain Node objects written through the API (created
with their status: capacity, allocatable, Ready), so no kubelet is involved."""
from __future__ import annotations

import asyncio
import re
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from client.api import ApiClient
from client.quantity import parse_quantity
from skiffpb.k8s.apps.v1 import apps_pb2
from skiffpb.k8s.core.v1 import core_pb2
from tests.harness import Proc, wait_for

pytestmark = pytest.mark.timeout(180)

NS = "default"
# Leader election for the takeover test: a standby takes the lease at most LD + RP after the
# leader's last renewal (the Lease stores whole seconds, so LD is whole).
LD, RD, RP = 2, 1.5, 0.25
_METRICS = re.compile(rb"scheduler metrics on ([\d.]+):(\d+)")


# -- processes ----------------------------------------------------------------------------------------

class Schedulers:
    """Scheduler processes, each with /metrics on a free port; stopped at teardown, logs dumped on failure."""

    def __init__(self, base_dir: Path):
        self.base_dir = base_dir
        self.procs: dict[str, Proc] = {}
        self.ports: dict[str, int] = {}

    def start(self, name: str, endpoints: list[str], *extra: str) -> Proc:
        args = ["--apiserver", ",".join(endpoints), "--identity", name, "--metrics-listen", "127.0.0.1:0",
                "--log-level", "debug", *extra]
        proc = self.procs[name] = Proc.python_module(name, "scheduler", args, self.base_dir / f"{name}.log").start()

        def listening():
            self.alive(name)
            m = _METRICS.search(proc.log_path.read_bytes())
            if m:
                self.ports[name] = int(m.group(2))
            return m
        wait_for(listening, 30, f"{name} to serve /metrics")
        return proc

    def alive(self, name: str) -> bool:
        proc = self.procs[name]
        if not proc.alive:
            raise AssertionError(f"{name} exited with {proc.popen.returncode}:\n{proc.log_tail()}")
        return True

    def metric(self, name: str, sample: str, labels: dict | None = None) -> float:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ports[name]}/metrics", timeout=5) as r:
            text = r.read().decode()
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name == sample and all(s.labels.get(k) == v for k, v in (labels or {}).items()):
                    return s.value
        raise KeyError(f"{sample} {labels or ''} not in {name}'s metrics")

    def settled(self, name: str, sample: str, labels: dict | None = None) -> float:
        """A metric once `name` has no bind on the wire: a pod is seen bound at the apiserver before its
        scheduler has read the bind's answer and counted it."""
        wait_for(lambda: self.metric(name, "scheduler_binds_in_flight") == 0, 10, f"{name}'s binds to be answered")
        return self.metric(name, sample, labels)

    def log(self, name: str) -> str:
        return self.procs[name].log_path.read_text(errors="replace")

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.stop()

    def logs(self) -> str:
        return "\n".join(f"===== {n} ({p.log_path}) =====\n{p.log_tail(150)}" for n, p in self.procs.items())


@pytest.fixture
def schedulers(tmp_path, request):
    s = Schedulers(tmp_path)
    try:
        yield s
    finally:
        s.stop()
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            print(f"\n----- logs of the schedulers -----\n{s.logs()}")


# -- objects ------------------------------------------------------------------------------------------

def node(name: str, cpu: str = "2", *, memory: str = "8Gi", pods: str = "110", labels: dict | None = None,
         taints=(), unschedulable: bool = False) -> core_pb2.Node:
    n = core_pb2.Node(api_version="v1", kind="Node")
    n.metadata.name = name
    n.metadata.labels.update({"kubernetes.io/hostname": name, **(labels or {})})
    n.spec.unschedulable = unschedulable
    for key, value, effect in taints:
        n.spec.taints.add(key=key, value=value, effect=effect)
    for resources in (n.status.capacity, n.status.allocatable):
        for resource, amount in (("cpu", cpu), ("memory", memory), ("pods", pods)):
            resources[resource].value = amount
    n.status.conditions.add(type="Ready", status="True", reason="KubeletReady",
                            message="kubelet is posting ready status")
    return n


def pod(name: str, cpu: str = "100m", *, owner: apps_pb2.ReplicaSet | None = None,
        node_selector: dict | None = None, tolerations=()) -> core_pb2.Pod:
    p = core_pb2.Pod(api_version="v1", kind="Pod")
    p.metadata.name, p.metadata.namespace = name, NS
    c = p.spec.containers.add(name="app", image="app:1")
    c.resources.requests["cpu"].value = cpu
    c.resources.requests["memory"].value = "64Mi"
    p.spec.node_selector.update(node_selector or {})
    for tol in tolerations:
        p.spec.tolerations.add(**tol)
    if owner is not None:
        p.metadata.labels["app"] = owner.metadata.name
        p.metadata.owner_references.add(api_version="apps/v1", kind="ReplicaSet", name=owner.metadata.name,
                                        uid=owner.metadata.uid, controller=True)
    return p


async def replicaset(api: ApiClient, name: str) -> apps_pb2.ReplicaSet:
    """An owner for pods (the apiserver's garbage collector deletes pods whose owner does not exist)."""
    rs = apps_pb2.ReplicaSet(api_version="apps/v1", kind="ReplicaSet")
    rs.metadata.name, rs.metadata.namespace = name, NS
    rs.spec.replicas = 0
    rs.spec.selector.match_labels["app"] = name
    rs.spec.template.metadata.labels["app"] = name
    rs.spec.template.spec.containers.add(name="app", image="app:1")
    return await api.create(rs)


async def create_nodes(api: ApiClient, *nodes: core_pb2.Node) -> None:
    for n in nodes:
        created = await api.create(n)
        if not created.status.allocatable:      # an apiserver that dropped the status: write it
            created.status.CopyFrom(n.status)
            await api.update_status(created)


async def create_pods(api: ApiClient, pods, parallel: int = 16) -> None:
    gate = asyncio.Semaphore(parallel)

    async def one(p):
        async with gate:
            await api.create(p)
    await asyncio.gather(*(one(p) for p in pods))


async def eventually(probe, timeout: float, what: str, interval: float = 0.05):
    """Await `probe()` (a coroutine function) until it returns something truthy; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            value = await probe()
            if value:
                return value
        except Exception as e:     # noqa: BLE001 - a failing probe means "not yet"
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {what}"
                                 + (f" (last error: {last!r})" if last else ""))
        await asyncio.sleep(interval)


async def pods_by_name(api: ApiClient) -> dict[str, core_pb2.Pod]:
    items, _ = await api.list("pods", NS)
    return {p.metadata.name: p for p in items}


def condition(p: core_pb2.Pod, type_: str = "PodScheduled"):
    return next((c for c in p.status.conditions if c.type == type_), None)


def milli(q: str) -> int:
    return round(parse_quantity(q) * 1000)


async def assert_within_allocatable(api: ApiClient) -> dict[str, int]:
    """No node's pods request more cpu than it has, nor more pods than it allows; cpu used per node."""
    nodes, _ = await api.list("nodes")
    pods, _ = await api.list("pods", NS)
    used = {n.metadata.name: 0 for n in nodes}
    count = {n.metadata.name: 0 for n in nodes}
    for p in pods:
        if p.spec.node_name:
            used[p.spec.node_name] += sum(milli(c.resources.requests["cpu"].value) for c in p.spec.containers)
            count[p.spec.node_name] += 1
    for n in nodes:
        name = n.metadata.name
        assert used[name] <= milli(n.status.allocatable["cpu"].value), (name, used[name])
        assert count[name] <= int(n.status.allocatable["pods"].value), (name, count[name])
    return used


async def lease_holder(api: ApiClient) -> str:
    lease = await api.get("leases.coordination.k8s.io", "kube-system", "skiff-scheduler")
    return lease.spec.holder_identity


# -- tests --------------------------------------------------------------------------------------------

async def test_pods_are_bound_to_fitting_nodes_spread_by_owner_honouring_selectors_and_taints(
        control_plane, schedulers):
    """Six pods of one ReplicaSet spread two per node, a nodeSelector and a toleration are honoured, and
    filler pods are bound only while room is left: no node's requests ever exceed its allocatable."""
    cp = control_plane
    async with ApiClient(cp.endpoints) as api:
        await create_nodes(api, node("n1", labels={"zone": "a"}), node("n2", labels={"zone": "a"}),
                           node("n3", labels={"zone": "b"}),
                           node("gpu1", "8", labels={"gpu": "true"}, taints=[("dedicated", "gpu", "NoSchedule")]))
        schedulers.start("s1", cp.endpoints, "--leader-elect=false")
        rs = await replicaset(api, "web")
        await create_pods(api, [pod(f"web-{i}", "500m", owner=rs) for i in range(6)])

        async def web_bound():
            pods = await pods_by_name(api)
            return all(pods[f"web-{i}"].spec.node_name for i in range(6)) and pods
        pods = await eventually(web_bound, 20, "the six web pods to be bound")
        placed = sorted(pods[f"web-{i}"].spec.node_name for i in range(6))
        assert placed == ["n1", "n1", "n2", "n2", "n3", "n3"], placed      # spread; none on the tainted node
        assert condition(pods["web-0"]).status == "True"

        zone_b = pod("zone-b", node_selector={"zone": "b"})
        trainer = pod("trainer", "4", node_selector={"gpu": "true"},
                      tolerations=[{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}])
        await create_pods(api, [zone_b, trainer])

        async def both_bound():
            pods = await pods_by_name(api)
            return pods["zone-b"].spec.node_name and pods["trainer"].spec.node_name and pods
        pods = await eventually(both_bound, 20, "zone-b and trainer to be bound")
        assert (pods["zone-b"].spec.node_name, pods["trainer"].spec.node_name) == ("n3", "gpu1")

        # Left: n1 1000m, n2 1000m, n3 900m (gpu1 is tainted): five 500m fillers fit, two do not.
        await create_pods(api, [pod(f"filler-{i}", "500m") for i in range(7)])

        async def fillers_settled():
            pods = await pods_by_name(api)
            fillers = [pods[f"filler-{i}"] for i in range(7)]
            pending = [p for p in fillers if not p.spec.node_name]
            return (len(pending) == 2 and all(condition(p) is not None for p in pending)) and pending
        pending = await eventually(fillers_settled, 20, "five fillers bound and two marked unschedulable")
        message = ("0/4 nodes are available: 1 node(s) had taint {dedicated: gpu}, that the pod didn't "
                   "tolerate, 3 Insufficient cpu.")
        assert [(condition(p).reason, condition(p).message) for p in pending] == [("Unschedulable", message)] * 2
        used = await assert_within_allocatable(api)
        assert used == {"n1": 2000, "n2": 2000, "n3": 1600, "gpu1": 4000}
        assert schedulers.settled("s1", "scheduler_pods_scheduled_total") == 13


async def test_unschedulable_pod_gets_kubernetes_message_then_a_new_node_takes_it_promptly(
        control_plane, schedulers):
    """No node fits: PodScheduled=False/Unschedulable with Kubernetes' sorted message and a FailedScheduling
    Event; node heartbeats meanwhile do not make the scheduler retry; a node added then takes the pod
    within 2 s."""
    cp = control_plane
    async with ApiClient(cp.endpoints) as api:
        await create_nodes(api, node("n1", "1"), node("n2", "1"), node("n3", "4", unschedulable=True))
        schedulers.start("s1", cp.endpoints, "--leader-elect=false")
        await api.create(pod("big", "2"))
        message = "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu."

        async def marked():
            p = await api.get("pods", NS, "big")
            c = condition(p)
            return c is not None and c.status == "False" and (p, c)
        p, c = await eventually(marked, 20, "PodScheduled=False on big")
        assert (c.reason, c.message, p.status.phase, p.spec.node_name) == ("Unschedulable", message, "Pending", "")

        async def failed_event():
            events, _ = await api.list("events", NS)
            return [e for e in events if e.reason == "FailedScheduling" and e.involved_object.name == "big"]
        events = await eventually(failed_event, 20, "a FailedScheduling Event")
        assert [(e.type, e.message, e.source.component) for e in events] == [("Warning", message, "default-scheduler")]

        # Heartbeats: what kubelets write every few seconds; they change nothing the scheduler reads.
        for i in range(10):
            n1 = await api.get("nodes", "", "n1")
            for cond in n1.status.conditions:
                cond.last_heartbeat_time = f"2030-01-01T00:00:{i:02d}Z"
            await api.update_status(n1)
            await asyncio.sleep(0.15)          # the heartbeats' own pace, not a synchronisation
        attempts_before = schedulers.metric("s1", "scheduler_schedule_attempts_total", {"result": "unschedulable"})

        added = time.monotonic()
        await create_nodes(api, node("n4", "4"))

        async def bound():
            p = await api.get("pods", NS, "big")
            return p.spec.node_name
        assert await eventually(bound, 10, "big to be bound after n4 was added", interval=0.02) == "n4"
        took = time.monotonic() - added
        print(f"bound {took:.3f}s after the node was added")
        assert took < 2.0, f"bound {took:.2f}s after the node was added"

        assert attempts_before == 1, f"{attempts_before} unschedulable attempts: the scheduler spun"
        assert schedulers.metric("s1", "scheduler_schedule_attempts_total", {"result": "unschedulable"}) == 1
        assert schedulers.settled("s1", "scheduler_pods_scheduled_total") == 1
        events = await failed_event()
        assert [e.count for e in events] == [1]

        async def scheduled_event():
            events, _ = await api.list("events", NS)
            return [e for e in events if e.reason == "Scheduled" and e.involved_object.name == "big"]
        events = await eventually(scheduled_event, 10, "a Scheduled Event")
        assert [(e.type, e.message) for e in events] == [("Normal", "Successfully assigned default/big to n4")]


async def test_leader_binds_alone_and_a_standby_takes_over_within_3s_of_kill9(control_plane, schedulers):
    """Two schedulers with leader election: only the leader binds; the leader is killed with SIGKILL and
    the standby binds newly created pods within 3 s of the kill."""
    cp = control_plane
    election = ["--leader-elect=true", "--lease-duration", str(LD), "--renew-deadline", str(RD),
                "--retry-period", str(RP)]
    async with ApiClient(cp.endpoints) as api:
        await create_nodes(api, *(node(f"n{i}", "4") for i in range(3)))
        schedulers.start("a", cp.endpoints, *election)
        await eventually(lambda: _holder_is(api, "a"), 20, "a to hold the lease")
        schedulers.start("b", cp.endpoints[::-1], *election)
        wait_for(lambda: schedulers.alive("b") and "b: the leader is a" in schedulers.log("b"), 20,
                 "b to see a as the leader")
        wait_for(lambda: schedulers.metric("b", "leader_election_master_status", {"name": "skiff-scheduler"}) == 0,
                 10, "b's metrics")

        await create_pods(api, [pod(f"before-{i}") for i in range(10)])

        async def all_bound(prefix: str, n: int):
            pods = await pods_by_name(api)
            return all(pods.get(f"{prefix}-{i}") and pods[f"{prefix}-{i}"].spec.node_name for i in range(n))
        await eventually(lambda: all_bound("before", 10), 20, "a to bind the first ten pods")
        assert schedulers.settled("a", "scheduler_pods_scheduled_total") == 10
        assert schedulers.settled("b", "scheduler_pods_scheduled_total") == 0
        assert schedulers.metric("a", "leader_election_master_status", {"name": "skiff-scheduler"}) == 1

        schedulers.procs["a"].kill9()
        killed = time.monotonic()
        await create_pods(api, [pod(f"after-{i}") for i in range(10)])
        await eventually(lambda: all_bound("after", 10), 15, "b to bind the next ten pods", interval=0.02)
        took = time.monotonic() - killed
        print(f"the standby bound the new pods {took:.3f}s after the leader was killed")
        assert took < 3.0, f"the standby bound the new pods {took:.2f}s after the leader was killed"
        assert schedulers.settled("b", "scheduler_pods_scheduled_total") == 10
        assert await lease_holder(api) == "b"
        await assert_within_allocatable(api)

        # SIGTERM: the leader releases the lease and exits 0; a standby takes it at its next retry.
        schedulers.start("c", cp.endpoints, *election)
        wait_for(lambda: schedulers.alive("c") and "c: the leader is b" in schedulers.log("c"), 20,
                 "c to see b as the leader")
        assert schedulers.procs["b"].stop() == 0
        stopped = time.monotonic()
        await eventually(lambda: _holder_is(api, "c"), 5, "c to take the released lease", interval=0.02)
        assert time.monotonic() - stopped < LD, "c waited for the lease to expire: b did not release it"


async def _holder_is(api: ApiClient, who: str) -> bool:
    return await lease_holder(api) == who


async def test_a_leader_paused_past_its_lease_stops_scheduling_and_can_lead_again(control_plane, schedulers):
    """The leader is SIGSTOPped until the standby has taken over and bound new pods, then SIGCONTed: it
    binds nothing more and waits as a standby; when the new leader is killed it leads again, from
    its caches, and binds what is pending."""
    cp = control_plane
    election = ["--leader-elect=true", "--lease-duration", str(LD), "--renew-deadline", str(RD),
                "--retry-period", str(RP)]
    async with ApiClient(cp.endpoints) as api:
        await create_nodes(api, *(node(f"n{i}", "4") for i in range(2)))
        schedulers.start("a", cp.endpoints, *election)
        await eventually(lambda: _holder_is(api, "a"), 20, "a to hold the lease")
        schedulers.start("b", cp.endpoints, *election)
        wait_for(lambda: schedulers.alive("b") and "b: the leader is a" in schedulers.log("b"), 20,
                 "b to see a as the leader")
        await create_pods(api, [pod("first")])
        await eventually(lambda: _bound(api, "first"), 20, "a to bind the first pod")
        assert schedulers.settled("a", "scheduler_pods_scheduled_total") == 1

        a = schedulers.procs["a"]
        a.pause()
        try:
            await create_pods(api, [pod(f"during-{i}") for i in range(5)])
            for i in range(5):
                await eventually(lambda: _bound(api, f"during-{i}"), 20, "b to take over and bind")
        finally:
            a.resume()
        await create_pods(api, [pod(f"after-{i}") for i in range(5)])
        wait_for(lambda: schedulers.alive("a") and "a: stopped scheduling; campaigning again" in schedulers.log("a"),
                 10, "a to stop scheduling once resumed")
        for i in range(5):
            await eventually(lambda: _bound(api, f"after-{i}"), 20, "b to bind the pods created after")
        wait_for(lambda: "a: the leader is b" in schedulers.log("a"), 10, "a to see b as the leader")
        assert schedulers.log("a").count(": bound to ") == 1
        assert schedulers.settled("a", "scheduler_pods_scheduled_total") == 1
        assert schedulers.metric("a", "leader_election_master_status", {"name": "skiff-scheduler"}) == 0
        assert schedulers.settled("b", "scheduler_pods_scheduled_total") == 10

        schedulers.procs["b"].kill9()
        await create_pods(api, [pod(f"again-{i}") for i in range(5)])
        for i in range(5):
            await eventually(lambda: _bound(api, f"again-{i}"), 20, "a to lead again and bind")
        assert schedulers.settled("a", "scheduler_pods_scheduled_total") == 6
        await assert_within_allocatable(api)


async def _bound(api: ApiClient, name: str) -> str:
    return (await api.get("pods", NS, name)).spec.node_name


async def test_two_schedulers_without_leader_election_never_bind_a_pod_twice(control_plane, schedulers):
    """Two schedulers with --leader-elect=false race for 200 pods: every pod is bound exactly once (the
    binds' precondition refuses the loser), no pod's node ever changes, and no node is over-committed."""
    cp = control_plane
    async with ApiClient(cp.endpoints) as api:
        await create_nodes(api, *(node(f"n{i}", "6", pods="50") for i in range(5)))
        schedulers.start("s1", cp.endpoints, "--leader-elect=false")
        schedulers.start("s2", cp.endpoints[::-1], "--leader-elect=false")
        wait_for(lambda: all(schedulers.metric(s, "scheduler_cache_size", {"type": "nodes"}) == 5
                             for s in ("s1", "s2")), 20, "both schedulers to see the five nodes")

        # Every change of every pod, from before the first is created: a node once set never changes.
        _, rv = await api.list("pods", NS)
        first_node: dict[str, str] = {}
        moved: list[str] = []

        async def watch():
            async for ev in api.watch("pods", NS, resource_version=rv):
                if ev.type == "BOOKMARK" or not ev.object.spec.node_name:
                    continue
                name, where = ev.object.metadata.name, ev.object.spec.node_name
                if first_node.setdefault(name, where) != where:
                    moved.append(f"{name}: {first_node[name]} -> {where}")
        watcher = asyncio.create_task(watch())
        try:
            await create_pods(api, [pod(f"p{i:03d}") for i in range(200)])

            async def all_seen_bound():
                return len(first_node) == 200
            await eventually(all_seen_bound, 60, "200 pods bound")
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        assert moved == []

        scheduled = [schedulers.settled(s, "scheduler_pods_scheduled_total") for s in ("s1", "s2")]
        conflicts = [schedulers.settled(s, "scheduler_binding_conflicts_total") for s in ("s1", "s2")]
        assert sum(scheduled) == 200, (scheduled, conflicts)     # one successful bind per pod, no more
        pods = await pods_by_name(api)
        assert all(p.spec.node_name for p in pods.values()) and len(pods) == 200
        await assert_within_allocatable(api)
        print(f"binds won per scheduler: {scheduled}; conflicts: {conflicts}")
