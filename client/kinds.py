"""The kinds Skiff serves: group, version, resource names, scope, short names and protobuf types.

One table that the apiserver (routing, key layout), the client (typed calls) and `skiff` (names
on the command line) all read, so that `skiff get deploy`, `deployments.apps` and
`apiVersion: apps/v1, kind: Deployment` always mean the same thing.
"""
from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import Message

from skiffpb.api.v1 import api_pb2
from skiffpb.k8s.apps.v1 import apps_pb2
from skiffpb.k8s.coordination.v1 import coordination_pb2
from skiffpb.k8s.core.v1 import core_pb2
from skiffpb.k8s.networking.v1 import networking_pb2


@dataclass(frozen=True)
class Kind:
    group: str                      # "" for the core group
    version: str
    kind: str                       # "Deployment"
    resource: str                   # "deployments"
    namespaced: bool
    message: type[Message]
    list_message: type[Message]
    oneof_field: str                # the field of api.v1.Object that carries it
    short_names: tuple[str, ...] = ()
    has_status: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """Kubernetes' name in messages: `deployments.apps`, `pods`."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    @property
    def singular(self) -> str:
        return self.kind.lower()


KINDS: tuple[Kind, ...] = (
    Kind("", "v1", "Namespace", "namespaces", False, core_pb2.Namespace, core_pb2.NamespaceList, "namespace", ("ns",)),
    Kind("", "v1", "Node", "nodes", False, core_pb2.Node, core_pb2.NodeList, "node", ("no",)),
    Kind("", "v1", "Pod", "pods", True, core_pb2.Pod, core_pb2.PodList, "pod", ("po",)),
    Kind("", "v1", "Service", "services", True, core_pb2.Service, core_pb2.ServiceList, "service", ("svc",)),
    Kind("", "v1", "Endpoints", "endpoints", True, core_pb2.Endpoints, core_pb2.EndpointsList, "endpoints",
         ("ep",), has_status=False),
    Kind("", "v1", "Event", "events", True, core_pb2.Event, core_pb2.EventList, "event", ("ev",), has_status=False),
    Kind("", "v1", "ConfigMap", "configmaps", True, core_pb2.ConfigMap, core_pb2.ConfigMapList, "config_map",
         ("cm",), has_status=False),
    Kind("apps", "v1", "Deployment", "deployments", True, apps_pb2.Deployment, apps_pb2.DeploymentList,
         "deployment", ("deploy",)),
    Kind("apps", "v1", "ReplicaSet", "replicasets", True, apps_pb2.ReplicaSet, apps_pb2.ReplicaSetList,
         "replica_set", ("rs",)),
    Kind("networking.k8s.io", "v1", "Ingress", "ingresses", True, networking_pb2.Ingress, networking_pb2.IngressList,
         "ingress", ("ing",)),
    Kind("coordination.k8s.io", "v1", "Lease", "leases", True, coordination_pb2.Lease, coordination_pb2.LeaseList,
         "lease", (), has_status=False),
)

_BY_RESOURCE = {k.resource: k for k in KINDS}
_BY_GVK = {(k.api_version, k.kind): k for k in KINDS}
_BY_ONEOF = {k.oneof_field: k for k in KINDS}
_BY_NAME: dict[str, Kind] = {}
for _k in KINDS:
    for _name in (_k.resource, _k.singular, _k.kind.lower(), _k.group_resource, *_k.short_names,
                  f"{_k.singular}.{_k.group}" if _k.group else _k.singular):
        _BY_NAME.setdefault(_name.lower(), _k)


class UnknownKind(LookupError):
    pass


def by_resource(resource: str) -> Kind:
    try:
        return _BY_RESOURCE[resource]
    except KeyError:
        raise UnknownKind(f'the server could not find the requested resource "{resource}"') from None


def by_gvk(api_version: str, kind: str) -> Kind:
    k = _BY_GVK.get((api_version, kind))
    if k is None:
        known = sorted({kk.kind for kk in KINDS if kk.kind == kind})
        hint = f" (Skiff serves {kind} as {', '.join(kk.api_version for kk in KINDS if kk.kind == kind)})" if known else ""
        raise UnknownKind(f'no matches for kind "{kind}" in version "{api_version}"{hint}')
    return k


def by_name(name: str) -> Kind:
    """A kind as a user names it on the command line: `pods`, `pod`, `po`, `deployments.apps`, `deploy`."""
    k = _BY_NAME.get(name.lower())
    if k is None:
        raise UnknownKind(f'the server doesn\'t have a resource type "{name}"')
    return k


def kind_of(obj: api_pb2.Object) -> Kind:
    which = obj.WhichOneof("kind")
    if which is None:
        raise UnknownKind("object: no kind set")
    return _BY_ONEOF[which]


def unwrap(obj: api_pb2.Object) -> Message:
    """The typed message inside an api.v1.Object."""
    return getattr(obj, kind_of(obj).oneof_field)


def of_message(msg: Message) -> Kind:
    """The Kind of a typed message (a Pod -> pods)."""
    for k in KINDS:
        if isinstance(msg, k.message):
            return k
    raise UnknownKind(f"not a Skiff kind: {type(msg).__name__}")


def wrap(msg: Message) -> api_pb2.Object:
    """An api.v1.Object carrying `msg` (copied)."""
    out = api_pb2.Object()
    for k in KINDS:
        if isinstance(msg, k.message):
            getattr(out, k.oneof_field).CopyFrom(msg)
            return out
    raise UnknownKind(f"not a Skiff kind: {type(msg).__name__}")
