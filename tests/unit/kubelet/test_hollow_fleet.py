"""kubelet/fleet.py, the hollow kubelet's shell, over client.fake.FakeApi (no sockets): nodes register
(or adopt an existing Node, keeping its cordon and pod CIDR), leases renew, bound pods become Running,
Conflicts are re-read and retried, injected outages are logged and retried, a stopped heartbeat
writes nothing, and deleting a node removes its Node and Lease."""
from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from client.errors import Conflict, NotFound, Unavailable
from client.fake import FakeApi
from kubelet.app import config_from_args
from kubelet.fleet import LEASES, Fleet
from kubelet.nodestatus import LEASE_NAMESPACE
from skiffpb.k8s.core.v1 import core_pb2

pytestmark = pytest.mark.timeout(30)

WAIT = 5.0
FAST = ["--hollow", "--apiserver", "fake:1", "--lease-duration", "1", "--renew-interval", "0.05",
        "--node-status-update-frequency", "0.05", "--node-status-report-frequency", "0.5",
        "--ready-delay", "0", "--stop-delay", "0", "--workers", "4"]


@contextlib.asynccontextmanager
async def running(api: FakeApi, *args: str):
    cfg, _ = config_from_args(FAST + list(args))
    fleet = Fleet(api, cfg)
    task = asyncio.create_task(fleet.run())
    try:
        await asyncio.wait_for(fleet.ready.wait(), WAIT)
        yield fleet
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await fleet.close()


async def eventually(predicate, what: str, timeout: float = WAIT):
    end = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate() if not asyncio.iscoroutinefunction(predicate) else await predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def pod(name: str, node: str) -> core_pb2.Pod:
    p = core_pb2.Pod()
    p.metadata.name, p.metadata.namespace = name, "default"
    p.spec.node_name = node
    p.spec.containers.add(name="app", image="img:1")
    p.status.phase = "Pending"
    return p


async def renew_time(api: FakeApi, node: str) -> str:
    return (await api.get(LEASES, LEASE_NAMESPACE, node)).spec.renew_time


async def test_nodes_register_lease_and_run_pods_through_conflicts():
    """Two nodes register and lease; a pod bound to hollow-1 is Running after a Conflict on its first status write."""
    api = FakeApi()
    async with running(api, "--nodes", "2") as fleet:
        assert sorted(n.metadata.name for n in (await api.list("nodes"))[0]) == ["hollow-0", "hollow-1"]
        first = await renew_time(api, "hollow-1")
        api.fail_next("update_status", Conflict("the object has been modified", reason="Conflict", code=409))
        await api.create(pod("web", "hollow-1"))

        async def running_pod():
            p = await api.get("pods", "default", "web")
            return p if p.status.phase == "Running" else None
        p = await eventually(running_pod, "web to be Running")
        assert p.status.pod_ip == "10.244.1.2" and p.status.host_ip == "10.240.0.2"

        async def renewed():
            return await renew_time(api, "hollow-1") != first
        await eventually(renewed, "hollow-1's Lease to be renewed")
        assert fleet.snapshot()["nodes"][1]["running"] == 1


async def test_an_existing_node_is_adopted_with_its_cordon_and_pod_cidr():
    """A Node that exists already is updated, not replaced: its cordon stays and pods get IPs from its pod CIDR."""
    api = FakeApi()
    old = core_pb2.Node()
    old.metadata.name = "hollow-0"
    old.spec.unschedulable = True
    old.spec.pod_cidr = "10.99.0.0/24"
    await api.create(old)
    async with running(api, "--nodes", "1"):
        node = await api.get("nodes", "", "hollow-0")
        assert node.spec.unschedulable and node.spec.pod_cidr == "10.99.0.0/24"
        assert node.metadata.labels["kubernetes.io/hostname"] == "hollow-0"
        assert any(c.type == "Ready" and c.status == "True" for c in node.status.conditions)
        await api.create(pod("p", "hollow-0"))

        async def ip():
            return (await api.get("pods", "default", "p")).status.pod_ip
        assert await eventually(ip, "p's IP") == "10.99.0.2"


