"""controller/endpoints: the pure core (which pods are addresses, ports by number and name, Kubernetes'
repacking) as table tests and Hypothesis properties, and the shell against client/fake.py."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from client.fake import FakeApi
from controller.endpoints import make
from controller.endpoints.reconcile import (
    HEADLESS_LABEL, desired_endpoints, endpoint_subsets, find_port, repack_subsets, subsets_equal,
)
from skiffpb.k8s.core.v1 import core_pb2
from tests.unit.controller.shellkit import eventually, running, settled

pytestmark = pytest.mark.timeout(60)


def service(name="web", selector=None, ports=(("http", 80, "web"),), ns="default", cluster_ip="10.96.0.10",
            publish_not_ready=False, labels=None) -> core_pb2.Service:
    """ports: (name, port, targetPort int or str)."""
    s = core_pb2.Service(api_version="v1", kind="Service")
    s.metadata.name, s.metadata.namespace, s.metadata.uid = name, ns, f"uid-svc-{name}"
    s.metadata.labels.update(labels or {})
    s.spec.selector.update({"app": "web"} if selector is None else selector)
    s.spec.cluster_ip = cluster_ip
    if publish_not_ready:
        s.spec.publish_not_ready_addresses = True
    for pname, port, target in ports:
        sp = s.spec.ports.add(port=port, protocol="TCP")
        if pname:
            sp.name = pname
        if isinstance(target, str):
            sp.target_port.str_val = target
        else:
            sp.target_port.int_val = target
    return s


def pod(name, ip="10.0.0.1", ready=True, labels=None, node="n1", ports=(("web", 8080),), ns="default",
        phase="Running", restart="Always", deleting=False) -> core_pb2.Pod:
    p = core_pb2.Pod(api_version="v1", kind="Pod")
    p.metadata.name, p.metadata.namespace, p.metadata.uid = name, ns, f"uid-{name}"
    p.metadata.labels.update({"app": "web"} if labels is None else labels)
    if deleting:
        p.metadata.deletion_timestamp = "2026-01-01T00:00:00Z"
    p.spec.node_name = node
    p.spec.restart_policy = restart
    c = p.spec.containers.add(name="c", image="x")
    for pname, number in ports:
        c.ports.add(name=pname, container_port=number, protocol="TCP")
    p.status.phase = phase
    if ip:
        p.status.pod_ip = ip
    p.status.conditions.add(type="Ready", status="True" if ready else "False")
    return p


def summary(subsets) -> list[tuple]:
    """Each subset as (ready pod names, not-ready pod names, ports as name:port)."""
    return [([a.target_ref.name for a in ss.addresses], [a.target_ref.name for a in ss.not_ready_addresses],
             [f"{p.name}:{p.port}" for p in ss.ports]) for ss in subsets]


@pytest.mark.parametrize("svc, pods, want", [
    pytest.param(service(), [pod("a", "10.0.0.1"), pod("b", "10.0.0.2", ready=False)],
                 [(["a"], ["b"], ["http:8080"])], id="ready-and-not-ready-share-a-subset"),
    pytest.param(service(), [pod("a", ip=""), pod("b", "10.0.0.2", deleting=True), pod("c", "10.0.0.3")],
                 [(["c"], [], ["http:8080"])], id="no-ip-and-terminating-skipped"),
    pytest.param(service(), [pod("a", labels={"app": "api"}), pod("b", "10.0.0.2", ns="other")],
                 [], id="other-labels-and-namespaces-skipped"),
    pytest.param(service(ports=(("http", 80, 9000),)), [pod("a")], [(["a"], [], ["http:9000"])],
                 id="numeric-target-port"),
    pytest.param(service(ports=(("http", 80, "web"), ("metrics", 9100, "metrics"))),
                 [pod("a", "10.0.0.1", ports=(("web", 8080), ("metrics", 9100))),
                  pod("b", "10.0.0.2", ports=(("web", 8080),))],
                 [(["a"], [], ["metrics:9100"]), (["a", "b"], [], ["http:8080"])],
                 id="pod-lacking-a-named-port-is-left-out-of-that-port-only"),
    pytest.param(service(ports=(("http", 80, "web"),)),
                 [pod("a", "10.0.0.1", ports=(("web", 8080),)), pod("b", "10.0.0.2", ports=(("web", 9090),))],
                 [(["a"], [], ["http:8080"]), (["b"], [], ["http:9090"])], id="named-port-differs-per-pod"),
    pytest.param(service(), [pod("a", phase="Failed", restart="Never", ready=False),
                             pod("b", "10.0.0.2", phase="Succeeded", restart="OnFailure", ready=False),
                             pod("c", "10.0.0.3", phase="Failed", restart="OnFailure", ready=False)],
                 [([], ["c"], ["http:8080"])], id="finished-for-good-left-out"),
    pytest.param(service(publish_not_ready=True), [pod("a", ready=False), pod("b", "10.0.0.2", deleting=True)],
                 [(["a", "b"], [], ["http:8080"])], id="publish-not-ready-addresses"),
    pytest.param(service(ports=(), cluster_ip="None"), [pod("a")], [(["a"], [], [])], id="headless-portless"),
    pytest.param(service(ports=()), [pod("a")], [], id="portless-with-cluster-ip"),
])
def test_endpoint_subsets(svc, pods, want):
    """Which pods are addresses, ready or not, and on which resolved ports."""
    assert summary(endpoint_subsets(svc, pods)) == want


def test_address_carries_node_and_target_ref_and_hostname():
    """An address is the pod's IP, its node, a reference to it, and its hostname when its subdomain is the Service."""
    p = pod("a", "10.0.0.7", node="n2")
    p.spec.hostname, p.spec.subdomain = "a-host", "web"
    [ss] = endpoint_subsets(service(), [p])
    a = ss.addresses[0]
    assert (a.ip, a.node_name, a.hostname) == ("10.0.0.7", "n2", "a-host")
    assert (a.target_ref.kind, a.target_ref.namespace, a.target_ref.name, a.target_ref.uid) == \
        ("Pod", "default", "a", "uid-a")
    assert (ss.ports[0].name, ss.ports[0].port, ss.ports[0].protocol) == ("http", 8080, "TCP")


