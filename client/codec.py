"""Kubernetes JSON/YAML <-> Skiff's protobuf API types, with Kubernetes' field names and forms.

Why not protobuf's own json_format: Kubernetes' JSON has forms protobuf's mapping cannot express
(int-or-string `targetPort: 8080` / `"http"`, quantities `cpu: 1` / `"500m"`, int64 as numbers), and a
user must be told *where* a manifest is wrong (`spec.template.spec.containers[0].imagee: unknown
field`). This codec walks the message descriptors itself; it relies on the conventions stated at
the top of proto/skiffpb/k8s/meta/v1/meta.proto (every scalar `optional`, Kubernetes' json_name).

    obj = from_dict(apps_pb2.Deployment, yaml.safe_load(text))   # raises DecodeError(path, message)
    data = to_dict(obj)                                          # only the fields that are set

Pure: no I/O. Unknown fields and wrong types are errors; `null` means "absent", as in Kubernetes.
"""
from __future__ import annotations

import base64
import binascii
import re
from typing import Any, TypeVar

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

M = TypeVar("M", bound=Message)

INT_OR_STRING = "skiff.meta.v1.IntOrString"
QUANTITY = "skiff.meta.v1.Quantity"

_QUANTITY_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)(([eE][+-]?\d+)|[numkMGTPE]|[KMGTPE]i)?$")
QUANTITY_MESSAGE = ("quantities must match the regular expression "
                    "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")

_INT_LIMITS = {
    FieldDescriptor.TYPE_INT32: (-2**31, 2**31 - 1), FieldDescriptor.TYPE_SINT32: (-2**31, 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-2**31, 2**31 - 1), FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1), FieldDescriptor.TYPE_INT64: (-2**63, 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-2**63, 2**63 - 1), FieldDescriptor.TYPE_SFIXED64: (-2**63, 2**63 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1), FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}
_FLOATS = (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE)


class DecodeError(ValueError):
    """A manifest that does not fit the type. `path` is Kubernetes' field path."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"number {value}"
    if isinstance(value, float):
        return f"number {value:g}"
    if isinstance(value, str):
        return f'string "{value}"' if len(value) <= 40 else "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def canonical_quantity(value: Any, path: str) -> str:
    """A quantity's string form: `1` -> "1", `0.5` -> "500m", "128Mi" unchanged (after checking it)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise DecodeError(path, f"expected quantity (string or number), got {_describe(value)}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value == int(value):
            return str(int(value))
        milli = value * 1000
        if abs(milli - round(milli)) < 1e-9:
            return f"{int(round(milli))}m"
        return f"{value:g}"
    text = value.strip()
    if not _QUANTITY_RE.match(text):
        raise DecodeError(path, QUANTITY_MESSAGE)
    return text


def from_dict(cls: type[M], data: Any, path: str = "") -> M:
    """Builds a `cls` from decoded JSON/YAML, or raises DecodeError naming the field."""
    msg = cls()
    _fill(msg, data, path)
    return msg


def _fill(msg: Message, data: Any, path: str) -> None:
    desc = msg.DESCRIPTOR
    if desc.full_name == INT_OR_STRING:
        if isinstance(data, bool) or not isinstance(data, (int, str)):
            raise DecodeError(path, f"expected integer or string, got {_describe(data)}")
        if isinstance(data, int):
            msg.int_val = data
        else:
            msg.str_val = data
        return
    if desc.full_name == QUANTITY:
        msg.value = canonical_quantity(data, path)
        return
    if not isinstance(data, dict):
        raise DecodeError(path, f"expected object, got {_describe(data)}")
    by_json = _json_fields(desc)
    for key, value in data.items():
        if not isinstance(key, str):
            raise DecodeError(_join(path, str(key)), "field names must be strings")
        field = by_json.get(key)
        fpath = _join(path, key)
        if field is None:
            raise DecodeError(fpath, "unknown field")
        if value is None:
            continue  # Kubernetes treats null as "not set"
        if _is_map(field):
            _fill_map(msg, field, value, fpath)
        elif field.is_repeated:
            if not isinstance(value, list):
                raise DecodeError(fpath, f"expected array, got {_describe(value)}")
            target = getattr(msg, field.name)
            for i, item in enumerate(value):
                ipath = f"{fpath}[{i}]"
                if item is None:
                    raise DecodeError(ipath, "null is not allowed in an array")
                if field.type == FieldDescriptor.TYPE_MESSAGE:
                    _fill(target.add(), item, ipath)
                else:
                    target.append(_scalar(field, item, ipath))
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            sub = getattr(msg, field.name)
            sub.SetInParent()
            _fill(sub, value, fpath)
        else:
            setattr(msg, field.name, _scalar(field, value, fpath))


