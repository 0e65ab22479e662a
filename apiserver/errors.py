"""The apiserver's errors: Kubernetes' reasons, codes and messages, in one hierarchy.

Each error knows its Kubernetes `Status` (reason, HTTP-style code, field causes); the gRPC edge maps
it to a status code in exactly one place (`grpc_code`) and sends the Status along as trailing
metadata, so clients can show `Error from server (NotFound): deployments.apps "web" not found`.
"""
from __future__ import annotations

from skiffpb.k8s.meta.v1 import meta_pb2


class ApiError(Exception):
    reason = "InternalError"
    code = 500
    grpc = "INTERNAL"

    def __init__(self, message: str, *, causes: list[tuple[str, str, str]] = (), name: str = "",
                 group: str = "", kind: str = ""):
        super().__init__(message)
        self.message = message
        self.causes = list(causes)   # (reason, message, field)
        self.name, self.group, self.kind = name, group, kind

    def status(self) -> meta_pb2.Status:
        st = meta_pb2.Status(api_version="v1", kind="Status", status="Failure", message=self.message,
                             reason=self.reason, code=self.code)
        st.metadata.SetInParent()
        if self.name or self.kind or self.causes:
            d = st.details
            if self.name:
                d.name = self.name
            if self.group:
                d.group = self.group
            if self.kind:
                d.kind = self.kind
            for reason, message, field in self.causes:
                d.causes.add(reason=reason, message=message, field=field)
        return st


class BadRequest(ApiError):
    reason, code, grpc = "BadRequest", 400, "INVALID_ARGUMENT"


class Invalid(ApiError):
    reason, code, grpc = "Invalid", 422, "INVALID_ARGUMENT"


class NotFound(ApiError):
    reason, code, grpc = "NotFound", 404, "NOT_FOUND"


class AlreadyExists(ApiError):
    reason, code, grpc = "AlreadyExists", 409, "ALREADY_EXISTS"


class Conflict(ApiError):
    reason, code, grpc = "Conflict", 409, "ABORTED"


class Gone(ApiError):
    reason, code, grpc = "Expired", 410, "OUT_OF_RANGE"


class Forbidden(ApiError):
    reason, code, grpc = "Forbidden", 403, "PERMISSION_DENIED"


class TooLarge(ApiError):
    reason, code, grpc = "RequestEntityTooLarge", 413, "RESOURCE_EXHAUSTED"


class Unavailable(ApiError):
    reason, code, grpc = "ServiceUnavailable", 503, "UNAVAILABLE"


class MethodNotAllowed(ApiError):
    reason, code, grpc = "MethodNotAllowed", 405, "UNIMPLEMENTED"


def not_found(group_resource: str, name: str) -> NotFound:
    return NotFound(f'{group_resource} "{name}" not found', name=name)


def already_exists(group_resource: str, name: str) -> AlreadyExists:
    return AlreadyExists(f'{group_resource} "{name}" already exists', name=name)


def conflict(group_resource: str, name: str) -> Conflict:
    return Conflict(f'Operation cannot be fulfilled on {group_resource} "{name}": the object has been '
                    "modified; please apply your changes to the latest version and try again", name=name)


def invalid(kind: str, group: str, name: str, errors: list[tuple[str, str]]) -> Invalid:
    """`errors`: (field path, detail). Kubernetes' wording: `Deployment.apps "web" is invalid: a: x, b: y`."""
    qualified = f"{kind}.{group}" if group else kind
    detail = ", ".join(f"{path}: {msg}" if path else msg for path, msg in errors)
    causes = [("FieldValueInvalid", msg, path) for path, msg in errors]
    return Invalid(f'{qualified} "{name}" is invalid: {detail}', causes=causes, name=name, group=group, kind=kind)
