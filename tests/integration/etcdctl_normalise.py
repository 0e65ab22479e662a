"""Normalisation of recorded etcdctl output for test_etcdctl.py: what identifies one cluster in the output
(`Ctx`), what a run of the script recorded (`Result`, `Recording`), the comparable form of one recorded
invocation (`normalise`) and the readable report when a step differs between two recordings (`compare`).

What is kept exact, because both stores must agree on it:
  * exit codes; every key and value; `OK`, counts, SUCCESS/FAILURE; error messages. That includes the gRPC
    code and description in etcdctl's own `retrying of unary invoker failed` warning on stderr.
  * every revision: header.revision, create_revision, mod_revision, version, `compacted revision N`, the
    revisions the script passes to `--rev` and `compaction`. A fresh store is at revision 1, and the same
    sequence of writes must give the same revisions.
  * granted TTLs (`TTL(600s)`, `granted-ttl`, keep-alive `TTL`); member names; started/unstarted;
    isLearner; which fields are present in `-w json` output (a zero field is omitted, so a missing
    `dbSizeInUse` or `raftIndex` is a difference); the inner Txn headers (revision only, other fields 0).

What is normalised, and why it may legitimately differ:
  * `127.0.0.1:<port>` → `<sN>` for a member's client port and `<sN-peer>` for its peer port. Ports are
    picked at random per run. Unknown ports are left as they are.
  * Member IDs → `<id:sN>` where the output says which member a row describes (member list, endpoint
    status rows and their json). Header `member_id` → `<member-id>` if it is one of the cluster's members:
    which member answers depends on the endpoint etcdctl picks. IDs are random (etcd hashes its peer URLs).
  * `cluster_id` → `<cluster-id>` when it is the cluster's id (as reported by Status at startup).
  * Lease IDs → `<lease#k>`, numbered in the order the script granted them. The server picks them.
  * Raft term (non-zero), raft index and raft applied index → placeholders. Raft log layout and election
    history are implementation details.
  * DB size / dbSize / dbSizeInUse → `<db-size>`, if formatted like a size. Storage engine detail.
  * Server version (`3.4.23` for etcd) → `<version>`, if it looks like a version.
  * IS LEADER and status `leader` → placeholders. Which member wins the election is random. Instead,
    `test_endpoint_status_reports_exactly_one_leader` (test_etcdctl.py) checks within each cluster that exactly
    one member says it leads and that all members name that same member.
  * Lease remaining TTL (`remaining(599s)`, json `ttl`) → `<ttl>`. It depends on timing to the second.
  * Durations (`took = 2.3ms`, json `took`) and etcdctl's warn-log timestamp and client UUID.
  * Order, where the server's order is arbitrary or timing-dependent. Sorted after normalisation:
    - member list (etcd sorts by the random member ID);
    - lease list (Go map order);
    - endpoint health (printed as each endpoint answers);
    - endpoint status --cluster (member-list order);
    - a lease's attached keys in `lease timetolive --keys` (etcd keeps them in a Go map).
  * Outputs larger than 64 KiB → their length and sha256. Still exact, but diffs stay readable.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from tests.integration.etcdctl_script import Step, Watch

BIG_OUTPUT = 64 * 1024


@dataclass
class Ctx:
    """What identifies one cluster in etcdctl output: ports, member/cluster/lease IDs."""
    kind: str
    client_ports: dict[int, str]          # port -> member name
    peer_ports: dict[int, str]
    endpoints: dict[str, str]             # member name -> "127.0.0.1:port"
    member_ids: dict[int, str]            # member id -> member name
    cluster_ids: dict[int, str]           # cluster id -> placeholder
    leases: dict[int, str] = field(default_factory=dict)      # lease id -> "<lease#k>"
    lease_names: dict[str, int] = field(default_factory=dict)  # script lease name -> lease id

    @classmethod
    def from_cluster(cls, cluster) -> "Ctx":
        member_ids: dict[int, str] = {}
        seen_cluster_ids: dict[int, list[str]] = {}
        for m in cluster.members:
            st = m.status(timeout=5.0)
            member_ids[st.header.member_id] = m.name
            seen_cluster_ids.setdefault(st.header.cluster_id, []).append(m.name)
        if len(seen_cluster_ids) == 1:
            cluster_ids = {cid: "<cluster-id>" for cid in seen_cluster_ids}
        else:   # members disagree: keep them apart so every output that shows one differs from etcd
            cluster_ids = {cid: f"<cluster-id of {'+'.join(names)}>" for cid, names in seen_cluster_ids.items()}
        return cls(kind=cluster.kind,
                   client_ports={m.client_port: m.name for m in cluster.members},
                   peer_ports={m.peer_port: m.name for m in cluster.members},
                   endpoints={m.name: m.endpoint for m in cluster.members},
                   member_ids=member_ids, cluster_ids=cluster_ids)

    def add_lease(self, name: str, lease_id: int) -> None:
        self.lease_names[name] = lease_id
        self.leases.setdefault(lease_id, f"<lease#{len(self.leases) + 1}>")


@dataclass
class Result:
    step: Step | Watch
    argv: list[str]
    rc: int | str
    stdout: bytes
    stderr: bytes
    note: str = ""


@dataclass
class Recording:
    kind: str
    ctx: Ctx
    results: dict[str, Result]
    log_dir: Path
    exited: list[str] = field(default_factory=list)   # members whose process had died by the end


# ------------------------------------------------------------------------------------------------
# Normalisation
# ------------------------------------------------------------------------------------------------

ADDR_RE = re.compile(r"127\.0\.0\.1:(\d+)")
_HEX16_RE = re.compile(r"\b[0-9a-f]{16}\b")
_REMAINING_RE = re.compile(r"remaining\(-?\d+s\)")
_TOOK_RE = re.compile(r"took = [0-9.]+[a-zµ]*s")
_ATTACHED_RE = re.compile(r"attached keys\(\[([^\]]*)\]\)")
_UUID_RE = re.compile(r"client-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DBSIZE_RE = re.compile(r"^\d+(\.\d+)? ?[kKMGTPE]?i?B$")
_VERSION_RE = re.compile(r"^v?\d+\.\d+\.\d+\S*$")
_DURATION_RE = re.compile(r"^[0-9.]+(ns|us|µs|ms|s|m|h)([0-9.]+(ns|us|µs|ms|s))*$")

STATUS_COLUMNS = ["ENDPOINT", "ID", "VERSION", "DB SIZE", "IS LEADER", "IS LEARNER", "RAFT TERM",
                  "RAFT INDEX", "RAFT APPLIED INDEX", "ERRORS"]
MEMBER_COLUMNS = ["ID", "STATUS", "NAME", "PEER ADDRS", "CLIENT ADDRS", "IS LEARNER"]


def norm_text(s: str, ctx: Ctx) -> str:
    """Substitutions that are safe anywhere: addresses, 16-hex lease/member IDs, remaining TTL, durations."""
    def addr(m: re.Match) -> str:
        port = int(m.group(1))
        if port in ctx.client_ports:
            return f"<{ctx.client_ports[port]}>"
        if port in ctx.peer_ports:
            return f"<{ctx.peer_ports[port]}-peer>"
        return m.group(0)

    def hex16(m: re.Match) -> str:
        v = int(m.group(0), 16)
        if v in ctx.leases:
            return ctx.leases[v]
        if v in ctx.member_ids:
            return f"<id:{ctx.member_ids[v]}>"
        return m.group(0)

    s = ADDR_RE.sub(addr, s)
    s = _HEX16_RE.sub(hex16, s)
    s = _REMAINING_RE.sub("remaining(<ttl>)", s)
    s = _TOOK_RE.sub("took = <duration>", s)
    s = _ATTACHED_RE.sub(lambda m: f"attached keys([{' '.join(sorted(m.group(1).split(' ')))}])", s)
    return s


def _member_hex(cell: str, ctx: Ctx) -> str:
    try:
        v = int(cell, 16)
    except ValueError:
        return cell
    return f"<id:{ctx.member_ids[v]}>" if v in ctx.member_ids else cell


def norm_cell(column: str, cell: str, ctx: Ctx) -> str:
    if column == "ID":
        return _member_hex(cell, ctx)
    if column == "VERSION" and _VERSION_RE.match(cell):
        return "<version>"
    if column == "DB SIZE" and _DBSIZE_RE.match(cell):
        return "<db-size>"
    if column == "IS LEADER" and cell in ("true", "false"):
        return "<is-leader>"
    if column in ("RAFT TERM", "RAFT INDEX", "RAFT APPLIED INDEX") and cell.isdigit() and int(cell) > 0:
        return f"<{column.lower().replace(' ', '-')}>"
    return norm_text(cell, ctx)


def _sort_rows(rows: list[str], sort: bool) -> list[str]:
    return sorted(rows) if sort else rows


def norm_table(text: str, ctx: Ctx, sort: bool) -> str:
    """`-w table`: cells by column header; border lines and padding (width follows content) dropped."""
    out: list[str] = []
    header: list[str] | None = None
    rows: list[str] = []
    for line in text.splitlines():
        if line.startswith("+"):
            continue
        if not line.startswith("|"):
            out.append(norm_text(line, ctx))
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
            out.append(" | ".join(cells))
            continue
        rows.append(" | ".join(norm_cell(h, c, ctx) for h, c in zip(header, cells))
                    + ("" if len(cells) == len(header) else f" <{len(cells)} cells for {len(header)} columns>"))
    return "\n".join(out + _sort_rows(rows, sort))


def norm_csv_rows(text: str, columns: list[str], ctx: Ctx, sort: bool) -> str:
    """Simple `endpoint status` / `member list` lines: `a, b, c` by position."""
    rows = []
    for line in text.splitlines():
        cells = line.split(", ")
        rows.append(", ".join(norm_cell(columns[i], c, ctx) if i < len(columns) else norm_text(c, ctx)
                              for i, c in enumerate(cells)))
    return "\n".join(_sort_rows(rows, sort))


def norm_json_value(key: str | None, v, ctx: Ctx, path: tuple[str, ...]):
    if isinstance(v, dict):
        return {k: norm_json_value(k, x, ctx, path + (k,)) for k, x in v.items()}
    if isinstance(v, list):
        items = [norm_json_value(key, x, ctx, path) for x in v]
        if key == "keys" and all(isinstance(x, str) for x in items):   # a lease's keys: Go map order
            items.sort()
        return items
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        if key == "version" and _VERSION_RE.match(v):
            return "<version>"
        if key == "took" and _DURATION_RE.match(v):
            return "<duration>"
        return norm_text(v, ctx)
    if not isinstance(v, int):
        return v
    if key == "cluster_id" and v in ctx.cluster_ids:
        return ctx.cluster_ids[v]
    if key == "member_id" and v in ctx.member_ids:
        # In endpoint status, the header says which member answered: that must be the row's member.
        return f"<id:{ctx.member_ids[v]}>" if "Status" in path else "<member-id>"
    if key == "leader" and v in ctx.member_ids:
        return "<leader>"
    if key in ("raft_term", "raftTerm", "raftIndex", "raftAppliedIndex") and v > 0:
        return f"<{key}>"
    if key in ("dbSize", "dbSizeInUse") and v > 0:
        return "<db-size>"
    if key == "ttl":            # lease timetolive: remaining seconds (granted-ttl stays exact)
        return "<ttl>"
    if key in ("ID", "id") and "members" in path and v in ctx.member_ids:
        return f"<id:{ctx.member_ids[v]}>"
    if key in ("ID", "id", "lease") and v in ctx.leases:
        return ctx.leases[v]
    if key in ("ID", "id") and v in ctx.member_ids:
        return f"<id:{ctx.member_ids[v]}>"
    return v


def _sort_json(doc):
    if isinstance(doc, list):
        return sorted(doc, key=lambda x: json.dumps(x, sort_keys=True))
    if isinstance(doc, dict):
        doc = dict(doc)
        if isinstance(doc.get("members"), list):
            doc["members"] = sorted(doc["members"], key=lambda m: (str(m.get("name")), json.dumps(m, sort_keys=True)))
        if isinstance(doc.get("leases"), list):
            doc["leases"] = sorted(doc["leases"], key=lambda x: json.dumps(x, sort_keys=True))
    return doc


def norm_json(text: str, ctx: Ctx, sort: bool) -> str:
    out = []
    for line in text.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            out.append(norm_text(line, ctx))
            continue
        doc = norm_json_value(None, doc, ctx, ())
        if sort:
            doc = _sort_json(doc)
        out.append(json.dumps(doc))
    return "\n".join(out)


_FIELDS_RE = re.compile(r'^"(\w+)" : (.*)$')
_FIELD_KEYS = {"ClusterID": "cluster_id", "MemberID": "member_id", "RaftTerm": "raft_term",
               "Lease": "lease", "ID": "ID", "TTL": "TTL", "GrantedTTL": "grantedTTL"}


def norm_fields(text: str, ctx: Ctx) -> str:
    out = []
    for line in text.splitlines():
        m = _FIELDS_RE.match(line)
        if m and m.group(1) in _FIELD_KEYS and re.fullmatch(r"-?\d+", m.group(2)):
            v = norm_json_value(_FIELD_KEYS[m.group(1)], int(m.group(2)), ctx, ())
            out.append(f'"{m.group(1)}" : {v}')
        else:
            out.append(norm_text(line, ctx))
    return "\n".join(out)


def norm_stderr(text: str, ctx: Ctx, sort: bool) -> str:
    """etcdctl's zap warnings: drop the timestamp, hide the client UUID and endpoint; keep code and message."""
    out = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                doc = json.loads(line)
            except ValueError:
                doc = None
            if isinstance(doc, dict) and "level" in doc:
                doc.pop("ts", None)
                if isinstance(doc.get("target"), str):
                    doc["target"] = re.sub(r"/[^/]*$", "/<endpoint>", _UUID_RE.sub("client-<uuid>", doc["target"]))
                out.append(norm_text(json.dumps(doc), ctx))
                continue
        out.append(norm_text(line, ctx))
    return "\n".join(_sort_rows(out, sort))


