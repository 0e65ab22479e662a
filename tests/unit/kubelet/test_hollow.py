"""kubelet/hollow.py, the hollow kubelet's pure pod core: compute_actions as a table (start, report,
adopt, reject, stop, finalize, forget), the statuses it writes, IP allocation and the runtime's
bookkeeping; then a Hypothesis property over random histories of creates, deletes, re-creates and
syncs: IPs stay unique per node and inside its CIDR, nothing is reported before its ready delay or
finalized before its stop delay, a node never runs more than its pods capacity, and once time passes
every live pod is Running and every deleted one gone."""
from __future__ import annotations

import ipaddress
from dataclasses import replace

import pytest
from hypothesis import event, given, settings, strategies as st

from kubelet.hollow import (
    FINALIZED, REJECTED, RUNNING, STOPPING, FinalizePod, ForgetPod, HollowPod, KillPod, NodeView,
    PostRunningStatus, RejectPod, Requeue, Runtime, StartPod, Timing, allocate_ip, compute_actions,
    format_time, rejected_status, running_status, status_reported,
)
from skiffpb.k8s.core.v1 import core_pb2

pytestmark = pytest.mark.timeout(120)

T0 = 1_790_000_000.0
TIMING = Timing(ready_delay=0.5, stop_delay=1.0)
NODE = NodeView("n1", "10.244.1.0/24", "10.240.0.2", max_pods=110)


def pod(name: str = "p", *, node: str = "n1", uid: str = "u1", rv: int = 10, containers=("app",),
        deleting: float | None = None, grace: int | None = None, phase: str = "Pending",
        status: core_pb2.PodStatus | None = None) -> core_pb2.Pod:
    p = core_pb2.Pod()
    p.metadata.name, p.metadata.namespace, p.metadata.uid = name, "default", uid
    p.metadata.resource_version = str(rv)
    p.spec.node_name = node
    for c in containers:
        p.spec.containers.add(name=c, image=f"img/{c}:1")
    if status is not None:
        p.status.CopyFrom(status)
    else:
        p.status.phase = phase
        p.status.qos_class = "BestEffort"
    if deleting is not None:
        p.metadata.deletion_timestamp = format_time(deleting)
        if grace is not None:
            p.metadata.deletion_grace_period_seconds = grace
    return p


def rec(ip: str = "10.244.1.2", *, uid: str = "u1", started: float = T0, **kw) -> HollowPod:
    return HollowPod(uid, "n1", ip, started, **kw)


def reported(p: core_pb2.Pod, ip: str = "10.244.1.2", started: float = T0) -> core_pb2.Pod:
    out = core_pb2.Pod()
    out.CopyFrom(p)
    out.status.CopyFrom(running_status(p, ip=ip, host_ip=NODE.host_ip, started_at=started, ready_at=started + 0.5))
    return out


def run(desired, observed=None, *, now: float = T0, nodes=None, timing: Timing = TIMING):
    return compute_actions(desired, observed or {}, {NODE.name: NODE} if nodes is None else nodes, now=now,
                           timing=timing)


K = "default/p"


