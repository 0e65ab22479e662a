"""The Patch verb's three patch types, applied to objects in Kubernetes' JSON form (plain dicts).

    json_merge_patch(target, patch)            # application/merge-patch+json, RFC 7386
    json_patch(target, ops)                    # application/json-patch+json, RFC 6902
    strategic_merge_patch(target, patch, kind) # application/strategic-merge-patch+json

Pure: no I/O; the inputs are never mutated and the result shares no containers with them. Every
failure is a `PatchError` whose message says where: `op 2 (remove /spec/x): path not found`,
`spec.template.spec.containers[1]: merge key "name" missing`. The Patch handler is meant to answer
it as Kubernetes answers a patch that does not apply: 422 Unprocessable Entity. The patched object is
then decoded, defaulted and validated like any update, so a patch that yields a bad object fails
there, with the field's path.

JSON patch: ops apply in order to a copy, all or nothing. Pointers use `~0`/`~1` escapes; `-` is the
end of a list (for add only). "op N" counts from 0, like the index into the ops list.

Strategic merge patch (Kubernetes' apimachinery `strategicpatch`, v1.20): a JSON merge patch in which
some lists merge instead of being replaced, per the field's `patchStrategy`/`patchMergeKey` tags.
- Objects merge recursively; `null` deletes a key; a scalar, or a value of another type, replaces.
- A list tagged `merge` with a merge key (e.g. containers by `name`): each patch element whose key
  matches a live element is merged into it recursively; the others are added; live elements the patch
  does not mention are kept. A `merge` list without a key (finalizers) is a set of primitives: union,
  no duplicates. Any other list is replaced as a whole.
- Order, as apimachinery's mergeSortedSlice has it: the patch's elements in the patch's order; a live
  element the patch does not mention stays ahead of the mentioned live elements that followed it,
  but not ahead of new ones. So `containers: [{name: c}]` against [a, b] gives [c, a, b] (as in the
  Kubernetes docs' `kubectl patch` example), and [b, c] against [a, b] gives [a, b, c].
  `$setElementOrder` (which `kubectl apply` always sends) states the order outright.
- Directives: `$patch: replace` in an object replaces the object with the rest of the patch; in a list
  element it replaces the list with the patch's other elements. `$patch: delete` in an object empties
  it (Kubernetes leaves `{}`); in a list element it deletes the live elements with that merge key.
  `$retainKeys: [k...]` in an object drops the live keys not listed (and every non-null key of the
  patch must be listed). `$deleteFromPrimitiveList/<f>: [v...]` removes values from the primitive
  merging list f. `$setElementOrder/<f>: [...]` (merge keys as `{name: a}`, or the primitives) orders
  list f: listed elements in that order, unlisted live elements kept where they were relative to them.
  As in Kubernetes, `$retainKeys` is honoured in any object, whatever the field's tag says.

Where the strategies come from: a type-aware walk. Each kind's schema is a tree of `Field(strategy,
merge_key, schema)` mirroring the Go types, so one `_POD_SPEC` serves Pod `spec` and the pod
templates of Deployment and ReplicaSet, and `ports` merges by `containerPort` in a Container but by
`port` in a ServiceSpec. Fields not in the tree have no strategy (lists replaced, objects merged).
`merge_strategies(kind)` flattens a kind's tree to paths: `("spec", "containers", "*", "ports")`.

The table: every patchStrategy tag of k8s.io/api v1.20 on the kinds Skiff serves.

    type (where)                                    field                      strategy          merge key
    ObjectMeta (every kind's metadata,              ownerReferences            merge             uid
      pod templates' metadata)                      finalizers                 merge             (primitives)
    PodSpec (Pod spec, Deployment/ReplicaSet        containers                 merge             name
      spec.template.spec)                           initContainers             merge             name
                                                    ephemeralContainers        merge             name
                                                    volumes                    merge,retainKeys  name
                                                    imagePullSecrets           merge             name
                                                    hostAliases                merge             ip
                                                    topologySpreadConstraints  merge             topologyKey
    Container (containers, initContainers)          ports                      merge             containerPort
                                                    env                        merge             name
                                                    volumeMounts               merge             mountPath
                                                    volumeDevices              merge             devicePath
    EphemeralContainer (v1.20: ports untagged)      env, volumeMounts, volumeDevices, as Container
    Volume.ephemeral.volumeClaimTemplate            metadata                   ObjectMeta's
    PodStatus                                       conditions                 merge             type
                                                    podIPs                     merge             ip
    ServiceSpec                                     ports                      merge             port
    ServiceStatus                                   conditions                 merge             type
    NodeSpec                                        podCIDRs                   merge             (primitives)
    NodeStatus                                      conditions                 merge             type
                                                    addresses                  merge             type
    NamespaceStatus                                 conditions                 merge             type
    DeploymentSpec                                  strategy                   retainKeys        -
    DeploymentStatus, ReplicaSetStatus              conditions                 merge             type

Replaced as a whole, because v1.20 tags them with no strategy: tolerations, envFrom, command, args,
readinessGates, containerStatuses, Node `taints` (untagged in Kubernetes, though keyed by `key`),
Namespace `spec.finalizers`, Endpoints `subsets`, Ingress `rules`/`tls`, selector `matchExpressions`.
Event, ConfigMap, Endpoints, Ingress and Lease have no tags beyond metadata's.

Where this differs from apimachinery on purpose (each is an error or garbage there, not a feature):
- A value added where the object had none (or had another type) is the patch value with its
  directives applied to nothing; apimachinery copies it raw, `$patch`/`$retainKeys` keys included.
- `$setElementOrder` and `$deleteFromPrimitiveList` on a field that is not a merging list (of
  primitives, for the latter) are errors; apimachinery panics, or replaces the list with the deletion
  list. `$patch` inside an element of a replaced list is an error (apimachinery stores it as data).
- Keys starting with `$` that are not directives are errors (no Kubernetes field or key starts so).
- Live list elements without the merge key are kept in place instead of failing the patch.
"""
from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping, Sequence

