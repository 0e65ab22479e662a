"""Watch-guarantee validators (pure): what the chaos watch test asserts about recorded watch streams.

Vocabulary: an *event* is the tuple `(revision, "PUT"|"DELETE", key, kv, prev_kv)` with kv and
prev_kv as `(key, value, create_revision, mod_revision, version)` (None when unset); a *response* is
the list of event revisions one WatchResponse carried; the *full history* is what one fresh watch
from the start revision returned, cut at the tombstone revision. The guarantees are etcd's
(api.md and tests/robustness/validate/watch.go): ordered, unique (revision, key), atomic (a
revision never split across responses), reliable and resumable (a watcher resumed at
last_revision+1 on another member sees exactly the full history, no gap, no repeat), prev_kv and
create/version fields right. The full history itself is checked against the writers' acknowledged
writes and against a Range of the prefix, so a store that is wrong the same way on every watch
does not pass by agreeing with itself.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

from skiffpb.etcd.mvccpb import kv_pb2


def kv_tuple(kv) -> tuple | None:
    """(key, value, create_revision, mod_revision, version), or None for an unset kv."""
    if kv is None or not kv.key:
        return None
    return (kv.key.decode(), kv.value.decode(), kv.create_revision, kv.mod_revision, kv.version)


def event_tuple(ev) -> tuple:
    """(revision, type, key, kv, prev_kv) of an mvccpb.Event: what must be identical on every watcher."""
    kind = "PUT" if ev.type == kv_pb2.Event.PUT else "DELETE"
    prev = kv_tuple(ev.prev_kv) if ev.HasField("prev_kv") else None
    return (ev.kv.mod_revision, kind, ev.kv.key.decode(), kv_tuple(ev.kv), prev)


@dataclass
class Write:
    """A write request: acknowledged (revision set) or of unknown outcome (revision None)."""
    ops: list                 # ("PUT", key, value) / ("DELETE", key, None), in request order
    revision: int | None
    deleted: int = 0          # keys the request deleted (at most one delete per request here)


def replay_problems(events: Sequence[tuple]) -> list[str]:
    """kv and prev_kv of each event against the state the earlier events imply (keys absent at start)."""
    state: dict[str, tuple] = {}
    problems = []
    for rev, kind, key, kv, prev in events:
        before = state.get(key)
        if prev != before:
            problems.append(f"rev {rev} {kind} {key}: prev_kv {prev} but the key was {before}")
        if kind == "PUT":
            want_create = before[2] if before else rev
            want_version = before[4] + 1 if before else 1
            if kv[2] != want_create or kv[3] != rev or kv[4] != want_version:
                problems.append(f"rev {rev} PUT {key}: kv {kv}, want create_revision {want_create}, "
                                f"mod_revision {rev}, version {want_version}")
            state[key] = kv
        else:
            if before is None:
                problems.append(f"rev {rev} DELETE {key} of an absent key")
            state.pop(key, None)
    return problems


def final_state(events: Iterable[tuple]) -> dict[str, tuple]:
    state: dict[str, tuple] = {}
    for _, kind, key, kv, _ in events:
        if kind == "PUT":
            state[key] = kv
        else:
            state.pop(key, None)
    return state


def watcher_problems(events: Sequence[tuple], responses: Sequence[Sequence[int]], reference: Sequence[tuple],
                     until: int) -> list[str]:
    """One watcher's events (in arrival order) and per-response revisions against the full history."""
    problems = []
    evs = [e for e in events if e[0] <= until]
    revs = [e[0] for e in evs]
    back = next((i for i, (a, b) in enumerate(zip(revs, revs[1:])) if b < a), None)
    if back is not None:
        problems.append(f"not ordered: revision {revs[back + 1]} after {revs[back]}")
    dup = [k for k, n in Counter((e[0], e[2]) for e in evs).items() if n > 1]
    if dup:
        problems.append(f"duplicate (revision, key): {dup[:5]}")
    for r1, r2 in zip(responses, responses[1:]):
        if r1 and r2 and r1[-1] == r2[0]:
            problems.append(f"revision {r1[-1]} split across two responses")
            break
    if list(evs) != list(reference):
        i = next((i for i, (a, b) in enumerate(zip(evs, reference)) if a != b), min(len(evs), len(reference)))
        problems.append(f"events differ from the full history at index {i} (watcher has {len(evs)}, history "
                        f"{len(reference)}): watcher {evs[i:i + 2]} vs history {list(reference[i:i + 2])}")
    return problems


def history_problems(reference: Sequence[tuple], writes: Iterable[Write], final_kvs: dict,
                     other_values: set = frozenset()) -> list[str]:
    """The full history against every acknowledged write and a Range of the prefix at its last revision."""
    writes = list(writes)
    problems = replay_problems(reference)
    by_rev: dict[int, list] = {}
    for rev, kind, key, kv, _ in reference:
        by_rev.setdefault(rev, []).append((kind, key, kv[1] if kind == "PUT" else None))
    for w in writes:
        if w.revision is None:
            continue
        # A write's events, in request order, all at its revision; a delete only if it deleted.
        want = [(kind, key, value) for kind, key, value in w.ops if kind == "PUT" or w.deleted]
        if want and by_rev.get(w.revision) != want:
            problems.append(f"acknowledged write {w.ops} at revision {w.revision}: "
                            f"the history has {by_rev.get(w.revision)}")
    written = set(other_values) | {value for w in writes for kind, _, value in w.ops if kind == "PUT"}
    for rev, ops in sorted(by_rev.items()):
        for kind, key, value in ops:
            if kind == "PUT" and value not in written:
                problems.append(f"revision {rev} puts {key}={value!r}, which nobody wrote")
    state = final_state(reference)
    if state != final_kvs:
        problems.append(f"replaying the history gives {state}, a Range of the prefix gives {final_kvs}")
    return problems
