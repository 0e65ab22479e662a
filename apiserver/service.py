"""The gRPC edge of the apiserver: Kubernetes' verbs for every kind.

Each handler: resolve the kind, run the pure strategy (default, prepare, validate), then one guarded
store write through `Storage`. Reads of many objects (list, watch) come from the watch cache.
ApiErrors become gRPC status codes here and nowhere else (`_guard`), with Kubernetes' Status in
the trailing metadata `skiff-status-bin`.
"""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import time
import uuid

import grpc
from google.protobuf.message import Message

from apiserver import errors, strategy
from apiserver.admission import Allocator
from apiserver.patch import PatchError, json_merge_patch, json_patch, strategic_merge_patch
from apiserver.storage import Storage, parse_rv
from apiserver.watchcache import Trigger, WatchCache
from client import binding, buildinfo, kinds
from client.codec import DecodeError, from_dict, to_dict
from client.errors import STATUS_KEY
from client.kinds import Kind
from client.times import format_time
from client.selectors import Operator, SelectorError, check_fields, parse_field_selector, parse_label_selector
from skiffpb.api.v1 import api_pb2, api_pb2_grpc
from skiffpb.k8s.apps.v1 import apps_pb2

log = logging.getLogger(__name__)

BOOKMARK_INTERVAL = 5.0
MAX_BATCH = 500  # events in one WatchEvents message
# The CPU one stream write costs (grpc.aio's send plus the wake-up of the stream's task; measured
# 60-100 us on this project's machine). A stream writes at most once per WRITE_COST_S x (open
# watch streams), so that a round of writes to every stream costs at most about one core: with one
# watch that is 0.1 ms, with 1,000 it is 100 ms, and events that arrive meanwhile share one message.
# Without it, 1,000 watchers at 100 writes/s would need 100,000 stream writes/s; the loop saturates,
# every other request waits behind the fan-out and deliveries lag by seconds (docs/PERFORMANCE.md).
WRITE_COST_S = 100e-6
MAX_SPACING_S = 0.25
SCALABLE = ("deployments", "replicasets")
# version.Info's JSON names -> VersionInfo's fields
_SNAKE = {"major": "major", "minor": "minor", "gitVersion": "git_version", "gitCommit": "git_commit",
          "gitTreeState": "git_tree_state", "buildDate": "build_date", "goVersion": "go_version",
          "compiler": "compiler", "platform": "platform"}


def now_rfc3339(t: float | None = None) -> str:
    return format_time(time.time() if t is None else t)


async def _abort(context, err: errors.ApiError):
    await context.abort(getattr(grpc.StatusCode, err.grpc), err.message,
                        trailing_metadata=((STATUS_KEY, err.status().SerializeToString()),))


def _guard(fn):
    async def handler(self, request, context):
        t0 = time.perf_counter()
        verb = fn.__name__
        resource = getattr(request, "resource", "") or _resource_of(request)
        code = "OK"
        try:
            return await fn(self, request, context)
        except errors.ApiError as e:
            code = e.reason
            await _abort(context, e)
        except kinds.UnknownKind as e:
            code = "NotFound"
            await _abort(context, errors.NotFound(str(e)))
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - a bug must not take the server down; say so loudly
            if isinstance(e, grpc.aio.AbortError):
                raise
            log.exception("%s %s failed", verb, resource)
            code = "InternalError"
            await _abort(context, errors.ApiError(f"Internal error occurred: {e!r}"))
        finally:
            if self.metrics is not None:
                self.metrics.observe(verb, resource, code, time.perf_counter() - t0)
    handler.__name__ = fn.__name__
    return handler


def _resource_of(request) -> str:
    obj = getattr(request, "object", None)
    if obj is not None and obj.WhichOneof("kind"):
        return kinds.kind_of(obj).resource
    return ""


def _copy(msg: Message) -> Message:
    out = type(msg)()
    out.CopyFrom(msg)
    return out


