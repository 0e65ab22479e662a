"""store.client against real three-member clusters: the real etcd and Skiff's store, same tests.

Run only the etcd side with `-k etcd`, only Skiff's with `-k skiff`.
"""
from __future__ import annotations

import asyncio

import pytest

from store.client import (
    Compacted, DeadlineExceeded, FutureRevision, InvalidArgument, LeaseNotFound, RequestTooLarge,
    StoreClient, Unavailable, compare, op_delete, op_get, op_put,
)
from tests.harness import Member
from tests.harness.proc import free_port

pytestmark = pytest.mark.timeout(60)

FIXTURES = {"etcd": "etcd_cluster", "skiff": "store_cluster"}


@pytest.fixture(params=list(FIXTURES))
def cluster(request):
    """The same running three-member cluster interface, once for etcd and once for Skiff's store."""
    return request.getfixturevalue(FIXTURES[request.param])


def client_for(cluster, first: Member | None = None, **kw) -> StoreClient:
    """A client over every member, pinned at start to `first` (the client starts with the first endpoint)."""
    members = sorted(cluster.members, key=lambda m: m is not first)
    return StoreClient([m.endpoint for m in members], **kw)


def member_at(cluster, endpoint: str) -> Member:
    return next(m for m in cluster.members if m.endpoint == endpoint)


async def test_put_get_prefix_delete(cluster):
    """Puts under a prefix are read back one by one, as a prefix listing, keys-only and counted, then deleted by prefix."""
    async with StoreClient([m.client_url for m in cluster.members]) as c:  # http:// URLs accepted
        r1 = await c.put(b"app/a", b"1")
        r2 = await c.put("app/b", "2")
        await c.put(b"apq", b"outside the prefix")
        assert r2.header.revision == r1.header.revision + 1

        got = await c.get(b"app/a")
        assert [(kv.key, kv.value, kv.version) for kv in got.kvs] == [(b"app/a", b"1", 1)]
        assert got.header.revision >= r2.header.revision
        assert (await c.get(b"app/missing")).kvs == []

        listing = await c.range(b"app/", prefix=True)
        assert [kv.key for kv in listing.kvs] == [b"app/a", b"app/b"] and listing.count == 2
        keys = await c.range(b"app/", prefix=True, keys_only=True, limit=1)
        assert [(kv.key, kv.value) for kv in keys.kvs] == [(b"app/a", b"")] and keys.more
        assert (await c.range(b"app/", prefix=True, count_only=True)).count == 2
        old = await c.get(b"app/a", revision=r1.header.revision, serializable=True)
        assert old.kvs[0].value == b"1"

        upd = await c.put(b"app/a", b"1b", prev_kv=True)
        assert upd.prev_kv.value == b"1"
        deleted = await c.delete(b"app/", prefix=True, prev_kv=True)
        assert deleted.deleted == 2 and sorted(kv.value for kv in deleted.prev_kvs) == [b"1b", b"2"]
        assert (await c.range(b"app/", prefix=True)).kvs == []
        assert (await c.get(b"apq")).kvs[0].value == b"outside the prefix"


async def test_txn_compare_and_swap(cluster):
    """A mod_revision-guarded txn swaps the value once, and the same stale guard then fails and runs the failure branch."""
    async with client_for(cluster) as c:
        created = await c.txn([compare(b"cas", "version", "==", 0)], [op_put(b"cas", b"v1")])
        assert created.succeeded
        rev = created.header.revision

        guard = [compare(b"cas", "mod", "==", rev)]
        swap = await c.txn(guard, [op_put(b"cas", b"v2")], [op_get(b"cas")], retry_safe=True)
        assert swap.succeeded and swap.header.revision == rev + 1

        stale = await c.txn(guard, [op_put(b"cas", b"v3")], [op_get(b"cas")], retry_safe=True)
        assert not stale.succeeded
        current = stale.responses[0].response_range.kvs[0]
        assert (current.value, current.mod_revision) == (b"v2", rev + 1)

        both = await c.txn([compare(b"cas", "value", "==", b"v2")],
                           [op_put(b"cas2", b"x"), op_delete(b"cas")])
        assert both.succeeded and (await c.get(b"cas")).kvs == []
        assert (await c.get(b"cas2")).kvs[0].mod_revision == both.header.revision


