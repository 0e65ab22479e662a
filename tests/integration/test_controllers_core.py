"""The endpoints, node lifecycle, garbage collector and namespace controllers in a real controller
manager process (`python -m controller`), over a real control plane (3 stores, 2 apiservers).

The scheduler and kubelets are not running: the test plays their part through the API (binds pods
with pods/binding, posts pod and node status, renews node Leases, completes graceful deletions).
Every wait is for a condition (`eventually`), never a sleep standing in for one.
"""
from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from client.api import JSON_PATCH, ApiClient
from client.errors import NotFound
from client.leaderelection import format_micro_time
from client.times import format_time
from skiffpb.k8s.apps.v1 import apps_pb2
from skiffpb.k8s.coordination.v1 import coordination_pb2
from skiffpb.k8s.core.v1 import core_pb2

pytestmark = pytest.mark.timeout(180)

GRACE, EVICTION = 3.0, 3.0
MINE = {"controllers": "endpoint,nodelifecycle,garbagecollector,namespace",
        "args": ["--node-monitor-grace-period", f"{GRACE:g}s", "--pod-eviction-timeout", f"{EVICTION:g}s"]}
with_controllers = pytest.mark.parametrize("control_plane_with_controllers", [MINE], indirect=True)
UNREACHABLE = "node.kubernetes.io/unreachable"


async def eventually(predicate, what: str, timeout: float = 20.0, interval: float = 0.05):
    """Awaits until `predicate()` (sync or async) is truthy, returning it; AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = predicate()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - "not yet"
            last = e
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}" + (f" ({last!r})" if last else ""))
        await asyncio.sleep(interval)


async def gone(api, resource: str, ns: str, name: str) -> bool:
    try:
        await api.get(resource, ns, name)
    except NotFound:
        return True
    return False


def pod_spec(name: str, ns: str = "default", labels=None, ports=(), tolerations=(), owner=None) -> core_pb2.Pod:
    p = core_pb2.Pod(api_version="v1", kind="Pod")
    p.metadata.name, p.metadata.namespace = name, ns
    p.metadata.labels.update(labels or {})
    if owner is not None:
        p.metadata.owner_references.add(api_version=owner.api_version, kind=owner.kind, name=owner.metadata.name,
                                        uid=owner.metadata.uid, controller=True, block_owner_deletion=True)
    c = p.spec.containers.add(name="app", image="web:1")
    for pname, number in ports:
        c.ports.add(name=pname, container_port=number)
    for key, seconds in tolerations:
        t = p.spec.tolerations.add(key=key, operator="Exists", effect="NoExecute")
        t.toleration_seconds = seconds
    return p


async def run_pod(api, pod: core_pb2.Pod, node: str, ip: str, ready: bool = True) -> core_pb2.Pod:
    """Create, bind (as the scheduler) and report Running with an IP (as the kubelet)."""
    created = await api.create(pod)
    bound = await api.bind(created.metadata.namespace, created.metadata.name, node, uid=created.metadata.uid)
    return await set_pod_status(api, bound, ip=ip, ready=ready)


async def set_pod_status(api, pod, *, ip: str, ready: bool) -> core_pb2.Pod:
    new = core_pb2.Pod()
    new.CopyFrom(pod)
    new.status.phase, new.status.pod_ip = "Running", ip
    for c in list(new.status.conditions):
        if c.type == "Ready":
            new.status.conditions.remove(c)
    new.status.conditions.add(type="Ready", status="True" if ready else "False",
                              last_transition_time=format_time(time.time()))
    return await api.update_status(new)


# -- endpoints -----------------------------------------------------------------------------------------------

def endpoint_sets(ep: core_pb2.Endpoints) -> set[tuple]:
    """(frozenset of ready ips, frozenset of not-ready ips, frozenset of name:port) per subset."""
    return {(frozenset(a.ip for a in s.addresses), frozenset(a.ip for a in s.not_ready_addresses),
             frozenset(f"{p.name}:{p.port}" for p in s.ports)) for s in ep.subsets}


@with_controllers
async def test_endpoints_follow_pods_and_resolve_named_ports(control_plane_with_controllers):
    """A Service's Endpoints list its ready and not-ready pods, resolve the named targetPort per pod, and go with the Service."""
    async with ApiClient(control_plane_with_controllers.endpoints) as api:
        svc = core_pb2.Service(api_version="v1", kind="Service")
        svc.metadata.name, svc.metadata.namespace = "web", "default"
        svc.spec.selector["app"] = "web"
        svc.spec.ports.add(name="http", port=80).target_port.str_val = "http"
        svc.spec.ports.add(name="metrics", port=9100).target_port.int_val = 9100
        await api.create(svc)
        web = {"app": "web"}
        one = await run_pod(api, pod_spec("web-1", labels=web, ports=[("http", 8080)]), "n1", "10.244.1.11")
        await run_pod(api, pod_spec("web-2", labels=web, ports=[("http", 8080)]), "n2", "10.244.2.12", ready=False)
        await run_pod(api, pod_spec("web-3", labels=web, ports=[("admin", 9000)]), "n2", "10.244.2.13")
        await api.create(pod_spec("web-4", labels=web, ports=[("http", 8080)]))       # pending: no IP yet
        await run_pod(api, pod_spec("api-1", labels={"app": "api"}, ports=[("http", 8080)]), "n1", "10.244.1.14")

        want = {(frozenset({"10.244.1.11"}), frozenset({"10.244.2.12"}), frozenset({"http:8080"})),
                (frozenset({"10.244.1.11", "10.244.2.13"}), frozenset({"10.244.2.12"}), frozenset({"metrics:9100"}))}

        async def endpoints_are(expected):
            return endpoint_sets(await api.get("endpoints", "default", "web")) == expected
        await eventually(lambda: endpoints_are(want), "the Endpoints with web-3 left out of the http port")
        ep = await api.get("endpoints", "default", "web")
        addr = next(a for s in ep.subsets for a in s.addresses if a.ip == "10.244.1.11")
        assert (addr.node_name, addr.target_ref.kind, addr.target_ref.name, addr.target_ref.uid) == \
            ("n1", "Pod", "web-1", one.metadata.uid)

        await set_pod_status(api, await api.get("pods", "default", "web-2"), ip="10.244.2.12", ready=True)
        ready = {(frozenset({"10.244.1.11", "10.244.2.12"}), frozenset(), frozenset({"http:8080"})),
                 (frozenset({"10.244.1.11", "10.244.2.12", "10.244.2.13"}), frozenset(), frozenset({"metrics:9100"}))}
        await eventually(lambda: endpoints_are(ready), "web-2 to become a ready address")

        await api.delete("pods", "default", "web-1", grace_period_seconds=0)
        await eventually(lambda: endpoints_are(
            {(frozenset({"10.244.2.12"}), frozenset(), frozenset({"http:8080"})),
             (frozenset({"10.244.2.12", "10.244.2.13"}), frozenset(), frozenset({"metrics:9100"}))}),
            "web-1 to leave the Endpoints")

        await api.delete("services", "default", "web")
        await eventually(lambda: gone(api, "endpoints", "default", "web"), "the Endpoints to go with the Service")


