"""`skiff apply`'s pure core: the last-applied annotation and the three-way merge behind configured/unchanged."""
from __future__ import annotations

import json

import pytest

from cli.merge import LAST_APPLIED, last_applied, merge, merge_key, planned_update, is_unchanged

pytestmark = pytest.mark.timeout(30)

MANIFEST = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25",
                                                   "ports": [{"containerPort": 80}]}]}}},
}


def _live(manifest: dict, **extra_annotations) -> dict:
    """The manifest as the server stores it: server metadata, defaults, a status, the annotation."""
    live = json.loads(json.dumps(manifest))
    live["metadata"].update({"uid": "u1", "resourceVersion": "7", "generation": 1,
                             "creationTimestamp": "2026-01-01T00:00:00Z"})
    live["metadata"]["annotations"] = {LAST_APPLIED: last_applied(manifest), **extra_annotations}
    live["spec"].update({"revisionHistoryLimit": 10, "strategy": {"type": "RollingUpdate"}})
    for c in live["spec"]["template"]["spec"]["containers"]:
        c.update({"imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log"})
        for p in c.get("ports", []):
            p["protocol"] = "TCP"
    live["status"] = {"replicas": 2, "readyReplicas": 2}
    return live


def _plan(live: dict, manifest: dict) -> dict:
    return planned_update(live, manifest, last_applied(manifest))


def test_last_applied_is_sorted_compact_json_with_newline():
    """The annotation holds the manifest as kubectl writes it: sorted keys, no spaces, a final newline."""
    text = last_applied({"kind": "Pod", "apiVersion": "v1",
                         "metadata": {"name": "p", "annotations": {LAST_APPLIED: "old"}}})
    assert text == '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}\n'


def test_reapplying_the_same_manifest_is_unchanged():
    """Server defaults, status and server metadata are not differences: the same manifest is `unchanged`."""
    live = _live(MANIFEST)
    assert is_unchanged(live, _plan(live, MANIFEST))


def test_a_changed_field_is_configured_and_defaults_are_kept():
    """A new replica count changes the object; fields the server defaulted stay as they are."""
    live = _live(MANIFEST)
    want = json.loads(json.dumps(MANIFEST))
    want["spec"]["replicas"] = 5
    plan = _plan(live, want)
    assert not is_unchanged(live, plan)
    assert plan["spec"]["replicas"] == 5 and plan["spec"]["revisionHistoryLimit"] == 10
    assert plan["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert plan["metadata"]["resourceVersion"] == "7" and plan["status"] == live["status"]
    assert json.loads(plan["metadata"]["annotations"][LAST_APPLIED])["spec"]["replicas"] == 5


def test_fields_dropped_from_the_manifest_are_removed_and_others_kept():
    """A label the last apply set and this one omits is removed; labels and annotations of others stay."""
    before = json.loads(json.dumps(MANIFEST))
    before["metadata"]["labels"]["tier"] = "front"
    live = _live(before, **{"deployment.kubernetes.io/revision": "1"})
    live["metadata"]["labels"]["team"] = "ops"  # added by someone else
    plan = _plan(live, MANIFEST)
    assert plan["metadata"]["labels"] == {"app": "web", "team": "ops"}
    assert plan["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"


def test_allocated_values_survive_reapply():
    """A Service's clusterIP and nodePort, allocated by the server, are kept when the manifest omits them."""
    manifest = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "default"},
                "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80}]}}
    live = json.loads(json.dumps(manifest))
    live["metadata"].update({"resourceVersion": "3", "annotations": {LAST_APPLIED: last_applied(manifest)}})
    live["spec"].update({"clusterIP": "10.96.0.7", "clusterIPs": ["10.96.0.7"]})
    live["spec"]["ports"] = [{"port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 30080}]
    assert is_unchanged(live, _plan(live, manifest))
    manifest["spec"]["ports"].append({"port": 443, "name": "https"})
    manifest["spec"]["ports"][0]["name"] = "http"
    plan = _plan(live, manifest)
    assert plan["spec"]["clusterIP"] == "10.96.0.7"
    assert plan["spec"]["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 30080,
                                      "name": "http"}, {"port": 443, "name": "https"}]


def test_containers_match_by_name_and_follow_the_manifests_order():
    """Reordered containers keep their own defaults; a container dropped from the manifest goes away."""
    two = json.loads(json.dumps(MANIFEST))
    two["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "busybox"})
    live = _live(two)
    live["spec"]["template"]["spec"]["containers"][1]["imagePullPolicy"] = "Always"
    swapped = json.loads(json.dumps(two))
    swapped["spec"]["template"]["spec"]["containers"].reverse()
    got = _plan(live, swapped)["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["imagePullPolicy"]) for c in got] == [("side", "Always"), ("nginx", "IfNotPresent")]
    got = _plan(live, MANIFEST)["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in got] == ["nginx"]


def test_a_removed_container_field_is_removed():
    """A container's command that the last apply set and this one omits is removed."""
    before = json.loads(json.dumps(MANIFEST))
    before["spec"]["template"]["spec"]["containers"][0]["command"] = ["sleep", "1"]
    live = _live(before)
    c = _plan(live, MANIFEST)["spec"]["template"]["spec"]["containers"][0]
    assert "command" not in c and c["terminationMessagePath"] == "/dev/termination-log"


def test_a_manifest_status_is_ignored():
    """`status` in a manifest is not applied: the live status stays."""
    want = {**MANIFEST, "status": {"replicas": 99}}
    live = _live(want)
    live["status"] = {"replicas": 2}
    plan = _plan(live, want)
    assert plan["status"] == {"replicas": 2} and is_unchanged(live, plan)


@pytest.mark.parametrize("items,key", [
    pytest.param([{"name": "a"}, {"name": "b"}], "name", id="name"),
    pytest.param([{"containerPort": 80}, {"containerPort": 81, "name": "x"}], "containerPort", id="partial-names"),
    pytest.param([{"port": 80, "name": "a"}, {"port": 81, "name": "b"}], "port", id="port-before-name"),
    pytest.param([{"name": "a", "value": "1"}, {"name": "b"}], "name", id="env"),
    pytest.param([{"key": "a"}, {"key": "a"}], None, id="no-key"),
])
def test_merge_key(items, key):
    """Lists merge by the first Kubernetes merge key that every item has, with distinct values."""
    assert merge_key(items) == key


def test_lists_without_merge_key_merge_by_position_or_are_replaced():
    """Keyless lists of objects merge item by item when lengths agree, else the manifest's list wins."""
    live = [{"key": "a", "effect": "NoSchedule", "extra": 1}]
    assert merge(live, [{"key": "a"}], [{"key": "a"}]) == [{"key": "a", "effect": "NoSchedule", "extra": 1}]
    assert merge(live, [], [{"key": "a"}, {"key": "b"}]) == [{"key": "a"}, {"key": "b"}]
    assert merge(["x", "y"], ["x"], ["z"]) == ["z"]
