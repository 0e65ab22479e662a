"""Field errors as Kubernetes words them: `(path, "Invalid value: \"x\": detail")` pairs.

Kubernetes' `field.Error` prints as `<path>: <type>[: <value>][: <detail>]`, with the value in Go's
`%q`/`%#v` forms (`"web"`, `-1`, `map[string]string{"app":"api"}`). The validators in
apiserver/validation.py and apiserver/podvalidation.py build their results with the constructors
here, so every message has Kubernetes' shape; apiserver/errors.invalid joins them into the
Status message (`Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: ...`).

Paths are plain strings built with `child`, `index` and `key` (`spec.containers[0].name`,
`spec.resources.limits[cpu]`). Pure: no I/O.
"""
from __future__ import annotations

from typing import Any, Iterable

FieldError = tuple[str, str]
FieldErrors = list[FieldError]


class GoRepr:
    """A value whose Kubernetes rendering is given verbatim (a Go struct dump, say)."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"GoRepr({self.text!r})"


def child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def key(path: str, k: str) -> str:
    return f"{path}[{k}]"


def go_quote(s: str) -> str:
    """Go's `%q` of a string: double quotes, backslash escapes, printable Unicode kept."""
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif not ch.isprintable():
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x80 else (f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_map(m: dict[str, str]) -> str:
    """`%#v` of a map[string]string (Go prints map keys sorted); an empty map as Go's nil map."""
    if not m:
        return "map[string]string(nil)"
    return "map[string]string{" + ", ".join(f"{go_quote(k)}:{go_quote(m[k])}" for k in sorted(m)) + "}"


def go_strings(values: Iterable[str]) -> str:
    values = list(values)
    if not values:
        return "[]string(nil)"
    return "[]string{" + ", ".join(go_quote(v) for v in values) + "}"


def go_value(value: Any) -> str:
    """A bad value as Kubernetes' field.Error prints it."""
    if value is None:
        return "null"
    if isinstance(value, GoRepr):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, dict):
        return go_map(value)
    if isinstance(value, (list, tuple)):
        return go_strings(value)
    return str(value)  # pragma: no cover


def _with_detail(text: str, detail: str) -> str:
    return f"{text}: {detail}" if detail else text


def required(path: str, detail: str = "") -> FieldError:
    return path, _with_detail("Required value", detail)


def invalid(path: str, value: Any, detail: str) -> FieldError:
    return path, _with_detail(f"Invalid value: {go_value(value)}", detail)


def not_supported(path: str, value: Any, supported: Iterable[str]) -> FieldError:
    quoted = ", ".join(go_quote(v) for v in sorted(supported))
    return path, _with_detail(f"Unsupported value: {go_value(value)}", f"supported values: {quoted}" if quoted else "")


def duplicate(path: str, value: Any, detail: str = "") -> FieldError:
    return path, _with_detail(f"Duplicate value: {go_value(value)}", detail)


def not_found(path: str, value: Any) -> FieldError:
    return path, f"Not found: {go_value(value)}"


def forbidden(path: str, detail: str) -> FieldError:
    return path, _with_detail("Forbidden", detail)


def too_long(path: str, max_bytes: int) -> FieldError:
    return path, f"Too long: must have at most {max_bytes} bytes"


def immutable(path: str, value: Any) -> FieldError:
    """ValidateImmutableField's answer."""
    return invalid(path, value, FIELD_IMMUTABLE)


FIELD_IMMUTABLE = "field is immutable"


def go_int_or_string(value) -> GoRepr:
    """`%#v` of an intstr.IntOrString (a skiff.meta.v1.IntOrString), as Kubernetes prints it."""
    if value.WhichOneof("value") == "str_val":
        return GoRepr(f"intstr.IntOrString{{Type:1, IntVal:0, StrVal:{go_quote(value.str_val)}}}")
    return GoRepr(f"intstr.IntOrString{{Type:0, IntVal:{value.int_val}, StrVal:\"\"}}")
