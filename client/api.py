"""The typed asyncio client for the apiserver's gRPC API, used by every Skiff component.

    async with ApiClient(["127.0.0.1:6443", "127.0.0.1:6444"], timeout=10.0) as api:
        pod = await api.create(core_pb2.Pod(metadata=..., spec=...))       # typed in, typed out
        pods, rv = await api.list("pods", "default", label_selector="app=web")
        pod.spec.node_name = "n1"; pod = await api.update(pod)             # guarded by its resourceVersion
        async for ev in api.watch("pods", "default", resource_version=rv):
            ev.type, ev.object                                             # "ADDED", core_pb2.Pod

A kind is named by a `Kind`, any name `kinds.by_name` knows ("pods", "deploy", "deployments.apps")
or a message class (`core_pb2.Pod`). Errors are the `client.errors` hierarchy (NotFound, Conflict,
AlreadyExists, Invalid, BadRequest, Forbidden, Gone, Unavailable, Timeout), built in one place,
`error_from_status`; they are re-exported here.

Endpoints and deadlines
- One grpc.aio channel per endpoint, created on first use. Calls go to the *pinned* endpoint (the
  first at start); when it fails, the pin moves to the next one.
- Every unary call has one deadline (`timeout`, or a per-call `timeout=`) covering connecting, every
  attempt and every backoff sleep. An endpoint refusing connections fails at once (channel state
  TRANSIENT_FAILURE), so failover costs a backoff, not a dial timeout.

Retries (the pure decisions are `retry_safe` and `should_retry` in client/errors.py)
- Only Unavailable is retried, on the next endpoint, after `Backoff.delay(attempt)` (exponential
  with jitter), until the deadline.
- Reads (get, list, get_scale) are always retried.
- create is always retried: if the first attempt was applied, the retry answers AlreadyExists.
- update, update_status, update_scale are retried when the object carries a resourceVersion; delete
  when it has a uid or resourceVersion precondition; patch when it is a JSON patch that `test`s
  /metadata/resourceVersion or /metadata/uid. If the first attempt was applied, the retry answers
  Conflict (delete: NotFound, or Conflict when deletion is graceful; guarded patch: Invalid, its test
  failing). So after a retried guarded write, re-read before concluding someone else wrote.
- Unguarded writes are retried only when the request certainly was not sent (no connection could be
  made to the endpoint before sending).

Watch
- `watch()` opens one stream and yields `WatchEvent`s (batches flattened, BOOKMARKs included when
  `allow_bookmarks`). It does NOT resume: a broken stream raises Unavailable and an ERROR event raises
  its error (Gone for 410 Expired); a stream the server ends cleanly ends the iteration. The informer
  owns resumption and relisting. Opening the stream fails over like a read; a watch has no deadline.
"""
from __future__ import annotations

import asyncio
import json
import logging
import random
import weakref
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable, Sequence, TypeVar

import grpc
from google.protobuf.message import Message

from client import binding, kinds
from client.codec import to_dict
from client.errors import (  # noqa: F401 - re-exported
    STATUS_KEY, AlreadyExists, ApiError, Backoff, BadRequest, Conflict, Forbidden, Gone, Invalid,
    NotFound, Timeout, Unavailable, error_from_status, never_sent, patch_is_guarded, retry_safe,
    should_retry, status_from_metadata,
)
from client.kinds import Kind
from skiffpb.api.v1 import api_pb2, api_pb2_grpc
from skiffpb.k8s.apps.v1 import apps_pb2

log = logging.getLogger(__name__)

T = TypeVar("T")
KindRef = Kind | str | type[Message]

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"

CHANNEL_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.max_receive_message_length", 256 * 1024 * 1024),   # big lists
    ("grpc.max_send_message_length", 16 * 1024 * 1024),
    # A restarted apiserver is noticed within a second instead of grpc's default backoff (up to 120 s).
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
)


