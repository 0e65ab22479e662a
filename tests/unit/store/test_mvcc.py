"""store/mvcc.py against etcd v3.4's documented semantics, table tests of each behaviour: revisions,
bad requests, Txn compares and errors, Range, past revisions and compaction, leases, ignore_value and
ignore_lease, history events, hash_kv and pickling. The Hypothesis properties against a naive model are
in test_mvcc_model.py; the request builders and readers both use are in mvcc_helpers.py."""
from __future__ import annotations

import pickle

import pytest

from skiffpb.etcd.etcdserverpb import rpc_pb2
from skiffpb.etcd.mvccpb import kv_pb2
from store.mvcc import MVCC, MvccError, event_to_pb, prefix_end
from tests.unit.store.mvcc_helpers import (
    COMPACTED, DELETE, DUPLICATE, FUTURE, KEY_NOT_FOUND, LEASE_EXISTS, LEASE_ID_NOT_POSITIVE, LEASE_NOT_FOUND,
    LEASE_PROVIDED, LEASE_TTL_TOO_LARGE, NO_KEY, PUT, TOO_MANY_OPS, VALUE_PROVIDED, C, R, cmp, delete, err, ev,
    everything, get, keys, kvt, op_del, op_put, op_range, op_txn, put, range_error, run, txn)

pytestmark = pytest.mark.timeout(120)


def grant(lease_id=7, ttl=30):
    return ("lease_grant", lease_id, ttl)


@pytest.mark.parametrize("cmds, revs", [
    pytest.param([], [], id="empty-store-is-at-1"),
    pytest.param([put(b"a", b"1")], [2], id="first-write-gives-2"),
    pytest.param([put(b"a", b"1"), put(b"a", b"1")], [2, 3], id="put-of-an-unchanged-value-bumps"),
    pytest.param([put(b"a"), delete(b"nokey")], [2, 2], id="delete-of-a-missing-key-does-not-bump"),
    pytest.param([put(b"a"), delete(b"b", b"z")], [2, 2], id="delete-of-an-empty-range-does-not-bump"),
    pytest.param([put(b"a"), put(b"b"), delete(b"a", b"\0")], [2, 3, 4], id="delete-of-many-keys-bumps-once"),
    pytest.param([txn(success=[op_put(b"a"), op_put(b"b"), op_del(b"c")])], [2], id="txn-with-writes-bumps-once"),
    pytest.param([put(b"a"), txn(success=[op_range(b"a")])], [2, 2], id="read-only-txn-does-not-bump"),
    pytest.param([txn(compare=[cmp(b"a", C.VERSION, C.GREATER, 0)], success=[op_put(b"a")])], [1],
                 id="txn-with-empty-executed-branch-does-not-bump"),
    pytest.param([txn(success=[op_del(b"a")])], [1], id="txn-deleting-nothing-does-not-bump"),
    pytest.param([put(b"a"), ("compact", 2)], [2, 2], id="compact-does-not-bump"),
    pytest.param([grant()], [1], id="lease-grant-does-not-bump"),
    pytest.param([grant(), ("lease_revoke", 7)], [1, 1], id="revoke-of-lease-without-keys-does-not-bump"),
    pytest.param([grant(), put(b"a", lease=7), put(b"b", lease=7), ("lease_revoke", 7)], [1, 2, 3, 4],
                 id="revoke-of-lease-with-keys-bumps-once"),
    pytest.param([("lease_keepalive", 7), ("barrier",), ("publish", 1, "m1", ["http://p"], ["http://c"])],
                 [1, 1, 1], id="keepalive-barrier-publish-do-not-bump"),
])
def test_revision_moves_by_one_only_when_state_changes(cmds, revs):
    """Each command's Applied.revision is the store revision after it, moving by one only when it changed something."""
    m = MVCC()
    assert m.rev == 1
    got = []
    for c in cmds:
        a = m.apply(c)
        assert a.error is None
        got.append(a.revision)
    assert got == revs
    assert m.rev == (revs[-1] if revs else 1)


def test_put_put_delete_put_gives_etcds_documented_revisions():
    """put foo, put foo, del foo, put foo gives revisions 2..5 and create/mod/version exactly as etcd documents."""
    m = MVCC()
    assert m.apply(put(b"foo", b"1")).revision == 2
    assert m.apply(put(b"foo", b"2")).revision == 3
    assert everything(m) == [(b"foo", b"2", 2, 3, 2, 0)]
    a = m.apply(delete(b"foo"))
    assert a.revision == 4 and a.response.deleted == 1
    assert everything(m) == []
    assert m.apply(put(b"foo", b"3")).revision == 5
    assert everything(m) == [(b"foo", b"3", 5, 5, 1, 0)]