def test_find_port_matches_name_and_protocol():
    """A named targetPort needs a container port of that name and the service port's protocol."""
    svc = service(ports=(("dns", 53, "dns"),))
    svc.spec.ports[0].protocol = "UDP"
    tcp_only = pod("a", ports=(("dns", 5353),))
    assert find_port(tcp_only, svc.spec.ports[0]) is None
    tcp_only.spec.containers[0].ports[0].protocol = "UDP"
    assert find_port(tcp_only, svc.spec.ports[0]) == 5353


def test_repack_ready_anywhere_wins_and_groups_by_port_set():
    """An address ready for a port in one subset and not ready in another is ready; same port sets merge."""
    a = core_pb2.EndpointAddress(ip="10.0.0.1")
    b = core_pb2.EndpointAddress(ip="10.0.0.2")
    p80 = core_pb2.EndpointPort(name="http", port=80, protocol="TCP")
    subsets = [core_pb2.EndpointSubset(not_ready_addresses=[a], ports=[p80]),
               core_pb2.EndpointSubset(addresses=[a], ports=[p80]),
               core_pb2.EndpointSubset(not_ready_addresses=[b], ports=[p80])]
    [ss] = repack_subsets(subsets)
    assert [x.ip for x in ss.addresses] == ["10.0.0.1"] and [x.ip for x in ss.not_ready_addresses] == ["10.0.0.2"]


def _facts(subsets) -> set[tuple]:
    """(ip, port, ready) facts, with ready-anywhere winning."""
    ready, seen = set(), set()
    for ss in subsets:
        ports = [p.port for p in ss.ports] or [None]
        for port in ports:
            for a in ss.addresses:
                ready.add((a.ip, port))
                seen.add((a.ip, port))
            for a in ss.not_ready_addresses:
                seen.add((a.ip, port))
    return {(ip, port, (ip, port) in ready) for ip, port in seen}


_subset = st.builds(
    lambda ready, not_ready, ports: core_pb2.EndpointSubset(
        addresses=[core_pb2.EndpointAddress(ip=f"10.0.0.{i}") for i in ready],
        not_ready_addresses=[core_pb2.EndpointAddress(ip=f"10.0.0.{i}") for i in not_ready],
        ports=[core_pb2.EndpointPort(port=p, protocol="TCP") for p in ports]),
    st.lists(st.integers(1, 5), max_size=3), st.lists(st.integers(1, 5), max_size=3),
    st.lists(st.integers(80, 83), min_size=1, max_size=3, unique=True))


