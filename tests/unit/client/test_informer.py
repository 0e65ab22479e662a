"""client.informer against FakeApi: sync, handler order, resume after disconnects, relist after 410 with
tombstones, resync, indexes, backoff, and a Hypothesis property: after any faults the cache equals a list."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import random

import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

from client.api import WatchEvent
from client.errors import AlreadyExists, NotFound, Unavailable
from client.fake import FakeApi
from client.informer import DeletedFinalStateUnknown, Indexer, Informer, key_of
from skiffpb.k8s.core.v1 import core_pb2

pytestmark = pytest.mark.timeout(20)

WAIT = 5.0   # seconds any explicit wait may take before the test fails


def cm(name: str, ns: str = "default", labels: dict | None = None, **data: str) -> core_pb2.ConfigMap:
    c = core_pb2.ConfigMap()
    c.metadata.name, c.metadata.namespace = name, ns
    c.metadata.labels.update(labels or {})
    c.data.update(data)
    return c


def pod(name: str, ns: str = "default", node: str = "", labels: dict | None = None,
        owner_uid: str = "") -> core_pb2.Pod:
    p = core_pb2.Pod()
    p.metadata.name, p.metadata.namespace = name, ns
    p.metadata.labels.update(labels or {})
    if node:
        p.spec.node_name = node
    if owner_uid:
        ref = p.metadata.owner_references.add()
        ref.kind, ref.name, ref.uid = "ReplicaSet", "rs", owner_uid
    return p


class Recorder:
    """Every handler call, in order, as (type, old, new); `log` renders them as short tuples."""

    def __init__(self, informer: Informer):
        self.calls: list[tuple[str, object, object]] = []
        informer.add_handler(on_add=lambda o: self.calls.append(("add", None, o)),
                             on_update=lambda old, new: self.calls.append(("update", old, new)),
                             on_delete=lambda o: self.calls.append(("delete", None, o)))

    @property
    def log(self) -> list[tuple]:
        out = []
        for typ, old, new in self.calls:
            if isinstance(new, DeletedFinalStateUnknown):
                out.append((typ, new.key, "tombstone", new.obj.metadata.resource_version))
            elif typ == "update":
                out.append((typ, key_of(new), old.metadata.resource_version, new.metadata.resource_version))
            else:
                out.append((typ, key_of(new), new.metadata.resource_version))
        return out

    def replay(self) -> dict[str, object]:
        """The state the calls describe, checking each is consistent with the state before it."""
        state: dict[str, object] = {}
        for typ, old, new in self.calls:
            key = key_of(new)
            if typ == "add":
                assert key not in state, f"add of {key}, already present"
                state[key] = new
            elif typ == "update":
                assert state.get(key) == old, f"update of {key} from a state the handler never saw"
                state[key] = new
            else:
                assert key in state, f"delete of {key}, not present"
                del state[key]
        return state


class Sleeps:
    """An injected sleep: records each delay; resync periods wait for `tick()`, backoffs wait while
    `hold` is set (an outage the test controls) and otherwise only yield."""

    def __init__(self, resync: float = -1.0):
        self.resync = resync
        self.delays: list[float] = []
        self.hold = False
        self.held = asyncio.Event()
        self._release = asyncio.Event()
        self._ticks: asyncio.Queue = asyncio.Queue()

    async def __call__(self, delay: float) -> None:
        if delay == self.resync:
            await self._ticks.get()
            return
        self.delays.append(delay)
        if self.hold:
            self.held.set()
            await self._release.wait()
        await asyncio.sleep(0)

    def tick(self) -> None:
        self._ticks.put_nowait(None)

    def release(self) -> None:
        self.hold = False
        self._release.set()


@contextlib.asynccontextmanager
async def running(informer: Informer):
    task = asyncio.create_task(informer.run())
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def until(informer: Informer, task: asyncio.Task, predicate, timeout: float = WAIT) -> None:
    """Wait for `predicate` (re-checked on informer progress); fail if the informer task dies."""
    waiter = asyncio.ensure_future(informer.wait_until(predicate, timeout))
    done, _ = await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
    if waiter not in done:
        waiter.cancel()
        task.result()
        raise AssertionError("the informer stopped")
    waiter.result()


def caught_up(informer: Informer, api: FakeApi):
    return lambda: int(informer.last_sync_resource_version or -1) >= int(api.resource_version)


async def fresh(api: FakeApi, kind: str = "configmaps", ns: str = "") -> list[tuple[str, object]]:
    items, _ = await api.list(kind, ns)
    return [(key_of(o), o) for o in items]


def cached(informer: Informer) -> list[tuple[str, object]]:
    return [(key_of(o), o) for o in informer.list()]


async def test_initial_sync_delivers_adds_and_sets_has_synced():
    """The first list fills the cache, is delivered as adds in key order, then has_synced is true."""
    api = FakeApi()
    for n in ("b", "a"):
        await api.create(cm(n))
    await api.create(cm("c", "other"))
    inf = Informer(api, "configmaps", sleep=Sleeps())
    rec = Recorder(inf)
    assert not inf.has_synced() and inf.last_sync_resource_version == ""
    async with running(inf) as task:
        await until(inf, task, inf.has_synced)
        assert [k for _, k, _ in rec.log] == ["default/a", "default/b", "other/c"]
        assert {t for t, *_ in rec.log} == {"add"}
        assert cached(inf) == await fresh(api)
        assert inf.last_sync_resource_version == api.resource_version
        assert inf.get("default", "a").metadata.name == "a" and inf.get_by_key("other/c") is not None
        assert inf.get("default", "zzz") is None
        late = Recorder(inf)   # a handler added after the sync is given the cache as adds
        assert [k for _, k, _ in late.log] == ["default/a", "default/b", "other/c"]


async def test_namespaced_informer_sees_only_its_namespace():
    api = FakeApi()
    await api.create(cm("a"))
    await api.create(cm("b", "other"))
    inf = Informer(api, "configmaps", "other", sleep=Sleeps())
    async with running(inf) as task:
        await until(inf, task, inf.has_synced)
        await api.create(cm("c", "default"))
        await api.create(cm("d", "other"))
        await until(inf, task, lambda: len(inf.list()) == 2)
        assert [k for k, _ in cached(inf)] == ["other/b", "other/d"]


async def test_handlers_called_in_event_order_and_a_failing_handler_is_only_logged(caplog):
    """add/update/delete reach every handler in event order; one that raises is logged, not fatal."""
    api = FakeApi()
    inf = Informer(api, "configmaps", sleep=Sleeps())

    def broken(obj):
        raise RuntimeError("handler bug")

    inf.add_handler(on_add=broken, on_delete=broken)
    rec = Recorder(inf)
    async with running(inf) as task:
        await until(inf, task, inf.has_synced)
        with caplog.at_level(logging.ERROR, logger="client.informer"):
            a = await api.create(cm("a", k="1"))
            a.data["k"] = "2"
            a2 = await api.update(a)
            await api.delete("configmaps", "default", "a")
            b = await api.create(cm("b"))
            await until(inf, task, caught_up(inf, api))
        assert rec.log == [("add", "default/a", a.metadata.resource_version),
                           ("update", "default/a", a.metadata.resource_version, a2.metadata.resource_version),
                           ("delete", "default/a", str(int(a2.metadata.resource_version) + 1)),
                           ("add", "default/b", b.metadata.resource_version)]
        assert sum("handler bug" in r.exc_text for r in caplog.records if r.exc_text) == 3
        assert not task.done()
        assert cached(inf) == await fresh(api)


async def test_watch_disconnect_resumes_without_duplicates_or_missed_changes():
    """Changes made while the watch is down arrive once each after the resume; no relist happens."""
    api = FakeApi()
    await api.create(cm("a"))
    await api.create(cm("b"))
    sleeps = Sleeps()
    inf = Informer(api, "configmaps", sleep=sleeps)
    rec = Recorder(inf)
    async with running(inf) as task:
        await until(inf, task, inf.has_synced)
        c = await api.create(cm("c"))
        await until(inf, task, caught_up(inf, api))
        sleeps.hold = True
        api.disconnect_watches()
        await asyncio.wait_for(sleeps.held.wait(), WAIT)           # the informer is backing off: an outage
        before = len(rec.calls)
        a = await api.get("configmaps", "default", "a")
        a.data["x"] = "1"
        a2 = await api.update(a)
        await api.delete("configmaps", "default", "b")
        d = await api.create(cm("d"))
        sleeps.release()
        await until(inf, task, caught_up(inf, api))
        assert rec.log[before:] == [("update", "default/a", a.metadata.resource_version, a2.metadata.resource_version),
                                    ("delete", "default/b", str(int(a2.metadata.resource_version) + 1)),
                                    ("add", "default/d", d.metadata.resource_version)]
        assert ("add", "default/c", c.metadata.resource_version) in rec.log[:before]
        assert [a for a in api.actions if a[0] == "list"] == [("list", "configmaps", "", "")]
        assert cached(inf) == await fresh(api)
        assert inf.watches == 2 and inf.relists == 0
        assert rec.replay() == dict(await fresh(api))


async def test_gone_relists_and_delivers_differences_with_tombstones():
    """After a 410 the relist is delivered as differences: tombstones for vanished (or re-created)
    objects, updates for changed ones, adds for new ones, nothing for unchanged ones."""
    api = FakeApi()
    for n in ("a", "b", "c", "same"):
        await api.create(cm(n))
    sleeps = Sleeps()
    inf = Informer(api, "configmaps", sleep=sleeps)
    rec = Recorder(inf)
    async with running(inf) as task:
        await until(inf, task, inf.has_synced)
        old = {k: o for k, o in cached(inf)}
        sleeps.hold = True
        api.expire_watches()
        await asyncio.wait_for(sleeps.held.wait(), WAIT)
        before = len(rec.calls)
        await api.delete("configmaps", "default", "a")
        b = await api.get("configmaps", "default", "b")
        b.data["v"] = "2"
        b2 = await api.update(b)
        await api.delete("configmaps", "default", "c")
        c2 = await api.create(cm("c"))                    # same name, new uid
        d = await api.create(cm("d"))
        api.compact()
        sleeps.release()
        await until(inf, task, caught_up(inf, api))
        new_calls = rec.calls[before:]
        assert rec.log[before:] == [
            ("delete", "default/a", "tombstone", old["default/a"].metadata.resource_version),
            ("update", "default/b", b.metadata.resource_version, b2.metadata.resource_version),
            ("delete", "default/c", "tombstone", old["default/c"].metadata.resource_version),
            ("add", "default/c", c2.metadata.resource_version),
            ("add", "default/d", d.metadata.resource_version)]
        tomb = new_calls[0][2]
        assert isinstance(tomb, DeletedFinalStateUnknown) and tomb.obj is old["default/a"]
        assert key_of(tomb) == "default/a"
        assert inf.relists == 1 and cached(inf) == await fresh(api)
        assert rec.replay() == dict(await fresh(api))


async def test_resume_from_a_compacted_version_relists():
    """A watch resumed after a disconnect from a version compacted meanwhile gets Gone, then relists."""
    api = FakeApi()
    await api.create(cm("a"))
    sleeps = Sleeps()
    inf = Informer(api, "configmaps", sleep=sleeps)
    rec = Recorder(inf)
    async with running(inf) as task:
        await until(inf, task, inf.has_synced)
        sleeps.hold = True
        api.disconnect_watches()
        await asyncio.wait_for(sleeps.held.wait(), WAIT)
        await api.delete("configmaps", "default", "a")
        await api.create(cm("b"))
        api.compact()
        sleeps.release()
        await until(inf, task, caught_up(inf, api))
        assert inf.relists == 1 and cached(inf) == await fresh(api)
        assert [t for t, *_ in rec.log] == ["add", "delete", "add"] and rec.log[1][2] == "tombstone"


async def test_resync_redelivers_every_cached_object_as_an_update_to_itself():
    api = FakeApi()
    await api.create(cm("a"))
    await api.create(cm("b"))
    sleeps = Sleeps(resync=30.0)
    inf = Informer(api, "configmaps", resync_period=30.0, sleep=sleeps)
    rec = Recorder(inf)
    async with running(inf) as task:
        await until(inf, task, inf.has_synced)
        assert len(rec.calls) == 2
        sleeps.tick()
        await until(inf, task, lambda: len(rec.calls) == 4)
        resynced = rec.calls[2:]
        assert [(t, key_of(n)) for t, _, n in resynced] == [("update", "default/a"), ("update", "default/b")]
        assert all(old is new for _, old, new in resynced)
        assert rec.replay() == dict(await fresh(api))


async def test_indexes_follow_adds_updates_and_deletes():
    """namespace, node, owner and label lookups, a custom index, and index upkeep on change."""
    api = FakeApi()
    await api.create(pod("p1", node="n1", labels={"app": "web"}, owner_uid="rs-1"))
    await api.create(pod("p2", node="n2", labels={"app": "web", "tier": "fe"}, owner_uid="rs-1"))
    await api.create(pod("p3", "kube-system", node="n1", labels={"app": "dns"}))
    await api.create(pod("p4"))
    inf = Informer(api, "pods", sleep=Sleeps(),
                   indexers={"first-letter": lambda o: [o.metadata.name[:1]]})

    def names(objs):
        return [o.metadata.name for o in objs]

    async with running(inf) as task:
        await until(inf, task, inf.has_synced)
        assert names(inf.by_index("namespace", "default")) == ["p1", "p2", "p4"]
        assert names(inf.by_index("namespace", "kube-system")) == ["p3"]
        assert names(inf.by_index("node", "n1")) == ["p1", "p3"]
        assert names(inf.by_index("node", "")) == []
        assert names(inf.by_index("owner", "rs-1")) == ["p1", "p2"]
        assert names(inf.by_label("app", "web")) == ["p1", "p2"]
        assert names(inf.by_index("label:tier", "fe")) == ["p2"]
        assert names(inf.by_index("first-letter", "p")) == ["p1", "p2", "p4", "p3"]   # in key order
        with pytest.raises(KeyError, match="no index 'nope'"):
            inf.by_index("nope", "x")
        p1 = await api.get("pods", "default", "p1")
        p1.spec.node_name = "n2"
        p1.metadata.labels["app"] = "api"
        await api.update(p1)
        await api.delete("pods", "default", "p2")
        await until(inf, task, caught_up(inf, api))
        assert names(inf.by_index("node", "n1")) == ["p3"]
        assert names(inf.by_index("node", "n2")) == ["p1"]
        assert names(inf.by_label("app", "web")) == []
        assert names(inf.by_label("app", "api")) == ["p1"]
        assert names(inf.by_index("owner", "rs-1")) == ["p1"]
        assert inf.store.index_names() == ["first-letter", "namespace", "node", "owner"]


def test_indexer_drops_replayed_and_stale_events_and_keys_cluster_scoped_objects():
    """The pure core: an event no newer than the cached object, or older than the last version seen,
    changes nothing; a DELETED of an uncached key is ignored; a namespace's key is its name."""
    idx = Indexer()
    a = cm("a")
    a.metadata.resource_version = "5"
    assert [n.type for n in idx.apply(WatchEvent("ADDED", a), "4")] == ["add"]
    assert idx.apply(WatchEvent("ADDED", a), "5") == []          # replayed
    assert idx.apply(WatchEvent("MODIFIED", a), "5") == []
    old = cm("old")
    old.metadata.resource_version = "3"
    assert idx.apply(WatchEvent("ADDED", old), "5") == []        # older than the last seen
    gone = cm("never-seen")
    gone.metadata.resource_version = "6"
    assert idx.apply(WatchEvent("DELETED", gone), "5") == []
    ns = core_pb2.Namespace()
    ns.metadata.name = "prod"
    assert key_of(ns) == "prod"
    with pytest.raises(ValueError):
        Indexer({"node": lambda o: []})


