"""apiserver/patch.py: RFC 7386 merge patch, RFC 6902 JSON patch and Kubernetes' strategic merge
patch, as table tests (the RFCs' appendix examples, Kubernetes' documented behaviour, the issue's
acceptance cases, the error messages) and Hypothesis properties."""
from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings, strategies as st

from apiserver.patch import (
    SCHEMAS, Field, PatchError, json_merge_patch, json_patch, merge_strategies, strategic_merge_patch,
)

pytestmark = pytest.mark.timeout(30)


def same(a, b) -> bool:
    """Equal as JSON texts: unlike ==, tells true from 1 and keeps key order out of it."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


# -- JSON merge patch (RFC 7386) --------------------------------------------------------------------

@pytest.mark.parametrize("target, patch, want", [
    pytest.param({"a": "b"}, {"a": "c"}, {"a": "c"}, id="replace-member"),
    pytest.param({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}, id="add-member"),
    pytest.param({"a": "b"}, {"a": None}, {}, id="null-deletes"),
    pytest.param({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}, id="null-deletes-one"),
    pytest.param({"a": ["b"]}, {"a": "c"}, {"a": "c"}, id="scalar-replaces-list"),
    pytest.param({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}, id="list-replaces-scalar"),
    pytest.param({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}, id="nested-merge"),
    pytest.param({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}, id="lists-replaced-whole"),
    pytest.param(["a", "b"], ["c", "d"], ["c", "d"], id="list-document"),
    pytest.param({"a": "b"}, ["c"], ["c"], id="list-patch-replaces-object"),
    pytest.param({"a": "foo"}, None, None, id="null-patch"),
    pytest.param({"a": "foo"}, "bar", "bar", id="scalar-patch"),
    pytest.param({"e": None}, {"a": 1}, {"e": None, "a": 1}, id="target-nulls-kept"),
    pytest.param([1, 2], {"a": "b", "c": None}, {"a": "b"}, id="object-patch-over-list"),
    pytest.param({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}, id="nulls-dropped-in-new-objects"),
    pytest.param({"metadata": {"labels": {"app": "web", "tier": "fe"}}},
                 {"metadata": {"labels": {"tier": None, "env": "prod"}}},
                 {"metadata": {"labels": {"app": "web", "env": "prod"}}}, id="labels"),
])
def test_json_merge_patch(target, patch, want):
    """Each RFC 7386 appendix example (and a label edit) gives the RFC's result."""
    before = copy.deepcopy((target, patch))
    assert same(json_merge_patch(target, patch), want)
    assert same((target, patch), before)


json_scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3)
keys = st.text(alphabet="ab/~$", max_size=3)


def json_values(leaves=json_scalars):
    return st.recursive(leaves, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(keys, inner, max_size=3), max_leaves=12)


non_null_objects = st.recursive(
    st.dictionaries(keys, st.booleans() | st.integers(-5, 5) | st.text(max_size=3)
                    | st.lists(json_scalars, max_size=3), max_size=3),
    lambda inner: st.dictionaries(keys, inner | st.integers(), max_size=3), max_leaves=12)


def merge_diff(t: dict, u: dict) -> dict:
    """The RFC 7386 patch that turns t into u."""
    patch = {k: None for k in t if k not in u}
    for k, v in u.items():
        if k in t and same(t[k], v):
            continue
        patch[k] = merge_diff(t[k], v) if isinstance(v, dict) and isinstance(t.get(k), dict) else v
    return patch


@given(t=non_null_objects, u=non_null_objects)
def test_json_merge_patch_of_a_diff_turns_t_into_u(t, u):
    """Applying the merge patch computed from the difference of t and u to t yields u."""
    assert same(json_merge_patch(t, merge_diff(t, u)), u)


# -- JSON patch (RFC 6902) --------------------------------------------------------------------------

