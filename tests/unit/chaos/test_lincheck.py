"""Unit tests of the linearizability checker (tests/chaos/lincheck.py): hand-written histories, and
Hypothesis properties over histories produced by a sequential etcd model. No sockets."""
from __future__ import annotations

import random
import time

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.chaos.lincheck import (INF, Cas, CasResult, Delete, DeleteResult, Get, GetResult, Operation, Put,
                                  PutResult, check)

pytestmark = pytest.mark.timeout(120)


# --- builders for hand-written histories (times are plain integers; time_scale=1) ---------------------
def put(c, call, ret, key, value, rev):
    return Operation(c, call, ret, Put(key, value), PutResult(rev))


def get(c, call, ret, key, value, mod, header=0, version=None):
    return Operation(c, call, ret, Get(key), GetResult(value, mod, header, version))


def cas(c, call, ret, key, expected, value, succeeded, rev, current=None):
    return Operation(c, call, ret, Cas(key, expected, value), CasResult(succeeded, rev, current))


def delete(c, call, ret, key, deleted, rev):
    return Operation(c, call, ret, Delete(key), DeleteResult(deleted, rev))


def unknown(c, call, request):
    return Operation.unknown(c, call, request)


def run(history, **kw):
    return check(history, time_scale=1, **kw)


LINEARIZABLE = [
    pytest.param([
        get(1, 0, 1, "k", None, 0, header=1, version=0),
        put(1, 2, 3, "k", "a", 2),
        get(1, 4, 5, "k", "a", 2, header=2, version=1),
        cas(1, 6, 7, "k", 2, "b", True, 3),
        get(2, 8, 9, "k", "b", 3, header=3, version=2),
    ], id="sequential-put-get-cas"),
    pytest.param([
        # Two overlapping puts applied in the opposite order to their calls; a later read sees the
        # one called first, because it was applied last.
        put(1, 0, 10, "k", "a", 3),
        put(2, 1, 11, "k", "b", 2),
        get(3, 12, 13, "k", "a", 3, header=3, version=2),
    ], id="overlapping-puts-applied-in-reverse"),
    pytest.param([
        put(1, 0, 1, "k", "a", 2),
        put(2, 2, 20, "k", "b", 3),
        get(3, 3, 4, "k", "a", 2, header=2),    # during the put: still old...
        get(3, 5, 6, "k", "b", 3, header=3),    # ...then new...
        get(4, 7, 8, "k", "b", 3, header=3),    # ...and never old again
    ], id="reads-during-a-slow-put"),
    pytest.param([
        put(1, 0, 1, "k", "a", 2),
        cas(2, 2, 6, "k", 2, "b", True, 3),
        cas(3, 3, 7, "k", 2, "c", False, 3, current=("b", 3)),
        get(1, 8, 9, "k", "b", 3, header=3, version=2),
    ], id="concurrent-cas-one-wins"),
    pytest.param([
        unknown(1, 0, Put("k", "a")),
        get(2, 5, 6, "k", "a", 2, header=2, version=1),
    ], id="unknown-put-took-effect-observed"),
    pytest.param([
        put(1, 0, 1, "k", "a", 2),
        unknown(1, 2, Put("k", "b")),
        get(2, 5, 6, "k", "a", 2, header=2, version=1),
        get(2, 7, 8, "k", "a", 2, header=2, version=1),
    ], id="unknown-put-did-not-take-effect"),
    pytest.param([
        put(1, 0, 1, "k", "a", 2),
        unknown(1, 2, Put("k", "b")),
        put(2, 5, 6, "k", "c", 4),
        get(2, 7, 8, "k", "c", 4, header=4, version=3),   # version 3: the unknown put happened
    ], id="unknown-put-took-effect-unobserved"),
    pytest.param([
        put(1, 0, 1, "k", "a", 2),
        unknown(1, 2, Cas("k", 2, "b")),
        # Only explained by the unknown CAS having moved mod_revision off 2.
        cas(2, 5, 6, "k", 2, "c", False, 3),
        put(2, 7, 8, "k", "d", 4),
        get(2, 9, 10, "k", "d", 4, header=4, version=3),
    ], id="unknown-cas-explains-a-failed-cas"),
    pytest.param([
        unknown(1, 0, Put("k", "a")),
        unknown(2, 1, Put("k", "b")),
        get(3, 5, 6, "k", "b", 3, header=3, version=2),
        get(3, 7, 8, "k", "b", 3, header=3, version=2),
    ], id="two-unknown-puts-both-applied"),
    pytest.param([
        put(1, 0, 1, "k", "a", 2),
        delete(1, 2, 3, "k", 1, 3),
        get(2, 4, 5, "k", None, 0, header=3, version=0),
        delete(2, 6, 7, "k", 0, 3),
        cas(1, 8, 9, "k", 0, "b", True, 4),
        get(2, 10, 11, "k", "b", 4, header=4, version=1),
    ], id="delete-then-create-by-cas"),
    pytest.param([
        put(1, 0, 1, "k1", "a", 2),
        put(2, 2, 3, "k2", "b", 3),
        get(1, 4, 5, "k1", "a", 2, header=3),
        get(2, 4, 5, "k2", "b", 3, header=3),
    ], id="two-keys"),
    pytest.param([
        put(1, 0, 1, "k", "a", 2),
        Operation(2, 2, 3, Get("k"), None),     # a failed read: dropped
        get(2, 4, 5, "k", "a", 2, header=2),
    ], id="failed-read-dropped"),
]


