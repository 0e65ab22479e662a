"""Linearizability checker for etcd-shaped key-value histories (Wing & Gong search, porcupine style).

A *history* is a list of `Operation`s recorded by sequential clients: who called, when the call
started and returned (any monotonic clock, e.g. `time.monotonic_ns`), what was asked (`Put`, `Get`,
`Cas`, `Delete`, each on one key) and what came back (`PutResult`, ...). A write whose outcome is
unknown (timeout, UNAVAILABLE, connection lost) is recorded with `result=None`: it has return time
infinity and may or may not have taken effect. Reads that failed are dropped by the recorder (or
here: a read with `result=None` is ignored). Every value written must be unique, so that a read
names the one write it observed.

`check(history)` returns a `Report`; `report.ok` is the verdict and `str(report)` the explanation.

What is checked
---------------
1. Linearizability of each key's sub-history against a per-key register model whose state is
   `(value or absent, revision of the last write, version, whether that revision is known)`:
   - put(k, v) -> header.revision R: R is above the key's last write revision; the key becomes
     (v, R, version+1);
   - get(k) -> (value or None, mod_revision[, version]): equals the state; an absent key has
     mod_revision 0 (as etcd's compare sees it);
   - cas(k, expected_mod_revision, v) (a Txn comparing MOD, then Put) -> succeeded + header.revision:
     succeeds iff the key's mod_revision (0 when absent) equals the expected one; a failed CAS may
     carry what its failure branch's Range read (`current`);
   - delete(k) -> deleted count + header.revision.
   P-compositionality: every operation touches exactly one key and the model is a product of
   per-key models, so the history is linearizable iff each key's sub-history is. The one cross-key
   part of etcd's model, the global revision counter, is left out of the search (it would couple
   the keys and forfeit the split) and checked instead by the revision checks below.
2. Revisions, where they are unambiguous:
   - a read that returns value v reports the mod_revision that v's acknowledged writer returned,
     and v was written by some operation at all;
   - header revisions seen by one client never decrease, and a client's own write gets a
     revision above everything that client saw before;
   - real time: if A returned before B was called then rev(B) >= rev(A), and > when B wrote
     (etcd's revision is linearizable: a member serves a read only after applying everything the
     leader had committed when the read arrived);
   - no two acknowledged writes share a revision;
   - a read is a snapshot at its header revision H: no acknowledged write to that key has a
     revision in (mod_revision, H].

Search (per key)
----------------
Porcupine's version of Wing & Gong's algorithm (Lowe's "just-in-time linearization" with
memoisation): call and return entries sorted by time in a doubly linked list; repeatedly try to
linearize the earliest-called pending operations (those called before the first pending return),
lifting an op's call+return entries out of the list when the model accepts it, and backtracking
when a return entry is reached whose operation is still pending. A set of (linearized-ops bitmask,
model state) pairs already explored cuts repeated work. A step may return several next states (each
is tried in turn); this model returns at most one, a read possibly refining an unknown revision.

Unknown-outcome writes are the expensive part (they stay pending forever), so they are first
simplified, soundly:
- if some read observed the value of an unknown write, that write took effect, at the revision the
  read reported, before that read returned: it becomes an ordinary acknowledged write whose return
  time is the earliest observing read's return;
- pass 1 drops unknown writes nobody observed (= they never took effect, which is always one
  allowed outcome, so a pass-1 success is a real success);
- only if pass 1 fails on a key does pass 2 rerun that key with the unobserved writes included
  (return time infinity, may be linearized at any point after their call or never).
An unknown write linearized "with effect" is the only branch tried: "no effect" is the same as
linearizing it after everything else, which the search does once no finite operation is left.

Complexity: deciding linearizability is NP-complete in general. Here the work is bounded by the
number of distinct (linearized set, state) pairs reached. With at most c operations in flight on a
key (c <= number of clients) the linearized sets the search can reach are a prefix of the history
plus a subset of the current window, so the bound is O(n * 2^c) pairs per key, each step costing
O(c) list walking plus O(n/64) for the bitmask; in practice histories from a correct store are
linearized greedily in ~O(n * c). Pass 2 adds the u unobserved unknown writes of the key to the
window for the rest of the history: O(n * 2^(c+u)) in the worst case. `max_steps` bounds each key's
search; running out is reported as an inconclusive (failing) result, never as success.
"""
from __future__ import annotations

