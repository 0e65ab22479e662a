"""Apply's pure core: the last-applied annotation and a three-way merge of manifest into live object.

Why a three-way merge, not "replace the top-level fields": the live object holds values the user never
wrote, added by the server and by controllers: defaults (`strategy`, `imagePullPolicy`), allocations
(`spec.clusterIP`, `nodePort`), the scheduler's `spec.nodeName`, other tools' annotations. Replacing
`spec` wholesale would drop them, so re-applying an unchanged manifest would always look like a change
(never `unchanged`) and would fight the allocator and immutable-field checks. kubectl's rule, kept here:

- a field in the manifest takes the manifest's value (objects merge field by field);
- a field in the last applied manifest but no longer in this one is removed;
- any other live field is kept.

Lists of objects are matched by a merge key (`containerPort`, `port`, `mountPath`, `name`, ... as
Kubernetes' strategic merge does) or, without one, by position when the lengths agree; the manifest
decides which items exist and their order. Other lists are replaced. `status` and the server's
`metadata` fields are the live object's. All values are in client.codec's canonical JSON form.
"""
from __future__ import annotations

import copy
import json
from typing import Any

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

# Kubernetes' strategic-merge keys for the lists Skiff's kinds carry, tried in this order: ports by
# number before name (a port's name is optional and may be added later), then volume mounts by path,
# then containers, env, volumes by name.
MERGE_KEYS = ("containerPort", "port", "mountPath", "devicePath", "name", "ip", "topologyKey")


def last_applied(data: dict) -> str:
    """The annotation's value: the manifest as JSON (keys sorted, compact, newline-terminated, as kubectl)."""
    doc = copy.deepcopy(data)
    annotations = (doc.get("metadata") or {}).get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(LAST_APPLIED, None)
        if not annotations:
            del doc["metadata"]["annotations"]
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


def merge(live: Any, last: Any, want: Any) -> Any:
    """`want` merged into `live`; fields of `last` missing from `want` are removed. Inputs are not changed."""
    if isinstance(want, dict) and isinstance(live, dict):
        out = dict(live)
        last_d = last if isinstance(last, dict) else {}
        for key in last_d:
            if key not in want:
                out.pop(key, None)
        for key, value in want.items():
            out[key] = merge(live.get(key), last_d.get(key), value)
        return out
    if isinstance(want, list) and isinstance(live, list):
        return _merge_list(live, last if isinstance(last, list) else [], want)
    return copy.deepcopy(want)


def _merge_list(live: list, last: list, want: list) -> list:
    if not want or not all(isinstance(w, dict) for w in want):
        return copy.deepcopy(want)
    key = merge_key(want)
    if key is not None:
        live_by = {item.get(key): item for item in live if isinstance(item, dict)}
        last_by = {item.get(key): item for item in last if isinstance(item, dict)}
        return [merge(live_by[w[key]], last_by.get(w[key]), w) if w[key] in live_by else copy.deepcopy(w)
                for w in want]
    if len(live) == len(want):
        lasts = last if len(last) == len(want) else [None] * len(want)
        return [merge(l_, la, w) for l_, la, w in zip(live, lasts, want)]
    return copy.deepcopy(want)


def merge_key(items: list[dict]) -> str | None:
    """The first of MERGE_KEYS that every item has, with distinct values; None if there is none."""
    for key in MERGE_KEYS:
        values = [item.get(key) for item in items]
        if all(v is not None for v in values) and len(set(map(repr, values))) == len(values):
            return key
    return None


def planned_update(live: dict, want: dict, annotation: str) -> dict:
    """The object to send as the Update: `want` (the manifest, canonical form) merged into `live`.

    `annotation` is the new last-applied value; the previous one (in `live`) tells what was removed."""
    previous = _previous(live)
    want = {k: v for k, v in want.items() if k != "status"}
    want_meta = dict(want.get("metadata") or {})
    want_meta["annotations"] = {**(want_meta.get("annotations") or {}), LAST_APPLIED: annotation}
    want["metadata"] = want_meta
    previous = {k: v for k, v in previous.items() if k != "status"}
    return merge(live, previous, want)


def _previous(live: dict) -> dict:
    raw = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    if not raw:
        return {}
    try:
        doc = json.loads(raw)
    except ValueError:
        return {}  # someone else's garbage: behave as if there were no record
    return doc if isinstance(doc, dict) else {}


def is_unchanged(live: dict, planned: dict) -> bool:
    """True when sending `planned` would not change `live` (resourceVersion aside)."""
    return _without_rv(live) == _without_rv(planned)


def _without_rv(obj: dict) -> dict:
    out = dict(obj)
    meta = dict(out.get("metadata") or {})
    meta.pop("resourceVersion", None)
    out["metadata"] = meta
    return out
