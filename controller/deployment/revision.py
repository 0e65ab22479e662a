"""Which ReplicaSet is a Deployment's new one, its name, its revision, and the history kept.

    pod_template_hash(d.spec.template, collision_count)   # "5d78c94b8f"-like, stable across runs
    find_new_replica_set(d, rss)        # the (oldest) RS whose template equals the Deployment's,
                                        # ignoring the pod-template-hash label: a rollback to an old
                                        # template reuses that template's ReplicaSet
    find_old_replica_sets(d, rss)       # -> (old with replicas, all old)
    new_replica_set(d, revision=3, replicas=2)            # the ReplicaSet to create
    sync_new_rs_annotations(d, rs_copy, revision, exists=True)   # revision, history, copied annotations
    history_to_delete(d, old_rss)       # old, empty ReplicaSets beyond revisionHistoryLimit

The hash is Kubernetes' scheme with a Skiff serialization: FNV-1a (32 bits) over the template's
deterministic protobuf encoding (map entries sorted, fields in number order) without the
pod-template-hash label, then the collision count as 4 little-endian bytes when the Deployment has
one; the decimal digits of the sum, each mapped through the alphabet `bcdfghjklmnpqrstvwxz2456789`
(Kubernetes' SafeEncodeString, so names never spell words). The values differ from Kubernetes' (it
hashes Go's printed form of the object), but are as stable: same template, same name, every run.

Revisions: the new ReplicaSet's revision is 1 + the largest among the old ones; a reused
ReplicaSet moves to that revision and records the revisions it had in REVISION_HISTORY. The
Deployment carries its new ReplicaSet's revision. Pure: no I/O.
"""
from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

from controller import ownership
from controller.deployment import annotations as ann
from controller.deployment.rollout import by_creation, max_surge, replicas
from skiffpb.k8s.apps.v1 import apps_pb2
from skiffpb.k8s.core.v1 import core_pb2

__all__ = [
    "HASH_ALPHABET", "MAX_REVISION_HISTORY_CHARS", "equal_ignore_hash", "find_new_replica_set",
    "find_old_replica_sets", "history_to_delete", "max_revision", "new_replica_set", "pod_template_hash",
    "revision", "sync_new_rs_annotations",
]

HASH_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"   # Kubernetes' rand.SafeEncodeString: no vowels, no 0, 1, 3
MAX_REVISION_HISTORY_CHARS = 2000                # Kubernetes' cap on the revision-history annotation
_FNV32_OFFSET = 0x811C9DC5
_FNV32_PRIME = 0x01000193


def _fnv1a32(data: bytes, h: int = _FNV32_OFFSET) -> int:
    for byte in data:
        h = ((h ^ byte) * _FNV32_PRIME) & 0xFFFFFFFF
    return h


def _without_hash(template: core_pb2.PodTemplateSpec) -> core_pb2.PodTemplateSpec:
    """A copy of `template` without the pod-template-hash label (and without a metadata left empty
    by that, so `{}` and absent compare and hash alike, as Kubernetes' nil and empty maps do)."""
    t = core_pb2.PodTemplateSpec()
    t.CopyFrom(template)
    t.metadata.labels.pop(ann.POD_TEMPLATE_HASH, None)
    if t.HasField("metadata") and t.metadata.ByteSize() == 0:
        t.ClearField("metadata")
    return t


def pod_template_hash(template: core_pb2.PodTemplateSpec, collision_count: int | None = None) -> str:
    """The pod-template-hash of `template` (its pod-template-hash label ignored): the suffix of the
    ReplicaSet's name and the value of the label that keeps its pods apart.

    `collision_count` (the Deployment's status.collisionCount, None when unset) changes the hash,
    so a Deployment whose name is taken by a ReplicaSet with another template can move on.
    """
    h = _fnv1a32(_without_hash(template).SerializeToString(deterministic=True))
    if collision_count is not None:
        h = _fnv1a32(struct.pack("<I", collision_count & 0xFFFFFFFF), h)
    return "".join(HASH_ALPHABET[ord(c) % len(HASH_ALPHABET)] for c in str(h))


def equal_ignore_hash(a: core_pb2.PodTemplateSpec, b: core_pb2.PodTemplateSpec) -> bool:
    """Whether two pod templates are equal but for their pod-template-hash labels."""
    return _without_hash(a) == _without_hash(b)


def find_new_replica_set(d: apps_pb2.Deployment, rss: Iterable[apps_pb2.ReplicaSet]) -> apps_pb2.ReplicaSet | None:
    """The ReplicaSet running the Deployment's current template (the oldest, if several do)."""
    for rs in sorted(rss, key=by_creation):
        if equal_ignore_hash(rs.spec.template, d.spec.template):
            return rs
    return None


def find_old_replica_sets(d: apps_pb2.Deployment, rss: Sequence[apps_pb2.ReplicaSet]
                          ) -> tuple[list[apps_pb2.ReplicaSet], list[apps_pb2.ReplicaSet]]:
    """(old ReplicaSets with replicas > 0, all old ReplicaSets): every one but the new one."""
    new = find_new_replica_set(d, rss)
    all_old = [rs for rs in rss if new is None or rs.metadata.uid != new.metadata.uid]
    return [rs for rs in all_old if replicas(rs) != 0], all_old