import bisect
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Hashable, Iterable, Optional, Sequence, Union

INF = math.inf


# --- operations (requests) ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Put:
    key: str
    value: str


@dataclass(frozen=True)
class Get:
    key: str


@dataclass(frozen=True)
class Cas:
    """Txn(compare MOD(key) == expected_mod_revision, success=[Put(key, value)])."""
    key: str
    expected_mod_revision: int
    value: str


@dataclass(frozen=True)
class Delete:
    key: str


Request = Union[Put, Get, Cas, Delete]


# --- results (responses) ------------------------------------------------------------------------------
@dataclass(frozen=True)
class PutResult:
    revision: int  # header.revision = the revision this put produced


@dataclass(frozen=True)
class GetResult:
    value: Optional[str]          # None: the key is absent
    mod_revision: int             # 0 when absent
    revision: int = 0             # header.revision (store revision of the read); 0 = not recorded
    version: Optional[int] = None  # kv.version; None = not recorded


@dataclass(frozen=True)
class CasResult:
    succeeded: bool
    revision: int  # header.revision: the txn's revision on success, the current one on failure
    # What the failure branch's Range read, if it had one: (value or None, mod_revision).
    current: Optional[tuple[Optional[str], int]] = None


@dataclass(frozen=True)
class DeleteResult:
    deleted: int
    revision: int


Result = Union[PutResult, GetResult, CasResult, DeleteResult]


@dataclass(frozen=True)
class Operation:
    """One call by one sequential client. `result=None` means the outcome is unknown."""
    client: Hashable
    call: float
    ret: float
    op: Request
    result: Optional[Result]

    @classmethod
    def unknown(cls, client: Hashable, call: float, op: Request) -> "Operation":
        return cls(client, call, INF, op, None)


# --- the report -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    kind: str  # not-linearizable | inconclusive | never-written | revision-mismatch | client-revision |
    #            realtime-revision | duplicate-revision | stale-snapshot | malformed
    key: Optional[str]
    message: str


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    stats: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def kinds(self) -> set[str]:
        return {p.kind for p in self.problems}

    def __str__(self) -> str:
        head = (f"history of {self.stats.get('operations', 0)} operations on {self.stats.get('keys', 0)} keys: "
                + ("linearizable" if self.ok else f"{len(self.problems)} problem(s)"))
        return "\n".join([head] + [f"[{p.kind}] {('key ' + p.key + ': ') if p.key else ''}{p.message}"
                                   for p in self.problems])


# --- internal operation form ------------------------------------------------------------------------------
_PUT, _GET, _CAS, _DEL = "put", "get", "cas", "delete"


class _Op:
    """A flattened operation for the search. `rev` is the write's revision when known."""
    __slots__ = ("src", "kind", "key", "value", "expected", "call", "ret", "unknown", "rev",
                 "succeeded", "deleted", "get", "current")

    def __init__(self, src: Operation):
        self.src = src
        op, res = src.op, src.result
        self.key = op.key
        self.call = src.call
        self.ret = INF if res is None else src.ret
        self.unknown = res is None
        self.value = getattr(op, "value", None)
        self.expected = getattr(op, "expected_mod_revision", None)
        self.rev: Optional[int] = None
        self.succeeded: Optional[bool] = None
        self.deleted: Optional[int] = None
        self.get: Optional[GetResult] = None
        self.current = None
        if isinstance(op, Put):
            self.kind = _PUT
            self.rev = None if res is None else res.revision
        elif isinstance(op, Get):
            self.kind = _GET
            self.get = res
        elif isinstance(op, Cas):
            self.kind = _CAS
            if res is not None:
                self.succeeded = res.succeeded
                self.rev = res.revision if res.succeeded else None
                self.current = res.current
        elif isinstance(op, Delete):
            self.kind = _DEL
            if res is not None:
                self.deleted = res.deleted
                self.rev = res.revision if res.deleted else None
        else:
            raise TypeError(f"unknown operation {op!r}")

    def copy(self) -> "_Op":
        c = _Op.__new__(_Op)
        for s in _Op.__slots__:
            setattr(c, s, getattr(self, s))
        return c