@pytest.mark.parametrize("cmd, want", [
    pytest.param(put(b""), NO_KEY, id="put"),
    pytest.param(delete(b""), NO_KEY, id="delete"),
    pytest.param(txn(success=[op_put(b"")]), NO_KEY, id="txn-put"),
    pytest.param(txn(compare=[cmp(b"", C.VERSION, C.EQUAL, 0)]), NO_KEY, id="txn-compare"),
    pytest.param(("frobnicate",), ("INVALID_ARGUMENT", "unknown command 'frobnicate'"), id="unknown-command"),
])
def test_bad_requests_are_refused_without_a_revision(cmd, want):
    """A request with an empty key (or an unknown command) is refused and leaves the revision alone."""
    m = MVCC()
    a = m.apply(cmd)
    assert err(a) == want and a.revision == 1 == m.rev
    with pytest.raises(MvccError) as e:
        get(m, b"")
    assert (e.value.code, e.value.message) == NO_KEY


# -- Txn compares -------------------------------------------------------------------------------
# a: value "y", create 2, mod 3, version 2; b: value "m", create 4, mod 4, version 1, lease 5; c missing.
COMPARE_SETUP = [grant(5), put(b"a", b"x"), put(b"a", b"y"), put(b"b", b"m", lease=5)]


@pytest.mark.parametrize("compares, succeeded", [
    pytest.param([cmp(b"c", C.VERSION, C.EQUAL, 0)], True, id="missing-version-equals-0"),
    pytest.param([cmp(b"c", C.VERSION, C.GREATER, 0)], False, id="missing-version-not-greater-than-0"),
    pytest.param([cmp(b"c", C.CREATE, C.EQUAL, 0)], True, id="missing-create-equals-0"),
    pytest.param([cmp(b"c", C.MOD, C.EQUAL, 0)], True, id="missing-mod-equals-0"),
    pytest.param([cmp(b"c", C.LEASE, C.EQUAL, 0)], True, id="missing-lease-equals-0"),
    pytest.param([cmp(b"c", C.VALUE, C.EQUAL, b"")], False, id="missing-value-equal-empty-is-false"),
    pytest.param([cmp(b"c", C.VALUE, C.NOT_EQUAL, b"x")], False, id="missing-value-not-equal-is-false"),
    pytest.param([cmp(b"a", C.VALUE, C.EQUAL, b"y")], True, id="value-equal"),
    pytest.param([cmp(b"a", C.VALUE, C.GREATER, b"x")], True, id="value-greater-means-stored-greater"),
    pytest.param([cmp(b"a", C.VALUE, C.LESS, b"x")], False, id="value-less-false"),
    pytest.param([cmp(b"a", C.VALUE, C.LESS, b"yy")], True, id="value-bytewise-prefix-is-less"),
    pytest.param([cmp(b"a", C.VERSION, C.EQUAL, 2)], True, id="version-equal"),
    pytest.param([cmp(b"a", C.VERSION, C.GREATER, 2)], False, id="version-greater-false"),
    pytest.param([cmp(b"a", C.CREATE, C.EQUAL, 2)], True, id="create-equal"),
    pytest.param([cmp(b"a", C.MOD, C.LESS, 4)], True, id="mod-less"),
    pytest.param([cmp(b"a", C.MOD, C.NOT_EQUAL, 3)], False, id="mod-not-equal-false"),
    pytest.param([cmp(b"b", C.LEASE, C.EQUAL, 5)], True, id="lease-equal"),
    pytest.param([cmp(b"a", C.VERSION, C.EQUAL, 2), cmp(b"b", C.VERSION, C.EQUAL, 2)], False,
                 id="all-compares-must-hold"),
    pytest.param([cmp(b"a", C.VERSION, C.GREATER, 0, range_end=b"c")], True, id="range-every-key-holds"),
    pytest.param([cmp(b"a", C.VALUE, C.EQUAL, b"y", range_end=b"c")], False, id="range-one-key-fails"),
    pytest.param([cmp(b"a", C.MOD, C.GREATER, 2, range_end=b"\0")], True, id="range-from-key"),
    pytest.param([cmp(b"x", C.VERSION, C.EQUAL, 0, range_end=b"z")], True, id="empty-range-version-equals-0"),
    pytest.param([cmp(b"x", C.VERSION, C.GREATER, 0, range_end=b"z")], False,
                 id="empty-range-version-not-greater-than-0"),
    pytest.param([cmp(b"x", C.VALUE, C.EQUAL, b"", range_end=b"z")], False, id="empty-range-value-compare-is-false"),
])
def test_txn_compare(compares, succeeded):
    """Compares pick the branch as etcd's applyCompare does; a missing key or empty range reads as KeyValue{}."""
    m = run(*COMPARE_SETUP)
    a = m.apply(txn(compares, success=[op_put(b"then")], failure=[op_put(b"else")]))
    assert err(a) is None
    assert a.response.succeeded is succeeded
    assert a.revision == 5
    assert keys(get(m, b"\0", b"\0")) == [b"a", b"b", b"then" if succeeded else b"else"]