async def test_failover_after_kill9_of_connected_member(cluster):
    """After kill -9 of the leader the client is connected to, reads continue on another member and a retry-safe txn and a put succeed."""
    leader = cluster.leader()
    async with client_for(cluster, first=leader, timeout=8.0) as c:
        put = await c.put(b"f/k", b"v1")
        assert c.endpoint == leader.endpoint
        cluster.kill9(leader)

        got = await c.get(b"f/k")
        assert got.kvs[0].value == b"v1"
        assert c.endpoint != leader.endpoint

        guard = [compare(b"f/k", "mod", "==", put.header.revision)]
        swap = await c.txn(guard, [op_put(b"f/k", b"v2")], retry_safe=True)
        assert swap.succeeded
        again = await c.put(b"f/k", b"v3")
        assert again.header.revision == swap.header.revision + 1
        assert (await c.get(b"f/k", serializable=True)).kvs[0].value in (b"v2", b"v3")
        assert (await c.get(b"f/k")).kvs[0].value == b"v3"


async def test_watch_resumes_exactly_once_across_member_kill(cluster):
    """A prefix watch on a follower that is kill -9ed mid-stream, while writes go on, delivers every write exactly once in revision order."""
    leader = cluster.leader()
    follower = next(m for m in cluster.members if m is not leader)
    async with client_for(cluster, first=follower) as wc, client_for(cluster, first=leader) as pc:
        start = (await pc.put(b"other", b"")).header.revision + 1
        written: list[tuple[int, bytes]] = []
        killed = asyncio.Event()

        async def writer():
            i = after_kill = 0
            while after_kill < 40:
                key = f"w/{i:04d}".encode()
                written.append(((await pc.put(key, str(i).encode())).header.revision, key))
                i += 1
                after_kill += killed.is_set()
            written.append(((await pc.put(b"w/end", b"")).header.revision, b"w/end"))

        seen: list[tuple[int, bytes]] = []
        async with wc.watch(b"w/", prefix=True, start_revision=start) as w, asyncio.timeout(30):
            assert w.endpoint == follower.endpoint
            task = asyncio.create_task(writer())
            try:
                async for resp in w:
                    seen += [(ev.kv.mod_revision, ev.kv.key) for ev in resp.events]
                    if len(seen) >= 20 and not killed.is_set():
                        cluster.kill9(follower)
                        killed.set()
                    if seen[-1][1] == b"w/end":
                        break
            finally:
                await task
            assert w.endpoint != follower.endpoint

    assert killed.is_set()
    assert seen == written
    assert [rev for rev, _ in seen] == list(range(start, start + len(seen)))


async def test_watch_from_now_ends_when_client_closes(cluster):
    """A watch opened 'from now' sees the next put and its iteration ends cleanly when another task closes the client."""
    c = client_for(cluster)
    try:
        async with c.watch(b"n/", prefix=True, prev_kv=True) as w, asyncio.timeout(10):
            assert w.next_revision > 0  # "now" is pinned by the created response
            put = await c.put(b"n/k", b"v")
            first = await anext(w)
            assert [(e.kv.key, e.kv.mod_revision) for e in first.events] == [(b"n/k", put.header.revision)]

            async def close_soon():
                await c.close()
            closer = asyncio.create_task(close_soon())
            rest = [resp async for resp in w]
            await closer
            assert rest == []
    finally:
        await c.close()


async def test_compaction_surfaces_as_compacted(cluster):
    """Reading or watching from a compacted revision raises Compacted, and a watch from the compact revision works."""
    async with client_for(cluster) as c:
        revs = [(await c.put(b"c/k", str(i))).header.revision for i in range(5)]
        await c.compact(revs[3], physical=True)

        with pytest.raises(Compacted):
            await c.get(b"c/k", revision=revs[0])
        with pytest.raises(Compacted):
            await c.compact(revs[3])
        with pytest.raises(Compacted) as info:
            async for _ in c.watch(b"c/k", start_revision=revs[1]):
                pytest.fail("a watch from a compacted revision delivered events")
        assert info.value.compact_revision == revs[3]

        seen = []
        async with c.watch(b"c/", prefix=True, start_revision=revs[3]) as w:
            async for resp in w:
                seen += [ev.kv.mod_revision for ev in resp.events]
                if seen[-1] == revs[4]:
                    break
        assert seen == revs[3:]


