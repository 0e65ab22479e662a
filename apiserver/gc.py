"""Cascading deletion over ownerReferences: Background, Foreground and Orphan, level-triggered.

Runs inside every apiserver until the controller manager's garbage collector takes the job over;
all its writes are guarded by resourceVersion, so several apiservers doing it at once is safe.
Each sweep reads the watch caches and acts:
- an object whose owners (by uid) are all gone is deleted (Background; checked with a live read
  first, because the owner's cache may lag the dependent's);
- an owner being deleted with the `orphan` finalizer: its dependents lose their ownerReference to
  it, then the finalizer is removed (and the deletion completes);
- an owner being deleted with `foregroundDeletion`: its dependents are deleted (foreground too),
  and once none is left the finalizer is removed.
"""
from __future__ import annotations

import asyncio
import logging

from google.protobuf.message import Message

from apiserver import errors
from client import kinds

log = logging.getLogger(__name__)


class Collector:
    def __init__(self, service, caches, interval: float = 1.0):
        self.service = service
        self.caches = caches
        self.interval = interval
        self._wake = asyncio.Event()

    def poke(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - the next sweep retries; nothing is lost
                log.warning("garbage collection sweep failed: %r", e)

    def _live(self) -> list[tuple[kinds.Kind, Message]]:
        out = []
        for resource, cache in self.caches.items():
            if cache.ready.is_set():
                kind = kinds.by_resource(resource)
                out.extend((kind, o) for o in cache.objects.values())
        return out

    async def sweep(self) -> None:
        live = self._live()
        by_uid = {o.metadata.uid: (k, o) for k, o in live}
        dependents: dict[str, list[tuple[kinds.Kind, Message]]] = {}
        for k, o in live:
            for ref in o.metadata.owner_references:
                dependents.setdefault(ref.uid, []).append((k, o))
        for k, o in live:
            if not o.metadata.HasField("deletion_timestamp"):
                continue
            if "orphan" in o.metadata.finalizers:
                for dk, d in dependents.get(o.metadata.uid, []):
                    await self._drop_owner_ref(dk, d, o.metadata.uid)
                await self._remove_finalizer(k, o, "orphan")
            elif "foregroundDeletion" in o.metadata.finalizers:
                deps = dependents.get(o.metadata.uid, [])
                for dk, d in deps:
                    if not d.metadata.HasField("deletion_timestamp"):
                        await self._delete(dk, d, "Foreground")
                if not deps:
                    await self._remove_finalizer(k, o, "foregroundDeletion")
        for k, o in live:
            refs = list(o.metadata.owner_references)
            if not refs or any(r.uid in by_uid for r in refs):
                continue
            if await self._owners_gone(o):
                await self._delete(k, o, "Background")

    async def _owners_gone(self, o: Message) -> bool:
        for ref in o.metadata.owner_references:
            try:
                owner_kind = kinds.by_gvk(ref.api_version, ref.kind)
            except kinds.UnknownKind:
                continue  # an owner of a kind we do not serve cannot exist here
            ns = o.metadata.namespace if owner_kind.namespaced else ""
            try:
                owner = await self.service.storage.get(owner_kind, ns, ref.name)
            except errors.NotFound:
                continue
            if owner.metadata.uid == ref.uid:
                return False
        return True

    async def _delete(self, kind: kinds.Kind, obj: Message, policy: str) -> None:
        try:
            current = await self.service.storage.get(kind, obj.metadata.namespace, obj.metadata.name)
            if current.metadata.uid != obj.metadata.uid:
                return
            await self.service._delete(kind, current, policy, None, False)
            log.info("garbage collector deleted %s %s/%s (%s)", kind.resource, obj.metadata.namespace,
                     obj.metadata.name, policy)
        except (errors.NotFound, errors.Conflict):
            pass  # gone already, or changed: the next sweep looks again

    async def _drop_owner_ref(self, kind: kinds.Kind, obj: Message, owner_uid: str) -> None:
        def mutate(cur):
            refs = [r for r in cur.metadata.owner_references if r.uid != owner_uid]
            if len(refs) == len(cur.metadata.owner_references):
                return None
            del cur.metadata.owner_references[:]
            cur.metadata.owner_references.extend(refs)
            return cur
        try:
            await self.service.storage.guaranteed_update(kind, obj.metadata.namespace, obj.metadata.name, mutate)
        except errors.NotFound:
            pass

    async def _remove_finalizer(self, kind: kinds.Kind, obj: Message, finalizer: str) -> None:
        try:
            cur = await self.service.storage.get(kind, obj.metadata.namespace, obj.metadata.name)
            if finalizer not in cur.metadata.finalizers:
                return
            keep = [f for f in cur.metadata.finalizers if f != finalizer]
            del cur.metadata.finalizers[:]
            cur.metadata.finalizers.extend(keep)
            await self.service.update(kind, cur, status=False)
        except (errors.NotFound, errors.Conflict):
            pass