# -- node lifecycle ---------------------------------------------------------------------------------------------

class Kubelet:
    """What a kubelet writes for one node: the Node with Ready=True, and its Lease, renewed while `beating`."""

    def __init__(self, api, name: str):
        self.api, self.name = api, name
        self.beating = True
        self.task: asyncio.Task | None = None

    async def register(self) -> None:
        node = core_pb2.Node(api_version="v1", kind="Node")
        node.metadata.name = self.name
        node.status.conditions.add(type="Ready", status="True", reason="KubeletReady",
                                   message="kubelet is posting ready status",
                                   last_heartbeat_time=format_time(time.time()),
                                   last_transition_time=format_time(time.time()))
        await self.api.create(node)
        lease = coordination_pb2.Lease(api_version="coordination.k8s.io/v1", kind="Lease")
        lease.metadata.name, lease.metadata.namespace = self.name, "kube-node-lease"
        lease.spec.holder_identity, lease.spec.lease_duration_seconds = self.name, 40
        lease.spec.renew_time = format_micro_time(time.time())
        await self.api.create(lease)
        self.task = asyncio.create_task(self._renew())

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(0.3)      # the kubelet's renew interval (a period, not a synchronisation)
            if self.beating:
                lease = await self.api.get("leases", "kube-node-lease", self.name)
                lease.spec.renew_time = format_micro_time(time.time())
                await self.api.update(lease)

    async def post_ready(self) -> None:
        while True:
            node = await self.api.get("nodes", "", self.name)
            for c in node.status.conditions:
                if c.type == "Ready":
                    c.status, c.reason, c.message = "True", "KubeletReady", "kubelet is posting ready status"
                    c.last_heartbeat_time = c.last_transition_time = format_time(time.time())
            try:
                await self.api.update_status(node)
                return
            except Exception:  # noqa: BLE001 - a Conflict with the controller's write: read again
                continue

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


def taints(node) -> set[tuple[str, str]]:
    return {(t.key, t.effect) for t in node.spec.taints}


def ready_of(node) -> str:
    return next((c.status for c in node.status.conditions if c.type == "Ready"), "")