async def test_deadline_exceeded_on_a_hung_member(cluster):
    """A write to a paused member fails with DeadlineExceeded by its deadline and is reported as maybe applied, and the next call goes to another member."""
    follower = cluster.followers()[0]
    async with client_for(cluster, first=follower) as c:
        await c.put(b"d/k", b"v1")  # the connection to the follower is up before it hangs
        follower.proc.pause()
        try:
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            with pytest.raises(DeadlineExceeded) as info:
                await c.put(b"d/k", b"v2", timeout=0.5)
            assert loop.time() - t0 < 1.5
            assert info.value.maybe_applied and info.value.endpoint == follower.endpoint
            with pytest.raises(DeadlineExceeded):
                await c.status(follower.endpoint, timeout=0.3)

            assert c.endpoint != follower.endpoint
            assert (await c.get(b"d/k", timeout=2.0)).kvs[0].value in (b"v1", b"v2")
        finally:
            follower.proc.resume()


async def test_server_errors_are_typed(cluster):
    """Server refusals surface as their own exception classes: future revision, unknown lease, empty key, oversize and duplicate-key txn."""
    async with client_for(cluster) as c:
        rev = (await c.put(b"e/k", b"v")).header.revision
        with pytest.raises(FutureRevision):
            await c.get(b"e/k", revision=rev + 1000)
        with pytest.raises(LeaseNotFound):
            await c.put(b"e/k", b"v", lease=0x1234)
        with pytest.raises(InvalidArgument):
            await c.put(b"", b"v")
        with pytest.raises(RequestTooLarge):  # over the server's 1.5 MiB request limit
            await c.put(b"e/big", b"x" * 1_600_000)
        with pytest.raises(RequestTooLarge):  # over the client's 2 MiB send limit, never sent
            await c.put(b"e/big", b"x" * 3_000_000)
        with pytest.raises(InvalidArgument):
            await c.txn([], [op_put(b"e/d", b"1"), op_put(b"e/d", b"2")])
        assert (await c.get(b"e/k")).kvs[0].mod_revision == rev


async def test_leases(cluster):
    """A granted lease holds a key, is listed, renewed once and revoked, after which its key is gone and the lease is unknown."""
    async with client_for(cluster) as c:
        lease = await c.lease_grant(30)
        assert lease.ID > 0 and lease.TTL == 30
        await c.put(b"l/k", b"v", lease=lease.ID)

        ttl = await c.lease_time_to_live(lease.ID, keys=True)
        assert ttl.grantedTTL == 30 and 0 < ttl.TTL <= 30 and list(ttl.keys) == [b"l/k"]
        assert lease.ID in [s.ID for s in (await c.leases()).leases]
        assert (await c.lease_keepalive_once(lease.ID)).TTL == 30

        await c.lease_revoke(lease.ID)
        assert (await c.get(b"l/k")).kvs == []
        assert (await c.lease_time_to_live(lease.ID)).TTL == -1
        with pytest.raises(LeaseNotFound):
            await c.lease_keepalive_once(lease.ID)
        with pytest.raises(LeaseNotFound):
            await c.lease_revoke(lease.ID)


async def test_member_list_and_status(cluster):
    """Member list names every member's client URL, and every member's status agrees on one leader."""
    async with client_for(cluster) as c:
        members = (await c.member_list()).members
        assert sorted(u for m in members for u in m.clientURLs) == sorted(m.client_url for m in cluster.members)
        statuses = [await c.status(m.endpoint) for m in cluster.members]
        leaders = {s.leader for s in statuses}
        assert len(leaders) == 1 and leaders.pop() in {s.header.member_id for s in statuses}
        assert (await c.status()).header.member_id in {m.ID for m in members}


async def test_unreachable_endpoints_fail_by_the_deadline():
    """With no member listening, reads and writes fail with Unavailable within the deadline, and the writes are known not applied."""
    async with StoreClient([f"127.0.0.1:{free_port()}" for _ in range(3)], timeout=0.5) as c:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        with pytest.raises(Unavailable) as read:
            await c.get(b"k")
        with pytest.raises(Unavailable) as write:
            await c.put(b"k", b"v")
        assert loop.time() - t0 < 1.5
        assert "gave up after" in str(read.value)
        assert not write.value.maybe_applied