class ApiService(api_pb2_grpc.ApiServicer):
    def __init__(self, storage: Storage, caches: dict[str, WatchCache], allocator: Allocator, metrics=None):
        self.storage = storage
        self.caches = caches
        self.allocator = allocator
        self.metrics = metrics
        self.etcd_servers: tuple[str, ...] = ()   # set by app.run; what ClusterInfo reports
        self.open_watches = 0

    # -- helpers ------------------------------------------------------------------------------
    def _decode_object(self, wrapped: api_pb2.Object) -> tuple[Kind, Message]:
        if not wrapped.WhichOneof("kind"):
            raise errors.BadRequest("object: Required value: the request carries no object")
        kind = kinds.kind_of(wrapped)
        obj = _copy(kinds.unwrap(wrapped))
        for field, want in (("api_version", kind.api_version), ("kind", kind.kind)):
            if obj.HasField(field) and getattr(obj, field) != want:
                raise errors.BadRequest(f'{field.replace("_v", "V")}: Invalid value: "{getattr(obj, field)}": '
                                        f'must be "{want}" for {kind.kind}')
        obj.api_version, obj.kind = kind.api_version, kind.kind
        return kind, obj

    async def _check_namespace(self, kind: Kind, obj: Message, creating: bool) -> None:
        if not kind.namespaced:
            if obj.metadata.HasField("namespace") and obj.metadata.namespace:
                obj.metadata.ClearField("namespace")
            return
        if not obj.metadata.namespace:
            obj.metadata.namespace = "default"
        if not creating:
            return
        ns_kind = kinds.by_resource("namespaces")
        # As Kubernetes' NamespaceLifecycle admission: trust the watch cache when it knows the
        # namespace, read the store only when it does not (it may just have been created).
        ns_cache = self.caches.get("namespaces")
        ns = ns_cache.objects.get(("", obj.metadata.namespace)) if ns_cache is not None else None
        if ns is None:
            try:
                ns = await self.storage.get(ns_kind, "", obj.metadata.namespace)
            except errors.NotFound:
                raise errors.NotFound(f'namespaces "{obj.metadata.namespace}" not found',
                                      name=obj.metadata.namespace) from None
        if ns.metadata.HasField("deletion_timestamp"):
            raise errors.Forbidden(f'{kind.resource} "{obj.metadata.name}" is forbidden: unable to create new '
                                   f"content in namespace {obj.metadata.namespace} because it is being terminated")

    @staticmethod
    def _validate(kind: Kind, obj: Message, old: Message | None = None) -> None:
        errs = strategy.validate(kind, obj, old)
        if errs:
            raise errors.invalid(kind.kind, kind.group, obj.metadata.name, errs)

    def _cache(self, kind: Kind) -> WatchCache:
        return self.caches[kind.resource]

    # -- verbs --------------------------------------------------------------------------------
    @_guard
    async def Create(self, request, context):
        kind, obj = self._decode_object(request.object)
        return kinds.wrap(await self.create(kind, obj, dry_run=request.dry_run))

    async def create(self, kind: Kind, obj: Message, dry_run: bool = False) -> Message:
        if not obj.metadata.name:
            if obj.metadata.generate_name:
                obj.metadata.name = obj.metadata.generate_name + "".join(
                    secrets.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
            else:
                raise errors.invalid(kind.kind, kind.group, "", [("metadata.name", "Required value: name or "
                                                                   "generateName is required")])
        await self._check_namespace(kind, obj, creating=True)
        strategy.default(kind, obj)
        strategy.prepare_create(kind, obj, now=now_rfc3339(), uid=str(uuid.uuid4()))
        self._validate(kind, obj)
        if dry_run:
            return obj
        async with self.allocator.for_create(kind, obj):
            return await self.storage.create(kind, obj)

    @_guard
    async def Get(self, request, context):
        kind = kinds.by_resource(request.resource)
        return kinds.wrap(await self.storage.get(kind, request.namespace if kind.namespaced else "", request.name))

    def _predicate(self, kind: Kind, namespace: str, label_selector: str, field_selector: str):
        try:
            labels = parse_label_selector(label_selector)
            fields = parse_field_selector(field_selector)
            getters = strategy.field_labels(kind)
            check_fields(fields, set(getters))
        except SelectorError as e:
            raise errors.BadRequest(str(e)) from None
        ns = namespace if kind.namespaced else ""
        # Evaluated for every event and every watcher: do only the checks that were asked for.
        checks = []
        if ns:
            checks.append(lambda obj: obj.metadata.namespace == ns)
        if not labels.empty:
            checks.append(lambda obj: labels.matches(obj.metadata.labels))
        if not fields.empty:
            wanted = {r.field: getters[r.field] for r in fields.requirements}
            checks.append(lambda obj: fields.matches({name: get(obj) for name, get in wanted.items()}))

        def predicate(obj: Message) -> bool:
            return all(check(obj) for check in checks)
        return predicate

    @staticmethod
    def _trigger(kind: Kind, namespace: str, label_selector: str, field_selector: str) -> Trigger | None:
        """The one-field requirement of a watch's selectors that the watch cache indexes it under
        (a field `=`, else a label `=`/`in`, else its namespace); None when there is none. Called
        after `_predicate` accepted the selectors."""
        getters = strategy.field_labels(kind)
        for r in parse_field_selector(field_selector).requirements:
            if r.operator == Operator.EQUALS and r.field in getters:
                return Trigger(f"field:{r.field}", getters[r.field], frozenset([r.value]))
        for r in parse_label_selector(label_selector).requirements:
            if r.operator in (Operator.EQUALS, Operator.IN):
                key = r.key
                return Trigger(f"label:{key}", lambda o: o.metadata.labels.get(key), frozenset(r.values))
        if namespace and kind.namespaced:
            return Trigger("namespace", lambda o: o.metadata.namespace, frozenset([namespace]))
        return None

    @_guard
    async def List(self, request, context):
        kind = kinds.by_resource(request.resource)
        predicate = self._predicate(kind, request.namespace, request.label_selector, request.field_selector)
        cache = self._cache(kind)
        start_after = ""
        if request.resource_version and request.resource_version != "0":
            await cache.wait_for_revision(parse_rv(request.resource_version))
        elif not request.resource_version:
            await cache.sync()
        else:
            await asyncio.wait_for(cache.ready.wait(), 10)
        token = getattr(request, "continue")  # `continue` is a Python keyword: no attribute syntax
        if token:
            start_after = _decode_continue(token)
        items, rev = cache.list(predicate)
        resp = api_pb2.ListResponse()
        resp.metadata.resource_version = str(rev)
        if start_after:
            items = [o for o in items if _sort_key(o) > start_after]
        if request.limit and len(items) > request.limit:
            items = items[:request.limit]
            setattr(resp.metadata, "continue", _encode_continue(_sort_key(items[-1])))
            resp.metadata.remaining_item_count = 0  # unknown; Kubernetes omits it when it can't tell
            resp.metadata.ClearField("remaining_item_count")
        for o in items:
            resp.items.append(kinds.wrap(o))
        return resp

    @_guard
    async def Update(self, request, context):
        kind, obj = self._decode_object(request.object)
        return kinds.wrap(await self.update(kind, obj, status=False, dry_run=request.dry_run))

    @_guard
    async def UpdateStatus(self, request, context):
        kind, obj = self._decode_object(request.object)
        if not kind.has_status:
            raise errors.NotFound(f"the server could not find the requested resource ({kind.resource}/status)")
        return kinds.wrap(await self.update(kind, obj, status=True, dry_run=request.dry_run))

    async def update(self, kind: Kind, obj: Message, *, status: bool, finalize: bool = False,
                     dry_run: bool = False) -> Message:
        """An update (`status`: of the status subresource; `finalize`: of a Namespace's finalize
        subresource, which alone may change its spec.finalizers).

        The object it replaces is first taken from the watch cache, as Kubernetes' cacher hands
        GuaranteedUpdate the cached object as a suggestion: the store write compares the key's
        mod revision with that object's resourceVersion, so a stale guess can never be written
        over, and saves the linearizable read (a Raft barrier, as costly as a write) in the common
        case. A guess that fails for any reason but an unavailable store (Conflict: the cache was
        behind; Invalid or NotFound judged against a stale object) is decided again on a fresh read
        from the store, which is what every update did before."""
        await self._check_namespace(kind, obj, creating=False)
        if not obj.metadata.name:
            raise errors.invalid(kind.kind, kind.group, "", [("metadata.name", "Required value: name is required")])
        want_rv = obj.metadata.resource_version
        guess = None if dry_run else self._cached(kind, obj.metadata.namespace, obj.metadata.name)
        if guess is not None and (not want_rv or want_rv == guess.metadata.resource_version):
            try:
                return await self._update_from(kind, _copy(obj), guess, status=status, finalize=finalize)
            except errors.Unavailable:
                raise
            except errors.ApiError:
                pass    # judged on a stale object: decide again on the stored one
        old = await self.storage.get(kind, obj.metadata.namespace, obj.metadata.name)
        return await self._update_from(kind, obj, old, status=status, finalize=finalize, dry_run=dry_run)

    def _cached(self, kind: Kind, namespace: str, name: str) -> Message | None:
        """A copy of the object as the watch cache holds it (None if it does not): a guess at the
        stored object, to be checked by the write's compare on its resourceVersion."""
        cache = self.caches.get(kind.resource)
        obj = cache.objects.get((namespace, name)) if cache is not None else None
        return _copy(obj) if obj is not None else None

    async def _update_from(self, kind: Kind, obj: Message, old: Message, *, status: bool, finalize: bool,
                           dry_run: bool = False) -> Message:
        """`update` against `old`, the object it replaces; the write is guarded by old's resourceVersion."""
        old_rv = int(old.metadata.resource_version)
        if obj.metadata.resource_version and obj.metadata.resource_version != old.metadata.resource_version:
            raise errors.conflict(kind.group_resource, obj.metadata.name)
        if status:
            strategy.prepare_status_update(kind, obj, old)
        else:
            wanted = list(obj.spec.finalizers) if finalize else None
            strategy.default(kind, obj)
            strategy.prepare_update(kind, obj, old)
            if wanted is not None:
                del obj.spec.finalizers[:]
                obj.spec.finalizers.extend(wanted)
        self._validate(kind, obj, old)
        if dry_run:
            return obj
        if _finalized(kind, obj, old):
            # This update removed the last finalizer of an object being deleted: it goes now.
            await self.storage.delete(kind, obj.metadata.namespace, obj.metadata.name, old_rv)
            await self.allocator.release(kind, old)
            return obj
        async with self.allocator.for_update(kind, obj, old):
            return await self.storage.update(kind, obj, old_rv)

    @_guard
    async def Patch(self, request, context):
        kind = kinds.by_resource(request.resource)
        try:
            patch_doc = json.loads(request.patch or b"null")
        except ValueError as e:
            raise errors.BadRequest(f"error decoding patch: {e}") from None
        # namespaces/finalize: the one way to change a Namespace's spec.finalizers (the namespace
        # controller removes `kubernetes` once the namespace is empty), as in Kubernetes.
        finalize = request.subresource == "finalize" and kind.resource == "namespaces"
        if request.subresource not in ("", "status") and not finalize:
            raise errors.NotFound(f"the server could not find the requested resource "
                                  f"({kind.resource}/{request.subresource})")
        ns = request.namespace or ("default" if kind.namespaced else "")
        for _ in range(16):
            current = await self.storage.get(kind, ns if kind.namespaced else "", request.name)
            doc = to_dict(current)
            try:
                if request.patch_type == "application/json-patch+json":
                    patched = json_patch(doc, patch_doc)
                elif request.patch_type == "application/merge-patch+json":
                    patched = json_merge_patch(doc, patch_doc)
                elif request.patch_type in ("application/strategic-merge-patch+json", ""):
                    patched = strategic_merge_patch(doc, patch_doc, kind.kind)
                else:
                    raise errors.BadRequest(f'the body of the request was in an unknown format - accepted media '
                                            f'types include: application/json-patch+json, application/merge-patch+json, '
                                            f'application/strategic-merge-patch+json (got "{request.patch_type}")')
                new = from_dict(kind.message, patched)
            except PatchError as e:
                raise errors.invalid(kind.kind, kind.group, request.name, [("", str(e))]) from None
            except DecodeError as e:
                raise errors.BadRequest(str(e)) from None
            new.metadata.resource_version = current.metadata.resource_version
            try:
                return kinds.wrap(await self.update(kind, new, status=request.subresource == "status",
                                                    finalize=finalize, dry_run=request.dry_run))
            except errors.Conflict:
                continue  # someone wrote between our read and write: patch the fresh object
        raise errors.conflict(kind.group_resource, request.name)

    @_guard
    async def Delete(self, request, context):
        kind = kinds.by_resource(request.resource)
        ns = (request.namespace or "default") if kind.namespaced else ""
        policy = request.propagation_policy or "Background"
        if policy not in ("Background", "Foreground", "Orphan"):
            raise errors.BadRequest(f'propagationPolicy: Unsupported value: "{policy}": supported values: '
                                    '"Background", "Foreground", "Orphan"')
        grace = request.grace_period_seconds if request.HasField("grace_period_seconds") else None
        if grace is not None and grace < 0:
            raise errors.BadRequest("gracePeriodSeconds: Invalid value: must be >= 0")
        for _ in range(16):
            obj = await self.storage.get(kind, ns, request.name)
            if request.precondition_uid and obj.metadata.uid != request.precondition_uid:
                raise errors.Conflict(f"Precondition failed: UID in precondition: {request.precondition_uid}, "
                                      f"UID in object meta: {obj.metadata.uid}", name=request.name)
            if request.precondition_resource_version and \
                    obj.metadata.resource_version != request.precondition_resource_version:
                raise errors.conflict(kind.group_resource, request.name)
            try:
                return await self._delete(kind, obj, policy, grace, request.dry_run)
            except errors.Conflict:
                continue
        raise errors.conflict(kind.group_resource, request.name)

    async def _delete(self, kind: Kind, obj: Message, policy: str, grace: int | None,
                      dry_run: bool) -> api_pb2.DeleteResponse:
        rv = int(obj.metadata.resource_version)
        resp = api_pb2.DeleteResponse()
        new = _copy(obj)
        finalizers = list(new.metadata.finalizers)
        if policy == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
        if policy == "Orphan" and "orphan" not in finalizers:
            finalizers.append("orphan")
        graceful = kind.resource == "pods" and new.spec.node_name and grace != 0
        # A namespace waits for its spec.finalizers (the namespace controller empties it first).
        terminating = kind.resource == "namespaces" and bool(new.spec.finalizers)
        if terminating:
            new.status.phase = "Terminating"
        if graceful and grace is None:
            grace = new.spec.termination_grace_period_seconds if new.spec.HasField(
                "termination_grace_period_seconds") else 30
        if finalizers or graceful or terminating:
            if not new.metadata.HasField("deletion_timestamp"):
                secs = grace if graceful else 0
                new.metadata.deletion_timestamp = now_rfc3339(time.time() + secs)
                new.metadata.deletion_grace_period_seconds = secs
            elif graceful and grace < new.metadata.deletion_grace_period_seconds:
                # A shorter grace period on a second delete moves the deadline closer, as in Kubernetes.
                new.metadata.deletion_timestamp = now_rfc3339(time.time() + grace)
                new.metadata.deletion_grace_period_seconds = grace
            del new.metadata.finalizers[:]
            new.metadata.finalizers.extend(finalizers)
            if not dry_run:
                new = await self.storage.update(kind, new, rv)
            resp.object.CopyFrom(kinds.wrap(new))
            return resp
        if not dry_run:
            await self.storage.delete(kind, obj.metadata.namespace, obj.metadata.name, rv)
            await self.allocator.release(kind, obj)
        resp.object.CopyFrom(kinds.wrap(obj))
        resp.status.CopyFrom(errors.ApiError("").status())
        resp.status.status, resp.status.code = "Success", 200
        resp.status.ClearField("reason")
        resp.status.ClearField("message")
        resp.status.details.name = obj.metadata.name
        resp.status.details.kind = kind.resource
        if kind.group:
            resp.status.details.group = kind.group
        resp.status.details.uid = obj.metadata.uid
        return resp

    @_guard
    async def Version(self, request, context):
        """Kubernetes' GET /version: this process's build (client/buildinfo.py), computed once."""
        return api_pb2.VersionInfo(**{_SNAKE[k]: v for k, v in buildinfo.build_info().items()})

    @_guard
    async def ClusterInfo(self, request, context):
        """The store endpoints behind this apiserver, for `skiff cluster-info`."""
        return api_pb2.ClusterInfoResponse(etcd_servers=list(self.etcd_servers))

    @_guard
    async def Bind(self, request, context):
        """pods/binding, as Kubernetes' scheduler uses it: sets spec.nodeName of a pod that has none
        and marks it PodScheduled. The read-modify-write is guarded by the pod's resourceVersion, so
        of two schedulers binding one pod exactly one wins; the other gets a Conflict."""
        b = request.binding
        ns, name = b.metadata.namespace or "default", b.metadata.name
        problems = binding.problems(b)
        if problems:
            raise errors.invalid("Binding", "", name, problems)
        pods = kinds.by_resource("pods")

        def assign(pod: Message) -> Message:
            why = binding.refusal(pod, b)
            if why:
                raise errors.Conflict(binding.conflict_message(name, why), name=name)
            binding.assign(pod, b.target.name, now_rfc3339())
            return pod
        return kinds.wrap(await self.storage.guaranteed_update(pods, ns, name, assign,
                                                              guess=self._cached(pods, ns, name)))

    @_guard
    async def GetScale(self, request, context):
        kind = self._scalable(request.resource)
        obj = await self.storage.get(kind, request.namespace or "default", request.name)
        return _scale_of(kind, obj)

    @_guard
    async def UpdateScale(self, request, context):
        kind = self._scalable(request.resource)
        ns = request.namespace or "default"
        if request.scale.spec.HasField("replicas") and request.scale.spec.replicas < 0:
            raise errors.invalid("Scale", "autoscaling", request.name,
                                 [("spec.replicas", f"Invalid value: {request.scale.spec.replicas}: must be "
                                                    "greater than or equal to 0")])
        for _ in range(16):
            obj = await self.storage.get(kind, ns, request.name)
            want_rv = request.scale.metadata.resource_version
            if want_rv and want_rv != obj.metadata.resource_version:
                raise errors.conflict(kind.group_resource, request.name)
            obj.spec.replicas = request.scale.spec.replicas
            try:
                return _scale_of(kind, await self.update(kind, obj, status=False))
            except errors.Conflict:
                if want_rv:
                    raise
        raise errors.conflict(kind.group_resource, request.name)

    @staticmethod
    def _scalable(resource: str) -> Kind:
        if resource not in SCALABLE:
            raise errors.NotFound(f"the server could not find the requested resource ({resource}/scale)")
        return kinds.by_resource(resource)

    # -- watch --------------------------------------------------------------------------------
    @_guard
    async def Watch(self, request, context):
        """Streams WatchEvents messages, pre-serialized: each event is encoded once for all its
        watchers, and a watcher that falls behind gets what piled up in one message."""
        kind = kinds.by_resource(request.resource)
        predicate = self._predicate(kind, request.namespace, request.label_selector, request.field_selector)
        trigger = self._trigger(kind, request.namespace, request.label_selector, request.field_selector)
        cache = self._cache(kind)
        await asyncio.wait_for(cache.ready.wait(), 10)
        rv = None
        if request.resource_version and request.resource_version != "0":
            rv = parse_rv(request.resource_version)
            await cache.wait_for_revision(rv)
        try:
            sub, initial = cache.subscribe(rv, predicate, trigger)
        except errors.Gone as e:
            await context.write(_frame([api_pb2.WatchEvent(type="ERROR", status=e.status()).SerializeToString()]))
            return
        deadline = (time.monotonic() + request.timeout_seconds) if request.HasField("timeout_seconds") else None
        self.open_watches += 1
        try:
            for i in range(0, len(initial), MAX_BATCH):
                await context.write(_frame([_wire(ev) for ev in initial[i:i + MAX_BATCH]]))
            last_sent = time.monotonic()
            while True:
                wait = BOOKMARK_INTERVAL if request.allow_bookmarks else None
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return
                    wait = left if wait is None else min(wait, left)
                try:
                    ev = await asyncio.wait_for(sub.queue.get(), wait)
                except asyncio.TimeoutError:
                    if request.allow_bookmarks and time.monotonic() - last_sent >= BOOKMARK_INTERVAL:
                        await context.write(_frame([_bookmark(kind, cache.rev).SerializeToString()]))
                        last_sent = time.monotonic()
                    continue
                spacing = min(MAX_SPACING_S, WRITE_COST_S * self.open_watches) - (time.monotonic() - last_sent)
                if deadline is not None:
                    spacing = min(spacing, deadline - time.monotonic())
                if spacing > 0:  # this stream wrote recently: let events pile up into one message
                    await asyncio.sleep(spacing)
                batch = [ev]
                while ev is not None and len(batch) < MAX_BATCH and not sub.queue.empty():
                    ev = sub.queue.get_nowait()
                    batch.append(ev)
                if batch[-1] is None:  # dropped for being too slow: end the watch, the client relists
                    if len(batch) > 1:
                        await context.write(_frame([_wire(e) for e in batch[:-1]]))
                    return
                await context.write(_frame([_wire(e) for e in batch]))
                last_sent = time.monotonic()
        finally:
            self.open_watches -= 1
            cache.unsubscribe(sub)


def add_to_server(service: ApiService, server) -> None:
    """Registers the Api service; Watch sends bytes we frame ourselves (see `ApiService.Watch`)."""
    class _Capture:
        def add_generic_rpc_handlers(self, handlers):
            pass

        def add_registered_method_handlers(self, name, handlers):
            self.name, self.handlers = name, handlers
    cap = _Capture()
    api_pb2_grpc.add_ApiServicer_to_server(service, cap)
    handlers = dict(cap.handlers)
    handlers["Watch"] = grpc.unary_stream_rpc_method_handler(
        service.Watch, request_deserializer=api_pb2.WatchRequest.FromString, response_serializer=None)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(cap.name, handlers),))
    server.add_registered_method_handlers(cap.name, handlers)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _frame(events: list[bytes]) -> bytes:
    """An api.v1.WatchEvents message from already-serialized WatchEvents (field 1, length-delimited):
    protobuf's encoding of a repeated message field is the concatenation of its elements."""
    return b"".join(b"\x0a" + _varint(len(e)) + e for e in events)


