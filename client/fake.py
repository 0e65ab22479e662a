"""An in-memory `ApiClient` for unit tests of controllers: same async interface, no sockets.

    api = FakeApi()
    pod = await api.create(core_pb2.Pod(metadata=meta_pb2.ObjectMeta(name="p", namespace="default")))
    api.fail_next("update", Conflict("..."))        # the next update raises that error
    api.expire_watches()                             # open watches raise Gone
    api.disconnect_watches()                         # open watches raise Unavailable
    api.actions                                      # [("create", "pods", "default", "p"), ...]

Semantics kept from the apiserver: resourceVersions from one counter shared by all kinds;
optimistic concurrency (an update or guarded delete with a stale resourceVersion raises Conflict);
NotFound/AlreadyExists with Kubernetes' messages; `update` keeps the stored status and
`update_status` only changes status (kinds with a status); label and field selectors
(metadata.name, metadata.namespace, spec.nodeName, status.phase where the kind has them); watches
from a resourceVersion replayed from a bounded history (`history` events; Gone when older); an
object that stops (starts) matching a watch's selectors is sent as DELETED (ADDED).
Deliberate simplifications: no validation or defaulting; delete removes at once (no grace period)
unless the object has finalizers: then it gets a deletionTimestamp and goes when an update removes
the last one. As in the apiserver, propagationPolicy Foreground and Orphan add the
`foregroundDeletion` and `orphan` finalizers, and a Namespace's spec.finalizers count too (a
deleted one goes Terminating; only the `finalize` patch subresource changes them). Strategic merge
patch is applied as a JSON merge patch; JSON patch supports add/replace/remove/test on object
members only.
"""
from __future__ import annotations

import asyncio
import collections
import itertools
import json
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator

from google.protobuf.message import Message

from client import binding, kinds
from client.api import (
    JSON_PATCH, KindRef, WatchEvent, kind_of, patch_bytes,
)
from client.codec import DecodeError, from_dict, to_dict
from client.errors import (
    AlreadyExists, ApiError, BadRequest, Conflict, Gone, Invalid, NotFound, Unavailable,
)
from client.kinds import Kind
from client.times import format_time
from client.selectors import SelectorError, check_fields, parse_field_selector, parse_label_selector
from skiffpb.api.v1 import api_pb2
from skiffpb.k8s.apps.v1 import apps_pb2

FIELDS = ("metadata.name", "metadata.namespace", "spec.nodeName", "status.phase")
_SCALABLE = ("deployments", "replicasets")


def _copy(msg: Message) -> Message:
    out = type(msg)()
    out.CopyFrom(msg)
    return out


def object_fields(kind: Kind, obj: Message) -> dict[str, str]:
    """The selectable fields of `obj` (only those its kind has)."""
    out = {"metadata.name": obj.metadata.name}
    if kind.namespaced:
        out["metadata.namespace"] = obj.metadata.namespace
    for path, (part, field) in (("spec.nodeName", ("spec", "node_name")),
                                ("status.phase", ("status", "phase"))):
        sub = getattr(obj, part, None) if part in obj.DESCRIPTOR.fields_by_name else None
        if sub is not None and field in sub.DESCRIPTOR.fields_by_name:
            out[path] = getattr(sub, field)
    return out


def _pending_finalizers(kind: Kind, obj: Message) -> bool:
    """Finalizers still to run: metadata.finalizers, and a Namespace's spec.finalizers."""
    return bool(obj.metadata.finalizers) or (kind.resource == "namespaces" and bool(obj.spec.finalizers))


def _allowed_fields(kind: Kind) -> set[str]:
    return set(object_fields(kind, kind.message()))


@dataclass(frozen=True)
class _Change:
    rv: int
    type: str            # ADDED, MODIFIED, DELETED
    kind: Kind
    obj: Message         # the new object (for DELETED, the last one, with the deletion's RV)
    old: Message | None  # the previous object, for selector transitions


class _Filter:
    def __init__(self, kind: Kind, namespace: str, label_selector: str, field_selector: str):
        self.kind, self.namespace = kind, namespace
        try:
            self.labels = parse_label_selector(label_selector)
            self.fields = parse_field_selector(field_selector)
            check_fields(self.fields, _allowed_fields(kind))
        except SelectorError as e:
            raise BadRequest(str(e), reason="BadRequest", code=400) from None

    def matches(self, kind: Kind, obj: Message | None) -> bool:
        if obj is None or kind is not self.kind:
            return False
        if self.namespace and obj.metadata.namespace != self.namespace:
            return False
        return self.labels.matches(dict(obj.metadata.labels)) and \
            self.fields.matches(object_fields(kind, obj))