@pytest.mark.parametrize("history", LINEARIZABLE)
def test_accepts_linearizable_history(history):
    """A hand-written linearizable history is accepted."""
    report = run(history)
    assert report.ok, str(report)


NOT_LINEARIZABLE = [
    pytest.param([
        put(1, 0, 1, "k", "a", 2),
        put(1, 2, 3, "k", "b", 3),
        get(2, 4, 5, "k", "a", 2),
    ], {"not-linearizable"}, id="stale-read-after-acknowledged-write"),
    pytest.param([
        put(1, 0, 1, "k", "a", 2),
        put(1, 2, 3, "k", "b", 3),
        get(2, 4, 5, "k", "a", 2, header=3),
    ], {"not-linearizable", "stale-snapshot"}, id="stale-read-with-header-revision"),
    pytest.param([
        put(1, 0, 1, "k", "a", 2),
        get(2, 2, 3, "k", None, 0),
    ], {"not-linearizable"}, id="lost-acknowledged-write-read-absent"),
    pytest.param([
        put(1, 0, 1, "k", "a", 2),
        put(1, 2, 3, "k", "b", 3),     # acknowledged, then lost: the version shows it
        put(1, 4, 5, "k", "c", 4),
        get(2, 6, 7, "k", "c", 4, version=2),
    ], {"not-linearizable"}, id="lost-acknowledged-write-version"),
    pytest.param([
        put(1, 0, 1, "k", "a", 2),
        cas(1, 2, 3, "k", 2, "b", True, 3),
        cas(2, 4, 5, "k", 2, "c", True, 4),
    ], {"not-linearizable"}, id="cas-succeeds-twice-on-one-revision"),
    pytest.param([
        put(1, 0, 1, "k", "a", 2),
        cas(1, 2, 6, "k", 2, "b", True, 3),
        cas(2, 3, 7, "k", 2, "c", True, 4),
    ], {"not-linearizable"}, id="concurrent-cas-both-succeed"),
    pytest.param([
        put(1, 0, 1, "k", "a", 2),
        cas(1, 2, 3, "k", 2, "b", False, 2),
    ], {"not-linearizable"}, id="cas-fails-on-matching-revision"),
    pytest.param([
        put(1, 0, 1, "k", "a", 2),
        get(2, 2, 3, "k", "zzz", 7),
    ], {"not-linearizable", "never-written"}, id="read-of-value-never-written"),
    pytest.param([
        get(2, 0, 1, "k", "a", 2),
        put(1, 2, 3, "k", "a", 2),
    ], {"not-linearizable"}, id="read-from-the-future"),
    pytest.param([
        put(1, 0, 1, "k", "a", 2),
        get(2, 2, 3, "k", "a", 5),
    ], {"not-linearizable", "revision-mismatch"}, id="read-revision-differs-from-put"),
    pytest.param([
        put(1, 0, 1, "k", "a", 2),
        put(1, 2, 3, "k", "b", 5),
        get(1, 4, 5, "k", "b", 5, header=4),
    ], {"client-revision", "realtime-revision", "stale-snapshot"}, id="client-header-revision-decreases"),
    pytest.param([
        put(1, 0, 1, "k1", "a", 3),
        get(2, 2, 3, "k2", None, 0, header=2),
    ], {"realtime-revision"}, id="revision-goes-back-across-clients"),
    pytest.param([
        put(1, 0, 3, "k1", "a", 2),
        put(2, 1, 4, "k2", "b", 2),
    ], {"duplicate-revision"}, id="two-writes-one-revision"),
    pytest.param([
        put(1, 0, 1, "k", "a", 2),
        put(1, 2, 3, "k", "b", 2),
    ], {"not-linearizable", "client-revision", "realtime-revision", "duplicate-revision"},
        id="second-put-same-revision"),
]