# -- Txn errors -----------------------------------------------------------------------------------
MISS = [cmp(b"a", C.VERSION, C.EQUAL, 0)]  # false in TXN_SETUP: the failure branch runs


@pytest.mark.parametrize("cmd, want", [
    pytest.param(txn(success=[op_put(b"k"), op_put(b"k")]), DUPLICATE, id="put-twice"),
    pytest.param(txn(failure=[op_put(b"k"), op_put(b"k")]), DUPLICATE, id="put-twice-in-branch-not-run"),
    pytest.param(txn(success=[op_del(b"a", b"c"), op_put(b"b")]), DUPLICATE, id="put-inside-deleted-range"),
    pytest.param(txn(success=[op_put(b"a"), op_del(b"a")]), DUPLICATE, id="put-then-delete"),
    pytest.param(txn(success=[op_put(b"k"), op_txn(success=[op_put(b"k")])]), DUPLICATE, id="put-in-nested-txn"),
    pytest.param(txn(success=[op_put(b"k%d" % i) for i in range(129)]), TOO_MANY_OPS, id="129-success-ops"),
    pytest.param(txn(failure=[op_put(b"k%d" % i) for i in range(129)]), TOO_MANY_OPS, id="129-failure-ops"),
    pytest.param(txn(compare=[cmp(b"a", C.VERSION, C.GREATER, 0)] * 129), TOO_MANY_OPS, id="129-compares"),
    pytest.param(txn(success=[op_put(b"k", lease=99)]), LEASE_NOT_FOUND, id="unknown-lease-in-branch-run"),
    pytest.param(txn(success=[op_put(b"k", ignore_value=True)]), KEY_NOT_FOUND, id="ignore-value-on-missing-key"),
    pytest.param(txn(success=[op_put(b"k"), op_range(b"a", revision=3)]), FUTURE, id="range-at-future-rev"),
    pytest.param(txn(failure=[op_put(b"k", b"v", ignore_value=True)]), VALUE_PROVIDED,
                 id="value-provided-in-branch-not-run"),
    pytest.param(txn(failure=[op_put(b"k", lease=1, ignore_lease=True)]), LEASE_PROVIDED,
                 id="lease-provided-in-branch-not-run"),
])
def test_txn_refused_as_a_whole(cmd, want):
    """A Txn etcd refuses returns its error and changes nothing: no revision, no key, no history."""
    m = run(put(b"a", b"1"))
    before = (everything(m), m.hash_kv(), list(m.events_between(0, 99)))
    a = m.apply(cmd)
    assert err(a) == want
    assert a.revision == 2 == m.rev
    assert (everything(m), m.hash_kv(), list(m.events_between(0, 99))) == before


@pytest.mark.parametrize("cmd, rev", [
    pytest.param(txn(success=[op_put(b"k%d" % i) for i in range(128)]), 3, id="128-ops"),
    pytest.param(txn(compare=[cmp(b"a", C.VERSION, C.GREATER, 0)] * 128), 2, id="128-compares"),
    pytest.param(txn(success=[op_del(b"a", b"c"), op_del(b"a")]), 3, id="overlapping-deletes"),
    pytest.param(txn(MISS, success=[op_put(b"k", lease=99)], failure=[op_put(b"k")]), 3,
                 id="unknown-lease-in-branch-not-run"),
    pytest.param(txn(success=[op_put(b"k"), op_put(b"k2")], failure=[op_put(b"k")]), 3,
                 id="same-key-in-both-branches"),
    pytest.param(txn(success=[op_txn(MISS, success=[op_put(b"k")], failure=[op_put(b"k")])]), 3,
                 id="same-key-in-both-branches-of-nested-txn"),
    pytest.param(txn(success=[op_txn(MISS, success=[op_del(b"k")], failure=[op_put(b"k")])]), 3,
                 id="nested-txn-deletes-in-one-branch-puts-in-other"),
])
def test_txn_accepted(cmd, rev):
    """Txns etcd accepts (limits reached but not passed, exclusive branches, unrun bad ops) apply without error."""
    m = run(put(b"a", b"1"))
    a = m.apply(cmd)
    assert err(a) is None
    assert a.revision == rev == m.rev


