"""The apiserver over real processes: 3 stores, 2 apiservers, driven through its gRPC API."""
from __future__ import annotations

import concurrent.futures
import json
import queue
import threading

import grpc
import pytest

from client import kinds
from client.codec import from_dict, to_dict
from skiffpb.api.v1 import api_pb2, api_pb2_grpc
from skiffpb.k8s.meta.v1 import meta_pb2
from tests.harness import wait_for

STATUS_KEY = "skiff-status-bin"


def stub(api) -> api_pb2_grpc.ApiStub:
    return api_pb2_grpc.ApiStub(grpc.insecure_channel(api.endpoint))


def obj(data: dict) -> api_pb2.Object:
    return kinds.wrap(from_dict(kinds.by_gvk(data["apiVersion"], data["kind"]).message, data))


def plain(o: api_pb2.Object) -> dict:
    return to_dict(kinds.unwrap(o))


def status_of(err: grpc.RpcError) -> meta_pb2.Status:
    for k, v in err.trailing_metadata() or ():
        if k == STATUS_KEY:
            return meta_pb2.Status.FromString(v)
    raise AssertionError(f"no Status in the error: {err}")


def events(call):
    """The WatchEvents of a Watch stream, one by one (the server sends them in batches)."""
    for batch in call:
        yield from batch.events


def drain(call, into: queue.Queue) -> None:
    """Reads a watch stream into a queue until the stream ends or is cancelled."""
    try:
        for ev in events(call):
            into.put(ev)
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.CANCELLED:
            into.put(e)


def deployment(name: str, ns: str = "default", labels=None, replicas=2) -> dict:
    labels = labels or {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "web", "image": "nginx:1.19",
                                                           "env": [{"name": "A", "value": "1"},
                                                                   {"name": "B", "value": "2"}],
                                                           "ports": [{"containerPort": 80}]}]}}}}


ONE_OF_EACH = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}},
    {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}, "spec": {"podCIDR": "10.244.1.0/24"}},
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1"},
     "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s1"},
     "spec": {"selector": {"app": "x"}, "ports": [{"port": 80, "targetPort": 8080}]}},
    {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "s1"},
     "subsets": [{"addresses": [{"ip": "10.244.1.5"}], "ports": [{"port": 8080}]}]},
    {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1"}, "reason": "Tested",
     "involvedObject": {"kind": "Pod", "name": "p1", "namespace": "default"}, "message": "hi", "type": "Normal"},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm1"}, "data": {"k": "v"}},
    deployment("d1"),
    {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs1"},
     "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "rs1"}},
              "template": {"metadata": {"labels": {"app": "rs1"}},
                           "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}},
    {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "i1"},
     "spec": {"rules": [{"host": "a.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix",
              "backend": {"service": {"name": "s1", "port": {"number": 80}}}}]}}]}},
    {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l1"},
     "spec": {"holderIdentity": "me", "leaseDurationSeconds": 15}},
]


@pytest.mark.timeout(120)
def test_crud_and_watch_for_every_kind(control_plane):
    """Each kind is created on one apiserver, seen by a watch on the other, updated, and deleted."""
    a, b = (stub(x) for x in control_plane.apiservers)
    for data in ONE_OF_EACH:
        kind = kinds.by_gvk(data["apiVersion"], data["kind"])
        ns = "default" if kind.namespaced else ""
        events: queue.Queue = queue.Queue()
        lst = b.List(api_pb2.ListRequest(resource=kind.resource, namespace=ns))
        call = b.Watch(api_pb2.WatchRequest(resource=kind.resource, namespace=ns,
                                            resource_version=lst.metadata.resource_version))
        reader = threading.Thread(target=drain, args=(call, events), daemon=True)
        reader.start()
        try:
            created = a.Create(api_pb2.CreateRequest(object=obj(data)))
            meta = kinds.unwrap(created).metadata
            assert meta.uid and meta.creation_timestamp and int(meta.resource_version) > 0
            got = a.Get(api_pb2.GetRequest(resource=kind.resource, namespace=ns, name=meta.name))
            assert plain(got) == plain(created)
            changed = kinds.unwrap(got)
            changed.metadata.labels["touched"] = "yes"
            updated = b.Update(api_pb2.UpdateRequest(object=kinds.wrap(changed)))
            assert int(kinds.unwrap(updated).metadata.resource_version) > int(meta.resource_version)
            a.Delete(api_pb2.DeleteRequest(resource=kind.resource, namespace=ns, name=meta.name,
                                           grace_period_seconds=0))
            seen = [events.get(timeout=10) for _ in range(3)]
            assert [kinds.unwrap(e.object).metadata.name for e in seen] == [meta.name] * 3
            if kind.resource == "namespaces":
                # A namespace goes Terminating until the namespace controller empties it.
                assert [e.type for e in seen] == ["ADDED", "MODIFIED", "MODIFIED"]
                assert kinds.unwrap(seen[2].object).status.phase == "Terminating"
                continue
            assert [e.type for e in seen] == ["ADDED", "MODIFIED", "DELETED"], kind.resource
            with pytest.raises(grpc.RpcError) as ei:
                b.Get(api_pb2.GetRequest(resource=kind.resource, namespace=ns, name=meta.name))
            assert ei.value.code() == grpc.StatusCode.NOT_FOUND
        finally:
            call.cancel()
            reader.join(5)