@pytest.mark.parametrize("target, ops, want", [
    pytest.param({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}],
                 {"baz": "qux", "foo": "bar"}, id="A1-add-member"),
    pytest.param({"foo": ["bar", "baz"]}, [{"op": "add", "path": "/foo/1", "value": "qux"}],
                 {"foo": ["bar", "qux", "baz"]}, id="A2-add-element"),
    pytest.param({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"},
                 id="A3-remove-member"),
    pytest.param({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]},
                 id="A4-remove-element"),
    pytest.param({"baz": "qux", "foo": "bar"}, [{"op": "replace", "path": "/baz", "value": "boo"}],
                 {"baz": "boo", "foo": "bar"}, id="A5-replace"),
    pytest.param({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
                 [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
                 {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}, id="A6-move-member"),
    pytest.param({"foo": ["all", "grass", "cows", "eat"]}, [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
                 {"foo": ["all", "cows", "eat", "grass"]}, id="A7-move-element"),
    pytest.param({"baz": "qux", "foo": ["a", 2, "c"]},
                 [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
                 {"baz": "qux", "foo": ["a", 2, "c"]}, id="A8-test"),
    pytest.param({"foo": "bar"}, [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
                 {"foo": "bar", "child": {"grandchild": {}}}, id="A10-add-nested-object"),
    pytest.param({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
                 {"foo": "bar", "baz": "qux"}, id="A11-unknown-members-ignored"),
    pytest.param({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10},
                 id="A14-escape-order"),
    pytest.param({"foo": ["bar"]}, [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
                 {"foo": ["bar", ["abc", "def"]]}, id="A16-append-with-dash"),
    pytest.param({"a/b": {"m~n": 1}}, [{"op": "replace", "path": "/a~1b/m~0n", "value": 2}], {"a/b": {"m~n": 2}},
                 id="escapes"),
    pytest.param({"a": 1}, [{"op": "add", "path": "", "value": [1]}], [1], id="add-whole-document"),
    pytest.param({"a": 1}, [{"op": "replace", "path": "", "value": {"b": 2}}], {"b": 2}, id="replace-whole-document"),
    pytest.param({"a": {"b": [1]}}, [{"op": "copy", "from": "/a/b", "path": "/c"},
                                     {"op": "add", "path": "/c/-", "value": 2}],
                 {"a": {"b": [1]}, "c": [1, 2]}, id="copy-is-deep"),
    pytest.param({"a": 1}, [{"op": "move", "from": "/a", "path": "/a"}], {"a": 1}, id="move-to-itself"),
    pytest.param({"n": 1}, [{"op": "test", "path": "/n", "value": 1.0}], {"n": 1}, id="test-1-equals-1.0"),
    pytest.param({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "web:1"}]}}}},
                 [{"op": "test", "path": "/spec/template/spec/containers/0/name", "value": "app"},
                  {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "web:2"}],
                 {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "web:2"}]}}}},
                 id="guarded-image-bump"),
])
def test_json_patch(target, ops, want):
    """Each RFC 6902 appendix example (and a few Kubernetes-shaped edits) gives the RFC's result."""
    before = copy.deepcopy((target, ops))
    assert same(json_patch(target, ops), want)
    assert same((target, ops), before)


