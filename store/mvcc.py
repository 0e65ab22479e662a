"""The store's pure core: an MVCC key-value state machine with etcd v3's semantics.

No I/O, no clock, no randomness: every replica applies the same commands in the same order and
reaches the same state. Raft (store/raft.py) decides the order; the gRPC shell (store/server.py)
turns requests into commands and results into responses.

Vocabulary
- revision: one global int64. An empty store is at revision 1; each request that changes state
  adds exactly 1 (all changes of one Txn share it). Range, Compact, LeaseGrant and no-op deletes
  do not move it.
- record: one version of one key, a tuple `(mod_revision, create_revision, version, value, lease)`;
  a tombstone (the key was deleted at mod_revision) has `value is None`.
- history: per revision, the events it produced, kept from the compact revision on, so that a
  watch from any retained revision replays every event in order.
- lease: a TTL grant that keys may be attached to; its expiry deadline is *not* state here (it is
  node-local time, kept by the shell), only its TTL and attached keys are.

Commands are tuples, as Raft carries them (see `apply`). Requests travel as serialized protobuf so
that the command is exactly what the client sent.
"""
from __future__ import annotations

import zlib
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import Iterable, Iterator, NamedTuple

from sortedcontainers import SortedDict

from skiffpb.etcd.etcdserverpb import rpc_pb2
from skiffpb.etcd.mvccpb import kv_pb2

MAX_TXN_OPS = 128
MAX_LEASE_TTL = 9_000_000_000
PUT = kv_pb2.Event.PUT
DELETE = kv_pb2.Event.DELETE


class MvccError(Exception):
    """A request etcd would refuse. `code` is a gRPC status code name; `message` is etcd's text."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    def __reduce__(self):
        return (MvccError, (self.code, self.message))

    def __eq__(self, other):
        return isinstance(other, MvccError) and (self.code, self.message) == (other.code, other.message)

    def __hash__(self):
        return hash((self.code, self.message))


def err_compacted() -> MvccError:
    return MvccError("OUT_OF_RANGE", "etcdserver: mvcc: required revision has been compacted")


def err_future_rev() -> MvccError:
    return MvccError("OUT_OF_RANGE", "etcdserver: mvcc: required revision is a future revision")


def err_lease_not_found() -> MvccError:
    return MvccError("NOT_FOUND", "etcdserver: requested lease not found")


def err_key_not_provided() -> MvccError:
    return MvccError("INVALID_ARGUMENT", "etcdserver: key is not provided")


class Record(NamedTuple):
    mod: int
    create: int
    version: int
    value: bytes | None  # None: tombstone
    lease: int


class Event(NamedTuple):
    type: int  # PUT or DELETE
    key: bytes
    record: Record
    prev: Record | None  # the key's previous live record, if any and still retained


@dataclass
class Applied:
    """What one command did: its response (without header) or error, the store revision after it,
    and the events it produced (all at `revision`)."""
    response: object = None
    error: MvccError | None = None
    revision: int = 0
    events: list[Event] = field(default_factory=list)


def _mod(r: Record) -> int:
    return r.mod


def in_range(key: bytes, start: bytes, end: bytes) -> bool:
    """etcd's interval rule: empty end = exactly `start`; end "\\0" = every key >= start."""
    if not end:
        return key == start
    if end == b"\0":
        return key >= start
    return start <= key < end


def to_kv(key: bytes, r: Record, keys_only: bool = False) -> kv_pb2.KeyValue:
    return kv_pb2.KeyValue(key=key, create_revision=r.create, mod_revision=r.mod, version=r.version,
                           value=b"" if keys_only else r.value, lease=r.lease)


def event_to_pb(ev: Event, prev_kv: bool) -> kv_pb2.Event:
    if ev.type == DELETE:
        out = kv_pb2.Event(type=DELETE, kv=kv_pb2.KeyValue(key=ev.key, mod_revision=ev.record.mod))
    else:
        out = kv_pb2.Event(type=PUT, kv=to_kv(ev.key, ev.record))
    if prev_kv and ev.prev is not None:
        out.prev_kv.CopyFrom(to_kv(ev.key, ev.prev))
    return out


