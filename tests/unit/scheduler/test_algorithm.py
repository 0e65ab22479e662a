"""scheduler/algorithm.py against Kubernetes 1.20's scheduling semantics: each filter and scorer as a
table (inputs -> reasons / score), schedule() choosing, tie-breaking with a seeded rng, the failure
message exactly as Kubernetes prints it, then Hypothesis properties: the chosen node passes every
filter, and scheduling a stream of pods never overcommits a node."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings, strategies as st

from scheduler.algorithm import (
    FILTERS, NO_FREE_PORTS, NO_NODES, NOT_READY, SELECTOR_MISMATCH, TOO_MANY_PODS, UNSCHEDULABLE,
    FilterPlugin, ScorePlugin, failure_message, filter_host_ports, filter_node, filter_node_selector,
    filter_ready, filter_resources, filter_taints, filter_unschedulable, schedule,
    score_least_requested, score_owner_spread, tolerates,
)
from scheduler.snapshot import HostPort, NodeInfo, PodInfo, assume, build_snapshot
from skiffpb.k8s.core.v1 import core_pb2
from tests.unit.scheduler.scheduler_builders import make_node, make_pod

pytestmark = pytest.mark.timeout(120)

# Kubernetes 1.20's texts, written out rather than imported, so a drift shows.
CPU = "Insufficient cpu"
MEMORY = "Insufficient memory"
GPU = "Insufficient example.com/gpu"


def taint_text(key: str, value: str) -> str:
    return f"node(s) had taint {{{key}: {value}}}, that the pod didn't tolerate"


def node_info(node: core_pb2.Node, *bound: core_pb2.Pod) -> NodeInfo:
    return NodeInfo.from_node(node, [PodInfo.from_pod(p) for p in bound])


def check(filter_fn, pod: core_pb2.Pod, node: core_pb2.Node, *bound: core_pb2.Pod) -> tuple[str, ...]:
    return filter_fn(PodInfo.from_pod(pod), node_info(node, *bound))


class NoRng(random.Random):
    """An rng that fails the test if schedule() consults it."""

    def choice(self, seq):
        raise AssertionError("rng consulted without a tie")


# --- NodeUnschedulable ----------------------------------------------------------------------------
CORDON_TOLERATION = {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}


@pytest.mark.parametrize("unschedulable, tolerations, want", [
    pytest.param(False, [], (), id="schedulable"),
    pytest.param(True, [], (UNSCHEDULABLE,), id="cordoned"),
    pytest.param(True, [CORDON_TOLERATION], (), id="cordoned-but-tolerated"),
    pytest.param(True, [{"operator": "Exists"}], (), id="cordoned-tolerate-everything"),
    pytest.param(True, [{**CORDON_TOLERATION, "effect": "NoExecute"}], (UNSCHEDULABLE,),
                 id="cordoned-toleration-of-other-effect"),
    pytest.param(True, [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists"}], (),
                 id="cordoned-toleration-of-every-effect"),
])
def test_filter_unschedulable(unschedulable, tolerations, want):
    """A cordoned node rejects pods unless they tolerate its unschedulable taint."""
    pod = make_pod(tolerations=tolerations)
    assert check(filter_unschedulable, pod, make_node("n", unschedulable=unschedulable)) == want


# --- NodeResourcesFit -----------------------------------------------------------------------------
@pytest.mark.parametrize("pod, node, bound, want", [
    pytest.param(make_pod(cpu="1", memory="1Gi"), make_node("n"), [], (), id="fits"),
    pytest.param(make_pod(cpu="4", memory="8Gi"), make_node("n"), [], (), id="fits-exactly"),
    pytest.param(make_pod(cpu="4001m"), make_node("n"), [], (CPU,), id="cpu-short-by-a-millicore"),
    pytest.param(make_pod(memory="9Gi"), make_node("n"), [], (MEMORY,), id="memory-short"),
    pytest.param(make_pod(cpu="5", memory="9Gi"), make_node("n"), [], (CPU, MEMORY), id="both-short"),
    pytest.param(make_pod(cpu="2"), make_node("n"), [make_pod("a", cpu="2500m")], (CPU,),
                 id="bound-pods-take-room"),
    pytest.param(make_pod(cpu="1500m"), make_node("n"), [make_pod("a", cpu="2500m")], (),
                 id="bound-pods-leave-room"),
    pytest.param(make_pod(), make_node("n", pods="1"), [make_pod("a")], (TOO_MANY_PODS,),
                 id="too-many-pods"),
    pytest.param(make_pod(cpu="5"), make_node("n", pods="1"), [make_pod("a")], (TOO_MANY_PODS, CPU),
                 id="too-many-pods-and-cpu"),
    pytest.param(make_pod(), make_node("n", pods=None), [], (TOO_MANY_PODS,),
                 id="node-without-pods-figure-takes-none"),
    pytest.param(make_pod(), make_node("n", cpu="0", memory="0"), [], (), id="best-effort-fits-anywhere"),
    pytest.param(make_pod(cpu="0", memory="0"), make_node("n", cpu="0"), [], (),
                 id="explicit-zero-requests-fit"),
    pytest.param(make_pod(memory="1Mi"), make_node("n", cpu="1"), [make_pod("a", cpu="2")], (CPU,),
                 id="overcommitted-node-takes-nothing-that-requests"),
    pytest.param(make_pod(cpu="1"), make_node("n", cpu="1", in_capacity=True), [], (),
                 id="capacity-when-no-allocatable"),
    pytest.param(make_pod(cpu="1"), make_node("n", cpu=None), [], (CPU,), id="no-cpu-offered"),
    # Init containers run one at a time before the app containers: max(max init, sum of containers).
    pytest.param(make_pod(containers=[("1", None), ("1500m", None)], init=[("3", None)]),
                 make_node("n", cpu="3"), [], (), id="init-larger-than-sum-fits-its-own-size"),
    pytest.param(make_pod(containers=[("1", None), ("1500m", None)], init=[("3", None)]),
                 make_node("n", cpu="2900m"), [], (CPU,), id="init-larger-than-sum-counts"),
    pytest.param(make_pod(containers=[("2", None), ("2", None)], init=[("1", None), ("3", None)]),
                 make_node("n", cpu="3900m"), [], (CPU,), id="sum-larger-than-init-counts"),
    pytest.param(make_pod(cpu="1", overhead={"cpu": "250m"}), make_node("n", cpu="1200m"), [], (CPU,),
                 id="overhead-counts"),
    pytest.param(make_pod(other={"example.com/gpu": "1"}), make_node("n"), [], (GPU,),
                 id="extended-resource-not-offered"),
    pytest.param(make_pod(other={"example.com/gpu": "1"}), make_node("n", other={"example.com/gpu": "2"}),
                 [make_pod("a", other={"example.com/gpu": "1"})], (), id="extended-resource-fits"),
    pytest.param(make_pod(cpu="100m"), make_node("n", cpu="0.1"), [], (), id="decimal-allocatable"),
    pytest.param(make_pod(memory="1G"), make_node("n", memory="953Mi"), [], (MEMORY,),
                 id="decimal-vs-binary-suffix"),
])
def test_filter_resources(pod, node, bound, want):
    """Requests (containers summed, init containers as a floor, overhead added) fit what is left."""
    assert check(filter_resources, pod, node, *bound) == want


# --- NodePorts ------------------------------------------------------------------------------------
@pytest.mark.parametrize("want_ports, used_ports, want", [
    pytest.param([], [("", "TCP", 80)], (), id="no-ports-wanted"),
    pytest.param([("", "TCP", 80)], [], (), id="free"),
    pytest.param([("", "TCP", 80)], [("", "TCP", 80)], (NO_FREE_PORTS,), id="taken"),
    pytest.param([("", "", 80)], [("", "TCP", 80)], (NO_FREE_PORTS,), id="empty-protocol-is-tcp"),
    pytest.param([("", "UDP", 80)], [("", "TCP", 80)], (), id="other-protocol"),
    pytest.param([("", "TCP", 81)], [("", "TCP", 80)], (), id="other-port"),
    pytest.param([("10.0.0.1", "TCP", 80)], [("10.0.0.2", "TCP", 80)], (), id="other-address"),
    pytest.param([("10.0.0.1", "TCP", 80)], [("10.0.0.1", "TCP", 80)], (NO_FREE_PORTS,), id="same-address"),
    pytest.param([("10.0.0.1", "TCP", 80)], [("0.0.0.0", "TCP", 80)], (NO_FREE_PORTS,),
                 id="every-address-used"),
    pytest.param([("", "TCP", 80)], [("10.0.0.1", "TCP", 80)], (NO_FREE_PORTS,),
                 id="every-address-wanted"),
    pytest.param([("", "TCP", 80), ("", "TCP", 443)], [("", "TCP", 443)], (NO_FREE_PORTS,),
                 id="one-of-several-taken"),
])
def test_filter_host_ports(want_ports, used_ports, want):
    """A wanted (hostIP, protocol, hostPort) must not be in use; 0.0.0.0 overlaps every address."""
    bound = make_pod("a", host_ports=used_ports)
    assert check(filter_host_ports, make_pod(host_ports=want_ports), make_node("n"), bound) == want


def test_filter_host_ports_ignores_container_only_ports_and_init_containers():
    """Ports without a hostPort, and init containers' ports, take no host port (as in Kubernetes)."""
    bound = make_pod("a", init=[(None, None)], init_host_ports=[80])
    bound.spec.containers[0].ports.add(container_port=80)           # no hostPort
    info = node_info(make_node("n"), bound)
    assert info.used_ports == frozenset()
    assert check(filter_host_ports, make_pod(host_ports=[("", "TCP", 80)]), make_node("n"), bound) == ()
    assert PodInfo.from_pod(make_pod(host_ports=[("", "", 8080)])).host_ports == (HostPort("0.0.0.0", "TCP", 8080),)