def _wire(ev) -> bytes:
    if ev.wire is None:
        ev.wire = _event(ev).SerializeToString()
    return ev.wire


def _event(ev) -> api_pb2.WatchEvent:
    obj = ev.obj
    if ev.type == "DELETED" and obj.metadata.resource_version != str(ev.revision):
        obj = _copy(obj)
        obj.metadata.resource_version = str(ev.revision)
    return api_pb2.WatchEvent(type=ev.type, object=kinds.wrap(obj))


def _bookmark(kind: Kind, rev: int) -> api_pb2.WatchEvent:
    msg = kind.message(api_version=kind.api_version, kind=kind.kind)
    msg.metadata.resource_version = str(rev)
    return api_pb2.WatchEvent(type="BOOKMARK", object=kinds.wrap(msg))


def _scale_of(kind: Kind, obj: Message) -> apps_pb2.Scale:
    s = apps_pb2.Scale(api_version="autoscaling/v1", kind="Scale")
    s.metadata.name = obj.metadata.name
    s.metadata.namespace = obj.metadata.namespace
    s.metadata.uid = obj.metadata.uid
    s.metadata.resource_version = obj.metadata.resource_version
    s.metadata.creation_timestamp = obj.metadata.creation_timestamp
    s.spec.replicas = obj.spec.replicas
    s.status.replicas = obj.status.replicas
    sel = obj.spec.selector
    s.status.selector = ",".join(f"{k}={v}" for k, v in sorted(sel.match_labels.items()))
    return s


def _pending_finalizers(kind: Kind, obj: Message) -> bool:
    return bool(obj.metadata.finalizers) or (kind.resource == "namespaces" and bool(obj.spec.finalizers))


def _finalized(kind: Kind, new: Message, old: Message) -> bool:
    """True when `new` (an update of `old`) empties the finalizers of an object being deleted.
    Other updates of such an object (a terminating pod's status, say) leave it in place."""
    return (new.metadata.HasField("deletion_timestamp") and _pending_finalizers(kind, old)
            and not _pending_finalizers(kind, new))


def _sort_key(obj: Message) -> str:
    return f"{obj.metadata.namespace}/{obj.metadata.name}"


def _encode_continue(after: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode()


def _decode_continue(token: str) -> str:
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
    except Exception:  # noqa: BLE001 - any malformed token is the client's error
        raise errors.BadRequest(f'continue: Invalid value: "{token}": the continue token is malformed') from None