def test_stale_update_is_a_conflict_and_status_and_spec_writers_do_not_clobber(control_plane):
    """An update carrying an old resourceVersion is refused with Kubernetes' Conflict; status updates leave spec alone."""
    a, b = (stub(x) for x in control_plane.apiservers)
    created = kinds.unwrap(a.Create(api_pb2.CreateRequest(object=obj(deployment("web")))))
    assert created.metadata.generation == 1
    first = kinds.unwrap(a.Get(api_pb2.GetRequest(resource="deployments", namespace="default", name="web")))
    first.spec.replicas = 5
    b.Update(api_pb2.UpdateRequest(object=kinds.wrap(first)))
    first.spec.replicas = 7  # still carries the old resourceVersion
    with pytest.raises(grpc.RpcError) as ei:
        a.Update(api_pb2.UpdateRequest(object=kinds.wrap(first)))
    assert ei.value.code() == grpc.StatusCode.ABORTED
    assert ei.value.details() == ('Operation cannot be fulfilled on deployments.apps "web": the object has been '
                                  "modified; please apply your changes to the latest version and try again")
    assert status_of(ei.value).reason == "Conflict" and status_of(ei.value).code == 409

    cur = kinds.unwrap(a.Get(api_pb2.GetRequest(resource="deployments", namespace="default", name="web")))
    assert cur.metadata.generation == 2 and cur.spec.replicas == 5
    cur.status.replicas = 5
    cur.spec.replicas = 99  # ignored by the status subresource
    after = kinds.unwrap(b.UpdateStatus(api_pb2.UpdateRequest(object=kinds.wrap(cur))))
    assert (after.spec.replicas, after.status.replicas, after.metadata.generation) == (5, 5, 2)


