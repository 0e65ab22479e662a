"""Unit tests of the watch-guarantee validators (tests/chaos/watchcheck.py) on hand-made event streams."""
from __future__ import annotations

import pytest

from skiffpb.etcd.mvccpb import kv_pb2
from tests.chaos.watchcheck import Write, event_tuple, history_problems, replay_problems, watcher_problems

pytestmark = pytest.mark.timeout(30)


def history(writes):
    """Events a correct store emits for `writes` [(revision, [("PUT", key, value) | ("DELETE", key, None)])]."""
    state, events = {}, []
    for rev, ops in writes:
        for kind, key, value in ops:
            before = state.get(key)
            if kind == "PUT":
                kv = (key, value, before[2] if before else rev, rev, before[4] + 1 if before else 1)
                state[key] = kv
            else:
                kv = (key, "", 0, rev, 0)
                del state[key]
            events.append((rev, kind, key, kv, before))
    return events


WRITES = [
    (2, [("PUT", "a", "v1")]),
    (3, [("PUT", "a", "v2"), ("PUT", "b", "v3")]),
    (4, [("DELETE", "a", None)]),
    (5, [("PUT", "a", "v4")]),
    (6, [("DELETE", "b", None), ("PUT", "c", "v5")]),
]
REF = history(WRITES)
FINAL = {"a": ("a", "v4", 5, 5, 1), "c": ("c", "v5", 6, 6, 1)}


def per_revision(events):
    out = []
    for e in events:
        if out and out[-1][-1] == e[0]:
            out[-1].append(e[0])
        else:
            out.append([e[0]])
    return out


def test_correct_watcher_has_no_problems():
    """A watcher that saw exactly the full history, one response per revision, passes."""
    assert watcher_problems(REF, per_revision(REF), REF, until=6) == []
    assert replay_problems(REF) == []


def test_events_after_the_tombstone_are_ignored():
    """Events beyond the tombstone revision are outside the comparison."""
    extra = REF + [(7, "PUT", "z", ("z", "x", 7, 7, 1), None)]
    assert watcher_problems(extra, per_revision(extra), REF, until=6) == []


@pytest.mark.parametrize("events,responses,finding", [
    pytest.param(REF[:2] + REF[3:], per_revision(REF[:2] + REF[3:]), "differ", id="gap"),
    pytest.param(REF[:3] + REF[2:], per_revision(REF[:3]) + per_revision(REF[2:]), "duplicate", id="duplicate"),
    pytest.param([REF[0], REF[3], REF[1], REF[2]] + REF[4:], [[2], [4], [3, 3], [5], [6, 6]], "not ordered",
                 id="out-of-order"),
    pytest.param(REF, [[2], [3], [3], [4], [5], [6, 6]], "split across", id="revision-split"),
    pytest.param(REF[:-1], per_revision(REF[:-1]), "differ", id="missing-tail"),
])
def test_watcher_violations_are_found(events, responses, finding):
    """A watcher stream with a gap, repeat, reordering or split revision is reported."""
    problems = watcher_problems(events, responses, REF, until=6)
    assert any(finding in p for p in problems), problems


def test_wrong_prev_kv_and_version_are_found():
    """An event whose prev_kv or version disagrees with the earlier events is reported."""
    bad = list(REF)
    rev, kind, key, kv, prev = bad[1]
    bad[1] = (rev, kind, key, kv, None)                       # prev_kv missing
    rev, kind, key, kv, prev = bad[4]
    bad[4] = (rev, kind, key, kv[:4] + (7,), prev)            # version wrong
    problems = replay_problems(bad)
    assert len(problems) == 2 and "prev_kv" in problems[0] and "version" in problems[1], problems


def test_history_agrees_with_writes_and_range():
    """The full history matches the acknowledged writes, the unknown ones and a final Range."""
    writes = [Write(ops, rev, deleted=1 if any(k == "DELETE" for k, _, _ in ops) else 0) for rev, ops in WRITES]
    writes.append(Write([("DELETE", "zz", None)], 6, deleted=0))   # deleted nothing: no event of its own
    writes.append(Write([("PUT", "q", "lost")], None))              # unknown outcome, never applied
    assert history_problems(REF, writes, FINAL) == []


@pytest.mark.parametrize("mutate,finding", [
    pytest.param(lambda ref, ws: (ref[:1] + ref[3:], ws), "acknowledged write", id="acknowledged-write-missing"),
    pytest.param(lambda ref, ws: (ref, ws[1:]), "nobody wrote", id="value-nobody-wrote"),
    pytest.param(lambda ref, ws: (ref[:-1], ws[:-1]), "Range", id="range-disagrees"),
])
def test_history_violations_are_found(mutate, finding):
    """A full history missing an acknowledged write, inventing a value, or disagreeing with Range is reported."""
    writes = [Write(ops, rev, deleted=1 if any(k == "DELETE" for k, _, _ in ops) else 0) for rev, ops in WRITES]
    ref, ws = mutate(REF, writes)
    problems = history_problems(ref, ws, FINAL)
    assert any(finding in p for p in problems), problems


def test_event_tuple_reads_protobuf_events():
    """event_tuple flattens mvccpb.Event, with prev_kv None when unset."""
    put = kv_pb2.Event(type=kv_pb2.Event.PUT, kv=kv_pb2.KeyValue(key=b"a", value=b"v", create_revision=2,
                                                                 mod_revision=2, version=1))
    assert event_tuple(put) == (2, "PUT", "a", ("a", "v", 2, 2, 1), None)
    dele = kv_pb2.Event(type=kv_pb2.Event.DELETE, kv=kv_pb2.KeyValue(key=b"a", mod_revision=3),
                        prev_kv=kv_pb2.KeyValue(key=b"a", value=b"v", create_revision=2, mod_revision=2, version=1))
    assert event_tuple(dele) == (3, "DELETE", "a", ("a", "", 0, 3, 0), ("a", "v", 2, 2, 1))