# -- compute_actions, one key at a time ---------------------------------------------------------------
@pytest.mark.parametrize("desired, observed, now, want", [
    pytest.param([pod()], {}, T0,
                 [StartPod(K, rec()), Requeue(K, T0 + 0.5, "ready delay")], id="new-pod-waits-for-ready-delay"),
    pytest.param([pod()], {K: rec()}, T0 + 0.5,
                 [PostRunningStatus(K, "u1", "n1", "10.244.1.2", "10.240.0.2", T0, T0 + 0.5)], id="ready-delay-up"),
    pytest.param([pod()], {K: rec()}, T0 + 0.2, [Requeue(K, T0 + 0.5, "ready delay")], id="not-yet"),
    pytest.param([reported(pod(), started=T0)], {K: rec(written_rv=11)}, T0 + 9, [], id="already-reported"),
    pytest.param([pod(rv=11)], {K: rec(written_rv=11)}, T0 + 9, [], id="cache-lags-our-write"),
    pytest.param([pod(rv=12)], {K: rec(written_rv=11)}, T0 + 9,
                 [PostRunningStatus(K, "u1", "n1", "10.244.1.2", "10.240.0.2", T0, T0 + 9)],
                 id="someone-overwrote-our-status"),
    pytest.param([], {K: rec()}, T0, [ForgetPod(K, "u1")], id="pod-gone"),
    pytest.param([pod(uid="u2")], {K: rec()}, T0,
                 [ForgetPod(K, "u1"), StartPod(K, rec("10.244.1.2", uid="u2")), Requeue(K, T0 + 0.5, "ready delay")],
                 id="recreated-under-its-name"),
    pytest.param([pod(node="elsewhere")], {}, T0, [], id="not-our-node"),
    pytest.param([pod(node="elsewhere")], {K: rec()}, T0, [ForgetPod(K, "u1")], id="node-no-longer-hosted"),
    pytest.param([pod(phase="Succeeded")], {}, T0, [], id="terminal-pod-not-started"),
])
def test_compute_actions_running(desired, observed, now, want):
    assert run(desired, observed, now=now) == want


@pytest.mark.parametrize("desired, observed, now, want", [
    pytest.param([pod(deleting=T0 + 30)], {K: rec()}, T0 + 2,
                 [KillPod(K, rec(state=STOPPING, stopping_at=T0 + 2)), Requeue(K, T0 + 3, "stopping")],
                 id="kill-then-wait-stop-delay"),
    pytest.param([pod(deleting=T0 + 30, grace=0)], {K: rec()}, T0 + 2,
                 [KillPod(K, rec(state=STOPPING, stopping_at=T0 + 2)), FinalizePod(K, "u1")], id="grace-0-at-once"),
    pytest.param([pod(deleting=T0 + 0.3, grace=0)], {K: rec(state=STOPPING, stopping_at=T0)}, T0 + 0.1,
                 [FinalizePod(K, "u1")], id="grace-shorter-than-stop-delay"),
    pytest.param([pod(deleting=T0 + 30, grace=30)], {K: rec(state=STOPPING, stopping_at=T0)}, T0 + 0.5,
                 [Requeue(K, T0 + 1, "stopping")], id="stopping-not-due"),
    pytest.param([pod(deleting=T0 + 30, grace=30)], {K: rec(state=STOPPING, stopping_at=T0)}, T0 + 1,
                 [FinalizePod(K, "u1")], id="stopping-due"),
    pytest.param([pod(deleting=T0 + 30)], {K: rec(state=FINALIZED, stopping_at=T0)}, T0 + 5, [],
                 id="finalized-waits-for-the-apiserver"),
    pytest.param([pod(deleting=T0 + 30)], {}, T0, [FinalizePod(K, "u1")], id="first-seen-terminating-never-ran"),
    pytest.param([reported(pod(deleting=T0 + 30), ip="10.244.1.7", started=T0 - 50)], {}, T0,
                 [KillPod(K, rec("10.244.1.7", started=T0 - 50, state=STOPPING, stopping_at=T0)),
                  Requeue(K, T0 + 1, "stopping")], id="first-seen-terminating-ran-here-before-a-restart"),
    pytest.param([pod(deleting=T0 + 30, phase="Failed")], {}, T0, [FinalizePod(K, "u1")],
                 id="terminal-pod-deleted-at-once"),
    pytest.param([pod(deleting=T0 + 30)], {K: rec("", state=REJECTED)}, T0, [FinalizePod(K, "u1")],
                 id="rejected-pod-deleted-at-once"),
])
def test_compute_actions_termination(desired, observed, now, want):
    assert run(desired, observed, now=now) == want


def test_a_full_node_rejects_with_kubernetes_reason():
    """A node running its pods capacity rejects the next pod: phase Failed, OutOfpods, Kubernetes' message."""
    full = replace(NODE, max_pods=2, pod_count=2)
    [a] = run([pod()], nodes={"n1": full})
    assert a == RejectPod(K, HollowPod("u1", "n1", "", T0, REJECTED), "OutOfpods",
                          "Pod Node didn't have enough resource: pods, requested: 1, used: 2, capacity: 2")
    st_ = rejected_status(pod(), reason=a.reason, message=a.message)
    assert (st_.phase, st_.reason, st_.message, st_.qos_class) == ("Failed", a.reason, a.message, "BestEffort")
    assert run([pod(phase="Failed")], {K: a.record}, nodes={"n1": full}) == []


