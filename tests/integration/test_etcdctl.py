"""Acceptance: the real `etcdctl` 3.4 prints the same against a 3-member Skiff store as against a real etcd.

One script of etcdctl invocations (`SCRIPT` in etcdctl_script.py) runs, in the same order, against a fresh
3-member real etcd and a fresh 3-member store under test. Each invocation's exit code, stdout and stderr are
recorded, normalised (etcdctl_normalise.py says what is kept exact, what is normalised, and why) and compared
per command: one pytest case per step.

Which store is compared against etcd is `SUBJECT`: "skiff" (the acceptance test; the default) or "etcd"
(etcd against etcd, which validates the script and the normalisation). Override with the environment
variable SKIFF_ETCDCTL_SUBJECT=etcd.

The clusters run one after the other (reference first), so the two runs do not compete for CPU.

Watches: `etcdctl watch --rev=N` prints history and then waits. The test writes a sentinel key covered
by the watch (a normal, recorded step), reads stdout until the sentinel's value line arrives, then stops
the watch by pid. History has to arrive in order before the sentinel, so no sleep is needed. A missing
event, an extra event or a missing sentinel all show up as a difference.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

from tests.harness import EtcdCluster, StoreCluster
from tests.integration.etcdctl_normalise import ADDR_RE, Ctx, Recording, Result, compare, normalise
from tests.integration.etcdctl_script import SCRIPT, STEPS, S, Step, Watch

# The first comparison also pays for starting both clusters and running the script twice.
pytestmark = [pytest.mark.etcd, pytest.mark.timeout(900)]

#: The store compared against the real etcd: "skiff" (the acceptance test) or "etcd" (validation).
SUBJECT = os.environ.get("SKIFF_ETCDCTL_SUBJECT", "skiff")
assert SUBJECT in ("skiff", "etcd"), f"SKIFF_ETCDCTL_SUBJECT must be 'skiff' or 'etcd', not {SUBJECT!r}"

ETCDCTL = shutil.which("etcdctl")
GLOBAL_FLAGS = ["--dial-timeout=2s", "--command-timeout=5s"]
CMD_TIMEOUT = 20.0     # seconds for one etcdctl process (its own timeouts are 2 s + 5 s)
WATCH_TIMEOUT = 20.0   # seconds to wait for a watch's sentinel line
SCRIPT_BUDGET = 360.0  # seconds per cluster; steps still pending after it are recorded as not run


# ------------------------------------------------------------------------------------------------
# Running the script
# ------------------------------------------------------------------------------------------------

def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    env["ETCDCTL_API"] = "3"
    return env


def _argv(step: Step | Watch, ctx: Ctx) -> list[str]:
    eps = ",".join(ctx.endpoints.values()) if step.ep == "all" else ctx.endpoints[step.ep]

    def fill(arg: str) -> str:
        def lease(m: re.Match) -> str:
            lid = ctx.lease_names.get(m.group(1))
            return f"{lid:016x}" if lid is not None else f"<lease {m.group(1)} was not granted>"
        return re.sub(r"\{(L\d+)\}", lease, arg)

    return [ETCDCTL or "etcdctl", f"--endpoints={eps}", *GLOBAL_FLAGS, *[fill(a) for a in step.args]]


_GRANTED_RE = re.compile(rb"^lease ([0-9a-f]{16}) granted with TTL", re.M)


def _learn_lease(step: Step, stdout: bytes, ctx: Ctx) -> None:
    if step.lease is None:
        return
    if step.fmt == "json":
        try:
            lid = json.loads(stdout).get("ID")
        except ValueError:
            lid = None
    else:
        m = _GRANTED_RE.search(stdout)
        lid = int(m.group(1), 16) if m else None
    if isinstance(lid, int) and lid:
        ctx.add_lease(step.lease, lid)


def _run_cmd(step: Step, ctx: Ctx) -> Result:
    argv = _argv(step, ctx)
    try:
        p = subprocess.run(argv, input=step.stdin if step.stdin is not None else b"",
                           capture_output=True, env=_env(), timeout=CMD_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        return Result(step, argv, "timeout", exc.stdout or b"", exc.stderr or b"",
                      note=f"etcdctl did not exit within {CMD_TIMEOUT:.0f}s")
    _learn_lease(step, p.stdout, ctx)
    return Result(step, argv, p.returncode, p.stdout, p.stderr)


def _run_watch(step: Watch, ctx: Ctx, results: dict[str, Result]) -> Result:
    argv = _argv(step, ctx)
    until = step.until.encode()
    lines: list[bytes] = []
    note = ""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, env=_env())
        q: queue.Queue[bytes | None] = queue.Queue()

        def pump() -> None:
            for line in proc.stdout:
                q.put(line)
            q.put(None)

        reader = threading.Thread(target=pump, name=f"watch-{step.name}", daemon=True)
        reader.start()
        exited_itself = False
        try:
            for trigger in step.then:
                results[trigger.name] = _run_cmd(trigger, ctx)
            deadline = time.monotonic() + WATCH_TIMEOUT
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    note = f"sentinel line {step.until!r} not seen within {WATCH_TIMEOUT:.0f}s"
                    break
                try:
                    line = q.get(timeout=remaining)
                except queue.Empty:
                    continue
                if line is None:            # the watch ended by itself
                    try:
                        proc.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        pass
                    exited_itself = proc.poll() is not None
                    break
                lines.append(line)
                if line.rstrip(b"\r\n") == until:
                    break
        finally:
            if proc.poll() is None:
                proc.terminate()            # by pid: SIGTERM to this etcdctl only
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            reader.join(timeout=5)
        err.seek(0)
        stderr = err.read()
    rc: int | str = proc.returncode if exited_itself else "stopped by the test after the sentinel"
    if note:
        rc = "stopped by the test: " + note
    return Result(step, argv, rc, b"".join(lines), stderr, note=note)


def run_script(ctx: Ctx, script: list[Step | Watch] = SCRIPT) -> dict[str, Result]:
    """Runs every step in order and records its result, whatever happened to earlier steps.

    A store that hangs would otherwise cost up to CMD_TIMEOUT per step. Once SCRIPT_BUDGET is spent, the
    remaining steps are recorded as not run instead.
    """
    results: dict[str, Result] = {}
    deadline = time.monotonic() + SCRIPT_BUDGET
    for step in script:
        if time.monotonic() > deadline:
            for s in ([*step.then, step] if isinstance(step, Watch) else [step]):
                results[s.name] = Result(s, _argv(s, ctx), "not run", b"", b"",
                                         note=f"not run: the script exceeded its {SCRIPT_BUDGET:.0f}s budget")
            continue
        if isinstance(step, Watch):
            results[step.name] = _run_watch(step, ctx, results)
        else:
            results[step.name] = _run_cmd(step, ctx)
    return results




# ------------------------------------------------------------------------------------------------
# Fixtures
# ------------------------------------------------------------------------------------------------

def _record(kind: str, base: Path) -> Recording:
    cluster = EtcdCluster(base) if kind == "etcd" else StoreCluster(base)
    try:
        try:
            cluster.start()
            ctx = Ctx.from_cluster(cluster)
        except Exception as exc:
            raise RuntimeError(f"the {cluster.kind} cluster did not start: {exc}\n{cluster.logs()}") from exc
        results = run_script(ctx)
        exited = [m.name for m in cluster.members if m.proc is None or not m.proc.alive]
        return Recording(kind=cluster.kind, ctx=ctx, results=results, log_dir=base, exited=exited)
    finally:
        cluster.stop()


def _need_binaries() -> None:
    if ETCDCTL is None:
        pytest.skip("etcdctl is not installed (Debian etcd-client 3.4; deploy/venv.sh installs it as root)")
    if not EtcdCluster.available():
        pytest.skip("etcd is not installed (Debian etcd-server 3.4; deploy/venv.sh installs it as root)")


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory) -> Recording:
    """The script's results against a fresh 3-member real etcd (which is stopped again)."""
    _need_binaries()
    return _record("etcd", tmp_path_factory.mktemp("etcdctl-reference-etcd"))