async def test_backoff_grows_on_repeated_failures_and_list_failures_are_retried():
    """Failed lists and watches are retried after growing, jittered delays; success resets them."""
    api = FakeApi()
    await api.create(cm("a"))
    api.fail_next("list", Unavailable("down"))
    for _ in range(3):
        api.fail_next("watch", Unavailable("down"))
    sleeps = Sleeps()
    inf = Informer(api, "configmaps", sleep=sleeps, rng=random.Random(7))
    async with running(inf) as task:
        await until(inf, task, lambda: inf.watches == 1)
        # One failure count across the list and the watches (a list that succeeds is no proof the
        # watch will): attempts 0, 1, 2, 3, each the nominal delay +- the jitter.
        assert len(sleeps.delays) == 4
        for attempt, delay in enumerate(sleeps.delays):
            nominal = inf.backoff.nominal(attempt)
            assert nominal * (1 - inf.backoff.jitter) <= delay <= nominal * (1 + inf.backoff.jitter)
        await api.create(cm("b"))
        await until(inf, task, caught_up(inf, api))
        api.disconnect_watches()
        await until(inf, task, lambda: inf.watches == 2)
        assert sleeps.delays[-1] <= inf.backoff.nominal(0) * (1 + inf.backoff.jitter)   # delivered: reset
        assert cached(inf) == await fresh(api)