@dataclass(frozen=True)
class WatchEvent:
    """One watch event: type ADDED|MODIFIED|DELETED|BOOKMARK and the typed object."""

    type: str
    object: Message

    @property
    def resource_version(self) -> str:
        return self.object.metadata.resource_version


def kind_of(ref: KindRef) -> Kind:
    """The Kind for a Kind, a name (`pods`, `deploy`, `deployments.apps`) or a message class."""
    if isinstance(ref, Kind):
        return ref
    if isinstance(ref, str):
        return kinds.by_name(ref)
    for k in kinds.KINDS:
        if ref is k.message:
            return k
    raise kinds.UnknownKind(f"not a Skiff kind: {ref!r}")


def patch_bytes(patch: bytes | str | dict | list | Message) -> bytes:
    """The JSON body of a patch given as bytes, text, a JSON value or a (partial) typed message."""
    if isinstance(patch, bytes):
        return patch
    if isinstance(patch, str):
        return patch.encode()
    if isinstance(patch, Message):
        patch = to_dict(patch)
    return json.dumps(patch).encode()


def _guarded_delete(precondition_uid: str, precondition_resource_version: str) -> bool:
    return bool(precondition_uid or precondition_resource_version)


class _Endpoint:
    """One apiserver's channel and stub (grpc.aio needs a running loop, so made on first use)."""

    def __init__(self, address: str, options: Sequence[tuple[str, int]]):
        self.address = address
        self.channel = grpc.aio.insecure_channel(address, options=list(options))
        self.stub = api_pb2_grpc.ApiStub(self.channel)

    async def connect(self, limit: float) -> bool:
        """Wait up to `limit` s for a connection; False at once if connecting failed."""
        loop = asyncio.get_running_loop()
        end = loop.time() + limit
        state = self.channel.get_state(try_to_connect=True)
        while state != grpc.ChannelConnectivity.READY:
            left = end - loop.time()
            if state in (grpc.ChannelConnectivity.TRANSIENT_FAILURE,
                         grpc.ChannelConnectivity.SHUTDOWN) or left <= 0:
                return False
            try:
                await asyncio.wait_for(self.channel.wait_for_state_change(state), left)
            except asyncio.TimeoutError:
                return False
            state = self.channel.get_state(try_to_connect=True)
        return True


def _rpc_error(e: grpc.aio.AioRpcError, address: str) -> ApiError:
    return error_from_status(e.code(), e.details() or "", status_from_metadata(e.trailing_metadata()),
                             endpoint=address)