def test_txn_ops_see_earlier_writes_of_the_same_txn():
    """Inside one Txn a Range sees the Txn's earlier put and delete, all at the Txn's single revision."""
    m = run(put(b"a", b"old"), put(b"b", b"b1"))
    a = m.apply(txn(success=[op_put(b"a", b"new", prev_kv=True), op_range(b"a"), op_del(b"b", prev_kv=True),
                             op_range(b"a", b"\0"), op_put(b"c", b"c1", prev_kv=True)]))
    assert err(a) is None and a.revision == 4 and a.response.succeeded
    r = a.response.responses
    assert kvt(r[0].response_put.prev_kv) == (b"a", b"old", 2, 2, 1, 0)
    assert [kvt(kv) for kv in r[1].response_range.kvs] == [(b"a", b"new", 2, 4, 2, 0)]
    assert r[2].response_delete_range.deleted == 1
    assert [kvt(kv) for kv in r[2].response_delete_range.prev_kvs] == [(b"b", b"b1", 3, 3, 1, 0)]
    assert keys(r[3].response_range) == [b"a"] and r[3].response_range.count == 1
    assert not r[4].response_put.HasField("prev_kv")
    assert [e.record.mod for e in a.events] == [4, 4, 4]
    assert [(e.type, e.key) for e in a.events] == [(PUT, b"a"), (DELETE, b"b"), (PUT, b"c")]


# etcd (etcdserver/apply.go compareToPath) evaluates every compare, nested ones included, against the
# store as it was before the Txn, and then runs (and checks) exactly that path.
def test_nested_txn_compares_see_the_store_before_the_txn():
    """A nested Txn's compare sees the store as it was before the outer Txn's writes, as in etcd."""
    m = MVCC()
    a = m.apply(txn(success=[op_put(b"k", b"v"),
                             op_txn([cmp(b"k", C.VERSION, C.EQUAL, 0)], success=[op_put(b"then")],
                                    failure=[op_put(b"else")])]))
    assert err(a) is None
    assert a.response.responses[1].response_txn.succeeded is True
    assert keys(get(m, b"\0", b"\0")) == [b"k", b"then"]


def test_nested_txn_runs_only_the_branch_that_was_checked():
    """A nested compare flipped by the outer Txn's write must not run an unchecked put with an unknown lease."""
    m = MVCC()
    a = m.apply(txn(success=[op_put(b"k"),
                             op_txn([cmp(b"k", C.VERSION, C.GREATER, 0)], success=[op_put(b"x", lease=99)])]))
    assert err(a) is None
    assert a.response.responses[1].response_txn.succeeded is False
    assert m.rev == 2 and keys(get(m, b"\0", b"\0")) == [b"k"]


# -- Range ------------------------------------------------------------------------------------------
# final: a "0" c2 m5 v2 | ab "9" c6 m6 v1 | b "4" c3 m9 v3 | c "2" c4 m4 v1 | d "2" c7 m7 v1
RANGE_SETUP = [put(b"a", b"3"), put(b"b", b"1"), put(b"c", b"2"), put(b"a", b"0"), put(b"ab", b"9"),
               put(b"d", b"2"), put(b"b", b"5"), put(b"b", b"4")]
ALL = [b"a", b"ab", b"b", b"c", b"d"]