def _digest_if_big(data: bytes) -> str | None:
    if len(data) <= BIG_OUTPUT:
        return None
    return f"<{len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}>"


def norm_stdout(step: Step | Watch, data: bytes, ctx: Ctx) -> str:
    big = _digest_if_big(data)
    if big:
        return big
    text = data.decode("utf-8", errors="backslashreplace")
    if step.fmt == "json":
        return norm_json(text, ctx, step.sort)
    if step.fmt == "fields":
        return norm_fields(text, ctx)
    if step.fmt == "table":
        return norm_table(text, ctx, step.sort)
    if step.fmt == "status":
        return norm_csv_rows(text, STATUS_COLUMNS, ctx, step.sort)
    if step.fmt == "members":
        return norm_csv_rows(text, MEMBER_COLUMNS, ctx, step.sort)
    return "\n".join(_sort_rows([norm_text(line, ctx) for line in text.splitlines()], step.sort))


def normalise(res: Result, ctx: Ctx) -> str:
    """The comparable form of one recorded invocation."""
    big_err = _digest_if_big(res.stderr)
    stderr = big_err or norm_stderr(res.stderr.decode("utf-8", errors="backslashreplace"), ctx, res.step.sort)
    return f"exit: {res.rc}\n--- stdout\n{norm_stdout(res.step, res.stdout, ctx)}\n--- stderr\n{stderr}\n"