class ApiClient:
    """The apiserver client with failover, deadlines and safe retries; see the module docstring."""

    def __init__(self, endpoints: str | Iterable[str], *, timeout: float = 10.0,
                 dial_timeout: float = 2.0, backoff: Backoff = Backoff(),
                 rng: random.Random | None = None,
                 channel_options: Sequence[tuple[str, int]] = CHANNEL_OPTIONS):
        items = endpoints.split(",") if isinstance(endpoints, str) else list(endpoints)
        self.endpoints = list(dict.fromkeys(e.strip() for e in items if e.strip()))
        if not self.endpoints:
            raise ValueError("no apiserver endpoints given: pass host:port[,host:port...]")
        self.timeout = timeout
        self.dial_timeout = dial_timeout
        self.backoff = backoff
        self._rng = rng or random.Random()
        self._options = tuple(channel_options)
        self._conns: dict[str, _Endpoint] = {}
        self._pinned = 0
        self._watches: weakref.WeakSet[Watch] = weakref.WeakSet()
        self._closed = False

    def __repr__(self) -> str:
        return f"ApiClient({','.join(self.endpoints)}, pinned={self.endpoint})"

    async def __aenter__(self) -> "ApiClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        """Close every watch and channel. Idempotent."""
        self._closed = True
        for w in list(self._watches):
            w.close()
        conns, self._conns = list(self._conns.values()), {}
        for c in conns:
            await c.channel.close()

    @property
    def endpoint(self) -> str:
        """The apiserver calls go to now."""
        return self.endpoints[self._pinned]

    # -- failover and the attempt loop ----------------------------------------------------------
    def _conn(self) -> _Endpoint:
        if self._closed:
            raise Unavailable("the API client is closed")
        address = self.endpoint
        c = self._conns.get(address)
        if c is None:
            c = self._conns[address] = _Endpoint(address, self._options)
        return c

    def _fail_over(self, failed: str, err: ApiError) -> None:
        # Only the first of several concurrent calls failing on the same endpoint moves the pin.
        if self.endpoint == failed and len(self.endpoints) > 1:
            self._pinned = (self._pinned + 1) % len(self.endpoints)
            log.warning("apiserver %s failed (%s); switching to %s", failed, err.message, self.endpoint)

    async def _invoke(self, what: str, attempt: Callable[[_Endpoint, float], Awaitable[T]], *,
                      safe: bool, timeout: float | None) -> T:
        """Run `attempt(endpoint, seconds_left)` under one deadline, retrying per the rules."""
        loop = asyncio.get_running_loop()
        budget = self.timeout if timeout is None else timeout
        deadline = loop.time() + budget
        tries = 0
        while True:
            c = self._conn()
            sent = False
            left = deadline - loop.time()
            try:
                if left <= 0:
                    err: ApiError = Timeout(f"{what}: deadline of {budget:.3g}s exceeded",
                                            reason="Timeout", code=504)
                elif not await c.connect(min(left, self.dial_timeout)):
                    err = Unavailable(f"{what}: cannot connect to the apiserver",
                                      reason="ServiceUnavailable", code=503)
                else:
                    sent = True
                    return await attempt(c, deadline - loop.time())
            except grpc.aio.AioRpcError as e:
                err = _rpc_error(e, c.address)
                sent = not never_sent(e.code(), e.details() or "")
            err.endpoint = c.address
            tries += 1
            retry = should_retry(err, safe=safe, sent=sent)
            if retry or (sent and isinstance(err, (Timeout, Unavailable))):
                # An endpoint that failed or sat on a request until the deadline may be down or
                # hung: the next call goes elsewhere even when this one cannot be retried.
                self._fail_over(c.address, err)
            if not retry:
                raise err
            delay = self.backoff.delay(tries - 1, self._rng)
            if loop.time() + delay >= deadline:
                err.message += f" (gave up after {tries} attempts within the {budget:.3g}s deadline)"
                raise err
            log.debug("%s on %s failed (%s); retry %d in %.3fs", what, c.address, err, tries, delay)
            await asyncio.sleep(delay)

    async def _unary(self, verb: str, method: str, request, *, safe: bool,
                     timeout: float | None) -> Any:
        def attempt(c: _Endpoint, left: float):
            return getattr(c.stub, method)(request, timeout=left)
        return await self._invoke(verb, attempt, safe=safe, timeout=timeout)

    # -- verbs --------------------------------------------------------------------------------------
    async def create(self, obj: Message, *, dry_run: bool = False, timeout: float | None = None) -> Message:
        req = api_pb2.CreateRequest(object=kinds.wrap(obj), dry_run=dry_run)
        out = await self._unary("create", "Create", req, safe=retry_safe("create", guarded=False),
                                timeout=timeout)
        return kinds.unwrap(out)

    async def get(self, kind: KindRef, namespace: str, name: str, *,
                  timeout: float | None = None) -> Message:
        req = api_pb2.GetRequest(resource=kind_of(kind).resource, namespace=namespace, name=name)
        return kinds.unwrap(await self._unary("get", "Get", req, safe=True, timeout=timeout))

    async def list(self, kind: KindRef, namespace: str = "", *, label_selector: str = "",
                   field_selector: str = "", resource_version: str = "",
                   timeout: float | None = None) -> tuple[list[Message], str]:
        """Every matching object and the list's resourceVersion (watch from it to see later changes)."""
        req = api_pb2.ListRequest(resource=kind_of(kind).resource, namespace=namespace,
                                  label_selector=label_selector, field_selector=field_selector,
                                  resource_version=resource_version)
        resp = await self._unary("list", "List", req, safe=True, timeout=timeout)
        return [kinds.unwrap(o) for o in resp.items], resp.metadata.resource_version

    async def update(self, obj: Message, *, dry_run: bool = False, timeout: float | None = None) -> Message:
        """Replace the object; guarded (and retried) when it carries a resourceVersion."""
        req = api_pb2.UpdateRequest(object=kinds.wrap(obj), dry_run=dry_run)
        safe = retry_safe("update", guarded=bool(obj.metadata.resource_version))
        return kinds.unwrap(await self._unary("update", "Update", req, safe=safe, timeout=timeout))

    async def update_status(self, obj: Message, *, dry_run: bool = False,
                            timeout: float | None = None) -> Message:
        """Replace the object's status; guarded (and retried) when it carries a resourceVersion."""
        req = api_pb2.UpdateRequest(object=kinds.wrap(obj), dry_run=dry_run)
        safe = retry_safe("update_status", guarded=bool(obj.metadata.resource_version))
        return kinds.unwrap(await self._unary("update_status", "UpdateStatus", req, safe=safe,
                                              timeout=timeout))

    async def patch(self, kind: KindRef, namespace: str, name: str, patch_type: str,
                    patch: bytes | str | dict | list | Message, *, subresource: str = "",
                    dry_run: bool = False, timeout: float | None = None) -> Message:
        """Patch with MERGE_PATCH, JSON_PATCH or STRATEGIC_MERGE_PATCH."""
        body = patch_bytes(patch)
        req = api_pb2.PatchRequest(resource=kind_of(kind).resource, namespace=namespace, name=name,
                                   patch_type=patch_type, patch=body, subresource=subresource,
                                   dry_run=dry_run)
        safe = retry_safe("patch", guarded=patch_is_guarded(patch_type, body))
        return kinds.unwrap(await self._unary("patch", "Patch", req, safe=safe, timeout=timeout))

    async def delete(self, kind: KindRef, namespace: str, name: str, *,
                     grace_period_seconds: int | None = None, propagation_policy: str = "",
                     precondition_uid: str = "", precondition_resource_version: str = "",
                     dry_run: bool = False, timeout: float | None = None) -> api_pb2.DeleteResponse:
        """Delete; the answer's `object` (typed via kinds.unwrap) is the object as deletion left it."""
        req = api_pb2.DeleteRequest(resource=kind_of(kind).resource, namespace=namespace, name=name,
                                    propagation_policy=propagation_policy,
                                    precondition_uid=precondition_uid,
                                    precondition_resource_version=precondition_resource_version,
                                    dry_run=dry_run)
        if grace_period_seconds is not None:
            req.grace_period_seconds = grace_period_seconds
        safe = retry_safe("delete", guarded=_guarded_delete(precondition_uid, precondition_resource_version))
        return await self._unary("delete", "Delete", req, safe=safe, timeout=timeout)

    async def bind(self, namespace: str, name: str, node: str, *, uid: str = "",
                   timeout: float | None = None) -> Message:
        """pods/binding: assign the unbound pod to `node` (Conflict if bound already, being deleted,
        or its uid is not `uid`); the bound pod. Not retried: a lost answer shows as that Conflict."""
        req = api_pb2.BindRequest(binding=binding.make(namespace or "default", name, node, uid))
        return kinds.unwrap(await self._unary("bind", "Bind", req, safe=False, timeout=timeout))

    async def get_scale(self, kind: KindRef, namespace: str, name: str, *,
                        timeout: float | None = None) -> apps_pb2.Scale:
        req = api_pb2.GetRequest(resource=kind_of(kind).resource, namespace=namespace, name=name)
        return await self._unary("get_scale", "GetScale", req, safe=True, timeout=timeout)

    async def update_scale(self, kind: KindRef, namespace: str, name: str,
                           scale: apps_pb2.Scale | int, *, resource_version: str = "",
                           timeout: float | None = None) -> apps_pb2.Scale:
        """Set replicas (an int, or a Scale); guarded (and retried) with a resourceVersion."""
        if isinstance(scale, int):
            s = apps_pb2.Scale(api_version="autoscaling/v1", kind="Scale")
            s.metadata.name, s.metadata.namespace = name, namespace
            s.spec.replicas = scale
            scale = s
        if resource_version:
            scale.metadata.resource_version = resource_version
        req = api_pb2.UpdateScaleRequest(resource=kind_of(kind).resource, namespace=namespace,
                                         name=name, scale=scale)
        safe = retry_safe("update_scale", guarded=bool(scale.metadata.resource_version))
        return await self._unary("update_scale", "UpdateScale", req, safe=safe, timeout=timeout)

    def watch(self, kind: KindRef, namespace: str = "", *, resource_version: str,
              label_selector: str = "", field_selector: str = "", allow_bookmarks: bool = True,
              timeout_seconds: int | None = None, open_timeout: float | None = None) -> "Watch":
        """Events after `resource_version` ("" or "0": ADDED for every current object first).
        `async for ev in api.watch(...)`; `close()` (or leaving `async with`) ends it quietly."""
        req = api_pb2.WatchRequest(resource=kind_of(kind).resource, namespace=namespace,
                                   label_selector=label_selector, field_selector=field_selector,
                                   resource_version=resource_version, allow_bookmarks=allow_bookmarks)
        if timeout_seconds is not None:
            req.timeout_seconds = timeout_seconds
        w = Watch(self, req, open_timeout)
        self._watches.add(w)
        return w