@pytest.mark.parametrize("kw, want, count, more", [
    pytest.param(dict(key=b"a"), [b"a"], 1, False, id="single-key"),
    pytest.param(dict(key=b"zz"), [], 0, False, id="missing-key"),
    pytest.param(dict(key=b"a", range_end=prefix_end(b"a")), [b"a", b"ab"], 2, False, id="prefix"),
    pytest.param(dict(key=b"ab", range_end=b"c"), [b"ab", b"b"], 2, False, id="interval-end-exclusive"),
    pytest.param(dict(key=b"b", range_end=b"\0"), [b"b", b"c", b"d"], 3, False, id="from-key"),
    pytest.param(dict(key=b"\0", range_end=b"\0"), ALL, 5, False, id="all-keys"),
    pytest.param(dict(key=b"c", range_end=b"a"), [], 0, False, id="inverted-interval-is-empty"),
    pytest.param(dict(key=b"\0", range_end=b"\0", limit=2), [b"a", b"ab"], 5, True, id="limit"),
    pytest.param(dict(key=b"\0", range_end=b"\0", limit=5), ALL, 5, False, id="limit-equal-to-count"),
    pytest.param(dict(key=b"\0", range_end=b"\0", limit=6), ALL, 5, False, id="limit-above-count"),
    pytest.param(dict(key=b"\0", range_end=b"\0", sort_order=R.DESCEND), ALL[::-1], 5, False, id="key-descend"),
    pytest.param(dict(key=b"\0", range_end=b"\0", sort_target=R.VERSION, sort_order=R.ASCEND),
                 [b"ab", b"c", b"d", b"a", b"b"], 5, False, id="version-ascend-ties-in-key-order"),
    pytest.param(dict(key=b"\0", range_end=b"\0", sort_target=R.VERSION),
                 [b"ab", b"c", b"d", b"a", b"b"], 5, False, id="non-key-target-without-order-ascends"),
    pytest.param(dict(key=b"\0", range_end=b"\0", sort_target=R.VERSION, sort_order=R.DESCEND),
                 [b"b", b"a", b"ab", b"c", b"d"], 5, False, id="version-descend"),
    pytest.param(dict(key=b"\0", range_end=b"\0", sort_target=R.CREATE, sort_order=R.ASCEND),
                 [b"a", b"b", b"c", b"ab", b"d"], 5, False, id="create-ascend"),
    pytest.param(dict(key=b"\0", range_end=b"\0", sort_target=R.CREATE, sort_order=R.DESCEND),
                 [b"d", b"ab", b"c", b"b", b"a"], 5, False, id="create-descend"),
    pytest.param(dict(key=b"\0", range_end=b"\0", sort_target=R.MOD, sort_order=R.ASCEND),
                 [b"c", b"a", b"ab", b"d", b"b"], 5, False, id="mod-ascend"),
    pytest.param(dict(key=b"\0", range_end=b"\0", sort_target=R.MOD, sort_order=R.DESCEND),
                 [b"b", b"d", b"ab", b"a", b"c"], 5, False, id="mod-descend"),
    pytest.param(dict(key=b"\0", range_end=b"\0", sort_target=R.VALUE, sort_order=R.ASCEND),
                 [b"a", b"c", b"d", b"b", b"ab"], 5, False, id="value-ascend"),
    pytest.param(dict(key=b"\0", range_end=b"\0", sort_target=R.VALUE, sort_order=R.DESCEND),
                 [b"ab", b"b", b"c", b"d", b"a"], 5, False, id="value-descend"),
    pytest.param(dict(key=b"\0", range_end=b"\0", sort_target=R.MOD, sort_order=R.DESCEND, limit=2),
                 [b"b", b"d"], 5, True, id="limit-after-sort"),
    pytest.param(dict(key=b"\0", range_end=b"\0", min_mod_revision=6), [b"ab", b"b", b"d"], 5, False,
                 id="min-mod"),
    pytest.param(dict(key=b"\0", range_end=b"\0", max_mod_revision=6), [b"a", b"ab", b"c"], 5, False,
                 id="max-mod"),
    pytest.param(dict(key=b"\0", range_end=b"\0", min_create_revision=4), [b"ab", b"c", b"d"], 5, False,
                 id="min-create"),
    pytest.param(dict(key=b"\0", range_end=b"\0", max_create_revision=3), [b"a", b"b"], 5, False,
                 id="max-create"),
    pytest.param(dict(key=b"\0", range_end=b"\0", min_mod_revision=5, max_mod_revision=7),
                 [b"a", b"ab", b"d"], 5, False, id="min-and-max-mod"),
    pytest.param(dict(key=b"\0", range_end=b"\0", min_mod_revision=6, limit=2), [b"ab", b"b"], 5, True,
                 id="limit-after-filter"),
    pytest.param(dict(key=b"\0", range_end=b"\0", min_mod_revision=9, limit=2), [b"b"], 5, False,
                 id="filter-leaves-fewer-than-limit"),
    pytest.param(dict(key=b"\0", range_end=b"\0", count_only=True), [], 5, False, id="count-only"),
    pytest.param(dict(key=b"a", range_end=b"b", count_only=True, limit=1), [], 2, False, id="count-only-prefix"),
])
def test_range(kw, want, count, more):
    """Range selects etcd's interval, counts before filters and limit, sorts, then truncates and sets more."""
    m = run(*RANGE_SETUP)
    r = m.range(R(**kw))
    assert (keys(r), r.count, r.more) == (want, count, more)


def test_range_keys_only_clears_only_the_value():
    """keys_only returns every field but the value."""
    m = run(*RANGE_SETUP)
    r = get(m, b"a", prefix_end(b"a"), keys_only=True)
    assert [kvt(kv) for kv in r.kvs] == [(b"a", b"", 2, 5, 2, 0), (b"ab", b"", 6, 6, 1, 0)]


# 2: foo=1 | 3: foo=2 | 4: bar=x | 5: del foo | 6: foo=3
HISTORY_SETUP = [put(b"foo", b"1"), put(b"foo", b"2"), put(b"bar", b"x"), delete(b"foo"), put(b"foo", b"3")]
FOO3, BARX = (b"foo", b"3", 6, 6, 1, 0), (b"bar", b"x", 4, 4, 1, 0)