@pytest.fixture(scope="module")
def subject_run(reference_run, tmp_path_factory) -> Recording:
    """The script's results against a fresh 3-member store under test: Skiff's, or etcd when validating."""
    return _record(SUBJECT, tmp_path_factory.mktemp(f"etcdctl-subject-{SUBJECT}"))


# ------------------------------------------------------------------------------------------------
# Tests
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(STEPS))
def test_etcdctl_output_matches_etcd(name, reference_run, subject_run):
    """etcdctl prints the same (normalised) exit code, stdout and stderr for this step as against etcd."""
    problem = compare(name, reference_run, subject_run)
    assert problem is None, problem


def _status_leader_flags(rec: Recording, name: str) -> list[tuple[str, str]]:
    """(member id cell, IS LEADER cell) per row of a simple or table `endpoint status` output."""
    res = rec.results[name]
    text = res.stdout.decode(errors="replace")
    rows = []
    if res.step.fmt == "table":
        header = None
        for line in text.splitlines():
            if line.startswith("|"):
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                if header is None:
                    header = cells
                else:
                    row = dict(zip(header, cells))
                    rows.append((row.get("ID", ""), row.get("IS LEADER", "")))
    else:
        for line in text.splitlines():
            cells = line.split(", ")
            rows.append((cells[1] if len(cells) > 1 else "", cells[4] if len(cells) > 4 else ""))
    return rows