# --- NodeAffinity ---------------------------------------------------------------------------------
def expr(key: str, operator: str, *values: str) -> dict:
    return {"matchExpressions": [{"key": key, "operator": operator, "values": list(values)}]}


LABELS = {"disk": "ssd", "zone": "a", "cores": "8"}


@pytest.mark.parametrize("selector, affinity, want", [
    pytest.param({}, None, (), id="no-selector"),
    pytest.param({"disk": "ssd"}, None, (), id="selector-matches"),
    pytest.param({"disk": "ssd", "zone": "a"}, None, (), id="selector-all-match"),
    pytest.param({"disk": "hdd"}, None, (SELECTOR_MISMATCH,), id="selector-other-value"),
    pytest.param({"gpu": "yes"}, None, (SELECTOR_MISMATCH,), id="selector-missing-label"),
    pytest.param({"disk": "ssd", "zone": "b"}, None, (SELECTOR_MISMATCH,), id="selector-one-of-two"),
    pytest.param({}, [expr("zone", "In", "a", "b")], (), id="in"),
    pytest.param({}, [expr("zone", "In", "b")], (SELECTOR_MISMATCH,), id="in-no"),
    pytest.param({}, [expr("zone", "NotIn", "b")], (), id="notin"),
    pytest.param({}, [expr("gpu", "NotIn", "yes")], (), id="notin-absent-label"),
    pytest.param({}, [expr("zone", "NotIn", "a")], (SELECTOR_MISMATCH,), id="notin-no"),
    pytest.param({}, [expr("disk", "Exists")], (), id="exists"),
    pytest.param({}, [expr("gpu", "DoesNotExist")], (), id="does-not-exist"),
    pytest.param({}, [expr("disk", "DoesNotExist")], (SELECTOR_MISMATCH,), id="does-not-exist-no"),
    pytest.param({}, [expr("cores", "Gt", "4")], (), id="gt"),
    pytest.param({}, [expr("cores", "Lt", "4")], (SELECTOR_MISMATCH,), id="lt-no"),
    pytest.param({}, [expr("zone", "Gt", "4")], (SELECTOR_MISMATCH,), id="gt-non-integer-label"),
    pytest.param({}, [expr("zone", "In")], (SELECTOR_MISMATCH,), id="in-without-values-is-ill-formed"),
    pytest.param({}, [expr("zone", "In", "b"), expr("disk", "In", "ssd")], (), id="any-term-matches"),
    pytest.param({}, [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]},
                                            {"key": "disk", "operator": "In", "values": ["hdd"]}]}],
                 (SELECTOR_MISMATCH,), id="all-expressions-of-a-term"),
    pytest.param({}, [{}], (SELECTOR_MISMATCH,), id="empty-term-matches-nothing"),
    pytest.param({}, [], (SELECTOR_MISMATCH,), id="no-terms-match-nothing"),
    pytest.param({}, [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n"]}]}],
                 (), id="match-fields-name"),
    pytest.param({}, [{"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["n"]}]}],
                 (SELECTOR_MISMATCH,), id="match-fields-name-notin"),
    pytest.param({"disk": "ssd"}, [expr("zone", "In", "b")], (SELECTOR_MISMATCH,),
                 id="selector-and-affinity-both-needed"),
])
def test_filter_node_selector(selector, affinity, want):
    """nodeSelector labels must all match, and one required node affinity term must match."""
    pod = make_pod(node_selector=selector, affinity=affinity)
    assert check(filter_node_selector, pod, make_node("n", labels=LABELS)) == want


# --- TaintToleration ------------------------------------------------------------------------------
@pytest.mark.parametrize("taints, tolerations, want", [
    pytest.param([], [], (), id="no-taints"),
    pytest.param([("dedicated", "gpu", "NoSchedule")], [], (taint_text("dedicated", "gpu"),), id="noschedule"),
    pytest.param([("dedicated", "gpu", "NoExecute")], [], (taint_text("dedicated", "gpu"),), id="noexecute"),
    pytest.param([("dedicated", "gpu", "PreferNoSchedule")], [], (), id="prefernoschedule-never-filters"),
    pytest.param([("node.kubernetes.io/not-ready", "", "NoSchedule")], [],
                 (taint_text("node.kubernetes.io/not-ready", ""),), id="empty-value-prints-as-kubernetes"),
    pytest.param([("dedicated", "gpu", "NoSchedule")],
                 [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}], (),
                 id="equal"),
    pytest.param([("dedicated", "gpu", "NoSchedule")],
                 [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}], (),
                 id="empty-operator-is-equal"),
    pytest.param([("dedicated", "gpu", "NoSchedule")],
                 [{"key": "dedicated", "operator": "Equal", "value": "cpu", "effect": "NoSchedule"}],
                 (taint_text("dedicated", "gpu"),), id="equal-other-value"),
    pytest.param([("dedicated", "gpu", "NoSchedule")], [{"key": "dedicated", "operator": "Exists"}], (),
                 id="exists-any-value-any-effect"),
    pytest.param([("dedicated", "gpu", "NoSchedule")], [{"key": "other", "operator": "Exists"}],
                 (taint_text("dedicated", "gpu"),), id="exists-other-key"),
    pytest.param([("a", "1", "NoSchedule"), ("b", "2", "NoExecute")], [{"operator": "Exists"}], (),
                 id="empty-key-exists-tolerates-everything"),
    pytest.param([("dedicated", "gpu", "NoExecute")],
                 [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
                 (taint_text("dedicated", "gpu"),), id="other-effect"),
    pytest.param([("dedicated", "gpu", "NoExecute")], [{"key": "dedicated", "value": "gpu"}], (),
                 id="empty-effect-matches-all"),
    pytest.param([("a", "1", "PreferNoSchedule"), ("b", "2", "NoSchedule"), ("c", "3", "NoExecute")], [],
                 (taint_text("b", "2"),), id="first-untolerated-reported"),
    pytest.param([("a", "1", "NoSchedule"), ("b", "2", "NoSchedule")], [{"key": "a", "operator": "Exists"}],
                 (taint_text("b", "2"),), id="tolerated-taint-skipped"),
])
def test_filter_taints(taints, tolerations, want):
    """The node's first NoSchedule/NoExecute taint that no toleration tolerates rejects the pod."""
    pod = make_pod(tolerations=tolerations)
    assert check(filter_taints, pod, make_node("n", taints=taints)) == want