@pytest.mark.parametrize("compact, revision, want", [
    pytest.param(None, 1, [], id="rev-1-is-empty"),
    pytest.param(None, 2, [(b"foo", b"1", 2, 2, 1, 0)], id="rev-2"),
    pytest.param(None, 3, [(b"foo", b"2", 2, 3, 2, 0)], id="rev-3"),
    pytest.param(None, 4, [BARX, (b"foo", b"2", 2, 3, 2, 0)], id="rev-4"),
    pytest.param(None, 5, [BARX], id="rev-5-after-delete"),
    pytest.param(None, 6, [BARX, FOO3], id="rev-6-current"),
    pytest.param(None, 0, [BARX, FOO3], id="rev-0-means-current"),
    pytest.param(None, -3, [BARX, FOO3], id="negative-rev-means-current"),
    pytest.param(None, 7, FUTURE, id="future-rev"),
    pytest.param(4, 3, COMPACTED, id="below-compact-rev"),
    pytest.param(4, 4, [BARX, (b"foo", b"2", 2, 3, 2, 0)], id="at-compact-rev"),
    pytest.param(4, 5, [BARX], id="above-compact-rev"),
    pytest.param(6, 5, COMPACTED, id="compacted-at-current"),
    pytest.param(6, 6, [BARX, FOO3], id="at-compact-rev-equal-to-current"),
])
def test_range_at_past_revisions(compact, revision, want):
    """Range at a revision sees the store then; future or compacted revisions are OutOfRange, the compact one works."""
    m = run(*HISTORY_SETUP)
    if compact is not None:
        assert err(m.apply(("compact", compact))) is None
    if isinstance(want, tuple):
        assert range_error(m, revision=revision) == want
    else:
        assert everything(m, revision) == want


# -- Compaction -------------------------------------------------------------------------------------
# 2: a=1 | 3: a=2 | 4: b=1 | 5: del b | 6: c=1 | 7: a=3
COMPACT_SETUP = [put(b"a", b"1"), put(b"a", b"2"), put(b"b", b"1"), delete(b"b"), put(b"c", b"1"), put(b"a", b"3")]


@pytest.mark.parametrize("rev, retained", [
    pytest.param(2, {b"a": [2, 3, 7], b"b": [4, 5], b"c": [6]}, id="at-2"),
    pytest.param(3, {b"a": [3, 7], b"b": [4, 5], b"c": [6]}, id="at-3-drops-older-version"),
    pytest.param(4, {b"a": [3, 7], b"b": [4, 5], b"c": [6]}, id="at-4-keeps-latest-at-or-below"),
    pytest.param(5, {b"a": [3, 7], b"c": [6]}, id="at-5-drops-tombstone-and-key"),
    pytest.param(7, {b"a": [7], b"c": [6]}, id="at-current"),
])
def test_compaction_keeps_latest_version_at_or_below_and_drops_tombstones(rev, retained):
    """Compaction keeps each key's latest record at or below it, drops the rest and tombstones, changes no read."""
    m = run(*COMPACT_SETUP)
    before = {r: everything(m, r) for r in range(rev, m.rev + 1)}
    a = m.apply(("compact", rev))
    assert err(a) is None and a.revision == 7 == m.rev and m.compact_rev == rev
    assert {k: [r.mod for r in recs] for k, recs in m.keys.items()} == retained
    assert {r: everything(m, r) for r in range(rev, m.rev + 1)} == before
    assert [r for r, _ in m.events_between(0, 99)] == list(range(rev, 8))


@pytest.mark.parametrize("first, second, want", [
    pytest.param(4, 4, COMPACTED, id="same-rev-twice"),
    pytest.param(4, 3, COMPACTED, id="below-compact-rev"),
    pytest.param(4, 8, FUTURE, id="future-rev"),
    pytest.param(4, 7, None, id="current-rev"),
    pytest.param(4, 5, None, id="forward"),
])
def test_compact_errors(first, second, want):
    """Compacting at or below the compact revision is refused as compacted, beyond the current one as future."""
    m = run(*COMPACT_SETUP, ("compact", first))
    a = m.apply(("compact", second))
    assert err(a) == want and a.revision == 7
    assert m.compact_rev == (first if want else second)