def revision(obj: apps_pb2.ReplicaSet | apps_pb2.Deployment) -> int:
    """The revision annotation as an integer; 0 when absent or not an integer."""
    text = obj.metadata.annotations.get(ann.REVISION)
    value = None if text is None else ann.parse_int(text)
    return 0 if value is None else value


def max_revision(rss: Iterable[apps_pb2.ReplicaSet]) -> int:
    """The largest revision among `rss` (0 for none)."""
    return max((revision(rs) for rs in rss), default=0)


def _copy_deployment_annotations(d: apps_pb2.Deployment, rs: apps_pb2.ReplicaSet) -> bool:
    """Every Deployment annotation but NOT_COPIED onto `rs` (added or overwritten, never removed:
    the change-cause of each revision stays on its ReplicaSet)."""
    changed = False
    for key, value in d.metadata.annotations.items():
        if key in ann.NOT_COPIED or rs.metadata.annotations.get(key) == value:
            continue
        rs.metadata.annotations[key] = value
        changed = True
    return changed


def sync_new_rs_annotations(d: apps_pb2.Deployment, rs: apps_pb2.ReplicaSet, new_revision: int, *,
                            exists: bool, max_history_chars: int = MAX_REVISION_HISTORY_CHARS) -> bool:
    """Brings the new ReplicaSet's annotations up to date; `rs` is a working copy (NEVER a cache
    object), changed in place. True if anything changed.

    - the Deployment's annotations (change-cause, ...) are copied;
    - the revision moves up to `new_revision` (never down: old ReplicaSets may have been deleted
      since it was set); a ReplicaSet that had a revision (reused by a rollback) appends its old
      one to REVISION_HISTORY, dropping the oldest entries beyond `max_history_chars`;
    - a ReplicaSet about to be created (`exists=False`) gets the desired/max-replicas annotations.
    """
    changed = _copy_deployment_annotations(d, rs)
    annotations = rs.metadata.annotations
    had = ann.REVISION in annotations
    old_text = annotations.get(ann.REVISION, "")
    old = ann.parse_int(old_text) if old_text else 0
    if old is None:
        return changed      # an unreadable revision is left for a person to look at
    if old < new_revision:
        annotations[ann.REVISION] = str(new_revision)
        changed = True
        if had:
            history = annotations.get(ann.REVISION_HISTORY, "")
            if not history:
                annotations[ann.REVISION_HISTORY] = old_text
            else:
                entries = history.split(",")
                total = len(history) + len(old_text) + 1
                start = 0
                while total > max_history_chars and start < len(entries):
                    total -= len(entries[start]) + 1
                    start += 1
                if total <= max_history_chars:
                    annotations[ann.REVISION_HISTORY] = ",".join(entries[start:] + [old_text])
    if not exists:
        want = replicas(d)
        changed = ann.set_replicas_annotations(rs, want, want + max_surge(d)) or changed
    return changed


def new_replica_set(d: apps_pb2.Deployment, *, revision: int, replicas: int) -> apps_pb2.ReplicaSet:
    """The ReplicaSet to create for the Deployment's current template: `<deployment>-<hash>`, the
    template and selector with the pod-template-hash label added, controlled by the Deployment,
    annotated with `revision`, desired and max replicas, and the Deployment's annotations."""
    collision = d.status.collision_count if d.status.HasField("collision_count") else None
    h = pod_template_hash(d.spec.template, collision)
    rs = apps_pb2.ReplicaSet(api_version="apps/v1", kind="ReplicaSet")
    rs.spec.template.CopyFrom(d.spec.template)
    rs.spec.template.metadata.labels[ann.POD_TEMPLATE_HASH] = h
    rs.spec.selector.CopyFrom(d.spec.selector)
    rs.spec.selector.match_labels[ann.POD_TEMPLATE_HASH] = h
    rs.spec.replicas = replicas
    if d.spec.min_ready_seconds:
        rs.spec.min_ready_seconds = d.spec.min_ready_seconds
    md = rs.metadata
    md.name = f"{d.metadata.name}-{h}"
    if d.metadata.namespace:
        md.namespace = d.metadata.namespace
    md.labels.update(rs.spec.template.metadata.labels)
    md.owner_references.append(ownership.owner_reference(d, kind="Deployment"))
    sync_new_rs_annotations(d, rs, revision, exists=False)
    return rs


def history_to_delete(d: apps_pb2.Deployment, old_rss: Iterable[apps_pb2.ReplicaSet]) -> list[apps_pb2.ReplicaSet]:
    """The old ReplicaSets beyond spec.revisionHistoryLimit to delete, lowest revision first.

    Only empty ones (spec and status replicas 0, status caught up with the spec) go; ReplicaSets
    being deleted neither go again nor count. No limit set: keep everything.
    """
    if not d.spec.HasField("revision_history_limit") or d.spec.revision_history_limit == 2 ** 31 - 1:
        return []
    alive = [rs for rs in old_rss if not ownership.is_being_deleted(rs)]
    excess = len(alive) - d.spec.revision_history_limit
    if excess <= 0:
        return []
    alive.sort(key=lambda rs: (revision(rs), by_creation(rs)))
    return [rs for rs in alive[:excess]
            if rs.status.replicas == 0 and replicas(rs) == 0
            and rs.metadata.generation <= rs.status.observed_generation]