class FakeWatch:
    """A watch on the fake: an async iterator of WatchEvent; `close()` ends it quietly."""

    def __init__(self, api: "FakeApi", flt: _Filter, initial: list[WatchEvent] | ApiError):
        self._api = api
        self._filter = flt
        self._queue: asyncio.Queue = asyncio.Queue()
        self._closed = False
        if isinstance(initial, ApiError):
            self._queue.put_nowait(initial)
        else:
            for ev in initial:
                self._queue.put_nowait(ev)

    async def __aenter__(self) -> "FakeWatch":
        return self

    async def __aexit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._closed = True
        self._api._watches.discard(self)
        self._queue.put_nowait(None)

    def _offer(self, ch: _Change) -> None:
        now, before = self._filter.matches(ch.kind, ch.obj), self._filter.matches(ch.kind, ch.old)
        if ch.type == "DELETED":
            typ = "DELETED" if before or now else None
        elif now and before:
            typ = "MODIFIED"
        elif now:
            typ = "ADDED"
        elif before:
            typ = "DELETED"
        else:
            typ = None
        if typ is not None:
            self._queue.put_nowait(WatchEvent(typ, _copy(ch.obj)))

    def _end(self, err: ApiError) -> None:
        self._api._watches.discard(self)
        self._queue.put_nowait(err)

    def __aiter__(self) -> AsyncIterator[WatchEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[WatchEvent]:
        while not self._closed:
            item = await self._queue.get()
            if item is None:
                return
            if isinstance(item, ApiError):
                self._closed = True
                raise item
            yield item


class FakeApi:
    """The in-memory API; see the module docstring. Use from one event loop."""

    def __init__(self, *, history: int = 1000):
        self.actions: list[tuple[str, str, str, str]] = []
        self._objects: dict[tuple[str, str, str], Message] = {}   # (resource, ns, name) -> object
        self._rv = 0
        self._uids = itertools.count(1)
        self._history: collections.deque[_Change] = collections.deque(maxlen=history)
        self._compacted = 0   # every change with rv > _compacted is in _history
        self._failures: dict[str, collections.deque[ApiError]] = collections.defaultdict(collections.deque)
        self._watches: set[FakeWatch] = set()

    async def __aenter__(self) -> "FakeApi":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        for w in list(self._watches):
            w.close()

    # -- fault injection --------------------------------------------------------------------------
    def fail_next(self, method: str, error: ApiError) -> None:
        """The next call of `method` ("get", "update", "watch", ...) raises `error` (queued, FIFO)."""
        self._failures[method].append(error)

    def expire_watches(self) -> None:
        """Every open watch raises Gone, as after a 410 ERROR event."""
        for w in list(self._watches):
            w._end(Gone("too old resource version: watch expired", reason="Expired", code=410))

    def disconnect_watches(self) -> None:
        """Every open watch raises Unavailable, as when its apiserver dies."""
        for w in list(self._watches):
            w._end(Unavailable("watch: connection to the apiserver lost", reason="ServiceUnavailable",
                               code=503))

    @property
    def resource_version(self) -> str:
        """The latest resourceVersion handed out."""
        return str(self._rv)

    def compact(self) -> None:
        """Forget the whole watch history, so a watch from any older resourceVersion gets Gone."""
        self._history.clear()
        self._compacted = self._rv

    # -- helpers ----------------------------------------------------------------------------------
    def _begin(self, verb: str, kind: Kind, namespace: str, name: str) -> None:
        self.actions.append((verb, kind.resource, namespace, name))
        if self._failures.get(verb):
            raise self._failures[verb].popleft()

    @staticmethod
    def _ns(kind: Kind, namespace: str) -> str:
        return (namespace or "default") if kind.namespaced else ""

    def _stored(self, kind: Kind, ns: str, name: str) -> Message:
        obj = self._objects.get((kind.resource, ns, name))
        if obj is None:
            raise NotFound(f'{kind.group_resource} "{name}" not found', reason="NotFound", code=404)
        return obj

    def _conflict(self, kind: Kind, name: str) -> Conflict:
        return Conflict(f'Operation cannot be fulfilled on {kind.group_resource} "{name}": the object has '
                        "been modified; please apply your changes to the latest version and try again",
                        reason="Conflict", code=409)

    def _record(self, typ: str, kind: Kind, obj: Message, old: Message | None) -> None:
        if len(self._history) == self._history.maxlen:
            self._compacted = self._history[0].rv
        ch = _Change(self._rv, typ, kind, _copy(obj), old)
        self._history.append(ch)
        for w in list(self._watches):
            w._offer(ch)

    def _store(self, kind: Kind, obj: Message, typ: str, old: Message | None) -> Message:
        self._rv += 1
        obj.metadata.resource_version = str(self._rv)
        self._objects[(kind.resource, obj.metadata.namespace, obj.metadata.name)] = obj
        self._record(typ, kind, obj, old)
        return _copy(obj)

    # -- verbs --------------------------------------------------------------------------------------
    async def create(self, obj: Message, **_: Any) -> Message:
        kind = kind_of(type(obj))
        new = _copy(obj)
        new.api_version, new.kind = kind.api_version, kind.kind
        if kind.namespaced:
            new.metadata.namespace = self._ns(kind, new.metadata.namespace)
        elif new.metadata.HasField("namespace"):
            new.metadata.ClearField("namespace")
        if not new.metadata.name and new.metadata.generate_name:
            new.metadata.name = f"{new.metadata.generate_name}{next(self._uids):05x}"
        self._begin("create", kind, new.metadata.namespace, new.metadata.name)
        if not new.metadata.name:
            raise Invalid(f'{kind.kind} "" is invalid: metadata.name: Required value: name or '
                          "generateName is required", reason="Invalid", code=422)
        if new.metadata.resource_version:
            raise BadRequest("resourceVersion should not be set on objects to be created",
                             reason="BadRequest", code=400)
        if (kind.resource, new.metadata.namespace, new.metadata.name) in self._objects:
            raise AlreadyExists(f'{kind.group_resource} "{new.metadata.name}" already exists',
                                reason="AlreadyExists", code=409)
        new.metadata.uid = f"fake-uid-{next(self._uids)}"
        return self._store(kind, new, "ADDED", None)

    async def get(self, kind: KindRef, namespace: str, name: str, **_: Any) -> Message:
        k = kind_of(kind)
        ns = self._ns(k, namespace)
        self._begin("get", k, ns, name)
        return _copy(self._stored(k, ns, name))

    async def list(self, kind: KindRef, namespace: str = "", *, label_selector: str = "",
                   field_selector: str = "", resource_version: str = "",
                   **_: Any) -> tuple[list[Message], str]:
        k = kind_of(kind)
        self._begin("list", k, namespace, "")
        flt = _Filter(k, namespace, label_selector, field_selector)
        items = [_copy(o) for (res, ns, name), o in sorted(self._objects.items())
                 if res == k.resource and flt.matches(k, o)]
        return items, str(self._rv)

    async def _replace(self, verb: str, obj: Message, *, status: bool, begin: bool = True,
                       finalize: bool = False) -> Message:
        kind = kind_of(type(obj))
        ns = self._ns(kind, obj.metadata.namespace)
        if begin:
            self._begin(verb, kind, ns, obj.metadata.name)
        old = self._stored(kind, ns, obj.metadata.name)
        if obj.metadata.resource_version and obj.metadata.resource_version != old.metadata.resource_version:
            raise self._conflict(kind, obj.metadata.name)
        if status:
            if not kind.has_status:
                raise NotFound(f"the server could not find the requested resource ({kind.resource}/status)",
                               reason="NotFound", code=404)
            new = _copy(old)
            new.status.CopyFrom(obj.status)
        else:
            new = _copy(obj)
            new.api_version, new.kind = kind.api_version, kind.kind
            new.metadata.namespace = old.metadata.namespace
            new.metadata.uid = old.metadata.uid
            if kind.has_status:
                new.status.CopyFrom(old.status)
            if kind.resource == "namespaces" and not finalize:
                del new.spec.finalizers[:]
                new.spec.finalizers.extend(old.spec.finalizers)
        if new.metadata.HasField("deletion_timestamp") and _pending_finalizers(kind, old) \
                and not _pending_finalizers(kind, new):
            # The last finalizer is gone: deletion completes now, as in the apiserver.
            self._rv += 1
            del self._objects[(kind.resource, ns, new.metadata.name)]
            new.metadata.resource_version = str(self._rv)
            self._record("DELETED", kind, new, old)
            return _copy(new)
        return self._store(kind, new, "MODIFIED", old)

    async def update(self, obj: Message, **_: Any) -> Message:
        return await self._replace("update", obj, status=False)

    async def update_status(self, obj: Message, **_: Any) -> Message:
        return await self._replace("update_status", obj, status=True)

    async def patch(self, kind: KindRef, namespace: str, name: str, patch_type: str,
                    patch: bytes | str | dict | list | Message, *, subresource: str = "",
                    **_: Any) -> Message:
        k = kind_of(kind)
        ns = self._ns(k, namespace)
        self._begin("patch", k, ns, name)
        current = self._stored(k, ns, name)
        try:
            doc = json.loads(patch_bytes(patch) or b"null")
        except ValueError as e:
            raise BadRequest(f"error decoding patch: {e}", reason="BadRequest", code=400) from None
        data = to_dict(current)
        try:
            patched = _json_patch(data, doc) if patch_type == JSON_PATCH else _merge_patch(data, doc)
            new = from_dict(k.message, patched)
        except (ValueError, DecodeError) as e:
            raise Invalid(f'{k.kind} "{name}" is invalid: {e}', reason="Invalid", code=422) from None
        new.metadata.resource_version = current.metadata.resource_version
        new.metadata.namespace = ns
        finalize = subresource == "finalize" and k.resource == "namespaces"
        return await self._replace("patch", new, status=subresource == "status", begin=False,
                                   finalize=finalize)

    async def delete(self, kind: KindRef, namespace: str, name: str, *,
                     grace_period_seconds: int | None = None, propagation_policy: str = "",
                     precondition_uid: str = "", precondition_resource_version: str = "",
                     **_: Any) -> api_pb2.DeleteResponse:
        k = kind_of(kind)
        ns = self._ns(k, namespace)
        self._begin("delete", k, ns, name)
        obj = self._stored(k, ns, name)
        if precondition_uid and obj.metadata.uid != precondition_uid:
            raise Conflict(f"Precondition failed: UID in precondition: {precondition_uid}, UID in object "
                           f"meta: {obj.metadata.uid}", reason="Conflict", code=409)
        if precondition_resource_version and obj.metadata.resource_version != precondition_resource_version:
            raise self._conflict(k, name)
        resp = api_pb2.DeleteResponse()
        extra = {"Foreground": "foregroundDeletion", "Orphan": "orphan"}.get(propagation_policy)
        if extra and extra not in obj.metadata.finalizers:
            # As the apiserver: the garbage collector (controller/garbagecollector) does the rest.
            obj = _copy(obj)
            obj.metadata.finalizers.append(extra)
        if _pending_finalizers(k, obj):
            new = _copy(obj)
            if not new.metadata.HasField("deletion_timestamp"):
                new.metadata.deletion_timestamp = "1970-01-01T00:00:00Z"
                new.metadata.deletion_grace_period_seconds = 0
            if k.resource == "namespaces":
                new.status.phase = "Terminating"
            resp.object.CopyFrom(kinds.wrap(self._store(k, new, "MODIFIED", obj)))
            return resp
        self._rv += 1
        del self._objects[(k.resource, ns, name)]
        gone = _copy(obj)
        gone.metadata.resource_version = str(self._rv)
        self._record("DELETED", k, gone, obj)
        resp.object.CopyFrom(kinds.wrap(obj))
        resp.status.status, resp.status.code = "Success", 200
        return resp

    async def bind(self, namespace: str, name: str, node: str, *, uid: str = "", **_: Any) -> Message:
        """pods/binding with the apiserver's rules (client/binding.py)."""
        k = kinds.by_resource("pods")
        ns = self._ns(k, namespace)
        self._begin("bind", k, ns, name)
        old = self._stored(k, ns, name)
        why = binding.refusal(old, binding.make(ns, name, node, uid))
        if why:
            raise Conflict(binding.conflict_message(name, why), reason="Conflict", code=409)
        new = _copy(old)
        binding.assign(new, node, _now())
        return _copy(self._store(k, new, "MODIFIED", old))

    async def get_scale(self, kind: KindRef, namespace: str, name: str, **_: Any) -> apps_pb2.Scale:
        k = self._scalable(kind)
        ns = self._ns(k, namespace)
        self._begin("get_scale", k, ns, name)
        return _scale_of(self._stored(k, ns, name))

    async def update_scale(self, kind: KindRef, namespace: str, name: str,
                           scale: apps_pb2.Scale | int, *, resource_version: str = "",
                           **_: Any) -> apps_pb2.Scale:
        k = self._scalable(kind)
        ns = self._ns(k, namespace)
        self._begin("update_scale", k, ns, name)
        replicas = scale if isinstance(scale, int) else scale.spec.replicas
        want = resource_version or ("" if isinstance(scale, int) else scale.metadata.resource_version)
        old = self._stored(k, ns, name)
        if want and want != old.metadata.resource_version:
            raise self._conflict(k, name)
        new = _copy(old)
        new.spec.replicas = replicas
        return _scale_of(self._store(k, new, "MODIFIED", old))

    @staticmethod
    def _scalable(kind: KindRef) -> Kind:
        k = kind_of(kind)
        if k.resource not in _SCALABLE:
            raise NotFound(f"the server could not find the requested resource ({k.resource}/scale)",
                           reason="NotFound", code=404)
        return k

    def watch(self, kind: KindRef, namespace: str = "", *, resource_version: str,
              label_selector: str = "", field_selector: str = "", allow_bookmarks: bool = True,
              **_: Any) -> FakeWatch:
        """Events after `resource_version` ("" or "0": ADDED for every current object first)."""
        k = kind_of(kind)
        self._begin("watch", k, namespace, "")
        flt = _Filter(k, namespace, label_selector, field_selector)
        initial: list[WatchEvent] | ApiError
        if resource_version in ("", "0"):
            initial = [WatchEvent("ADDED", _copy(o)) for (res, _ns, _n), o in sorted(self._objects.items())
                       if res == k.resource and flt.matches(k, o)]
        else:
            try:
                rv = int(resource_version)
            except ValueError:
                raise BadRequest(f'resourceVersion: Invalid value: "{resource_version}": must be an integer',
                                 reason="BadRequest", code=400) from None
            if rv < self._compacted:
                initial = Gone(f"too old resource version: {rv} ({self._compacted + 1})",
                               reason="Expired", code=410)
            else:
                initial = []
                probe = FakeWatch(self, flt, [])
                for ch in self._history:
                    if ch.rv > rv:
                        probe._offer(ch)
                while not probe._queue.empty():
                    initial.append(probe._queue.get_nowait())
        w = FakeWatch(self, flt, initial)
        if not isinstance(initial, ApiError):
            self._watches.add(w)
        return w


def _scale_of(obj: Message) -> apps_pb2.Scale:
    s = apps_pb2.Scale(api_version="autoscaling/v1", kind="Scale")
    s.metadata.name, s.metadata.namespace = obj.metadata.name, obj.metadata.namespace
    s.metadata.uid, s.metadata.resource_version = obj.metadata.uid, obj.metadata.resource_version
    s.spec.replicas = obj.spec.replicas
    s.status.replicas = obj.status.replicas
    return s


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge_patch(out.get(key), value)
    return out


def _json_patch(target: Any, ops: Any) -> Any:
    """RFC 6902 JSON patch, add/replace/remove/test on object members (ValueError when one fails)."""
    if not isinstance(ops, list):
        raise ValueError("a JSON patch must be a list of operations")
    doc = json.loads(json.dumps(target))
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op.get("path", "").split("/")[1:]]
        if not parts:
            raise ValueError(f"unsupported JSON patch path {op.get('path')!r}")
        parent = doc
        for p in parts[:-1]:
            parent = parent.setdefault(p, {}) if op["op"] == "add" else parent.get(p, {})
        last = parts[-1]
        if op["op"] == "test":
            if parent.get(last) != op.get("value"):
                raise ValueError(f"testing value {op['path']} failed")
        elif op["op"] in ("add", "replace"):
            if op["op"] == "replace" and last not in parent:
                raise ValueError(f"replace operation does not apply: doc is missing path: {op['path']}")
            parent[last] = op.get("value")
        elif op["op"] == "remove":
            if last not in parent:
                raise ValueError(f"remove operation does not apply: doc is missing path: {op['path']}")
            del parent[last]
        else:
            raise ValueError(f"unsupported JSON patch operation {op['op']!r}")
    return doc


def _now() -> str:
    return format_time(time.time())