def test_patches_of_all_three_types(control_plane):
    """Strategic merge patches reorder containers, delete an env var and replace ports; merge and JSON patches work too."""
    a = stub(control_plane.apiservers[0])
    d = deployment("pt")
    d["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "busybox"})
    a.Create(api_pb2.CreateRequest(object=obj(d)))

    def patch(doc, ptype="application/strategic-merge-patch+json"):
        return plain(a.Patch(api_pb2.PatchRequest(resource="deployments", namespace="default", name="pt",
                                                  patch_type=ptype, patch=json.dumps(doc).encode())))
    out = patch({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "side"}, {"name": "web"}],
        "containers": [{"name": "web", "env": [{"name": "A", "$patch": "delete"}],
                        "ports": [{"containerPort": 8080}, {"$patch": "replace"}]}]}}}})
    cs = out["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in cs] == ["side", "web"]
    assert [e["name"] for e in cs[1]["env"]] == ["B"]
    assert [p["containerPort"] for p in cs[1]["ports"]] == [8080]
    assert patch({"metadata": {"labels": {"x": "1"}}}, "application/merge-patch+json")["metadata"]["labels"] == {"x": "1"}
    assert patch([{"op": "replace", "path": "/spec/replicas", "value": 4}],
                 "application/json-patch+json")["spec"]["replicas"] == 4
    with pytest.raises(grpc.RpcError) as ei:
        patch([{"op": "remove", "path": "/spec/nothing"}], "application/json-patch+json")
    assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_cluster_ips_and_node_ports_stay_unique_under_concurrent_creates(control_plane):
    """Forty NodePort Services created at once through two apiservers get forty distinct ClusterIPs and NodePorts."""
    stubs = [stub(x) for x in control_plane.apiservers]

    def create(i):
        svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"svc-{i}"},
               "spec": {"type": "NodePort", "selector": {"app": "x"}, "ports": [{"port": 80}]}}
        return kinds.unwrap(stubs[i % 2].Create(api_pb2.CreateRequest(object=obj(svc)), timeout=30))
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        made = list(pool.map(create, range(40)))
    ips = [s.spec.cluster_ip for s in made]
    ports = [s.spec.ports[0].node_port for s in made]
    assert len(set(ips)) == 40 and all(ip.startswith("10.96.") for ip in ips)
    assert len(set(ports)) == 40 and all(30000 <= p <= 32767 for p in ports)
    # Deleting releases: the same IP can be asked for again.
    stubs[0].Delete(api_pb2.DeleteRequest(resource="services", namespace="default", name="svc-0"))
    again = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "again"},
             "spec": {"clusterIP": ips[0], "ports": [{"port": 80}]}}
    wait_for(lambda: stubs[1].Create(api_pb2.CreateRequest(object=obj(again))), 10, "the freed IP to be reusable")
    taken = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "taken"},
             "spec": {"clusterIP": ips[1], "ports": [{"port": 80}]}}
    with pytest.raises(grpc.RpcError) as ei:
        stubs[0].Create(api_pb2.CreateRequest(object=obj(taken)))
    assert "provided IP is already allocated" in ei.value.details()


@pytest.mark.parametrize("control_plane_with_controllers", [{"controllers": "garbagecollector,namespace"}],
                         indirect=True)
@pytest.mark.parametrize("policy", ["Background", "Foreground", "Orphan"])
def test_cascade_deletion(control_plane_with_controllers, policy):
    """Deleting an owner deletes its dependents (Background, Foreground) or leaves them ownerless (Orphan):
    the apiserver marks, the controller manager's garbage collector cascades."""
    a = stub(control_plane_with_controllers.apiservers[0])
    owner = kinds.unwrap(a.Create(api_pb2.CreateRequest(object=obj(deployment("owner")))))
    ref = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "owner", "uid": owner.metadata.uid,
           "controller": True, "blockOwnerDeletion": True}
    for i in range(3):
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"dep-{i}", "ownerReferences": [ref]}}
        a.Create(api_pb2.CreateRequest(object=obj(cm)))
    a.Delete(api_pb2.DeleteRequest(resource="deployments", namespace="default", name="owner",
                                   propagation_policy=policy))

    def owner_gone():
        try:
            a.Get(api_pb2.GetRequest(resource="deployments", namespace="default", name="owner"))
            return False
        except grpc.RpcError as e:
            return e.code() == grpc.StatusCode.NOT_FOUND
    wait_for(owner_gone, 20, f"the owner to be deleted ({policy})")

    def dependents():
        items = a.List(api_pb2.ListRequest(resource="configmaps", namespace="default")).items
        return [kinds.unwrap(i) for i in items if kinds.unwrap(i).metadata.name.startswith("dep-")]
    if policy == "Orphan":
        left = dependents()
        assert len(left) == 3 and all(not d.metadata.owner_references for d in left)
    else:
        wait_for(lambda: not dependents(), 20, f"the dependents to be deleted ({policy})")