@pytest.mark.parametrize("which", ["reference", "subject"])
def test_endpoint_status_reports_exactly_one_leader(which, reference_run, subject_run):
    """In each cluster, endpoint status flags exactly one member as leader, and every member names it."""
    rec = reference_run if which == "reference" else subject_run
    ctx = rec.ctx
    problems = []
    for name in ("endpoint-status", "endpoint-status-table"):
        flags = _status_leader_flags(rec, name)
        leaders = [i for i, f in flags if f == "true"]
        if len(flags) != 3 or len(leaders) != 1 or not all(f in ("true", "false") for _, f in flags):
            problems.append(f"{name}: expected 3 rows and exactly one IS LEADER=true, got {flags}")
    per_member = [f for n in ("s1", "s2", "s3") for f in _status_leader_flags(rec, f"endpoint-status-table-{n}")]
    if len(per_member) != 3 or sum(f == "true" for _, f in per_member) != 1:
        problems.append(f"endpoint status against each member: expected exactly one leader, got {per_member}")
    try:
        entries = json.loads(rec.results["endpoint-status-json"].stdout)
        named = {e["Status"]["leader"] for e in entries}
        flagged = [e for e in entries if e["Status"]["leader"] == e["Status"]["header"]["member_id"]]
        if len(entries) != 3 or len(named) != 1 or len(flagged) != 1 or not named <= set(ctx.member_ids):
            problems.append(f"endpoint status -w json: members name leaders {named} "
                            f"(known members {ctx.member_ids}); {len(flagged)} of {len(entries)} are the leader")
        for e in entries:
            if ctx.member_ids.get(e["Status"]["header"]["member_id"]) != ctx.client_ports.get(
                    int(e["Endpoint"].rsplit(":", 1)[1])):
                problems.append(f"endpoint status -w json: {e['Endpoint']} answered with member_id "
                                f"{e['Status']['header']['member_id']}, not its own ID")
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        problems.append(f"endpoint status -w json unreadable: {exc!r}: {rec.results['endpoint-status-json'].stdout!r}")
    assert not problems, f"{rec.kind}:\n" + "\n".join(problems)


def test_reference_run_is_what_the_script_expects(reference_run):
    """Sanity of the script itself against etcd: writes land at the revisions the script's --rev arguments assume."""
    def rev(name):
        return json.loads(reference_run.results[name].stdout)["header"]["revision"]
    assert rev("fresh-get-all-json") == 1
    assert rev("put-json") == 4
    assert rev("put-ignore-value") == 11
    assert rev("put-recreate-json") == 19
    assert rev("get-after-revoke-json") == 27
    assert rev("get-before-compaction-json") == 34
    assert rev("final-get-all-json") == 35
    for name, res in reference_run.results.items():
        assert res.note == "", f"{name}: {res.note}"
    assert set(reference_run.ctx.lease_names) == {"L1", "L2", "L3"}