# -- Leases -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("cmds, want_err, want_resp", [
    pytest.param([grant(7, 30)], None, rpc_pb2.LeaseGrantResponse(ID=7, TTL=30), id="grant"),
    pytest.param([grant(7, 30), grant(7, 60)], LEASE_EXISTS, None, id="duplicate-id"),
    pytest.param([grant(7, 9_000_000_000)], None, rpc_pb2.LeaseGrantResponse(ID=7, TTL=9_000_000_000), id="max-ttl"),
    pytest.param([grant(7, 9_000_000_001)], LEASE_TTL_TOO_LARGE, None, id="ttl-too-large"),
    pytest.param([grant(0, 30)], LEASE_ID_NOT_POSITIVE, None, id="id-zero"),
    pytest.param([("lease_revoke", 7)], LEASE_NOT_FOUND, None, id="revoke-unknown"),
    pytest.param([grant(7), ("lease_revoke", 7), ("lease_revoke", 7)], LEASE_NOT_FOUND, None, id="revoke-twice"),
    pytest.param([grant(7), ("lease_revoke", 7), grant(7, 40)], None, rpc_pb2.LeaseGrantResponse(ID=7, TTL=40),
                 id="grant-again-after-revoke"),
    pytest.param([put(b"a", lease=7)], LEASE_NOT_FOUND, None, id="put-with-unknown-lease"),
    pytest.param([grant(7), ("lease_revoke", 7), put(b"a", lease=7)], LEASE_NOT_FOUND, None,
                 id="put-with-revoked-lease"),
    pytest.param([grant(7, 30), ("lease_keepalive", 7)], None, 30, id="keepalive-returns-ttl"),
    pytest.param([("lease_keepalive", 7)], None, 0, id="keepalive-unknown-returns-0"),
])
def test_lease_commands(cmds, want_err, want_resp):
    """Lease grant, revoke, keepalive and put-with-lease answer as etcd does, without moving the revision."""
    m = MVCC()
    for c in cmds[:-1]:
        assert m.apply(c).error is None
    a = m.apply(cmds[-1])
    assert err(a) == want_err
    if want_err is None:
        assert a.response == want_resp
    assert a.revision == 1 == m.rev


def test_revoke_deletes_attached_keys_at_one_revision():
    """Revoking a lease deletes exactly its keys, in key order, at one new revision, with their previous records."""
    m = run(grant(7), grant(8), put(b"b", b"1", lease=7), put(b"a", b"2", lease=7), put(b"c", lease=8), put(b"d"))
    a = m.apply(("lease_revoke", 7))
    assert err(a) is None and a.revision == 6
    assert [ev(e) for e in a.events] == [(DELETE, b"a", None, 0, 6, 0, 0, (b"2", 3, 3, 1, 7)),
                                         (DELETE, b"b", None, 0, 6, 0, 0, (b"1", 2, 2, 1, 7))]
    assert keys(get(m, b"\0", b"\0")) == [b"c", b"d"]
    assert 7 not in m.leases and m.apply(("lease_keepalive", 7)).response == 0


@pytest.mark.parametrize("cmds, revoked, survivors", [
    pytest.param([put(b"a", lease=7), put(b"a", lease=8)], 7, [b"a"], id="moved-to-other-lease"),
    pytest.param([put(b"a", lease=7), put(b"a", lease=8)], 8, [], id="new-lease-owns-it"),
    pytest.param([put(b"a", lease=7), put(b"a")], 7, [b"a"], id="put-without-lease-detaches"),
    pytest.param([put(b"a", lease=7), delete(b"a"), put(b"a")], 7, [b"a"], id="delete-detaches"),
    pytest.param([put(b"a", lease=7), put(b"a", b"v", ignore_lease=True)], 7, [], id="ignore-lease-keeps-it"),
    pytest.param([put(b"a", b"v", lease=7), put(b"a", ignore_value=True, lease=8)], 7, [b"a"],
                 id="ignore-value-with-new-lease-moves-it"),
])
def test_put_moves_keys_between_leases(cmds, revoked, survivors):
    """A put that changes a key's lease detaches it from the old one, so revoking the old lease leaves it alone."""
    m = run(grant(7), grant(8), *cmds)
    rev = m.rev
    a = m.apply(("lease_revoke", revoked))
    assert err(a) is None
    assert keys(get(m, b"\0", b"\0")) == survivors
    assert a.revision == (rev if survivors else rev + 1)


