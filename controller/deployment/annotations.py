"""The annotations through which a Deployment and its ReplicaSets keep rollout state.

- REVISION on each ReplicaSet (and on the Deployment: its current revision), an integer string;
- REVISION_HISTORY on a ReplicaSet reused by a rollback: the revisions it had before, `1,3`;
- DESIRED_REPLICAS / MAX_REPLICAS on each ReplicaSet: the Deployment's replicas and replicas +
  maxSurge when the ReplicaSet was last scaled, so a later change of replicas is recognised as a
  scaling event and spread proportionally;
- CHANGE_CAUSE (`kubectl --record`, `kubectl annotate`): copied from the Deployment to the
  ReplicaSet of the revision, as every Deployment annotation but the ones in NOT_COPIED.
Pure: no I/O.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

from google.protobuf.message import Message

__all__ = [
    "CHANGE_CAUSE", "DESIRED_REPLICAS", "LAST_APPLIED", "MAX_REPLICAS", "NOT_COPIED",
    "POD_TEMPLATE_HASH", "REVISION", "REVISION_HISTORY", "ROLLBACK_TO", "int_annotation", "parse_int",
    "replicas_annotations_need_update", "set_replicas_annotations",
]

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
CHANGE_CAUSE = "kubernetes.io/change-cause"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
# The label (and selector term) that tells the pods of one template from another's.
POD_TEMPLATE_HASH = "pod-template-hash"

# Deployment annotations that stay on the Deployment (Kubernetes' annotationsToSkip).
NOT_COPIED = frozenset({LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO})

_INT = re.compile(r"[+-]?[0-9]+")   # Go's strconv.ParseInt(s, 10, ...) before its range check
_INT32 = (-(2 ** 31), 2 ** 31 - 1)
_INT64 = (-(2 ** 63), 2 ** 63 - 1)


def parse_int(text: str, bits: int = 64) -> int | None:
    """`text` as Go's strconv.ParseInt(text, 10, bits) reads it; None if it does not."""
    if not _INT.fullmatch(text):
        return None
    value = int(text)
    lo, hi = _INT32 if bits == 32 else _INT64
    return value if lo <= value <= hi else None


def int_annotation(obj: Message, key: str) -> int | None:
    """An int32 annotation of `obj`; None when absent or not an integer."""
    text = obj.metadata.annotations.get(key)
    return None if text is None else parse_int(text, 32)


def replicas_annotations_need_update(annotations: Mapping[str, str], desired: int, max_replicas: int) -> bool:
    return (annotations.get(DESIRED_REPLICAS) != str(desired)
            or annotations.get(MAX_REPLICAS) != str(max_replicas))


def set_replicas_annotations(rs: Message, desired: int, max_replicas: int) -> bool:
    """Sets DESIRED_REPLICAS and MAX_REPLICAS on `rs` (a working copy, NEVER a cache object);
    True if anything changed."""
    ann = rs.metadata.annotations
    if not replicas_annotations_need_update(ann, desired, max_replicas):
        return False
    ann[DESIRED_REPLICAS] = str(desired)
    ann[MAX_REPLICAS] = str(max_replicas)
    return True
