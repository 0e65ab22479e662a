r"""kubectl's JSONPath templates (`skiff get -o jsonpath=TEMPLATE`): a parser and an evaluator. Pure.

The dialect is the one kubectl 1.20 ships (client-go's util/jsonpath), quirks included, because
users bring their kubectl one-liners with them:

    text {.kind}                    text outside braces is printed as is
    {.metadata.name} {['kind']}     child; a bracketed 'key' is read as a path, so a key with dots
                                    needs escapes: {.metadata.annotations['example\.com/owner']}
    {.items[*].metadata.name}       [*] every element; [0] [-1] [0:2] [::2] slices
    {.items[0,2]} {['a','b']}       unions
    {..image}                       recursive descent
    {.items[?(@.status.phase=="Running")].metadata.name}
                                    filters: == != < > <= >=, or existence: [?(@.spec.nodeName)]
    {range .items[*]}{.metadata.name}{"\n"}{end}
    {"\t"} {'x'}                    quoted literals with Go's escapes
    {$} {@}                         the current object

Every `{...}` action yields a list of values, printed joined by one space: strings and numbers as
text, maps and lists as compact JSON (keys sorted), all as kubectl, a Go program, writes them
(cli.goformat). A missing field yields nothing, or the error `x is not found` when missing keys
are not allowed (`--allow-missing-template-keys=false`). Go iterates maps in random order where
`*` and `..` visit them; here they are visited in key order, one of the orders kubectl may print,
and always the same.

Errors: `ParseError` (kubectl: `error parsing jsonpath TEMPLATE, <message>`) and `ExecError`
(`error executing jsonpath "TEMPLATE": Error executing template: <message>. ...`); their messages
are client-go's. The command layer adds kubectl's framing.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Sequence

from cli.goformat import go_text, go_type, go_value, to_json


class JSONPathError(Exception):
    """A template that cannot be parsed or executed; the message is client-go's."""


class ParseError(JSONPathError):
    pass


class ExecError(JSONPathError):
    pass


class _Fail(Exception):
    """An evaluation error with the partial result client-go returns beside it (an existence
    filter keeps an element when that partial result is non-empty, errors notwithstanding)."""

    def __init__(self, message: str, partial: list):
        super().__init__(message)
        self.partial = partial


# -- nodes ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Field:
    name: str


@dataclass(frozen=True)
class Wildcard:
    pass


@dataclass(frozen=True)
class Recursive:
    pass


@dataclass(frozen=True)
class Param:
    known: bool
    value: int
    derived: bool = False   # the end of `[i]`, i+1, which follows the start when that is negative


@dataclass(frozen=True)
class Array:
    params: tuple[Param, Param, Param]   # start, end, step


@dataclass(frozen=True)
class Union:
    branches: tuple[tuple[Any, ...], ...]


@dataclass(frozen=True)
class Filter:
    left: tuple[Any, ...]
    right: tuple[Any, ...]
    op: str                 # == != < > <= >= or "exists"


@dataclass(frozen=True)
class Number:
    value: int | float


@dataclass(frozen=True)
class Bool:
    value: bool


@dataclass(frozen=True)
class Identifier:
    name: str               # "range" and "end" mean something; any other is an execution error


@dataclass(frozen=True)
class Action:
    """One `{...}`: its nodes applied left to right, each to the previous one's results."""
    nodes: tuple[Any, ...]


Node = Any  # one of the dataclasses above


# -- parser -----------------------------------------------------------------------------------------
_TERMINATORS = frozenset(" \t\r\n.,[]$@{}")
_DICT_KEY = re.compile(r"'([^']*)'")
_SLICE = re.compile(r"(-?[0-9]*)(:-?[0-9]*)?(:-?[0-9]*)?")
_FILTER = re.compile(r"([^!<>=]+)([!<>=]+)(.+?)")
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")


def _is_digit(ch: str) -> bool:
    return unicodedata.category(ch) == "Nd"


