"""controller/expectations.py: the record a controller keeps of creations and deletions it asked
for, as Kubernetes' (UID-tracking) ControlleeExpectations: table tests, then a Hypothesis property
that observing exactly what was expected, in any order and with duplicates, fulfils it."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from controller.expectations import EXPECTATIONS_TTL, Expectations, satisfied

pytestmark = pytest.mark.timeout(60)

T0 = 1_800_000_000.0


def test_no_record_is_satisfied():
    """A key never synced (or after a restart) may act on what the cache shows."""
    assert satisfied(None, T0)


@pytest.mark.parametrize("record, fulfilled", [
    pytest.param(Expectations.expecting(now=T0), True, id="nothing-expected"),
    pytest.param(Expectations.expecting(add=2, now=T0), False, id="two-creations"),
    pytest.param(Expectations.expecting(add=2, now=T0).creation_observed(), False, id="one-of-two-seen"),
    pytest.param(Expectations.expecting(add=2, now=T0).creation_observed().creation_observed(), True,
                 id="both-seen"),
    pytest.param(Expectations.expecting(add=2, now=T0).creation_observed(count=2), True, id="two-skipped-at-once"),
    pytest.param(Expectations.expecting(add=1, now=T0).creation_observed(count=5), True, id="never-below-zero"),
    pytest.param(Expectations.expecting(delete=["u1", "u2"], now=T0).deletion_observed("u1"), False,
                 id="one-deletion-left"),
    pytest.param(Expectations.expecting(delete=["u1"], now=T0).deletion_observed("u1").deletion_observed("u1"), True,
                 id="deletion-seen-twice-counts-once"),
    pytest.param(Expectations.expecting(delete=["u1"], now=T0).deletion_observed("other"), False,
                 id="unknown-uid-changes-nothing"),
])
def test_fulfilled(record, fulfilled):
    """Fulfilled once every expected creation and deletion has been observed."""
    assert record.fulfilled is fulfilled
    assert record.satisfied(T0) is fulfilled
    assert satisfied(record, T0) is fulfilled


def test_counts_and_immutability():
    """Observations return new records; the old one is unchanged."""
    r = Expectations.expecting(add=3, delete=["a", "b"], now=T0)
    r2 = r.creation_observed().deletion_observed("a")
    assert (r.add, r.delete) == (3, 2)
    assert (r2.add, r2.delete, r2.deleting) == (2, 1, frozenset({"b"}))
    assert r2.timestamp == T0
    with pytest.raises(ValueError, match="add: must be >= 0"):
        Expectations.expecting(add=-1, now=T0)


@pytest.mark.parametrize("age, ok", [
    pytest.param(EXPECTATIONS_TTL - 1, False, id="young"),
    pytest.param(EXPECTATIONS_TTL, False, id="at-ttl"),
    pytest.param(EXPECTATIONS_TTL + 0.5, True, id="expired"),
])
def test_expiry(age, ok):
    """An unfulfilled record older than the TTL no longer holds the controller back."""
    r = Expectations.expecting(add=1, now=T0)
    assert r.expired(T0 + age) is ok
    assert satisfied(r, T0 + age) is ok
    assert satisfied(r, T0 + 10, ttl=5)


@given(st.integers(0, 6), st.sets(st.text("abcdef", min_size=1, max_size=3), max_size=6), st.randoms(use_true_random=False))
def test_observing_everything_in_any_order_fulfils(adds, uids, rnd):
    """Each expected creation and deletion observed (deletions perhaps twice), in any order: fulfilled
    exactly at the last one, and not before."""
    r = Expectations.expecting(add=adds, delete=uids, now=T0)
    events = [("add", None)] * adds + [("del", u) for u in uids] + [("del", u) for u in uids if rnd.random() < 0.5]
    rnd.shuffle(events)
    firsts = {u: events.index(("del", u)) for u in uids}
    last_needed = max([i for i, e in enumerate(events) if e[0] == "add"] + list(firsts.values()), default=-1)
    assert r.fulfilled is (last_needed == -1)
    for i, (kind, uid) in enumerate(events):
        r = r.creation_observed() if kind == "add" else r.deletion_observed(uid)
        assert r.fulfilled is (i >= last_needed), (i, last_needed)
