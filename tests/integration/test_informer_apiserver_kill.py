"""client.informer against a real control plane: the apiserver it watches is killed while writes go on;
the cache still ends equal to a fresh list, and no handler saw the same version of an object twice."""
from __future__ import annotations

import asyncio
import random

import pytest

from client.api import ApiClient
from client.errors import ApiError
from client.informer import DeletedFinalStateUnknown, Informer, key_of
from skiffpb.k8s.core.v1 import core_pb2

pytestmark = pytest.mark.timeout(120)


def configmap(name: str, **data: str) -> core_pb2.ConfigMap:
    cm = core_pb2.ConfigMap()
    cm.metadata.name, cm.metadata.namespace = name, "default"
    cm.data.update(data)
    return cm


async def _write(api: ApiClient, n: int, rng: random.Random, progress: asyncio.Queue) -> None:
    """n random creates/updates/deletes of a few configmaps; errors (the kill) are part of the test."""
    for i in range(n):
        name = f"cm-{rng.randrange(6)}"
        try:
            op = rng.random()
            if op < 0.4:
                await api.create(configmap(name, step=str(i)))
            elif op < 0.8:
                obj = await api.get("configmaps", "default", name)
                obj.data["step"] = str(i)
                await api.update(obj)
            else:
                await api.delete("configmaps", "default", name)
        except ApiError:
            pass
        progress.put_nowait(i)


async def test_informer_cache_survives_the_death_of_its_apiserver(control_plane):
    rng = random.Random(4)
    calls: list[tuple[str, str, str]] = []

    def on_add(o):
        calls.append(("add", key_of(o), o.metadata.resource_version))

    def on_update(old, new):
        calls.append(("update", key_of(new), new.metadata.resource_version))

    def on_delete(o):
        if isinstance(o, DeletedFinalStateUnknown):
            calls.append(("tombstone", o.key, o.obj.metadata.resource_version))
        else:
            calls.append(("delete", key_of(o), o.metadata.resource_version))

    async with ApiClient(control_plane.endpoints, timeout=10) as watcher, \
            ApiClient(control_plane.endpoints, timeout=10) as writer:
        for i in range(3):
            await writer.create(configmap(f"cm-{i}", step="init"))
        inf = Informer(watcher, "configmaps", "default")
        inf.add_handler(on_add, on_update, on_delete)
        task = asyncio.create_task(inf.run())
        try:
            await inf.wait_for_sync(timeout=20)
            assert watcher.endpoint == control_plane.apiservers[0].endpoint   # it watches the first
            progress: asyncio.Queue = asyncio.Queue()
            writes = asyncio.create_task(_write(writer, 80, rng, progress))
            while await progress.get() < 20:
                pass
            await asyncio.to_thread(control_plane.apiservers[0].kill9)     # mid-stream
            await asyncio.wait_for(writes, 60)

            items, rv = await writer.list("configmaps", "default")
            want = [(key_of(o), o.metadata.resource_version, dict(o.data)) for o in items]

            def cache():
                return [(key_of(o), o.metadata.resource_version, dict(o.data)) for o in inf.list()]

            await inf.wait_until(lambda: cache() == want, timeout=30)
            assert not task.done()
            assert inf.watches >= 2, "the watch was never resumed"
            assert watcher.endpoint == control_plane.apiservers[1].endpoint
            assert int(inf.last_sync_resource_version) >= max(int(v) for _, v, _ in want)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    seen = [(k, v) for t, k, v in calls if t in ("add", "update")]
    assert len(seen) == len(set(seen)), "a handler was given the same version of an object twice"
    deleted = [(k, v) for t, k, v in calls if t == "delete"]
    assert len(deleted) == len(set(deleted)), "a deletion was delivered twice"
    state: dict[str, str] = {}   # replaying the calls reproduces the final cache
    for t, k, v in calls:
        if t in ("add", "update"):
            assert (k in state) == (t == "update"), f"{t} of {k} out of step with the earlier calls"
            state[k] = v
        else:
            assert state.pop(k, None) is not None, f"{t} of {k}, not present"
    assert sorted(state.items()) == [(k, v) for k, v, _ in want]
