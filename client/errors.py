"""The client's errors and its pure retry decisions: one hierarchy, one mapping, no I/O.

    try:
        await api.get("deployments", "default", "web")
    except NotFound as e:
        e.message    # 'deployments.apps "web" not found' (Kubernetes' words, from the server)
        e.reason     # "NotFound"; e.code 404; e.status the full skiff.meta.v1.Status, when sent

`error_from_status` is the one place a failed call becomes an `ApiError`: by the Kubernetes Status
reason in the trailing metadata `skiff-status-bin` when the server sent one, else by the gRPC code.
`should_retry`, `retry_safe` and `Backoff` are the pure decisions `client.api.ApiClient` acts on.
"""
from __future__ import annotations

import json
from typing import Any, Iterable

import grpc

from client.backoff import Backoff  # noqa: F401 - part of this module's interface
from skiffpb.k8s.meta.v1 import meta_pb2

STATUS_KEY = "skiff-status-bin"


class ApiError(Exception):
    """A call failed. `reason`/`code` are Kubernetes' (e.g. "NotFound"/404); `endpoint` is the
    apiserver that answered (or could not be reached); `status` is the server's Status, if any."""

    def __init__(self, message: str, *, reason: str = "", code: int = 0,
                 grpc_code: grpc.StatusCode | None = None, status: meta_pb2.Status | None = None,
                 endpoint: str = ""):
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.code = code
        self.grpc_code = grpc_code
        self.status = status
        self.endpoint = endpoint

    def __str__(self) -> str:
        return f"{self.message} (from {self.endpoint})" if self.endpoint else self.message


class NotFound(ApiError):
    """The object (or namespace, or resource) does not exist."""

class Conflict(ApiError):
    """A resourceVersion or uid precondition failed: re-read and retry (routine, STYLE §2)."""

class AlreadyExists(ApiError):
    """An object with that name already exists."""

class Invalid(ApiError):
    """Validation failed; `causes` lists (field, reason, message) for each problem."""

    @property
    def causes(self) -> list[tuple[str, str, str]]:
        if self.status is None:
            return []
        return [(c.field, c.reason, c.message) for c in self.status.details.causes]

class BadRequest(ApiError):
    """The request itself is malformed (bad selector, undecodable patch, ...)."""

class Forbidden(ApiError):
    """The server refused the request (e.g. creating in a terminating namespace)."""

class Gone(ApiError):
    """The resourceVersion is too old (410 Expired): relist, then watch from the list's version."""

class Unavailable(ApiError):
    """No apiserver could serve the call: unreachable, shutting down, or its store is unavailable."""

class Timeout(ApiError):
    """The call's deadline passed before an answer arrived."""


_C = grpc.StatusCode

_BY_REASON: dict[str, type[ApiError]] = {
    "NotFound": NotFound, "Conflict": Conflict, "AlreadyExists": AlreadyExists, "Invalid": Invalid,
    "BadRequest": BadRequest, "Forbidden": Forbidden, "Expired": Gone, "Gone": Gone,
    "ServiceUnavailable": Unavailable, "Timeout": Timeout,
}
_BY_CODE: dict[grpc.StatusCode, type[ApiError]] = {
    _C.NOT_FOUND: NotFound, _C.ABORTED: Conflict, _C.ALREADY_EXISTS: AlreadyExists,
    _C.INVALID_ARGUMENT: BadRequest, _C.PERMISSION_DENIED: Forbidden, _C.OUT_OF_RANGE: Gone,
    _C.UNAVAILABLE: Unavailable, _C.DEADLINE_EXCEEDED: Timeout,
}
# Kubernetes' reason and HTTP code for answers that carry no Status (as apiserver/errors.py maps them).
_CODE_REASON: dict[grpc.StatusCode, tuple[str, int]] = {
    _C.NOT_FOUND: ("NotFound", 404), _C.ABORTED: ("Conflict", 409), _C.ALREADY_EXISTS: ("AlreadyExists", 409),
    _C.INVALID_ARGUMENT: ("BadRequest", 400), _C.PERMISSION_DENIED: ("Forbidden", 403),
    _C.OUT_OF_RANGE: ("Expired", 410), _C.UNAVAILABLE: ("ServiceUnavailable", 503),
    _C.DEADLINE_EXCEEDED: ("Timeout", 504), _C.INTERNAL: ("InternalError", 500),
}


def status_from_metadata(trailing: Iterable[tuple[str, Any]] | None) -> meta_pb2.Status | None:
    """The Kubernetes Status in trailing metadata, or None (absent or garbled)."""
    for key, value in trailing or ():
        if key == STATUS_KEY:
            st = meta_pb2.Status()
            try:
                st.ParseFromString(value if isinstance(value, bytes) else value.encode())
            except Exception:  # noqa: BLE001 - a garbled Status must not hide the error itself
                return None
            return st
    return None


def error_from_status(code: grpc.StatusCode | None, details: str,
                      status: meta_pb2.Status | None = None, *, endpoint: str = "") -> ApiError:
    """The typed error for a failed call: by Status reason, else by gRPC code; message is Kubernetes'."""
    cls = _BY_REASON.get(status.reason) if status is not None and status.reason else None
    if cls is None and code is not None:
        cls = _BY_CODE.get(code)
    reason, http = _CODE_REASON.get(code, ("InternalError", 500)) if code is not None else ("InternalError", 500)
    if status is not None:
        reason, http = status.reason or reason, status.code or http
    message = (status.message if status is not None and status.message else "") or details or \
        (code.name if code is not None else "unknown error")
    return (cls or ApiError)(message, reason=reason, code=http, grpc_code=code, status=status,
                             endpoint=endpoint)


# grpc-core's words for "no connection, so the request never left this process".
_NEVER_SENT_TEXT = "failed to connect to all addresses"


def never_sent(code: grpc.StatusCode | None, details: str) -> bool:
    """True when grpc reports that the request never reached a server."""
    return code == _C.UNAVAILABLE and _NEVER_SENT_TEXT in (details or "")


# ---- Which calls may be sent twice. ----------------------------------------------------------

READS = frozenset({"get", "list", "get_scale"})
GUARDABLE_WRITES = frozenset({"update", "update_status", "patch", "delete", "update_scale"})


def retry_safe(verb: str, *, guarded: bool) -> bool:
    """May `verb` be sent again after a send that may have reached the server? Reads always; create
    always (a repeat that finds its own first attempt answers AlreadyExists); guardable writes only
    with a resourceVersion/uid precondition (a repeat answers Conflict, or NotFound for a delete)."""
    if verb in READS or verb == "create":
        return True
    if verb in GUARDABLE_WRITES:
        return guarded
    return False


def should_retry(err: ApiError, *, safe: bool, sent: bool) -> bool:
    """Retry `err` on the next endpoint after a backoff? Only Unavailable, and only when the call
    is retry-safe or the request certainly never left this process."""
    return isinstance(err, Unavailable) and (safe or not sent)


def patch_is_guarded(patch_type: str, patch: bytes) -> bool:
    """A JSON patch that `test`s metadata.resourceVersion or metadata.uid first cannot apply twice.
    (The apiserver ignores a resourceVersion inside merge patches, so those are never guarded.)"""
    if patch_type != "application/json-patch+json":
        return False
    try:
        ops = json.loads(patch or b"null")
    except ValueError:
        return False
    return isinstance(ops, list) and any(
        isinstance(op, dict) and op.get("op") == "test"
        and op.get("path") in ("/metadata/resourceVersion", "/metadata/uid") for op in ops)
