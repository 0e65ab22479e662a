"""`skiff get` tables and -o name, character for character as kubectl 1.20 prints them.

Each expected table below is written out literally: kubectl's columns and cells for the objects
built here, aligned as its tabwriter aligns them (three spaces after the widest cell, the last
column unpadded, so an empty last cell leaves the padding of the one before it). All ages are
taken at NOW, so they read 5s, 119s, 3m2s, 15m, 3h5m, 10h, 2d, 2d5h, 30d and 2y10d.
"""
from __future__ import annotations

import base64
import io
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from cli import commands, printers
from cli.commands import Context
from client import kinds
from client.codec import from_dict
from skiffpb.api.v1 import api_pb2

pytestmark = pytest.mark.timeout(30)

NOW = printers.parse_time("2026-03-01T12:00:00Z")
AGES = {"5s": 5, "119s": 119, "3m2s": 182, "15m": 900, "3h5m": 3 * 3600 + 300, "10h": 10 * 3600,
        "2d": 2 * 86400, "2d5h": 2 * 86400 + 5 * 3600, "30d": 30 * 86400, "2y10d": (2 * 365 + 10) * 86400}


def ago(shown: str, micro: bool = False) -> str:
    """The RFC 3339 time whose age at NOW kubectl shows as `shown`."""
    t = datetime.fromtimestamp(NOW - AGES[shown], timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.000000Z" if micro else "%Y-%m-%dT%H:%M:%SZ")


def obj(resource: str, name: str, age: str | None, ns: str | None = "default", **body):
    """A `resource` object decoded from its Kubernetes JSON, created `age` ago (None: no timestamp)."""
    kind = kinds.by_resource(resource)
    meta = {"name": name, **body.pop("metadata", {})}
    if kind.namespaced and ns:
        meta["namespace"] = ns
    if age:
        meta["creationTimestamp"] = ago(age)
    return from_dict(kind.message, {"metadata": meta, **body})


def table(resource: str, objs, *, wide=False, all_namespaces=False, show_labels=False, no_headers=False):
    kind = kinds.by_resource(resource)
    cols = printers.columns(kind, wide=wide, all_namespaces=all_namespaces, show_labels=show_labels)
    return tuple(printers.format_table(cols, objs, NOW, no_headers=no_headers))


RUNNING = {"running": {"startedAt": "2026-01-01T00:00:00Z"}}


def cs(name: str, state: dict, ready: bool = False, restarts: int = 0) -> dict:
    return {"name": name, "state": state, "ready": ready, "restartCount": restarts}


def pod(name: str, age: str | None, containers=("app",), init=(), ns="default", metadata=None, spec=None,
        **status) -> object:
    body_spec = {"containers": [{"name": c, "image": "img"} for c in containers], **(spec or {})}
    if init:
        body_spec["initContainers"] = [{"name": c, "image": "img"} for c in init]
    return obj("pods", name, age, ns, metadata=metadata or {}, spec=body_spec, status=status)


def web_1(ns="default", labels=None):
    return pod("web-1", "5s", ns=ns, metadata={"labels": labels or {}}, spec={"nodeName": "n1"}, phase="Running",
               podIP="10.244.1.5", podIPs=[{"ip": "10.244.1.5"}], containerStatuses=[cs("app", RUNNING, True)])


# -- pods -------------------------------------------------------------------------------------------
def all_pods():
    waiting = lambda reason: {"waiting": {"reason": reason}}  # noqa: E731
    terminated = lambda **t: {"terminated": t}  # noqa: E731
    ready_cond = lambda status: [{"type": "Ready", "status": status}]  # noqa: E731
    return [
        web_1(),
        pod("web-2", "119s", containers=("app", "log"), phase="Running", containerStatuses=[
            cs("app", waiting("CrashLoopBackOff"), restarts=7), cs("log", RUNNING, True)]),
        pod("init-wait", "3m2s", init=("setup", "migrate"), phase="Pending", initContainerStatuses=[
            cs("setup", RUNNING, restarts=1), cs("migrate", waiting("PodInitializing"), restarts=4)]),
        # while initializing, RESTARTS counts init containers up to the one that decides, and no app container
        pod("init-crash", "15m", init=("setup", "migrate"), phase="Pending", initContainerStatuses=[
            cs("setup", terminated(exitCode=0, reason="Completed")),
            cs("migrate", waiting("CrashLoopBackOff"), restarts=3)],
            containerStatuses=[cs("app", waiting("PodInitializing"), restarts=5)]),
        pod("init-exit", "15m", init=("setup",), phase="Pending", initContainerStatuses=[
            cs("setup", terminated(exitCode=2))]),
        pod("job-done", "3h5m", phase="Succeeded", containerStatuses=[
            cs("app", terminated(exitCode=0, reason="Completed"))]),
        pod("sidecar", "10h", containers=("main", "proxy"), phase="Running", conditions=ready_cond("True"),
            containerStatuses=[cs("main", terminated(exitCode=0, reason="Completed")), cs("proxy", RUNNING, True)]),
        pod("notready", "10h", containers=("main", "proxy"), phase="Running", conditions=ready_cond("False"),
            containerStatuses=[cs("main", terminated(exitCode=0, reason="Completed")), cs("proxy", RUNNING, True)]),
        pod("killed", "2d", phase="Failed", containerStatuses=[cs("app", terminated(exitCode=137, signal=9))]),
        pod("gone", "2d5h", metadata={"deletionTimestamp": ago("5s")}, phase="Running",
            containerStatuses=[cs("app", RUNNING, True)]),
        pod("lost", "30d", metadata={"deletionTimestamp": ago("5s")}, phase="Running", reason="NodeLost",
            containerStatuses=[cs("app", RUNNING, True)]),
        pod("orphan", "2y10d", phase="Running", reason="NodeLost"),
        pod("evicted", "30d", phase="Failed", reason="Evicted"),
        pod("pending", None, phase="Pending"),
    ]


def test_pods():
    """READY, STATUS and RESTARTS follow printPod: init progress, waiting and terminated reasons,
    Completed beside a running container, Terminating, Unknown on a lost node."""
    assert table("pods", all_pods()) == (
        "NAME         READY   STATUS                  RESTARTS   AGE",
        "web-1        1/1     Running                 0          5s",
        "web-2        1/2     CrashLoopBackOff        7          119s",
        "init-wait    0/1     Init:0/2                1          3m2s",
        "init-crash   0/1     Init:CrashLoopBackOff   3          15m",
        "init-exit    0/1     Init:ExitCode:2         0          15m",
        "job-done     0/1     Completed               0          3h5m",
        "sidecar      1/2     Running                 0          10h",
        "notready     1/2     NotReady                0          10h",
        "killed       0/1     Signal:9                0          2d",
        "gone         1/1     Terminating             0          2d5h",
        "lost         1/1     Unknown                 0          30d",
        "orphan       0/1     NodeLost                0          2y10d",
        "evicted      0/1     Evicted                 0          30d",
        "pending      0/1     Pending                 0          <unknown>",
    )


def wide_pods():
    gates = {"readinessGates": [{"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}],
             "nodeName": "n2"}
    return [
        web_1(),
        pod("web-2", "119s", containers=("app", "log"), spec=gates, phase="Running", podIP="10.244.2.7",
            conditions=[{"type": "example.com/dns", "status": "False"}, {"type": "example.com/lb", "status": "True"}],
            containerStatuses=[cs("app", RUNNING, True, restarts=2), cs("log", RUNNING, False)]),
        pod("pending", None, phase="Pending", nominatedNodeName="n3"),
    ]


def test_pods_wide():
    """-o wide adds IP (podIPs[0], else podIP), NODE, NOMINATED NODE and READINESS GATES (true/all)."""
    assert table("pods", wide_pods(), wide=True) == (
        "NAME      READY   STATUS    RESTARTS   AGE         IP           NODE     NOMINATED NODE   READINESS GATES",
        "web-1     1/1     Running   0          5s          10.244.1.5   n1       <none>           <none>",
        "web-2     1/2     Running   2          119s        10.244.2.7   n2       <none>           1/2",
        "pending   0/1     Pending   0          <unknown>   <none>       <none>   n3               <none>",
    )


def test_pods_all_namespaces_with_labels():
    """-A puts NAMESPACE first; --show-labels adds LABELS last, sorted by key, `<none>` when empty."""
    pods = [web_1(labels={"tier": "fe", "app": "web"}), pod("coredns", "3h5m", ns="kube-system", phase="Pending")]
    assert table("pods", pods, all_namespaces=True, show_labels=True) == (
        "NAMESPACE     NAME      READY   STATUS    RESTARTS   AGE    LABELS",
        "default       web-1     1/1     Running   0          5s     app=web,tier=fe",
        "kube-system   coredns   0/1     Pending   0          3h5m   <none>",
    )


def test_pods_wide_with_labels_puts_labels_after_the_wide_columns():
    """LABELS comes after the -o wide columns."""
    assert table("pods", [web_1(labels={"tier": "fe", "app": "web"})], wide=True, show_labels=True) == (
        "NAME    READY   STATUS    RESTARTS   AGE   IP           NODE   NOMINATED NODE   READINESS GATES   LABELS",
        "web-1   1/1     Running   0          5s    10.244.1.5   n1     <none>           <none>            app=web,tier=fe",
    )


def test_no_headers_and_no_objects():
    """--no-headers drops the header line; an empty list prints no table at all (not even a header)."""
    assert table("pods", [web_1()], no_headers=True) == ("web-1   1/1   Running   0     5s",)
    assert table("pods", []) == ()


# -- workloads --------------------------------------------------------------------------------------
def deployments(web_ns="default"):
    containers = lambda *cs: {"spec": {"containers": [{"name": n, "image": i} for n, i in cs]}}  # noqa: E731
    return [
        obj("deployments", "web", "3h5m", web_ns, spec={
            "replicas": 3, "selector": {"matchLabels": {"tier": "fe", "app": "web"}},
            "template": containers(("nginx", "nginx:1.25"), ("sidecar", "busybox"))},
            status={"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}),
        obj("deployments", "api", "2d", spec={
            "replicas": 1, "selector": {"matchLabels": {"app": "api"}, "matchExpressions": [
                {"key": "env", "operator": "In", "values": ["prod", "dev"]},
                {"key": "canary", "operator": "DoesNotExist"}]},
            "template": containers(("api", "registry.local/api:7"))},
            status={"replicas": 1, "readyReplicas": 1, "updatedReplicas": 1, "availableReplicas": 1}),
        obj("deployments", "empty", "5s", spec={"replicas": 0}),
    ]


def test_deployments():
    """READY is ready/desired; UP-TO-DATE and AVAILABLE are the status counts."""
    assert table("deployments", deployments()) == (
        "NAME    READY   UP-TO-DATE   AVAILABLE   AGE",
        "web     2/3     3            2           3h5m",
        "api     1/1     1            1           2d",
        "empty   0/0     0            0           5s",
    )


def test_deployments_wide():
    """SELECTOR is the selector's string, requirements sorted by key and values sorted; an empty
    selector and no containers leave empty cells (so the line keeps its padding)."""
    assert table("deployments", deployments(), wide=True) == (
        "NAME    READY   UP-TO-DATE   AVAILABLE   AGE    CONTAINERS      IMAGES                 SELECTOR",
        "web     2/3     3            2           3h5m   nginx,sidecar   nginx:1.25,busybox     app=web,tier=fe",
        "api     1/1     1            1           2d     api             registry.local/api:7   app=api,!canary,env in (dev,prod)",
        "empty   0/0     0            0           5s                                            ",
    )


def test_deployments_all_namespaces():
    """-A lists NAMESPACE first, in the server's order."""
    assert table("deployments", deployments(web_ns="shop")[:2], all_namespaces=True) == (
        "NAMESPACE   NAME   READY   UP-TO-DATE   AVAILABLE   AGE",
        "shop        web    2/3     3            2           3h5m",
        "default     api    1/1     1            1           2d",
    )


def replicasets():
    template = lambda image: {"spec": {"containers": [{"name": "nginx", "image": image}]}}  # noqa: E731
    return [
        obj("replicasets", "web-5d4f8c", "15m", spec={
            "replicas": 3, "selector": {"matchLabels": {"pod-template-hash": "5d4f8c", "app": "web"}},
            "template": template("nginx:1.25")}, status={"replicas": 3, "readyReplicas": 3}),
        obj("replicasets", "web-old", "30d", spec={"replicas": 0, "selector": {}, "template": template("nginx:1.24")},
            status={"replicas": 0}),
    ]


def test_replicasets():
    """DESIRED, CURRENT, READY; -o wide's SELECTOR says `<none>` for an empty selector."""
    assert table("replicasets", replicasets()) == (
        "NAME         DESIRED   CURRENT   READY   AGE",
        "web-5d4f8c   3         3         3       15m",
        "web-old      0         0         0       30d",
    )
    assert table("replicasets", replicasets(), wide=True) == (
        "NAME         DESIRED   CURRENT   READY   AGE   CONTAINERS   IMAGES       SELECTOR",
        "web-5d4f8c   3         3         3       15m   nginx        nginx:1.25   app=web,pod-template-hash=5d4f8c",
        "web-old      0         0         0       30d   nginx        nginx:1.24   <none>",
    )


# -- networking -------------------------------------------------------------------------------------
def services():
    return [
        obj("services", "kubernetes", "30d", spec={"type": "ClusterIP", "clusterIP": "10.96.0.1",
                                                   "ports": [{"port": 443, "protocol": "TCP"}]}),
        obj("services", "web", "3h5m", spec={
            "type": "NodePort", "clusterIP": "10.96.12.3", "clusterIPs": ["10.96.12.3"],
            "selector": {"tier": "fe", "app": "web"},
            "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 443, "protocol": "TCP"}]}),
        obj("services", "lb", "5s", spec={"type": "LoadBalancer", "clusterIP": "10.96.40.1",
                                          "ports": [{"port": 8080, "nodePort": 31000, "protocol": "TCP"}]}),
        obj("services", "lb2", "119s", spec={
            "type": "LoadBalancer", "clusterIP": "10.96.40.2", "externalIPs": ["198.51.100.2"],
            "ports": [{"port": 443, "nodePort": 31443, "protocol": "TCP"}]},
            status={"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}, {"ip": "203.0.113.9"},
                                                 {"ip": "203.0.113.9"}]}}),
        obj("services", "db", "2y10d", spec={"type": "ExternalName", "externalName": "db.example.com"}),
        obj("services", "headless", "2d5h", spec={
            "type": "ClusterIP", "clusterIP": "None", "externalIPs": ["192.0.2.10"],
            "ports": [{"port": 5432, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}),
    ]


def test_services():
    """EXTERNAL-IP: `<none>`, `<pending>` for a LoadBalancer without one, the balancer's addresses
    (sorted, deduplicated) before spec.externalIPs, the name of an ExternalName; PORT(S) as port[:nodePort]/proto."""
    assert table("services", services()) == (
        "NAME         TYPE           CLUSTER-IP   EXTERNAL-IP                               PORT(S)                AGE",
        "kubernetes   ClusterIP      10.96.0.1    <none>                                    443/TCP                30d",
        "web          NodePort       10.96.12.3   <none>                                    80:30080/TCP,443/TCP   3h5m",
        "lb           LoadBalancer   10.96.40.1   <pending>                                 8080:31000/TCP         5s",
        "lb2          LoadBalancer   10.96.40.2   203.0.113.9,lb.example.com,198.51.100.2   443:31443/TCP          119s",
        "db           ExternalName   <none>       db.example.com                            <none>                 2y10d",
        "headless     ClusterIP      None         192.0.2.10                                5432/TCP,53/UDP        2d5h",
    )


def test_services_wide():
    """-o wide adds SELECTOR, `<none>` for a service without one."""
    assert table("services", services()[:2], wide=True) == (
        "NAME         TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)                AGE    SELECTOR",
        "kubernetes   ClusterIP   10.96.0.1    <none>        443/TCP                30d    <none>",
        "web          NodePort    10.96.12.3   <none>        80:30080/TCP,443/TCP   3h5m   app=web,tier=fe",
    )


def test_ingresses():
    """CLASS (`<none>` when unset), HOSTS (three, then `+ N more...` counting rules; `*`), ADDRESS, PORTS."""
    web = obj("ingresses", "web", "10h", spec={
        "ingressClassName": "nginx", "rules": [{"host": "a.example.com"}, {"host": "b.example.com"}],
        "tls": [{"hosts": ["a.example.com"], "secretName": "tls"}]},
        status={"loadBalancer": {"ingress": [{"ip": "192.0.2.80"}]}})
    many = obj("ingresses", "many", "2d", spec={"rules": [
        {"host": "h1.example.com"}, {}, {"host": "h2.example.com"}, {"host": "h3.example.com"}, {"host": "h4.example.com"}]})
    catch_all = obj("ingresses", "catch-all", "5s", status={"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}]}})
    catch_all.spec.ingress_class_name = ""   # set, but empty: kubectl prints it as is
    assert table("ingresses", [web, many, catch_all]) == (
        "NAME        CLASS    HOSTS                                                      ADDRESS          PORTS     AGE",
        "web         nginx    a.example.com,b.example.com                                192.0.2.80       80, 443   10h",
        "many        <none>   h1.example.com,h2.example.com,h3.example.com + 2 more...                    80        2d",
        "catch-all            *                                                          lb.example.com   80        5s",
    )


def test_endpoints():
    """ENDPOINTS: ip:port for each port and each ready address, ports outer, three then `+ N more...`;
    bare IPs without ports; IPv6 in brackets; `<none>` without subsets; empty with no ready address."""
    eps = [
        obj("endpoints", "web", "3m2s", subsets=[{"addresses": [{"ip": "10.244.1.5"}, {"ip": "10.244.2.7"}],
                                                 "ports": [{"port": 80}, {"port": 443}]}]),
        obj("endpoints", "dns", "30d", subsets=[{"addresses": [{"ip": "10.244.0.2"}],
                                                "ports": [{"port": 53, "protocol": "UDP"}]}]),
        obj("endpoints", "headless", "15m", subsets=[{"addresses": [{"ip": "10.244.3.3"}]}]),
        obj("endpoints", "empty", "5s"),
        obj("endpoints", "v6", "10h", subsets=[{"addresses": [{"ip": "fd00::5"}], "ports": [{"port": 8080}]}]),
        obj("endpoints", "warming", "119s", subsets=[{"notReadyAddresses": [{"ip": "10.244.9.9"}],
                                                     "ports": [{"port": 80}]}]),
    ]
    assert table("endpoints", eps) == (
        "NAME       ENDPOINTS                                                AGE",
        "web        10.244.1.5:80,10.244.2.7:80,10.244.1.5:443 + 1 more...   3m2s",
        "dns        10.244.0.2:53                                            30d",
        "headless   10.244.3.3                                               15m",
        "empty      <none>                                                   5s",
        "v6         [fd00::5]:8080                                           10h",
        "warming                                                             119s",
    )


# -- cluster ----------------------------------------------------------------------------------------
def nodes():
    return [
        obj("nodes", "n1", "30d", metadata={"labels": {
            "node-role.kubernetes.io/master": "", "node-role.kubernetes.io/control-plane": "",
            "kubernetes.io/hostname": "n1"}},
            status={"conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
                    "addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "192.168.0.10"}],
                    "nodeInfo": {"kubeletVersion": "v0.1.0", "osImage": "Debian GNU/Linux 12 (bookworm)",
                                 "kernelVersion": "6.1.0-18-amd64", "containerRuntimeVersion": "skiff://0.1.0"}}),
        obj("nodes", "n2", "2d", metadata={"labels": {"kubernetes.io/role": "worker", "node-role.kubernetes.io/": ""}},
            spec={"unschedulable": True},
            status={"conditions": [{"type": "Ready", "status": "False"}],
                    "addresses": [{"type": "InternalIP", "address": "192.168.0.11"},
                                  {"type": "ExternalIP", "address": "203.0.113.11"}],
                    "nodeInfo": {"kubeletVersion": "v0.1.0"}}),
        obj("nodes", "n3", None),
    ]


def test_nodes():
    """STATUS from the Ready condition (Unknown without one) plus SchedulingDisabled; ROLES from the
    node-role.kubernetes.io/* and kubernetes.io/role labels, sorted; VERSION the kubelet's."""
    assert table("nodes", nodes()) == (
        "NAME   STATUS                        ROLES                  AGE         VERSION",
        "n1     Ready                         control-plane,master   30d         v0.1.0",
        "n2     NotReady,SchedulingDisabled   worker                 2d          v0.1.0",
        "n3     Unknown                       <none>                 <unknown>   ",
    )


def test_nodes_wide_and_all_namespaces():
    """-o wide adds addresses and system info (`<unknown>` when unreported); -A adds no NAMESPACE to
    a cluster-scoped kind."""
    assert table("nodes", nodes(), wide=True, all_namespaces=True) == (
        "NAME   STATUS                        ROLES                  AGE         VERSION   INTERNAL-IP    EXTERNAL-IP    OS-IMAGE                         KERNEL-VERSION   CONTAINER-RUNTIME",
        "n1     Ready                         control-plane,master   30d         v0.1.0    192.168.0.10   <none>         Debian GNU/Linux 12 (bookworm)   6.1.0-18-amd64   skiff://0.1.0",
        "n2     NotReady,SchedulingDisabled   worker                 2d          v0.1.0    192.168.0.11   203.0.113.11   <unknown>                        <unknown>        <unknown>",
        "n3     Unknown                       <none>                 <unknown>             <none>         <none>         <unknown>                        <unknown>        <unknown>",
    )


def test_namespaces():
    """STATUS is the phase."""
    nss = [obj("namespaces", "default", "30d", status={"phase": "Active"}),
           obj("namespaces", "kube-system", "30d", status={"phase": "Active"}),
           obj("namespaces", "doomed", "5s", status={"phase": "Terminating"})]
    assert table("namespaces", nss) == (
        "NAME          STATUS        AGE",
        "default       Active        30d",
        "kube-system   Active        30d",
        "doomed        Terminating   5s",
    )


def test_configmaps():
    """DATA counts data and binaryData keys."""
    cms = [obj("configmaps", "kube-root-ca.crt", "30d", data={"ca.crt": "-----BEGIN CERTIFICATE-----\n"}),
           obj("configmaps", "cfg", "3m2s", data={"a": "1"}, binaryData={"b": base64.b64encode(b"\0").decode()}),
           obj("configmaps", "empty", "5s")]
    assert table("configmaps", cms) == (
        "NAME               DATA   AGE",
        "kube-root-ca.crt   1      30d",
        "cfg                2      3m2s",
        "empty              0      5s",
    )


def test_leases():
    """HOLDER is spec.holderIdentity, empty when none holds the lease."""
    leases = [obj("leases", "n1", "5s", "kube-node-lease", spec={"holderIdentity": "n1"}),
              obj("leases", "skiff-controller", "30d", spec={"holderIdentity": "controller-abc_123"}),
              obj("leases", "free", "2y10d", spec={"leaseDurationSeconds": 15})]
    assert table("leases", leases) == (
        "NAME               HOLDER               AGE",
        "n1                 n1                   5s",
        "skiff-controller   controller-abc_123   30d",
        "free                                    2y10d",
    )


# -- events -----------------------------------------------------------------------------------------
def events():
    return [
        obj("events", "web-1.17a1", "15m", involvedObject={"kind": "Pod", "name": "web-1"}, reason="Scheduled",
            message="Successfully assigned default/web-1 to n1", source={"component": "default-scheduler"},
            firstTimestamp=ago("15m"), lastTimestamp=ago("3m2s"), count=3, type="Normal"),
        obj("events", "web-2.17a2", "10h", "shop",
            involvedObject={"kind": "Pod", "name": "web-2", "fieldPath": "spec.containers{app}"}, reason="BackOff",
            message="  Back-off restarting failed container\nsecond line ", source={"component": "kubelet", "host": "n2"},
            firstTimestamp=ago("10h"), lastTimestamp=ago("5s"), count=12, type="Warning"),
        # an events.k8s.io-style event: eventTime and a series instead of first/last timestamps and count
        obj("events", "n1.17a3", "2d", involvedObject={"kind": "Node", "name": "n1"}, reason="Pulled",
            message=" Pulled image  ", eventTime=ago("2d", micro=True), reportingComponent="kubelet",
            series={"count": 4, "lastObservedTime": ago("5s", micro=True)}, type="Normal"),
        obj("events", "gone.17a4", None, involvedObject={"kind": "Namespace"}, reason="Deleted", type="Normal"),
    ]


def test_events():
    """LAST SEEN (series, else lastTimestamp, else first), TYPE, REASON, OBJECT (kind/name), MESSAGE
    (trimmed, cut at its first newline with `...`), in the server's order."""
    assert table("events", events()) == (
        "LAST SEEN   TYPE      REASON      OBJECT      MESSAGE",
        "3m2s        Normal    Scheduled   pod/web-1   Successfully assigned default/web-1 to n1",
        "5s          Warning   BackOff     pod/web-2   Back-off restarting failed container...",
        "5s          Normal    Pulled      node/n1     Pulled image",
        "<unknown>   Normal    Deleted     namespace   ",
    )


def test_events_all_namespaces():
    """-A puts NAMESPACE before LAST SEEN."""
    assert table("events", events()[:2], all_namespaces=True) == (
        "NAMESPACE   LAST SEEN   TYPE      REASON      OBJECT      MESSAGE",
        "default     3m2s        Normal    Scheduled   pod/web-1   Successfully assigned default/web-1 to n1",
        "shop        5s          Warning   BackOff     pod/web-2   Back-off restarting failed container...",
    )


def test_events_wide():
    """-o wide interleaves SUBOBJECT and SOURCE before MESSAGE and adds FIRST SEEN, COUNT (1 for a
    singleton), NAME after it."""
    assert table("events", events(), wide=True) == (
        "LAST SEEN   TYPE      REASON      OBJECT      SUBOBJECT              SOURCE              MESSAGE                                     FIRST SEEN   COUNT   NAME",
        "3m2s        Normal    Scheduled   pod/web-1                          default-scheduler   Successfully assigned default/web-1 to n1   15m          3       web-1.17a1",
        "5s          Warning   BackOff     pod/web-2   spec.containers{app}   kubelet, n2         Back-off restarting failed container...     10h          12      web-2.17a2",
        "5s          Normal    Pulled      node/n1                                                Pulled image                                2d           4       n1.17a3",
        "<unknown>   Normal    Deleted     namespace                                                                                          <unknown>    1       gone.17a4",
    )


# -- tabwriter, -o name -----------------------------------------------------------------------------
def test_tabwriter_minimum_width_and_unpadded_last_cell():
    """A column is at least six wide (kubectl's tabwriter minwidth) and the last cell is never padded."""
    assert printers.Table().lines([["A", "BB", "C"], ["x", "", ""]]) == ["A     BB    C", "x           "]


@pytest.mark.parametrize("resource,name,shown", [
    pytest.param("pods", "web-1", "pod/web-1", id="core"),
    pytest.param("deployments", "web", "deployment.apps/web", id="apps"),
    pytest.param("ingresses", "web", "ingress.networking.k8s.io/web", id="networking"),
    pytest.param("leases", "n1", "lease.coordination.k8s.io/n1", id="coordination"),
    pytest.param("nodes", "n1", "node/n1", id="cluster-scoped"),
])
def test_output_name(resource, name, shown):
    """-o name prints kind.group/name, one per line."""
    kind = kinds.by_resource(resource)
    objs = [obj(resource, name, "5s"), obj(resource, name + "-b", "5s")]
    assert printers.render_objects(kind, objs, "name", single=False) == f"{shown}\n{shown}-b\n"


# -- through `skiff get` with a fake server -----------------------------------------------------------
class FakeApi:
    """The calls `get` makes, answered from a list of objects; watch streams `events` once, then a
    second watch call stops the command as Ctrl-C would."""

    def __init__(self, objs, events=()):
        self.objs, self.events, self.watches = list(objs), list(events), 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def get(self, kind, ns, name):
        for o in self.objs:
            if o.metadata.name == name:
                return o
        from cli.api import ServerError
        raise ServerError("NOT_FOUND", "NotFound", f'{kind.group_resource} "{name}" not found')

    def list(self, kind, ns, label_selector="", field_selector=""):
        return [o for o in self.objs if isinstance(o, kind.message)], "7"

    def watch(self, kind, ns, **_):
        self.watches += 1
        if self.watches > 1:
            raise KeyboardInterrupt
        return _Stream(api_pb2.WatchEvent(type="MODIFIED", object=kinds.wrap(o)) for o in self.events)


class _Stream(list):
    def __init__(self, it):
        super().__init__(it)

    def cancel(self):
        pass


def get(monkeypatch, api: FakeApi, *argv: str) -> tuple[int, str, str]:
    from cli.main import main
    monkeypatch.setattr(Context, "api", lambda self: api)
    out, err = io.StringIO(), io.StringIO()
    code = main(["get", *argv], stdout=out, stderr=err, stdin=io.StringIO())
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch):
    """Every Context the commands make tells NOW."""
    original = Context.__init__

    def init(self, *a, **kw):
        original(self, *a, **kw)
        self.now = lambda: NOW
    monkeypatch.setattr(Context, "__init__", init)


def test_get_table_with_labels(monkeypatch):
    """`get pods --show-labels` prints kubectl's table through the command."""
    code, out, err = get(monkeypatch, FakeApi([web_1(labels={"app": "web"})]), "pods", "--show-labels")
    assert (code, err) == (0, "")
    assert out == ("NAME    READY   STATUS    RESTARTS   AGE   LABELS\n"
                   "web-1   1/1     Running   0          5s    app=web\n")


@pytest.mark.parametrize("argv,out", [
    pytest.param(["-o", "jsonpath={.items[*].metadata.name}"], "web-1 web-2", id="list"),
    pytest.param(["web-1", "-o", "jsonpath={.metadata.name}"], "web-1", id="single"),
    pytest.param(["web-1", "web-2", "-o", "jsonpath={.kind} {.items[*].metadata.name}"], "List web-1 web-2",
                 id="several-names-make-a-list"),
    pytest.param(["-o=jsonpath={range .items[*]}{.metadata.name}{\"\\t\"}{.status.podIP}{\"\\n\"}{end}"],
                 "web-1\t10.244.1.5\nweb-2\t\n", id="equals-form-range"),
    pytest.param(["-o", "jsonpath", "--template", "{.items[0].metadata.name}"], "web-1", id="template-flag"),
    pytest.param(["-o", "jsonpath-as-json={.items[*].metadata.name}"], '[\n    "web-1",\n    "web-2"\n]\n',
                 id="as-json"),
    pytest.param(["-o", "jsonpath={.missing}"], "", id="missing-key-allowed"),
])
def test_get_jsonpath(monkeypatch, argv, out):
    """-o jsonpath applies to the object for one name, else to a List; nothing is added after it."""
    api = FakeApi([web_1(), pod("web-2", "5s")])
    assert get(monkeypatch, api, "pods", *argv) == (0, out, "")


def test_get_jsonpath_file(monkeypatch, tmp_path):
    """-o jsonpath-file reads the template from a file."""
    f = tmp_path / "t.txt"
    f.write_text("{.items[*].metadata.name}")
    assert get(monkeypatch, FakeApi([web_1()]), "pods", "-o", f"jsonpath-file={f}") == (0, "web-1", "")


def test_get_empty_list_notice_only_for_tables(monkeypatch):
    """`No resources found` (stderr) is for tables; -o name and -o jsonpath print their empty output."""
    assert get(monkeypatch, FakeApi([]), "pods") == (0, "", "No resources found in default namespace.\n")
    assert get(monkeypatch, FakeApi([]), "pods", "-o", "name") == (0, "", "")
    assert get(monkeypatch, FakeApi([]), "pods", "-o", "jsonpath={.kind}:{.items}") == (0, "List:[]", "")


@pytest.mark.parametrize("argv,err", [
    pytest.param(["-o", "jsonpath={.x"], "error: error parsing jsonpath {.x, unclosed action\n", id="unclosed"),
    pytest.param(["-o", "jsonpath="], "error: template format specified but no template given\n", id="empty"),
    pytest.param(["-o", "json", "--show-labels"], "error: --show-labels option cannot be used with json printer\n",
                 id="labels-with-json"),
    pytest.param(["--template", "{.x}"], 'error: unable to match a printer suitable for the output format "template"',
                 id="go-template"),
])
def test_get_output_usage_errors(monkeypatch, argv, err):
    """Bad -o values are refused as kubectl words it, before any request, with exit code 1."""
    code, out, got = get(monkeypatch, FakeApi([web_1()]), "pods", *argv)
    assert (code, out) == (1, "")
    assert got.startswith(err)


def test_get_jsonpath_execution_error(monkeypatch):
    """--allow-missing-template-keys=false turns a missing key into kubectl's execution error (exit 1)."""
    code, out, err = get(monkeypatch, FakeApi([web_1()]), "pods", "web-1", "-o", "jsonpath={.foo}",
                         "--allow-missing-template-keys=false")
    assert (code, out) == (1, "")
    assert err.startswith('error: error executing jsonpath "{.foo}": Error executing template: foo is not found. '
                          "Printing more information for debugging the template:\n\ttemplate was:\n\t\t{.foo}\n"
                          '\tobject given to jsonpath engine was:\n\t\tmap[string]interface {}{"apiVersion":"v1", ')
    assert err.endswith("}\n\n\n")


def test_get_jsonpath_index_out_of_range_is_an_error_even_with_missing_keys_allowed(monkeypatch):
    """An index past the end is an error whatever --allow-missing-template-keys says."""
    code, _, err = get(monkeypatch, FakeApi([web_1()]), "pods", "-o", "jsonpath={.items[3]}")
    assert code == 1 and "array index out of bounds: index 3, length 1" in err


def test_watch_prints_the_template_per_event(monkeypatch):
    """`get -w -o jsonpath` prints the template for the listed objects and then for each event."""
    later = pod("web-3", "5s")
    assert get(monkeypatch, FakeApi([web_1()], events=[later]), "pods", "-w", "-o",
               'jsonpath={.metadata.name}{"\\n"}') == (0, "web-1\nweb-3\n", "")


def test_watch_table_with_labels(monkeypatch):
    """`get -w --show-labels` streams rows under one header, LABELS last."""
    code, out, _ = get(monkeypatch, FakeApi([web_1(labels={"app": "web"})], events=[pod("web-3", "5s", phase="Pending")]),
                       "pods", "-w", "--show-labels")
    assert code == 0
    assert out == ("NAME    READY   STATUS    RESTARTS   AGE   LABELS\n"
                   "web-1   1/1     Running   0          5s    app=web\n"
                   "web-3   0/1     Pending   0          5s    <none>\n")


def test_args_namespace_without_new_flags_still_works():
    """Callers that build args without the new flags (older embedders) get kubectl's defaults."""
    output, template = commands.get_output(SimpleNamespace(output="jsonpath={.kind}"))
    assert output.format == "jsonpath" and template.print({"kind": "List"}) == "List"


def test_get_several_kinds_prints_one_table_each_with_kind_slash_name(monkeypatch):
    """`get deploy,pods` as kubectl: a table per kind, NAME as kind/name, a blank line between them;
    -o name lists them all; a kind with nothing is left out."""
    api = FakeApi([*deployments()[:1], web_1()])
    code, out, err = get(monkeypatch, api, "deploy,pods,svc")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    blank = lines.index("")
    assert lines[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert [r.split()[0] for r in lines[1:blank]] == [f"deployment.apps/{deployments()[0].metadata.name}"]
    assert lines[blank + 1] == "NAME        READY   STATUS    RESTARTS   AGE"
    assert lines[blank + 2] == "pod/web-1   1/1     Running   0          5s"
    assert get(monkeypatch, api, "deploy,pods", "-o", "name") == (
        0, f"deployment.apps/{deployments()[0].metadata.name}\npod/web-1\n", "")
    code, out, err = get(monkeypatch, FakeApi([]), "deploy,pods")
    assert (code, out, err) == (0, "", "No resources found in default namespace.\n")
    assert get(monkeypatch, api, "deploy,pods", "-w")[0] == 1
