"""The hollow kubelet (`python -m kubelet --hollow`) as a real process against a real control plane:
registration, leases, pods Running and finalized, stopped heartbeats, nodes added and deleted at run
time, SIGTERM and restart (adoption), an apiserver outage, and 100 nodes with 1,000 pods."""
from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import pytest

from client import kinds
from client.api import ApiClient
from client.leaderelection import parse_micro_time
from skiffpb.api.v1 import api_pb2, api_pb2_grpc
from skiffpb.k8s.core.v1 import core_pb2
from tests.harness import Proc, wait_for

pytestmark = pytest.mark.timeout(120)

FAST = ["--lease-duration", "4", "--renew-interval", "0.3", "--node-status-update-frequency", "1",
        "--ready-delay", "0.2", "--stop-delay", "0.2"]
_READY = re.compile(r"hollow kubelet: (\d+) nodes registered .*control (http://[\d.]+:\d+)")


class HollowKubelet:
    """One `python -m kubelet --hollow` process; its control endpoint once it reported ready."""

    def __init__(self, base_dir: Path, endpoints: list[str], *args: str, name: str = "kubelet"):
        self.log_path = base_dir / f"{name}.log"
        self.proc = Proc.python_module(name, "kubelet", ["--hollow", "--apiserver", ",".join(endpoints), *args],
                                       self.log_path)
        self.url = ""

    def start(self, timeout: float = 60.0) -> "HollowKubelet":
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.proc.start()

        def ready():
            if not self.proc.alive:
                raise AssertionError(f"the hollow kubelet exited:\n{self.proc.log_tail()}")
            m = _READY.search(self.log_path.read_text(errors="replace")[offset:])
            if m:
                self.url = m.group(2)
            return m
        wait_for(ready, timeout, "the hollow kubelet to report its nodes registered")
        return self

    def call(self, method: str, path: str) -> tuple[int, dict]:
        req = urllib.request.Request(self.url + path, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        if not self.proc.alive:
            raise AssertionError(f"the hollow kubelet exited with {self.proc.popen.returncode}:\n{self.proc.log_tail()}")
        return True


@pytest.fixture
def kubelets(tmp_path, request):
    started: list[HollowKubelet] = []

    def start(cp, *args: str, name: str = "kubelet") -> HollowKubelet:
        k = HollowKubelet(tmp_path, cp.endpoints, *args, name=name)
        started.append(k)
        return k.start()
    try:
        yield start
    finally:
        for k in started:
            k.proc.stop()
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            for k in started:
                print(f"\n----- {k.log_path} -----\n{k.proc.log_tail(120)}")


# -- reading and writing the API -----------------------------------------------------------------------
def _stub(endpoint: str):
    ch = grpc.insecure_channel(endpoint)
    return ch, api_pb2_grpc.ApiStub(ch)


def get(endpoint: str, resource: str, name: str, namespace: str = ""):
    """The object, or None when it does not exist."""
    ch, stub = _stub(endpoint)
    with ch:
        try:
            return kinds.unwrap(stub.Get(api_pb2.GetRequest(resource=resource, namespace=namespace, name=name),
                                         timeout=5))
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise


def list_pods(endpoint: str, namespace: str = "default") -> list[core_pb2.Pod]:
    ch, stub = _stub(endpoint)
    with ch:
        resp = stub.List(api_pb2.ListRequest(resource="pods", namespace=namespace), timeout=30)
    return [kinds.unwrap(o) for o in resp.items]


def make_pod(name: str, node: str, *, containers: tuple[str, ...] = ("app",), restart_policy: str = "",
             init: str = "") -> core_pb2.Pod:
    pod = core_pb2.Pod(api_version="v1", kind="Pod")
    pod.metadata.name, pod.metadata.namespace = name, "default"
    pod.spec.node_name = node
    for c in containers:
        pod.spec.containers.add(name=c, image=f"registry.example/{c}:v1")
    if init:
        pod.spec.init_containers.add(name=init, image=f"registry.example/{init}:v1")
    if restart_policy:
        pod.spec.restart_policy = restart_policy
    return pod


def create(endpoint: str, obj):
    ch, stub = _stub(endpoint)
    with ch:
        return kinds.unwrap(stub.Create(api_pb2.CreateRequest(object=kinds.wrap(obj)), timeout=10))


def delete_pod(endpoint: str, name: str, grace: int | None = None):
    ch, stub = _stub(endpoint)
    req = api_pb2.DeleteRequest(resource="pods", namespace="default", name=name)
    if grace is not None:
        req.grace_period_seconds = grace
    with ch:
        return stub.Delete(req, timeout=10)


def condition(obj, ctype: str):
    return next((c for c in obj.status.conditions if c.type == ctype), None)


def running_ready(pod) -> bool:
    ready = pod is not None and condition(pod, "Ready")
    return bool(pod is not None and pod.status.phase == "Running" and pod.status.pod_ip and ready
                and ready.status == "True")


def renew_time(endpoint: str, node: str) -> float:
    lease = get(endpoint, "leases", node, "kube-node-lease")
    return parse_micro_time(lease.spec.renew_time) if lease is not None else 0.0


def wait_running(endpoint: str, name: str, timeout: float = 20.0):
    return wait_for(lambda: (lambda p: p if running_ready(p) else None)(get(endpoint, "pods", name, "default")),
                    timeout, f"pod {name} to be Running and Ready")


def wait_renewals(endpoint: str, node: str, times: int, timeout: float = 30.0) -> None:
    """Returns once `node`'s Lease was renewed `times` more times (each seen as a later renewTime)."""
    last = renew_time(endpoint, node)
    for i in range(times):
        last = wait_for(lambda: (lambda t: t if t > last else None)(renew_time(endpoint, node)), timeout,
                        f"renewal {i + 1} of {node}'s Lease")


# -- tests ---------------------------------------------------------------------------------------------
def test_nodes_register_ready_with_capacity_and_leases_renew(control_plane, kubelets):
    """Three hollow nodes register with their capacity, labels, addresses and Ready=True, and renew their Leases."""
    ep = control_plane.endpoints[0]
    k = kubelets(control_plane, "--nodes", "3", "--cpu", "2", "--memory", "4Gi", "--pods", "50",
                 "--node-labels", "topology.kubernetes.io/zone=z1,tier=hollow", *FAST)
    cidrs = set()
    for i in range(3):
        name = f"hollow-{i}"
        node = get(ep, "nodes", name)
        assert node is not None, f"{name} not registered"
        labels = dict(node.metadata.labels)
        assert labels["kubernetes.io/hostname"] == name and labels["kubernetes.io/os"] == "linux"
        assert labels["topology.kubernetes.io/zone"] == "z1" and labels["tier"] == "hollow"
        assert not any(key.startswith("node-role.kubernetes.io/") for key in labels)
        for field in ("capacity", "allocatable"):
            got = {res: q.value for res, q in getattr(node.status, field).items()}
            assert got == {"cpu": "2", "memory": "4Gi", "pods": "50", "ephemeral-storage": "100Gi"}, (field, got)
        ready = condition(node, "Ready")
        assert (ready.status, ready.reason, ready.message) == ("True", "KubeletReady", "kubelet is posting ready status")
        assert ready.last_heartbeat_time and ready.last_transition_time
        for ctype in ("MemoryPressure", "DiskPressure", "PIDPressure"):
            assert condition(node, ctype).status == "False", ctype
        addresses = {a.type: a.address for a in node.status.addresses}
        assert addresses["Hostname"] == name
        assert ipaddress.ip_address(addresses["InternalIP"]) in ipaddress.ip_network("10.0.0.0/8")
        info = node.status.node_info
        assert info.kubelet_version == "v1.20.0-skiff" and info.os_image == "Skiff hollow node"
        assert info.container_runtime_version == "hollow://0.1" and info.kernel_version
        assert node.spec.pod_cidr == f"10.244.{i}.0/24" and list(node.spec.pod_cidrs) == [node.spec.pod_cidr]
        cidrs.add(node.spec.pod_cidr)

        lease = get(ep, "leases", name, "kube-node-lease")
        assert lease.spec.holder_identity == name and lease.spec.lease_duration_seconds == 4
        assert [(r.kind, r.name, r.uid) for r in lease.metadata.owner_references] == [("Node", name, node.metadata.uid)]
    assert len(cidrs) == 3

    for i in range(3):
        wait_renewals(ep, f"hollow-{i}", 2)
    status, body = k.call("GET", "/nodes")
    assert status == 200 and [n["name"] for n in body["nodes"]] == ["hollow-0", "hollow-1", "hollow-2"]
    assert all(n["registered"] and n["heartbeat"] and n["leaseRenewals"] >= 2 for n in body["nodes"])
    assert k.call("GET", "/health") == (200, {"health": "true", "reason": ""})


def test_bound_pods_run_ready_and_graceful_deletion_is_finalized(control_plane, kubelets):
    """Pods bound to hollow-1 (restartPolicy Always and Never) become Running and Ready with distinct
    IPs from its pod CIDR; a graceful delete (grace 30 s) is finalized after the short stop delay."""
    ep = control_plane.endpoints[0]
    k = kubelets(control_plane, "--nodes", "2", *FAST)
    node = get(ep, "nodes", "hollow-1")
    host_ip = next(a.address for a in node.status.addresses if a.type == "InternalIP")
    create(ep, make_pod("web", "hollow-1"))
    create(ep, make_pod("job", "hollow-1", containers=("main", "sidecar"), restart_policy="Never", init="setup"))

    web, job = wait_running(ep, "web"), wait_running(ep, "job")
    for pod in (web, job):
        assert ipaddress.ip_address(pod.status.pod_ip) in ipaddress.ip_network(node.spec.pod_cidr)
        assert [ip.ip for ip in pod.status.pod_ips] == [pod.status.pod_ip]
        assert pod.status.host_ip == host_ip and pod.status.start_time
        assert {c.type: c.status for c in pod.status.conditions} == {
            "Initialized": "True", "ContainersReady": "True", "Ready": "True", "PodScheduled": "True"}
        for c in pod.status.container_statuses:
            assert c.ready and c.started and c.restart_count == 0 and c.state.running.started_at
            assert c.container_id == f"hollow://{pod.metadata.uid}-{c.name}"
            assert c.image == f"registry.example/{c.name}:v1" and c.image_id
    assert web.status.pod_ip != job.status.pod_ip
    assert [c.name for c in job.status.container_statuses] == ["main", "sidecar"]
    assert job.status.init_container_statuses[0].state.terminated.reason == "Completed"

    started = time.monotonic()
    deleted = kinds.unwrap(delete_pod(ep, "web").object)
    assert deleted.metadata.deletion_grace_period_seconds == 30   # a graceful delete, finalized by the kubelet
    wait_for(lambda: get(ep, "pods", "web", "default") is None, 20, "web to be deleted")
    took = time.monotonic() - started
    assert took < 10, f"the graceful deletion took {took:.1f}s"
    assert get(ep, "pods", "job", "default").status.phase == "Running"
    wait_for(lambda: k.call("GET", "/nodes/hollow-1")[1]["pods"] == 1, 10, "the runtime to forget web")


def test_stopped_heartbeat_freezes_lease_and_status_while_others_renew(control_plane, kubelets):
    """hollow-0's heartbeat is stopped: its Lease and status stay as they were while hollow-1 renews, its pod
    keeps its status and a graceful deletion of it waits (a partitioned node); started again, all resumes."""
    ep = control_plane.endpoints[0]
    k = kubelets(control_plane, "--nodes", "2", *FAST)
    create(ep, make_pod("stays", "hollow-0"))
    wait_running(ep, "stays")

    status, body = k.call("POST", "/nodes/hollow-0/stop-heartbeat")
    assert status == 200 and body["heartbeat"] is False
    frozen = get(ep, "leases", "hollow-0", "kube-node-lease").spec.renew_time
    node_rv = get(ep, "nodes", "hollow-0").metadata.resource_version
    delete_pod(ep, "stays")

    wait_renewals(ep, "hollow-1", 5)     # 5 renew intervals of the other node have passed
    assert get(ep, "leases", "hollow-0", "kube-node-lease").spec.renew_time == frozen
    assert get(ep, "nodes", "hollow-0").metadata.resource_version == node_rv
    pod = get(ep, "pods", "stays", "default")
    assert pod is not None and pod.metadata.deletion_timestamp and pod.status.phase == "Running"
    assert k.call("GET", "/nodes/hollow-0")[1]["heartbeat"] is False

    status, body = k.call("POST", "/nodes/hollow-0/start-heartbeat")
    assert status == 200 and body["heartbeat"] is True
    wait_for(lambda: get(ep, "leases", "hollow-0", "kube-node-lease").spec.renew_time != frozen, 10,
             "hollow-0's Lease to be renewed again")
    wait_for(lambda: get(ep, "pods", "stays", "default") is None, 10, "the pending deletion to be finalized")


def test_nodes_added_and_deleted_through_the_control_endpoint(control_plane, kubelets):
    """POST /nodes?count=2 adds two registered nodes that run pods; POST /nodes/<name>/delete removes a Node
    and its Lease; unknown nodes and bad requests are refused with 404 and 400."""
    ep = control_plane.endpoints[0]
    k = kubelets(control_plane, "--nodes", "1", *FAST)
    status, body = k.call("POST", "/nodes?count=2")
    assert status == 201, body
    assert [n["name"] for n in body["nodes"]] == ["hollow-1", "hollow-2"]
    assert all(n["registered"] for n in body["nodes"])
    assert condition(get(ep, "nodes", "hollow-2"), "Ready").status == "True"
    create(ep, make_pod("late", "hollow-2"))
    assert wait_running(ep, "late").status.pod_ip.startswith("10.244.2.")

    status, body = k.call("POST", "/nodes/hollow-1/delete")
    assert (status, body) == (200, {"deleted": "hollow-1"})
    assert get(ep, "nodes", "hollow-1") is None
    wait_for(lambda: get(ep, "leases", "hollow-1", "kube-node-lease") is None, 10, "hollow-1's Lease to go")
    assert [n["name"] for n in k.call("GET", "/nodes")[1]["nodes"]] == ["hollow-0", "hollow-2"]

    assert k.call("POST", "/nodes/hollow-1/stop-heartbeat")[0] == 404
    assert k.call("POST", "/nodes?count=0")[0] == 400
    assert k.call("GET", "/nodes/hollow-0/stop-heartbeat")[0] == 405
    assert k.call("GET", "/nope")[0] == 404
    assert k.alive()


def test_sigterm_keeps_nodes_and_a_restart_adopts_running_pods(control_plane, kubelets):
    """SIGTERM exits 0 leaving Nodes and pods; the restarted kubelet adopts the Running pods without
    rewriting them (same IPs, same resourceVersions) and gives a new pod an IP none of them holds."""
    ep = control_plane.endpoints[0]
    k = kubelets(control_plane, "--nodes", "1", *FAST)
    for i in range(3):
        create(ep, make_pod(f"p{i}", "hollow-0"))
    before = {f"p{i}": wait_running(ep, f"p{i}") for i in range(3)}
    assert k.proc.stop() == 0
    assert "SIGTERM: stopping" in k.log()
    assert get(ep, "nodes", "hollow-0") is not None and get(ep, "leases", "hollow-0", "kube-node-lease") is not None

    k2 = kubelets(control_plane, "--nodes", "1", *FAST, name="kubelet2")
    wait_for(lambda: k2.call("GET", "/nodes/hollow-0")[1]["running"] == 3, 20, "the restarted kubelet to adopt 3 pods")
    for name, pod in before.items():
        now = get(ep, "pods", name, "default")
        assert (now.status.pod_ip, now.metadata.resource_version) == \
            (pod.status.pod_ip, pod.metadata.resource_version), name
    create(ep, make_pod("p3", "hollow-0"))
    assert wait_running(ep, "p3").status.pod_ip not in {p.status.pod_ip for p in before.values()}


def test_apiserver_outage_is_survived(control_plane, kubelets):
    """Both apiservers are killed: the hollow kubelet logs its failures and keeps running; once they are
    back, its Leases are renewed again and a new pod becomes Running."""
    ep = control_plane.endpoints[0]
    k = kubelets(control_plane, "--nodes", "2", *FAST)
    for a in control_plane.apiservers:
        a.kill9()
    wait_for(lambda: k.alive() and "lease renewal failed" in k.log(), 30, "the kubelet to notice the outage")
    for a in control_plane.apiservers:
        a.start()
    before = renew_time(ep, "hollow-0")
    wait_for(lambda: k.alive() and renew_time(ep, "hollow-0") > before, 30, "hollow-0's Lease to be renewed again")
    create(ep, make_pod("after", "hollow-1"))
    wait_running(ep, "after", timeout=30)
    assert k.alive()


async def _create_pods(endpoints: list[str], pods: list[core_pb2.Pod], concurrency: int = 32) -> None:
    async with ApiClient(endpoints, timeout=30) as api:
        slots = asyncio.Semaphore(concurrency)

        async def one(p):
            async with slots:
                await api.create(p)
        await asyncio.gather(*(one(p) for p in pods))


@pytest.mark.timeout(240)
def test_hundred_nodes_thousand_pods_all_running(control_plane, kubelets):
    """One hollow kubelet hosts 100 nodes with Kubernetes' lease timings; 1,000 pods bound 10 per node all
    become Running and Ready (the time is printed), with IPs unique per node."""
    eps = control_plane.endpoints
    t0 = time.monotonic()
    k = kubelets(control_plane, "--nodes", "100")
    registered = time.monotonic() - t0
    pods = [make_pod(f"bulk-{i:04d}", f"hollow-{i % 100}") for i in range(1000)]
    t1 = time.monotonic()
    asyncio.run(_create_pods(eps, pods))
    created = time.monotonic() - t1

    def all_running():
        k.alive()
        items = list_pods(eps[0])
        n = sum(1 for p in items if running_ready(p))
        return items if n == 1000 else None
    items = wait_for(all_running, 60, "1,000 pods to be Running and Ready", interval=0.5)
    running = time.monotonic() - t1
    by_node: dict[str, set[str]] = {}
    for p in items:
        ips = by_node.setdefault(p.spec.node_name, set())
        assert p.status.pod_ip not in ips, f"{p.metadata.name}: IP {p.status.pod_ip} used twice on {p.spec.node_name}"
        ips.add(p.status.pod_ip)
    assert len(by_node) == 100 and all(len(v) == 10 for v in by_node.values())
    print(f"\nhollow kubelet: 100 nodes registered and leased in {registered:.1f}s (process start included); "
          f"1,000 pods created in {created:.1f}s; all Running+Ready {running:.1f}s after the first create "
          f"({1000 / running:.0f} pods/s)")
    assert running < 60


@pytest.mark.timeout(60)
@pytest.mark.parametrize("args, flag", [
    pytest.param(["--apiserver", "127.0.0.1:1"], "--hollow", id="no-hollow"),
    pytest.param(["--hollow", "--apiserver", "127.0.0.1:1", "--pods", "0"], "--pods", id="pods"),
    pytest.param(["--hollow", "--apiserver", "127.0.0.1:1", "--control-listen", "0.0.0.0:0"], "--control-listen",
                 id="control-not-loopback"),
    pytest.param(["--hollow", "--apiserver", "127.0.0.1:1", "--renew-interval", "50"], "--renew-interval",
                 id="renew-after-expiry"),
])
def test_bad_flags_exit_2_naming_the_flag(args, flag):
    """A bad flag: exit status 2 and a message naming the flag."""
    done = subprocess.run([sys.executable, "-m", "kubelet", *args], capture_output=True, text=True, timeout=30,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"error: {flag}:"), done.stderr