def test_a_batch_never_double_books_ips_or_capacity():
    """Several new pods of one node in one call get distinct IPs and respect the pods capacity."""
    node = replace(NODE, max_pods=3, pod_count=1, used_ips=frozenset({"10.244.1.2"}))
    pods = [pod(f"p{i}", uid=f"u{i}") for i in range(3)]
    actions = run(pods, nodes={"n1": node}, timing=Timing(0, 1))
    starts = [a for a in actions if isinstance(a, StartPod)]
    assert [a.record.ip for a in starts] == ["10.244.1.3", "10.244.1.4"]
    assert [a.key for a in actions if isinstance(a, RejectPod)] == ["default/p2"]
    assert sum(isinstance(a, PostRunningStatus) for a in actions) == 2


def test_a_replaced_pod_frees_its_slot_within_the_batch():
    """At capacity, a pod re-created under its name (new uid) is admitted: the old one's slot is freed first."""
    node = replace(NODE, max_pods=1, pod_count=1, used_ips=frozenset({"10.244.1.2"}))
    actions = run([pod(uid="u2")], {K: rec()}, nodes={"n1": node})
    assert actions[:2] == [ForgetPod(K, "u1"), StartPod(K, rec("10.244.1.2", uid="u2"))]


def test_a_restarted_kubelet_adopts_a_reported_pod_without_rewriting_it():
    """A pod already Running with an IP of this node is adopted: same IP, start time from its status, no write."""
    p = reported(pod(), ip="10.244.1.7", started=T0 - 100)
    assert run([p], now=T0) == [StartPod(K, rec("10.244.1.7", started=T0 - 100), adopted=True)]


@pytest.mark.parametrize("ip, host_ip", [
    pytest.param("10.244.9.7", "10.240.0.2", id="ip-outside-the-cidr"),
    pytest.param("10.244.1.7", "10.240.0.9", id="another-host"),
])
def test_a_pod_reported_by_someone_else_is_renumbered(ip, host_ip):
    p = reported(pod(), ip=ip)
    p.status.host_ip = host_ip
    actions = run([p], now=T0 + 5)
    assert actions[0] == StartPod(K, rec("10.244.1.2", started=T0 + 5))
    assert isinstance(actions[1], Requeue)


def test_no_free_ip_requeues_with_a_reason():
    node = replace(NODE, pod_cidr="10.244.1.0/30", used_ips=frozenset({"10.244.1.2"}), pod_count=1)
    [a] = run([pod()], nodes={"n1": node})
    assert isinstance(a, Requeue) and a.at == T0 + 5 and "no free IP in 10.244.1.0/30" in a.why


# -- statuses ------------------------------------------------------------------------------------------
def test_running_status_is_what_a_kubelet_reports():
    p = pod(containers=("web", "agent"))
    p.spec.init_containers.add(name="init", image="img/init:1")
    sched = p.status.conditions.add(type="PodScheduled", status="True", last_transition_time="2026-01-01T00:00:00Z")
    assert sched
    st_ = running_status(p, ip="10.244.1.5", host_ip="10.240.0.2", started_at=T0 + 0.7, ready_at=T0 + 1.9)
    start, ready = format_time(T0), format_time(T0 + 1)
    assert (st_.phase, st_.pod_ip, [i.ip for i in st_.pod_ips], st_.host_ip, st_.start_time, st_.qos_class) == \
        ("Running", "10.244.1.5", ["10.244.1.5"], "10.240.0.2", start, "BestEffort")
    assert [(c.type, c.status, c.last_transition_time) for c in st_.conditions] == [
        ("Initialized", "True", start), ("Ready", "True", ready), ("ContainersReady", "True", ready),
        ("PodScheduled", "True", "2026-01-01T00:00:00Z")]
    assert [c.name for c in st_.container_statuses] == ["agent", "web"]   # sorted, as the kubelet does
    for c in st_.container_statuses:
        assert c.ready and c.started and c.restart_count == 0 and c.state.running.started_at == start
        assert c.container_id == f"hollow://u1-{c.name}" and c.image == f"img/{c.name}:1"
        assert c.image_id.startswith(f"hollow://img/{c.name}:1@sha256:")
    [init] = st_.init_container_statuses
    assert (init.state.terminated.exit_code, init.state.terminated.reason, init.ready) == (0, "Completed", True)