# -- self-tests of the normalisation (they need no store; the last one reuses the etcd recording) ----

def _ctx(ports: tuple[int, int, int], peers: tuple[int, int, int], ids: tuple[int, int, int],
         cluster_id: int, leases: tuple[int, ...]) -> Ctx:
    names = ("s1", "s2", "s3")
    ctx = Ctx(kind="synthetic", client_ports=dict(zip(ports, names)), peer_ports=dict(zip(peers, names)),
              endpoints={n: f"127.0.0.1:{p}" for n, p in zip(names, ports)},
              member_ids=dict(zip(ids, names)), cluster_ids={cluster_id: "<cluster-id>"})
    for i, lid in enumerate(leases):
        ctx.add_lease(f"L{i + 1}", lid)
    return ctx


CTX_A = _ctx((58577, 37491, 36971), (55107, 46039, 35815),
             (0x4416178d13688318, 0x3d6e2448d1f0f743, 0x6dcf7e1d3d0ed113), 1634500267129691582,
             (0x0318a2156c1f7618,))
CTX_B = _ctx((40001, 40002, 40003), (41001, 41002, 41003), (1, 2, 3), 77, (0x7f00000000000005,))


def _res(step: Step, stdout: str, stderr: str = "", rc: int = 0) -> Result:
    return Result(step, ["etcdctl"], rc, stdout.encode(), stderr.encode())


def _same(step: Step, a: tuple, b: tuple) -> bool:
    return normalise(_res(step, *a), CTX_A) == normalise(_res(step, *b), CTX_B)


def test_normalisation_accepts_legitimate_differences():
    """IDs, ports, lease IDs, terms, sizes, versions, durations, remaining TTLs and arbitrary order may differ."""
    st = S("x", fmt="json")
    assert _same(st,
                 ('{"header":{"cluster_id":1634500267129691582,"member_id":4906134738750178072,"revision":3,'
                  '"raft_term":2},"kvs":[{"key":"Zm9v","create_revision":2,"mod_revision":3,"version":2,'
                  '"value":"YmF6","lease":223106394446853656}],"count":1}',),
                 ('{"header":{"cluster_id":77,"member_id":2,"revision":3,"raft_term":5},"kvs":[{"key":"Zm9v",'
                  '"create_revision":2,"mod_revision":3,"version":2,"value":"YmF6","lease":9151314442816847877}],'
                  '"count":1}',))
    assert _same(S("x"), ("lease 0318a2156c1f7618 granted with TTL(600s), remaining(595s), attached keys([k1 k2])",),
                 ("lease 7f00000000000005 granted with TTL(600s), remaining(599s), attached keys([k2 k1])",))
    assert _same(S("x", sort=True), ("found 1 leases\n0318a2156c1f7618",), ("found 1 leases\n7f00000000000005",))
    assert _same(S("x", fmt="status"),
                 ("127.0.0.1:58577, 4416178d13688318, 3.4.23, 20 kB, false, false, 2, 32, 32, ",),
                 ("127.0.0.1:40001, 1, 0.1.0, 1.2 MB, true, false, 7, 123, 120, ",))
    table_a = ("+-----------------+------------------+---------+---------+-----------+------------+-----------+"
               "------------+--------------------+--------+\n"
               "|    ENDPOINT     |        ID        | VERSION | DB SIZE | IS LEADER | IS LEARNER | RAFT TERM |"
               " RAFT INDEX | RAFT APPLIED INDEX | ERRORS |\n"
               "| 127.0.0.1:37491 | 3d6e2448d1f0f743 |  3.4.23 |   20 kB |      true |      false |         2 |"
               "         32 |                 32 |        |\n")
    table_b = ("+---+\n| ENDPOINT | ID | VERSION | DB SIZE | IS LEADER | IS LEARNER | RAFT TERM | RAFT INDEX |"
               " RAFT APPLIED INDEX | ERRORS |\n| 127.0.0.1:40002 | 2 | 0.1.0 | 4.1 MB | false | false | 3 | 9 | 9 |  |\n")
    assert _same(S("x", fmt="table"), (table_a,), (table_b,))
    assert _same(S("x", fmt="members", sort=True),
                 ("3d6e2448d1f0f743, started, s2, http://127.0.0.1:46039, http://127.0.0.1:37491, false\n"
                  "4416178d13688318, started, s1, http://127.0.0.1:55107, http://127.0.0.1:58577, false",),
                 ("1, started, s1, http://127.0.0.1:41001, http://127.0.0.1:40001, false\n"
                  "2, started, s2, http://127.0.0.1:41002, http://127.0.0.1:40002, false",))
    warn_a = ('{"level":"warn","ts":"2026-11-26T01:15:44.874Z","caller":"clientv3/retry_interceptor.go:62","msg":'
              '"retrying of unary invoker failed","target":"endpoint://client-e84b76a2-8dc7-4643-ace5-187e9beea30a/'
              '127.0.0.1:58577","attempt":0,"error":"rpc error: code = InvalidArgument desc = etcdserver: key is not '
              'provided"}\nError: etcdserver: key is not provided\n')
    warn_b = warn_a.replace("01:15:44.874", "09:00:00.000").replace("e84b76a2", "00000000").replace("58577", "40001")
    assert _same(S("x"), ("", warn_a, 1), ("", warn_b, 1))
    assert _same(S("x", sort=True), ("", "127.0.0.1:58577 is healthy: successfully committed proposal: took = 3.1ms\n"
                                         "127.0.0.1:37491 is healthy: successfully committed proposal: took = 5ms\n"),
                 ("", "127.0.0.1:40002 is healthy: successfully committed proposal: took = 812.5µs\n"
                      "127.0.0.1:40001 is healthy: successfully committed proposal: took = 1.2s\n"))