# -- the property ----------------------------------------------------------------------------------
NAMES = ("a", "b", "c", "d")
STEP = st.one_of(
    st.tuples(st.just("create"), st.sampled_from(NAMES)),
    st.tuples(st.just("update"), st.sampled_from(NAMES)),
    st.tuples(st.just("delete"), st.sampled_from(NAMES)),
    st.tuples(st.just("expire"), st.none()),
    st.tuples(st.just("disconnect"), st.none()),
    st.tuples(st.just("compact"), st.none()),
    st.tuples(st.just("run"), st.integers(1, 6)),        # let the informer's task run a few steps
)


async def _scenario(steps: list[tuple[str, object]], history: int) -> None:
    api = FakeApi(history=history)
    await api.create(cm("seed", "kube-system"))
    inf = Informer(api, "configmaps", sleep=Sleeps())
    rec = Recorder(inf)
    async with running(inf) as task:
        await until(inf, task, lambda: inf.watches >= 1)     # so the first fault finds a watch open
        for i, (op, arg) in enumerate(steps):
            try:
                if op == "create":
                    await api.create(cm(arg, labels={"step": str(i)}))
                elif op == "update":
                    o = await api.get("configmaps", "default", arg)
                    o.data["step"] = str(i)
                    await api.update(o)
                elif op == "delete":
                    await api.delete("configmaps", "default", arg)
                elif op == "expire":
                    api.expire_watches()
                elif op == "disconnect":
                    api.disconnect_watches()
                elif op == "compact":
                    api.compact()
                else:
                    for _ in range(arg):
                        await asyncio.sleep(0)
            except (AlreadyExists, NotFound):
                pass
        await until(inf, task, caught_up(inf, api))
        want = await fresh(api)
        assert cached(inf) == want
        assert rec.replay() == dict(want)
        seen = [(k, rv) for t, k, *rest in rec.log if t != "delete" for rv in rest[-1:]]
        assert len(seen) == len(set(seen)), "a handler saw the same version of an object twice"
        event(f"relisted: {inf.relists > 0}, resumed: {inf.watches - inf.relists > 1}")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(STEP, max_size=40), st.sampled_from([3, 1000]))
def test_cache_equals_a_fresh_list_after_any_faults(steps, history):
    """Random writes interleaved with 410s, disconnects and compactions (and a short watch history):
    once caught up, the cache equals a fresh list, the handler calls replay to it, none is repeated."""
    asyncio.run(_scenario(steps, history))