def test_status_reported_needs_every_container_ready_and_our_ip():
    r = rec()
    p = reported(pod(containers=("a", "b")))
    assert status_reported(p, r, NODE.host_ip)
    assert not status_reported(p, replace(r, ip="10.244.1.9"), NODE.host_ip)
    assert not status_reported(p, r, "10.240.0.99")
    p.status.container_statuses[1].ready = False
    assert not status_reported(p, r, NODE.host_ip)
    q = reported(pod())
    next(c for c in q.status.conditions if c.type == "Ready").status = "False"   # the node lifecycle controller's mark
    assert not status_reported(q, r, NODE.host_ip)


# -- IPs and the runtime -------------------------------------------------------------------------------
@pytest.mark.parametrize("cidr, used, want", [
    pytest.param("10.244.0.0/24", set(), "10.244.0.2", id="first-after-gateway"),
    pytest.param("10.244.0.0/24", {"10.244.0.2", "10.244.0.4"}, "10.244.0.3", id="lowest-free"),
    pytest.param("10.244.0.0/30", {"10.244.0.2"}, None, id="full"),
])
def test_allocate_ip(cidr, used, want):
    assert allocate_ip(cidr, used) == want


def test_runtime_accounts_ips_and_active_pods_per_node():
    rt = Runtime()
    rt.put("a", rec("10.244.1.2"))
    rt.put("b", rec("10.244.1.3", uid="u2"))
    rt.put("c", HollowPod("u3", "n2", "10.244.2.2", T0))
    assert (rt.used_ips("n1"), rt.pod_count("n1"), rt.pod_count("n2")) == ({"10.244.1.2", "10.244.1.3"}, 2, 1)
    rt.put("b", rec("10.244.1.3", uid="u2", state=FINALIZED))      # finalized: no longer active
    assert (rt.used_ips("n1"), rt.pod_count("n1")) == ({"10.244.1.2"}, 1)
    assert rt.forget("a").ip == "10.244.1.2" and rt.pod_count("n1") == 0 and not rt.used_ips("n1")
    assert rt.forget_node("n2") == ["c"] and len(rt) == 1 and rt.count("n1", FINALIZED) == 1


# -- the property ---------------------------------------------------------------------------------------
NODES = {"n1": ("10.244.1.0/24", "10.240.0.2"), "n2": ("10.244.2.0/24", "10.240.0.3")}
MAX_PODS = 2

ops = st.lists(st.one_of(
    st.tuples(st.just("create"), st.integers(0, 5), st.sampled_from(sorted(NODES))),
    st.tuples(st.just("delete"), st.integers(0, 5), st.sampled_from([None, 0, 1, 30])),
    st.tuples(st.just("sync"), st.integers(0, 5)),
    st.tuples(st.just("tick"), st.sampled_from([0.1, 0.3, 0.7, 2.0])),
), max_size=60)