# -- ignore_value / ignore_lease --------------------------------------------------------------------
@pytest.mark.parametrize("kw, want", [
    pytest.param(dict(value=b"new"), (b"a", b"new", 2, 3, 2, 0), id="plain-put-clears-lease"),
    pytest.param(dict(ignore_value=True, lease=8), (b"a", b"old", 2, 3, 2, 8), id="ignore-value"),
    pytest.param(dict(value=b"new", ignore_lease=True), (b"a", b"new", 2, 3, 2, 7), id="ignore-lease"),
    pytest.param(dict(ignore_value=True, ignore_lease=True), (b"a", b"old", 2, 3, 2, 7), id="ignore-both"),
    pytest.param(dict(key=b"zz", ignore_value=True), KEY_NOT_FOUND, id="ignore-value-missing-key"),
    pytest.param(dict(key=b"zz", value=b"v", ignore_lease=True), KEY_NOT_FOUND, id="ignore-lease-missing-key"),
    pytest.param(dict(value=b"v", ignore_value=True), VALUE_PROVIDED, id="ignore-value-with-value"),
    pytest.param(dict(lease=8, ignore_lease=True), LEASE_PROVIDED, id="ignore-lease-with-lease"),
])
def test_put_ignore_value_and_ignore_lease(kw, want):
    """ignore_value/ignore_lease keep the key's value/lease; refused on a missing key or with the field also set."""
    m = run(grant(7), grant(8), put(b"a", b"old", lease=7))
    a = m.apply(("put", rpc_pb2.PutRequest(**{"key": b"a", **kw}).SerializeToString()))
    if isinstance(want[0], str):
        assert err(a) == want and a.revision == 2 == m.rev
    else:
        assert err(a) is None and a.revision == 3
        assert everything(m) == [want]


# -- History ----------------------------------------------------------------------------------------
def test_history_events_carry_records_and_prev_records():
    """events_between yields each revision's events in op order, with new and previous records."""
    m = run(grant(7), put(b"a", b"1"), put(b"a", b"2", lease=7),
            txn(success=[op_put(b"b", b"x"), op_del(b"a")]), ("lease_revoke", 7), put(b"a", b"3"))
    got = [(r, [ev(e) for e in evs]) for r, evs in m.events_between(2, 5)]
    assert got == [
        (2, [(PUT, b"a", b"1", 2, 2, 1, 0, None)]),
        (3, [(PUT, b"a", b"2", 2, 3, 2, 7, (b"1", 2, 2, 1, 0))]),
        (4, [(PUT, b"b", b"x", 4, 4, 1, 0, None), (DELETE, b"a", None, 0, 4, 0, 0, (b"2", 2, 3, 2, 7))]),
        (5, [(PUT, b"a", b"3", 5, 5, 1, 0, None)]),  # the revoke found no live key: no revision
    ]
    assert [r for r, _ in m.events_between(3, 4)] == [3, 4]
    assert list(m.events_between(6, 99)) == []


def test_event_to_pb_shapes_put_and_delete_like_etcd():
    """A DELETE event's kv carries only key and mod_revision; prev_kv is filled only when asked for."""
    m = run(put(b"a", b"1"))
    e = m.apply(delete(b"a")).events[0]
    assert event_to_pb(e, prev_kv=False) == kv_pb2.Event(type=DELETE, kv=kv_pb2.KeyValue(key=b"a", mod_revision=3))
    with_prev = event_to_pb(e, prev_kv=True)
    assert kvt(with_prev.prev_kv) == (b"a", b"1", 2, 2, 1, 0)
    p = event_to_pb(m.apply(put(b"a", b"2")).events[0], prev_kv=True)
    assert p.type == PUT and kvt(p.kv) == (b"a", b"2", 4, 4, 1, 0) and not p.HasField("prev_kv")


# -- hash_kv and snapshots --------------------------------------------------------------------------
def test_hash_kv_agrees_between_replicas_and_moves_with_state():
    """Two MVCCs fed the same commands hash equal at every revision; one more write changes the current hash only."""
    cmds = HISTORY_SETUP + [grant(7), put(b"z", lease=7), ("compact", 3), txn(success=[op_put(b"y")])]
    m1, m2 = run(*cmds), run(*cmds)
    assert [m1.hash_kv(r) for r in range(3, m1.rev + 1)] == [m2.hash_kv(r) for r in range(3, m2.rev + 1)]
    h = m1.hash_kv()
    m1.apply(put(b"y", b"other"))
    assert m1.hash_kv() != h and m1.hash_kv(m2.rev) == m2.hash_kv()


def test_pickled_mvcc_round_trips():
    """A pickle (protocol 5) of a store with leases, members, compaction and history acts like the original."""
    m = run(*HISTORY_SETUP, grant(7), put(b"z", lease=7), ("publish", 1, "m1", ["http://p"], ["http://c"]),
            ("compact", 4))
    m2 = pickle.loads(pickle.dumps(m, protocol=5))
    assert (m2.rev, m2.compact_rev, m2.members, m2.leases) == (m.rev, m.compact_rev, m.members, m.leases)
    assert [everything(m2, r) for r in range(4, m2.rev + 1)] == [everything(m, r) for r in range(4, m.rev + 1)]
    assert list(m2.events_between(0, 99)) == list(m.events_between(0, 99))
    for c in [("lease_revoke", 7), put(b"foo", b"4"), txn(success=[op_del(b"\0", b"\0")])]:
        assert m2.apply(c) == m.apply(c)
    assert m2.hash_kv() == m.hash_kv()