def describe(o: Operation, t0: float = 0, scale: float = 1e6) -> str:
    """`c3 put(k1, 'v7') -> rev 42 [12.000..13.500 ms]` (times relative to t0, in ms for ns clocks)."""
    op, res = o.op, o.result
    if isinstance(op, Put):
        req = f"put({op.key}, {op.value!r})"
        out = "?" if res is None else f"rev {res.revision}"
    elif isinstance(op, Get):
        req = f"get({op.key})"
        out = "?" if res is None else (
            f"{res.value!r} mod_rev {res.mod_revision}" + (f" ver {res.version}" if res.version is not None else "")
            + (f" (header rev {res.revision})" if res.revision else ""))
    elif isinstance(op, Cas):
        req = f"cas({op.key}, mod_rev=={op.expected_mod_revision}, {op.value!r})"
        out = "?" if res is None else (f"{'succeeded' if res.succeeded else 'failed'} rev {res.revision}"
                                       + (f" current {res.current}" if res.current else ""))
    else:
        req = f"delete({op.key})"
        out = "?" if res is None else f"deleted {res.deleted} rev {res.revision}"
    ret = "inf" if o.result is None or o.ret == INF else f"{(o.ret - t0) / scale:.3f}"
    return f"client {o.client} {req} -> {out} [{(o.call - t0) / scale:.3f}..{ret} ms]"


# --- the per-key model ------------------------------------------------------------------------------------
# State: (value or None, last write revision, version, revision known). When the revision is not
# known (the last write was an unobserved unknown-outcome write) it is an exclusive lower bound.
_State = tuple
INITIAL: _State = (None, 0, 0, True)


def _step(s: _State, o: _Op):
    """The model: a tuple of possible next states, or a string saying why `o` cannot come next."""
    value, last, version, known = s
    kind = o.kind
    if kind == _GET:
        g = o.get
        if g.value != value:
            return f"read {g.value!r} but the key holds {value!r}"
        if value is None:
            if g.mod_revision != 0:
                return f"read an absent key with mod_revision {g.mod_revision} (expected 0)"
            if g.version not in (None, 0):
                return f"read an absent key with version {g.version}"
            return (s,)
        if g.version is not None and g.version != version:
            return f"read version {g.version} but {version} writes since creation were linearized"
        if known:
            if g.mod_revision != last:
                return f"read mod_revision {g.mod_revision} but the value was written at revision {last}"
            return (s,)
        if g.mod_revision <= last:
            return f"read mod_revision {g.mod_revision}, not above the previous write's revision {last}"
        return ((value, g.mod_revision, version, True),)

    if kind == _PUT:
        if o.rev is None:
            return ((o.value, last, version + 1, False),)
        if o.rev <= last:
            return f"put got revision {o.rev}, not above the key's last write revision {last}"
        return ((o.value, o.rev, version + 1, True),)

    if kind == _CAS:
        cur = 0 if value is None else (last if known else None)
        if o.succeeded is False:
            if cur is not None and cur == o.expected:
                return f"CAS failed although the key's mod_revision is {cur} as expected"
            if o.current is None:
                return (s,)
            cv, cm = o.current
            if cv != value:
                return f"failed CAS read {cv!r} but the key holds {value!r}"
            if value is None:
                return (s,) if cm == 0 else f"failed CAS read an absent key with mod_revision {cm}"
            if known:
                return (s,) if cm == last else f"failed CAS read mod_revision {cm}, the value was written at {last}"
            return ((value, cm, version, True),) if cm > last else f"failed CAS read mod_revision {cm} <= {last}"
        # succeeded, or unknown outcome linearized with effect
        if cur is None:
            if o.expected <= last:
                return f"CAS expected mod_revision {o.expected}, not above the key's last write revision {last}"
        elif cur != o.expected:
            return f"CAS expected mod_revision {o.expected} but the key's mod_revision is {cur}"
        if o.rev is None:
            return ((o.value, max(last, o.expected), version + 1, False),)
        if o.rev <= last:
            return f"CAS got revision {o.rev}, not above the key's last write revision {last}"
        return ((o.value, o.rev, version + 1, True),)

    # delete
    if o.deleted == 0:
        return (s,) if value is None else f"delete found nothing but the key holds {value!r}"
    if value is None:
        if o.unknown and o.rev is None:
            return (s,)
        return "delete removed a key that is absent"
    if o.rev is None:
        return ((None, last, 0, False),)
    if o.rev <= last:
        return f"delete got revision {o.rev}, not above the key's last write revision {last}"
    return ((None, o.rev, 0, True),)


