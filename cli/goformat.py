"""Go's renderings of decoded JSON values, as kubectl prints them: fmt's %v, %#v and %q, and
encoding/json's Marshal and MarshalIndent. Pure.

kubectl is a Go program, so the text it prints for a value follows Go's rules, not Python's: maps
with sorted keys, `<`, `>`, `&` escaped in JSON, whole floats without a fraction (`2`, `1e+06`),
`<nil>` for null. The JSONPath printer (cli.jsonpath) prints its results with these, and its error
messages show the template and the object the way kubectl's do.
"""
from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any


def go_text(v: Any) -> str:
    """fmt.Sprint of a JSON scalar: `true`, `3`, `1e+06`, `<nil>`."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _go_float_g(v)
    if isinstance(v, (dict, list)):
        return go_value(v)
    return str(v)


def _float_digits(f: float) -> tuple[str, int]:
    """The shortest round-trip digits of |f| and the decimal exponent of the first one."""
    sign, digits, exp = Decimal(repr(abs(f))).normalize().as_tuple()
    ds = "".join(map(str, digits)) or "0"
    return ds, exp + len(ds) - 1


def _exp_form(ds: str, e: int, neg: bool) -> str:
    mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
    return f"{'-' if neg else ''}{mant}e{'-' if e < 0 else '+'}{abs(e):02d}"


def _go_float_g(f: float) -> str:
    """fmt's %v of a float64 (strconv's shortest 'g'): fixed unless the exponent is < -4 or >= 6."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0" if math.copysign(1, f) < 0 else "0"
    ds, e = _float_digits(f)
    if e < -4 or e >= 6:
        return _exp_form(ds, e, f < 0)
    return format(Decimal(repr(f)).normalize(), "f")


def _go_json_float(f: float) -> str:
    """encoding/json's float: fixed notation between 1e-6 and 1e21, else `1e-7`, `1e+21`."""
    if math.isnan(f) or math.isinf(f):
        return _go_float_g(f)
    if f == 0:
        return "-0" if math.copysign(1, f) < 0 else "0"
    if 1e-6 <= abs(f) < 1e21:
        return format(Decimal(repr(f)).normalize(), "f")
    ds, e = _float_digits(f)
    text = _exp_form(ds, e, f < 0)
    return re.sub(r"e-0(\d)$", r"e-\1", text)


_JSON_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t",
                 "<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _json_string(s: str) -> str:
    out = []
    for ch in s:
        if ch in _JSON_ESCAPES:
            out.append(_JSON_ESCAPES[ch])
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def to_json(v: Any, indent: int | None = None, _level: int = 0) -> str:
    """Go's json.Marshal (indent None) or json.MarshalIndent(v, "", indent spaces): keys sorted,
    `<`, `>`, `&` escaped, whole floats without a fraction."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _go_json_float(v)
    if isinstance(v, str):
        return _json_string(v)
    if isinstance(v, dict):
        items = [(_json_string(str(k)), to_json(v[k], indent, _level + 1)) for k in sorted(v)]
        if indent is None:
            return "{" + ",".join(f"{k}:{x}" for k, x in items) + "}"
        if not items:
            return "{}"
        pad, inner = " " * indent * _level, " " * indent * (_level + 1)
        return "{\n" + ",\n".join(f"{inner}{k}: {x}" for k, x in items) + "\n" + pad + "}"
    if isinstance(v, (list, tuple)):
        parts = [to_json(x, indent, _level + 1) for x in v]
        if indent is None:
            return "[" + ",".join(parts) + "]"
        if not parts:
            return "[]"
        pad, inner = " " * indent * _level, " " * indent * (_level + 1)
        return "[\n" + ",\n".join(inner + p for p in parts) + "\n" + pad + "]"
    raise TypeError(f"cannot encode {type(v).__name__}")  # pragma: no cover


def go_type(v: Any) -> str:
    """The Go type kubectl names in errors for a decoded JSON value."""
    if isinstance(v, dict):
        return "map[string]interface {}"
    if isinstance(v, list):
        return "[]interface {}"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int64"
    if isinstance(v, float):
        return "float64"
    return "string" if isinstance(v, str) else "interface {}"


def go_value(v: Any) -> str:
    """fmt's %v of a decoded JSON value: `map[a:1 b:[x y]]`."""
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{go_value(v[k])}" for k in sorted(v)) + "]"
    if isinstance(v, list):
        return "[" + " ".join(go_value(x) for x in v) + "]"
    return go_text(v)


def go_quote(s: str) -> str:
    """strconv.Quote: `"a\\tb"`, as kubectl's %q shows a template."""
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in "\a\b\f\n\r\t\v":
            out.append({"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
                        "\v": "\\v"}[ch])
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


def go_syntax(v: Any) -> str:
    """fmt's %#v of a decoded JSON value, as kubectl shows the object given to the template."""
    if isinstance(v, dict):
        return "map[string]interface {}{" + ", ".join(f"{go_quote(str(k))}:{go_syntax(v[k])}"
                                                       for k in sorted(v)) + "}"
    if isinstance(v, list):
        return "[]interface {}{" + ", ".join(go_syntax(x) for x in v) + "}"
    if isinstance(v, str):
        return go_quote(v)
    if v is None:
        return "interface {}(nil)"
    return go_text(v)