def test_normalisation_catches_real_differences():
    """A different value, revision, version, count, granted TTL, error, exit code, name or missing field fails."""
    get = ('{"header":{"cluster_id":1634500267129691582,"member_id":4906134738750178072,"revision":3,'
           '"raft_term":2},"kvs":[{"key":"Zm9v","create_revision":2,"mod_revision":3,"version":2,'
           '"value":"YmF6"}],"count":1}')
    st = S("x", fmt="json")
    for old, new in [('"revision":3', '"revision":4'), ('"create_revision":2', '"create_revision":1'),
                     ('"mod_revision":3', '"mod_revision":2'), ('"version":2', '"version":1'),
                     ('"value":"YmF6"', '"value":"YmF7"'), ('"count":1', '"count":2'),
                     ('"count":1', '"count":1,"more":true'),
                     ('"cluster_id":1634500267129691582', '"cluster_id":1634500267129691583'),
                     ('"member_id":4906134738750178072', '"member_id":12345'),
                     (',"raft_term":2', '')]:
        mutated = get.replace(old, new)
        assert mutated != get
        assert not _same(st, (get,), (mutated.replace("1634500267129691582", "77")
                                      .replace("4906134738750178072", "1"),)), f"{old} -> {new} went unnoticed"
    assert not _same(S("x"), ("lease 0318a2156c1f7618 granted with TTL(600s), remaining(595s)",),
                     ("lease 7f00000000000005 granted with TTL(60s), remaining(595s)",))
    assert not _same(S("x"), ("lease 0318a2156c1f7618 granted with TTL(600s), remaining(5s), attached keys([k1 k2])",),
                     ("lease 7f00000000000005 granted with TTL(600s), remaining(5s), attached keys([k1])",))
    assert not _same(S("x"), ("lease 0318a2156c1f7618 granted with TTL(600s)",),
                     ("lease 7f00000000000006 granted with TTL(600s)",)), "an unknown lease id went unnoticed"
    assert not _same(S("x"), ("", "Error: etcdserver: mvcc: required revision has been compacted", 1),
                     ("", "Error: etcdserver: mvcc: required revision is a future revision", 1))
    assert not _same(S("x"), ("", "Error: etcdserver: request is too large", 1),
                     ("", "Error: etcdserver: request is too large", 2))
    warn = ('{"level":"warn","ts":"x","caller":"clientv3/retry_interceptor.go:62","msg":"retrying of unary invoker '
            'failed","target":"endpoint://client-e84b76a2-8dc7-4643-ace5-187e9beea30a/127.0.0.1:58577","attempt":0,'
            '"error":"rpc error: code = OutOfRange desc = etcdserver: mvcc: required revision has been compacted"}')
    assert not _same(S("x"), ("", warn, 1), ("", warn.replace("OutOfRange", "Unknown"), 1))
    assert not _same(S("x", fmt="members", sort=True),
                     ("4416178d13688318, started, s1, http://127.0.0.1:55107, http://127.0.0.1:58577, false",),
                     ("1, started, s2, http://127.0.0.1:41001, http://127.0.0.1:40001, false",))
    assert not _same(S("x", fmt="members", sort=True),
                     ("4416178d13688318, started, s1, http://127.0.0.1:55107, http://127.0.0.1:58577, false",),
                     ("1, started, s1, http://127.0.0.1:41001, http://127.0.0.1:40002, false",)), "swapped URL"
    assert not _same(S("x", fmt="status"),
                     ("127.0.0.1:58577, 4416178d13688318, 3.4.23, 20 kB, false, false, 2, 32, 32, ",),
                     ("127.0.0.1:40001, 2, 0.1.0, 1.2 MB, true, false, 7, 123, 120, ",)), "row names another member"
    assert not _same(S("x", fmt="status"),
                     ("127.0.0.1:58577, 4416178d13688318, 3.4.23, 20 kB, false, false, 2, 32, 32, ",),
                     ("127.0.0.1:40001, 1, 0.1.0, 1.2 MB, true, false, 0, 123, 120, ",)), "raft term 0"
    assert not _same(S("x"), ("PUT\nfoo\nbar\nPUT\nfoo\nbaz",), ("PUT\nfoo\nbaz",)), "a lost watch event"
    assert not _same(S("x"), ("SUCCESS\n\nOK",), ("FAILURE\n\nOK",))


