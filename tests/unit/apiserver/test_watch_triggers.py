"""The watch cache's trigger index: a watcher indexed under its selector's one-field requirement gets
exactly the events it would get if every event were offered to it (Hypothesis), and is skipped
otherwise."""
from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apiserver.service import ApiService
from apiserver.watchcache import WatchCache
from client import kinds
from skiffpb.k8s.core.v1 import core_pb2

pytestmark = pytest.mark.timeout(60)
PODS = kinds.by_resource("pods")

# (namespace, label selector, field selector) of watchers: one of each kind of trigger, and none.
WATCHES = [("", "", ""), ("a", "", ""), ("", "shard=1", ""), ("", "shard in (1,2)", ""),
           ("a", "shard=2,app=web", ""), ("", "", "spec.nodeName=n1"), ("b", "", "spec.nodeName=n2"),
           ("", "!shard", ""), ("", "shard!=1", "")]

pod_states = st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(["p", "q", "r"]),
                       st.sampled_from([None, "1", "2", "3"]), st.sampled_from(["", "n1", "n2"]),
                       st.sampled_from([None, "web"]))


def _pod(ns, name, shard, node, app) -> core_pb2.Pod:
    p = core_pb2.Pod()
    p.metadata.namespace, p.metadata.name = ns, name
    if shard is not None:
        p.metadata.labels["shard"] = shard
    if app is not None:
        p.metadata.labels["app"] = app
    if node:
        p.spec.node_name = node
    return p


def _drain(sub) -> list[tuple[str, str, int]]:
    out = []
    while not sub.queue.empty():
        ev = sub.queue.get_nowait()
        out.append((ev.type, ev.obj.metadata.name, ev.revision))
    return out


def _replay(writes) -> list[tuple[list, list]]:
    """For each watch: (events with its trigger, events with no trigger), after `writes`."""
    async def run():
        cache = WatchCache(PODS, storage=None)
        svc = ApiService(storage=None, caches={"pods": cache}, allocator=None)
        pairs = []
        for ns, labels, fields in WATCHES:
            pred = svc._predicate(PODS, ns, labels, fields)
            trig = svc._trigger(PODS, ns, labels, fields)
            with_trigger, _ = cache.subscribe(0, pred, trig)
            without, _ = cache.subscribe(0, pred, None)
            pairs.append((with_trigger, without))
        from apiserver.storage import Event
        rev = 0
        for delete, state in writes:
            rev += 1
            obj = _pod(*state)
            obj.metadata.resource_version = str(rev)
            await cache._apply([Event("DELETED" if delete else "ADDED", obj, rev)])
        return [(_drain(a), _drain(b)) for a, b in pairs]
    return asyncio.run(run())


@given(st.lists(st.tuples(st.booleans(), pod_states), max_size=30))
def test_an_indexed_watcher_gets_exactly_what_it_would_get_unindexed(writes):
    for with_trigger, without in _replay(writes):
        assert with_trigger == without


def test_triggers_are_chosen_field_then_label_then_namespace():
    t = ApiService._trigger
    assert t(PODS, "a", "shard=1", "spec.nodeName=n1").name == "field:spec.nodeName"
    assert t(PODS, "a", "shard in (1,2)", "").values == frozenset({"1", "2"})
    assert t(PODS, "a", "!shard", "").name == "namespace"
    assert t(PODS, "", "!shard", "spec.nodeName!=n1") is None


def test_an_event_is_not_offered_to_watchers_indexed_elsewhere():
    """1,000 kubelet-like watchers: an event reaches one of them only (offer is not even called on the others)."""
    async def run():
        cache = WatchCache(PODS, storage=None)
        svc = ApiService(storage=None, caches={"pods": cache}, allocator=None)
        subs = []
        for i in range(1000):
            sel = f"spec.nodeName=n{i}"
            sub, _ = cache.subscribe(0, svc._predicate(PODS, "", "", sel), svc._trigger(PODS, "", "", sel))
            subs.append(sub)
        offered = []
        for s in subs:
            s.offer = (lambda ev, s=s: offered.append(s))
        from apiserver.storage import Event
        await cache._apply([Event("ADDED", _pod("a", "p", None, "n7", None), 1)])
        return offered, subs
    offered, subs = asyncio.run(run())
    assert offered == [subs[7]]
