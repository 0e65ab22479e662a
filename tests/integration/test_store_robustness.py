"""The store under bad input, snapshots, peer authentication and bind addresses."""
from __future__ import annotations

import re
import socket
import urllib.request

import grpc
import pytest

from skiffpb.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc
from tests.harness import StoreCluster, wait_for


def test_malformed_requests_and_streams_leave_the_member_serving(store_cluster):
    """Garbage bytes on unary and streaming methods, and abandoned streams, get errors and break nothing."""
    m = store_cluster.members[0]
    ch = m.channel()
    raw_put = ch.unary_unary("/etcdserverpb.KV/Put", request_serializer=None, response_deserializer=None)
    with pytest.raises(grpc.RpcError) as ei:
        raw_put(b"\xff\xff\xff\xff garbage", timeout=3)
    assert ei.value.code() in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.INVALID_ARGUMENT)

    raw_watch = ch.stream_stream("/etcdserverpb.Watch/Watch", request_serializer=None, response_deserializer=None)
    with pytest.raises(grpc.RpcError):
        for _ in raw_watch(iter([b"\x0a\xff\xff\xff"]), timeout=3):
            pass

    watch = rpc_pb2_grpc.WatchStub(ch)
    # A watch whose range is empty is refused in etcd's words.
    resps = watch.Watch(iter([rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(
        key=b"b", range_end=b"a"))]), timeout=3)
    first = next(resps)
    assert (first.created, first.canceled, first.cancel_reason) == (True, True, "mvcc: watcher range is empty")
    resps.cancel()

    # Streams opened and dropped without a word.
    for _ in range(20):
        call = watch.Watch(iter([rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=b"x"))]))
        next(call)
        call.cancel()
    lease = rpc_pb2_grpc.LeaseStub(ch)
    ka = lease.LeaseKeepAlive(iter([rpc_pb2.LeaseKeepAliveRequest(ID=424242)]), timeout=3)
    assert next(ka).TTL == 0  # unknown lease: TTL 0, as etcd answers
    ka.cancel()
    ttl = lease.LeaseTimeToLive(rpc_pb2.LeaseTimeToLiveRequest(ID=424242), timeout=3)
    assert (ttl.TTL, ttl.grantedTTL) == (-1, 0)

    r = m.kv().Put(rpc_pb2.PutRequest(key=b"alive", value=b"yes"), timeout=3)
    assert r.header.revision >= 2
    assert all(mm.proc.alive for mm in store_cluster.members)


def test_snapshots_bound_the_journal_and_a_lagging_member_catches_up_from_one(tmp_path):
    """With a small --snapshot-count, a member that was down through many writes and a compaction catches up."""
    c = StoreCluster(tmp_path / "c", extra_args=["--snapshot-count", "100"])
    c.start()
    try:
        lagging = c.followers()[0]
        c.kill9(lagging)
        live = [m for m in c.members if m is not lagging]
        last = 0
        for i in range(600):
            last = live[i % 2].kv().Put(rpc_pb2.PutRequest(key=b"/s/%03d" % (i % 200), value=b"%d" % i),
                                        timeout=5).header.revision
        live[0].kv().Compact(rpc_pb2.CompactionRequest(revision=last - 50), timeout=5)
        for m in live:
            assert (m.data_dir / "raft.snapshot").exists(), f"{m.name} wrote no snapshot"
            # The journal restarts from each snapshot: far fewer than 600 entries remain.
            assert (m.data_dir / "raft.journal").stat().st_size < 600 * 300
        c.restart(lagging)

        def caught_up():
            r = lagging.kv().Range(rpc_pb2.RangeRequest(key=b"/s/", range_end=b"/s0", serializable=True), timeout=2)
            return r.header.revision == last and r.count == 200
        wait_for(caught_up, 20, "the restarted member to reach the cluster's revision")
        ref = live[0].kv().Range(rpc_pb2.RangeRequest(key=b"/s/", range_end=b"/s0"), timeout=5)
        got = lagging.kv().Range(rpc_pb2.RangeRequest(key=b"/s/", range_end=b"/s0", serializable=True), timeout=5)
        assert list(got.kvs) == list(ref.kvs)
        hashes = {rpc_pb2_grpc.MaintenanceStub(m.channel()).HashKV(rpc_pb2.HashKVRequest(revision=last), timeout=5).hash
                  for m in c.members}
        assert len(hashes) == 1, "members disagree on the data at the same revision"
        # And a full restart replays from the snapshot.
        for m in c.members:
            c.kill9(m)
        c.start()
        r = c.members[0].kv().Range(rpc_pb2.RangeRequest(key=b"/s/", range_end=b"/s0"), timeout=5)
        assert list(r.kvs) == list(ref.kvs)
    finally:
        c.stop()