class Watch:
    """One watch stream, flattened into WatchEvents. Single consumer; never resumes by itself."""

    def __init__(self, client: ApiClient, request: api_pb2.WatchRequest, open_timeout: float | None):
        self._client = client
        self._request = request
        self._open_timeout = open_timeout
        self._call = None
        self._closed = False
        self.endpoint: str | None = None

    async def __aenter__(self) -> "Watch":
        return self

    async def __aexit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """End the watch; a consumer blocked in `async for` stops quietly."""
        self._closed = True
        if self._call is not None:
            self._call.cancel()

    def __aiter__(self) -> AsyncIterator[WatchEvent]:
        return self._events()

    async def _open(self):
        # Opening fails over like a read; the stream itself then has no deadline.
        async def attempt(c: _Endpoint, left: float):
            self.endpoint = c.address
            return c.stub.Watch(self._request)
        return await self._client._invoke("watch", attempt, safe=True, timeout=self._open_timeout)

    async def _events(self) -> AsyncIterator[WatchEvent]:
        if self._closed:
            return
        self._call = await self._open()
        if self._closed:  # closed while opening
            self._call.cancel()
            return
        try:
            async for batch in self._call:
                for ev in batch.events:
                    if ev.type == "ERROR":
                        st = ev.status
                        raise error_from_status(None, st.message, st, endpoint=self.endpoint or "")
                    yield WatchEvent(ev.type, kinds.unwrap(ev.object))
        except grpc.aio.AioRpcError as e:
            if self._closed or e.code() == grpc.StatusCode.CANCELLED:
                return
            raise _rpc_error(e, self.endpoint or "") from None
        except asyncio.CancelledError:
            # grpc.aio reports our own close() (a local cancel) as CancelledError: end quietly then,
            # but let a real cancellation of the consuming task through.
            task = asyncio.current_task()
            if self._closed and task is not None and not task.cancelling():
                return
            self._call.cancel()
            raise
        # A stream the server ended with OK (timeout_seconds, or it dropped a slow watcher) simply
        # ends the iteration, as a Kubernetes watch does: the caller watches again from its last RV.
