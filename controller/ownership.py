"""Controller ownership: ownerReferences, and which objects a controller claims, adopts or releases.

Kubernetes' ControllerRefManager, as pure functions over read-only objects:

    ref = owner_reference(rs, kind="ReplicaSet")          # controller=true, blockOwnerDeletion=true
    c = claim(owner, selector, objects)                   # -> Claim(owned, adopt, release)
    patched = adopted(pod, ref)                           # a copy with ref added: the shell writes it
    patched = released(pod, owner_uid)                    # a copy without our ref

The rules (one object at a time):
- controlled by someone else (a controller ownerRef with another uid): ignored;
- controlled by us and matching the selector: owned;
- controlled by us and no longer matching: released, unless the owner is being deleted (then it
  is left alone: the garbage collector is about to deal with it);
- an orphan (no controller ownerRef) that matches, is not being deleted, and an owner that is not
  being deleted: adopted. Anything else is ignored.

The shell applies adoption and release as writes with the object's uid as a precondition (and, as
Kubernetes does before adopting, re-reads the owner to check it is not being deleted); an object
it adopted counts as owned from then on. Works for any message with `metadata` (Pods claimed by a
ReplicaSet, ReplicaSets claimed by a Deployment). Pure: no I/O.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, NamedTuple, TypeVar

from google.protobuf.message import Message

from client.selectors import LabelSelector
from skiffpb.k8s.meta.v1 import meta_pb2

__all__ = ["Claim", "adopted", "claim", "controller_of", "is_being_deleted", "owner_reference", "released"]

M = TypeVar("M", bound=Message)


def controller_of(obj: Message) -> meta_pb2.OwnerReference | None:
    """The ownerReference with `controller: true`, or None (an orphan). At most one is valid."""
    for ref in obj.metadata.owner_references:
        if ref.controller:
            return ref
    return None


def is_being_deleted(obj: Message) -> bool:
    """True once the apiserver has set metadata.deletionTimestamp (graceful deletion, finalizers)."""
    return obj.metadata.HasField("deletion_timestamp")


def owner_reference(owner: Message, *, kind: str, api_version: str = "apps/v1") -> meta_pb2.OwnerReference:
    """The controller ownerReference an owner puts on what it makes or adopts.

    `blockOwnerDeletion` makes a foreground deletion of the owner wait for the object, as
    Kubernetes' NewControllerRef does.
    """
    return meta_pb2.OwnerReference(api_version=api_version, kind=kind, name=owner.metadata.name,
                                   uid=owner.metadata.uid, controller=True, block_owner_deletion=True)


class Claim(NamedTuple, Generic[M]):
    """What `claim` found, each list in input order.

    owned:   controlled by the owner and matching: the owner manages these now.
    adopt:   orphans to adopt; once the shell has written the adoption, they are owned too.
    release: controlled by the owner but no longer matching; the shell removes its ownerReference.
    """

    owned: list[M]
    adopt: list[M]
    release: list[M]


def claim(owner: Message, selector: LabelSelector, objects: Iterable[M]) -> Claim[M]:
    """Sorts `objects` (same namespace as `owner`) into owned, to adopt, to release; the rest is ignored."""
    owned: list[M] = []
    adopt: list[M] = []
    release: list[M] = []
    uid = owner.metadata.uid
    owner_deleting = is_being_deleted(owner)
    for obj in objects:
        ref = controller_of(obj)
        matches = selector.matches(obj.metadata.labels)
        if ref is not None:
            if ref.uid != uid:
                continue                    # another controller's
            if matches:
                owned.append(obj)
            elif not owner_deleting:        # a dying owner releases nothing: the GC decides
                release.append(obj)
        elif matches and not owner_deleting and not is_being_deleted(obj):
            adopt.append(obj)
    return Claim(owned, adopt, release)


def adopted(obj: M, ref: meta_pb2.OwnerReference) -> M:
    """A copy of `obj` with `ref` as its controller ownerReference (NEVER mutate the cache's object)."""
    new = type(obj)()
    new.CopyFrom(obj)
    kept = [r for r in new.metadata.owner_references if r.uid != ref.uid]
    del new.metadata.owner_references[:]
    new.metadata.owner_references.extend(kept)
    new.metadata.owner_references.append(ref)
    return new


def released(obj: M, owner_uid: str) -> M:
    """A copy of `obj` without the ownerReference to `owner_uid`."""
    new = type(obj)()
    new.CopyFrom(obj)
    kept = [r for r in new.metadata.owner_references if r.uid != owner_uid]
    del new.metadata.owner_references[:]
    new.metadata.owner_references.extend(kept)
    return new
