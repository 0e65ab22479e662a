"""The Kubernetes JSON codec over Skiff's protobuf types: names, special forms, errors by path."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from client.codec import DecodeError, canonical_quantity, from_dict, to_dict
from skiffpb.k8s.meta.v1 import meta_pb2


def test_object_meta_round_trips_with_kubernetes_names():
    """ObjectMeta with every kind of field decodes and encodes back to the same JSON."""
    data = {
        "name": "web", "namespace": "default", "generation": 3, "uid": "u-1",
        "labels": {"app": "web", "tier": ""}, "annotations": {"kubectl.kubernetes.io/x": "{}"},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "u-0",
                             "controller": True, "blockOwnerDeletion": True}],
        "finalizers": ["a/b"], "deletionGracePeriodSeconds": 0,
    }
    m = from_dict(meta_pb2.ObjectMeta, data)
    assert m.owner_references[0].block_owner_deletion is True
    assert m.HasField("deletion_grace_period_seconds") and m.deletion_grace_period_seconds == 0
    assert to_dict(m) == data


def test_absent_and_zero_differ_and_null_means_absent():
    """An explicit 0 or false is kept; a null field is as if not given."""
    m = from_dict(meta_pb2.ObjectMeta, {"generation": 0, "name": None})
    assert m.HasField("generation") and not m.HasField("name")
    assert to_dict(m) == {"generation": 0}
    assert to_dict(meta_pb2.ObjectMeta()) == {}


@pytest.mark.parametrize("value,expected", [
    pytest.param(8080, {"int_val": 8080}, id="int"),
    pytest.param("http", {"str_val": "http"}, id="string"),
    pytest.param("25%", {"str_val": "25%"}, id="percent"),
])
def test_int_or_string_keeps_its_form(value, expected):
    """`targetPort: 8080` stays a number and `targetPort: http` a string."""
    m = from_dict(meta_pb2.IntOrString, value)
    assert m.WhichOneof("value") == next(iter(expected))
    assert to_dict(m) == value


@pytest.mark.parametrize("value,expected", [
    pytest.param(1, "1", id="int"), pytest.param(0.5, "500m", id="half"), pytest.param(2.0, "2", id="float-int"),
    pytest.param("500m", "500m", id="milli"), pytest.param("128Mi", "128Mi", id="binary"),
    pytest.param("1Gi", "1Gi", id="gi"), pytest.param("1e3", "1e3", id="exponent"), pytest.param("0.1", "0.1", id="decimal"),
])
def test_quantities_take_kubernetes_forms(value, expected):
    """Quantities accept numbers and suffixed strings and keep a string form."""
    assert canonical_quantity(value, "q") == expected


@pytest.mark.parametrize("cls,data,path,message", [
    pytest.param(meta_pb2.ObjectMeta, {"nmae": "x"}, "nmae", "unknown field", id="unknown-top"),
    pytest.param(meta_pb2.ObjectMeta, {"ownerReferences": [{"uid": "a"}, {"kindd": "X"}]}, "ownerReferences[1].kindd",
                 "unknown field", id="unknown-nested-list"),
    pytest.param(meta_pb2.ObjectMeta, {"generation": "three"}, "generation", 'expected integer, got string "three"',
                 id="string-for-int"),
    pytest.param(meta_pb2.ObjectMeta, {"generation": True}, "generation", "expected integer, got boolean true",
                 id="bool-for-int"),
    pytest.param(meta_pb2.ObjectMeta, {"name": 5}, "name", "expected string, got number 5", id="int-for-string"),
    pytest.param(meta_pb2.ObjectMeta, {"labels": ["a"]}, "labels", "expected object, got array", id="list-for-map"),
    pytest.param(meta_pb2.ObjectMeta, {"labels": {"a": 1}}, "labels.a", "expected string, got number 1", id="map-value"),
    pytest.param(meta_pb2.ObjectMeta, {"finalizers": "a"}, "finalizers", 'expected array, got string "a"', id="str-for-list"),
    pytest.param(meta_pb2.ObjectMeta, {"ownerReferences": [{"controller": "yes"}]}, "ownerReferences[0].controller",
                 'expected boolean, got string "yes"', id="string-for-bool"),
    pytest.param(meta_pb2.Status, {"code": 2**40}, "code", "integer 1099511627776 is out of range [-2147483648, 2147483647]",
                 id="int32-range"),
    pytest.param(meta_pb2.IntOrString, 1.5, "", "expected integer or string, got number 1.5", id="float-int-or-string"),
    pytest.param(meta_pb2.Quantity, "12 apples", "", "quantities must match the regular expression "
                 "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'", id="bad-quantity"),
    pytest.param(meta_pb2.ObjectMeta, "x", "", 'expected object, got string "x"', id="not-an-object"),
])
def test_bad_input_is_named_by_path(cls, data, path, message):
    """Each type error or unknown field is reported with its Kubernetes field path."""
    with pytest.raises(DecodeError) as ei:
        from_dict(cls, data)
    assert (ei.value.path, ei.value.message) == (path, message)


labels = st.dictionaries(st.text("abc-./", min_size=1, max_size=8), st.text("xyz", max_size=5), max_size=4)


@given(name=st.one_of(st.none(), st.text(max_size=10)), gen=st.one_of(st.none(), st.integers(0, 2**62)),
       labels=labels, finalizers=st.lists(st.text(max_size=5), max_size=3))
def test_decode_encode_round_trip(name, gen, labels, finalizers):
    """Any well-typed ObjectMeta dict (nulls dropped, empty lists and maps omitted) survives a round trip."""
    data = {"name": name, "generation": gen, "labels": labels, "finalizers": finalizers}
    expected = {k: v for k, v in data.items() if v is not None and v != {} and v != []}
    assert to_dict(from_dict(meta_pb2.ObjectMeta, data)) == expected
