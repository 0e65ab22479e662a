"""The store client's pure decisions: backoff schedule, error mapping, retry rules, request builders."""
from __future__ import annotations

import random

import grpc
import pytest
from hypothesis import given, strategies as st

from skiffpb.etcd.etcdserverpb import rpc_pb2
from store.client import (
    NOT_APPLIED, Backoff, Cancelled, Compacted, DeadlineExceeded, FailedPrecondition, FutureRevision,
    InvalidArgument, LeaseExists, LeaseNotFound, LeaseTTLTooLarge, NoSpace, NotFound, OutOfRange,
    PermissionDenied, RequestTooLarge, ResourceExhausted, StoreError, TooManyRequests, Unavailable,
    Unimplemented, WatchCanceled, compare, error_from_status, is_read_only, key_range,
    may_have_applied, never_sent, op_delete, op_get, op_put, op_txn, parse_endpoints, prefix_end,
    range_request, should_retry, watch_resumable,
)

pytestmark = pytest.mark.timeout(30)
C = grpc.StatusCode


# -- backoff ----------------------------------------------------------------------------------------

class FixedRng(random.Random):
    def __init__(self, u: float):
        super().__init__()
        self.u = u

    def random(self) -> float:
        return self.u


def test_backoff_without_jitter_doubles_until_the_cap():
    """With no jitter, successive delays double from the base and then stay at the cap."""
    b = Backoff(base=0.025, factor=2.0, cap=1.0, jitter=0.0)
    delays = [b.delay(n, random.Random(0)) for n in range(10)]
    assert delays[:6] == pytest.approx([0.025, 0.05, 0.1, 0.2, 0.4, 0.8])
    assert delays[6:] == [1.0] * 4


def test_backoff_default_schedule_grows_exponentially():
    """The default nominal schedule starts at 25 ms and each step is twice the previous one until 1 s."""
    b = Backoff()
    nominal = [b.nominal(n) for n in range(7)]
    assert nominal[0] == pytest.approx(0.025)
    for prev, cur in zip(nominal, nominal[1:]):
        assert cur == pytest.approx(min(1.0, prev * 2))
    assert nominal[-1] == 1.0


def test_backoff_huge_attempt_is_capped_not_an_overflow():
    """An attempt count whose exponential overflows a float still yields the cap."""
    assert Backoff().delay(10_000, random.Random(1)) <= 1.0
    assert Backoff().nominal(10_000) == 1.0


@pytest.mark.parametrize("u, factor", [
    pytest.param(0.0, 0.8, id="lowest-jitter"),
    pytest.param(0.5, 1.0, id="middle"),
    pytest.param(0.999999, 1.2, id="highest-jitter"),
])
def test_backoff_jitter_extremes(u, factor):
    """The random draw maps linearly onto nominal * [1 - jitter, 1 + jitter)."""
    b = Backoff(base=0.1, factor=2.0, cap=10.0, jitter=0.2)
    assert b.delay(2, FixedRng(u)) == pytest.approx(0.4 * factor, rel=1e-5)


@given(attempt=st.integers(min_value=0, max_value=200), seed=st.integers(),
       base=st.floats(min_value=0.001, max_value=1.0), cap_mult=st.floats(min_value=1.0, max_value=100.0),
       jitter=st.floats(min_value=0.0, max_value=0.9))
def test_backoff_delay_stays_within_jitter_bounds_and_cap(attempt, seed, base, cap_mult, jitter):
    """For any parameters a delay lies within the jitter band around the nominal value and never above the cap."""
    b = Backoff(base=base, factor=2.0, cap=base * cap_mult, jitter=jitter)
    d = b.delay(attempt, random.Random(seed))
    nominal = b.nominal(attempt)
    assert nominal * (1 - jitter) - 1e-12 <= d <= min(b.cap, nominal * (1 + jitter)) + 1e-12
    assert d <= b.cap


def test_backoff_jitter_spreads_delays():
    """Many draws for the same attempt are not all equal, so clients do not retry in lockstep."""
    rng = random.Random(7)
    draws = {round(Backoff().delay(3, rng), 6) for _ in range(50)}
    assert len(draws) > 10


@pytest.mark.parametrize("kw", [
    pytest.param(dict(base=0), id="zero-base"),
    pytest.param(dict(factor=0.5), id="shrinking"),
    pytest.param(dict(base=2.0, cap=1.0), id="cap-below-base"),
    pytest.param(dict(jitter=1.0), id="jitter-100pct"),
])
def test_backoff_rejects_nonsense(kw):
    """A backoff that could shrink, be zero or exceed its own cap is refused at construction."""
    with pytest.raises(ValueError):
        Backoff(**kw)