def _fill_map(msg: Message, field: FieldDescriptor, value: Any, path: str) -> None:
    if not isinstance(value, dict):
        raise DecodeError(path, f"expected object, got {_describe(value)}")
    key_field, value_field = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
    target = getattr(msg, field.name)
    for k, v in value.items():
        if not isinstance(k, str):
            raise DecodeError(_join(path, str(k)), f"map keys must be strings, got {_describe(k)}")
        kpath = _join(path, k)
        k = _scalar(key_field, k, kpath)
        if v is None:
            if value_field.type == FieldDescriptor.TYPE_MESSAGE:
                raise DecodeError(kpath, "expected a value, got null")
            v = "" if value_field.type == FieldDescriptor.TYPE_STRING else v
            if v is None:
                raise DecodeError(kpath, "expected a value, got null")
        if value_field.type == FieldDescriptor.TYPE_MESSAGE:
            _fill(target[k], v, kpath)
        else:
            target[k] = _scalar(value_field, v, kpath)


def _scalar(field: FieldDescriptor, value: Any, path: str):
    t = field.type
    if t == FieldDescriptor.TYPE_STRING:
        if not isinstance(value, str):
            raise DecodeError(path, f"expected string, got {_describe(value)}")
        return value
    if t == FieldDescriptor.TYPE_BOOL:
        if not isinstance(value, bool):
            raise DecodeError(path, f"expected boolean, got {_describe(value)}")
        return value
    if t in _INT_LIMITS:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise DecodeError(path, f"expected integer, got {_describe(value)}")
        lo, hi = _INT_LIMITS[t]
        if not lo <= value <= hi:
            raise DecodeError(path, f"integer {value} is out of range [{lo}, {hi}]")
        return value
    if t in _FLOATS:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DecodeError(path, f"expected number, got {_describe(value)}")
        return float(value)
    if t == FieldDescriptor.TYPE_BYTES:
        if not isinstance(value, str):
            raise DecodeError(path, f"expected base64 string, got {_describe(value)}")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise DecodeError(path, "illegal base64 data") from None
    if t == FieldDescriptor.TYPE_ENUM:
        names = {v.name: v.number for v in field.enum_type.values}
        if value not in names:
            raise DecodeError(path, f"unsupported value {_describe(value)}: supported values: "
                                    + ", ".join(f'"{n}"' for n in names))
        return names[value]
    raise DecodeError(path, f"unsupported field type {t}")  # pragma: no cover


_JSON_FIELDS: dict[str, dict[str, FieldDescriptor]] = {}


def _json_fields(desc) -> dict[str, FieldDescriptor]:
    found = _JSON_FIELDS.get(desc.full_name)
    if found is None:
        found = _JSON_FIELDS[desc.full_name] = {f.json_name: f for f in desc.fields}
    return found


def _is_map(field: FieldDescriptor) -> bool:
    return (field.type == FieldDescriptor.TYPE_MESSAGE and field.is_repeated
            and field.message_type.GetOptions().map_entry)


def to_dict(msg: Message) -> Any:
    """The Kubernetes JSON form of `msg`: set fields only, in declaration order."""
    desc = msg.DESCRIPTOR
    if desc.full_name == INT_OR_STRING:
        which = msg.WhichOneof("value")
        return msg.int_val if which == "int_val" else msg.str_val
    if desc.full_name == QUANTITY:
        return msg.value
    out: dict[str, Any] = {}
    for field, value in msg.ListFields():
        if _is_map(field):
            vf = field.message_type.fields_by_name["value"]
            out[field.json_name] = {k: (to_dict(v) if vf.type == FieldDescriptor.TYPE_MESSAGE else _out(vf, v))
                                    for k, v in value.items()}
        elif field.is_repeated:
            out[field.json_name] = [to_dict(v) if field.type == FieldDescriptor.TYPE_MESSAGE else _out(field, v)
                                    for v in value]
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            out[field.json_name] = to_dict(value)
        else:
            out[field.json_name] = _out(field, value)
    return out


def _out(field: FieldDescriptor, value):
    if field.type == FieldDescriptor.TYPE_BYTES:
        return base64.b64encode(value).decode()
    if field.type == FieldDescriptor.TYPE_ENUM:
        return field.enum_type.values_by_number[value].name
    return value
