"""scheduler/snapshot.py: what a pod requests (Kubernetes' arithmetic), what a node offers, which pods
count, and that the incremental updates (assume, forget, update_node, remove_node) always agree with
a snapshot built from scratch (a Hypothesis state machine of random operations)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from scheduler.snapshot import (
    DEFAULT_MEMORY_REQUEST as DEF_MEM, DEFAULT_MILLI_CPU_REQUEST as DEF_CPU, HostPort, NodeInfo,
    PodInfo, PodPlacements, Resources, Snapshot, assume, build_snapshot, forget, remove_node, update_node,
)
from tests.unit.scheduler.scheduler_builders import make_node, make_pod

pytestmark = pytest.mark.timeout(120)
Mi, Gi = 2 ** 20, 2 ** 30


# --- PodInfo ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("pod, requests, nonzero", [
    pytest.param(make_pod(), Resources(), (DEF_CPU, DEF_MEM), id="best-effort"),
    pytest.param(make_pod(cpu="500m", memory="128Mi"), Resources(500, 128 * Mi), (500, 128 * Mi), id="one"),
    pytest.param(make_pod(cpu="0", memory="0"), Resources(0, 0), (0, 0), id="explicit-zero-is-not-defaulted"),
    pytest.param(make_pod(cpu="0.1m"), Resources(1, 0), (1, DEF_MEM), id="rounded-up-to-a-millicore"),
    pytest.param(make_pod(containers=[("1", "1Gi"), ("500m", None)]), Resources(1500, Gi),
                 (1500, Gi + DEF_MEM), id="containers-summed"),
    pytest.param(make_pod(containers=[("1", "1Gi")], init=[("2", "512Mi")]), Resources(2000, Gi),
                 (2000, Gi), id="init-as-a-floor"),
    pytest.param(make_pod(containers=[("1", "1Gi")], init=[("2", None), (None, "2Gi")]),
                 Resources(2000, 2 * Gi), (2000, 2 * Gi), id="largest-init-per-resource"),
    pytest.param(make_pod(containers=[("50m", "1Gi")], init=[(None, None)]), Resources(50, Gi),
                 (DEF_CPU, Gi), id="best-effort-init-counts-defaults-for-scoring"),
    pytest.param(make_pod(cpu="1", overhead={"cpu": "250m", "memory": "64Mi"}), Resources(1250, 64 * Mi),
                 (1250, DEF_MEM + 64 * Mi), id="overhead-added"),
    pytest.param(make_pod(other={"example.com/gpu": "2", "ephemeral-storage": "1G"}),
                 Resources(0, 0, (("ephemeral-storage", 10 ** 9), ("example.com/gpu", 2))),
                 (DEF_CPU, DEF_MEM), id="other-resources-sorted"),
    pytest.param(make_pod(cpu="1e0", memory="1.5Ki"), Resources(1000, 1536), (1000, 1536), id="forms"),
])
def test_pod_requests(pod, requests, nonzero):
    """Requests as Kubernetes computes them, and the defaulted ones its scorers use."""
    info = PodInfo.from_pod(pod)
    assert info.requests == requests
    assert (info.nonzero_milli_cpu, info.nonzero_memory) == nonzero


def test_pod_info_owner_ports_and_termination():
    """The controller ownerReference's uid, host ports normalised, deletionTimestamp noticed."""
    pod = make_pod("web-1", namespace="shop", host_ports=[("", "", 80), ("10.0.0.1", "UDP", 53)],
                   owner="rs-uid", terminating=True)
    pod.metadata.owner_references.add(kind="Other", uid="not-a-controller")
    info = PodInfo.from_pod(pod)
    assert info.key == "shop/web-1"
    assert info.owner_uid == "rs-uid"
    assert info.host_ports == (HostPort("0.0.0.0", "TCP", 80), HostPort("10.0.0.1", "UDP", 53))
    assert info.terminating
    assert PodInfo.from_pod(make_pod()).owner_uid == ""


def test_pod_info_rejects_malformed_quantities():
    """A malformed quantity raises ValueError (the API's codec never lets one in)."""
    with pytest.raises(ValueError):
        PodInfo.from_pod(make_pod(cpu="lots"))


# --- NodeInfo ---------------------------------------------------------------------------------------
def test_node_allocatable_falls_back_to_capacity_per_resource():
    """status.allocatable wins; a resource only in status.capacity is taken from there."""
    node = make_node("n", cpu="2", memory=None, pods=None)
    node.status.capacity["cpu"].value = "4"
    node.status.capacity["memory"].value = "1Gi"
    node.status.capacity["pods"].value = "3"
    info = NodeInfo.from_node(node)
    assert (info.allocatable, info.allowed_pods) == (Resources(2000, Gi), 3)