# --- the search ---------------------------------------------------------------------------------------------
@dataclass
class _Outcome:
    ok: bool
    steps: int
    inconclusive: bool = False
    best_order: list = field(default_factory=list)   # longest linearized prefix found (ops)
    best_state: _State = INITIAL
    blocked: Optional[_Op] = None                     # the op whose return could not be passed
    candidates: list = field(default_factory=list)    # ops that could have gone next there


def _search(ops: Sequence[_Op], max_steps: int) -> _Outcome:
    n = len(ops)
    if n == 0:
        return _Outcome(True, 0)
    # Entries 1..2n sorted by time; calls before returns at equal times (the permissive choice).
    raw = []
    for i, o in enumerate(ops):
        raw.append((o.call, 0, i))
        raw.append((o.ret, 1, i))
    raw.sort()
    head, tail = 0, 2 * n + 1
    ent_op = [0] * (2 * n + 2)
    is_call = [False] * (2 * n + 2)
    call_entry = [0] * n
    ret_entry = [0] * n
    for pos, (_, kind, i) in enumerate(raw, start=1):
        ent_op[pos] = i
        is_call[pos] = kind == 0
        if kind == 0:
            call_entry[i] = pos
        else:
            ret_entry[i] = pos
    nxt = list(range(1, 2 * n + 2)) + [tail]
    prv = [head] + list(range(0, 2 * n + 1))
    bit = [1 << i for i in range(n)]
    finite = [o.ret != INF for o in ops]
    finite_left = sum(finite)

    def lift(i):
        c, r = call_entry[i], ret_entry[i]
        nxt[prv[c]] = nxt[c]; prv[nxt[c]] = prv[c]
        nxt[prv[r]] = nxt[r]; prv[nxt[r]] = prv[r]

    def unlift(i):
        c, r = call_entry[i], ret_entry[i]
        nxt[prv[r]] = r; prv[nxt[r]] = r
        nxt[prv[c]] = c; prv[nxt[c]] = c

    state = INITIAL
    lin = 0
    stack: list = []  # (op index, state before, remaining alternative states)
    seen = set()
    steps = 0
    best = _Outcome(False, 0)
    best_depth = -1
    e = nxt[head]
    while True:
        if finite_left == 0:
            return _Outcome(True, steps)
        if is_call[e]:
            steps += 1
            if steps > max_steps:
                best.steps, best.inconclusive = steps, True
                return best
            i = ent_op[e]
            r = _step(state, ops[i])
            advanced = False
            if type(r) is tuple:
                nl = lin | bit[i]
                for k, ns in enumerate(r):
                    if (nl, ns) not in seen:
                        seen.add((nl, ns))
                        stack.append((i, state, r[k + 1:]))
                        state, lin = ns, nl
                        lift(i)
                        finite_left -= finite[i]
                        advanced = True
                        break
            e = nxt[head] if advanced else nxt[e]
            continue
        # A return entry whose op is still pending: no way forward from here.
        if len(stack) > best_depth:
            best_depth = len(stack)
            best.best_order = [ops[j] for j, _, _ in stack]
            best.best_state = state
            best.blocked = ops[ent_op[e]]
            cands, c = [], nxt[head]
            while c != e:
                if is_call[c]:
                    cands.append(ops[ent_op[c]])
                c = nxt[c]
            best.candidates = cands
        while True:
            if not stack:
                best.steps = steps
                return best
            i, prev, alts = stack.pop()
            unlift(i)
            lin &= ~bit[i]
            finite_left += finite[i]
            state = prev
            resumed = False
            nl = lin | bit[i]
            for k, ns in enumerate(alts):
                if (nl, ns) not in seen:
                    seen.add((nl, ns))
                    stack.append((i, prev, alts[k + 1:]))
                    state, lin = ns, nl
                    lift(i)
                    finite_left -= finite[i]
                    resumed = True
                    break
            if resumed:
                e = nxt[head]
            else:
                e = nxt[call_entry[i]]
            break


