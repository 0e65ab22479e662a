"""The API client's pure decisions: error mapping, retry rules, backoff bounds, guarded patches."""
from __future__ import annotations

import random

import grpc
import pytest
from hypothesis import given, strategies as st

from client.api import kind_of, patch_bytes
from client.errors import (
    STATUS_KEY, AlreadyExists, ApiError, Backoff, BadRequest, Conflict, Forbidden, Gone, Invalid,
    NotFound, Timeout, Unavailable, error_from_status, never_sent, patch_is_guarded, retry_safe,
    should_retry, status_from_metadata,
)
from skiffpb.k8s.core.v1 import core_pb2
from skiffpb.k8s.meta.v1 import meta_pb2

pytestmark = pytest.mark.timeout(30)
C = grpc.StatusCode


def status(reason: str, code: int, message: str = "m") -> meta_pb2.Status:
    return meta_pb2.Status(reason=reason, code=code, message=message)


@pytest.mark.parametrize("code, reason, cls", [
    pytest.param(C.NOT_FOUND, "NotFound", NotFound, id="not-found"),
    pytest.param(C.ABORTED, "Conflict", Conflict, id="conflict"),
    pytest.param(C.ALREADY_EXISTS, "AlreadyExists", AlreadyExists, id="already-exists"),
    pytest.param(C.INVALID_ARGUMENT, "Invalid", Invalid, id="invalid-by-reason"),
    pytest.param(C.INVALID_ARGUMENT, "BadRequest", BadRequest, id="bad-request"),
    pytest.param(C.PERMISSION_DENIED, "Forbidden", Forbidden, id="forbidden"),
    pytest.param(C.OUT_OF_RANGE, "Expired", Gone, id="expired-is-gone"),
    pytest.param(C.UNAVAILABLE, "ServiceUnavailable", Unavailable, id="unavailable"),
    pytest.param(C.DEADLINE_EXCEEDED, "Timeout", Timeout, id="timeout"),
    pytest.param(C.INTERNAL, "InternalError", ApiError, id="internal-is-base"),
    pytest.param(C.ABORTED, "NotFound", NotFound, id="reason-wins-over-code"),
])
def test_status_reason_picks_the_error_class(code, reason, cls):
    """With a Status in the trailers, its reason decides the class and its message is the message."""
    err = error_from_status(code, "grpc details", status(reason, 404, 'pods "x" not found'))
    assert type(err) is cls
    assert err.message == 'pods "x" not found' and err.reason == reason and err.grpc_code == code


@pytest.mark.parametrize("code, cls, reason", [
    pytest.param(C.NOT_FOUND, NotFound, "NotFound", id="not-found"),
    pytest.param(C.ABORTED, Conflict, "Conflict", id="aborted"),
    pytest.param(C.ALREADY_EXISTS, AlreadyExists, "AlreadyExists", id="already-exists"),
    pytest.param(C.INVALID_ARGUMENT, BadRequest, "BadRequest", id="invalid-argument"),
    pytest.param(C.PERMISSION_DENIED, Forbidden, "Forbidden", id="permission-denied"),
    pytest.param(C.OUT_OF_RANGE, Gone, "Expired", id="out-of-range"),
    pytest.param(C.UNAVAILABLE, Unavailable, "ServiceUnavailable", id="unavailable"),
    pytest.param(C.DEADLINE_EXCEEDED, Timeout, "Timeout", id="deadline"),
    pytest.param(C.UNKNOWN, ApiError, "InternalError", id="unknown"),
])
def test_without_status_the_grpc_code_decides(code, cls, reason):
    """Without a Status the gRPC code picks the class and the details are the message."""
    err = error_from_status(code, "the details")
    assert type(err) is cls and err.message == "the details" and err.reason == reason


def test_invalid_carries_field_causes():
    """An Invalid error exposes the Status' field causes as (field, reason, message)."""
    st = status("Invalid", 422, 'Deployment.apps "w" is invalid: spec.replicas: bad')
    st.details.causes.add(field="spec.replicas", reason="FieldValueInvalid", message="bad")
    err = error_from_status(C.INVALID_ARGUMENT, "", st)
    assert isinstance(err, Invalid) and err.causes == [("spec.replicas", "FieldValueInvalid", "bad")]


def test_status_is_read_from_trailing_metadata_and_garbage_is_ignored():
    """The Status parses from `skiff-status-bin`; a garbled value yields None, not an exception."""
    st = status("Conflict", 409)
    assert status_from_metadata([("x", "y"), (STATUS_KEY, st.SerializeToString())]) == st
    assert status_from_metadata([(STATUS_KEY, b"\xff\xff\xff")]) is None
    assert status_from_metadata(None) is None