@pytest.mark.parametrize("history,kinds", NOT_LINEARIZABLE)
def test_rejects_bad_history(history, kinds):
    """A hand-written history violating linearizability or revision rules is rejected with the right findings."""
    report = run(history)
    assert not report.ok
    assert report.kinds() == kinds, str(report)


def test_explanation_names_key_and_stuck_operation():
    """The failure report names the key, the operation that cannot be linearized and why."""
    history = [
        put(1, 0, 1, "other", "x", 2),
        get(1, 2, 3, "other", "x", 2),
        put(1, 10, 11, "k", "a", 3),
        put(1, 12, 13, "k", "b", 4),
        get(2, 14, 15, "k", "a", 3),
    ]
    report = run(history)
    [p] = report.problems
    assert p.kind == "not-linearizable" and p.key == "k"
    text = str(report)
    assert "stuck" in text and "get(k) -> 'a' mod_rev 3" in text
    assert "read 'a' but the key holds 'b'" in text


def test_budget_exhaustion_is_inconclusive_not_success():
    """A search that runs out of steps reports an inconclusive failure rather than success."""
    history = [put(i, 0, 100, "k", f"v{i}", 2 + i) for i in range(6)]
    history.append(get(9, 101, 102, "k", "v0", 2))  # impossible: v0 has the lowest revision
    report = run(history, max_steps=5)
    assert not report.ok and report.kinds() == {"inconclusive"}


def test_rejects_duplicate_values():
    """Two writes of the same value make the history malformed (values must be unique)."""
    report = run([put(1, 0, 1, "k", "a", 2), put(1, 2, 3, "k", "a", 3)])
    assert report.kinds() == {"malformed"}


# --- generated histories ----------------------------------------------------------------------------------
OK, APPLIED, LOST = "ok", "unknown-applied", "unknown-lost"


def simulate(steps):
    """Runs `steps` through a sequential etcd model and records them as a concurrent history.

    Step i is linearized at t=100*(i+1); its real-time interval is [t-a, t+b], so the intervals
    respect the linearization order by construction. Clients are assigned greedily so each client is
    sequential. A write with an unknown outcome is recorded with result None; APPLIED ones changed
    the model, LOST ones did not.
    """
    rev = 1
    kv: dict[str, tuple] = {}   # key -> (value, mod_revision, version)
    history = []
    clients: list[list] = []    # [client id, busy until]
    for i, (kind, k, outcome, hit, a, b) in enumerate(steps):
        key, value = f"k{k}", f"v{i}"
        t = 100 * (i + 1)
        call, ret = t - a, t + b
        slot = next((c for c in clients if c[1] < call), None)
        if slot is None:
            slot = [len(clients), ret]
            clients.append(slot)
        slot[1] = ret
        applied = kind == "get" or outcome != LOST
        cur = kv.get(key)
        cur_mod = cur[1] if cur else 0
        cur_ver = cur[2] if cur else 0
        if kind == "get":
            request, result = Get(key), GetResult(cur and cur[0], cur_mod, rev, cur_ver)
        elif kind == "put":
            request = Put(key, value)
            if applied:
                rev += 1
                kv[key] = (value, rev, cur_ver + 1)
            result = PutResult(rev)
        elif kind == "cas":
            expected = cur_mod if hit else cur_mod + 1 + a % 3
            request = Cas(key, expected, value)
            if expected == cur_mod and applied:
                rev += 1
                kv[key] = (value, rev, cur_ver + 1)
                result = CasResult(True, rev)
            else:
                result = CasResult(False, rev, (cur[0], cur_mod) if cur and b % 2 else None)
        else:
            request = Delete(key)
            if cur and applied:
                rev += 1
                del kv[key]
                result = DeleteResult(1, rev)
            else:
                result = DeleteResult(0, rev)
        if kind != "get" and outcome != OK:
            history.append(Operation.unknown(slot[0], call, request))
        else:
            history.append(Operation(slot[0], call, ret, request, result))
    return history