@pytest.mark.parametrize("ready, want", [("True", "True"), ("False", "False"), ("Unknown", "Unknown"),
                                         (None, "")])
def test_node_ready_status(ready, want):
    """The Ready condition's status is kept as is ("" when the node reports none)."""
    assert NodeInfo.from_node(make_node("n", ready=ready)).ready == want


# --- build_snapshot ---------------------------------------------------------------------------------
def test_build_snapshot_counts_bound_live_pods():
    """Pods bound to a known node and not finished count; pending, finished and stray ones do not."""
    nodes = [make_node("b"), make_node("a")]
    pods = [
        make_pod("running", node_name="a", cpu="1", phase="Running", owner="rs"),
        make_pod("terminating", node_name="a", cpu="1", owner="rs", terminating=True),
        make_pod("no-status", node_name="b", memory="1Gi", host_ports=[("", "TCP", 80)]),
        make_pod("pending", cpu="1"),
        make_pod("done", node_name="a", cpu="1", phase="Succeeded"),
        make_pod("failed", node_name="a", cpu="1", phase="Failed"),
        make_pod("elsewhere", node_name="gone", cpu="1"),
    ]
    snap = build_snapshot(nodes, pods)
    assert list(snap.nodes) == ["a", "b"]
    assert len(snap) == 2
    a, b = snap.nodes["a"], snap.nodes["b"]
    assert [p.key for p in a.pods] == ["default/running", "default/terminating"]
    assert a.requested == Resources(2000, 0)
    assert dict(a.owner_counts) == {"rs": 1}                 # the terminating one is going away
    assert b.requested == Resources(0, Gi)
    assert b.used_ports == frozenset({HostPort("0.0.0.0", "TCP", 80)})
    assert dict(snap.pod_nodes) == {"default/running": "a", "default/terminating": "a",
                                    "default/no-status": "b"}
    assert dict(snap.owner_max) == {"rs": 1}


def test_build_snapshot_last_occurrence_of_a_pod_wins():
    """The same pod listed twice (moved) is placed once, where its last occurrence says."""
    snap = build_snapshot([make_node("a"), make_node("b")],
                          [make_pod("x", node_name="a"), PodInfo.from_pod(make_pod("x", node_name="b"))])
    assert dict(snap.pod_nodes) == {"default/x": "b"}
    assert snap.nodes["a"].pods == ()


# --- updates ----------------------------------------------------------------------------------------
def test_assume_forget_and_move():
    """assume places (or moves) a pod, forget removes it; both keep the totals and indexes right."""
    snap = build_snapshot([make_node("a"), make_node("b")], [])
    pod = make_pod("x", cpu="1", owner="rs", host_ports=[("", "TCP", 80)])
    snap = assume(snap, pod, "a")
    assert (snap.nodes["a"].requested.milli_cpu, dict(snap.pod_nodes), dict(snap.owner_max)) == \
        (1000, {"default/x": "a"}, {"rs": 1})
    snap = assume(snap, pod, "b")                               # moved: counted once, on b
    assert (snap.nodes["a"].requested.milli_cpu, snap.nodes["b"].requested.milli_cpu) == (0, 1000)
    assert snap.nodes["a"].used_ports == frozenset()
    assert dict(snap.pod_nodes) == {"default/x": "b"}
    snap = forget(snap, "default/x")
    assert (snap.nodes["b"].pods, dict(snap.pod_nodes), dict(snap.owner_max)) == ((), {}, {})
    assert forget(snap, "default/x") is snap                    # forgetting twice is harmless


def test_assume_on_unknown_node_raises():
    """A node the snapshot does not have cannot take a pod."""
    with pytest.raises(KeyError):
        assume(build_snapshot([make_node("a")], []), make_pod(), "nope")


def test_updates_leave_the_old_snapshot_alone():
    """A snapshot is immutable: updates return a new one and the old still reads as before."""
    old = build_snapshot([make_node("a")], [])
    new = assume(old, make_pod("x", cpu="1"), "a")
    assert old.nodes["a"].pods == () and dict(old.pod_nodes) == {}
    assert len(new.nodes["a"].pods) == 1
    with pytest.raises(TypeError):
        old.nodes["b"] = old.nodes["a"]          # type: ignore[index]