def _is_alphanumeric(ch: str) -> bool:
    return ch == "_" or ch.isalpha() or _is_digit(ch)


def _go_rune(ch: str) -> str:
    """Go's %#U: `U+007B '{'`, or `U+0009` for a rune that does not print."""
    return f"U+{ord(ch):04X}" + (f" '{ch}'" if ch.isprintable() else "")


def parse(template: str) -> tuple[Node, ...]:
    """The template as a sequence of Text and Action nodes; ParseError as client-go words it."""
    return _Parser(template).parse()


def _parse_action(text: str) -> tuple[Node, ...]:
    """The nodes of `{text}`: how client-go parses union branches, bracketed keys and filter sides."""
    return _Parser("{" + text + "}").parse()[0].nodes


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def parse(self) -> tuple[Node, ...]:
        out: list[Node] = []
        t = self.text
        while True:
            i = t.find("{", self.pos)
            if i < 0:
                if self.pos < len(t):
                    out.append(Text(t[self.pos:]))
                return tuple(out)
            if i > self.pos:
                out.append(Text(t[self.pos:i]))
            self.pos = i + 1
            nodes: list[Node] = []
            self._action(nodes)
            out.append(Action(tuple(nodes)))

    def _action(self, nodes: list[Node]) -> None:
        t = self.text
        while True:
            if t.startswith("}", self.pos):
                self.pos += 1
                return
            if t.startswith("[?(", self.pos):
                self._filter(nodes)
                continue
            if t.startswith("..", self.pos):
                self._recursive(nodes)
                continue
            if self.pos >= len(t) or t[self.pos] in "\r\n":
                raise ParseError("unclosed action")
            ch = t[self.pos]
            self.pos += 1
            if ch in " @$":
                continue
            if ch == "[":
                self._array(nodes)
            elif ch in "\"'":
                self._quote(nodes, ch)
            elif ch == ".":
                self._field(nodes)
            elif ch in "+-" or _is_digit(ch):
                self.pos -= 1
                self._number(nodes)
            elif _is_alphanumeric(ch):
                self.pos -= 1
                self._identifier(nodes)
            else:
                raise ParseError(f"unrecognized character in action: {_go_rune(ch)}")

    def _until_terminator(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in _TERMINATORS:
            self.pos += 1
        return self.text[start:self.pos]

    def _identifier(self, nodes: list[Node]) -> None:
        word = self._until_terminator()
        nodes.append(Bool(word == "true") if word in ("true", "false") else Identifier(word))

    def _number(self, nodes: list[Node]) -> None:
        t, start = self.text, self.pos
        if t[self.pos] in "+-":
            self.pos += 1
        while self.pos < len(t) and (t[self.pos] == "." or _is_digit(t[self.pos])):
            self.pos += 1
        word = t[start:self.pos]
        if _INT.fullmatch(word):
            nodes.append(Number(int(word)))
        elif _FLOAT.fullmatch(word):
            nodes.append(Number(float(word)))
        else:
            raise ParseError(f"cannot parse number {word}")

    def _field(self, nodes: list[Node]) -> None:
        # A backslash escapes the next character (`\.` keeps a dot in a key); all are dropped after.
        t, start = self.text, self.pos
        while self.pos < len(t):
            ch = t[self.pos]
            if ch == "\\":
                self.pos = min(self.pos + 2, len(t))
            elif ch in _TERMINATORS:
                break
            else:
                self.pos += 1
        word = t[start:self.pos]
        nodes.append(Wildcard() if word == "*" else Field(word.replace("\\", "")))

    def _recursive(self, nodes: list[Node]) -> None:
        if nodes and isinstance(nodes[-1], Recursive):
            raise ParseError("invalid multiple recursive descent")
        self.pos += 2
        nodes.append(Recursive())
        if self.pos < len(self.text) and _is_alphanumeric(self.text[self.pos]):
            self._field(nodes)

    def _array(self, nodes: list[Node]) -> None:
        t, start = self.text, self.pos
        while True:
            if self.pos >= len(t) or t[self.pos] == "\n":
                raise ParseError("unterminated array")
            self.pos += 1
            if t[self.pos - 1] == "]":
                break
        text = t[start:self.pos - 1]
        if text == "*":
            text = ":"
        parts = text.split(",")
        if len(parts) > 1:
            nodes.append(Union(tuple(_parse_action(f"[{p.strip(' ')}]") for p in parts)))
            return
        key = _DICT_KEY.fullmatch(text)
        if key:
            nodes.extend(_parse_action("." + key.group(1)))
            return
        m = _SLICE.fullmatch(text)
        if m is None:
            raise ParseError(f"invalid array index {text}")
        params: list[Param] = []
        for i, group in enumerate(m.groups()):
            group = group or ""
            if group:
                if i > 0:
                    group = group[1:]
                if i > 0 and not group:
                    params.append(Param(False, 0))
                    continue
                if not _INT.fullmatch(group):
                    raise ParseError(f"array index {group} is not a number")
                params.append(Param(True, int(group)))
            elif i == 1:
                params.append(Param(True, params[0].value + 1, derived=True))
            else:
                params.append(Param(False, 0))
        nodes.append(Array((params[0], params[1], params[2])))

    def _filter(self, nodes: list[Node]) -> None:
        t = self.text
        self.pos += 3
        start = self.pos
        begin = end = False
        pair = ""
        while True:
            if self.pos >= len(t) or t[self.pos] == "\n":
                raise ParseError("unterminated filter")
            ch = t[self.pos]
            self.pos += 1
            if ch in "\"'":
                if not begin:
                    begin, pair = True, ch
                elif t[self.pos - 2] != "\\" and ch == pair:
                    end = True
            elif ch == ")" and begin == end:
                break
        if not t.startswith("]", self.pos):
            raise ParseError("unclosed array expect ]")
        self.pos += 1
        text = t[start:self.pos - 2]
        m = _FILTER.fullmatch(text)
        if m is None:
            nodes.append(Filter(_parse_action(text), (), "exists"))
        else:
            nodes.append(Filter(_parse_action(m.group(1)), _parse_action(m.group(3)), m.group(2)))

    def _quote(self, nodes: list[Node], quote: str) -> None:
        t, start = self.text, self.pos - 1
        while True:
            if self.pos >= len(t) or t[self.pos] == "\n":
                raise ParseError("unterminated quoted string")
            self.pos += 1
            if t[self.pos - 1] == quote and t[self.pos - 2] != "\\":
                break
        raw = t[start:self.pos]
        try:
            nodes.append(Text(unquote(raw)))
        except ValueError:
            raise ParseError(f"unquote string {raw} error invalid syntax") from None


_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


def unquote(s: str) -> str:
    """Go's strconv.Unquote for "..." and '...' alike (client-go's UnquoteExtend); ValueError if bad."""
    if len(s) < 2 or s[0] != s[-1] or s[0] not in "\"'":
        raise ValueError(s)
    quote, body = s[0], s[1:-1]
    if "\\" not in body and quote not in body:
        return body
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == quote:
            raise ValueError(s)
        if ch != "\\":
            out += ch.encode("utf-8", "surrogatepass")
            i += 1
            continue
        if i + 1 >= len(body):
            raise ValueError(s)
        esc = body[i + 1]
        i += 2
        if esc in _SIMPLE_ESCAPES:
            out += _SIMPLE_ESCAPES[esc].encode()
        elif esc in "xuU":
            n = {"x": 2, "u": 4, "U": 8}[esc]
            digits = body[i:i + n]
            if len(digits) < n or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise ValueError(s)
            value = int(digits, 16)
            i += n
            if esc == "x":
                out.append(value)           # a raw byte, as Go writes it
            elif value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
                raise ValueError(s)
            else:
                out += chr(value).encode()
        elif esc in "01234567":
            digits = body[i - 1:i + 2]
            if len(digits) < 3 or not all(c in "01234567" for c in digits) or int(digits, 8) > 255:
                raise ValueError(s)
            out.append(int(digits, 8))
            i += 2
        elif esc in "'\"" and esc == quote:
            out += esc.encode()
        else:
            raise ValueError(s)
    return out.decode("utf-8", "replace")


# -- evaluator --------------------------------------------------------------------------------------
class Template:
    """A parsed template; `execute(data)` is what kubectl prints for `data` (no newline added)."""

    def __init__(self, text: str):
        self.text = text
        self.nodes = parse(text)

    def execute(self, data: Any, *, allow_missing_keys: bool = True, as_json: bool = False) -> str:
        ev = _Evaluator(allow_missing_keys)
        try:
            results = ev.run(self.nodes, data)
        except _Fail as e:
            raise ExecError(str(e)) from None
        if as_json:
            return "".join(to_json(list(r), indent=4) + "\n" for r in results)
        return "".join(" ".join(_print_value(v) for v in r) for r in results)


def _is_range(node: Node) -> bool:
    return isinstance(node, Action) and any(n == Identifier("range") for n in node.nodes)


def _is_end(node: Node) -> bool:
    return isinstance(node, Action) and any(n == Identifier("end") for n in node.nodes)


def _matching_end(nodes: Sequence[Node], start: int) -> int | None:
    """The index of the `{end}` closing the `{range}` at `start`, counting nested ranges."""
    depth = 0
    for i in range(start + 1, len(nodes)):
        if _is_range(nodes[i]):
            depth += 1
        elif _is_end(nodes[i]):
            if depth == 0:
                return i
            depth -= 1
    return None


class _Evaluator:
    def __init__(self, allow_missing_keys: bool):
        self.allow_missing = allow_missing_keys

    def run(self, nodes: Sequence[Node], data: Any, in_range: bool = False) -> list[list]:
        """The results of each top-level node, `{range}` bodies expanded once per value."""
        out: list[list] = []
        i = 0
        while i < len(nodes):
            node = nodes[i]
            if _is_end(node):
                if in_range:
                    break
                raise _Fail("not in range, nothing to end", [])
            if _is_range(node):
                values = self.list(node.nodes, [data])
                end = _matching_end(nodes, i)
                body = nodes[i + 1:end] if end is not None else nodes[i + 1:]
                for value in values:
                    out.extend(self.run(body, value, in_range=True))
                # Without an {end}, client-go goes on after the {range} itself, so the body's
                # nodes run once more against the enclosing value: kept, as kubectl prints it.
                i = end + 1 if end is not None else i + 1
                continue
            out.append(self.walk(node, [data]))
            i += 1
        return out

    def list(self, nodes: Sequence[Node], values: list) -> list:
        for node in nodes:
            values = self.walk(node, values)
        return values

    def walk(self, node: Node, values: list) -> list:
        if isinstance(node, Action):
            return self.list(node.nodes, values)
        if isinstance(node, Text):
            return [node.text]
        if isinstance(node, Field):
            return self.field(node, values)
        if isinstance(node, Array):
            return self.array(node, values)
        if isinstance(node, Filter):
            return self.filter(node, values)
        if isinstance(node, (Number, Bool)):
            return [node.value for _ in values]
        if isinstance(node, Wildcard):
            return [child for v in values for child in _children(v)]
        if isinstance(node, Recursive):
            return self.recursive(values)
        if isinstance(node, Union):
            return [r for branch in node.branches for r in self.list(branch, values)]
        if isinstance(node, Identifier):
            if node.name == "range":
                return values
            if node.name == "end":
                return []
            raise _Fail(f"unrecognized identifier {node.name}", values)
        raise _Fail(f"unexpected Node {node}", values)  # pragma: no cover - the parser makes no other

    def field(self, node: Field, values: list) -> list:
        if not values:
            return []
        found = [v[node.name] for v in values if isinstance(v, dict) and node.name in v]
        if not found and not self.allow_missing:
            raise _Fail(f"{node.name} is not found", [])
        return found

    def array(self, node: Array, values: list) -> list:
        out: list = []
        for value in values:
            if value is None:
                continue
            if not isinstance(value, list):
                raise _Fail(f"{go_type(value)} is not array or slice", values)
            n = len(value)
            start, end, step = node.params
            lo = start.value if start.known else 0
            if lo < 0:
                lo += n
            hi = end.value if end.known else n
            if hi < 0 or (hi == 0 and end.derived):
                hi += n
            if hi == lo:
                return out   # zero elements asked for: client-go returns at once, other values unseen
            if lo >= n or lo < 0:
                raise _Fail(f"array index out of bounds: index {lo}, length {n}", values)
            if hi > n or hi < 0:
                raise _Fail(f"array index out of bounds: index {hi - 1}, length {n}", values)
            if lo > hi:
                raise _Fail(f"starting index {lo} is greater than ending index {hi}", values)
            by = 1
            if step.known:
                if step.value <= 0:
                    raise _Fail("step must be > 0", values)
                by = step.value
            out.extend(value[lo:hi:by])
        return out

    def filter(self, node: Filter, values: list) -> list:
        out: list = []
        for value in values:
            if not isinstance(value, list):
                raise _Fail(f"{go_value(value)} is not array or slice and cannot be filtered", values)
            for item in value:
                if node.op == "exists":
                    try:
                        lefts = self.list(node.left, [item])
                    except _Fail as e:
                        lefts = e.partial
                    if lefts:
                        out.append(item)
                    continue
                lefts = self.list(node.left, [item])
                if not lefts:
                    continue
                if len(lefts) > 1:
                    raise _Fail("can only compare one element at a time", values)
                rights = self.list(node.right, [item])
                if not rights:
                    continue
                if len(rights) > 1:
                    raise _Fail("can only compare one element at a time", values)
                try:
                    passed = compare(node.op, lefts[0], rights[0])
                except ValueError as e:
                    raise _Fail(str(e), out) from None
                if passed:
                    out.append(item)
        return out

    def recursive(self, values: list) -> list:
        # Pre-order: each value that has children (maps, lists, non-empty strings), then its descendants.
        out: list = []
        for value in values:
            children = _children(value)
            if children:
                out.append(value)
                out.extend(self.recursive(children))
        return out


def _children(value: Any) -> list:
    if isinstance(value, dict):
        return [value[k] for k in sorted(value)]
    if isinstance(value, list):
        return list(value)
    if isinstance(value, str):
        return list(value.encode("utf-8"))   # Go indexes a string by byte
    return []


# -- comparisons: Go text/template's eq, lt, ... as client-go's fork has them -------------------------
def _basic_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    raise ValueError("invalid type for comparison")


def compare(op: str, left: Any, right: Any) -> bool:
    """`left op right` for a filter; ValueError with Go's message for types that do not compare."""
    if op not in ("==", "!=", "<", ">", "<=", ">="):
        raise ValueError(f"unrecognized filter operator {op}")
    k1, k2 = _basic_kind(left), _basic_kind(right)
    if k1 != k2:
        raise ValueError("incompatible types for comparison")
    if op in ("<", ">", "<=", ">=") and k1 == "bool":
        raise ValueError("invalid type for comparison")
    return {"==": left == right, "!=": left != right, "<": left < right, ">": left > right,
            "<=": left <= right, ">=": left >= right}[op]


# -- printing results -------------------------------------------------------------------------------
def _print_value(v: Any) -> str:
    """One result as client-go prints it: maps and lists as compact JSON, the rest as fmt.Print does."""
    if isinstance(v, (dict, list)):
        return to_json(v)
    return go_text(v)
