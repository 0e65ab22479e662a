"""The store client's error hierarchy and its pure retry decisions, apart from the client's I/O.

What it holds, for `store/client.py`:
- the one exception hierarchy of the client (`StoreError` and its subclasses), built from a gRPC
  status code plus etcd's exact message at exactly one place: `error_from_status`;
- the pure decisions the attempt loop and the watch take on those errors: `never_sent`,
  `should_retry`, `may_have_applied`, `watch_resumable` (and `NOT_APPLIED`, the server answers that
  mean "refused before proposing, so not applied");
- `Backoff`, the jittered exponential delay between attempts.

Why it is separate: these are pure decisions (no channels, no asyncio, no I/O), unit-tested on
their own (tests/unit/store/test_client_backoff.py), while client.py is the shell that acts on
them. The retry rules they implement are described in client.py's module docstring.
`store.client` re-exports every public name here; callers keep importing them from there.
"""
from __future__ import annotations

from dataclasses import dataclass

import grpc

from client.backoff import Backoff as _SharedBackoff

# ---- Errors: one hierarchy, built at one place (error_from_status). ------------------------------


class StoreError(Exception):
    """A store call failed. `code` is the gRPC status (None for a watch cancel reason), `endpoint`
    the member that answered, `maybe_applied` True when a write may have taken effect anyway."""

    def __init__(self, message: str, *, code: grpc.StatusCode | None = None, endpoint: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.endpoint = endpoint
        self.maybe_applied = False

    def __str__(self) -> str:
        text = self.message
        if self.endpoint:
            text += f" (from {self.endpoint})"
        if self.maybe_applied:
            text += "; the write may have been applied: re-read before retrying"
        return text


class Unavailable(StoreError):
    """No member could serve the call now: unreachable, no leader, timed out inside the server."""

class DeadlineExceeded(StoreError):
    """The call's deadline passed before an answer arrived."""

class Cancelled(StoreError):
    """The call was cancelled (the client is closing, or the server cancelled it)."""

class InvalidArgument(StoreError):
    """The server rejected the request as malformed: empty key, too many txn ops, duplicate key, ..."""

class RequestTooLarge(InvalidArgument):
    """The request exceeds the server's (1.5 MiB) or the client's (2 MiB) size limit."""

class OutOfRange(StoreError):
    """A revision or TTL outside what the server accepts."""

class Compacted(OutOfRange):
    """The requested revision has been compacted away; relist and watch from the new revision.
    `compact_revision` is the store's compact revision when the server says it (watches), else 0."""

    def __init__(self, message: str, *, compact_revision: int = 0, **kw):
        super().__init__(message, **kw)
        self.compact_revision = compact_revision

class FutureRevision(OutOfRange):
    """The requested revision is newer than the store's current revision."""

class LeaseTTLTooLarge(OutOfRange):
    """The lease TTL is above the server's maximum."""

class NotFound(StoreError):
    """Something the request names does not exist."""

class LeaseNotFound(NotFound):
    """The lease does not exist (never granted, revoked, or expired)."""

class FailedPrecondition(StoreError):
    """The request conflicts with the store's state."""

class LeaseExists(FailedPrecondition):
    """A lease with the requested ID already exists."""

class ResourceExhausted(StoreError):
    """The server is out of a resource."""

class NoSpace(ResourceExhausted):
    """The backend quota is exhausted (`database space exceeded`); only deletes and compaction help."""

class TooManyRequests(ResourceExhausted):
    """The server's apply loop is behind and it refused the request before proposing it."""

class PermissionDenied(StoreError):
    """Authentication or authorisation failed."""

class Unimplemented(StoreError):
    """The server does not implement this method."""

class WatchCanceled(StoreError):
    """The server cancelled a watch for a reason the client cannot resume from."""


_C = grpc.StatusCode

# (code, exact message) -> class. code None = a WatchResponse.cancel_reason (it has no status code).
_BY_STATUS: dict[tuple[grpc.StatusCode | None, str], type[StoreError]] = {
    (_C.INVALID_ARGUMENT, "etcdserver: request is too large"): RequestTooLarge,
    (_C.OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted"): Compacted,
    (_C.OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision"): FutureRevision,
    (_C.OUT_OF_RANGE, "etcdserver: too large lease TTL"): LeaseTTLTooLarge,
    (_C.NOT_FOUND, "etcdserver: requested lease not found"): LeaseNotFound,
    (_C.FAILED_PRECONDITION, "etcdserver: lease already exists"): LeaseExists,
    (_C.RESOURCE_EXHAUSTED, "etcdserver: mvcc: database space exceeded"): NoSpace,
    (_C.RESOURCE_EXHAUSTED, "etcdserver: too many requests"): TooManyRequests,
    # etcd's server context expiring (our deadline, propagated) surfaces as Unknown with Go's text.
    (_C.UNKNOWN, "context deadline exceeded"): DeadlineExceeded,
    (None, "mvcc: required revision has been compacted"): Compacted,
    (None, "etcdserver: mvcc: required revision has been compacted"): Compacted,
    (None, "mvcc: required revision is a future revision"): FutureRevision,
    (None, "mvcc: watcher range is empty"): InvalidArgument,
    (None, "mvcc: duplicate watch ID provided on the WatchStream"): InvalidArgument,
    (None, "etcdserver: no leader"): Unavailable,
}

# Messages that grpc itself writes (not the store), matched by substring.
_BY_GRPC_TEXT: tuple[tuple[grpc.StatusCode, str, type[StoreError]], ...] = (
    # Go server "grpc: received message larger than max", grpcio "Received message larger than max",
    # grpcio client "CLIENT: Sent message larger than max".
    (_C.RESOURCE_EXHAUSTED, "message larger than max", RequestTooLarge),
)

_BY_CODE: dict[grpc.StatusCode | None, type[StoreError]] = {
    _C.UNAVAILABLE: Unavailable,
    _C.DEADLINE_EXCEEDED: DeadlineExceeded,
    _C.CANCELLED: Cancelled,
    _C.INVALID_ARGUMENT: InvalidArgument,
    _C.OUT_OF_RANGE: OutOfRange,
    _C.NOT_FOUND: NotFound,
    _C.FAILED_PRECONDITION: FailedPrecondition,
    _C.RESOURCE_EXHAUSTED: ResourceExhausted,
    _C.PERMISSION_DENIED: PermissionDenied,
    _C.UNAUTHENTICATED: PermissionDenied,
    _C.UNIMPLEMENTED: Unimplemented,
    None: WatchCanceled,
}

# grpc-core's words for "no connection, so the request never left this process".
_NEVER_SENT_TEXT = "failed to connect to all addresses"

# Server answers that mean "refused before proposing to Raft": the write was not applied.
# `no leader` is only that because writes carry `hasleader` (the server checks it before the handler).
NOT_APPLIED: frozenset[tuple[grpc.StatusCode, str]] = frozenset({
    (_C.UNAVAILABLE, "etcdserver: no leader"),
    (_C.RESOURCE_EXHAUSTED, "etcdserver: too many requests"),
})


def error_from_status(code: grpc.StatusCode | None, message: str) -> StoreError:
    """The typed error for a gRPC status (or, with code None, a watch's cancel_reason)."""
    cls = _BY_STATUS.get((code, message))
    if cls is None:
        cls = next((c for k, text, c in _BY_GRPC_TEXT if k == code and text in message), None)
    if cls is None:
        cls = _BY_CODE.get(code, StoreError)
    return cls(message or (code.name if code else "watch canceled"), code=code)


def never_sent(code: grpc.StatusCode, message: str) -> bool:
    """True when grpc reports that the request never reached a server."""
    return code == _C.UNAVAILABLE and _NEVER_SENT_TEXT in message


def should_retry(err: StoreError, *, idempotent: bool, sent: bool) -> bool:
    """Retry `err` (on another member, after a backoff)? Reads and retry-safe txns: on any
    Unavailable. Writes: only when the request is known not to have been applied."""
    if (err.code, err.message) in NOT_APPLIED:
        return True
    if not isinstance(err, Unavailable):
        return False
    return idempotent or not sent


def may_have_applied(err: StoreError, *, sent: bool) -> bool:
    """After a sent write failed with `err`, could it still have taken effect?"""
    if not sent or (err.code, err.message) in NOT_APPLIED:
        return False
    return isinstance(err, (Unavailable, DeadlineExceeded, Cancelled)) or type(err) is StoreError


def watch_resumable(err: StoreError) -> bool:
    """A broken watch stream is reopened elsewhere after these; anything else ends the watch."""
    return isinstance(err, (Unavailable, DeadlineExceeded, Cancelled)) or type(err) is StoreError


# ---- Backoff between attempts. -------------------------------------------------------------------


@dataclass(frozen=True)
class Backoff(_SharedBackoff):
    """client/backoff.py's backoff with the store client's defaults: from 25 ms, capped at 1 s."""

    base: float = 0.025
    cap: float = 1.0