def test_member_with_wrong_peer_password_cannot_join_and_peer_port_binds_one_address(tmp_path):
    """A member holding another secret never joins the cluster; peer ports accept nothing on other loopback addresses."""
    c = StoreCluster(tmp_path / "c")
    intruder = c.members[2]
    intruder.data_dir.mkdir(parents=True)
    (intruder.data_dir / "peer-password").write_text("not-the-cluster-secret\n")
    for m in c.members:
        c.start_member(m)
    try:
        c.wait_member_ready(c.members[0])
        c.wait_member_ready(c.members[1])
        c.members[0].kv().Put(rpc_pb2.PutRequest(key=b"k", value=b"v"), timeout=5)
        # The intruder never learns a leader, so it cannot serve a linearizable read.
        st = intruder.status()
        assert st.leader == 0
        with pytest.raises(grpc.RpcError) as ei:
            intruder.kv().Range(rpc_pb2.RangeRequest(key=b"k"), timeout=2)
        assert ei.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
        # etcd's `hasleader` metadata: refused before it is proposed, so certainly not applied.
        for call in (lambda md: intruder.kv().Put(rpc_pb2.PutRequest(key=b"k", value=b"x"), timeout=2, metadata=md),
                     lambda md: next(rpc_pb2_grpc.WatchStub(intruder.channel()).Watch(
                         iter([rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=b"k"))]),
                         timeout=2, metadata=md))):
            with pytest.raises(grpc.RpcError) as ei:
                call((("hasleader", "true"),))
            assert (ei.value.code(), ei.value.details()) == (grpc.StatusCode.UNAVAILABLE, "etcdserver: no leader")
        leader_id = c.members[0].status().leader
        assert leader_id in {c.members[0].status().header.member_id, c.members[1].status().header.member_id}
        for m in c.members:
            with socket.socket() as s:
                s.settimeout(1)
                assert s.connect_ex(("127.0.0.2", m.peer_port)) != 0, f"{m.name}'s peer port answers on 127.0.0.2"
    finally:
        c.stop()


def test_metrics_and_health_endpoints_report_the_member(tmp_path):
    """`--listen-metrics-urls` serves Prometheus text with request counts and Raft state, and etcd's /health."""
    c = StoreCluster(tmp_path / "c", metrics=True)
    try:
        c.start()
        leader = c.leader()
        for i in range(5):
            leader.kv().Put(rpc_pb2.PutRequest(key=b"m%d" % i, value=b"x"), timeout=5)
        port = leader.metrics_port
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        put_count = re.search(r'grpc_server_handled_total\{grpc_code="OK",grpc_method="Put",'
                              r'grpc_service="etcdserverpb.KV"\} (\d+)', text)
        assert put_count and float(put_count.group(1)) >= 5, text[:2000]
        assert re.search(r"^etcd_server_is_leader 1\.0$", text, re.M)
        assert re.search(r"^etcd_debugging_mvcc_current_revision 6\.0$", text, re.M)
        health = urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5).read()
        assert health == b'{"health": "true", "reason": ""}'
    finally:
        c.stop()
