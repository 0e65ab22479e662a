"""The CLI's one gRPC module: calls to skiff.api.v1.Api with deadlines, errors turned into kubectl's words.

Every unary call carries a deadline (10 s unless --request-timeout says otherwise); a watch has none.
A failed call raises `ServerError` (the server answered: reason and message from the Kubernetes
Status in the trailing metadata `skiff-status-bin`, else from the gRPC code) or `Unreachable` (no
server answered: UNAVAILABLE without a Status, or the deadline passed while connecting).

Several apiservers: `Api("a:6443,b:6443")` (from --server, $SKIFF_SERVER or the config's cluster)
connects, on its first call, to the first address that accepts a connection, trying them in order;
only when none does it raises `Unreachable` naming every address tried. The choice is made before
any request is sent, so no request is ever sent twice (a Create that timed out on one apiserver is
not replayed on another). A call that then finds its apiserver gone raises `Unreachable` as before
and the next call chooses again, so `get -w`'s reconnect loop moves on to a live apiserver.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import grpc
from google.protobuf.message import Message

from client import kinds
from client.errors import status_from_metadata
from client.kinds import Kind
from skiffpb.api.v1 import api_pb2, api_pb2_grpc
from skiffpb.k8s.apps.v1 import apps_pb2
from skiffpb.k8s.meta.v1 import meta_pb2

DEFAULT_SERVER = "127.0.0.1:6443"
DEFAULT_TIMEOUT = 10.0
MERGE_PATCH = "application/merge-patch+json"

# Kubernetes' reason for each gRPC code, for answers that carry no Status (the apiserver maps reasons
# to codes the other way in apiserver/errors.py).
REASONS = {
    "INVALID_ARGUMENT": "BadRequest", "NOT_FOUND": "NotFound", "ALREADY_EXISTS": "AlreadyExists",
    "ABORTED": "Conflict", "OUT_OF_RANGE": "Expired", "PERMISSION_DENIED": "Forbidden",
    "RESOURCE_EXHAUSTED": "RequestEntityTooLarge", "UNAVAILABLE": "ServiceUnavailable",
    "UNIMPLEMENTED": "MethodNotAllowed", "INTERNAL": "InternalError", "DEADLINE_EXCEEDED": "Timeout",
    "UNAUTHENTICATED": "Unauthorized",
}


class ServerError(Exception):
    """The server refused: `Error from server (<reason>): <message>`."""

    def __init__(self, code: str, reason: str, message: str, status: meta_pb2.Status | None = None):
        super().__init__(f"Error from server ({reason}): {message}")
        self.code = code          # gRPC code name: "NOT_FOUND"
        self.reason = reason      # Kubernetes' reason: "NotFound"
        self.message = message
        self.status = status

    def line(self, context: str = "") -> str:
        """The line kubectl prints; `context` goes before the message (`error when creating "f.yaml": `)."""
        return f"Error from server ({self.reason}): {context}{self.message}"


HINT = "did you specify the right host or port? (start a cluster with ./deploy/up.sh)"


class Unreachable(Exception):
    """No server answered: at the address, or at any of several tried in order.

    `attempts` lists (address, "refused" | "timeout") in the order tried; the message names them
    all, in kubectl's words for one address: `The connection to the server 127.0.0.1:6443 was refused
    - did you specify the right host or port?`, with how to start a cluster.
    """

    def __init__(self, server: str, timed_out: bool = False, timeout: float = DEFAULT_TIMEOUT,
                 attempts: Sequence[tuple[str, str]] = ()):
        self.attempts = list(attempts) or [(server, "timeout" if timed_out else "refused")]
        super().__init__(unreachable_message(self.attempts, timeout))
        self.server = server


def unreachable_message(attempts: Sequence[tuple[str, str]], timeout: float | None = DEFAULT_TIMEOUT) -> str:
    """What to tell the user when no apiserver answered. Pure."""
    wait = f"{timeout or DEFAULT_TIMEOUT:g}s"
    if len(attempts) == 1:
        server, why = attempts[0]
        if why == "timeout":
            return f"Unable to connect to the server: {server} did not answer within {wait} - {HINT}"
        return f"The connection to the server {server} was refused - {HINT}"
    if all(why == "refused" for _, why in attempts):
        return (f"The connection to the servers {', '.join(s for s, _ in attempts)} was refused (tried in this "
                f"order) - {HINT}")
    tried = ", ".join(f"{s} ({'connection refused' if why == 'refused' else f'no answer within {wait}'})"
                      for s, why in attempts)
    return f"Unable to connect to the server: tried {tried} - {HINT}"


def split_servers(text: str) -> list[str]:
    """`a:1,b:2` -> ["a:1", "b:2"]: the addresses to try, in order, without duplicates or blanks."""
    out: list[str] = []
    for part in text.split(","):
        part = part.strip()
        if part and part not in out:
            out.append(part)
    return out


def translate(code: str, details: str, trailing, server: str,
              timeout: float = DEFAULT_TIMEOUT) -> ServerError | Unreachable:
    """The exception for a failed call, from its code name, details and trailing metadata. Pure."""
    status = status_from_metadata(trailing)
    if status is None and code == "UNAVAILABLE":
        return Unreachable(server)
    if status is None and code == "DEADLINE_EXCEEDED":
        return Unreachable(server, timed_out=True, timeout=timeout)
    reason = (status.reason if status is not None and status.reason else "") or REASONS.get(code, code)
    message = (status.message if status is not None and status.message else "") or details or code
    return ServerError(code, reason, message, status)


def error_of(err: grpc.RpcError, server: str, timeout: float = DEFAULT_TIMEOUT) -> ServerError | Unreachable:
    code = err.code() if hasattr(err, "code") else None
    name = code.name if code is not None else "UNKNOWN"
    details = err.details() if hasattr(err, "details") else str(err)
    trailing = err.trailing_metadata() if hasattr(err, "trailing_metadata") else None
    return translate(name, details or "", trailing, server, timeout)


def _open(server: str) -> grpc.Channel:
    return grpc.insecure_channel(server, options=[
        ("grpc.max_receive_message_length", 256 * 1024 * 1024),
        ("grpc.max_send_message_length", 256 * 1024 * 1024),
    ])


def _connectivity(channel: grpc.Channel, timeout: float) -> str:
    """"ready", "refused" (the connection failed: refused, no route, unknown host) or "timeout"."""
    settled = threading.Event()
    seen: list[grpc.ChannelConnectivity] = []

    def on_change(state: grpc.ChannelConnectivity) -> None:
        seen.append(state)
        if state in (grpc.ChannelConnectivity.READY, grpc.ChannelConnectivity.TRANSIENT_FAILURE,
                     grpc.ChannelConnectivity.SHUTDOWN):
            settled.set()
    channel.subscribe(on_change, try_to_connect=True)
    try:
        settled.wait(timeout)
    finally:
        channel.unsubscribe(on_change)
    if grpc.ChannelConnectivity.READY in seen:
        return "ready"
    return "refused" if settled.is_set() else "timeout"


class Api:
    """Typed calls to an apiserver (one of `server`'s comma-separated addresses, the first that accepts a
    connection). Use as a context manager, or call close()."""

    def __init__(self, server: str, timeout: float = DEFAULT_TIMEOUT):
        self.servers = split_servers(server) or [DEFAULT_SERVER]
        self.server = self.servers[0]     # the address in use (the first until a call chose)
        self.timeout = timeout
        self.channel: grpc.Channel | None = None
        self._stub: api_pb2_grpc.ApiStub | None = None

    def __enter__(self) -> "Api":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.channel is not None:
            self.channel.close()
        self.channel, self._stub = None, None

    @property
    def stub(self) -> api_pb2_grpc.ApiStub:
        """The stub of the chosen apiserver, choosing one first if none is (see the module docstring)."""
        if self._stub is None:
            self._choose()
        assert self._stub is not None
        return self._stub

    def _choose(self) -> None:
        if len(self.servers) == 1:
            # One address: nothing to choose; the first call's own error says whether it answered.
            self.server, self.channel = self.servers[0], _open(self.servers[0])
            self._stub = api_pb2_grpc.ApiStub(self.channel)
            return
        attempts: list[tuple[str, str]] = []
        for server in self.servers:
            channel = _open(server)
            state = _connectivity(channel, self.timeout or DEFAULT_TIMEOUT)
            if state == "ready":
                self.server, self.channel = server, channel
                self._stub = api_pb2_grpc.ApiStub(channel)
                return
            channel.close()
            attempts.append((server, state))
        raise Unreachable(self.servers[0], timeout=self.timeout or DEFAULT_TIMEOUT, attempts=attempts)

    def forget(self) -> None:
        """The chosen apiserver stopped answering: the next call chooses again."""
        if len(self.servers) > 1:
            self.close()

    def _call(self, method, request):
        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as e:
            err = error_of(e, self.server, self.timeout)
            if isinstance(err, Unreachable):
                self.forget()
            raise err from None

    # -- verbs ----------------------------------------------------------------------------------
    def create(self, obj: Message, *, dry_run: bool = False) -> Message:
        req = api_pb2.CreateRequest(object=kinds.wrap(obj), dry_run=dry_run)
        return kinds.unwrap(self._call(self.stub.Create, req))

    def get(self, kind: Kind, namespace: str, name: str) -> Message:
        req = api_pb2.GetRequest(resource=kind.resource, namespace=namespace, name=name)
        return kinds.unwrap(self._call(self.stub.Get, req))

    def list(self, kind: Kind, namespace: str, *, label_selector: str = "",
             field_selector: str = "") -> tuple[list[Message], str]:
        """All matching objects and the list's resourceVersion, in one answer (no paging: a watch
        started from that resourceVersion must see every later change, which paging would not pin)."""
        req = api_pb2.ListRequest(resource=kind.resource, namespace=namespace, label_selector=label_selector,
                                  field_selector=field_selector)
        resp = self._call(self.stub.List, req)
        return [kinds.unwrap(o) for o in resp.items], resp.metadata.resource_version

    def update(self, obj: Message, *, dry_run: bool = False) -> Message:
        req = api_pb2.UpdateRequest(object=kinds.wrap(obj), dry_run=dry_run)
        return kinds.unwrap(self._call(self.stub.Update, req))

    def patch(self, kind: Kind, namespace: str, name: str, patch: dict | list, *,
              patch_type: str = MERGE_PATCH, dry_run: bool = False) -> Message:
        """Patch (merge patch by default): the server applies `patch` to its latest copy of the object,
        so a concurrent writer costs no Conflict unless the patch itself names a resourceVersion."""
        req = api_pb2.PatchRequest(resource=kind.resource, namespace=namespace, name=name, patch_type=patch_type,
                                   patch=json.dumps(patch).encode(), dry_run=dry_run)
        return kinds.unwrap(self._call(self.stub.Patch, req))

    def delete(self, kind: Kind, namespace: str, name: str, *, grace_period: int | None = None,
               propagation_policy: str = "") -> api_pb2.DeleteResponse:
        req = api_pb2.DeleteRequest(resource=kind.resource, namespace=namespace, name=name,
                                    propagation_policy=propagation_policy)
        if grace_period is not None:
            req.grace_period_seconds = grace_period
        return self._call(self.stub.Delete, req)

    def get_scale(self, kind: Kind, namespace: str, name: str) -> apps_pb2.Scale:
        return self._call(self.stub.GetScale, api_pb2.GetRequest(resource=kind.resource, namespace=namespace,
                                                                  name=name))

    def update_scale(self, kind: Kind, namespace: str, name: str, replicas: int,
                     resource_version: str = "") -> apps_pb2.Scale:
        scale = apps_pb2.Scale(api_version="autoscaling/v1", kind="Scale")
        scale.metadata.name, scale.metadata.namespace = name, namespace
        if resource_version:
            scale.metadata.resource_version = resource_version
        scale.spec.replicas = replicas
        req = api_pb2.UpdateScaleRequest(resource=kind.resource, namespace=namespace, name=name, scale=scale)
        return self._call(self.stub.UpdateScale, req)

    def watch(self, kind: Kind, namespace: str, *, resource_version: str, label_selector: str = "",
              field_selector: str = "") -> "Watch":
        """A stream of WatchEvents (with bookmarks), without deadline; cancel() it to stop."""
        req = api_pb2.WatchRequest(resource=kind.resource, namespace=namespace, label_selector=label_selector,
                                   field_selector=field_selector, resource_version=resource_version,
                                   allow_bookmarks=True)
        return Watch(self.stub.Watch(req), self.server, on_unreachable=self.forget)

    # -- about the server -----------------------------------------------------------------------
    def version(self) -> api_pb2.VersionInfo:
        return self._call(self.stub.Version, api_pb2.VersionRequest())

    def cluster_info(self) -> api_pb2.ClusterInfoResponse:
        return self._call(self.stub.ClusterInfo, api_pb2.ClusterInfoRequest())


class Watch:
    """Iterates WatchEvents; gRPC errors come out as ServerError/Unreachable; a cancel() ends it quietly."""

    def __init__(self, call, server: str, on_unreachable=None):
        self.call = call
        self.server = server
        self.cancelled = False
        self.on_unreachable = on_unreachable

    def __iter__(self) -> Iterator[api_pb2.WatchEvent]:
        try:
            for batch in self.call:
                yield from batch.events
        except grpc.RpcError as e:
            if self.cancelled or (hasattr(e, "code") and e.code() == grpc.StatusCode.CANCELLED):
                return
            err = error_of(e, self.server)
            if isinstance(err, Unreachable) and self.on_unreachable is not None:
                self.on_unreachable()
            raise err from None

    def cancel(self) -> None:
        self.cancelled = True
        self.call.cancel()


# -- following a collection ---------------------------------------------------------------------
WATCH_RECONNECT_FOR = 30.0  # seconds a watch keeps trying to reach a restarting server


@dataclass(frozen=True)
class Listed:
    """The whole collection: the first list, and a relist after the watch's resourceVersion was compacted."""
    objs: list[Message]


@dataclass(frozen=True)
class Changed:
    """One watch event: ADDED, MODIFIED or DELETED."""
    type: str
    obj: Message


def follow(api: "Api", kind: Kind, namespace: str, *, label_selector: str = "", field_selector: str = "",
           on_stream: Callable[["Watch"], bool] | None = None,
           expired: Callable[[], bool] = lambda: False) -> Iterator[Listed | Changed]:
    """List, then watch from the list's resourceVersion, as `get -w` and `rollout status` do: yields
    Listed first, Changed per event, and Listed again after a 410 (relist, then watch on from there).
    A stream the server ends is resumed from the last resourceVersion seen; an unreachable server
    is retried for WATCH_RECONNECT_FOR s, so a short outage costs no events. `on_stream(stream)`
    sees each new stream (False: stop); `expired()` True stops it too. Closing the generator (or an
    exception through it) cancels the stream in progress."""
    def relist() -> tuple[Listed, str]:
        objs, rv = api.list(kind, namespace, label_selector=label_selector, field_selector=field_selector)
        return Listed(objs), rv
    listed, rv = relist()
    yield listed
    unreachable_since: float | None = None
    stream = None
    try:
        while True:
            try:
                stream = api.watch(kind, namespace, resource_version=rv, label_selector=label_selector,
                                   field_selector=field_selector)
                if on_stream is not None and not on_stream(stream):
                    return
                for ev in stream:
                    unreachable_since = None
                    obj = kinds.unwrap(ev.object) if ev.object.WhichOneof("kind") else None
                    if ev.type == "BOOKMARK":
                        rv = obj.metadata.resource_version if obj is not None else rv
                    elif ev.type == "ERROR":
                        if ev.status.code != 410:
                            raise ServerError("UNKNOWN", ev.status.reason or "InternalError", ev.status.message,
                                              ev.status)
                        stream.cancel()     # compacted away: list again and watch on from there
                        listed, rv = relist()
                        yield listed
                        break
                    elif obj is not None:
                        rv = obj.metadata.resource_version or rv
                        yield Changed(ev.type, obj)
                stream = None
                if expired():
                    return
                time.sleep(0.1)   # the server ended the stream (timeout, slow consumer): resume from rv
            except Unreachable:
                now = time.monotonic()
                if unreachable_since is None:
                    unreachable_since = now
                if now - unreachable_since > WATCH_RECONNECT_FOR or expired():
                    raise
                time.sleep(0.5)
    finally:
        if stream is not None:
            stream.cancel()
