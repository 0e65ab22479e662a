"""client-go's shared informer for asyncio: list, then watch, into an indexed read-only cache.

    informer = Informer(api, "pods", "default", resync_period=30.0)
    informer.add_handler(on_add=lambda o: queue.add(key_of(o)),
                         on_update=lambda old, new: queue.add(key_of(new)),
                         on_delete=lambda o: queue.add(key_of(o)))     # o may be a tombstone
    task = asyncio.create_task(informer.run())                         # until cancelled
    await informer.wait_for_sync(timeout=10)
    informer.get("default", "web-1"); informer.by_index("node", "n1"); informer.by_label("app", "web")

    !!! OBJECTS RETURNED BY THE CACHE (get, get_by_key, list, by_index, by_label, and the objects passed
    !!! to handlers) ARE THE STORED MESSAGES THEMSELVES. CALLERS MUST NEVER MUTATE THEM: COPY FIRST
    !!! (`new = Pod(); new.CopyFrom(old)`), STYLE.md §2. A MUTATED CACHE OBJECT CORRUPTS EVERY READER.

The reflector loop (`run`), as k8s.io/client-go/tools/cache/reflector.go:
- List, replace the cache, then watch from the list's resourceVersion (bookmarks allowed).
- Each ADDED/MODIFIED/DELETED event updates the cache, then the handlers are called; a BOOKMARK only
  advances the resourceVersion the next watch resumes from.
- A watch that ends (cleanly, or Unavailable/Timeout when its apiserver dies) is re-opened from the last
  resourceVersion seen, after exponential backoff with jitter (`Backoff`; one failure count over lists
  and watches, reset only once a watch delivered something or lived for `backoff.cap`, so a server
  that answers every watch with 410 is not relisted in a hot loop). ApiClient moves to another
  apiserver by itself.
- Gone (410: the resourceVersion was compacted away) relists, and the differences between the cache
  and the new list are delivered: add for new keys, update for a changed resourceVersion, and delete
  with a `DeletedFinalStateUnknown(key, last_known_obj)` tombstone for keys that vanished (and for a
  key whose uid changed, followed by an add: the object was deleted and re-created meanwhile).
- A failed list is retried forever with the same backoff (logged).
- `resync_period > 0`: every period each cached object is re-delivered as update(old=obj, new=obj),
  so level-triggered controllers re-check everything (STYLE.md §2).

No event is applied twice: an event strictly older than the last resourceVersion seen, or not newer than
the cached object's own resourceVersion (a replay after a resume), is dropped, as is a DELETED of a key
not cached. (Kubernetes calls resourceVersions opaque; Skiff's are the store's integer revisions, and
the comparisons are only made when both sides are integers.)

Handlers are called synchronously, in event order, from the informer's task; they should only compute
a key and enqueue it (STYLE.md §2). A handler that raises is logged and the others still run.
A handler added after the first list is given an add for every cached object first (as client-go).

Shape (STYLE.md §1): `Indexer` holds the cache and the pure decisions — `apply(event)` and
`replace(items)` mutate it and return the `Notification`s to deliver — with no I/O and no asyncio.
`Informer` is the shell: list/watch, backoff, resync timer, handler calls.
"""
from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterable, Mapping

from google.protobuf.message import Message

from client.api import KindRef, WatchEvent, kind_of
from client.errors import ApiError, Backoff, Gone

__all__ = ["DeletedFinalStateUnknown", "Indexer", "Informer", "Notification", "key_of", "split_key",
           "BUILTIN_INDEXERS"]

log = logging.getLogger(__name__)

IndexFunc = Callable[[Message], Iterable[str]]


@dataclass(frozen=True)
class DeletedFinalStateUnknown:
    """Passed to on_delete when an object vanished while the watch was down (seen only by a relist):
    `obj` is the last state the cache had, not the object's final state."""

    key: str
    obj: Message


def key_of(obj: Message | DeletedFinalStateUnknown) -> str:
    """"namespace/name", or "name" for a cluster-scoped object; a tombstone's key (client-go's
    DeletionHandlingMetaNamespaceKeyFunc)."""
    if isinstance(obj, DeletedFinalStateUnknown):
        return obj.key
    m = obj.metadata
    return f"{m.namespace}/{m.name}" if m.namespace else m.name


def split_key(key: str) -> tuple[str, str]:
    """(namespace, name) of a key; namespace "" for a cluster-scoped one."""
    ns, _, name = key.rpartition("/")
    return ns, name


# -- built-in indexes -------------------------------------------------------------------------------
def _by_namespace(obj: Message) -> list[str]:
    return [obj.metadata.namespace]