def shown_command(res: Result, ctx: Ctx) -> str:
    argv = [norm_text(a, ctx) for a in res.argv]
    argv[0] = "etcdctl"
    cmd = " ".join(a if a and " " not in a else repr(a) for a in argv)
    if res.step.stdin is not None:
        shown = res.step.stdin if len(res.step.stdin) <= 200 else res.step.stdin[:40] + b"..."
        cmd += f"  <<< stdin ({len(res.step.stdin)} bytes): {shown!r}"
    return cmd


def compare(name: str, ref: Recording, sub: Recording) -> str | None:
    """None if step `name` printed the same (normalised) on both; otherwise a readable report."""
    a, b = ref.results.get(name), sub.results.get(name)
    if a is None or b is None:
        return f"step {name!r} was not recorded for {'etcd' if a is None else sub.kind}"
    na, nb = normalise(a, ref.ctx), normalise(b, sub.ctx)
    if na == nb:
        return None
    diff = "".join(difflib.unified_diff(na.splitlines(True), nb.splitlines(True),
                                        fromfile=f"{ref.kind} (normalised)", tofile=f"{sub.kind} (normalised)"))
    return (f"etcdctl output differs for step {name!r}\n"
            f"  {ref.kind}: {shown_command(a, ref.ctx)}\n"
            f"  {sub.kind}: {shown_command(b, sub.ctx)}\n"
            f"{diff}\n"
            f"--- raw {sub.kind} output (exit {b.rc}) ---\n{_raw(b)}\n"
            f"(member logs: {sub.log_dir}"
            + (f"; members that had exited by the end of the script: {', '.join(sub.exited)})" if sub.exited else ")"))


def _raw(res: Result) -> str:
    def cut(data: bytes) -> str:
        text = data.decode("utf-8", errors="backslashreplace")
        return text if len(text) <= 4000 else text[:4000] + f"... ({len(text)} chars)"
    return f"stdout:\n{cut(res.stdout)}\nstderr:\n{cut(res.stderr)}"