__all__ = [
    "PatchError", "Field", "SCHEMAS", "json_merge_patch", "json_patch", "strategic_merge_patch",
    "merge_strategies",
]

Json = Any
FieldPath = tuple  # of str (object keys) and int (list indexes)


class PatchError(ValueError):
    """A patch that cannot be applied; the message names the op or field path and what is wrong."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# -- JSON merge patch (RFC 7386) --------------------------------------------------------------------

def json_merge_patch(target: Json, patch: Json) -> Json:
    """RFC 7386: objects merge recursively, `null` deletes a key, anything else replaces."""
    return _merge_7386(copy.deepcopy(target), patch)


def _merge_7386(target: Json, patch: Json) -> Json:
    # `target` is ours (already copied); patch values are copied as they are placed.
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = _merge_7386(target.get(key), value)
    return target


# -- JSON patch (RFC 6902) --------------------------------------------------------------------------

_OPS = ("add", "remove", "replace", "move", "copy", "test")
_ABSENT = object()


def json_patch(target: Json, ops: Sequence[Json]) -> Json:
    """RFC 6902: apply `ops` in order to a copy of `target`; any failing op fails the whole patch."""
    if not isinstance(ops, list):
        raise PatchError(f"a JSON patch must be a list of operations, not {_json_type(ops)}")
    doc = copy.deepcopy(target)
    for index, op in enumerate(ops):
        doc = _apply_op(doc, index, op)
    return doc


class _Op:
    """One operation being applied: its parsed members and how to name it in an error."""

    def __init__(self, index: int, op: Json):
        if not isinstance(op, dict):
            raise PatchError(f"op {index}: an operation must be an object, not {_json_type(op)}")
        self.name = op.get("op")
        self.path = op.get("path")
        self.label = f"op {index}"
        if isinstance(self.name, str) and isinstance(self.path, str):
            self.label += f" ({self.name} {self.path or json.dumps(self.path)}"
            if isinstance(op.get("from"), str) and self.name in ("move", "copy"):
                self.label += f" from {op['from']}"
            self.label += ")"
        if "op" not in op:
            self.fail('missing "op"')
        if self.name not in _OPS:
            self.fail(f"unknown op {json.dumps(self.name)} (want add, remove, replace, move, copy or test)")
        if not isinstance(self.path, str):
            self.fail('missing "path"' if "path" not in op else '"path" must be a string')
        self.tokens = self.pointer(self.path)
        self.value = op.get("value", _ABSENT)
        if self.name in ("add", "replace", "test") and self.value is _ABSENT:
            self.fail('missing "value"')
        self.source: list[str] = []
        if self.name in ("move", "copy"):
            if not isinstance(op.get("from"), str):
                self.fail('missing "from"' if "from" not in op else '"from" must be a string')
            self.source = self.pointer(op["from"])

    def fail(self, message: str):
        raise PatchError(f"{self.label}: {message}")

    def pointer(self, text: str) -> list[str]:
        if text == "":
            return []
        if not text.startswith("/"):
            self.fail(f"JSON pointer {json.dumps(text)} must be empty or start with /")
        tokens = []
        for raw in text[1:].split("/"):
            rest = raw.replace("~0", "").replace("~1", "")
            if "~" in rest:
                self.fail(f"JSON pointer {json.dumps(text)}: ~ must be followed by 0 or 1")
            tokens.append(raw.replace("~1", "/").replace("~0", "~"))
        return tokens


def _apply_op(doc: Json, index: int, raw: Json) -> Json:
    op = _Op(index, raw)
    if op.name == "add":
        return _add(op, doc, op.tokens, copy.deepcopy(op.value))
    if op.name == "remove":
        _remove(op, doc, op.tokens)
        return doc
    if op.name == "replace":
        if not op.tokens:
            return copy.deepcopy(op.value)
        parent, last = _locate(op, doc, op.tokens)
        _existing(op, parent, last, op.tokens)
        parent[_slot(op, parent, last, op.tokens)] = copy.deepcopy(op.value)
        return doc
    if op.name == "test":
        actual = _get(op, doc, op.tokens)
        if not _json_equal(actual, op.value):
            op.fail(f"test failed: the value is {_show(actual)}, not {_show(op.value)}")
        return doc
    if op.name == "copy":
        return _add(op, doc, op.tokens, copy.deepcopy(_get(op, doc, op.source)))
    # move: remove then add, so list indexes in "path" count after the removal (RFC 6902 4.4)
    if op.tokens[:len(op.source)] == op.source and len(op.tokens) > len(op.source):
        op.fail("cannot move a value into one of its own children")
    if op.tokens == op.source:
        _get(op, doc, op.source)
        return doc
    return _add(op, doc, op.tokens, _remove(op, doc, op.source))


def _locate(op: _Op, doc: Json, tokens: list[str]) -> tuple[Json, str]:
    """The container holding the last token, which must be an object or a list."""
    parent = _get(op, doc, tokens[:-1])
    if not isinstance(parent, (dict, list)):
        op.fail(f"path not found: {_pointer(tokens[:-1]) or 'the document'} is {_json_type(parent)}, "
                "not an object or list")
    return parent, tokens[-1]


def _get(op: _Op, doc: Json, tokens: list[str]) -> Json:
    node = doc
    for depth, token in enumerate(tokens):
        here = _pointer(tokens[:depth]) or "the document"
        if isinstance(node, dict):
            if token not in node:
                op.fail("path not found" if depth == len(tokens) - 1 and tokens == op.tokens
                        else f"path not found: {_pointer(tokens[:depth + 1])} does not exist")
            node = node[token]
        elif isinstance(node, list):
            node = node[_list_index(op, node, token, tokens[:depth], allow_end=False)]
        else:
            op.fail(f"path not found: {here} is {_json_type(node)}, not an object or list")
    return node


def _list_index(op: _Op, items: list, token: str, where: list[str], *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(items)
    if not (token.isdigit() and token.isascii()) or (len(token) > 1 and token[0] == "0"):
        op.fail(f"{json.dumps(token)} is not an index into "
                f"{'the list ' + _pointer(where) if where else 'the document, a list'}")
    i = int(token)
    limit = len(items) if allow_end else len(items) - 1
    if i > limit:
        op.fail(f"path not found: index {i} is out of range for {_pointer(where) or 'the document'}, "
                f"which has {len(items)} element{'' if len(items) == 1 else 's'}")
    return i


def _slot(op: _Op, parent: Json, last: str, tokens: list[str]) -> Any:
    return last if isinstance(parent, dict) else _list_index(op, parent, last, tokens[:-1], allow_end=False)


def _existing(op: _Op, parent: Json, last: str, tokens: list[str]) -> None:
    if isinstance(parent, dict) and last not in parent:
        op.fail("path not found")


def _add(op: _Op, doc: Json, tokens: list[str], value: Json) -> Json:
    if not tokens:
        return value
    parent, last = _locate(op, doc, tokens)
    if isinstance(parent, dict):
        parent[last] = value
    else:
        parent.insert(_list_index(op, parent, last, tokens[:-1], allow_end=True), value)
    return doc


def _remove(op: _Op, doc: Json, tokens: list[str]) -> Json:
    if not tokens:
        op.fail("cannot remove the whole document")
    parent, last = _locate(op, doc, tokens)
    _existing(op, parent, last, tokens)
    return parent.pop(_slot(op, parent, last, tokens))


def _pointer(tokens: Sequence[str]) -> str:
    return "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in tokens)


def _json_type(value: Json) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _json_equal(a: Json, b: Json) -> bool:
    """JSON equality: 1 == 1.0, but true != 1 (Python's == says otherwise)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def _show(value: Json) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= 80 else text[:77] + "..."


# -- strategic merge patch: the schema --------------------------------------------------------------

@dataclass(frozen=True)
class Field:
    """A field's Kubernetes patch tags, and the fields of its value (or of each list element)."""

    strategy: str = ""          # Kubernetes' patchStrategy tag: "", merge, replace, retainKeys, merge,retainKeys
    merge_key: str = ""         # patchMergeKey; "" with merge = a set of primitives
    schema: Mapping[str, "Field"] | None = None

    @property
    def merges(self) -> bool:
        return "merge" in self.strategy.split(",")

    @property
    def replaces(self) -> bool:
        return "replace" in self.strategy.split(",")


Schema = Mapping[str, Field]
_UNTAGGED = Field()


def _fields(**fields: Field) -> Schema:
    return MappingProxyType(fields)


_OBJECT_META = _fields(
    ownerReferences=Field("merge", "uid"),
    finalizers=Field("merge"),
)
_CONTAINER = _fields(
    ports=Field("merge", "containerPort"),
    env=Field("merge", "name"),
    volumeMounts=Field("merge", "mountPath"),
    volumeDevices=Field("merge", "devicePath"),
)
_EPHEMERAL_CONTAINER = _fields(**{k: v for k, v in _CONTAINER.items() if k != "ports"})
_VOLUME = _fields(ephemeral=Field(schema=_fields(
    volumeClaimTemplate=Field(schema=_fields(metadata=Field(schema=_OBJECT_META))))))
_POD_SPEC = _fields(
    volumes=Field("merge,retainKeys", "name", _VOLUME),
    initContainers=Field("merge", "name", _CONTAINER),
    containers=Field("merge", "name", _CONTAINER),
    ephemeralContainers=Field("merge", "name", _EPHEMERAL_CONTAINER),
    imagePullSecrets=Field("merge", "name"),
    hostAliases=Field("merge", "ip"),
    topologySpreadConstraints=Field("merge", "topologyKey"),
)
_POD_TEMPLATE = _fields(metadata=Field(schema=_OBJECT_META), spec=Field(schema=_POD_SPEC))
_CONDITIONS = _fields(conditions=Field("merge", "type"))


def _kind(**fields: Field) -> Schema:
    return _fields(metadata=Field(schema=_OBJECT_META), **fields)


SCHEMAS: Mapping[str, Schema] = MappingProxyType({
    "Pod": _kind(spec=Field(schema=_POD_SPEC), status=Field(schema=_fields(
        conditions=Field("merge", "type"), podIPs=Field("merge", "ip")))),
    "Service": _kind(spec=Field(schema=_fields(ports=Field("merge", "port"))),
                     status=Field(schema=_CONDITIONS)),
    "Node": _kind(spec=Field(schema=_fields(podCIDRs=Field("merge"))), status=Field(schema=_fields(
        conditions=Field("merge", "type"), addresses=Field("merge", "type")))),
    "Namespace": _kind(status=Field(schema=_CONDITIONS)),
    "Endpoints": _kind(),
    "ConfigMap": _kind(),
    "Event": _kind(),
    "Deployment": _kind(spec=Field(schema=_fields(template=Field(schema=_POD_TEMPLATE),
                                                  strategy=Field("retainKeys"))),
                        status=Field(schema=_CONDITIONS)),
    "ReplicaSet": _kind(spec=Field(schema=_fields(template=Field(schema=_POD_TEMPLATE))),
                        status=Field(schema=_CONDITIONS)),
    "Ingress": _kind(),
    "Lease": _kind(),
})


def merge_strategies(kind: str | Schema) -> dict[tuple[str, ...], tuple[str, str]]:
    """A kind's tagged fields as paths from the object root (`*` = each list element) → (strategy, key)."""
    table: dict[tuple[str, ...], tuple[str, str]] = {}

    def walk(schema: Schema, prefix: tuple[str, ...]) -> None:
        for name, field in schema.items():
            path = prefix + (name,)
            if field.strategy:
                table[path] = (field.strategy, field.merge_key)
            if field.schema:
                walk(field.schema, path + ("*",) if field.merges else path)

    walk(_schema_of(kind), ())
    return table


def _schema_of(kind: str | Schema) -> Schema:
    if isinstance(kind, Mapping):
        return kind
    try:
        return SCHEMAS[kind]
    except (KeyError, TypeError):
        raise PatchError(f"strategic merge patch is not supported for kind {kind!r} (it knows "
                         f"{', '.join(sorted(SCHEMAS))}); use a JSON merge patch or a JSON patch") from None


# -- strategic merge patch: applying ----------------------------------------------------------------

_PATCH = "$patch"
_RETAIN_KEYS = "$retainKeys"
_SET_ORDER = "$setElementOrder/"
_DELETE_FROM = "$deleteFromPrimitiveList/"


def strategic_merge_patch(target: Json, patch: Json, kind: str | Schema) -> Json:
    """Kubernetes' strategic merge patch of `target` by `patch`, with `kind`'s patch strategies.

    `kind` is a kind Skiff serves (`"Deployment"`, a key of `SCHEMAS`) or a schema of `Field`s.
    """
    schema = _schema_of(kind)
    if not isinstance(target, dict):
        raise PatchError(f"the object to patch must be a JSON object, not {_json_type(target)}")
    if not isinstance(patch, dict):
        raise PatchError(f"a strategic merge patch must be a JSON object, not {_json_type(patch)}")
    return _merge_object(copy.deepcopy(target), patch, schema, ())


def _merge_object(live: dict, patch: dict, schema: Schema, path: FieldPath) -> dict:
    """Merge `patch` into `live` (ours to change) and return it."""
    if _PATCH in patch:
        directive = patch[_PATCH]
        if directive == "replace":
            rest = {k: v for k, v in patch.items() if k != _PATCH}
            return _merge_object({}, rest, schema, path)
        if directive == "delete":
            return {}
        raise PatchError(f'{_where(path)}: unknown $patch directive {_show(directive)} in an object '
                         '(want "replace" or "delete")')

    patch = dict(patch)   # we pop the directives off; NEVER mutate the caller's patch
    retain = patch.pop(_RETAIN_KEYS, _ABSENT)
    orders = {k[len(_SET_ORDER):]: patch.pop(k) for k in list(patch) if k.startswith(_SET_ORDER)}
    deletions = {k[len(_DELETE_FROM):]: patch.pop(k) for k in list(patch) if k.startswith(_DELETE_FROM)}
    for key in patch:
        if key.startswith("$"):
            raise PatchError(f"{_where(path + (key,))}: unknown patch directive (want $patch, $retainKeys, "
                             "$setElementOrder/<list> or $deleteFromPrimitiveList/<list>)")
    for name in [*orders, *deletions]:
        if not name:
            raise PatchError(f"{_where(path)}: a $setElementOrder/ or $deleteFromPrimitiveList/ "
                             "directive must name its list")

    if retain is not _ABSENT:
        _retain_keys(live, patch, retain, path)

    # Deletions first: Kubernetes applies them in map order, which only matters for a value both
    # added and deleted by the same patch, and no tool writes such a patch.
    for name, values in deletions.items():
        _delete_from_primitive_list(live, name, values, schema.get(name, _UNTAGGED), path)

    for key, value in patch.items():
        if value is None:
            live.pop(key, None)
        elif key not in orders:
            live[key] = _merge_value(live.get(key, _ABSENT), value, schema.get(key, _UNTAGGED), path + (key,))

    for name, order in orders.items():
        _set_element_order(live, name, order, patch.get(name, _ABSENT), schema.get(name, _UNTAGGED), path)
    return live


def _merge_value(live: Json, patch: Json, field: Field, path: FieldPath) -> Json:
    schema = field.schema or {}
    if isinstance(patch, dict):
        if isinstance(live, dict) and not field.replaces:
            return _merge_object(live, patch, schema, path)
        return _merge_object({}, patch, schema, path)
    if isinstance(patch, list):
        return _merge_list(live if isinstance(live, list) else [], patch, field, path)
    return patch


def _merge_list(live: list, patch: list, field: Field, path: FieldPath, order: list | None = None) -> list:
    """Merge or replace a list per its field's strategy; `order` is its $setElementOrder list, if any."""
    schema = field.schema or {}
    if not field.merges:
        return [_materialize_element(item, schema, path + (i,), path) for i, item in enumerate(patch)]

    key = field.merge_key
    if not key:
        for i, item in enumerate(patch):
            if isinstance(item, (dict, list)):
                raise PatchError(f"{_where(path + (i,))}: {_where(path)} is a merging list of primitives; "
                                 f"got {_json_type(item)}")
        merged = _order(list({_key(v): v for v in [*live, *patch]}.values()), patch, live, None)
        return merged if order is None else _order(merged, order, live, None)

    plain: list[tuple[int, dict]] = []
    replace = False
    original = live
    for i, item in enumerate(patch):
        if not isinstance(item, dict):
            raise PatchError(f'{_where(path + (i,))}: expected an object with merge key "{key}", '
                             f"got {_json_type(item)}")
        if _PATCH not in item:
            plain.append((i, item))
            continue
        directive = item[_PATCH]
        if directive == "delete":
            value = _merge_key(item, key, path + (i,))
            live = [e for e in live if not (isinstance(e, dict) and key in e and _key(e[key]) == value)]
        elif directive == "replace":
            replace = True   # the element's other keys are ignored, as in Kubernetes
        elif directive == "merge":
            raise PatchError(f'{_where(path + (i,))}: "$patch: merge" is not supported in a list')
        else:
            raise PatchError(f'{_where(path + (i,))}: unknown $patch directive {_show(directive)} in a list '
                             '(want "replace" or "delete")')

    if replace:
        for i, item in plain:
            _merge_key(item, key, path + (i,))
        merged = [_merge_object({}, item, schema, path + (i,)) for i, item in plain]
        return merged if order is None else _order(merged, order, original, key)

    result = list(live)
    for i, item in plain:
        value = _merge_key(item, key, path + (i,))
        at = next((n for n, e in enumerate(result)
                   if isinstance(e, dict) and key in e and _key(e[key]) == value), None)
        if at is None:
            result.append(_merge_object({}, item, schema, path + (i,)))
        else:
            result[at] = _merge_object(result[at], item, schema, path + (i,))
    merged = _order(result, [item for _, item in plain], live, key)
    if order is None:
        return merged
    # The live order apimachinery compares against here is its live slice as the merge left the
    # shared backing array: deletions shifted left, added elements written over the freed tail.
    # Emulated so that delete + add + reorder in one patch lands where Kubernetes puts it.
    return _order(merged, order, result[:len(original)], key)


def _materialize_element(item: Json, schema: Schema, path: FieldPath, list_path: FieldPath) -> Json:
    if isinstance(item, dict):
        if _PATCH in item:
            raise PatchError(f"{_where(path)}: $patch is only meaningful in a merging list; "
                             f"{_where(list_path)} is replaced as a whole")
        return _merge_object({}, item, schema, path)
    return copy.deepcopy(item)


def _merge_key(item: dict, key: str, path: FieldPath) -> tuple:
    if key not in item:
        raise PatchError(f'{_where(path)}: merge key "{key}" missing')
    return _key(item[key])


def _order(merged: list, reference: list, live: list, key: str | None) -> list:
    """Kubernetes' order for a merged list (apimachinery's normalizeElementOrder/mergeSortedSlice).

    Elements named in `reference` (the patch list, or a $setElementOrder list) come in its order;
    the others keep their live order; the two runs interleave so that a live-only element stays
    ahead of a referenced one that followed it in the live list.
    """
    def ident(item: Json) -> tuple:
        if key is None:
            return _key(item)
        if isinstance(item, dict) and key in item:
            return _key(item[key])
        return ("id", id(item))   # a live element without its merge key: matched only by identity

    first_in_ref: dict[tuple, int] = {}
    for n, item in enumerate(reference):
        first_in_ref.setdefault(ident(item), n)
    first_live: dict[tuple, int] = {}
    for n, item in enumerate(live):
        first_live.setdefault(ident(item), n)

    named = sorted((e for e in merged if ident(e) in first_in_ref), key=lambda e: first_in_ref[ident(e)])
    others = sorted((e for e in merged if ident(e) not in first_in_ref),
                    key=lambda e: first_live.get(ident(e), math.inf))
    out, i, j = [], 0, 0
    while i < len(others) or j < len(named):
        if j == len(named):
            out.append(others[i])
            i += 1
        elif i == len(others):
            out.append(named[j])
            j += 1
        else:
            li, ri = first_live.get(ident(others[i])), first_live.get(ident(named[j]))
            if li is not None and ri is not None and li < ri:
                out.append(others[i])
                i += 1
            else:
                out.append(named[j])
                j += 1
    return out


def _retain_keys(live: dict, patch: dict, retain: Json, path: FieldPath) -> None:
    if not isinstance(retain, list) or not all(isinstance(k, str) for k in retain):
        raise PatchError(f"{_where(path + (_RETAIN_KEYS,))}: must be a list of field names")
    allowed = set(retain)
    for key, value in patch.items():
        if value is not None and key not in allowed:
            raise PatchError(f'{_where(path)}: field "{key}" is in the patch but not in $retainKeys '
                             f"{_show(retain)}")
    for key in [k for k in live if k not in allowed]:
        del live[key]


def _delete_from_primitive_list(live: dict, name: str, values: Json, field: Field, path: FieldPath) -> None:
    where = _where(path + (_DELETE_FROM + name,))
    if not isinstance(values, list):
        raise PatchError(f"{where}: must be a list of the values to delete")
    if not field.merges or field.merge_key:
        raise PatchError(f"{where}: {_where(path + (name,))} is not a merging list of primitives")
    drop = set()
    for i, value in enumerate(values):
        if isinstance(value, (dict, list)):
            raise PatchError(f"{where}[{i}]: expected a primitive, got {_json_type(value)}")
        drop.add(_key(value))
    current = live.get(name)
    if isinstance(current, list):
        live[name] = [v for v in current if _key(v) not in drop]


def _set_element_order(live: dict, name: str, order: Json, patch_list: Json, field: Field,
                       path: FieldPath) -> None:
    list_path, order_path = path + (name,), path + (_SET_ORDER + name,)
    if not isinstance(order, list):
        raise PatchError(f"{_where(order_path)}: must be a list")
    if not field.merges:
        raise PatchError(f"{_where(order_path)}: {_where(list_path)} is not a merging list, so its "
                         "order is the patch's")
    key = field.merge_key or None
    for i, item in enumerate(order):
        if key is None and isinstance(item, (dict, list)):
            raise PatchError(f"{_where(order_path + (i,))}: expected a primitive, got {_json_type(item)}")
        if key is not None:
            if not isinstance(item, dict):
                raise PatchError(f'{_where(order_path + (i,))}: expected an object with merge key "{key}"')
            _merge_key(item, key, order_path + (i,))
    if patch_list is None:
        return   # the list was deleted; nothing to order
    current = live.get(name)
    live_list = current if isinstance(current, list) else []
    if isinstance(patch_list, list):
        _check_patch_follows_order(patch_list, order, key, list_path, order_path)
        live[name] = _merge_list(live_list, patch_list, field, list_path, order)
    elif patch_list is _ABSENT and isinstance(current, list):
        live[name] = _order(current, order, current, key)
    elif patch_list is not _ABSENT:
        live[name] = _merge_value(current, patch_list, field, list_path)


def _check_patch_follows_order(patch_list: list, order: list, key: str | None, list_path: FieldPath,
                               order_path: FieldPath) -> None:
    """Every element the patch adds or changes is in the order list, in the same relative order."""
    wanted = [_key(o[key]) if key else _key(o) for o in order]
    at = 0
    for i, item in enumerate(patch_list):
        if isinstance(item, dict) and _PATCH in item:
            continue   # deletions and replace markers take no place in the order
        if key is not None:
            if not isinstance(item, dict):
                raise PatchError(f'{_where(list_path + (i,))}: expected an object with merge key "{key}", '
                                 f"got {_json_type(item)}")
            ident = _merge_key(item, key, list_path + (i,))
        else:
            ident = _key(item)
        while at < len(wanted) and wanted[at] != ident:
            at += 1
        if at == len(wanted):
            raise PatchError(f"{_where(list_path + (i,))}: not in {_where(order_path)}, or out of its order")
        at += 1


def _key(value: Json) -> tuple:
    """A hashable identity for a JSON value with JSON's equality (true != 1, 1 == 1.0)."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("number", value)
    if isinstance(value, str):
        return ("string", value)
    if value is None:
        return ("null",)
    return ("json", json.dumps(value, sort_keys=True))


def _where(path: FieldPath) -> str:
    """A field path as Kubernetes prints it: spec.template.spec.containers[1].env[0]."""
    out = ""
    for seg in path:
        if isinstance(seg, int):
            out += f"[{seg}]"
        elif "." in seg or not seg:
            out += f"[{seg}]"
        else:
            out += f".{seg}" if out else seg
    return out or "the object"
