"""Bad requests to the apiserver: each gets Kubernetes' answer naming the field; nothing is half-written."""
from __future__ import annotations

import copy

import grpc
import pytest

from client import kinds
from skiffpb.api.v1 import api_pb2
from tests.integration.test_apiserver import deployment, obj, status_of, stub


def svc(name="s", **spec):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}], **spec}}


def _mismatch():
    d = deployment("mismatch")
    d["spec"]["template"]["metadata"]["labels"] = {"app": "api"}
    return d


def _no_image():
    d = deployment("noimage")
    del d["spec"]["template"]["spec"]["containers"][0]["image"]
    return d


def _big_configmap():
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"}, "data": {"k": "x" * 1_100_000}}


def _huge_deployment():
    d = deployment("huge")
    d["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": f"V{i}", "value": "x" * 100_000}
                                                             for i in range(15)]
    return d


CREATE_CASES = [
    pytest.param({**deployment("x"), "metadata": {"name": "Web_1"}}, grpc.StatusCode.INVALID_ARGUMENT, "Invalid",
                 'metadata.name: Invalid value: "Web_1"', id="invalid-name"),
    pytest.param(_mismatch(), grpc.StatusCode.INVALID_ARGUMENT, "Invalid",
                 "spec.template.metadata.labels: Invalid value: ", id="selector-mismatch"),
    pytest.param(_no_image(), grpc.StatusCode.INVALID_ARGUMENT, "Invalid",
                 "spec.template.spec.containers[0].image: Required value", id="missing-image"),
    pytest.param(svc(ports=[{"port": 70000}]), grpc.StatusCode.INVALID_ARGUMENT, "Invalid",
                 "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive", id="port-range"),
    pytest.param({**deployment("y"), "metadata": {"name": "y", "namespace": "nowhere"}}, grpc.StatusCode.NOT_FOUND,
                 "NotFound", 'namespaces "nowhere" not found', id="missing-namespace"),
    pytest.param({**deployment("z"), "metadata": {"name": "z", "labels": {"bad key!": "v"}}},
                 grpc.StatusCode.INVALID_ARGUMENT, "Invalid", 'metadata.labels: Invalid value: "bad key!"',
                 id="label-key"),
    pytest.param(_big_configmap(), grpc.StatusCode.INVALID_ARGUMENT, "Invalid",
                 "Too long: must have at most 1048576 bytes", id="oversize-configmap"),
    pytest.param(_huge_deployment(), grpc.StatusCode.RESOURCE_EXHAUSTED, "RequestEntityTooLarge",
                 "Request entity too large", id="oversize-object"),
]


@pytest.mark.parametrize("data,code,reason,text", CREATE_CASES)
def test_bad_creates_name_the_field_and_write_nothing(control_plane, data, code, reason, text):
    """A create that Kubernetes would refuse is refused with the field in the message, and the object does not exist."""
    a = stub(control_plane.apiservers[0])
    kind = kinds.by_gvk(data["apiVersion"], data["kind"])
    before = a.List(api_pb2.ListRequest(resource=kind.resource)).items
    with pytest.raises(grpc.RpcError) as ei:
        a.Create(api_pb2.CreateRequest(object=obj(data)), timeout=10)
    assert ei.value.code() == code, ei.value.details()
    assert text in ei.value.details(), ei.value.details()
    assert status_of(ei.value).reason == reason
    assert list(a.List(api_pb2.ListRequest(resource=kind.resource)).items) == list(before)
    # The server keeps serving.
    a.Create(api_pb2.CreateRequest(object=obj(deployment("after-" + (data["metadata"]["name"] or "x").lower()
                                                         .replace("_", "-")))))


