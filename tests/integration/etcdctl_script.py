"""The etcdctl command script of test_etcdctl.py: `Step` (one etcdctl invocation) and `Watch` (an `etcdctl
watch` held open while its trigger steps run), `SCRIPT`, the invocations run in order against both clusters
with the store revision each write is expected to reach noted on the right (later `--rev` and `compaction`
arguments rely on those revisions), and `STEPS`, every recorded step by name, one pytest case each."""
from __future__ import annotations

from dataclasses import dataclass

LEASE_MISSING = "1234abcd"   # a lease id no server has granted in this script

MIB = 1024 * 1024
TOO_LARGE_VALUE = b"v" * (MIB + MIB // 2 + 1024)   # 1.5 MiB + 1 KiB: over --max-request-bytes
LARGE_VALUE = b"w" * 1_570_000                     # ~2.8 KB under the limit: accepted


@dataclass(frozen=True)
class Step:
    """One etcdctl invocation. `args` may contain `{L1}`-style templates for lease IDs granted earlier."""
    name: str
    args: tuple[str, ...]
    ep: str = "s1"                 # "s1" | "s2" | "s3" | "all": the --endpoints given to etcdctl
    stdin: bytes | None = None
    fmt: str = "simple"            # simple | json | fields | status | table | members
    sort: bool = False             # sort output lines / entries after normalisation (arbitrary order)
    lease: str | None = None       # `lease grant` steps: the name that templates use for the new lease


@dataclass(frozen=True)
class Watch:
    """`etcdctl watch` held open: run `then` (recorded as steps), read stdout up to the line `until`."""
    name: str
    args: tuple[str, ...]
    then: tuple[Step, ...]
    until: str
    ep: str = "s1"
    fmt: str = "simple"
    sort: bool = False
    stdin: bytes | None = None
    lease: str | None = None


def S(name: str, *args: str, **kw) -> Step:
    return Step(name, tuple(args), **kw)


def W(name: str, args: tuple[str, ...], then: tuple[Step, ...], until: str, **kw) -> Watch:
    return Watch(name, args, then, until, **kw)


def txn(*blocks: list[str]) -> bytes:
    """stdin of `etcdctl txn --interactive=false`: compares, success ops, failure ops; blank-line ended."""
    return "".join("".join(line + "\n" for line in block) + "\n" for block in blocks).encode()


# The expected store revision after each group is noted on the right; --rev/compaction arguments use it.
SCRIPT: list[Step | Watch] = [
    # -- a fresh store ------------------------------------------------------------------ rev 1
    S("fresh-get-all-json", "get", "", "--prefix", "-w", "json", ep="s2", fmt="json"),
    S("fresh-endpoint-status-json", "endpoint", "status", "-w", "json", fmt="json"),
    # -- put ---------------------------------------------------------------------------------
    S("put-plain", "put", "foo", "bar"),                                               # 2
    S("put-prev-kv", "put", "foo", "baz", "--prev-kv"),                                # 3
    S("put-json", "put", "a/1", "one", "-w", "json", fmt="json"),                      # 4
    S("put-on-s2", "put", "a/2", "two", ep="s2"),                                      # 5
    S("put-on-s3", "put", "a/3", "three", ep="s3"),                                    # 6
    S("put-all-endpoints", "put", "b/1", "bee", ep="all"),                             # 7
    S("put-prev-kv-json", "put", "a/2", "two-v2", "--prev-kv", "-w", "json", fmt="json"),  # 8
    S("put-value-from-stdin", "put", "stdin-key", stdin=b"from stdin\n"),             # 9
    S("put-empty-value", "put", "empty", ""),                                          # 10
    S("put-empty-key", "put", "", "v"),
    S("put-ignore-value-missing-key", "put", "nokey", "--ignore-value"),
    S("put-ignore-value", "put", "a/3", "--ignore-value", "-w", "json", fmt="json"),  # 11
    S("put-too-large", "put", "big", stdin=TOO_LARGE_VALUE),
    S("put-large", "put", "big", stdin=LARGE_VALUE),                                   # 12
    # -- get ---------------------------------------------------------------------------------
    S("get-single-on-s3", "get", "foo", ep="s3"),
    S("get-missing", "get", "nokey"),
    S("get-json", "get", "foo", "-w", "json", fmt="json"),
    S("get-serializable", "get", "foo", "--consistency=s"),
    S("get-fields", "get", "foo", "-w", "fields", fmt="fields"),
    S("get-empty-key", "get", ""),
    S("get-prefix-on-s2", "get", "a/", "--prefix", ep="s2"),
    S("get-prefix-json", "get", "a/", "--prefix", "-w", "json", fmt="json"),
    S("get-serializable-prefix-json", "get", "a/", "--prefix", "--consistency=s", "-w", "json", fmt="json"),
    S("get-range-end-json", "get", "a/1", "a/3", "-w", "json", fmt="json"),
    S("get-rev", "get", "foo", "--rev=2"),
    S("get-rev-prefix", "get", "a/", "--prefix", "--rev=5"),
    S("get-rev-prefix-json", "get", "a/", "--prefix", "--rev=7", "-w", "json", fmt="json"),
    S("get-rev-future", "get", "foo", "--rev=1000"),
    S("get-limit", "get", "a/", "--prefix", "--limit=2"),
    S("get-limit-json", "get", "a/", "--prefix", "--limit=1", "-w", "json", fmt="json"),
    S("get-keys-only", "get", "a/", "--prefix", "--keys-only"),
    S("get-all-keys-only-json", "get", "", "--prefix", "--keys-only", "-w", "json", fmt="json"),
    S("get-sort-modify-descend", "get", "a/", "--prefix", "--sort-by=MODIFY", "--order=DESCEND"),
    S("get-sort-version-descend-limit-json", "get", "a/", "--prefix", "--sort-by=VERSION",
      "--order=DESCEND", "--limit=1", "-w", "json", fmt="json"),
    S("get-sort-value-ascend", "get", "a/", "--prefix", "--sort-by=VALUE", "--order=ASCEND"),
    S("get-sort-key-descend", "get", "a/", "--prefix", "--sort-by=KEY", "--order=DESCEND"),
    S("get-sort-create-keys-only", "get", "", "--prefix", "--sort-by=CREATE", "--keys-only"),
    S("get-from-key", "get", "b", "--from-key", "--keys-only"),
    S("get-from-key-limit-json", "get", "a/2", "--from-key", "--limit=2", "-w", "json", fmt="json"),
    S("get-print-value-only", "get", "a/", "--prefix", "--print-value-only"),
    S("get-large-keys-only-json", "get", "big", "--keys-only", "-w", "json", fmt="json"),
    S("get-large-value", "get", "big", "--print-value-only"),
    # -- del ---------------------------------------------------------------------------------
    S("del-missing", "del", "nokey"),
    S("del-missing-json", "del", "nokey", "-w", "json", fmt="json"),
    S("del-single", "del", "b/1"),                                                     # 13
    S("put-c1", "put", "c/1", "x"),                                                    # 14
    S("put-c2", "put", "c/2", "y"),                                                    # 15
    S("put-c3", "put", "c/3", "z"),                                                    # 16
    S("del-prev-kv", "del", "c/1", "--prev-kv"),                                       # 17
    S("del-prefix-prev-kv-json", "del", "c/", "--prefix", "--prev-kv", "-w", "json", fmt="json"),  # 18
    S("del-prefix-missing", "del", "c/", "--prefix"),
    S("del-from-key-missing", "del", "zz", "--from-key"),
    S("put-recreate-json", "put", "b/1", "bee2", "-w", "json", fmt="json"),           # 19
    S("get-recreated-json", "get", "b/1", "-w", "json", fmt="json"),
    # -- txn ---------------------------------------------------------------------------------
    S("txn-success", "txn", "--interactive=false",                                     # 20
      stdin=txn(['value("foo") = "baz"', 'mod("foo") > "0"', 'version("a/2") = "2"'],
                ["put foo qux", "get foo"], ["put foo nope"])),
    S("txn-failure", "txn", "--interactive=false",
      stdin=txn(['version("foo") = "99"'], ["put foo never"], ["get foo", "del nokey"])),
    S("txn-failure-no-ops", "txn", "--interactive=false",
      stdin=txn(['create("foo") = "999"'], [], [])),
    S("txn-value-of-missing-key", "txn", "--interactive=false",
      stdin=txn(['value("nokey") = ""'], ["put z 1"], ["get nokey"])),
    S("txn-version-absent-json", "txn", "--interactive=false", "-w", "json", fmt="json",  # 21
      stdin=txn(['version("t/1") = "0"'], ["put t/1 x", "put t/2 y", "get t/ --prefix"], [])),
    S("txn-many-compares", "txn", "--interactive=false",                               # 22
      stdin=txn(['create("foo") = "2"', 'ver("foo") > "1"', 'm("foo") < "1000"', 'val("foo") != "x"'],
                ["get t/ --prefix --keys-only", "del t/ --prefix"], ["put never x"])),
    S("txn-duplicate-key", "txn", "--interactive=false",
      stdin=txn([], ["put dup 1", "put dup 2"], [])),
    S("txn-fields", "txn", "--interactive=false", "-w", "fields", fmt="fields",        # 23
      stdin=txn(['c("foo") = "2"'], ["put k1 v1", "put k2 v2"], [])),
    S("txn-failure-writes", "txn", "--interactive=false",                              # 24
      stdin=txn(['mod("foo") = "3"'], ["put tf never"], ["put tf failure-branch", "get tf"])),
    # -- lease -------------------------------------------------------------------------------
    S("lease-grant", "lease", "grant", "600", lease="L1"),
    S("lease-grant-json", "lease", "grant", "300", "-w", "json", fmt="json", lease="L2"),
    S("lease-grant-too-large", "lease", "grant", "9000000001"),
    S("put-lease", "put", "--lease={L1}", "lk/1", "v1"),                               # 25
    S("put-lease-json", "put", "--lease={L1}", "lk/2", "v2", "-w", "json", fmt="json"),  # 26
    S("put-lease-unknown", "put", f"--lease={LEASE_MISSING}", "lk/3", "v3"),
    S("get-lease-json", "get", "lk/", "--prefix", "-w", "json", fmt="json"),
    S("lease-timetolive", "lease", "timetolive", "{L1}"),
    S("lease-timetolive-keys", "lease", "timetolive", "--keys", "{L1}"),
    S("lease-timetolive-keys-json", "lease", "timetolive", "--keys", "{L1}", "-w", "json", fmt="json"),
    S("lease-timetolive-no-keys-json", "lease", "timetolive", "{L2}", "-w", "json", fmt="json"),
    S("lease-timetolive-unknown", "lease", "timetolive", LEASE_MISSING),
    S("lease-keep-alive-once", "lease", "keep-alive", "--once", "{L1}"),
    S("lease-keep-alive-once-json", "lease", "keep-alive", "--once", "{L2}", "-w", "json", fmt="json"),
    S("lease-keep-alive-once-unknown", "lease", "keep-alive", "--once", LEASE_MISSING),
    S("lease-list", "lease", "list", sort=True),
    S("lease-list-json", "lease", "list", "-w", "json", fmt="json", sort=True),
    S("lease-revoke", "lease", "revoke", "{L1}"),                                      # 27
    S("get-after-revoke-json", "get", "lk/", "--prefix", "-w", "json", fmt="json"),
    S("lease-timetolive-revoked", "lease", "timetolive", "{L1}"),
    S("lease-keep-alive-once-revoked", "lease", "keep-alive", "--once", "{L1}"),
    S("lease-revoke-revoked", "lease", "revoke", "{L1}"),
    S("lease-revoke-unknown", "lease", "revoke", LEASE_MISSING),
    S("lease-revoke-without-keys", "lease", "revoke", "{L2}"),
    S("get-after-revoke-without-keys-json", "get", "foo", "-w", "json", fmt="json"),
    # TTL below the minimum is raised to 2 s. This lease expires during the rest of the script, so
    # nothing after this step lists leases.
    S("lease-grant-below-minimum-ttl", "lease", "grant", "1", lease="L3"),
    # -- watch -------------------------------------------------------------------------------
    W("watch-prefix-from-rev", ("watch", "--prefix", "a/", "--rev=5"),
      then=(S("put-watch-sentinel-a", "put", "a/zz", "sentinel-a"),), until="sentinel-a"),   # 28
    W("watch-prev-kv-from-rev", ("watch", "foo", "--rev=3", "--prev-kv"), ep="s2",
      then=(S("put-watch-sentinel-foo", "put", "foo", "sentinel-foo"),), until="sentinel-foo"),  # 29
    W("watch-deletes", ("watch", "--prefix", "c/", "--rev=14"), ep="s3",
      then=(S("put-watch-sentinel-c", "put", "c/zz", "sentinel-c"),), until="sentinel-c"),   # 30
    W("watch-lease-revoke-deletes", ("watch", "--prefix", "lk/", "--rev=25"),
      then=(S("put-watch-sentinel-lk", "put", "lk/zz", "sentinel-lk"),), until="sentinel-lk"),  # 31
    W("watch-future-rev", ("watch", "fw", "--rev=33"),
      then=(S("put-fw-32", "put", "fw", "rev-32"),                                   # 32
            S("put-fw-33", "put", "fw", "rev-33"),                                   # 33
            S("put-watch-sentinel-fw", "put", "fw", "sentinel-fw")),                 # 34
      until="sentinel-fw"),
    # -- compaction --------------------------------------------------------------------------
    S("get-before-compaction-json", "get", "foo", "--rev=19", "-w", "json", fmt="json"),
    S("compaction", "compaction", "20"),
    S("compaction-same-rev", "compaction", "20"),
    S("compaction-lower-rev", "compaction", "10"),
    S("compaction-future-rev", "compaction", "1000"),
    S("get-compacted-rev", "get", "foo", "--rev=19"),
    S("get-compacted-rev-prefix-on-s3", "get", "a/", "--prefix", "--rev=3", ep="s3"),
    S("get-at-compact-rev-json", "get", "foo", "--rev=20", "-w", "json", fmt="json"),
    S("get-at-compact-rev-all-keys", "get", "", "--prefix", "--rev=20", "--keys-only"),
    S("watch-compacted-rev", "watch", "foo", "--rev=19"),
    W("watch-at-compact-rev", ("watch", "foo", "--rev=20"),
      then=(S("put-watch-sentinel-foo2", "put", "foo", "sentinel-foo2"),), until="sentinel-foo2"),  # 35
    S("compaction-physical", "compaction", "--physical", "30"),
    S("get-after-physical-compaction-json", "get", "c/", "--prefix", "--rev=30", "-w", "json", fmt="json"),
    S("get-below-physical-compaction", "get", "c/", "--prefix", "--rev=29"),
    # -- cluster -----------------------------------------------------------------------------
    # Linearizable reads on every member first, so that each member has applied the last write.
    S("linearizable-get-s1", "get", "foo", "-w", "json", ep="s1", fmt="json"),
    S("linearizable-get-s2", "get", "foo", "-w", "json", ep="s2", fmt="json"),
    S("linearizable-get-s3", "get", "foo", "-w", "json", ep="s3", fmt="json"),
    S("endpoint-status", "endpoint", "status", ep="all", fmt="status"),
    S("endpoint-status-table", "endpoint", "status", "-w", "table", ep="all", fmt="table"),
    S("endpoint-status-json", "endpoint", "status", "-w", "json", ep="all", fmt="json"),
    S("endpoint-status-table-s1", "endpoint", "status", "-w", "table", ep="s1", fmt="table"),
    S("endpoint-status-table-s2", "endpoint", "status", "-w", "table", ep="s2", fmt="table"),
    S("endpoint-status-table-s3", "endpoint", "status", "-w", "table", ep="s3", fmt="table"),
    S("endpoint-status-cluster-json", "endpoint", "status", "--cluster", "-w", "json", ep="s2",
      fmt="json", sort=True),
    S("endpoint-health", "endpoint", "health", ep="all", sort=True),
    S("endpoint-health-json", "endpoint", "health", "-w", "json", ep="all", fmt="json", sort=True),
    S("endpoint-health-cluster", "endpoint", "health", "--cluster", ep="s3", sort=True),
    S("member-list", "member", "list", fmt="members", sort=True),
    S("member-list-table", "member", "list", "-w", "table", ep="s2", fmt="table", sort=True),
    S("member-list-json", "member", "list", "-w", "json", ep="s3", fmt="json", sort=True),
    S("final-get-all-json", "get", "", "--prefix", "--keys-only", "-w", "json", ep="all", fmt="json"),
]


def all_steps(script: list[Step | Watch] = SCRIPT) -> list[Step | Watch]:
    """Every recorded step, in execution order (a watch's trigger steps run before its output is read)."""
    out: list[Step | Watch] = []
    for s in script:
        if isinstance(s, Watch):
            out.extend(s.then)
        out.append(s)
    return out


STEPS = {s.name: s for s in all_steps()}
assert len(STEPS) == len(all_steps()), "step names must be unique"