def _by_node(obj: Message) -> list[str]:
    if "spec" not in obj.DESCRIPTOR.fields_by_name:
        return []
    spec = obj.spec
    if "node_name" not in spec.DESCRIPTOR.fields_by_name or not spec.node_name:
        return []
    return [spec.node_name]


def _by_owner(obj: Message) -> list[str]:
    return [r.uid for r in obj.metadata.owner_references if r.uid]


_LABELS = "label:"   # by_index("label:app", "web") is by_label("app", "web")


def _by_labels(obj: Message) -> list[str]:
    return [f"{k}\x00{v}" for k, v in obj.metadata.labels.items()]


BUILTIN_INDEXERS: dict[str, IndexFunc] = {"namespace": _by_namespace, "node": _by_node, "owner": _by_owner}


def _rv(s: str) -> int | None:
    try:
        return int(s)
    except ValueError:
        return None


def _older(a: str, b: str) -> bool:
    """a < b, when both are integer resourceVersions."""
    x, y = _rv(a), _rv(b)
    return x is not None and y is not None and x < y


def _not_newer(a: str, b: str) -> bool:
    """a <= b, when both are integer resourceVersions."""
    x, y = _rv(a), _rv(b)
    return x is not None and y is not None and x <= y


# -- the pure core: the cache and what each input means ---------------------------------------------
@dataclass(frozen=True)
class Notification:
    """One handler call owed: ("add", None, obj), ("update", old, new), ("delete", None, obj|tombstone)."""

    type: str
    old: Any
    new: Any