def test_update_node_keeps_its_pods_and_remove_node_drops_them():
    """A changed node keeps its pods; a new node is inserted in name order; a removed one takes its pods."""
    snap = build_snapshot([make_node("b")], [make_pod("x", node_name="b", cpu="1", owner="rs")])
    snap = update_node(snap, make_node("b", cpu="8", unschedulable=True))
    assert snap.nodes["b"].allocatable.milli_cpu == 8000
    assert snap.nodes["b"].requested.milli_cpu == 1000
    snap = update_node(snap, make_node("a"))
    assert list(snap.nodes) == ["a", "b"]
    snap = remove_node(snap, "b")
    assert (list(snap.nodes), dict(snap.pod_nodes), dict(snap.owner_max)) == (["a"], {}, {})
    assert remove_node(snap, "b") is snap


# --- property: incremental updates agree with a rebuild ------------------------------------------
def _view(snap: Snapshot) -> dict:
    return {
        "nodes": {name: (sorted(p.key for p in info.pods), info.requested, info.nonzero_milli_cpu,
                         info.nonzero_memory, info.used_ports, dict(info.owner_counts),
                         info.allocatable, info.allowed_pods, info.ready)
                  for name, info in snap.nodes.items()},
        "order": list(snap.nodes),
        "pod_nodes": dict(snap.pod_nodes),
        "owner_max": dict(snap.owner_max),
    }


_op = st.one_of(
    st.tuples(st.just("assume"), st.integers(0, 5), st.sampled_from("abc"),
              st.sampled_from([None, "100m", "1"]), st.sampled_from([None, "rs-1", "rs-2"]),
              st.booleans(), st.sampled_from([(), (("", "TCP", 80),)])),
    st.tuples(st.just("forget"), st.integers(0, 5)),
    st.tuples(st.just("update_node"), st.sampled_from("abcd"), st.sampled_from(["1", "4"])),
    st.tuples(st.just("remove_node"), st.sampled_from("abcd")),
)


@settings(max_examples=200)
@given(ops=st.lists(_op, max_size=25))
def test_incremental_updates_agree_with_a_rebuild(ops):
    """After any sequence of assume/forget/update_node/remove_node, the snapshot equals one built
    from scratch from the resulting nodes and placements."""
    nodes = {n: make_node(n) for n in "abc"}
    placed: dict[str, object] = {}                  # pod name -> Pod with spec.nodeName set
    snap = build_snapshot(nodes.values(), [])
    for op in ops:
        if op[0] == "assume":
            _, i, node, cpu, owner, terminating, ports = op
            if node not in nodes:
                continue
            pod = make_pod(f"p{i}", cpu=cpu, owner=owner, terminating=terminating, host_ports=ports,
                           node_name=node)
            snap = assume(snap, pod, node)
            placed[f"p{i}"] = pod
        elif op[0] == "forget":
            snap = forget(snap, f"default/p{op[1]}")
            placed.pop(f"p{op[1]}", None)
        elif op[0] == "update_node":
            _, name, cpu = op
            if name not in nodes:
                # A new node starts empty in both worlds: no placed pod names it.
                assert all(p.spec.node_name != name for p in placed.values())
            nodes[name] = make_node(name, cpu=cpu)
            snap = update_node(snap, nodes[name])
        else:
            name = op[1]
            nodes.pop(name, None)
            snap = remove_node(snap, name)
            placed = {k: p for k, p in placed.items() if p.spec.node_name != name}
    assert _view(snap) == _view(build_snapshot(nodes.values(), placed.values()))


# --- PodPlacements ----------------------------------------------------------------------------------
_placement_op = st.tuples(st.sampled_from(["place", "remove"]), st.sampled_from([f"ns/p{i}" for i in range(300)]),
                          st.sampled_from(["a", "b", "c"]))


@settings(max_examples=100)
@given(ops=st.lists(_placement_op, max_size=200))
def test_pod_placements_behave_as_an_immutable_dict(ops):
    """Every version of a PodPlacements reads as the dict it stands for, and later versions never
    change an earlier one (random placements and removals of 300 keys over 128 buckets)."""
    versions = [(PodPlacements(), {})]
    for op, key, node in ops:
        placements, want = versions[-1]
        want = dict(want)
        if op == "place":
            placements = placements.with_placement(key, node)
            want[key] = node
        else:
            placements = placements.without(key)
            want.pop(key, None)
        versions.append((placements, want))
    for placements, want in versions:
        assert dict(placements) == want and len(placements) == len(want) and placements == want
        assert all(placements.get(k) == want.get(k) and (k in placements) == (k in want)
                   for k in ("ns/p0", "ns/p1", "ns/p299", "other"))
