"""Shared vocabulary of the store/mvcc.py tests (test_mvcc.py, test_mvcc_model.py): etcd's error codes and
messages as (code, message) pairs, builders of the serialized commands MVCC.apply takes and of the Txn
ops and compares inside them, and small readers that flatten MVCC results into comparable tuples."""
from __future__ import annotations

from skiffpb.etcd.etcdserverpb import rpc_pb2
from skiffpb.etcd.mvccpb import kv_pb2
from store.mvcc import MVCC, MvccError

R = rpc_pb2.RangeRequest
C = rpc_pb2.Compare
PUT, DELETE = kv_pb2.Event.PUT, kv_pb2.Event.DELETE

DUPLICATE = ("INVALID_ARGUMENT", "etcdserver: duplicate key given in txn request")
TOO_MANY_OPS = ("INVALID_ARGUMENT", "etcdserver: too many operations in txn request")
NO_KEY = ("INVALID_ARGUMENT", "etcdserver: key is not provided")
KEY_NOT_FOUND = ("INVALID_ARGUMENT", "etcdserver: key not found")
VALUE_PROVIDED = ("INVALID_ARGUMENT", "etcdserver: value is provided")
LEASE_PROVIDED = ("INVALID_ARGUMENT", "etcdserver: lease is provided")
LEASE_NOT_FOUND = ("NOT_FOUND", "etcdserver: requested lease not found")
LEASE_EXISTS = ("FAILED_PRECONDITION", "etcdserver: lease already exists")
LEASE_TTL_TOO_LARGE = ("OUT_OF_RANGE", "etcdserver: too large lease TTL")
LEASE_ID_NOT_POSITIVE = ("INVALID_ARGUMENT", "etcdserver: lease ID must be positive")
COMPACTED = ("OUT_OF_RANGE", "etcdserver: mvcc: required revision has been compacted")
FUTURE = ("OUT_OF_RANGE", "etcdserver: mvcc: required revision is a future revision")


# -- request builders ---------------------------------------------------------------------------
def put(key: bytes, value: bytes = b"", **kw) -> tuple:
    return ("put", rpc_pb2.PutRequest(key=key, value=value, **kw).SerializeToString())


def delete(key: bytes, range_end: bytes = b"", **kw) -> tuple:
    return ("delete", rpc_pb2.DeleteRangeRequest(key=key, range_end=range_end, **kw).SerializeToString())


def txn_req(compare=(), success=(), failure=()) -> rpc_pb2.TxnRequest:
    return rpc_pb2.TxnRequest(compare=list(compare), success=list(success), failure=list(failure))


def txn(compare=(), success=(), failure=()) -> tuple:
    return ("txn", txn_req(compare, success, failure).SerializeToString())


def op_put(key: bytes, value: bytes = b"", **kw) -> rpc_pb2.RequestOp:
    return rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=key, value=value, **kw))


def op_del(key: bytes, range_end: bytes = b"", **kw) -> rpc_pb2.RequestOp:
    return rpc_pb2.RequestOp(request_delete_range=rpc_pb2.DeleteRangeRequest(key=key, range_end=range_end, **kw))


def op_range(key: bytes, range_end: bytes = b"", **kw) -> rpc_pb2.RequestOp:
    return rpc_pb2.RequestOp(request_range=R(key=key, range_end=range_end, **kw))


def op_txn(compare=(), success=(), failure=()) -> rpc_pb2.RequestOp:
    return rpc_pb2.RequestOp(request_txn=txn_req(compare, success, failure))


_OPERAND = {C.VALUE: "value", C.VERSION: "version", C.CREATE: "create_revision", C.MOD: "mod_revision",
            C.LEASE: "lease"}


def cmp(key: bytes, target: int, result: int, operand, range_end: bytes = b"") -> rpc_pb2.Compare:
    return C(key=key, range_end=range_end, target=target, result=result, **{_OPERAND[target]: operand})


# -- helpers ------------------------------------------------------------------------------------
def run(*cmds) -> MVCC:
    m = MVCC()
    for c in cmds:
        a = m.apply(c)
        assert a.error is None, (c, a.error)
    return m


def err(a) -> tuple | None:
    return None if a.error is None else (a.error.code, a.error.message)


def kvt(kv: kv_pb2.KeyValue) -> tuple:
    return (kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version, kv.lease)


def get(m: MVCC, key: bytes, range_end: bytes = b"", **kw) -> rpc_pb2.RangeResponse:
    return m.range(R(key=key, range_end=range_end, **kw))


def everything(m: MVCC, revision: int = 0) -> list[tuple]:
    return [kvt(kv) for kv in get(m, b"\0", b"\0", revision=revision).kvs]


def keys(resp: rpc_pb2.RangeResponse) -> list[bytes]:
    return [kv.key for kv in resp.kvs]


def range_error(m: MVCC, **kw) -> tuple | None:
    try:
        get(m, b"\0", b"\0", **kw)
    except MvccError as e:
        return (e.code, e.message)
    return None


def ev(e) -> tuple:
    """An mvcc Event as (type, key, value, create, mod, version, lease, prev) with prev likewise flat."""
    r, p = e.record, e.prev
    return (e.type, e.key, r.value, r.create, r.mod, r.version, r.lease,
            None if p is None else (p.value, p.create, p.mod, p.version, p.lease))