@given(st.lists(_subset, max_size=6))
def test_repack_keeps_every_fact_and_is_idempotent(subsets):
    """Repacking changes the grouping only: the same (address, port, ready) facts, and a fixed point.
    (Subsets with ports: a portless subset whose addresses also offer ports merges into theirs, as in
    Kubernetes, which a fact-for-fact comparison would not allow.)"""
    packed = repack_subsets(subsets)
    assert _facts(packed) == _facts([s for s in subsets if s.addresses or s.not_ready_addresses])
    assert subsets_equal(repack_subsets(packed), packed)
    for ss in packed:   # an address is never listed twice in one subset
        ips = [a.ip for a in ss.addresses] + [a.ip for a in ss.not_ready_addresses]
        assert len(ips) == len(set(ips))


def test_desired_endpoints_only_on_change_and_carries_labels():
    """A first Endpoints is built; the same inputs again ask for nothing; labels follow the Service."""
    svc = service(labels={"team": "a"})
    first = desired_endpoints(svc, [pod("a")], None)
    assert first.metadata.name == "web" and first.metadata.labels == {"team": "a"} and len(first.subsets) == 1
    first.metadata.resource_version = "7"
    assert desired_endpoints(svc, [pod("a")], first) is None
    moved = desired_endpoints(svc, [pod("a", "10.0.0.9")], first)
    assert moved.metadata.resource_version == "7" and moved.subsets[0].addresses[0].ip == "10.0.0.9"
    assert first.subsets[0].addresses[0].ip == "10.0.0.1"          # the input is never mutated
    headless = desired_endpoints(service(cluster_ip="None"), [], first)
    assert headless.metadata.labels[HEADLESS_LABEL] == "" and not headless.subsets


# -- the shell against the fake API -----------------------------------------------------------------

async def test_shell_writes_updates_and_deletes_endpoints():
    """Endpoints appear for a Service, follow its pods' readiness, are left alone without selector, go with the Service."""
    api = FakeApi()
    await api.create(pod("a", "10.0.0.1"))
    await api.create(pod("b", "10.0.0.2", ready=False))
    await api.create(service())
    await api.create(service("manual", selector={}))
    await api.create(core_pb2.Endpoints(metadata={"name": "leftover", "namespace": "default"}))
    async with running(api, make):
        async def endpoints():
            return (await api.get("endpoints", "default", "web"))
        ep = await eventually(endpoints, what="the Endpoints of web")
        assert summary(ep.subsets) == [(["a"], ["b"], ["http:8080"])]

        b = await api.get("pods", "default", "b")
        b.status.conditions[0].status = "True"
        await api.update_status(b)
        await eventually(lambda: _ready_names(api, "web", ["a", "b"]), what="b to become a ready address")

        await settled(api)
        writes = [a for a in api.actions if a[0] in ("create", "update") and a[1] == "endpoints"]
        a = await api.get("pods", "default", "a")
        a.metadata.annotations["touched"] = "yes"            # nothing the Endpoints depend on
        await api.update(a)
        await settled(api)
        assert [a for a in api.actions if a[0] in ("create", "update") and a[1] == "endpoints"] == writes

        await api.delete("services", "default", "web")
        await eventually(lambda: _gone(api, "web"), what="the Endpoints to go with the Service")
        await eventually(lambda: _gone(api, "leftover"), what="the leftover Endpoints to be deleted")
    assert not any(a[1] == "endpoints" and a[3] == "manual" for a in api.actions)


async def _ready_names(api, name, want) -> bool:
    ep = await api.get("endpoints", "default", name)
    return summary(ep.subsets) == [(want, [], ["http:8080"])]


async def _gone(api, name) -> bool:
    items, _ = await api.list("endpoints", "default")
    return name not in [e.metadata.name for e in items]


async def test_shell_create_racing_a_lagging_cache_updates_the_live_object():
    """An Endpoints the cache does not show yet (AlreadyExists on create) is updated from a live read instead."""
    from controller.endpoints.controller import EndpointsController
    from controller.manager import ControllerContext, Options
    api = FakeApi()
    await api.create(pod("a"))
    await api.create(service())
    ctx = ControllerContext(api, options=Options(resync_period=0.0))
    c = EndpointsController(ctx)
    await ctx.start_informers(timeout=5)
    try:
        stale = core_pb2.Endpoints(metadata={"name": "web", "namespace": "default"})
        await api.create(stale)                # the informer has not run since: its cache lags
        assert c.endpoints.get("default", "web") is None
        assert await c.sync("default/web") is None
        ep = await api.get("endpoints", "default", "web")
        assert summary(ep.subsets) == [(["a"], [], ["http:8080"])]
    finally:
        await ctx.close()
