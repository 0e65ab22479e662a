"""The CLI's one gRPC module: calls to skiff.api.v1.Api with deadlines, errors turned into kubectl's words.

Every unary call carries a deadline (10 s unless --request-timeout says otherwise); a watch has none.
A failed call raises `ServerError` (the server answered: reason and message from the Kubernetes
Status in the trailing metadata `skiff-status-bin`, else from the gRPC code) or `Unreachable` (no
server answered: UNAVAILABLE without a Status, or the deadline passed while connecting).
"""
from __future__ import annotations

from typing import Iterator

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


class Unreachable(Exception):
    """No server answered at the address."""

    def __init__(self, server: str, timed_out: bool = False, timeout: float = DEFAULT_TIMEOUT):
        if timed_out:
            text = f"Unable to connect to the server: {server} did not answer within {timeout:g}s"
        else:
            text = (f"The connection to the server {server} was refused - did you specify the right host or "
                    "port? (start a cluster with ./deploy/up.sh)")
        super().__init__(text)
        self.server = server


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


class Api:
    """Typed calls to one apiserver. Use as a context manager, or call close()."""

    def __init__(self, server: str, timeout: float = DEFAULT_TIMEOUT):
        self.server = server
        self.timeout = timeout
        self.channel = grpc.insecure_channel(server, options=[
            ("grpc.max_receive_message_length", 256 * 1024 * 1024),
            ("grpc.max_send_message_length", 256 * 1024 * 1024),
        ])
        self.stub = api_pb2_grpc.ApiStub(self.channel)

    def __enter__(self) -> "Api":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.channel.close()

    def _call(self, method, request):
        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as e:
            raise error_of(e, self.server, self.timeout) from None

    # -- verbs ----------------------------------------------------------------------------------
    def create(self, obj: Message) -> Message:
        return kinds.unwrap(self._call(self.stub.Create, api_pb2.CreateRequest(object=kinds.wrap(obj))))

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

    def update(self, obj: Message) -> Message:
        return kinds.unwrap(self._call(self.stub.Update, api_pb2.UpdateRequest(object=kinds.wrap(obj))))

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
        return Watch(self.stub.Watch(req), self.server)


class Watch:
    """Iterates WatchEvents; gRPC errors come out as ServerError/Unreachable; a cancel() ends it quietly."""

    def __init__(self, call, server: str):
        self.call = call
        self.server = server
        self.cancelled = False

    def __iter__(self) -> Iterator[api_pb2.WatchEvent]:
        try:
            for batch in self.call:
                yield from batch.events
        except grpc.RpcError as e:
            if self.cancelled or (hasattr(e, "code") and e.code() == grpc.StatusCode.CANCELLED):
                return
            raise error_of(e, self.server) from None

    def cancel(self) -> None:
        self.cancelled = True
        self.call.cancel()
