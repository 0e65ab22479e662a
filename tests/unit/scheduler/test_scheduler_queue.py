"""The scheduling queue (scheduler/queue.py): FIFO, backoff, parking of unschedulable pods, moves on
cluster events, the in-flight rule; table tests plus a Hypothesis property over random histories."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.queue import Outcome, SchedulingQueue, backoff_duration

pytestmark = pytest.mark.timeout(60)


def q(**kw) -> SchedulingQueue:
    return SchedulingQueue(initial_backoff=kw.pop("initial", 1.0), max_backoff=kw.pop("maximum", 10.0),
                           max_unschedulable=kw.pop("flush", 60.0))


@pytest.mark.parametrize("attempts,expected", [
    pytest.param(1, 1.0, id="first failure: initial"),
    pytest.param(2, 2.0, id="second: doubled"),
    pytest.param(4, 8.0, id="fourth: 8"),
    pytest.param(5, 10.0, id="capped"),
    pytest.param(500, 10.0, id="capped far out"),
])
def test_backoff_duration_doubles_up_to_the_cap(attempts, expected):
    assert backoff_duration(attempts, 1.0, 10.0) == expected


def test_keys_come_out_first_in_first_out_and_once():
    sq = q()
    for key in ("a", "b", "a", "c"):
        sq.add(key, now=0)
    assert [sq.pop(now=0) for _ in range(4)] == ["a", "b", "c", None]
    assert sq.lengths().in_flight == 3


def test_an_unschedulable_pod_stays_parked_until_the_cluster_changes():
    sq = q()
    sq.add("a", now=0)
    assert sq.pop(now=0) == "a"
    sq.done("a", Outcome.UNSCHEDULABLE, now=0)
    assert sq.where("a") == "unschedulable"
    # Time alone does not bring it back (short of the flush), nor does a status-only update.
    sq.add("a", now=5, changed=False)
    assert sq.pop(now=30) is None and sq.next_due() is None
    assert sq.move_all(now=30) == 1
    assert sq.pop(now=30) == "a"


def test_a_move_within_the_backoff_waits_for_the_backoff():
    sq = q()
    sq.add("a", now=0)
    sq.pop(now=0)
    sq.done("a", Outcome.UNSCHEDULABLE, now=0)
    sq.move_all(now=0.3)
    assert sq.where("a") == "backoff" and sq.next_due() == 1.0
    assert sq.pop(now=0.9) is None
    assert sq.pop(now=1.0) == "a"
    sq.done("a", Outcome.UNSCHEDULABLE, now=1.0)
    sq.move_all(now=1.5)                   # second failure: 2 s
    assert sq.next_due() == 3.0


def test_many_events_retry_a_parked_pod_at_most_once_per_backoff():
    sq = q()
    sq.add("a", now=0)
    tries = 0
    t = 0.0
    while t < 20:
        key = sq.pop(now=t)
        if key:
            tries += 1
            sq.done(key, Outcome.UNSCHEDULABLE, now=t)
        sq.move_all(now=t)                 # an event every 10 ms
        t = round(t + 0.01, 2)
    # attempts at 0, 1, 3, 7, 15: backoffs 1, 2, 4, 8 (then 10)
    assert tries == 5


def test_a_spec_change_of_a_parked_pod_requeues_it():
    sq = q()
    sq.add("a", now=0)
    sq.pop(now=0)
    sq.done("a", Outcome.UNSCHEDULABLE, now=0)
    sq.add("a", now=2, changed=True)
    assert sq.pop(now=2) == "a"


def test_the_flush_retries_pods_parked_too_long():
    sq = q(flush=60)
    for key in ("old", "new"):
        sq.add(key, now=0)
    sq.pop(now=0)
    sq.done("old", Outcome.UNSCHEDULABLE, now=0)
    sq.pop(now=50)
    sq.done("new", Outcome.UNSCHEDULABLE, now=50)
    assert sq.flush(now=61) == 1
    assert sq.pop(now=61) == "old" and sq.where("new") == "unschedulable"


def test_an_error_backs_off_and_success_forgets_the_attempts():
    sq = q()
    sq.add("a", now=0)
    sq.pop(now=0)
    sq.done("a", Outcome.ERROR, now=0.5)
    assert sq.where("a") == "backoff" and sq.next_due() == 1.5
    assert sq.pop(now=1.5) == "a" and sq.attempts("a") == 2
    sq.done("a", Outcome.SCHEDULED, now=2)
    assert sq.where("a") is None and sq.attempts("a") == 0 and sq.first_seen("a") is None


def test_an_add_while_in_flight_is_looked_at_once_more_after():
    sq = q()
    sq.add("a", now=0)
    assert sq.pop(now=0) == "a"
    sq.add("a", now=0.1)                   # e.g. re-created while its bind was on the wire
    sq.add("a", now=0.2)
    assert sq.pop(now=0.2) is None         # never handed out twice at once
    sq.done("a", Outcome.GONE, now=0.3)
    assert sq.pop(now=0.3) == "a" and sq.pop(now=0.3) is None


def test_a_status_only_update_while_in_flight_is_not_owed_a_look():
    sq = q()
    sq.add("a", now=0)
    sq.pop(now=0)
    sq.add("a", now=0.1, changed=False)
    sq.done("a", Outcome.SCHEDULED, now=0.2)
    assert "a" not in sq


def test_delete_drops_a_key_wherever_it_waits():
    sq = q()
    for key in ("act", "back", "park", "fly"):
        sq.add(key, now=0)
    sq.pop(now=0)                          # act: handed out; re-add to keep it active
    sq.done("act", Outcome.GONE, now=0)
    sq.add("act", now=0)
    sq.pop(now=0)
    sq.done("back", Outcome.ERROR, now=0)
    sq.pop(now=0)
    sq.done("park", Outcome.UNSCHEDULABLE, now=0)
    assert sq.pop(now=0) == "fly"
    sq.add("fly", now=0)                   # dirty
    for key in ("act", "back", "park", "fly"):
        sq.delete(key)
    sq.done("fly", Outcome.GONE, now=0)    # deleted: not re-queued although it was dirty
    assert sq.lengths() == sq.lengths().__class__(0, 0, 0, 0)
    assert sq.pop(now=100) is None and sq.next_due() is None
    sq.add("act", now=1)                   # a stale entry never hands out a key twice
    assert sq.pop(now=1) == "act" and sq.pop(now=1) is None


def test_done_of_a_key_not_in_flight_is_a_bug():
    with pytest.raises(ValueError, match="not in flight"):
        q().done("a", Outcome.GONE, now=0)


OPS = st.lists(st.tuples(st.sampled_from(["add", "add_same", "pop", "done", "move", "flush", "delete", "tick"]),
                         st.sampled_from(["a", "b", "c"]),
                         st.sampled_from(list(Outcome))), max_size=80)


@given(OPS)
def test_every_key_is_in_at_most_one_place_and_never_handed_out_twice(ops):
    sq = q(initial=0.5, maximum=2.0, flush=5.0)
    now = 0.0
    flying: set[str] = set()
    for op, key, outcome in ops:
        if op == "add":
            sq.add(key, now=now)
        elif op == "add_same":
            sq.add(key, now=now, changed=False)
        elif op == "pop":
            got = sq.pop(now=now)
            if got is not None:
                assert got not in flying
                flying.add(got)
        elif op == "done" and key in flying:
            sq.done(key, outcome, now=now)
            flying.discard(key)
        elif op == "move":
            sq.move_all(now=now)
        elif op == "flush":
            sq.flush(now=now)
        elif op == "delete":
            sq.delete(key)
        elif op == "tick":
            now += 0.7
        for k in "abc":
            places = [k in sq._in_active, k in sq._backoff, k in sq._unschedulable, k in flying]
            assert sum(places) <= 1, (op, k, places)
            assert (sq.where(k) == "in_flight") == (k in flying)
        assert sq.lengths().in_flight == len(flying)
    # Everything not in flight and not parked comes out eventually, each key once.
    for key in list(flying):
        sq.done(key, Outcome.GONE, now=now)
    sq.move_all(now=now)
    seen = []
    while (key := sq.pop(now=now + 100)) is not None:
        seen.append(key)
    assert len(seen) == len(set(seen))