async def events_with(api, reason: str) -> list[core_pb2.Event]:
    return [e for e in (await api.list("events", ""))[0] if e.reason == reason]


@with_controllers
async def test_unreachable_node_is_tainted_its_pods_evicted_and_it_recovers(control_plane_with_controllers):
    """A node whose Lease stops being renewed goes Unknown and tainted within the grace period; its pods are
    deleted after the eviction timeout (a tolerating pod after its tolerationSeconds); renewed, it is untainted."""
    async with ApiClient(control_plane_with_controllers.endpoints) as api:
        n1, n2 = Kubelet(api, "n1"), Kubelet(api, "n2")
        await n1.register()
        await n2.register()
        try:
            await run_pod(api, pod_spec("plain"), "n1", "10.244.1.2")
            await run_pod(api, pod_spec("patient", tolerations=[(UNREACHABLE, 6)]), "n1", "10.244.1.3")
            await run_pod(api, pod_spec("elsewhere"), "n2", "10.244.2.2")

            n1.beating = False
            stopped = time.monotonic()

            async def unreachable():
                node = await api.get("nodes", "", "n1")
                return node if ready_of(node) == "Unknown" and \
                    {(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")} <= taints(node) else None
            node = await eventually(unreachable, "n1 to go Unknown and tainted unreachable")
            assert time.monotonic() - stopped < GRACE + 3.0
            ready = next(c for c in node.status.conditions if c.type == "Ready")
            assert (ready.reason, ready.message) == ("NodeStatusUnknown", "Kubelet stopped posting node status.")
            assert all(t.time_added for t in node.spec.taints)
            await eventually(lambda: events_with(api, "NodeNotReady"), "the NodeNotReady event")

            async def terminating(name):
                try:
                    return bool((await api.get("pods", "default", name)).metadata.deletion_timestamp)
                except NotFound:
                    return True
            await eventually(lambda: terminating("plain"), "the plain pod to be evicted", timeout=GRACE + EVICTION + 10)
            assert not await terminating("patient"), "the tolerating pod went before its tolerationSeconds"
            msgs = {e.message for e in await events_with(api, "TaintManagerEviction")}
            assert "Marking for deletion Pod default/plain" in msgs
            await eventually(lambda: terminating("patient"), "the tolerating pod to be evicted after 6 s")
            assert not await terminating("elsewhere")
            assert ready_of(await api.get("nodes", "", "n2")) == "True"

            n1.beating = True                              # the kubelet is back: Lease renewed, Ready posted
            await n1.post_ready()

            async def untainted():
                node = await api.get("nodes", "", "n1")
                return ready_of(node) == "True" and not taints(node)
            await eventually(untainted, "the unreachable taints to be removed")
            await eventually(lambda: events_with(api, "NodeReady"), "the NodeReady event")
            assert not taints(await api.get("nodes", "", "n2"))
        finally:
            await n1.stop()
            await n2.stop()


# -- garbage collector ------------------------------------------------------------------------------------------

async def chain(api, ns: str = "default") -> tuple[apps_pb2.Deployment, apps_pb2.ReplicaSet]:
    """A Deployment owning a ReplicaSet owning two (unbound) pods, made by hand (no deployment or
    replicaset controller runs here)."""
    d = apps_pb2.Deployment(api_version="apps/v1", kind="Deployment")
    d.metadata.name, d.metadata.namespace = "web", ns
    d.spec.replicas = 2
    d.spec.selector.match_labels["app"] = "web"
    d.spec.template.metadata.labels["app"] = "web"
    d.spec.template.spec.containers.add(name="app", image="web:1")
    d = await api.create(d)
    rs = apps_pb2.ReplicaSet(api_version="apps/v1", kind="ReplicaSet")
    rs.metadata.name, rs.metadata.namespace = "web-abc", ns
    rs.metadata.owner_references.add(api_version="apps/v1", kind="Deployment", name="web", uid=d.metadata.uid,
                                     controller=True, block_owner_deletion=True)
    rs.spec.CopyFrom(apps_pb2.ReplicaSetSpec(replicas=2, selector=d.spec.selector, template=d.spec.template))
    rs = await api.create(rs)
    for i in range(2):
        await api.create(pod_spec(f"web-abc-{i}", ns=ns, labels={"app": "web"}, owner=rs))
    return d, rs


async def names(api, resource: str, ns: str = "default") -> list[str]:
    return sorted(o.metadata.name for o in (await api.list(resource, ns))[0])


@pytest.mark.parametrize("policy", ["Background", "Foreground", "Orphan"])
@with_controllers
async def test_cascading_deletion_through_two_levels(control_plane_with_controllers, policy):
    """Deployment -> ReplicaSet -> Pods: Background and Foreground delete the whole chain (Foreground keeps the
    Deployment until the rest is gone); Orphan deletes only the Deployment and frees the ReplicaSet."""
    async with ApiClient(control_plane_with_controllers.endpoints) as api:
        d, rs = await chain(api)
        await api.delete("deployments", "default", "web", propagation_policy=policy)
        if policy == "Foreground":
            held = await api.get("deployments", "default", "web")
            assert held.metadata.deletion_timestamp and "foregroundDeletion" in held.metadata.finalizers
        await eventually(lambda: gone(api, "deployments", "default", "web"), f"the Deployment to go ({policy})")
        if policy == "Orphan":
            left = await api.get("replicasets", "default", "web-abc")
            assert not left.metadata.owner_references
            pods = (await api.list("pods", "default"))[0]
            assert sorted(p.metadata.name for p in pods) == ["web-abc-0", "web-abc-1"]
            assert all(p.metadata.owner_references[0].uid == rs.metadata.uid for p in pods)
            return
        if policy == "Foreground":   # the owner went last: nothing of the chain is left by then
            assert await names(api, "replicasets") == [] and await names(api, "pods") == []
        await eventually(lambda: _nothing_left(api), f"the ReplicaSet and pods to go ({policy})")


async def _nothing_left(api) -> bool:
    return await names(api, "replicasets") == [] and await names(api, "pods") == []


# -- namespace -------------------------------------------------------------------------------------------------

@with_controllers
async def test_namespace_deletion_empties_it_then_removes_it(control_plane_with_controllers):
    """Deleting a namespace deletes everything in it, waits for a terminating pod (the kubelet's), then the namespace goes."""
    async with ApiClient(control_plane_with_controllers.endpoints) as api:
        ns = core_pb2.Namespace(api_version="v1", kind="Namespace")
        ns.metadata.name = "doomed"
        await api.create(ns)
        await chain(api, "doomed")
        for i in range(3):
            await api.create(core_pb2.ConfigMap(metadata={"name": f"cm-{i}", "namespace": "doomed"}))
        svc = core_pb2.Service(metadata={"name": "web", "namespace": "doomed"})
        svc.spec.selector["app"] = "web"
        svc.spec.ports.add(port=80)
        await api.create(svc)
        await run_pod(api, pod_spec("bound", ns="doomed"), "n1", "10.244.1.9")    # graceful: the kubelet's
        await eventually(lambda: api.get("endpoints", "doomed", "web"), "the endpoints controller's Endpoints")
        await api.create(core_pb2.ConfigMap(metadata={"name": "bystander", "namespace": "default"}))

        # Only the namespace's finalize subresource changes spec.finalizers, as in Kubernetes.
        scratch = await api.create(core_pb2.Namespace(metadata={"name": "scratch"}))
        del scratch.spec.finalizers[:]
        assert list((await api.update(scratch)).spec.finalizers) == ["kubernetes"]
        with pytest.raises(NotFound):
            await api.patch("configmaps", "default", "bystander", JSON_PATCH,
                            [{"op": "replace", "path": "/data", "value": {}}], subresource="finalize")

        await api.delete("namespaces", "", "doomed")
        bound = await eventually(lambda: _terminating_pod(api, "doomed", "bound"), "the bound pod to be deleted")

        async def only_the_bound_pod_left():
            for resource in ("configmaps", "services", "endpoints", "deployments", "replicasets"):
                if await names(api, resource, "doomed"):
                    return False
            return await names(api, "pods", "doomed") == ["bound"]
        await eventually(only_the_bound_pod_left, "everything but the terminating pod to go")

        async def remaining():
            conds = {c.type: c for c in (await api.get("namespaces", "", "doomed")).status.conditions}
            c = conds.get("NamespaceContentRemaining")
            return c is not None and c.status == "True" and \
                c.message == "Some resources are remaining: pods has 1 resource instances"
        await eventually(remaining, "the NamespaceContentRemaining condition")
        ns = await api.get("namespaces", "", "doomed")
        assert ns.status.phase == "Terminating" and list(ns.spec.finalizers) == ["kubernetes"]

        # The kubelet finishes the pod (containers stopped): a delete with grace period 0.
        await api.delete("pods", "doomed", "bound", grace_period_seconds=0, precondition_uid=bound.metadata.uid)
        await eventually(lambda: gone(api, "namespaces", "", "doomed"), "the namespace to be removed")
        assert await names(api, "configmaps", "default") == ["bystander"]


async def _terminating_pod(api, ns, name):
    pod = await api.get("pods", ns, name)
    return pod if pod.metadata.deletion_timestamp else None