step_strategy = st.tuples(
    st.sampled_from(["get", "get", "put", "put", "cas", "delete"]),
    st.integers(0, 2),
    st.sampled_from([OK, OK, OK, OK, APPLIED, LOST]),
    st.booleans(),
    st.integers(0, 300),
    st.integers(0, 300),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step_strategy, max_size=40))
def test_property_model_histories_are_accepted(steps):
    """Any history produced by the sequential model with intervals around its linearization points is accepted."""
    report = run(simulate(steps))
    assert report.ok, str(report)


def stale_read_mutation(history, choice):
    """Rewrites a read to return a value that an acknowledged write overwrote before the read began.

    Needs acknowledged writes w_old, w_new to the read's key with w_old.ret < w_new.call and
    w_new.ret < read.call: then no linearization can put w_old's value in the read. None if the
    history has no such triple.
    """
    def acked_write(o):
        r = o.result
        return isinstance(r, PutResult) or (isinstance(r, CasResult) and r.succeeded)

    writes = [o for o in history if acked_write(o)]
    triples = []
    for i, g in enumerate(history):
        if not isinstance(g.result, GetResult):
            continue
        for new in writes:
            if new.op.key == g.op.key and new.ret < g.call:
                for old in writes:
                    if old.op.key == g.op.key and old.ret < new.call:
                        triples.append((i, old))
    if not triples:
        return None
    i, old = triples[choice % len(triples)]
    g = history[i]
    mutated = list(history)
    mutated[i] = Operation(g.client, g.call, g.ret, g.op,
                           GetResult(old.op.value, old.result.revision, g.result.revision))
    return mutated


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step_strategy, min_size=3, max_size=40), st.integers(0, 10_000))
def test_property_stale_read_mutation_is_rejected(steps, choice):
    """Changing a read's result to a value overwritten before the read began is rejected as not linearizable."""
    mutated = stale_read_mutation(simulate(steps), choice)
    event(f"mutation applicable: {mutated is not None}")
    if mutated is None:
        return  # not applicable: no acknowledged write was overwritten before a later read
    report = run(mutated)
    assert "not-linearizable" in report.kinds(), str(report)


def random_steps(rng, n, keys, spread, unknown_rate):
    steps = []
    for _ in range(n):
        kind = rng.choices(["get", "put", "cas", "delete"], [40, 35, 22, 3])[0]
        outcome = OK
        if kind != "get" and rng.random() < unknown_rate:
            outcome = rng.choice([APPLIED, LOST])
        steps.append((kind, rng.randrange(keys), outcome, rng.random() < 0.7,
                      rng.randrange(spread), rng.randrange(spread)))
    return steps


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_checks_thousands_of_operations_quickly(seed):
    """A 4000-operation history over 8 keys with ~8 clients in flight and 2% unknown writes checks in seconds."""
    history = simulate(random_steps(random.Random(seed), 4000, 8, 800, 0.02))
    start = time.monotonic()
    report = run(history)
    elapsed = time.monotonic() - start
    assert report.ok, str(report)
    assert elapsed < 10, f"took {elapsed:.1f}s ({report.stats})"


def test_unknown_writes_keep_infinite_return():
    """An unknown-outcome operation is recorded with return time infinity."""
    o = Operation.unknown(1, 5, Put("k", "a"))
    assert o.ret == INF and o.result is None