@pytest.mark.parametrize("target, ops, message", [
    pytest.param({"spec": {"y": 1}}, [{"op": "test", "path": "/spec/y", "value": 1},
                                      {"op": "add", "path": "/spec/z", "value": 2},
                                      {"op": "remove", "path": "/spec/x"}],
                 "op 2 (remove /spec/x): path not found", id="remove-missing"),
    pytest.param({"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}],
                 'op 0 (test /baz): test failed: the value is "qux", not "bar"', id="A9-test-fails"),
    pytest.param({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": "10"}],
                 'op 0 (test /~01): test failed: the value is 10, not "10"', id="A15-string-is-not-number"),
    pytest.param({"b": True}, [{"op": "test", "path": "/b", "value": 1}],
                 "op 0 (test /b): test failed: the value is true, not 1", id="true-is-not-1"),
    pytest.param({"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}],
                 "op 0 (add /baz/bat): path not found: /baz does not exist", id="A12-add-under-missing"),
    pytest.param({"foo": ["a"]}, [{"op": "add", "path": "/foo/5", "value": 1}],
                 "op 0 (add /foo/5): path not found: index 5 is out of range for /foo, which has 1 element",
                 id="add-index-out-of-range"),
    pytest.param({"foo": ["a", "b"]}, [{"op": "replace", "path": "/foo/2", "value": 1}],
                 "op 0 (replace /foo/2): path not found: index 2 is out of range for /foo, which has 2 elements",
                 id="replace-index-out-of-range"),
    pytest.param({"foo": ["a"]}, [{"op": "remove", "path": "/foo/-"}],
                 'op 0 (remove /foo/-): "-" is not an index into the list /foo', id="dash-only-for-add"),
    pytest.param({"foo": ["a", "b"]}, [{"op": "remove", "path": "/foo/01"}],
                 'op 0 (remove /foo/01): "01" is not an index into the list /foo', id="leading-zero"),
    pytest.param({"a": 1}, [{"op": "add", "path": "/a/b", "value": 1}],
                 "op 0 (add /a/b): path not found: /a is a number, not an object or list", id="into-a-scalar"),
    pytest.param({"a": 1}, [{"op": "frob", "path": "/a"}],
                 'op 0 (frob /a): unknown op "frob" (want add, remove, replace, move, copy or test)', id="unknown-op"),
    pytest.param({"a": 1}, [{"path": "/a"}], 'op 0: missing "op"', id="missing-op"),
    pytest.param({"a": 1}, [{"op": "add", "value": 1}], 'op 0: missing "path"', id="missing-path"),
    pytest.param({"a": 1}, [{"op": "add", "path": "/a"}], 'op 0 (add /a): missing "value"', id="missing-value"),
    pytest.param({"a": 1}, [{"op": "copy", "path": "/b"}], 'op 0 (copy /b): missing "from"', id="missing-from"),
    pytest.param({"a": 1}, [{"op": "add", "path": "/a~2", "value": 1}],
                 'op 0 (add /a~2): JSON pointer "/a~2": ~ must be followed by 0 or 1', id="bad-escape"),
    pytest.param({"a": 1}, [{"op": "add", "path": "a", "value": 1}],
                 'op 0 (add a): JSON pointer "a" must be empty or start with /', id="pointer-without-slash"),
    pytest.param({"a": {"b": 1}}, [{"op": "move", "from": "/a", "path": "/a/b/c"}],
                 "op 0 (move /a/b/c from /a): cannot move a value into one of its own children", id="move-into-child"),
    pytest.param({"a": 1}, [{"op": "move", "from": "/x", "path": "/y"}],
                 "op 0 (move /y from /x): path not found", id="move-missing-from"),
    pytest.param({"a": 1}, [{"op": "remove", "path": ""}],
                 'op 0 (remove ""): cannot remove the whole document', id="remove-root"),
    pytest.param({"a": 1}, ["add"], "op 0: an operation must be an object, not a string", id="op-not-object"),
    pytest.param({"a": 1}, {"op": "add"}, "a JSON patch must be a list of operations, not an object",
                 id="ops-not-list"),
])
def test_json_patch_errors(target, ops, message):
    """A failing op is named by its index and path, says what was wrong, and leaves the target as it was."""
    before = copy.deepcopy(target)
    with pytest.raises(PatchError) as err:
        json_patch(target, ops)
    assert str(err.value) == message
    assert same(target, before)


def pointers(doc, prefix=""):
    """Every JSON pointer into doc, with its value."""
    yield prefix, doc
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for k, v in items:
        yield from pointers(v, prefix + "/" + str(k).replace("~", "~0").replace("/", "~1"))


@given(doc=json_values(), new=json_values(), data=st.data())
def test_json_patch_test_and_replace_roundtrip(doc, new, data):
    """At any pointer, test passes on the current value, and replace-then-test-then-restore gives the doc back."""
    path, old = data.draw(st.sampled_from(list(pointers(doc))))
    assert same(json_patch(doc, [{"op": "test", "path": path, "value": old}]), doc)
    ops = [{"op": "replace", "path": path, "value": new}, {"op": "test", "path": path, "value": new},
           {"op": "replace", "path": path, "value": old}]
    assert same(json_patch(doc, ops), doc)


@given(doc=st.dictionaries(keys, json_values(), max_size=4), key=keys, value=json_values())
def test_json_patch_add_then_remove_is_identity(doc, key, value):
    """Adding a new member (escaped pointer) and then removing it gives the document back."""
    doc.pop(key, None)
    path = "/" + key.replace("~", "~0").replace("/", "~1")
    added = json_patch(doc, [{"op": "add", "path": path, "value": value}])
    assert same(added[key], value)
    assert same(json_patch(added, [{"op": "remove", "path": path}]), doc)


# -- strategic merge patch: objects ------------------------------------------------------------------

def container(name, **fields):
    return {"name": name, **fields}


def deployment(*containers, **spec):
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": list(containers), **spec}}},
    }


def template_spec(obj):
    return obj["spec"]["template"]["spec"]


def pod(*containers, **spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": list(containers), **spec}}


def service(*ports):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"type": "ClusterIP", "selector": {"app": "web"}, "ports": list(ports)}}


def tpl(**spec):
    """A Deployment patch touching only the pod template's spec."""
    return {"spec": {"template": {"spec": spec}}}


APP = container("app", image="web:1", ports=[{"containerPort": 8080, "name": "http"}],
                env=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": "C", "value": "3"}])
SIDECAR = container("sidecar", image="proxy:1")


@pytest.mark.parametrize("kind, target, patch, want", [
    # the issue's acceptance cases
    pytest.param("Deployment", deployment(APP, SIDECAR),
                 tpl(**{"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
                        "containers": [{"name": "app", "image": "web:2"}]}),
                 deployment(SIDECAR, {**APP, "image": "web:2"}), id="reorder-containers-setElementOrder"),
    pytest.param("Deployment", deployment(APP, SIDECAR),
                 tpl(containers=[{"name": "sidecar", "image": "proxy:2"},
                                 {"name": "app", "env": [{"name": "D", "value": "4"}]}]),
                 deployment({**SIDECAR, "image": "proxy:2"},
                            {**APP, "env": [{"name": "D", "value": "4"}, *APP["env"]]}),
                 id="reorder-containers-by-patch-order"),
    pytest.param("Deployment", deployment(APP, SIDECAR),
                 tpl(**{"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}]}),
                 deployment(SIDECAR, APP), id="reorder-containers-order-only"),
    pytest.param("Deployment", deployment(APP, SIDECAR),
                 tpl(containers=[{"name": "app", "env": [{"name": "B", "$patch": "delete"}]}]),
                 deployment({**APP, "env": [{"name": "A", "value": "1"}, {"name": "C", "value": "3"}]}, SIDECAR),
                 id="delete-env-var"),
    pytest.param("Pod", pod(APP), {"spec": {"containers": [{"name": "app", "env": [{"name": "Z", "$patch": "delete"}]}]}},
                 pod(APP), id="delete-absent-env-var"),
    pytest.param("Pod", pod(container("app", ports=[{"containerPort": 80}, {"containerPort": 443}])),
                 {"spec": {"containers": [{"name": "app", "ports": [{"$patch": "replace"},
                                                                    {"containerPort": 8080, "name": "http"}]}]}},
                 pod(container("app", ports=[{"containerPort": 8080, "name": "http"}])),
                 id="replace-container-ports"),
    pytest.param("Service", service({"port": 80, "targetPort": 8080, "name": "http"},
                                    {"port": 443, "targetPort": 8443, "name": "https"}),
                 {"spec": {"ports": [{"$patch": "replace"}, {"port": 9090, "targetPort": "metrics"}]}},
                 service({"port": 9090, "targetPort": "metrics"}), id="replace-service-ports"),
    pytest.param("Service", service({"port": 80, "targetPort": 8080, "name": "http"}),
                 {"spec": {"ports": [{"port": 80, "targetPort": "http"}]}},
                 service({"port": 80, "targetPort": "http", "name": "http"}), id="service-ports-merge-by-port"),
    pytest.param("Pod", pod(container("app", ports=[{"containerPort": 80, "name": "http"}])),
                 {"spec": {"containers": [{"name": "app", "ports": [{"containerPort": 80, "protocol": "TCP"},
                                                                    {"containerPort": 9090}]}]}},
                 pod(container("app", ports=[{"containerPort": 80, "name": "http", "protocol": "TCP"},
                                             {"containerPort": 9090}])),
                 id="container-ports-merge-by-containerPort"),
    # objects, labels, null
    pytest.param("Deployment", deployment(APP),
                 {"metadata": {"labels": {"app": None, "tier": "fe"}}, "spec": {"replicas": 5}},
                 {**deployment(APP), "metadata": {"name": "web", "namespace": "default", "labels": {"tier": "fe"}},
                  "spec": {**deployment(APP)["spec"], "replicas": 5}}, id="labels-merge-null-deletes"),
    pytest.param("Pod", pod(container("app", image="a", command=["run"])),
                 {"spec": {"containers": [{"name": "app", "command": None}]}}, pod(container("app", image="a")),
                 id="null-deletes-container-field"),
    pytest.param("ConfigMap", {"metadata": {"name": "c"}, "data": {"a": "1"}},
                 {"metadata": {"annotations": {"note": "x", "gone": None}}, "data": {"b": "2"}},
                 {"metadata": {"name": "c", "annotations": {"note": "x"}}, "data": {"a": "1", "b": "2"}},
                 id="new-map-nulls-dropped"),
    # finalizers and other primitive sets
    pytest.param("ConfigMap", {"metadata": {"finalizers": ["a", "b"]}}, {"metadata": {"finalizers": ["b", "c"]}},
                 {"metadata": {"finalizers": ["a", "b", "c"]}}, id="finalizers-set-union"),
    pytest.param("ConfigMap", {"metadata": {"finalizers": ["a", "b"]}}, {"metadata": {"finalizers": ["c"]}},
                 {"metadata": {"finalizers": ["c", "a", "b"]}}, id="finalizers-new-value-first-as-kubernetes"),
    pytest.param("ConfigMap", {"metadata": {"finalizers": ["a", "b", "c"]}},
                 {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b", "x"]}},
                 {"metadata": {"finalizers": ["a", "c"]}}, id="deleteFromPrimitiveList"),
    pytest.param("ConfigMap", {"metadata": {"finalizers": ["a", "b"]}},
                 {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"], "finalizers": ["c"]}},
                 {"metadata": {"finalizers": ["c", "b"]}}, id="deleteFromPrimitiveList-and-add"),
    pytest.param("ConfigMap", {"metadata": {"finalizers": ["a", "b", "c"]}},
                 {"metadata": {"$setElementOrder/finalizers": ["c", "a", "b"]}},
                 {"metadata": {"finalizers": ["c", "a", "b"]}}, id="setElementOrder-primitives"),
    pytest.param("Node", {"spec": {"podCIDRs": ["10.0.0.0/24"]}}, {"spec": {"podCIDRs": ["fd00::/64"]}},
                 {"spec": {"podCIDRs": ["fd00::/64", "10.0.0.0/24"]}}, id="node-podCIDRs-set"),
    # lists Kubernetes replaces
    pytest.param("Deployment", deployment(APP, tolerations=[{"key": "a", "operator": "Exists"}]),
                 tpl(tolerations=[{"key": "b", "operator": "Exists", "effect": "NoSchedule"}]),
                 deployment(APP, tolerations=[{"key": "b", "operator": "Exists", "effect": "NoSchedule"}]),
                 id="tolerations-replaced"),
    pytest.param("Node", {"spec": {"taints": [{"key": "a", "effect": "NoSchedule"}]}},
                 {"spec": {"taints": [{"key": "b", "effect": "NoExecute"}]}},
                 {"spec": {"taints": [{"key": "b", "effect": "NoExecute"}]}}, id="node-taints-replaced"),
    pytest.param("Pod", pod(container("app", envFrom=[{"configMapRef": {"name": "a"}}], args=["x", "y"])),
                 {"spec": {"containers": [{"name": "app", "envFrom": [{"secretRef": {"name": "s"}}], "args": ["z"]}]}},
                 pod(container("app", envFrom=[{"secretRef": {"name": "s"}}], args=["z"])),
                 id="envFrom-and-args-replaced"),
    pytest.param("Endpoints", {"subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]},
                 {"subsets": [{"addresses": [{"ip": "10.0.0.2"}], "ports": [{"port": 80}]}]},
                 {"subsets": [{"addresses": [{"ip": "10.0.0.2"}], "ports": [{"port": 80}]}]},
                 id="endpoints-subsets-replaced"),
    pytest.param("Ingress", {"spec": {"rules": [{"host": "a.example"}, {"host": "b.example"}]}},
                 {"spec": {"rules": [{"host": "c.example"}]}}, {"spec": {"rules": [{"host": "c.example"}]}},
                 id="ingress-rules-replaced"),
    # the other keyed lists
    pytest.param("ReplicaSet", {"metadata": {"ownerReferences": [{"uid": "u1", "kind": "Deployment", "name": "web"}]}},
                 {"metadata": {"ownerReferences": [{"uid": "u1", "controller": True}, {"uid": "u2", "name": "x"}]}},
                 {"metadata": {"ownerReferences": [{"uid": "u1", "kind": "Deployment", "name": "web", "controller": True},
                                                   {"uid": "u2", "name": "x"}]}}, id="ownerReferences-by-uid"),
    pytest.param("Pod", {"status": {"conditions": [{"type": "Ready", "status": "False"},
                                                   {"type": "PodScheduled", "status": "True"}]}},
                 {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
                 {"status": {"conditions": [{"type": "Ready", "status": "True"},
                                            {"type": "PodScheduled", "status": "True"}]}}, id="pod-conditions-by-type"),
    pytest.param("Node", {"status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"},
                                                   {"type": "Hostname", "address": "n1"}]}},
                 {"status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.9"}]}},
                 {"status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.9"},
                                           {"type": "Hostname", "address": "n1"}]}}, id="node-addresses-by-type"),
    pytest.param("Deployment", {"status": {"conditions": [{"type": "Available", "status": "False"}]}},
                 {"status": {"conditions": [{"type": "Available", "status": "True"}]}},
                 {"status": {"conditions": [{"type": "Available", "status": "True"}]}},
                 id="deployment-conditions-by-type"),
    pytest.param("Pod", pod(container("app", volumeMounts=[{"mountPath": "/data", "name": "d"}]),
                            volumes=[{"name": "d", "emptyDir": {}}], imagePullSecrets=[{"name": "r1"}],
                            hostAliases=[{"ip": "1.2.3.4", "hostnames": ["a"]}],
                            topologySpreadConstraints=[{"topologyKey": "zone", "maxSkew": 1}]),
                 {"spec": {"containers": [{"name": "app", "volumeMounts": [{"mountPath": "/data", "readOnly": True}]}],
                           "volumes": [{"name": "d", "emptyDir": {"medium": "Memory"}}],
                           "imagePullSecrets": [{"name": "r1"}],
                           "hostAliases": [{"ip": "1.2.3.4", "hostnames": ["b"]}],
                           "topologySpreadConstraints": [{"topologyKey": "zone", "maxSkew": 2}]}},
                 pod(container("app", volumeMounts=[{"mountPath": "/data", "name": "d", "readOnly": True}]),
                     volumes=[{"name": "d", "emptyDir": {"medium": "Memory"}}], imagePullSecrets=[{"name": "r1"}],
                     hostAliases=[{"ip": "1.2.3.4", "hostnames": ["b"]}],
                     topologySpreadConstraints=[{"topologyKey": "zone", "maxSkew": 2}]),
                 id="pod-spec-keyed-lists"),
    pytest.param("Pod", pod(container("a"), container("b")), {"spec": {"containers": [{"name": "c"}]}},
                 pod(container("c"), container("a"), container("b")), id="new-container-first-as-kubernetes"),
    pytest.param("Pod", pod(container("a"), container("b")), {"spec": {"containers": [{"name": "b"}, {"name": "c"}]}},
                 pod(container("a"), container("b"), container("c")), id="new-container-after-mentioned"),
    pytest.param("Pod", pod(container("a"), container("b")),
                 {"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
                           "containers": [{"name": "c"}]}},
                 pod(container("a"), container("b"), container("c")), id="new-container-last-by-setElementOrder"),
    pytest.param("Pod", pod(container("a"), container("b"), container("c")),
                 {"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "d"}, {"name": "a"}],
                           "containers": [{"name": "b", "$patch": "delete"}, {"name": "d"}]}},
                 pod(container("c"), container("d"), container("a")), id="delete-add-reorder-in-one-patch"),
    # directives on objects
    pytest.param("Deployment", deployment(APP), {"metadata": {"labels": {"$patch": "replace", "team": "x"}}},
                 {**deployment(APP), "metadata": {"name": "web", "namespace": "default", "labels": {"team": "x"}}},
                 id="patch-replace-map"),
    pytest.param("Pod", pod(APP, securityContext={"runAsUser": 1000}),
                 {"spec": {"securityContext": {"$patch": "delete"}}}, pod(APP, securityContext={}),
                 id="patch-delete-map-leaves-empty-as-kubernetes"),
    pytest.param("ConfigMap", {"metadata": {"name": "c"}, "data": {"a": "1"}},
                 {"$patch": "replace", "metadata": {"name": "c"}, "data": {"b": "2"}},
                 {"metadata": {"name": "c"}, "data": {"b": "2"}}, id="patch-replace-root"),
    pytest.param("Pod", pod(container("a"), container("b")), {"spec": {"containers": [{"$patch": "replace"}]}},
                 pod(), id="patch-replace-empties-list"),
    pytest.param("Deployment", deployment(APP),
                 {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
                 {**deployment(APP), "spec": {**deployment(APP)["spec"], "strategy": {"type": "Recreate"}}},
                 id="retainKeys-switch-to-recreate"),
    pytest.param("Deployment", deployment(APP), {"spec": {"strategy": {"type": "Recreate"}}},
                 {**deployment(APP), "spec": {**deployment(APP)["spec"], "strategy": {
                     "type": "Recreate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}}},
                 id="without-retainKeys-strategy-merges"),
    pytest.param("Pod", pod(APP, volumes=[{"name": "d", "emptyDir": {}}, {"name": "e", "emptyDir": {}}]),
                 {"spec": {"volumes": [{"$retainKeys": ["name", "hostPath"], "name": "d", "hostPath": {"path": "/x"}}]}},
                 pod(APP, volumes=[{"name": "d", "hostPath": {"path": "/x"}}, {"name": "e", "emptyDir": {}}]),
                 id="retainKeys-in-volume"),
])
def test_strategic_merge_patch(kind, target, patch, want):
    """A strategic merge patch gives Kubernetes' result for the kind's patch strategies."""
    before = copy.deepcopy((target, patch))
    got = strategic_merge_patch(target, patch, kind)
    assert same(got, want)
    assert same((target, patch), before)


def test_reordered_containers_keep_their_fields():
    """Reordering containers by $setElementOrder moves whole containers: each keeps every field it had."""
    got = strategic_merge_patch(deployment(APP, SIDECAR),
                                tpl(**{"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}]}),
                                "Deployment")
    assert [c["name"] for c in template_spec(got)["containers"]] == ["sidecar", "app"]
    assert template_spec(got)["containers"][1] == APP


def test_result_shares_nothing_with_inputs():
    """Changing the result of a patch changes neither the target nor the patch."""
    target, patch = pod(APP), {"spec": {"containers": [{"name": "app", "env": [{"name": "N", "value": "1"}]}],
                                        "tolerations": [{"key": "k"}]}}
    got = strategic_merge_patch(target, patch, "Pod")
    got["spec"]["containers"][0]["env"].clear()
    got["spec"]["tolerations"][0]["key"] = "changed"
    assert target == pod(APP)
    assert patch["spec"]["tolerations"] == [{"key": "k"}]
    assert patch["spec"]["containers"][0]["env"] == [{"name": "N", "value": "1"}]


@pytest.mark.parametrize("kind, target, patch, message", [
    pytest.param("Deployment", deployment(APP), tpl(containers=[{"name": "app"}, {"image": "x"}]),
                 'spec.template.spec.containers[1]: merge key "name" missing', id="missing-merge-key"),
    pytest.param("Pod", pod(APP), {"spec": {"containers": [{"name": "app", "env": [{"$patch": "delete"}]}]}},
                 'spec.containers[0].env[0]: merge key "name" missing', id="delete-without-merge-key"),
    pytest.param("Service", service({"port": 80}), {"spec": {"ports": [{"containerPort": 80}]}},
                 'spec.ports[0]: merge key "port" missing', id="service-port-key-is-port"),
    pytest.param("Pod", pod(APP), {"spec": {"containers": ["app"]}},
                 'spec.containers[0]: expected an object with merge key "name", got a string', id="element-not-object"),
    pytest.param("Pod", pod(APP), {"spec": {"$patch": "merge"}},
                 'spec: unknown $patch directive "merge" in an object (want "replace" or "delete")',
                 id="bad-patch-in-object"),
    pytest.param("Pod", pod(APP), {"spec": {"containers": [{"name": "app", "$patch": "merge"}]}},
                 'spec.containers[0]: "$patch: merge" is not supported in a list', id="patch-merge-in-list"),
    pytest.param("Pod", pod(APP), {"spec": {"containers": [{"name": "app", "$patch": "drop"}]}},
                 'spec.containers[0]: unknown $patch directive "drop" in a list (want "replace" or "delete")',
                 id="bad-patch-in-list"),
    pytest.param("Pod", pod(APP), {"spec": {"tolerations": [{"key": "k", "$patch": "delete"}]}},
                 "spec.tolerations[0]: $patch is only meaningful in a merging list; spec.tolerations is replaced "
                 "as a whole", id="patch-in-replaced-list"),
    pytest.param("Deployment", deployment(APP),
                 {"spec": {"strategy": {"$retainKeys": ["type"], "type": "RollingUpdate",
                                        "rollingUpdate": {"maxSurge": 1}}}},
                 'spec.strategy: field "rollingUpdate" is in the patch but not in $retainKeys ["type"]',
                 id="retainKeys-missing-patched-field"),
    pytest.param("Deployment", deployment(APP), {"spec": {"strategy": {"$retainKeys": "type"}}},
                 "spec.strategy.$retainKeys: must be a list of field names", id="retainKeys-not-list"),
    pytest.param("Pod", pod(container("a"), container("b")),
                 {"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
                           "containers": [{"name": "b"}, {"name": "a"}]}},
                 "spec.containers[1]: not in spec.$setElementOrder/containers, or out of its order",
                 id="setElementOrder-contradicts-patch"),
    pytest.param("Pod", pod(container("a")), {"spec": {"$setElementOrder/containers": [{"image": "x"}]}},
                 'spec.$setElementOrder/containers[0]: merge key "name" missing', id="setElementOrder-without-key"),
    pytest.param("Pod", pod(APP), {"spec": {"$setElementOrder/tolerations": [{"key": "k"}]}},
                 "spec.$setElementOrder/tolerations: spec.tolerations is not a merging list, so its order is the "
                 "patch's", id="setElementOrder-on-replaced-list"),
    pytest.param("Pod", pod(APP), {"spec": {"$deleteFromPrimitiveList/containers": ["app"]}},
                 "spec.$deleteFromPrimitiveList/containers: spec.containers is not a merging list of primitives",
                 id="deleteFromPrimitiveList-on-keyed-list"),
    pytest.param("Pod", pod(APP), {"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}},
                 "metadata.$deleteFromPrimitiveList/finalizers: must be a list of the values to delete",
                 id="deleteFromPrimitiveList-not-list"),
    pytest.param("Pod", pod(APP), {"metadata": {"finalizers": [{"name": "a"}]}},
                 "metadata.finalizers[0]: metadata.finalizers is a merging list of primitives; got an object",
                 id="object-in-primitive-set"),
    pytest.param("Pod", pod(APP), {"spec": {"$frobnicate": 1}},
                 "spec.$frobnicate: unknown patch directive (want $patch, $retainKeys, $setElementOrder/<list> "
                 "or $deleteFromPrimitiveList/<list>)", id="unknown-directive"),
    pytest.param("CronJob", {}, {}, "strategic merge patch is not supported for kind 'CronJob' (it knows "
                 "ConfigMap, Deployment, Endpoints, Event, Ingress, Lease, Namespace, Node, Pod, ReplicaSet, "
                 "Service); use a JSON merge patch or a JSON patch", id="unknown-kind"),
    pytest.param("Pod", pod(APP), [{"op": "add"}], "a strategic merge patch must be a JSON object, not a list",
                 id="patch-not-object"),
])
def test_strategic_merge_patch_errors(kind, target, patch, message):
    """A patch that cannot apply is refused with the field path and what is wrong, the target untouched."""
    before = copy.deepcopy(target)
    with pytest.raises(PatchError) as err:
        strategic_merge_patch(target, patch, kind)
    assert str(err.value) == message
    assert same(target, before)


# -- strategic merge patch: the strategy table --------------------------------------------------------

@pytest.mark.parametrize("kind, path, want", [
    pytest.param("Pod", ("spec", "containers"), ("merge", "name"), id="pod-containers"),
    pytest.param("Pod", ("spec", "containers", "*", "ports"), ("merge", "containerPort"), id="container-ports"),
    pytest.param("Service", ("spec", "ports"), ("merge", "port"), id="service-ports"),
    pytest.param("Deployment", ("spec", "template", "spec", "initContainers", "*", "env"), ("merge", "name"),
                 id="template-init-container-env"),
    pytest.param("ReplicaSet", ("spec", "template", "spec", "volumes"), ("merge,retainKeys", "name"),
                 id="template-volumes"),
    pytest.param("Deployment", ("spec", "strategy"), ("retainKeys", ""), id="deployment-strategy"),
    pytest.param("Node", ("status", "addresses"), ("merge", "type"), id="node-addresses"),
    pytest.param("Node", ("spec", "podCIDRs"), ("merge", ""), id="node-podCIDRs"),
    pytest.param("Namespace", ("status", "conditions"), ("merge", "type"), id="namespace-conditions"),
    pytest.param("Lease", ("metadata", "ownerReferences"), ("merge", "uid"), id="lease-ownerReferences"),
    pytest.param("Event", ("metadata", "finalizers"), ("merge", ""), id="event-finalizers"),
    pytest.param("Pod", ("spec", "tolerations"), None, id="tolerations-untagged"),
    pytest.param("Node", ("spec", "taints"), None, id="taints-untagged"),
    pytest.param("Endpoints", ("subsets",), None, id="subsets-untagged"),
    pytest.param("Pod", ("spec", "ephemeralContainers", "*", "ports"), None, id="ephemeral-ports-untagged-in-1.20"),
])
def test_merge_strategies(kind, path, want):
    """The strategy table gives each field its Kubernetes v1.20 patchStrategy and patchMergeKey by path."""
    assert merge_strategies(kind).get(path) == want


def test_every_kind_has_metadata_strategies():
    """Every served kind merges ownerReferences by uid and finalizers as a set."""
    for kind in SCHEMAS:
        table = merge_strategies(kind)
        assert table[("metadata", "ownerReferences")] == ("merge", "uid"), kind
        assert table[("metadata", "finalizers")] == ("merge", ""), kind


def test_custom_schema():
    """A schema of Fields can stand in for a kind name, recursive types included."""
    item: dict = {}
    item["children"] = Field("merge", "id", item)
    got = strategic_merge_patch({"children": [{"id": 1, "children": [{"id": 2, "v": "a"}]}]},
                                {"children": [{"id": 1, "children": [{"id": 2, "v": "b"}, {"id": 3}]}]}, item)
    assert got == {"children": [{"id": 1, "children": [{"id": 2, "v": "b"}, {"id": 3}]}]}


# -- strategic merge patch: properties ------------------------------------------------------------

plain_keys = st.text(alphabet="abc", min_size=1, max_size=3)
patch_values = st.recursive(st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=2),
                            lambda inner: st.dictionaries(plain_keys, inner, max_size=3), max_leaves=10)
object_values = st.recursive(st.booleans() | st.integers(-3, 3) | st.text(max_size=2)
                             | st.lists(st.integers(), max_size=2),
                             lambda inner: st.dictionaries(plain_keys, inner, max_size=3), max_leaves=10)


@given(target=st.dictionaries(plain_keys, object_values, max_size=4),
       patch=st.dictionaries(plain_keys, patch_values, max_size=4))
def test_strategic_merge_patch_without_lists_is_a_merge_patch(target, patch):
    """With no lists and no directives in the patch, a strategic merge patch is exactly RFC 7386."""
    before = copy.deepcopy((target, patch))
    assert same(strategic_merge_patch(target, patch, "ConfigMap"), json_merge_patch(target, patch))
    assert same((target, patch), before)


@settings(max_examples=50)
@given(names=st.lists(st.text(alphabet="abcdef", min_size=1, max_size=4), min_size=1, max_size=6, unique=True),
       data=st.data())
def test_set_element_order_reorders_containers(names, data):
    """$setElementOrder with any permutation of the container names yields exactly that order, containers intact."""
    containers = [container(n, image=f"{n}:1", env=[{"name": "X", "value": n}]) for n in names]
    order = data.draw(st.permutations(names))
    got = strategic_merge_patch(
        pod(*containers), {"spec": {"$setElementOrder/containers": [{"name": n} for n in order]}}, "Pod")
    assert got["spec"]["containers"] == [next(c for c in containers if c["name"] == n) for n in order]


@settings(max_examples=50)
@given(names=st.lists(st.text(alphabet="abcdef", min_size=1, max_size=4), min_size=1, max_size=6, unique=True),
       data=st.data())
def test_merged_list_keeps_unmentioned_elements(names, data):
    """A keyed-list patch changes the elements it names, adds new ones, and keeps every other one unchanged."""
    live = [container(n, image=f"{n}:1") for n in names]
    touched = data.draw(st.lists(st.text(alphabet="abcdefg", min_size=1, max_size=4), max_size=4, unique=True))
    got = strategic_merge_patch(pod(*live), {"spec": {"containers": [{"name": n, "image": f"{n}:2"}
                                                                     for n in touched]}}, "Pod")
    by_name = {c["name"]: c for c in got["spec"]["containers"]}
    assert len(by_name) == len(got["spec"]["containers"]) == len(set(names) | set(touched))
    for n in set(names) | set(touched):
        assert by_name[n]["image"] == (f"{n}:2" if n in touched else f"{n}:1")
    mentioned = [c["name"] for c in got["spec"]["containers"] if c["name"] in touched]
    assert mentioned == touched