# -- error mapping ----------------------------------------------------------------------------------

ERROR_TABLE = [
    (C.OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted", Compacted),
    (C.OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision", FutureRevision),
    (C.OUT_OF_RANGE, "etcdserver: too large lease TTL", LeaseTTLTooLarge),
    (C.OUT_OF_RANGE, "something else", OutOfRange),
    (C.NOT_FOUND, "etcdserver: requested lease not found", LeaseNotFound),
    (C.NOT_FOUND, "etcdserver: no such thing", NotFound),
    (C.FAILED_PRECONDITION, "etcdserver: lease already exists", LeaseExists),
    (C.FAILED_PRECONDITION, "etcdserver: member id already exist", FailedPrecondition),
    (C.INVALID_ARGUMENT, "etcdserver: request is too large", RequestTooLarge),
    (C.INVALID_ARGUMENT, "etcdserver: key is not provided", InvalidArgument),
    (C.INVALID_ARGUMENT, "etcdserver: too many operations in txn request", InvalidArgument),
    (C.INVALID_ARGUMENT, "etcdserver: duplicate key given in txn request", InvalidArgument),
    (C.INVALID_ARGUMENT, "etcdserver: key not found", InvalidArgument),
    (C.RESOURCE_EXHAUSTED, "etcdserver: mvcc: database space exceeded", NoSpace),
    (C.RESOURCE_EXHAUSTED, "etcdserver: too many requests", TooManyRequests),
    (C.RESOURCE_EXHAUSTED, "grpc: received message larger than max (3000000 vs. 2097152)", RequestTooLarge),
    (C.RESOURCE_EXHAUSTED, "CLIENT: Sent message larger than max (3000000 vs. 2097152)", RequestTooLarge),
    (C.RESOURCE_EXHAUSTED, "Received message larger than max (3000000 vs. 2097152)", RequestTooLarge),
    (C.RESOURCE_EXHAUSTED, "out of file descriptors", ResourceExhausted),
    (C.UNAVAILABLE, "etcdserver: no leader", Unavailable),
    (C.UNAVAILABLE, "etcdserver: leader changed", Unavailable),
    (C.UNAVAILABLE, "etcdserver: request timed out", Unavailable),
    (C.UNAVAILABLE, "etcdserver: request timed out, possibly due to connection lost", Unavailable),
    (C.UNAVAILABLE, "etcdserver: server stopped", Unavailable),
    (C.UNAVAILABLE, "failed to connect to all addresses; last error: UNKNOWN: Connection refused", Unavailable),
    (C.DEADLINE_EXCEEDED, "Deadline Exceeded", DeadlineExceeded),
    (C.UNKNOWN, "context deadline exceeded", DeadlineExceeded),
    (C.CANCELLED, "Locally cancelled by application!", Cancelled),
    (C.PERMISSION_DENIED, "etcdserver: permission denied", PermissionDenied),
    (C.UNAUTHENTICATED, "etcdserver: invalid auth token", PermissionDenied),
    (C.UNIMPLEMENTED, "Method not found!", Unimplemented),
    (C.INTERNAL, "RST_STREAM with error code 2", StoreError),
    (C.UNKNOWN, "raft proposal dropped", StoreError),
    # The same etcd text under the wrong code is not trusted: the code decides.
    (C.UNKNOWN, "etcdserver: mvcc: required revision has been compacted", StoreError),
    # Watch cancel reasons carry no status code.
    (None, "mvcc: required revision has been compacted", Compacted),
    (None, "mvcc: required revision is a future revision", FutureRevision),
    (None, "mvcc: watcher range is empty", InvalidArgument),
    (None, "mvcc: duplicate watch ID provided on the WatchStream", InvalidArgument),
    (None, "etcdserver: no leader", Unavailable),
    (None, "something new", WatchCanceled),
]


@pytest.mark.parametrize("code, message, cls", [
    pytest.param(code, msg, cls, id=f"{code.name if code else 'watch'}:{msg[:40]}")
    for code, msg, cls in ERROR_TABLE])
def test_error_from_status_maps_code_and_message_to_class(code, message, cls):
    """Each (status code, server message) pair becomes exactly the documented exception class."""
    err = error_from_status(code, message)
    assert type(err) is cls
    assert err.code == code and err.message == message and not err.maybe_applied


def test_error_text_names_endpoint_and_doubt():
    """An error's text says which member answered and, for a doubtful write, to re-read first."""
    err = error_from_status(C.UNAVAILABLE, "etcdserver: request timed out")
    err.endpoint, err.maybe_applied = "127.0.0.1:2379", True
    assert str(err) == ("etcdserver: request timed out (from 127.0.0.1:2379); the write may have been "
                        "applied: re-read before retrying")


def test_compacted_carries_compact_revision():
    """A Compacted error is an OutOfRange that can carry the store's compact revision."""
    err = Compacted("compacted", compact_revision=42)
    assert isinstance(err, OutOfRange) and err.compact_revision == 42
    assert error_from_status(C.OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted").compact_revision == 0


# -- retry rules ------------------------------------------------------------------------------------

def _err(code, msg):
    return error_from_status(code, msg)


RETRY_TABLE = [
    # (error, idempotent, sent) -> retry?
    (_err(C.UNAVAILABLE, "etcdserver: request timed out"), True, True, True),
    (_err(C.UNAVAILABLE, "etcdserver: request timed out"), False, True, False),
    (_err(C.UNAVAILABLE, "Stream removed (recvmsg:Connection reset by peer (104))"), False, True, False),
    (_err(C.UNAVAILABLE, "Stream removed (recvmsg:Connection reset by peer (104))"), True, True, True),
    (Unavailable("cannot connect"), False, False, True),
    (_err(C.UNAVAILABLE, "etcdserver: no leader"), False, True, True),
    (_err(C.UNAVAILABLE, "etcdserver: leader changed"), False, True, False),
    (_err(C.RESOURCE_EXHAUSTED, "etcdserver: too many requests"), False, True, True),
    (_err(C.RESOURCE_EXHAUSTED, "etcdserver: mvcc: database space exceeded"), True, True, False),
    (_err(C.DEADLINE_EXCEEDED, "Deadline Exceeded"), True, True, False),
    (_err(C.OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted"), True, True, False),
    (_err(C.INVALID_ARGUMENT, "etcdserver: key is not provided"), True, False, False),
]


@pytest.mark.parametrize("err, idempotent, sent, expected", [
    pytest.param(*row, id=f"{type(row[0]).__name__}:{row[0].message[:30]}:idem={row[1]}:sent={row[2]}")
    for row in RETRY_TABLE])
def test_should_retry(err, idempotent, sent, expected):
    """Reads retry on any Unavailable; writes only when known not applied; other errors never."""
    assert should_retry(err, idempotent=idempotent, sent=sent) is expected


@pytest.mark.parametrize("err, sent, expected", [
    pytest.param(_err(C.UNAVAILABLE, "etcdserver: request timed out"), True, True, id="timed-out"),
    pytest.param(_err(C.UNAVAILABLE, "etcdserver: request timed out"), False, False, id="never-sent"),
    pytest.param(_err(C.UNAVAILABLE, "etcdserver: no leader"), True, False, id="no-leader"),
    pytest.param(_err(C.DEADLINE_EXCEEDED, "Deadline Exceeded"), True, True, id="deadline"),
    pytest.param(_err(C.INTERNAL, "RST_STREAM"), True, True, id="internal"),
    pytest.param(_err(C.INVALID_ARGUMENT, "etcdserver: key is not provided"), True, False, id="rejected"),
    pytest.param(_err(C.RESOURCE_EXHAUSTED, "etcdserver: too many requests"), True, False, id="throttled"),
])
def test_may_have_applied(err, sent, expected):
    """A sent write is in doubt after a transport failure or timeout, never after a definite refusal."""
    assert may_have_applied(err, sent=sent) is expected


def test_not_applied_set_is_exactly_the_pre_proposal_refusals():
    """Only the two refusals etcd makes before proposing to Raft count as 'not applied'."""
    assert NOT_APPLIED == {(C.UNAVAILABLE, "etcdserver: no leader"),
                           (C.RESOURCE_EXHAUSTED, "etcdserver: too many requests")}


def test_never_sent_recognises_grpc_connect_failure_only():
    """grpc's 'failed to connect' means the request never left; a reset stream does not."""
    assert never_sent(C.UNAVAILABLE, "failed to connect to all addresses; last error: UNKNOWN: "
                                     "ipv4:127.0.0.1:1: Failed to connect to remote host: Connection refused")
    assert not never_sent(C.UNAVAILABLE, "Stream removed (recvmsg:Connection reset by peer (104))")
    assert not never_sent(C.DEADLINE_EXCEEDED, "failed to connect to all addresses")


@pytest.mark.parametrize("err, expected", [
    pytest.param(Unavailable("x"), True, id="unavailable"),
    pytest.param(Cancelled("x"), True, id="cancelled"),
    pytest.param(StoreError("x", code=C.INTERNAL), True, id="internal"),
    pytest.param(Compacted("x"), False, id="compacted"),
    pytest.param(InvalidArgument("x"), False, id="invalid"),
    pytest.param(WatchCanceled("x"), False, id="unknown-cancel"),
])
def test_watch_resumable(err, expected):
    """A watch resumes after transport trouble but ends on compaction or a refused request."""
    assert watch_resumable(err) is expected


# -- endpoints and builders -------------------------------------------------------------------------

@pytest.mark.parametrize("given_, expected", [
    pytest.param("127.0.0.1:2379", ["127.0.0.1:2379"], id="one"),
    pytest.param("http://a:1, b:2,http://a:1/", ["a:1", "b:2"], id="csv-dedup"),
    pytest.param(["http://127.0.0.1:1", "[::1]:2"], ["127.0.0.1:1", "[::1]:2"], id="list-ipv6"),
])
def test_parse_endpoints(given_, expected):
    """Endpoints may be host:port or http:// URLs, as a list or comma-separated, duplicates dropped."""
    assert parse_endpoints(given_) == expected


@pytest.mark.parametrize("bad", ["", "https://a:1", "a", "a:b", "http://a:1/path", ["", " "]])
def test_parse_endpoints_rejects(bad):
    """Empty lists, TLS URLs and anything without a numeric port are refused with a clear error."""
    with pytest.raises(ValueError):
        parse_endpoints(bad)


@pytest.mark.parametrize("prefix, end", [
    (b"a/", b"a0"), (b"a\xff", b"b"), (b"\xff\xff", b"\0"), (b"", b"\0"), (b"ab\xff\xff", b"ac")])
def test_prefix_end(prefix, end):
    """The prefix end increments the last byte below 0xff, dropping trailing 0xff bytes."""
    assert prefix_end(prefix) == end


def test_key_range_forms():
    """One key, a prefix, the empty prefix and from-key give etcd's (key, range_end) pairs."""
    assert key_range("k") == (b"k", b"")
    assert key_range(b"a/", prefix=True) == (b"a/", b"a0")
    assert key_range(b"", prefix=True) == (b"\0", b"\0")
    assert key_range(b"a", from_key=True) == (b"a", b"\0")
    with pytest.raises(ValueError):
        key_range(b"a", b"b", prefix=True)


def test_range_request_matches_etcdctl():
    """A prefix listing with a limit and keys-only builds the request etcdctl sends."""
    assert range_request(b"a/", prefix=True, limit=2, keys_only=True) == rpc_pb2.RangeRequest(
        key=b"a/", range_end=b"a0", limit=2, keys_only=True)
    req = range_request(b"a", sort_order="descend", sort_target="mod")
    assert (req.sort_order, req.sort_target) == (rpc_pb2.RangeRequest.DESCEND, rpc_pb2.RangeRequest.MOD)


def test_compare_builds_each_target():
    """compare() fills the target enum, the result enum and the matching oneof field."""
    c = compare(b"k", "mod", "==", 7)
    assert (c.target, c.result, c.mod_revision) == (rpc_pb2.Compare.MOD, rpc_pb2.Compare.EQUAL, 7)
    c = compare("k", "value", "!=", "x")
    assert (c.target, c.result, c.value) == (rpc_pb2.Compare.VALUE, rpc_pb2.Compare.NOT_EQUAL, b"x")
    c = compare(b"p/", "version", ">", 0, prefix=True)
    assert (c.range_end, c.WhichOneof("target_union"), c.result) == (b"p0", "version", rpc_pb2.Compare.GREATER)
    assert compare(b"k", "create", "<", 3).create_revision == 3
    assert compare(b"k", "lease", "==", 9).lease == 9
    with pytest.raises(ValueError):
        compare(b"k", "mod", "=~", 1)


def test_is_read_only_sees_through_nested_txns():
    """A txn whose every branch (nested ones included) only reads is classed as a read."""
    assert is_read_only([op_get(b"a"), op_txn([], [op_get(b"b")], [op_get(b"c")])])
    assert not is_read_only([op_get(b"a"), op_put(b"a", b"1")])
    assert not is_read_only([op_txn([], [op_get(b"b")], [op_delete(b"c")])])
    assert is_read_only([])