def _explain(key: str, out: _Outcome, t0: float, scale: float, passes: str) -> str:
    lines = [f"no linearization of this key's operations exists ({passes}); the longest linearizable "
             f"prefix has {len(out.best_order)} operations"]
    tail = out.best_order[-5:]
    if tail:
        lines.append("  ...its last operations, in linearization order:")
        lines += [f"    {describe(o.src, t0, scale)}" for o in tail]
    value, last, version, known = out.best_state
    lines.append(f"  state after it: value {value!r}, {'mod_revision' if known else 'mod_revision >'} "
                 f"{0 if value is None else last}, version {version}")
    if out.blocked is not None:
        lines.append(f"  stuck: this operation must be linearized before it returns, but cannot be:\n"
                     f"    {describe(out.blocked.src, t0, scale)}")
    lines.append("  operations that could have come next, and why the model refuses each:")
    known = [o for o in out.candidates if o.ret != INF]
    pending = [o for o in out.candidates if o.ret == INF]
    for o in known[:8] + pending[:3]:
        r = _step(out.best_state, o)
        why = r if isinstance(r, str) else "accepted, but every continuation fails later"
        lines.append(f"    {describe(o.src, t0, scale)}: {why}")
    more = max(0, len(known) - 8) + max(0, len(pending) - 3)
    if more:
        lines.append(f"    ... and {more} more")
    return "\n".join(lines)