class MVCC:
    """The replicated state. Mutated only by `apply`; read by anything holding the shell's lock."""

    def __init__(self) -> None:
        self.rev = 1
        self.compact_rev = 0
        self.keys: SortedDict = SortedDict()           # key -> [Record, ...] by mod ascending
        self.history: list[tuple[int, list[Event]]] = []  # (revision, events) ascending
        self.leases: dict[int, list] = {}              # id -> [ttl, set(keys)]
        self.members: dict[int, tuple[str, tuple[str, ...], tuple[str, ...]]] = {}

    # -- commands ------------------------------------------------------------------------------
    def apply(self, cmd: tuple) -> Applied:
        """Applies one command; never raises for a bad request (the error is in the result)."""
        kind = cmd[0]
        try:
            if kind == "put":
                return self._write(lambda: self._txn_op_put(rpc_pb2.PutRequest.FromString(cmd[1])))
            if kind == "delete":
                return self._write(lambda: self._txn_op_delete(rpc_pb2.DeleteRangeRequest.FromString(cmd[1])))
            if kind == "txn":
                req = rpc_pb2.TxnRequest.FromString(cmd[1])
                return self._write(lambda: self._txn(req))
            if kind == "compact":
                self.compact(cmd[1])
                return Applied(response=rpc_pb2.CompactionResponse(), revision=self.rev)
            if kind == "lease_grant":
                return self._lease_grant(cmd[1], cmd[2])
            if kind == "lease_revoke":
                return self._write(lambda: self._lease_revoke(cmd[1]))
            if kind == "lease_keepalive":
                lease = self.leases.get(cmd[1])
                return Applied(response=lease[0] if lease else 0, revision=self.rev)
            if kind == "barrier":
                return Applied(response=self.rev, revision=self.rev)
            if kind == "publish":
                _, member_id, name, peer_urls, client_urls = cmd
                self.members[member_id] = (name, tuple(peer_urls), tuple(client_urls))
                return Applied(response=None, revision=self.rev)
            raise MvccError("INVALID_ARGUMENT", f"unknown command {kind!r}")
        except MvccError as e:
            return Applied(error=e, revision=self.rev)

    def _write(self, op) -> Applied:
        """Runs a write at revision rev+1; keeps rev+1 only if something changed."""
        self._pending: list[Event] = []
        self._next = self.rev + 1
        response = op()
        events = self._pending
        if events:
            self.rev = self._next
            self.history.append((self.rev, events))
        self._pending = []
        return Applied(response=response, revision=self.rev, events=events)

    # -- reads ---------------------------------------------------------------------------------
    def record_at(self, key: bytes, rev: int) -> Record | None:
        """The live record of `key` at revision `rev`, or None."""
        recs = self.keys.get(key)
        if not recs:
            return None
        if rev >= self.rev or recs[-1].mod <= rev:
            r = recs[-1]
        else:
            i = bisect_right(recs, rev, key=_mod)
            if i == 0:
                return None
            r = recs[i - 1]
        return None if r.value is None else r

    def iter_range(self, key: bytes, range_end: bytes, rev: int) -> Iterator[tuple[bytes, Record]]:
        """Live (key, record) pairs in [key, range_end) at `rev`, in key order."""
        if not range_end:
            r = self.record_at(key, rev)
            if r is not None:
                yield key, r
            return
        if key == b"\0" and range_end == b"\0":
            keys = self.keys.irange()
        elif range_end == b"\0":
            keys = self.keys.irange(minimum=key)
        else:
            keys = self.keys.irange(minimum=key, maximum=range_end, inclusive=(True, False))
        for k in keys:
            r = self.record_at(k, rev)
            if r is not None:
                yield k, r

    def check_rev(self, rev: int) -> int:
        """The revision a read at `rev` (0 = current) sees, or the error etcd gives."""
        if rev <= 0:
            return self.rev
        if rev > self.rev:
            raise err_future_rev()
        if rev < self.compact_rev:
            raise err_compacted()
        return rev

    def range(self, req: rpc_pb2.RangeRequest) -> rpc_pb2.RangeResponse:
        if not req.key:
            raise err_key_not_provided()
        rev = self.check_rev(req.revision)
        R = rpc_pb2.RangeRequest
        sort_order = req.sort_order
        if sort_order == R.NONE and req.sort_target != R.KEY:
            sort_order = R.ASCEND
        filtered = (req.min_mod_revision or req.max_mod_revision or req.min_create_revision
                    or req.max_create_revision)
        needs_all = filtered or not (sort_order == R.NONE or (sort_order == R.ASCEND and req.sort_target == R.KEY))
        pairs = []
        count = 0
        for k, r in self.iter_range(req.key, req.range_end, rev):
            count += 1
            if req.count_only:
                continue
            if needs_all or not req.limit or len(pairs) <= req.limit:
                pairs.append((k, r))
        resp = rpc_pb2.RangeResponse(count=count)
        if req.count_only:
            return resp
        if filtered:
            pairs = [(k, r) for k, r in pairs
                     if (not req.min_mod_revision or r.mod >= req.min_mod_revision)
                     and (not req.max_mod_revision or r.mod <= req.max_mod_revision)
                     and (not req.min_create_revision or r.create >= req.min_create_revision)
                     and (not req.max_create_revision or r.create <= req.max_create_revision)]
        if sort_order != R.NONE:
            target = req.sort_target
            keyf = {R.KEY: lambda p: p[0], R.VERSION: lambda p: p[1].version,
                    R.CREATE: lambda p: p[1].create, R.MOD: lambda p: p[1].mod,
                    R.VALUE: lambda p: p[1].value}[target]
            # Python's sort is stable and pairs are in key order: ties stay in key order, as in etcd.
            pairs.sort(key=keyf, reverse=sort_order == R.DESCEND)
        if req.limit and len(pairs) > req.limit:
            pairs = pairs[:req.limit]
            resp.more = True
        resp.kvs.extend(to_kv(k, r, req.keys_only) for k, r in pairs)
        return resp

    def events_between(self, start_rev: int, end_rev: int) -> Iterator[tuple[int, list[Event]]]:
        """Retained history entries with start_rev <= revision <= end_rev."""
        i = bisect_left(self.history, start_rev, key=lambda h: h[0])
        while i < len(self.history) and self.history[i][0] <= end_rev:
            yield self.history[i]
            i += 1

    def hash_kv(self, rev: int = 0) -> int:
        """A checksum of every retained record up to `rev`: replicas at one revision must agree."""
        rev = self.check_rev(rev)
        h = 0
        for k, recs in self.keys.items():
            for r in recs:
                if r.mod > rev:
                    break
                h = zlib.crc32(repr((k, r)).encode(), h)
        return h

    # -- writes --------------------------------------------------------------------------------
    def _emit(self, key: bytes, record: Record, prev: Record | None) -> None:
        recs = self.keys.get(key)
        if recs is None:
            self.keys[key] = [record]
        elif recs[-1].mod == record.mod:
            recs[-1] = record  # a second write of the key within one Txn (only via nested txns)
        else:
            recs.append(record)
        self._pending.append(Event(DELETE if record.value is None else PUT, key, record, prev))

    def _current(self, key: bytes) -> Record | None:
        recs = self.keys.get(key)
        if not recs or recs[-1].value is None:
            return None
        return recs[-1]

    @staticmethod
    def _validate_put(req: rpc_pb2.PutRequest) -> None:
        """What is wrong with a put whatever the state (checked in both branches of a Txn)."""
        if not req.key:
            raise err_key_not_provided()
        if req.ignore_value and req.value:
            raise MvccError("INVALID_ARGUMENT", "etcdserver: value is provided")
        if req.ignore_lease and req.lease:
            raise MvccError("INVALID_ARGUMENT", "etcdserver: lease is provided")

    def _check_put(self, req: rpc_pb2.PutRequest) -> None:
        """Everything that would make the put fail now."""
        self._validate_put(req)
        # etcd looks the lease up before it looks for the key.
        if req.lease and not req.ignore_lease and req.lease not in self.leases:
            raise err_lease_not_found()
        if (req.ignore_value or req.ignore_lease) and self._current(req.key) is None:
            raise MvccError("INVALID_ARGUMENT", "etcdserver: key not found")

    def _txn_op_put(self, req: rpc_pb2.PutRequest, checked: bool = False) -> rpc_pb2.PutResponse:
        if not checked:
            self._check_put(req)
        prev = self._current(req.key)
        value = prev.value if req.ignore_value else req.value
        lease = prev.lease if req.ignore_lease else req.lease
        rec = Record(self._next, prev.create if prev else self._next, prev.version + 1 if prev else 1,
                     value, lease)
        if prev is not None and prev.lease and prev.lease != lease and prev.lease in self.leases:
            self.leases[prev.lease][1].discard(req.key)
        if lease:
            self.leases[lease][1].add(req.key)
        self._emit(req.key, rec, prev)
        resp = rpc_pb2.PutResponse()
        if req.prev_kv and prev is not None:
            resp.prev_kv.CopyFrom(to_kv(req.key, prev))
        return resp

    def _txn_op_delete(self, req: rpc_pb2.DeleteRangeRequest) -> rpc_pb2.DeleteRangeResponse:
        if not req.key:
            raise err_key_not_provided()
        resp = rpc_pb2.DeleteRangeResponse()
        victims = list(self.iter_range(req.key, req.range_end, self._next))
        for k, prev in victims:
            if prev.lease and prev.lease in self.leases:
                self.leases[prev.lease][1].discard(k)
            self._emit(k, Record(self._next, 0, 0, None, 0), prev)
            if req.prev_kv:
                resp.prev_kvs.append(to_kv(k, prev))
        resp.deleted = len(victims)
        return resp

    def _compare(self, c: rpc_pb2.Compare) -> bool:
        C = rpc_pb2.Compare
        pairs = list(self.iter_range(c.key, c.range_end, self.rev)) if c.range_end else \
            [(c.key, self._current(c.key))]
        if not pairs:
            pairs = [(c.key, None)]  # an empty range compares as KeyValue{}, like a missing key
        for _, r in pairs:
            if c.target == C.VALUE:
                if r is None:
                    return False  # a value compare on a missing key is always false
                mine, theirs = r.value, c.value
            elif c.target == C.VERSION:
                mine, theirs = (r.version if r else 0), c.version
            elif c.target == C.CREATE:
                mine, theirs = (r.create if r else 0), c.create_revision
            elif c.target == C.MOD:
                mine, theirs = (r.mod if r else 0), c.mod_revision
            elif c.target == C.LEASE:
                mine, theirs = (r.lease if r else 0), c.lease
            else:
                return False
            ok = {C.EQUAL: mine == theirs, C.NOT_EQUAL: mine != theirs,
                  C.GREATER: mine > theirs, C.LESS: mine < theirs}.get(c.result, False)
            if not ok:
                return False
        return True

    def _validate_txn(self, req: rpc_pb2.TxnRequest) -> None:
        if max(len(req.compare), len(req.success), len(req.failure)) > MAX_TXN_OPS:
            raise MvccError("INVALID_ARGUMENT", "etcdserver: too many operations in txn request")
        for c in req.compare:
            if not c.key:
                raise err_key_not_provided()
        for branch in (req.success, req.failure):
            self._check_intervals(branch)
            for op in branch:
                which = op.WhichOneof("request")
                if which == "request_txn":
                    self._validate_txn(op.request_txn)
                elif which == "request_range" and not op.request_range.key:
                    raise err_key_not_provided()
                elif which == "request_delete_range" and not op.request_delete_range.key:
                    raise err_key_not_provided()
                elif which == "request_put":
                    self._validate_put(op.request_put)

    @staticmethod
    def _check_intervals(branch) -> tuple[set, list]:
        """etcd's checkIntervals: a put may not repeat a put, nor fall in a delete of its own level or of
        an enclosing one; the two branches of a nested txn exclude each other. Returns (puts, deletes)."""
        dup = MvccError("INVALID_ARGUMENT", "etcdserver: duplicate key given in txn request")
        dels = [(op.request_delete_range.key, op.request_delete_range.range_end)
                for op in branch if op.WhichOneof("request") == "request_delete_range"]
        puts: set = set()

        def deleted(k: bytes) -> bool:
            return any(in_range(k, start, end) for start, end in dels)

        for op in branch:
            if op.WhichOneof("request") != "request_txn":
                continue
            then_puts, then_dels = MVCC._check_intervals(op.request_txn.success)
            else_puts, else_dels = MVCC._check_intervals(op.request_txn.failure)
            for k in then_puts:
                if k in puts or deleted(k):
                    raise dup
                puts.add(k)
            for k in else_puts:
                if (k in puts and k not in then_puts) or deleted(k):
                    raise dup
                puts.add(k)
            dels += then_dels + else_dels
        for op in branch:
            if op.WhichOneof("request") == "request_put":
                k = op.request_put.key
                if k in puts or deleted(k):
                    raise dup
                puts.add(k)
        return puts, dels

    def _compare_path(self, req: rpc_pb2.TxnRequest) -> list[bool]:
        """etcd's compareToPath: the outcome of every compare on the path that will run, nested txns
        included, in pre-order, all evaluated against the store before the txn writes anything."""
        ok = all(self._compare(c) for c in req.compare)
        path = [ok]
        for op in (req.success if ok else req.failure):
            if op.WhichOneof("request") == "request_txn":
                path += self._compare_path(op.request_txn)
        return path

    def _check_branch(self, req: rpc_pb2.TxnRequest, path: Iterator[bool]) -> None:
        """Checks what could fail on the path that will run, before anything is written."""
        for op in (req.success if next(path) else req.failure):
            which = op.WhichOneof("request")
            if which == "request_put":
                self._check_put(op.request_put)
            elif which == "request_range":
                self.check_rev(op.request_range.revision)
            elif which == "request_txn":
                self._check_branch(op.request_txn, path)

    def _txn(self, req: rpc_pb2.TxnRequest, path: Iterator[bool] | None = None) -> rpc_pb2.TxnResponse:
        if path is None:  # the outermost txn
            self._validate_txn(req)
            plan = self._compare_path(req)
            self._check_branch(req, iter(plan))
            path = iter(plan)
        succeeded = next(path)
        branch = req.success if succeeded else req.failure
        resp = rpc_pb2.TxnResponse(succeeded=succeeded)
        for op in branch:
            which = op.WhichOneof("request")
            out = rpc_pb2.ResponseOp()
            if which == "request_range":
                # Reads inside a Txn see the Txn's earlier writes: they are already the newest
                # records of their keys. The shell fills the header's revision.
                r = self.range(op.request_range)
                out.response_range.CopyFrom(r)
            elif which == "request_put":
                out.response_put.CopyFrom(self._txn_op_put(op.request_put, checked=True))
            elif which == "request_delete_range":
                out.response_delete_range.CopyFrom(self._txn_op_delete(op.request_delete_range))
            elif which == "request_txn":
                out.response_txn.CopyFrom(self._txn(op.request_txn, path))
            resp.responses.append(out)
        return resp

    def compact(self, rev: int) -> None:
        if rev <= self.compact_rev:
            raise err_compacted()
        if rev > self.rev:
            raise err_future_rev()
        drop = []
        for k, recs in self.keys.items():
            i = bisect_right(recs, rev, key=_mod)  # recs[i-1] is the last record at or below rev
            if i == 0:
                continue
            keep_from = i - 1 if recs[i - 1].value is not None else i
            if keep_from:
                del recs[:keep_from]
            if not recs:
                drop.append(k)
        for k in drop:
            del self.keys[k]
        j = bisect_left(self.history, rev, key=lambda h: h[0])
        del self.history[:j]
        self.compact_rev = rev

    # -- leases --------------------------------------------------------------------------------
    def _lease_grant(self, lease_id: int, ttl: int) -> Applied:
        if ttl > MAX_LEASE_TTL:
            raise MvccError("OUT_OF_RANGE", "etcdserver: too large lease TTL")
        if lease_id <= 0:
            raise MvccError("INVALID_ARGUMENT", "etcdserver: lease ID must be positive")
        if lease_id in self.leases:
            raise MvccError("FAILED_PRECONDITION", "etcdserver: lease already exists")
        self.leases[lease_id] = [ttl, set()]
        return Applied(response=rpc_pb2.LeaseGrantResponse(ID=lease_id, TTL=ttl), revision=self.rev)

    def _lease_revoke(self, lease_id: int) -> rpc_pb2.LeaseRevokeResponse:
        lease = self.leases.pop(lease_id, None)
        if lease is None:
            raise err_lease_not_found()
        for k in sorted(lease[1]):
            prev = self._current(k)
            if prev is not None:
                self._emit(k, Record(self._next, 0, 0, None, 0), prev)
        return rpc_pb2.LeaseRevokeResponse()

    # -- snapshots ----------------------------------------------------------------------------
    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._pending = []
        self._next = self.rev + 1


def prefix_end(prefix: bytes) -> bytes:
    """The range_end that selects every key starting with `prefix` (etcd's GetPrefixRangeEnd)."""
    b = bytearray(prefix)
    while b:
        if b[-1] < 0xFF:
            b[-1] += 1
            return bytes(b)
        b.pop()
    return b"\0"


def iter_events_for(events: Iterable[Event], key: bytes, range_end: bytes) -> Iterator[Event]:
    for ev in events:
        if in_range(ev.key, key, range_end):
            yield ev
