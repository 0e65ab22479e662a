"""Objects in the store: key layout, resourceVersion <-> revision, optimistic concurrency.

Key: `/registry/<resource>/<namespace>/<name>` (cluster-scoped kinds: `/registry/<resource>/<name>`).
Value: the object's protobuf bytes with `metadata.resourceVersion` cleared; on every read it is
set to the key's mod_revision, so a resourceVersion is exactly a store revision.

Every write is one store Txn guarded by a compare, so it is atomic and safe to retry
(`retry_safe=True` in store/client.py): create = "the key does not exist", update/delete =
"the key's mod_revision is the one the caller read". A compare that fails is Conflict (or
AlreadyExists / NotFound); nothing is ever half-written.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable

from google.protobuf.message import Message

from apiserver import errors
from client.kinds import Kind
from store import client as sc

PREFIX = "/registry/"
MAX_OBJECT_BYTES = 1_400_000  # below the store's 1.5 MiB request limit, with room for the Txn


def key_for(kind: Kind, namespace: str, name: str) -> bytes:
    if kind.namespaced:
        return f"{PREFIX}{kind.resource}/{namespace}/{name}".encode()
    return f"{PREFIX}{kind.resource}/{name}".encode()


def prefix_for(kind: Kind, namespace: str = "") -> bytes:
    if kind.namespaced and namespace:
        return f"{PREFIX}{kind.resource}/{namespace}/".encode()
    return f"{PREFIX}{kind.resource}/".encode()


def encode(obj: Message) -> bytes:
    data = type(obj)()
    data.CopyFrom(obj)
    data.metadata.ClearField("resource_version")
    raw = data.SerializeToString()
    if len(raw) > MAX_OBJECT_BYTES:
        raise errors.TooLarge(f"Request entity too large: the object is {len(raw)} bytes, the limit is "
                              f"{MAX_OBJECT_BYTES}")
    return raw


def decode(kind: Kind, value: bytes, mod_revision: int) -> Message:
    obj = kind.message.FromString(value)
    obj.metadata.resource_version = str(mod_revision)
    return obj


def parse_rv(text: str, what: str = "resourceVersion") -> int:
    try:
        rv = int(text)
    except (TypeError, ValueError):
        raise errors.BadRequest(f'{what}: Invalid value: "{text}": must be a non-negative integer') from None
    if rv < 0:
        raise errors.BadRequest(f'{what}: Invalid value: "{text}": must be a non-negative integer')
    return rv


@dataclass
class Event:
    type: str            # ADDED, MODIFIED, DELETED
    obj: Message         # for DELETED: the last state, with resourceVersion = the delete's revision
    revision: int
    prev: Message | None = None
    wire: bytes | None = None  # its api.v1.WatchEvent bytes, made once and shared by every watcher


def _store_errors(fn):
    async def wrapped(*a, **kw):
        try:
            return await fn(*a, **kw)
        except sc.Unavailable as e:
            raise errors.Unavailable(f"the store is unavailable: {e.message}") from None
        except sc.DeadlineExceeded as e:
            raise errors.Unavailable(f"the store did not answer in time: {e.message}") from None
    return wrapped


class Storage:
    def __init__(self, store: sc.StoreClient):
        self.store = store

    @_store_errors
    async def create(self, kind: Kind, obj: Message) -> Message:
        key = key_for(kind, obj.metadata.namespace, obj.metadata.name)
        resp = await self.store.txn([sc.compare(key, "create", "==", 0)], [sc.op_put(key, encode(obj))],
                                    retry_safe=True)
        if not resp.succeeded:
            raise errors.already_exists(kind.group_resource, obj.metadata.name)
        out = type(obj)()
        out.CopyFrom(obj)
        out.metadata.resource_version = str(resp.header.revision)
        return out

    @_store_errors
    async def get(self, kind: Kind, namespace: str, name: str) -> Message:
        resp = await self.store.get(key_for(kind, namespace, name))
        if not resp.kvs:
            raise errors.not_found(kind.group_resource, name)
        kv = resp.kvs[0]
        return decode(kind, kv.value, kv.mod_revision)

    @_store_errors
    async def list(self, kind: Kind, namespace: str = "") -> tuple[list[Message], int]:
        resp = await self.store.range(prefix_for(kind, namespace), prefix=True)
        return [decode(kind, kv.value, kv.mod_revision) for kv in resp.kvs], resp.header.revision

    @_store_errors
    async def update(self, kind: Kind, obj: Message, expect_rv: int) -> Message:
        """Writes `obj` if the stored object is still at `expect_rv`; Conflict otherwise."""
        key = key_for(kind, obj.metadata.namespace, obj.metadata.name)
        resp = await self.store.txn([sc.compare(key, "mod", "==", expect_rv)], [sc.op_put(key, encode(obj))],
                                    [sc.op_get(key, keys_only=True)], retry_safe=True)
        if not resp.succeeded:
            if not resp.responses[0].response_range.kvs:
                raise errors.not_found(kind.group_resource, obj.metadata.name)
            raise errors.conflict(kind.group_resource, obj.metadata.name)
        out = type(obj)()
        out.CopyFrom(obj)
        out.metadata.resource_version = str(resp.header.revision)
        return out

    async def guaranteed_update(self, kind: Kind, namespace: str, name: str,
                                mutate: Callable[[Message], Awaitable[Message | None] | Message | None],
                                attempts: int = 16, guess: Message | None = None) -> Message:
        """Read-modify-write until it sticks: `mutate(current)` returns the new object (None: no
        change). Conflicts with other writers are retried on a fresh read.

        `guess` (the watch cache's copy, which `mutate` may change) stands in for the first read,
        as Kubernetes' GuaranteedUpdate takes the cacher's object as a suggestion: the write's
        compare on its resourceVersion catches a stale guess, and whatever was decided on a guess
        that did not stick (an error from `mutate`, no change, a failed write) is decided again on
        the stored object."""
        for _ in range(attempts):
            guessed, current = guess is not None, guess
            guess = None
            if current is None:
                current = await self.get(kind, namespace, name)
            rv = int(current.metadata.resource_version)
            try:
                new = mutate(current)
                if hasattr(new, "__await__"):
                    new = await new
            except errors.ApiError:
                if guessed:
                    continue
                raise
            if new is None:
                if guessed:
                    continue
                return current
            try:
                return await self.update(kind, new, rv)
            except errors.Conflict:
                continue
            except errors.NotFound:
                if guessed:
                    continue
                raise
        raise errors.conflict(kind.group_resource, name)

    @_store_errors
    async def delete(self, kind: Kind, namespace: str, name: str, expect_rv: int) -> int:
        """Deletes the object if it is still at `expect_rv`; returns the delete's revision."""
        key = key_for(kind, namespace, name)
        resp = await self.store.txn([sc.compare(key, "mod", "==", expect_rv)], [sc.op_delete(key)],
                                    [sc.op_get(key, keys_only=True)], retry_safe=True)
        if not resp.succeeded:
            if not resp.responses[0].response_range.kvs:
                raise errors.not_found(kind.group_resource, name)
            raise errors.conflict(kind.group_resource, name)
        return resp.header.revision

    def watch(self, kind: Kind, start_revision: int) -> sc.Watch:
        """The store watch of every change of `kind` from `start_revision` (decode with `events`)."""
        return self.store.watch(prefix_for(kind), prefix=True, start_revision=start_revision, prev_kv=True)

    @staticmethod
    def events(kind: Kind, resp) -> list[Event]:
        """The Kubernetes events in one store watch response, in revision order."""
        batch = []
        for ev in resp.events:
            if ev.type == 0:  # PUT
                obj = decode(kind, ev.kv.value, ev.kv.mod_revision)
                prev = decode(kind, ev.prev_kv.value, ev.prev_kv.mod_revision) if ev.HasField("prev_kv") else None
                batch.append(Event("ADDED" if ev.kv.version == 1 else "MODIFIED", obj, ev.kv.mod_revision, prev))
            elif ev.HasField("prev_kv"):
                obj = decode(kind, ev.prev_kv.value, ev.kv.mod_revision)
                batch.append(Event("DELETED", obj, ev.kv.mod_revision))
        return batch