async def test_outages_are_logged_and_retried(caplog):
    """Unavailable on registration, lease renewal and a pod status write: each is logged and retried; nothing crashes."""
    api = FakeApi()
    down = Unavailable("connection refused", reason="ServiceUnavailable", code=503)
    api.fail_next("create", down)         # the node's registration
    caplog.set_level(logging.WARNING, "kubelet.fleet")
    async with running(api, "--nodes", "1"):
        api.fail_next("update", down)     # a lease renewal
        api.fail_next("update_status", down)
        await api.create(pod("p", "hollow-0"))

        async def running_pod():
            return (await api.get("pods", "default", "p")).status.phase == "Running"
        await eventually(running_pod, "p to be Running after the injected outage")
        await eventually(lambda: "lease renewal failed" in caplog.text, "the lease failure to be logged")
    assert "registration failed" in caplog.text and "pod default/p: sync failed" in caplog.text


async def test_a_stopped_heartbeat_writes_nothing_and_a_deleted_node_is_gone():
    """hollow-0's heartbeat stopped: no Lease, Node or pod write for it while hollow-1 renews; delete_node
    removes its Node and Lease."""
    api = FakeApi()
    async with running(api, "--nodes", "2") as fleet:
        await fleet.stop_heartbeat("hollow-0")
        frozen = await api.get(LEASES, LEASE_NAMESPACE, "hollow-0")
        node_rv = (await api.get("nodes", "", "hollow-0")).metadata.resource_version
        await api.create(pod("p", "hollow-0"))
        other = await renew_time(api, "hollow-1")
        for _ in range(3):                    # three renewals of the other node
            async def moved(before=other):
                return await renew_time(api, "hollow-1") != before
            await eventually(moved, "hollow-1's renewal")
            other = await renew_time(api, "hollow-1")
        assert (await api.get(LEASES, LEASE_NAMESPACE, "hollow-0")).metadata.resource_version == \
            frozen.metadata.resource_version
        assert (await api.get("nodes", "", "hollow-0")).metadata.resource_version == node_rv
        assert (await api.get("pods", "default", "p")).status.phase == "Pending"

        await fleet.start_heartbeat("hollow-0")

        async def running_pod():
            return (await api.get("pods", "default", "p")).status.phase == "Running"
        await eventually(running_pod, "p to run once the heartbeat is back")

        assert await fleet.delete_node("hollow-1") is not None
        assert not [n for n in (await api.list("nodes"))[0] if n.metadata.name == "hollow-1"]
        assert not [x for x in (await api.list(LEASES, LEASE_NAMESPACE))[0] if x.metadata.name == "hollow-1"]
        assert await fleet.delete_node("hollow-1") is None
        assert [n["name"] for n in fleet.snapshot()["nodes"]] == ["hollow-0"]


async def test_a_node_deleted_behind_its_back_is_not_registered_again(caplog):
    """The Node is deleted by someone else: the kubelet logs it once, does not re-create it (as Kubernetes'
    kubelet), and keeps a Lease without an owner (the garbage collector would delete an owned one at once)."""
    api = FakeApi()
    caplog.set_level(logging.WARNING, "kubelet.fleet")
    async with running(api, "--nodes", "1"):
        await api.delete("nodes", "", "hollow-0")
        await eventually(lambda: "the Node was deleted" in caplog.text, "the deletion to be noticed")
        await api.delete(LEASES, LEASE_NAMESPACE, "hollow-0")     # what the garbage collector does

        async def ownerless_lease():
            try:
                lease = await api.get(LEASES, LEASE_NAMESPACE, "hollow-0")
            except NotFound:
                return None
            return lease if not lease.metadata.owner_references else None
        await eventually(ownerless_lease, "the Lease to be written again without an owner")
        assert not (await api.list("nodes"))[0]
    assert caplog.text.count("the Node was deleted") == 1