@pytest.mark.parametrize("verb, guarded, safe", [
    pytest.param("get", False, True, id="get"),
    pytest.param("list", False, True, id="list"),
    pytest.param("get_scale", False, True, id="get_scale"),
    pytest.param("create", False, True, id="create-answers-already-exists-on-repeat"),
    pytest.param("update", True, True, id="update-with-rv"),
    pytest.param("update", False, False, id="update-without-rv"),
    pytest.param("update_status", True, True, id="update-status-with-rv"),
    pytest.param("update_status", False, False, id="update-status-without-rv"),
    pytest.param("patch", True, True, id="patch-with-test-op"),
    pytest.param("patch", False, False, id="patch-unguarded"),
    pytest.param("delete", True, True, id="delete-with-precondition"),
    pytest.param("delete", False, False, id="delete-unguarded"),
    pytest.param("update_scale", True, True, id="scale-with-rv"),
    pytest.param("update_scale", False, False, id="scale-without-rv"),
    pytest.param("frobnicate", True, False, id="unknown-verb"),
])
def test_retry_safe_table(verb, guarded, safe):
    """Reads and create are always retry-safe; writes only when guarded by a precondition."""
    assert retry_safe(verb, guarded=guarded) is safe


UNAV = Unavailable("x")


@pytest.mark.parametrize("err, safe, sent, retry", [
    pytest.param(UNAV, True, True, True, id="safe-call-unavailable"),
    pytest.param(UNAV, False, False, True, id="unsafe-never-sent"),
    pytest.param(UNAV, False, True, False, id="unsafe-sent-may-have-applied"),
    pytest.param(Timeout("t"), True, True, False, id="deadline-never-retried"),
    pytest.param(Conflict("c"), True, True, False, id="conflict-is-the-callers"),
    pytest.param(NotFound("n"), True, False, False, id="not-found"),
    pytest.param(Gone("g"), True, True, False, id="gone"),
    pytest.param(ApiError("i"), True, True, False, id="internal"),
])
def test_should_retry_table(err, safe, sent, retry):
    """Only Unavailable is retried, and for unsafe calls only when the request was never sent."""
    assert should_retry(err, safe=safe, sent=sent) is retry


@pytest.mark.parametrize("code, details, expected", [
    pytest.param(C.UNAVAILABLE, "failed to connect to all addresses; last error: ECONNREFUSED", True,
                 id="refused"),
    pytest.param(C.UNAVAILABLE, "Socket closed", False, id="reset-after-send"),
    pytest.param(C.DEADLINE_EXCEEDED, "failed to connect to all addresses", False, id="other-code"),
])
def test_never_sent(code, details, expected):
    """Only grpc's own connect failure proves a request never left the process."""
    assert never_sent(code, details) is expected


@pytest.mark.parametrize("ptype, body, guarded", [
    pytest.param("application/json-patch+json",
                 b'[{"op":"test","path":"/metadata/resourceVersion","value":"5"},'
                 b'{"op":"replace","path":"/spec/replicas","value":3}]', True, id="json-patch-test-rv"),
    pytest.param("application/json-patch+json", b'[{"op":"test","path":"/metadata/uid","value":"u"}]',
                 True, id="json-patch-test-uid"),
    pytest.param("application/json-patch+json", b'[{"op":"replace","path":"/spec/replicas","value":3}]',
                 False, id="json-patch-no-test"),
    pytest.param("application/merge-patch+json", b'{"metadata":{"resourceVersion":"5"}}', False,
                 id="merge-patch-rv-is-ignored-by-server"),
    pytest.param("application/json-patch+json", b"not json", False, id="garbage"),
])
def test_patch_is_guarded(ptype, body, guarded):
    """A patch is guarded only as a JSON patch that tests the resourceVersion or uid."""
    assert patch_is_guarded(ptype, body) is guarded


@given(attempt=st.integers(0, 200), u=st.floats(0, 1, exclude_max=True),
       base=st.floats(0.001, 1), factor=st.floats(1, 4), jitter=st.floats(0, 0.9))
def test_backoff_stays_within_jittered_bounds_and_the_cap(attempt, u, base, factor, jitter):
    """Every delay lies within nominal*(1 +- jitter) and never exceeds the cap."""
    b = Backoff(base=base, factor=factor, cap=max(base, 2.0), jitter=jitter)

    class Rng(random.Random):
        def random(self):
            return u
    d = b.delay(attempt, Rng())
    nominal = b.nominal(attempt)
    assert 0 < d <= b.cap
    assert nominal * (1 - jitter) - 1e-12 <= d <= nominal * (1 + jitter) + 1e-12


def test_backoff_without_jitter_doubles_until_the_cap():
    """With no jitter the delays double from the base and then stay at the cap."""
    b = Backoff(base=0.05, factor=2.0, cap=0.5, jitter=0.0)
    assert [b.delay(n, random.Random(0)) for n in range(6)] == pytest.approx([0.05, 0.1, 0.2, 0.4, 0.5, 0.5])


def test_invalid_backoff_is_rejected():
    """A cap below the base is a configuration error."""
    with pytest.raises(ValueError):
        Backoff(base=1.0, cap=0.5)


@pytest.mark.parametrize("ref", ["pods", "po", "pod", core_pb2.Pod], ids=["resource", "short", "singular", "class"])
def test_kind_of_accepts_names_and_message_classes(ref):
    """A kind may be named by resource, short name, singular or message class."""
    assert kind_of(ref).resource == "pods"


def test_patch_bytes_encodes_dicts_and_messages():
    """Patches given as a dict or a partial typed message become JSON bytes."""
    assert patch_bytes({"a": 1}) == b'{"a": 1}'
    pod = core_pb2.Pod()
    pod.metadata.labels["x"] = "y"
    assert patch_bytes(pod) == b'{"metadata": {"labels": {"x": "y"}}}'