def _relabel(rec: Recording) -> tuple[Recording, list[str]]:
    """`rec` as another cluster would print it: new ports, member/cluster/lease IDs, terms, TTLs, durations."""
    ctx = rec.ctx
    port_map = {p: 30000 + i for i, p in enumerate(sorted(set(ctx.client_ports) | set(ctx.peer_ports)))}
    id_map = {mid: 1000 + i for i, mid in enumerate(sorted(ctx.member_ids))}
    lease_map = {lid: 0x7f00000000000000 + i for i, lid in enumerate(sorted(ctx.leases))}
    (cluster_id,) = ctx.cluster_ids
    new_cluster_id = 4242

    def text(s: str) -> str:
        s = ADDR_RE.sub(lambda m: f"127.0.0.1:{port_map.get(int(m.group(1)), m.group(1))}", s)
        for old, new in {**id_map, **lease_map}.items():
            s = re.sub(rf"\b{old:016x}\b", f"{new:016x}", s)
            s = re.sub(rf"\b{old:x}\b", f"{new:x}", s)
            s = re.sub(rf"(?<![0-9]){old}(?![0-9])", str(new), s)
        s = re.sub(rf"(?<![0-9]){cluster_id}(?![0-9])", str(new_cluster_id), s)
        s = re.sub(r'"raft_term":[1-9]\d*', '"raft_term":9', s)
        s = re.sub(r'"RaftTerm" : [1-9]\d*', '"RaftTerm" : 9', s)
        s = re.sub(r'"raftIndex":\d+', '"raftIndex":777', s)
        s = re.sub(r'"dbSize":\d+', '"dbSize":1', s)
        s = re.sub(r'"version":"3\.4\.23"', '"version":"0.1.0"', s)
        s = re.sub(r"remaining\((\d+)s\)", "remaining(1s)", s)
        s = re.sub(r'"ttl":\d+', '"ttl":1', s)
        s = re.sub(r"took = \S+", "took = 9.9s", s)
        s = re.sub(r'"took":"[^"]*"', '"took":"1.5ms"', s)
        s = re.sub(r'"ts":"[^"]*"', '"ts":"2000-01-01T00:00:00.000Z"', s)
        s = re.sub(r"\b3\.4\.23\b", "0.1.0", s)
        s = re.sub(r"client-[0-9a-f-]{36}", "client-00000000-0000-0000-0000-000000000000", s)
        return s

    new_ctx = Ctx(kind="relabelled etcd",
                  client_ports={port_map[p]: n for p, n in ctx.client_ports.items()},
                  peer_ports={port_map[p]: n for p, n in ctx.peer_ports.items()},
                  endpoints={n: f"127.0.0.1:{port_map[int(e.rsplit(':', 1)[1])]}" for n, e in ctx.endpoints.items()},
                  member_ids={id_map[i]: n for i, n in ctx.member_ids.items()},
                  cluster_ids={new_cluster_id: "<cluster-id>"})
    for name, lid in ctx.lease_names.items():
        new_ctx.add_lease(name, lease_map[lid])
    results, touched = {}, []
    for name, r in rec.results.items():
        out, err = text(r.stdout.decode(errors="surrogateescape")), text(r.stderr.decode(errors="surrogateescape"))
        if r.step.sort and r.step.fmt != "table":   # arbitrary order: reverse it (tables: keep the header first)
            out = "\n".join(reversed(out.splitlines()))
            err = "\n".join(reversed(err.splitlines()))
        new = dataclasses.replace(r, stdout=out.encode(errors="surrogateescape"),
                                  stderr=err.encode(errors="surrogateescape"))
        if (new.stdout, new.stderr) != (r.stdout, r.stderr):
            touched.append(name)
        results[name] = new
    return Recording(kind=new_ctx.kind, ctx=new_ctx, results=results, log_dir=rec.log_dir), touched