class Indexer:
    """The cache: objects by key, plus indexes. Public methods only read (and return the STORED
    MESSAGES: NEVER MUTATE THEM, COPY FIRST); `apply`/`replace` are the informer's, no one else's."""

    def __init__(self, indexers: Mapping[str, IndexFunc] | None = None):
        extra = dict(indexers or {})
        clash = set(extra) & (set(BUILTIN_INDEXERS) | {"labels"})
        if clash or any(n.startswith(_LABELS) for n in extra):
            raise ValueError(f"index names taken by the built-in indexes: {sorted(clash) or 'label:*'}")
        self._indexers: dict[str, IndexFunc] = {**BUILTIN_INDEXERS, "labels": _by_labels, **extra}
        self._items: dict[str, Message] = {}
        self._indices: dict[str, dict[str, set[str]]] = {n: {} for n in self._indexers}

    # -- reads --------------------------------------------------------------------------------------
    def get(self, namespace: str, name: str) -> Message | None:
        """The cached object (READ-ONLY), or None."""
        return self._items.get(f"{namespace}/{name}" if namespace else name)

    def get_by_key(self, key: str) -> Message | None:
        return self._items.get(key)

    def list(self) -> list[Message]:
        """Every cached object (READ-ONLY), in key order."""
        return [self._items[k] for k in sorted(self._items)]

    def keys(self) -> list[str]:
        return sorted(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def index_names(self) -> list[str]:
        return sorted(n for n in self._indexers if n != "labels")

    def by_index(self, index_name: str, value: str) -> list[Message]:
        """Objects whose `index_name` index yields `value` (READ-ONLY), in key order. Built in:
        "namespace", "node" (spec.node_name), "owner" (owner reference uids), "label:<key>"."""
        if index_name.startswith(_LABELS):
            return self.by_label(index_name[len(_LABELS):], value)
        if index_name not in self._indices or index_name == "labels":
            raise KeyError(f"no index {index_name!r}; have {self.index_names()} and label:<key>")
        return [self._items[k] for k in sorted(self._indices[index_name].get(value, ()))]

    def by_label(self, key: str, value: str) -> list[Message]:
        """Objects labelled key=value (READ-ONLY), in key order."""
        return [self._items[k] for k in sorted(self._indices["labels"].get(f"{key}\x00{value}", ()))]

    # -- writes (the informer's) --------------------------------------------------------------------
    def _index(self, key: str, obj: Message, add: bool) -> None:
        for name, fn in self._indexers.items():
            idx = self._indices[name]
            for v in fn(obj):
                if add:
                    idx.setdefault(v, set()).add(key)
                else:
                    keys = idx.get(v)
                    if keys is not None:
                        keys.discard(key)
                        if not keys:
                            del idx[v]

    def _put(self, key: str, obj: Message) -> None:
        old = self._items.get(key)
        if old is not None:
            self._index(key, old, add=False)
        self._items[key] = obj
        self._index(key, obj, add=True)

    def _remove(self, key: str) -> Message | None:
        old = self._items.pop(key, None)
        if old is not None:
            self._index(key, old, add=False)
        return old

    def apply(self, ev: WatchEvent, last_rv: str) -> list[Notification]:
        """Apply one ADDED/MODIFIED/DELETED watch event; the handler calls it is worth ([] for a
        replayed or duplicate event). `last_rv` is the last resourceVersion the informer has seen."""
        obj, rv = ev.object, ev.resource_version
        if _older(rv, last_rv):
            return []
        key = key_of(obj)
        old = self._items.get(key)
        if ev.type in ("ADDED", "MODIFIED"):
            if old is not None and _not_newer(rv, old.metadata.resource_version):
                return []   # not newer than what the cache holds: a replay
            self._put(key, obj)
            return [Notification("add", None, obj) if old is None else Notification("update", old, obj)]
        if ev.type == "DELETED":
            if old is None:
                return []
            self._remove(key)
            return [Notification("delete", None, obj)]
        log.warning("informer: ignoring a watch event of unknown type %r", ev.type)
        return []

    def replace(self, items: Iterable[Message]) -> list[Notification]:
        """Make the cache equal `items` (a fresh list); the differences as handler calls, deletes first."""
        new = {key_of(o): o for o in items}
        out: list[Notification] = []
        for key in sorted(set(self._items) - set(new)):
            out.append(Notification("delete", None, DeletedFinalStateUnknown(key, self._remove(key))))
        for key in sorted(new):
            obj, old = new[key], self._items.get(key)
            if old is None:
                out.append(Notification("add", None, obj))
            elif old.metadata.uid and obj.metadata.uid and old.metadata.uid != obj.metadata.uid:
                out.append(Notification("delete", None, DeletedFinalStateUnknown(key, old)))
                out.append(Notification("add", None, obj))
            elif old.metadata.resource_version != obj.metadata.resource_version:
                out.append(Notification("update", old, obj))
            else:
                continue   # unchanged: nothing to deliver, keep the cached message
            self._put(key, obj)
        return out

    def resync(self) -> list[Notification]:
        return [Notification("update", o, o) for o in self.list()]


@dataclass
class _Handler:
    on_add: Callable[[Message], Any] | None = None
    on_update: Callable[[Message, Message], Any] | None = None
    on_delete: Callable[[Message | DeletedFinalStateUnknown], Any] | None = None
    name: str = field(default="")


# -- the shell ---------------------------------------------------------------------------------------
class Informer:
    """Lists and watches one kind (optionally one namespace, label and field selector) into an
    `Indexer`; see the module docstring. Single `run()` per informer."""

    def __init__(self, api: Any, kind: KindRef, namespace: str = "", *, label_selector: str = "",
                 field_selector: str = "", resync_period: float = 0.0,
                 indexers: Mapping[str, IndexFunc] | None = None,
                 backoff: Backoff = Backoff(base=0.1, cap=10.0),
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 rng: random.Random | None = None):
        self.api = api
        self.kind = kind_of(kind)
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.resync_period = resync_period
        self.backoff = backoff
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._store = Indexer(indexers)
        self._handlers: list[_Handler] = []
        self._rv = ""
        self._synced = False
        self._progress = asyncio.Event()
        self.relists = 0          # lists after the first (after Gone)
        self.watches = 0          # watch calls that returned a stream (it may still fail to connect)

    def __repr__(self) -> str:
        return (f"Informer({self.kind.resource}, ns={self.namespace!r}, rv={self._rv!r}, "
                f"synced={self._synced}, objects={len(self._store)})")

    # -- the read-only cache -------------------------------------------------------------------------
    @property
    def store(self) -> Indexer:
        """The cache (READ-ONLY: NEVER MUTATE WHAT IT RETURNS, COPY FIRST)."""
        return self._store

    def get(self, namespace: str, name: str) -> Message | None:
        return self._store.get(namespace, name)

    def get_by_key(self, key: str) -> Message | None:
        return self._store.get_by_key(key)

    def list(self) -> list[Message]:
        return self._store.list()

    def by_index(self, index_name: str, value: str) -> list[Message]:
        return self._store.by_index(index_name, value)

    def by_label(self, key: str, value: str) -> list[Message]:
        return self._store.by_label(key, value)

    def has_synced(self) -> bool:
        """True once the first list has been put in the cache and delivered to the handlers."""
        return self._synced

    @property
    def last_sync_resource_version(self) -> str:
        """The resourceVersion the cache reflects (the last list, event or bookmark); "" before the list."""
        return self._rv

    async def wait_until(self, predicate: Callable[[], bool], timeout: float | None = None) -> None:
        """Return once `predicate()` holds, re-checked whenever the informer makes progress (a list,
        an event, a bookmark, a resync, a watch opened or failed); asyncio.TimeoutError after `timeout` s."""
        async def wait() -> None:
            while not predicate():
                ev = self._progress
                await ev.wait()
        await asyncio.wait_for(wait(), timeout)

    async def wait_for_sync(self, timeout: float | None = None) -> None:
        await self.wait_until(self.has_synced, timeout)

    def _notify_progress(self) -> None:
        ev, self._progress = self._progress, asyncio.Event()
        ev.set()

    # -- handlers -------------------------------------------------------------------------------------
    def add_handler(self, on_add: Callable[[Message], Any] | None = None,
                    on_update: Callable[[Message, Message], Any] | None = None,
                    on_delete: Callable[[Message | DeletedFinalStateUnknown], Any] | None = None) -> None:
        """Register handlers (any may be None). Called synchronously in event order; they should only
        enqueue keys. Added after the first sync: an add for each cached object is delivered at once."""
        h = _Handler(on_add, on_update, on_delete, name=getattr(on_add or on_update or on_delete, "__qualname__", ""))
        self._handlers.append(h)
        if self._synced:
            for obj in self._store.list():
                self._call(h, Notification("add", None, obj))

    def _call(self, h: _Handler, n: Notification) -> None:
        fn = {"add": h.on_add, "update": h.on_update, "delete": h.on_delete}[n.type]
        if fn is None:
            return
        try:
            if n.type == "update":
                fn(n.old, n.new)
            else:
                fn(n.new)
        except Exception:  # noqa: BLE001 - one broken handler must not stop the informer or the others
            log.exception("informer %s: %s handler %s failed for %s", self.kind.resource, n.type, h.name,
                          key_of(n.new))

    def _deliver(self, notes: list[Notification]) -> None:
        for n in notes:
            for h in list(self._handlers):
                self._call(h, n)

    # -- the reflector --------------------------------------------------------------------------------
    async def run(self) -> None:
        """List and watch until cancelled (see the module docstring)."""
        resync = asyncio.create_task(self._resync_loop()) if self.resync_period > 0 else None
        try:
            await self._list_and_watch()
        finally:
            if resync is not None:
                resync.cancel()
                await asyncio.gather(resync, return_exceptions=True)

    async def _resync_loop(self) -> None:
        while True:
            await self._sleep(self.resync_period)
            if self._synced:
                self._deliver(self._store.resync())
                self._notify_progress()

    async def _pause(self, failures: int) -> None:
        self._notify_progress()
        await self._sleep(self.backoff.delay(failures, self._rng))

    async def _list_and_watch(self) -> None:
        failures = 0
        need_list = True
        while True:
            if need_list:
                try:
                    items, rv = await self.api.list(self.kind, self.namespace, label_selector=self.label_selector,
                                                    field_selector=self.field_selector)
                except ApiError as e:
                    log.warning("informer %s: list failed (%s); retrying", self.kind.resource, e)
                    await self._pause(failures)
                    failures += 1
                    continue
                if self._synced:
                    self.relists += 1
                notes = self._store.replace(items)
                self._rv = rv
                need_list = False
                self._deliver(notes)
                self._synced = True
                self._notify_progress()
            started, delivered = self._clock(), False
            try:
                watch = self.api.watch(self.kind, self.namespace, resource_version=self._rv,
                                       label_selector=self.label_selector,
                                       field_selector=self.field_selector, allow_bookmarks=True)
                self.watches += 1
                self._notify_progress()
                try:
                    async for ev in watch:
                        delivered = True
                        self._on_event(ev)
                finally:
                    watch.close()
                log.debug("informer %s: watch ended at %s; resuming", self.kind.resource, self._rv)
            except Gone as e:
                log.info("informer %s: watch from %s expired (%s); relisting", self.kind.resource, self._rv, e)
                need_list = True
            except ApiError as e:
                log.warning("informer %s: watch broke at %s (%s); resuming", self.kind.resource, self._rv, e)
            if delivered or self._clock() - started >= self.backoff.cap:
                failures = 0
            await self._pause(failures)
            failures += 1

    def _on_event(self, ev: WatchEvent) -> None:
        rv = ev.resource_version
        if ev.type != "BOOKMARK":
            self._deliver(self._store.apply(ev, self._rv))
        if rv and not _older(rv, self._rv):
            self._rv = rv
        self._notify_progress()