# --- the checks ---------------------------------------------------------------------------------------------
def check(history: Iterable[Operation], *, max_steps: int = 3_000_000, time_scale: float = 1e6,
          max_reports: int = 5) -> Report:
    """Checks `history`; see the module docstring. `time_scale` converts clock units to ms for messages."""
    ops_all = list(history)
    report = Report()
    # Failed reads carry no information: drop them.
    ops = [o for o in ops_all if not (isinstance(o.op, Get) and o.result is None)]
    t0 = min((o.call for o in ops), default=0)
    keys = sorted({o.op.key for o in ops})
    report.stats.update(operations=len(ops), keys=len(keys),
                        unknown=sum(o.result is None for o in ops), dropped_reads=len(ops_all) - len(ops))

    def problem(kind, key, msg):
        report.problems.append(Problem(kind, key, msg))

    for o in ops:
        if o.result is not None and not (o.ret >= o.call):
            problem("malformed", o.op.key, f"returns before it is called: {describe(o, t0, time_scale)}")
    if report.problems:
        return report

    # Writers by value: values must be unique.
    writer: dict[tuple[str, str], Operation] = {}
    for o in ops:
        if isinstance(o.op, (Put, Cas)):
            k = (o.op.key, o.op.value)
            if k in writer:
                problem("malformed", o.op.key, f"value {o.op.value!r} written twice; values must be unique:\n"
                        f"  {describe(writer[k], t0, time_scale)}\n  {describe(o, t0, time_scale)}")
            writer[k] = o
    if report.problems:
        return report

    _check_revisions(ops, writer, report, t0, time_scale, max_reports)

    by_key: dict[str, list[Operation]] = defaultdict(list)
    for o in ops:
        by_key[o.op.key].append(o)
    steps_total = 0
    pass2_keys = []
    for key in keys:
        flat = [_Op(o) for o in by_key[key]]
        by_src = {id(f.src): f for f in flat}
        # Observed unknown writes took effect, at the revision their readers saw, before the first
        # of those readers returned.
        for f in flat:
            obs = None
            if f.kind == _GET and f.get.value is not None:
                obs = (f.get.value, f.get.mod_revision)
            elif f.kind == _CAS and f.succeeded is False and f.current and f.current[0] is not None:
                obs = f.current
            if obs is None:
                continue
            w = writer.get((key, obs[0]))
            if w is None or w.result is not None:
                continue
            wf = by_src[id(w)]
            if wf.ret == INF or f.ret < wf.ret:
                wf.ret = max(f.ret, wf.call)
            wf.rev = obs[1] if wf.rev is None else wf.rev
            wf.unknown = False
            wf.succeeded = True if wf.kind == _CAS else None
        first = [f for f in flat if not f.unknown]
        out = _search(first, max_steps)
        steps_total += out.steps
        kind, passes = "not-linearizable", "unobserved unknown-outcome writes assumed not to have happened"
        if not out.ok and len(first) < len(flat):
            pass2_keys.append(key)
            out2 = _search(flat, max_steps)
            steps_total += out2.steps
            if out2.ok:
                out = out2
            elif not out2.inconclusive:
                # Pass 2's explanation: pass 1 may have failed only for want of an unknown write.
                out, passes = out2, "with and without the unobserved unknown-outcome writes"
            else:
                kind = "inconclusive"
                passes = ("without the unobserved unknown-outcome writes; the search including them ran "
                          f"out of its {max_steps} step budget")
        if out.ok:
            continue
        if out.inconclusive:
            problem("inconclusive", key, f"the search ran out of its {max_steps} step budget")
        else:
            problem(kind, key, _explain(key, out, t0, time_scale, passes))
    report.stats.update(search_steps=steps_total, pass2_keys=pass2_keys)
    return report


def _rev_of(o: Operation) -> Optional[int]:
    r = o.result
    if r is None:
        return None
    if isinstance(r, GetResult):
        return r.revision or None
    return r.revision


def _modifies(o: Operation) -> bool:
    r = o.result
    return (isinstance(r, PutResult) or (isinstance(r, CasResult) and r.succeeded)
            or (isinstance(r, DeleteResult) and r.deleted > 0))