def test_watch_resumes_on_the_other_apiserver_after_a_kill_and_410_after_compaction(control_plane):
    """A watch broken by kill -9 of its apiserver resumes on the other from its last resourceVersion without loss or repeats."""
    api1, api2 = control_plane.apiservers
    a, b = stub(api1), stub(api2)
    start = a.List(api_pb2.ListRequest(resource="configmaps", namespace="default")).metadata.resource_version
    got: list[tuple[str, str, str]] = []
    call = a.Watch(api_pb2.WatchRequest(resource="configmaps", namespace="default", resource_version=start))
    for i in range(5):
        b.Create(api_pb2.CreateRequest(object=obj({"apiVersion": "v1", "kind": "ConfigMap",
                                                   "metadata": {"name": f"w{i}"}})))
    for ev in events(call):
        m = kinds.unwrap(ev.object).metadata
        got.append((ev.type, m.name, m.resource_version))
        if len(got) == 5:
            break
    api1.kill9()
    for i in range(5, 10):
        b.Create(api_pb2.CreateRequest(object=obj({"apiVersion": "v1", "kind": "ConfigMap",
                                                   "metadata": {"name": f"w{i}"}})))
    call = b.Watch(api_pb2.WatchRequest(resource="configmaps", namespace="default", resource_version=got[-1][2]))
    for ev in events(call):
        m = kinds.unwrap(ev.object).metadata
        got.append((ev.type, m.name, m.resource_version))
        if len(got) == 10:
            call.cancel()
            break
    assert [n for _, n, _ in got] == [f"w{i}" for i in range(10)]
    revs = [int(r) for _, _, r in got]
    assert revs == sorted(revs) and len(set(revs)) == 10

    # Compact the store past the start: a watch from there is answered 410 Gone (reason Expired).
    from store.client import StoreClient
    import asyncio

    async def compact():
        async with StoreClient(control_plane.store.endpoints) as c:
            await c.compact(revs[-1])
    asyncio.run(compact())
    api1.restart()  # a fresh apiserver's window starts at its list: older revisions are gone
    ev = next(events(stub(api1).Watch(api_pb2.WatchRequest(resource="configmaps", namespace="default",
                                                         resource_version=start))))
    assert ev.type == "ERROR" and ev.status.code == 410 and ev.status.reason == "Expired"


def test_metrics_count_requests_by_verb_and_resource_and_health_is_served(control_plane):
    """/metrics reports request counts and latencies by verb and resource; gRPC health says SERVING."""
    import re
    import urllib.request
    api = control_plane.apiservers[0]
    a = stub(api)
    for i in range(3):
        a.Create(api_pb2.CreateRequest(object=obj({"apiVersion": "v1", "kind": "ConfigMap",
                                                   "metadata": {"name": f"m{i}"}})))
    with pytest.raises(grpc.RpcError):
        a.Get(api_pb2.GetRequest(resource="configmaps", namespace="default", name="nope"))
    text = urllib.request.urlopen(f"http://127.0.0.1:{api.metrics_port}/metrics", timeout=5).read().decode()
    assert re.search(r'apiserver_request_total\{code="OK",resource="configmaps",verb="CREATE"\} 3\.0', text), text
    assert re.search(r'apiserver_request_total\{code="NotFound",resource="configmaps",verb="GET"\} 1\.0', text)
    assert 'apiserver_request_duration_seconds_bucket{le="0.05",resource="configmaps",verb="CREATE"}' in text
    assert api.serving()


def test_selectors_bookmarks_and_terminating_namespaces(control_plane):
    """Lists honour set-based label and field selectors and pages, idle watches get bookmarks, a terminating namespace refuses new objects."""
    a = stub(control_plane.apiservers[0])
    for name, env, node in (("p1", "prod", "n1"), ("p2", "staging", "n2"), ("p3", None, "n1")):
        labels = {"env": env} if env else {"canary": "true"}
        a.Create(api_pb2.CreateRequest(object=obj({"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": name, "labels": labels}, "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x"}]}})))

    def names(**kw):
        return sorted(kinds.unwrap(i).metadata.name for i in a.List(api_pb2.ListRequest(resource="pods", **kw)).items)
    assert names(label_selector="env in (prod,staging)") == ["p1", "p2"]
    assert names(label_selector="!env") == ["p3"]
    assert names(label_selector="env!=prod") == ["p2", "p3"]
    assert names(field_selector="spec.nodeName=n1") == ["p1", "p3"]
    assert names(field_selector="spec.nodeName=n1,metadata.name!=p1", namespace="default") == ["p3"]
    page1 = a.List(api_pb2.ListRequest(resource="pods", limit=2))
    token = getattr(page1.metadata, "continue")
    assert len(page1.items) == 2 and token
    page2 = a.List(api_pb2.ListRequest(resource="pods", limit=2, **{"continue": token}))
    assert [kinds.unwrap(i).metadata.name for i in [*page1.items, *page2.items]] == ["p1", "p2", "p3"]
    assert not getattr(page2.metadata, "continue")

    rv = a.List(api_pb2.ListRequest(resource="configmaps")).metadata.resource_version
    first = next(events(a.Watch(api_pb2.WatchRequest(resource="configmaps", resource_version=rv,
                                                   allow_bookmarks=True), timeout=15)))
    assert first.type == "BOOKMARK" and int(kinds.unwrap(first.object).metadata.resource_version) >= int(rv)

    a.Create(api_pb2.CreateRequest(object=obj({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "doomed"}})))
    a.Delete(api_pb2.DeleteRequest(resource="namespaces", name="doomed"))
    ns = kinds.unwrap(a.Get(api_pb2.GetRequest(resource="namespaces", name="doomed")))
    assert ns.metadata.deletion_timestamp  # Terminating until the namespace controller empties it
    with pytest.raises(grpc.RpcError) as ei:
        a.Create(api_pb2.CreateRequest(object=obj({"apiVersion": "v1", "kind": "ConfigMap",
                                                   "metadata": {"name": "late", "namespace": "doomed"}})))
    assert ei.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "because it is being terminated" in ei.value.details()


