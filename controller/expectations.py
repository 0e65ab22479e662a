"""Expectations: what a controller has asked for and not yet seen in its informer cache.

A controller that creates 3 pods and syncs again before its cache shows them would create 3 more.
So before acting it records what it expects to observe, and holds off creating or deleting (for
that key) until the cache has caught up, or until the record is too old to trust (a watch event
lost, a create that failed without our knowing). This is Kubernetes' ControlleeExpectations with
the deletion side tracked by pod uid (its UIDTrackingControllerExpectations), so that the two
observations of one deletion (deletionTimestamp set, then the object gone) count once.

The record is an immutable value; the shell keeps `dict[key, Expectations]` and replaces entries:

    # sync(key), before writing the plan:
    table[key] = Expectations.expecting(add=plan.create, delete=[p.metadata.uid for p in plan.delete], now=now)
    # a create the shell skipped or that failed (slow start stops at the first error):
    table[key] = table[key].creation_observed(count=skipped)
    # on_pod_add for a pod whose controller is `key`:
    table[key] = table[key].creation_observed()
    # on_pod_update (deletionTimestamp newly set) and on_pod_delete:
    table[key] = table[key].deletion_observed(pod.metadata.uid)
    # a failed delete:
    table[key] = table[key].deletion_observed(uid)
    # sync(key) decides:
    ok = satisfied(table.get(key), now)
    # the owner is gone: del table[key]

Pure: `now` comes in; nothing here reads a clock.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

__all__ = ["EXPECTATIONS_TTL", "Expectations", "satisfied"]

# Kubernetes' ExpectationsTimeout: after this long an unfulfilled record is presumed lost (a watch
# event we will never see) and the controller acts on what its cache shows.
EXPECTATIONS_TTL = 300.0


@dataclass(frozen=True)
class Expectations:
    """Creations still to observe (`add`) and uids whose deletion is still to observe (`deleting`).

    `timestamp` is when the record was set (seconds, the shell's `now`), for the TTL.
    """

    add: int = 0
    deleting: frozenset[str] = frozenset()
    timestamp: float = 0.0

    @classmethod
    def expecting(cls, *, add: int = 0, delete: Iterable[str] = (), now: float) -> Expectations:
        """A fresh record: `add` creations and the deletion of the pods with uids `delete`."""
        if add < 0:
            raise ValueError(f"add: must be >= 0, got {add}")
        return cls(add=add, deleting=frozenset(delete), timestamp=now)

    @property
    def delete(self) -> int:
        """Deletions still to observe."""
        return len(self.deleting)

    def creation_observed(self, count: int = 1) -> Expectations:
        """One (or `count`) expected creation seen, or given up on. Never goes below zero."""
        return replace(self, add=max(self.add - count, 0))

    def deletion_observed(self, uid: str) -> Expectations:
        """The deletion of pod `uid` seen (or given up on). Unknown uids change nothing."""
        if uid not in self.deleting:
            return self
        return replace(self, deleting=self.deleting - {uid})

    @property
    def fulfilled(self) -> bool:
        """Everything expected has been observed."""
        return self.add <= 0 and not self.deleting

    def expired(self, now: float, ttl: float = EXPECTATIONS_TTL) -> bool:
        """Older than `ttl`: no longer trusted to hold the controller back."""
        return now - self.timestamp > ttl

    def satisfied(self, now: float, ttl: float = EXPECTATIONS_TTL) -> bool:
        """Whether the controller may create or delete again: fulfilled, or expired."""
        return self.fulfilled or self.expired(now, ttl)


def satisfied(record: Expectations | None, now: float, ttl: float = EXPECTATIONS_TTL) -> bool:
    """`record.satisfied(now)`, and True when there is no record (nothing asked for yet, or a
    controller restart: the cache, fully synced, is then the truth)."""
    return record is None or record.satisfied(now, ttl)
