"""The garbage collector's pure core: what to do about one object, given its owners and dependents.

    refs = classify(obj, owners)                 # Refs(solid, dangling, waiting)
    plan = attempt_to_delete(obj, owners, dependents)   # a dependent: delete it? drop refs?
    plan = owner_plan(owner, dependents)         # an owner being deleted: orphan or wait for them

Kubernetes' garbage collector (pkg/controller/garbagecollector/garbagecollector.go), one object at
a time. The words:
- an owner is **solid** when it exists (an object of that kind and name with the reference's uid)
  and is not waiting for its dependents' deletion; **dangling** when it does not exist;
  **waiting** when it exists, is being deleted and has the `foregroundDeletion` finalizer;
- a **blocking** dependent has `blockOwnerDeletion: true` in its reference to the owner: a
  foreground deletion of the owner waits for it to be gone.

attempt_to_delete (attemptToDeleteItem), for an object with ownerReferences:
- being deleted already: nothing (unless it is itself waiting for its dependents: owner_plan);
- some owner solid: keep it, but drop the references to dangling and waiting owners;
- no owner solid, some waiting, and it has dependents of its own: delete it in the foreground too
  (first unblocking its references if one of its dependents is also deleting dependents, which
  would otherwise be a cycle);
- otherwise: delete it, with the policy its own finalizers ask for (`orphan`: Orphan,
  `foregroundDeletion`: Foreground, else Background).

owner_plan, for an object being deleted:
- `orphan` finalizer: drop the reference to it from every dependent, then remove the finalizer;
- `foregroundDeletion`: no blocking dependent left: remove the finalizer (the apiserver then
  completes the deletion); else have every dependent that is not being deleted re-checked (each is
  then deleted by attempt_to_delete, its owner waiting).

Pure: no I/O. The shell finds owners (cache, then a live read for one the cache does not have:
it may lag) and dependents (the informers' owner index), and guards every write with the
resourceVersion it decided on, so a decision on a stale view fails with a Conflict and is redone.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from google.protobuf.message import Message

__all__ = ["ABSENT", "FOREGROUND", "ORPHAN", "OwnerPlan", "OwnerState", "Plan", "Refs", "attempt_to_delete",
           "being_deleted", "classify", "deleting_dependents", "owner_plan", "policy_of", "ref_to",
           "unblocked", "without_finalizer", "without_refs"]

ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"


@dataclass(frozen=True)
class OwnerState:
    """What the collector found for one ownerReference."""

    exists: bool                         # an object with the reference's kind, name and uid exists
    deleting_dependents: bool = False    # ... being deleted with the foregroundDeletion finalizer


ABSENT = OwnerState(exists=False)


def being_deleted(obj: Message) -> bool:
    return obj.metadata.HasField("deletion_timestamp")


def deleting_dependents(obj: Message) -> bool:
    """Being deleted in the foreground: waiting for its blocking dependents to go."""
    return being_deleted(obj) and FOREGROUND in obj.metadata.finalizers


def ref_to(obj: Message, owner_uid: str):
    """`obj`'s ownerReference to `owner_uid`, or None."""
    for r in obj.metadata.owner_references:
        if r.uid == owner_uid:
            return r
    return None


@dataclass(frozen=True)
class Refs:
    solid: tuple[str, ...]
    dangling: tuple[str, ...]
    waiting: tuple[str, ...]


def classify(obj: Message, owners: Mapping[str, OwnerState]) -> Refs:
    """Sorts `obj`'s ownerReferences (by owner uid); an owner missing from `owners` is dangling."""
    solid, dangling, waiting = [], [], []
    for ref in obj.metadata.owner_references:
        state = owners.get(ref.uid, ABSENT)
        if not state.exists:
            dangling.append(ref.uid)
        elif state.deleting_dependents:
            waiting.append(ref.uid)
        else:
            solid.append(ref.uid)
    return Refs(tuple(solid), tuple(dangling), tuple(waiting))


def policy_of(obj: Message) -> str:
    """The propagation policy an ownerless object is deleted with, from its own finalizers."""
    if ORPHAN in obj.metadata.finalizers:
        return "Orphan"
    if FOREGROUND in obj.metadata.finalizers:
        return "Foreground"
    return "Background"


@dataclass(frozen=True)
class Plan:
    """For a dependent: drop `remove_refs` (owner uids) from its references; or (`unblock` first:
    blockOwnerDeletion false on every reference) delete it with `delete` as propagation policy."""

    delete: str | None = None
    remove_refs: tuple[str, ...] = ()
    unblock: bool = False

    @property
    def empty(self) -> bool:
        return self.delete is None and not self.remove_refs


NOTHING = Plan()


def attempt_to_delete(obj: Message, owners: Mapping[str, OwnerState],
                      dependents: Sequence[Message]) -> Plan:
    """What to do about `obj` (see the module docstring); `dependents` are the objects that name it
    as an owner."""
    if being_deleted(obj) or not obj.metadata.owner_references:
        return NOTHING
    refs = classify(obj, owners)
    if refs.solid:
        return Plan(remove_refs=refs.dangling + refs.waiting) if refs.dangling or refs.waiting else NOTHING
    if refs.waiting and dependents:
        unblock = any(deleting_dependents(d) for d in dependents) and \
            any(r.block_owner_deletion for r in obj.metadata.owner_references)
        return Plan(delete="Foreground", unblock=unblock)
    return Plan(delete=policy_of(obj))


@dataclass(frozen=True)
class OwnerPlan:
    """For an owner being deleted: `orphan` these dependents (drop their reference to it), have
    `check` re-checked (attempt_to_delete), then remove `remove_finalizer` if set."""

    orphan: tuple[Message, ...] = ()
    check: tuple[Message, ...] = ()
    remove_finalizer: str | None = None


def owner_plan(owner: Message, dependents: Sequence[Message]) -> OwnerPlan:
    """What an owner being deleted is waiting for (see the module docstring)."""
    if not being_deleted(owner):
        return OwnerPlan()
    uid = owner.metadata.uid
    mine = [d for d in dependents if ref_to(d, uid) is not None]
    if ORPHAN in owner.metadata.finalizers:
        return OwnerPlan(orphan=tuple(mine), remove_finalizer=ORPHAN)
    if FOREGROUND in owner.metadata.finalizers:
        blocking = [d for d in mine if ref_to(d, uid).block_owner_deletion]
        if not blocking:
            return OwnerPlan(remove_finalizer=FOREGROUND)
        return OwnerPlan(check=tuple(d for d in mine if not being_deleted(d)))
    return OwnerPlan()


def without_refs(obj: Message, owner_uids: Sequence[str]) -> Message:
    """A copy of `obj` without its references to `owner_uids` (NEVER mutate the cache's object)."""
    new = type(obj)()
    new.CopyFrom(obj)
    kept = [r for r in new.metadata.owner_references if r.uid not in set(owner_uids)]
    del new.metadata.owner_references[:]
    new.metadata.owner_references.extend(kept)
    return new


def unblocked(obj: Message) -> Message:
    """A copy of `obj` with blockOwnerDeletion false on every reference."""
    new = type(obj)()
    new.CopyFrom(obj)
    for r in new.metadata.owner_references:
        if r.block_owner_deletion:
            r.block_owner_deletion = False
    return new


def without_finalizer(obj: Message, finalizer: str) -> Message:
    """A copy of `obj` without `finalizer` in metadata.finalizers."""
    new = type(obj)()
    new.CopyFrom(obj)
    kept = [f for f in new.metadata.finalizers if f != finalizer]
    del new.metadata.finalizers[:]
    new.metadata.finalizers.extend(kept)
    return new