def _check_revisions(ops, writer, report: Report, t0, scale, max_reports) -> None:
    def problem(kind, key, msg):
        report.problems.append(Problem(kind, key, msg))

    def d(o):
        return describe(o, t0, scale)

    # Reads name a real write, at that write's revision.
    n_bad = 0
    for o in ops:
        r = o.result
        obs = None
        if isinstance(r, GetResult) and r.value is not None:
            obs = (r.value, r.mod_revision)
        elif isinstance(r, CasResult) and not r.succeeded and r.current and r.current[0] is not None:
            obs = r.current
        if obs is None:
            continue
        w = writer.get((o.op.key, obs[0]))
        if w is None:
            problem("never-written", o.op.key, f"read a value no operation wrote: {d(o)}")
            n_bad += 1
        elif isinstance(w.result, CasResult) and not w.result.succeeded:
            problem("never-written", o.op.key, f"read the value of a CAS that reported failure:\n"
                    f"  read:  {d(o)}\n  write: {d(w)}")
            n_bad += 1
        elif w.result is not None and w.result.revision != obs[1]:
            problem("revision-mismatch", o.op.key, f"read mod_revision {obs[1]} but the write of that value "
                    f"returned revision {w.result.revision}:\n  read:  {d(o)}\n  write: {d(w)}")
            n_bad += 1
        if n_bad >= max_reports:
            break

    revd = [(o, _rev_of(o)) for o in ops]
    revd = [(o, rv) for o, rv in revd if rv is not None]

    # Per client: header revisions never decrease; a client's write lands above all it saw.
    by_client = defaultdict(list)
    for o, rv in revd:
        by_client[o.client].append((o, rv))
    for client, lst in by_client.items():
        lst.sort(key=lambda x: x[0].call)
        hi: Optional[tuple] = None
        for o, rv in lst:
            if hi is not None and (rv < hi[1] or (_modifies(o) and rv == hi[1])):
                problem("client-revision", o.op.key, f"client {client} saw revision {hi[1]} and then "
                        f"{'wrote at' if _modifies(o) else 'saw'} revision {rv}:\n  {d(hi[0])}\n  {d(o)}")
                break
            if hi is None or rv > hi[1]:
                hi = (o, rv)

    # Real time: revisions respect the real-time order of operations, across clients and keys.
    by_ret = sorted(revd, key=lambda x: x[0].ret)
    by_call = sorted(revd, key=lambda x: x[0].call)
    j, hi, n_bad = 0, None, 0
    for o, rv in by_call:
        while j < len(by_ret) and by_ret[j][0].ret < o.call:
            if hi is None or by_ret[j][1] > hi[1]:
                hi = by_ret[j]
            j += 1
        if hi is not None and (rv < hi[1] or (_modifies(o) and rv == hi[1])):
            problem("realtime-revision", o.op.key, f"an operation that started after another returned has "
                    f"revision {rv} < {hi[1]}{' (or = for a write)' if _modifies(o) else ''}:\n"
                    f"  earlier: {d(hi[0])}\n  later:   {d(o)}")
            n_bad += 1
            if n_bad >= max_reports:
                break

    # Distinct revisions for distinct writes.
    by_rev = defaultdict(list)
    for o, rv in revd:
        if _modifies(o):
            by_rev[rv].append(o)
    for rv, ws in sorted(by_rev.items()):
        if len(ws) > 1:
            problem("duplicate-revision", ws[0].op.key, f"{len(ws)} writes share revision {rv}:\n"
                    + "\n".join(f"  {d(w)}" for w in ws[:4]))

    # Snapshot reads: nothing written to the key in (mod_revision, header revision].
    writes_by_key = defaultdict(list)
    for o, rv in revd:
        if _modifies(o):
            writes_by_key[o.op.key].append((rv, o))
    for lst in writes_by_key.values():
        lst.sort(key=lambda x: x[0])
    n_bad = 0
    for o in ops:
        r = o.result
        if not isinstance(r, GetResult) or r.value is None or not r.revision:
            continue
        if r.mod_revision > r.revision:
            problem("stale-snapshot", o.op.key, f"mod_revision above the read's header revision: {d(o)}")
            n_bad += 1
        else:
            lst = writes_by_key.get(o.op.key, [])
            revs = [x[0] for x in lst]
            k = bisect.bisect_right(revs, r.mod_revision)
            if k < len(revs) and revs[k] <= r.revision:
                problem("stale-snapshot", o.op.key, f"read at header revision {r.revision} returned the value "
                        f"of revision {r.mod_revision}, but the key was written at revision {revs[k]}:\n"
                        f"  read:  {d(o)}\n  write: {d(lst[k][1])}")
                n_bad += 1
        if n_bad >= max_reports:
            break


def assert_linearizable(history: Iterable[Operation], **kw) -> Report:
    """`check`, raising AssertionError with the explanation when anything is wrong."""
    report = check(history, **kw)
    if not report.ok:
        raise AssertionError(str(report))
    return report