class World:
    """The API (pods by key, resourceVersions), the runtime, and a checked sync."""

    def __init__(self, timing: Timing):
        self.timing = timing
        self.now = T0
        self.rv = 1
        self.uids = 0
        self.api: dict[str, core_pb2.Pod] = {}
        self.runtime = Runtime()

    def views(self) -> dict[str, NodeView]:
        return {n: NodeView(n, cidr, host, MAX_PODS, frozenset(self.runtime.used_ips(n)), self.runtime.pod_count(n))
                for n, (cidr, host) in NODES.items()}

    def write(self, key: str, p: core_pb2.Pod) -> int:
        self.rv += 1
        p.metadata.resource_version = str(self.rv)
        self.api[key] = p
        return self.rv

    def sync(self, key: str) -> None:
        p = self.api.get(key)
        r = self.runtime.get(key)
        actions = compute_actions([p] if p else [], {key: r} if r else {}, self.views(), now=self.now,
                                  timing=self.timing)
        for a in actions:
            event(type(a).__name__)
            if isinstance(a, (StartPod, KillPod)):
                self.runtime.put(a.key, a.record)
            elif isinstance(a, ForgetPod):
                self.runtime.forget(a.key)
            elif isinstance(a, PostRunningStatus):
                r = self.runtime.get(key)
                assert self.now >= r.started_at + self.timing.ready_delay, "reported before the ready delay"
                assert not p.metadata.deletion_timestamp, "reported Running while being deleted"
                new = core_pb2.Pod()
                new.CopyFrom(p)
                new.status.CopyFrom(running_status(p, ip=a.ip, host_ip=a.host_ip, started_at=a.started_at,
                                                   ready_at=a.ready_at))
                self.runtime.put(key, replace(r, written_rv=self.write(key, new)))
                p = new
            elif isinstance(a, RejectPod):
                new = core_pb2.Pod()
                new.CopyFrom(p)
                new.status.CopyFrom(rejected_status(p, reason=a.reason, message=a.message))
                self.runtime.put(key, replace(a.record, written_rv=self.write(key, new)))
            elif isinstance(a, FinalizePod):
                r = self.runtime.get(key)
                if r is not None and r.state == STOPPING:
                    grace = p.metadata.deletion_grace_period_seconds
                    assert self.now >= r.stopping_at + min(grace, self.timing.stop_delay), "finalized too early"
                assert self.api[key].metadata.uid == a.uid
                del self.api[key]
                if r is not None:
                    self.runtime.put(key, replace(r, state=FINALIZED))
        self.check()

    def check(self) -> None:
        for n, (cidr, _) in NODES.items():
            active = [r for _, r in self.runtime.items() if r.node == n and r.active]
            ips = [r.ip for r in active if r.ip]
            assert len(ips) == len(set(ips)), f"an IP used twice on {n}: {ips}"
            assert all(ipaddress.ip_address(ip) in ipaddress.ip_network(cidr) for ip in ips)
            assert len(active) <= MAX_PODS, f"{n} runs {len(active)} pods"


@settings(max_examples=300)
@given(ops, st.sampled_from([Timing(0.5, 1.0), Timing(0.0, 0.0), Timing(1.0, 0.2)]))
def test_any_history_keeps_ips_unique_and_converges(history, timing):
    w = World(timing)
    for op in history:
        key = f"default/p{op[1]}" if op[0] != "tick" else ""
        if op[0] == "create" and key not in w.api:
            w.uids += 1
            w.write(key, pod(f"p{op[1]}", node=op[2], uid=f"u{w.uids}"))
        elif op[0] == "delete" and key in w.api and not w.api[key].metadata.deletion_timestamp:
            p = core_pb2.Pod()
            p.CopyFrom(w.api[key])
            p.metadata.deletion_timestamp = format_time(w.now + 30)
            p.metadata.deletion_grace_period_seconds = 30 if op[2] is None else op[2]
            w.write(key, p)
        elif op[0] == "sync":
            w.sync(key)
        elif op[0] == "tick":
            w.now += op[1]
    # Time passes and every key is synced, again and again, until nothing is left to do.
    for _ in range(3):
        w.now += 100
        for key in sorted(set(w.api) | {k for k, _ in w.runtime.items()}):
            w.sync(key)
    for key, p in w.api.items():
        assert not p.metadata.deletion_timestamp, f"{key} was deleted but never finalized"
        r = w.runtime.get(key)
        if p.status.phase == "Failed":
            assert r.state == REJECTED
        else:
            assert r.state == RUNNING and status_reported(p, r, NODES[p.spec.node_name][1]), key
    assert {k for k, r in w.runtime.items() if r.state != FINALIZED} == set(w.api)