def test_binding_assigns_an_unbound_pod_once_even_with_two_schedulers(control_plane):
    """pods/binding sets nodeName and PodScheduled=True; a second bind, a wrong uid and a pod being
    deleted are Conflicts with Kubernetes' texts; racing binds through two apiservers: exactly one wins."""
    a, b = (stub(api) for api in control_plane.apiservers[:2])

    def pod(name: str) -> api_pb2.Object:
        return obj({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
                    "spec": {"containers": [{"name": "c", "image": "busybox"}]}})

    def bind(s, name: str, node: str, uid: str = "") -> api_pb2.Object:
        req = api_pb2.BindRequest()
        req.binding.metadata.namespace, req.binding.metadata.name = "default", name
        if uid:
            req.binding.metadata.uid = uid
        req.binding.target.kind, req.binding.target.name = "Node", node
        return s.Bind(req, timeout=10)

    created = a.Create(api_pb2.CreateRequest(object=pod("bind-me")), timeout=10).pod
    bound = bind(a, "bind-me", "n1", uid=created.metadata.uid).pod
    assert bound.spec.node_name == "n1"
    assert [(c.type, c.status) for c in bound.status.conditions if c.type == "PodScheduled"] == [("PodScheduled", "True")]
    with pytest.raises(grpc.RpcError) as again:
        bind(b, "bind-me", "n2")
    assert again.value.code() == grpc.StatusCode.ABORTED
    assert again.value.details() == ('Operation cannot be fulfilled on pods/binding "bind-me": pod bind-me is '
                                     'already assigned to node "n1"')
    a.Create(api_pb2.CreateRequest(object=pod("wrong-uid")), timeout=10)
    with pytest.raises(grpc.RpcError) as wrong:
        bind(b, "wrong-uid", "n1", uid="not-its-uid")
    assert "Precondition failed: UID in precondition: not-its-uid" in wrong.value.details()
    with pytest.raises(grpc.RpcError) as invalid:
        bind(a, "wrong-uid", "")
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "target.name: Required value" in \
        invalid.value.details()
    assert a.Get(api_pb2.GetRequest(resource="pods", namespace="default", name="wrong-uid"),
                 timeout=10).pod.spec.node_name == ""

    names = [f"race-{i}" for i in range(10)]
    for n in names:
        a.Create(api_pb2.CreateRequest(object=pod(n)), timeout=10)

    def attempt(args):
        s, name, node = args
        try:
            return bind(s, name, node).pod.spec.node_name
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.ABORTED, e
            return None
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, [(s, n, node) for n in names for s, node in ((a, "n1"), (b, "n2"))]))
    for i, n in enumerate(names):
        winners = [r for r in results[2 * i:2 * i + 2] if r is not None]
        assert len(winners) == 1, (n, results[2 * i:2 * i + 2])
        stored = a.Get(api_pb2.GetRequest(resource="pods", namespace="default", name=n), timeout=10).pod
        assert stored.spec.node_name == winners[0]
