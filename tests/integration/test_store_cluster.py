"""A 3-member Skiff store driven over its etcd gRPC API: replication, failover, durability."""
from __future__ import annotations

import time

import grpc
import pytest

from skiffpb.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc
from tests.harness import wait_for


def put(member, key: bytes, value: bytes, timeout: float = 3.0) -> rpc_pb2.PutResponse:
    return member.kv().Put(rpc_pb2.PutRequest(key=key, value=value), timeout=timeout)


def get(member, key: bytes, serializable: bool = False, timeout: float = 3.0) -> rpc_pb2.RangeResponse:
    return member.kv().Range(rpc_pb2.RangeRequest(key=key, serializable=serializable), timeout=timeout)


def test_writes_on_any_member_are_read_linearizably_on_every_member(store_cluster):
    """A write sent to each member in turn is visible, with one global revision, from every member."""
    revs = []
    for i, m in enumerate(store_cluster.members):
        revs.append(put(m, b"k%d" % i, b"v%d" % i).header.revision)
        for other in store_cluster.members:
            r = get(other, b"k%d" % i)
            assert [kv.value for kv in r.kvs] == [b"v%d" % i]
            assert r.header.revision >= revs[-1]
    assert revs == sorted(revs) and len(set(revs)) == 3
    assert {m.status().leader for m in store_cluster.members} == {store_cluster.leader().status().header.member_id}


def test_leader_kill_fails_over_within_two_seconds(store_cluster):
    """After kill -9 of the leader, a follower accepts writes again within 2 s, and the old leader catches up on restart."""
    leader = store_cluster.leader()
    follower = next(m for m in store_cluster.members if m is not leader)
    put(follower, b"before", b"1")
    store_cluster.kill9(leader)
    t0 = time.monotonic()
    stub = follower.kv()

    def write_ok():
        stub.Put(rpc_pb2.PutRequest(key=b"after", value=b"2"), timeout=0.5)
        return True
    wait_for(write_ok, 10, "a write to succeed after the leader was killed", interval=0.01)
    gap = time.monotonic() - t0
    assert gap < 2.0, f"writes were refused for {gap:.2f}s after the leader died"
    store_cluster.restart(leader)
    wait_for(lambda: get(leader, b"after", serializable=True).kvs, 10, "the restarted member to catch up")
    assert get(leader, b"before").kvs[0].value == b"1"


def test_full_cluster_kill9_keeps_every_acknowledged_write(store_cluster):
    """kill -9 of all members then restart: every acknowledged key is present with the same revisions."""
    acked = {}
    for i in range(300):
        m = store_cluster.members[i % 3]
        r = put(m, b"/d/%04d" % i, b"x" * (i % 50))
        acked[b"/d/%04d" % i] = r.header.revision
    for m in store_cluster.members:
        store_cluster.kill9(m)
    for m in store_cluster.members:
        store_cluster.start_member(m)
    store_cluster.wait_ready()
    for m in store_cluster.members:
        r = m.kv().Range(rpc_pb2.RangeRequest(key=b"/d/", range_end=b"/d0"), timeout=5)
        got = {kv.key: kv.mod_revision for kv in r.kvs}
        assert got == acked, f"{m.name} lost or changed acknowledged writes"


def test_bad_requests_get_etcd_errors_and_the_member_keeps_serving(store_cluster):
    """Oversized values, empty keys, compacted and future revisions and unknown leases get etcd's codes and messages."""
    m = store_cluster.members[0]
    kv = m.kv()
    cases = [
        (lambda: kv.Put(rpc_pb2.PutRequest(key=b"big", value=b"x" * 1_572_850)), grpc.StatusCode.INVALID_ARGUMENT,
         "etcdserver: request is too large"),
        (lambda: kv.Put(rpc_pb2.PutRequest(key=b"", value=b"x")), grpc.StatusCode.INVALID_ARGUMENT,
         "etcdserver: key is not provided"),
        (lambda: kv.Range(rpc_pb2.RangeRequest(key=b"a", revision=10**6)), grpc.StatusCode.OUT_OF_RANGE,
         "etcdserver: mvcc: required revision is a future revision"),
        (lambda: kv.Put(rpc_pb2.PutRequest(key=b"a", value=b"x", lease=12345)), grpc.StatusCode.NOT_FOUND,
         "etcdserver: requested lease not found"),
        (lambda: rpc_pb2_grpc.LeaseStub(m.channel()).LeaseRevoke(rpc_pb2.LeaseRevokeRequest(ID=999)),
         grpc.StatusCode.NOT_FOUND, "etcdserver: requested lease not found"),
    ]
    for call, code, msg in cases:
        with pytest.raises(grpc.RpcError) as ei:
            call()
        assert (ei.value.code(), ei.value.details()) == (code, msg)
    for i in range(3):
        put(m, b"c", b"%d" % i)
    kv.Compact(rpc_pb2.CompactionRequest(revision=3))
    with pytest.raises(grpc.RpcError) as ei:
        kv.Range(rpc_pb2.RangeRequest(key=b"c", revision=2))
    assert (ei.value.code(), ei.value.details()) == (grpc.StatusCode.OUT_OF_RANGE,
                                                     "etcdserver: mvcc: required revision has been compacted")
    with pytest.raises(grpc.RpcError) as ei:
        kv.Put(rpc_pb2.PutRequest(key=b"huge", value=b"x" * (2 * 1024 * 1024 + 10)))
    assert ei.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert put(m, b"still", b"ok").header.revision > 0