def test_normalisation_on_the_recorded_etcd_run(reference_run):
    """On the real etcd recording, relabelling IDs/ports/terms changes nothing, and targeted mutations are caught."""
    relabelled, touched = _relabel(reference_run)
    assert len(touched) > len(STEPS) // 2, "the relabelling should have changed most outputs"
    problems = [p for name in STEPS if (p := compare(name, reference_run, relabelled))]
    assert not problems, "legitimate differences were flagged:\n" + "\n\n".join(problems)

    def mutated(name: str, fn: Callable[[Result], Result]) -> Recording:
        rec = copy.copy(reference_run)
        rec.results = dict(reference_run.results)
        rec.results[name] = fn(rec.results[name])
        assert rec.results[name] != reference_run.results[name], f"mutation of {name} changed nothing"
        return rec

    def sub_out(old: bytes, new: bytes, count: int = 1):
        return lambda r: dataclasses.replace(r, stdout=r.stdout.replace(old, new, count))

    mutations = {
        "put-prev-kv": sub_out(b"bar", b"baX"),
        "get-json": sub_out(b'"mod_revision":3', b'"mod_revision":2'),
        "get-rev-prefix-json": sub_out(b'"revision":', b'"revision":1'),
        "get-limit-json": sub_out(b',"more":true', b""),
        "txn-failure": sub_out(b"FAILURE", b"SUCCESS"),
        "put-too-large": lambda r: dataclasses.replace(r, rc=0),
        "get-compacted-rev": lambda r: dataclasses.replace(
            r, stderr=r.stderr.replace(b"has been compacted", b"is a future revision")),
        "lease-timetolive": sub_out(b"TTL(600s)", b"TTL(599s)"),
        "lease-list": sub_out(b"found 2 leases", b"found 3 leases"),
        "member-list-json": sub_out(b'"name":"s1"', b'"name":"s4"'),
        "watch-prefix-from-rev": lambda r: dataclasses.replace(r, stdout=r.stdout.replace(b"PUT\na/3\nthree\n", b"", 1)),
        "watch-compacted-rev": lambda r: dataclasses.replace(r, rc=1),
        "endpoint-status-json": sub_out(b'"revision":35', b'"revision":34'),
        "get-large-value": sub_out(b"w", b"x"),
        "lease-grant-below-minimum-ttl": sub_out(b"TTL(2s)", b"TTL(1s)"),
    }
    for name, fn in mutations.items():
        assert compare(name, reference_run, mutated(name, fn)) is not None, f"mutation of {name} went unnoticed"