def test_immutable_fields_and_wrong_kinds_are_refused(control_plane):
    """Changing a Deployment's selector or a Service's clusterIP is refused; the stored objects stay as they were."""
    a = stub(control_plane.apiservers[0])
    d = kinds.unwrap(a.Create(api_pb2.CreateRequest(object=obj(deployment("imm")))))
    changed = copy.deepcopy(d)
    changed.spec.selector.match_labels["app"] = "other"
    changed.spec.template.metadata.labels["app"] = "other"
    with pytest.raises(grpc.RpcError) as ei:
        a.Update(api_pb2.UpdateRequest(object=kinds.wrap(changed)))
    assert "spec.selector" in ei.value.details() and "field is immutable" in ei.value.details()
    s = kinds.unwrap(a.Create(api_pb2.CreateRequest(object=obj(svc("imm-svc")))))
    moved = copy.deepcopy(s)
    moved.spec.cluster_ip = "10.96.0.99" if s.spec.cluster_ip != "10.96.0.99" else "10.96.0.98"
    with pytest.raises(grpc.RpcError) as ei:
        a.Update(api_pb2.UpdateRequest(object=kinds.wrap(moved)))
    assert "spec.clusterIP" in ei.value.details() and "field is immutable" in ei.value.details()
    got = kinds.unwrap(a.Get(api_pb2.GetRequest(resource="deployments", namespace="default", name="imm")))
    assert got.spec.selector.match_labels["app"] == "imm"
    for bad in (api_pb2.GetRequest(resource="widgets", name="x"),):
        with pytest.raises(grpc.RpcError) as ei:
            a.Get(bad)
        assert ei.value.code() == grpc.StatusCode.NOT_FOUND
        assert 'the server could not find the requested resource "widgets"' in ei.value.details()
    with pytest.raises(grpc.RpcError) as ei:
        a.List(api_pb2.ListRequest(resource="pods", label_selector="env in (a,"))
    assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as ei:
        a.List(api_pb2.ListRequest(resource="pods", field_selector="spec.foo=bar"))
    assert "field label not supported: spec.foo" in ei.value.details()


def test_pod_deletion_is_graceful_once_bound(control_plane):
    """A bound pod gets a deletionTimestamp and grace period first; a second delete with grace 0 removes it."""
    a = stub(control_plane.apiservers[0])
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "gp"},
           "spec": {"nodeName": "n1", "terminationGracePeriodSeconds": 20,
                    "containers": [{"name": "c", "image": "busybox"}]}}
    a.Create(api_pb2.CreateRequest(object=obj(pod)))
    resp = a.Delete(api_pb2.DeleteRequest(resource="pods", namespace="default", name="gp"))
    meta = kinds.unwrap(resp.object).metadata
    assert meta.deletion_timestamp and meta.deletion_grace_period_seconds == 20
    still = kinds.unwrap(a.Get(api_pb2.GetRequest(resource="pods", namespace="default", name="gp")))
    assert still.metadata.deletion_timestamp == meta.deletion_timestamp
    a.Delete(api_pb2.DeleteRequest(resource="pods", namespace="default", name="gp", grace_period_seconds=0))
    with pytest.raises(grpc.RpcError) as ei:
        a.Get(api_pb2.GetRequest(resource="pods", namespace="default", name="gp"))
    assert ei.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_terminating_pod_survives_status_updates_and_finalizers_gate_deletion(control_plane):
    """Status updates of a pod in its grace period keep it; an object with a finalizer goes when the finalizer is removed."""
    a = stub(control_plane.apiservers[0])
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "tp"},
           "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}]}}
    a.Create(api_pb2.CreateRequest(object=obj(pod)))
    a.Delete(api_pb2.DeleteRequest(resource="pods", namespace="default", name="tp"))
    cur = kinds.unwrap(a.Get(api_pb2.GetRequest(resource="pods", namespace="default", name="tp")))
    cur.status.phase = "Running"
    a.UpdateStatus(api_pb2.UpdateRequest(object=kinds.wrap(cur)))
    still = kinds.unwrap(a.Get(api_pb2.GetRequest(resource="pods", namespace="default", name="tp")))
    assert still.status.phase == "Running" and still.metadata.deletion_timestamp

    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "held", "finalizers": ["example.com/hold"]}}
    a.Create(api_pb2.CreateRequest(object=obj(cm)))
    a.Delete(api_pb2.DeleteRequest(resource="configmaps", namespace="default", name="held"))
    held = kinds.unwrap(a.Get(api_pb2.GetRequest(resource="configmaps", namespace="default", name="held")))
    assert held.metadata.deletion_timestamp and list(held.metadata.finalizers) == ["example.com/hold"]
    held.metadata.labels["touched"] = "yes"  # an ordinary update keeps it
    held = kinds.unwrap(a.Update(api_pb2.UpdateRequest(object=kinds.wrap(held))))
    del held.metadata.finalizers[:]
    a.Update(api_pb2.UpdateRequest(object=kinds.wrap(held)))
    with pytest.raises(grpc.RpcError) as ei:
        a.Get(api_pb2.GetRequest(resource="configmaps", namespace="default", name="held"))
    assert ei.value.code() == grpc.StatusCode.NOT_FOUND