@pytest.mark.parametrize("toleration, taint, want", [
    pytest.param({}, ("k", "", "NoSchedule"), True, id="empty-toleration-any-key-empty-value"),
    pytest.param({}, ("k", "v", "NoSchedule"), False, id="empty-toleration-equal-compares-value"),
    pytest.param({"key": "k"}, ("k", "", "NoSchedule"), True, id="equal-empty-values"),
    pytest.param({"key": "k", "operator": "Bogus"}, ("k", "", "NoSchedule"), False, id="unknown-operator"),
    pytest.param({"operator": "Exists", "effect": "NoExecute"}, ("k", "v", "NoExecute"), True,
                 id="exists-all-keys-one-effect"),
])
def test_tolerates(toleration, taint, want):
    """One toleration against one taint, as Kubernetes' ToleratesTaint."""
    assert tolerates(core_pb2.Toleration(**toleration), *taint) is want


# --- NodeReady ------------------------------------------------------------------------------------
NOT_READY_TOLERATION = {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoSchedule"}
UNREACHABLE_TOLERATION = {"key": "node.kubernetes.io/unreachable", "operator": "Exists"}


@pytest.mark.parametrize("ready, tolerations, want", [
    pytest.param("True", [], (), id="ready"),
    pytest.param("False", [], (NOT_READY,), id="not-ready"),
    pytest.param("Unknown", [], (NOT_READY,), id="unknown"),
    pytest.param(None, [], (NOT_READY,), id="no-ready-condition"),
    pytest.param("False", [NOT_READY_TOLERATION], (), id="not-ready-tolerated"),
    pytest.param("Unknown", [NOT_READY_TOLERATION], (NOT_READY,), id="unknown-needs-unreachable-toleration"),
    pytest.param("Unknown", [UNREACHABLE_TOLERATION], (), id="unknown-tolerated"),
    pytest.param(None, [{"operator": "Exists"}], (), id="tolerate-everything"),
])
def test_filter_ready(ready, tolerations, want):
    """A node that is not Ready rejects pods that do not tolerate the taint it will get."""
    assert check(filter_ready, make_pod(tolerations=tolerations), make_node("n", ready=ready)) == want


# --- the filters together -------------------------------------------------------------------------
@pytest.mark.parametrize("node, pod, want", [
    pytest.param(make_node("n"), make_pod(cpu="1"), (), id="fits"),
    pytest.param(make_node("n", unschedulable=True, cpu="0"), make_pod(cpu="1"), (UNSCHEDULABLE,),
                 id="unschedulable-before-resources"),
    pytest.param(make_node("n", cpu="0", taints=[("k", "v", "NoSchedule")]), make_pod(cpu="1"), (CPU,),
                 id="resources-before-taints-as-kubernetes-1.20"),
    pytest.param(make_node("n", labels={"a": "b"}, taints=[("k", "v", "NoSchedule")]),
                 make_pod(node_selector={"a": "c"}), (SELECTOR_MISMATCH,), id="selector-before-taints"),
    pytest.param(make_node("n", ready="False", taints=[("node.kubernetes.io/not-ready", "", "NoSchedule")]),
                 make_pod(), (taint_text("node.kubernetes.io/not-ready", ""),),
                 id="tainted-not-ready-node-prints-the-taint"),
    pytest.param(make_node("n", ready="False"), make_pod(), (NOT_READY,), id="untainted-not-ready-node"),
])
def test_filter_node_stops_at_first_rejecting_filter(node, pod, want):
    """Only the first filter that rejects a node gives its reasons, in Kubernetes 1.20's order."""
    assert filter_node(PodInfo.from_pod(pod), node_info(node)) == want


def test_filters_are_in_kubernetes_order():
    """FILTERS keep Kubernetes 1.20's plugin order, with Skiff's Ready check last."""
    assert [p.name for p in FILTERS] == ["NodeUnschedulable", "NodeResourcesFit", "NodePorts",
                                         "NodeAffinity", "TaintToleration", "NodeReady"]


# --- scorers --------------------------------------------------------------------------------------
@pytest.mark.parametrize("pod, node, bound, want", [
    pytest.param(make_pod(cpu="1", memory="2Gi"), make_node("n"), [], 75.0, id="quarter-used"),
    pytest.param(make_pod(cpu="2", memory="2Gi"), make_node("n"), [], 62.0, id="mean-rounded-down"),
    pytest.param(make_pod(), make_node("n"), [], 97.0, id="best-effort-counts-100m-200Mi"),
    pytest.param(make_pod(cpu="0", memory="0"), make_node("n"), [], 100.0, id="explicit-zero-counts-zero"),
    pytest.param(make_pod(cpu="1", memory="2Gi"), make_node("n"), [make_pod("a", cpu="3", memory="0")], 37.0,
                 id="bound-pods-count"),
    pytest.param(make_pod(cpu="1", memory="2Gi"), make_node("n"), [make_pod("a", cpu="3")], 36.0,
                 id="bound-best-effort-memory-counts-200Mi"),
    pytest.param(make_pod(cpu="5", memory="2Gi"), make_node("n"), [], 37.0, id="over-capacity-scores-0"),
    pytest.param(make_pod(cpu="1", memory="2Gi"), make_node("n", memory="0"), [], 37.0,
                 id="zero-capacity-scores-0"),
    pytest.param(make_pod(cpu="1", memory="2Gi"), make_node("n", cpu="8", memory="16Gi"), [], 87.0,
                 id="bigger-node-higher"),
])
def test_score_least_requested(pod, node, bound, want):
    """(free after placing / allocatable) * 100 for cpu and memory, averaged, in integers."""
    info = node_info(node, *bound)
    score = score_least_requested(PodInfo.from_pod(pod), info, build_snapshot([node], bound))
    assert score == want


@pytest.mark.parametrize("placed, owner, want", [
    pytest.param({}, "rs", {"a": 100.0, "b": 100.0, "c": 100.0}, id="none-placed"),
    pytest.param({"a": 2}, None, {"a": 100.0, "b": 100.0, "c": 100.0}, id="no-owner"),
    pytest.param({"a": 2}, "rs", {"a": 0.0, "b": 100.0, "c": 100.0}, id="one-node-has-them"),
    pytest.param({"a": 2, "b": 1}, "rs", {"a": 0.0, "b": 50.0, "c": 100.0}, id="halfway"),
    pytest.param({"a": 3, "b": 1}, "rs", {"a": 0.0, "b": 66.0, "c": 100.0}, id="truncated"),
    pytest.param({"a": 2}, "other", {"a": 100.0, "b": 100.0, "c": 100.0}, id="other-owner-ignored"),
])
def test_score_owner_spread(placed, owner, want):
    """Fewer pods of the same controller on a node score higher: 100 * (most - here) / most."""
    nodes = [make_node(n) for n in "abc"]
    bound = [make_pod(f"{n}{i}", node_name=n, owner="rs") for n, count in placed.items() for i in range(count)]
    snap = build_snapshot(nodes, bound)
    pod = PodInfo.from_pod(make_pod("new", owner=owner))
    assert {n: score_owner_spread(pod, snap.nodes[n], snap) for n in "abc"} == want


def test_score_owner_spread_ignores_terminating_pods():
    """A terminating pod of the owner does not count against its node (it is going away)."""
    snap = build_snapshot([make_node("a"), make_node("b")],
                          [make_pod("x", node_name="a", owner="rs", terminating=True),
                           make_pod("y", node_name="b", owner="rs")])
    pod = PodInfo.from_pod(make_pod("new", owner="rs"))
    assert score_owner_spread(pod, snap.nodes["a"], snap) == 100.0
    assert score_owner_spread(pod, snap.nodes["b"], snap) == 0.0


# --- schedule -------------------------------------------------------------------------------------
def test_schedule_picks_the_least_requested_node():
    """Among feasible nodes the emptiest wins; rejected nodes are reported with their reasons."""
    nodes = [make_node("busy"), make_node("idle"), make_node("small", cpu="500m")]
    snap = build_snapshot(nodes, [make_pod("x", cpu="3", node_name="busy")])
    result = schedule(make_pod(cpu="1"), snap, NoRng())
    assert result.node_name == "idle"
    assert result.feasible == ("busy", "idle")
    assert dict(result.reasons) == {"small": (CPU,)}
    assert result.scores["idle"] > result.scores["busy"]
    assert result.message == ""


def test_schedule_spreads_pods_of_one_owner():
    """Replicas of one controller go to the node with fewer of them, even if it is a bit fuller."""
    nodes = [make_node("a"), make_node("b")]
    bound = [make_pod("r1", node_name="a", owner="rs", cpu="100m"),
             make_pod("other", node_name="b", cpu="500m")]
    result = schedule(make_pod("r2", owner="rs", cpu="100m"), build_snapshot(nodes, bound), NoRng())
    assert result.node_name == "b"


def test_schedule_with_one_feasible_node_skips_scoring():
    """When one node fits, it is chosen without scoring, as in Kubernetes."""
    snap = build_snapshot([make_node("a"), make_node("b", unschedulable=True)], [])
    result = schedule(make_pod(), snap, NoRng())
    assert (result.node_name, result.scores) == ("a", {})


def test_schedule_fails_with_kubernetes_message():
    """No node fits: no node name, each node's reasons, and Kubernetes' summary."""
    nodes = [make_node("a", cpu="1"), make_node("b", cpu="1"), make_node("c", unschedulable=True)]
    result = schedule(make_pod(cpu="2"), build_snapshot(nodes, []), NoRng())
    assert result.node_name is None
    assert dict(result.reasons) == {"a": (CPU,), "b": (CPU,), "c": (UNSCHEDULABLE,)}
    # Kubernetes sorts the "<count> <reason>" strings, so "1 node(s)..." comes before "2 Insufficient...":
    # the example lists them the other way round, which Kubernetes 1.20 never prints.
    assert result.message == "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu."


def test_schedule_without_nodes():
    """An empty cluster gives Kubernetes' 'no nodes available to schedule pods'."""
    result = schedule(make_pod(), build_snapshot([], []), NoRng())
    assert (result.node_name, result.num_nodes, result.message) == (None, 0, NO_NODES)
    assert NO_NODES == "no nodes available to schedule pods"


def test_schedule_breaks_ties_with_the_rng():
    """Equally good nodes: the seeded rng chooses among them in name order, so a seed replays."""
    snap = build_snapshot([make_node(n) for n in ("c", "a", "b")], [])
    chosen = set()
    for seed in range(40):
        result = schedule(make_pod(), snap, random.Random(seed))
        assert result.node_name == random.Random(seed).choice(["a", "b", "c"])
        assert schedule(make_pod(), snap, random.Random(seed)).node_name == result.node_name
        chosen.add(result.node_name)
    assert chosen == {"a", "b", "c"}


def test_schedule_ties_only_among_the_best():
    """The rng only chooses among the top-scored nodes; a worse node is never picked."""
    snap = build_snapshot([make_node("a"), make_node("b"), make_node("full")],
                          [make_pod("x", node_name="full", cpu="2")])
    assert {schedule(make_pod(), snap, random.Random(s)).node_name for s in range(30)} == {"a", "b"}


def test_schedule_accepts_custom_plugins():
    """Filters and scorers can be swapped: a filter rejecting 'a' and a scorer preferring 'c'."""
    snap = build_snapshot([make_node(n) for n in "abc"], [])
    filters = (FilterPlugin("NotA", lambda pod, node: ("no a",) if node.name == "a" else ()),)
    scorers = (ScorePlugin("LikeC", lambda pod, node, s: 100.0 if node.name == "c" else 0.0, 1),)
    result = schedule(make_pod(), snap, NoRng(), filters=filters, scorers=scorers)
    assert (result.node_name, dict(result.reasons)) == ("c", {"a": ("no a",)})


def test_schedule_leaves_out_filters_not_relevant_to_the_pod():
    """A filter whose `relevant` refuses the pod is never called for it; for a pod it accepts, it filters."""
    snap = build_snapshot([make_node(n) for n in "ab"], [])
    calls = []

    def not_b(pod, node):
        calls.append(pod.key)
        return ("no b",) if node.name == "b" else ()
    filters = (FilterPlugin("NotB", not_b, lambda pod: pod.key.endswith("picky")),)
    plain = schedule(make_pod("plain"), snap, random.Random(1), filters=filters)
    assert (calls, plain.feasible) == ([], ("a", "b"))
    picky = schedule(make_pod("picky"), snap, random.Random(1), filters=filters)
    assert (picky.node_name, dict(picky.reasons), calls) == ("a", {"b": ("no b",)}, ["default/picky"] * 2)


def test_filters_left_out_could_reject_no_node():
    """The built-in `relevant` predicates are sound: a pod they refuse passes that filter on every node
    (nodes with host ports taken and with labels the pod does not ask for)."""
    busy = build_snapshot([make_node("a", labels={"zone": "x"})],
                          [make_pod("web", node_name="a", host_ports=[("", "TCP", 80)])])
    info = PodInfo.from_pod(make_pod("plain", cpu="1"))
    for plugin in FILTERS:
        if plugin.relevant is not None:
            assert not plugin.relevant(info)
            assert plugin.filter(info, busy.nodes["a"]) == (), plugin.name
    wants = PodInfo.from_pod(make_pod("w", host_ports=[("", "TCP", 80)], node_selector={"zone": "y"}))
    assert all(p.relevant(wants) for p in FILTERS if p.relevant is not None)


def test_assume_takes_room_for_the_next_pod():
    """Scheduling then assuming pods one after another fills nodes until Kubernetes' message."""
    snap = build_snapshot([make_node("a", cpu="2"), make_node("b", cpu="2")], [])
    rng = random.Random(7)
    for i in range(4):
        pod = make_pod(f"p{i}", cpu="1")
        result = schedule(pod, snap, rng)
        assert result.node_name is not None, result.message
        snap = assume(snap, pod, result.node_name)
    assert schedule(make_pod("p4", cpu="1"), snap, rng).message == "0/2 nodes are available: 2 Insufficient cpu."


# --- failure_message ------------------------------------------------------------------------------
@pytest.mark.parametrize("num_nodes, reasons, want", [
    pytest.param(3, {"a": (CPU,), "b": (CPU,), "c": (UNSCHEDULABLE,)},
                 "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu.",
                 id="issue-example-in-kubernetes-order"),
    pytest.param(3, {"a": (UNSCHEDULABLE,), "b": (UNSCHEDULABLE,), "c": (CPU,)},
                 "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) were unschedulable.",
                 id="counts-lead-the-sort"),
    pytest.param(2, {"a": (CPU, MEMORY), "b": (MEMORY,)},
                 "0/2 nodes are available: 1 Insufficient cpu, 2 Insufficient memory.",
                 id="a-node-gives-several-reasons"),
    pytest.param(6, {"m": (taint_text("node-role.kubernetes.io/master", ""),),
                     **{f"w{i}": (MEMORY,) for i in range(5)}},
                 "0/6 nodes are available: 1 node(s) had taint {node-role.kubernetes.io/master: }, "
                 "that the pod didn't tolerate, 5 Insufficient memory.", id="taint-text"),
    pytest.param(12, {**{f"a{i}": (CPU,) for i in range(10)}, "b": (TOO_MANY_PODS,), "c": (TOO_MANY_PODS,)},
                 "0/12 nodes are available: 10 Insufficient cpu, 2 Too many pods.",
                 id="sorted-as-strings-10-before-2"),
    pytest.param(3, {"a": (NOT_READY,), "b": (NO_FREE_PORTS,), "c": (SELECTOR_MISMATCH,)},
                 "0/3 nodes are available: 1 node(s) didn't have free ports for the requested pod ports, "
                 "1 node(s) didn't match node selector, 1 node(s) were not ready.", id="other-reasons"),
    pytest.param(0, {}, "no nodes available to schedule pods", id="no-nodes"),
])
def test_failure_message(num_nodes, reasons, want):
    """Reasons counted per node, '<n> <reason>' strings sorted and joined as Kubernetes' FitError."""
    assert failure_message(num_nodes, reasons) == want


# --- properties -----------------------------------------------------------------------------------
_TAINTS = [("dedicated", "gpu", "NoSchedule"), ("dedicated", "gpu", "PreferNoSchedule"),
           ("maint", "", "NoExecute"), ("node.kubernetes.io/not-ready", "", "NoSchedule")]
_TOLERATIONS = [{"key": "dedicated", "operator": "Exists"}, {"key": "maint", "operator": "Exists",
                "effect": "NoExecute"}, {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
                {"operator": "Exists"}, CORDON_TOLERATION, NOT_READY_TOLERATION]


def _mostly(common, *rare):
    """Draws `common` four times in five, so that most generated clusters can take some pods."""
    return st.one_of(st.just(common), st.just(common), st.just(common), st.just(common),
                     st.sampled_from(rare) if rare else st.just(common))


@st.composite
def nodes_strategy(draw):
    names = draw(st.lists(st.sampled_from("abcdef"), min_size=0, max_size=5, unique=True))
    return [make_node(
        name,
        cpu=draw(st.sampled_from([None, "0", "500m", "1", "2", "2", "4"])),
        memory=draw(st.sampled_from([None, "512Mi", "1Gi", "2Gi", "2Gi"])),
        pods=draw(st.sampled_from([None, "1", "2", "4", "4", "8"])),
        ready=draw(_mostly("True", "False", "Unknown", None)),
        unschedulable=draw(_mostly(False, True)),
        labels=draw(st.dictionaries(st.sampled_from(["disk", "zone"]), st.sampled_from(["x", "y"]))),
        taints=draw(_mostly([]) | st.lists(st.sampled_from(_TAINTS), max_size=2, unique=True)),
    ) for name in names]


@st.composite
def pod_strategy(draw, name="p"):
    return make_pod(
        name,
        cpu=draw(st.sampled_from([None, "0", "100m", "250m", "1"])),
        memory=draw(st.sampled_from([None, "0", "64Mi", "256Mi", "1Gi"])),
        init=draw(st.lists(st.tuples(st.sampled_from([None, "300m"]), st.sampled_from([None, "128Mi"])),
                           max_size=1)),
        node_selector=draw(_mostly({}) | st.dictionaries(st.sampled_from(["disk", "zone"]),
                                                         st.sampled_from(["x", "y"]), max_size=1)),
        tolerations=draw(st.lists(st.sampled_from(_TOLERATIONS), max_size=2)),
        host_ports=draw(_mostly([]) | st.lists(st.tuples(st.sampled_from(["", "10.0.0.1"]),
                                                         st.sampled_from(["TCP", "UDP"]),
                                                         st.sampled_from([80, 443])), max_size=2, unique=True)),
        owner=draw(st.sampled_from([None, "rs-1", "rs-2"])),
    )


@settings(max_examples=300)
@given(nodes=nodes_strategy(), pod=pod_strategy(), seed=st.integers(0, 2 ** 32))
def test_schedule_never_picks_a_node_a_filter_rejects(nodes, pod, seed):
    """Whatever the cluster, the chosen node passes every filter, and None means every node failed."""
    snap = build_snapshot(nodes, [])
    result = schedule(pod, snap, random.Random(seed))
    info = PodInfo.from_pod(pod)
    verdicts = {name: filter_node(info, node) for name, node in snap.nodes.items()}
    assert dict(result.reasons) == {n: v for n, v in verdicts.items() if v}
    assert result.feasible == tuple(n for n, v in verdicts.items() if not v)
    if result.node_name is None:
        assert not result.feasible
        assert result.message.startswith(f"0/{len(nodes)} nodes are available") or not nodes
    else:
        assert verdicts[result.node_name] == ()
        if result.scores:
            assert result.scores[result.node_name] == max(result.scores.values())


@settings(max_examples=150)
@given(nodes=nodes_strategy(), pods=st.lists(pod_strategy(), max_size=12), seed=st.integers(0, 2 ** 32))
def test_scheduling_a_stream_never_overcommits(nodes, pods, seed):
    """Scheduling and assuming pods one by one never places more than a node's allocatable cpu,
    memory and pods, and never two pods on one host port."""
    snap = build_snapshot(nodes, [])
    rng = random.Random(seed)
    for i, pod in enumerate(pods):
        pod.metadata.name = f"p{i}"
        result = schedule(pod, snap, rng)
        if result.node_name is not None:
            snap = assume(snap, pod, result.node_name)
    for node in snap.nodes.values():
        assert node.requested.milli_cpu <= node.allocatable.milli_cpu
        assert node.requested.memory <= node.allocatable.memory
        assert len(node.pods) <= node.allowed_pods
        # Between pods: Kubernetes lets one pod list (0.0.0.0, TCP, 80) and (10.0.0.1, TCP, 80) itself.
        for i, first in enumerate(node.pods):
            for second in node.pods[i + 1:]:
                for a in first.host_ports:
                    for b in second.host_ports:
                        overlap = a.host_ip == b.host_ip or "0.0.0.0" in (a.host_ip, b.host_ip)
                        assert not (overlap and (a.protocol, a.port) == (b.protocol, b.port)), (a, b)


@given(reasons=st.dictionaries(st.text("abcdefgh", min_size=1, max_size=3),
                               st.lists(st.sampled_from([CPU, MEMORY, UNSCHEDULABLE, TOO_MANY_PODS]),
                                        min_size=1, max_size=3, unique=True), max_size=15))
def test_failure_message_counts_every_reason_once_per_node(reasons):
    """The histogram's counts add up to the reasons given, and its entries are sorted."""
    message = failure_message(max(len(reasons), 1), reasons)
    if not reasons:
        return
    body = message.split(": ", 1)[1].rstrip(".")
    entries = body.split(", ")
    assert entries == sorted(entries)
    assert sum(int(e.split(" ", 1)[0]) for e in entries) == sum(len(v) for v in reasons.values())
