"""Label and field selectors as Kubernetes writes them, parsed to small frozen values that match.

    sel = parse_label_selector("env in (prod, staging),tier,!canary")   # raises SelectorError
    sel.matches(pod.metadata.labels)                                     # -> bool
    str(sel)                                       # "!canary,env in (prod,staging),tier" (by key)
    label_selector_from_proto(deploy.spec.selector, path="spec.selector")
    fs = parse_field_selector("spec.nodeName=node-1,status.phase!=Failed")
    check_fields(fs, {"metadata.name", "metadata.namespace", "spec.nodeName", "status.phase"})
    fs.matches({"spec.nodeName": "node-1", "status.phase": "Running"})

The grammar, the order of checks and the error texts follow k8s.io/apimachinery (labels/selector.go,
fields/selector.go, util/validation, apis/meta/v1/validation), so `skiff get -l ...` answers as
`kubectl get -l ...` does. Where we differ, deliberately:
- A parsed selector is canonical: `==` becomes `=`, values are a sorted set, and requirements are
  ordered by (key, operator, values), not by key alone, so equal selectors compare and render equal.
- String-syntax errors use the one-line forms Kubernetes used before it added field paths
  (`invalid label key "a b": ...`), rather than today's `<nil>: Invalid value: ...`.
- An unescaped `,` or `=` in a field selector value is named as a character (`'='`), not as the
  rune number Go prints (61).
- `selector_from_set` validates (Kubernetes' SelectorFromSet silently matches everything on bad input).
- A NUL character is an ordinary (invalid) character, not the end of the text as in Go's lexer.

Kubernetes treats an absent LabelSelector (nil) as matching nothing and an empty one as matching
everything; `label_selector_from_proto` takes a message, so a caller with an unset field decides.

Pure: no I/O.
"""
from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from skiffpb.k8s.meta.v1 import meta_pb2

__all__ = [
    "EVERYTHING", "FieldRequirement", "FieldSelector", "LabelSelector", "Operator", "Requirement",
    "SelectorError", "check_fields", "escape_field_value", "label_selector_errors",
    "label_selector_from_proto", "label_value_errors", "parse_field_selector", "parse_label_selector",
    "qualified_name_errors", "selector_from_set",
]


class SelectorError(ValueError):
    """A selector that cannot be parsed or is invalid. `errors` holds each problem found.

    str() is Kubernetes' aggregate form: the one message, or `[first, second]` for several.
    """

    def __init__(self, errors: str | Iterable[str]):
        found = [errors] if isinstance(errors, str) else list(errors)
        self.errors: tuple[str, ...] = tuple(dict.fromkeys(found))   # deduplicated, in order
        super().__init__(self.errors[0] if len(self.errors) == 1 else "[" + ", ".join(self.errors) + "]")


class Operator(enum.StrEnum):
    """Kubernetes' selection.Operator values (DoubleEquals is folded into EQUALS)."""

    IN = "in"
    NOT_IN = "notin"
    EQUALS = "="
    NOT_EQUALS = "!="
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


# ---------------------------------------------------------------- validation (util/validation)

_QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QUALIFIED_NAME_RE = re.compile(_QUALIFIED_NAME_FMT)
_LABEL_VALUE_FMT = f"({_QUALIFIED_NAME_FMT})?"
_LABEL_VALUE_RE = re.compile(_LABEL_VALUE_FMT)
_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + r"(\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_SUBDOMAIN_RE = re.compile(_DNS1123_SUBDOMAIN_FMT)
_INT64_RE = re.compile(r"[+-]?[0-9]+")   # strconv.ParseInt(s, 10, 64) before its range check


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    # Go's validation.RegexError, spacing included ("'MyName',  or 'my.name', ").
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    msg += " (e.g. " + " or ".join(f"'{e}', " for e in examples)
    return msg + f"regex used for validation is '{fmt}')"


def _max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


_QUALIFIED_NAME_MSG = _regex_error(
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character", _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
_LABEL_VALUE_MSG = _regex_error(
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character", _LABEL_VALUE_FMT, "MyValue", "my_value",
    "12345")
_DNS1123_SUBDOMAIN_MSG = _regex_error(
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character", _DNS1123_SUBDOMAIN_FMT, "example.com")


def _byte_len(s: str) -> int:
    return len(s.encode("utf-8", "surrogatepass"))   # Go measures strings in bytes


def qualified_name_errors(value: str) -> list[str]:
    """Kubernetes' IsQualifiedName: a label key (`[prefix/]name`). Empty list when valid."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            if _byte_len(prefix) > 253:
                errs.append("prefix part " + _max_len_error(253))
            if not _DNS1123_SUBDOMAIN_RE.fullmatch(prefix):
                errs.append("prefix part " + _DNS1123_SUBDOMAIN_MSG)
    else:
        return ["a qualified name " + _QUALIFIED_NAME_MSG
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif _byte_len(name) > 63:
        errs.append("name part " + _max_len_error(63))
    if not _QUALIFIED_NAME_RE.fullmatch(name):
        errs.append("name part " + _QUALIFIED_NAME_MSG)
    return errs


def label_value_errors(value: str) -> list[str]:
    """Kubernetes' IsValidLabelValue. Empty list when valid (the empty string is valid)."""
    errs: list[str] = []
    if _byte_len(value) > 63:
        errs.append(_max_len_error(63))
    if not _LABEL_VALUE_RE.fullmatch(value):
        errs.append(_LABEL_VALUE_MSG)
    return errs


def _parse_int64(s: str) -> int | None:
    if not _INT64_RE.fullmatch(s):
        return None
    n = int(s)
    return n if -2**63 <= n < 2**63 else None


_GO_ESCAPES = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t",
               "\v": r"\v", "\\": r"\\", '"': r"\""}


def _quote(s: str) -> str:
    """Go's %q of a string, so messages quote exactly as Kubernetes' do."""
    out = []
    for ch in s:
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


# ---------------------------------------------------------------- label selectors

@dataclass(frozen=True)
class Requirement:
    """One label requirement: `key`, an operator, and (for set and equality forms) values.

    Constructed values are validated as Kubernetes' NewRequirement does; `values` is kept as a
    sorted tuple without duplicates.
    """

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        try:
            op = Operator(self.operator)
        except ValueError:
            raise SelectorError(f"operator '{self.operator}' is not recognized") from None
        values = tuple(sorted(set(self.values)))
        object.__setattr__(self, "operator", op)
        object.__setattr__(self, "values", values)
        # The order of checks (and so which message a user sees) is NewRequirement's.
        if errs := qualified_name_errors(self.key):
            raise SelectorError(f"invalid label key {_quote(self.key)}: {'; '.join(errs)}")
        if op in (Operator.IN, Operator.NOT_IN) and not values:
            raise SelectorError("for 'in', 'notin' operators, values set can't be empty")
        if op in (Operator.EQUALS, Operator.NOT_EQUALS) and len(values) != 1:
            raise SelectorError("exact-match compatibility requires one single value")
        if op in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and values:
            raise SelectorError("values set must be empty for exists and does not exist")
        if op in (Operator.GREATER_THAN, Operator.LESS_THAN):
            if len(values) != 1:
                raise SelectorError("for 'Gt', 'Lt' operators, exactly one value is required")
            if _parse_int64(values[0]) is None:
                raise SelectorError("for 'Gt', 'Lt' operators, the value must be an integer")
        for v in values:
            if errs := label_value_errors(v):
                raise SelectorError(
                    f"invalid label value: {_quote(v)}: at key: {_quote(self.key)}: {'; '.join(errs)}")

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a label set satisfies this requirement (a missing key satisfies only !=, notin, !k)."""
        op = self.operator
        if op is Operator.EXISTS:
            return self.key in labels
        if op is Operator.DOES_NOT_EXIST:
            return self.key not in labels
        if self.key not in labels:
            return op in (Operator.NOT_IN, Operator.NOT_EQUALS)
        value = labels[self.key]
        if op in (Operator.IN, Operator.EQUALS):
            return value in self.values
        if op in (Operator.NOT_IN, Operator.NOT_EQUALS):
            return value not in self.values
        have, want = _parse_int64(value), int(self.values[0])
        if have is None:   # a non-integer label never satisfies gt/lt
            return False
        return have > want if op is Operator.GREATER_THAN else have < want

    def __str__(self) -> str:
        op = self.operator
        if op is Operator.EXISTS:
            return self.key
        if op is Operator.DOES_NOT_EXIST:
            return "!" + self.key
        if op in (Operator.IN, Operator.NOT_IN):
            return f"{self.key} {op.value} ({','.join(self.values)})"
        symbol = {Operator.GREATER_THAN: ">", Operator.LESS_THAN: "<"}.get(op, op.value)
        return f"{self.key}{symbol}{self.values[0]}"


def _requirement_order(r: Requirement) -> tuple[str, str, tuple[str, ...]]:
    return (r.key, r.operator.value, r.values)


@dataclass(frozen=True)
class LabelSelector:
    """An AND of label requirements, kept in canonical order. No requirements: matches everything."""

    requirements: tuple[Requirement, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "requirements", tuple(sorted(self.requirements, key=_requirement_order)))

    @property
    def empty(self) -> bool:
        """True if this selector does not restrict anything (Kubernetes' Everything())."""
        return not self.requirements

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


EVERYTHING = LabelSelector()

# Lexer tokens (labels/selector.go); literals are what the error messages quote.
_END, _IDENT, _OPEN, _CLOSE, _COMMA, _NOT = "end", "ident", "(", ")", ",", "!"
_EQ, _DEQ, _NEQ, _GT, _LT, _IN, _NOTIN = "=", "==", "!=", ">", "<", "in", "notin"
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")   # exactly Go's isWhitespace; other spaces are identifier text
_BINARY_OPERATORS = "in, notin, =, ==, !=, gt, lt"
_OPERATOR_OF_TOKEN = {_IN: Operator.IN, _NOTIN: Operator.NOT_IN, _EQ: Operator.EQUALS,
                      _DEQ: Operator.EQUALS, _NEQ: Operator.NOT_EQUALS, _GT: Operator.GREATER_THAN,
                      _LT: Operator.LESS_THAN}


def _lex(text: str) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in _WHITESPACE:
            i += 1
        if i == n:
            items.append((_END, ""))
            return items
        if text[i] in _SPECIAL:
            # Go's scanSpecialSymbol takes the longest run that is a token; "==" and "!=" are the
            # only two-character ones, so "!!a" is "!" "!" "a" and "=(" is "=" "(".
            tok = text[i:i + 2] if text[i:i + 2] in (_DEQ, _NEQ) else text[i]
            items.append((tok, tok))
            i += len(tok)
            continue
        j = i
        while j < n and text[j] not in _SPECIAL and text[j] not in _WHITESPACE:
            j += 1
        word = text[i:j]
        items.append((word if word in (_IN, _NOTIN) else _IDENT, word))
        i = j


class _LabelParser:
    """Kubernetes' recursive-descent label selector parser, check for check and message for message.

    `in`/`notin` are keywords only where an operator may stand; elsewhere (keys, values) they are
    identifiers, so `in in (in)` is valid.
    """

    def __init__(self, text: str):
        self.items = _lex(text)
        self.pos = 0

    def _peek(self, operator_context: bool = False) -> tuple[str, str]:
        tok, lit = self.items[self.pos]
        if not operator_context and tok in (_IN, _NOTIN):
            tok = _IDENT
        return tok, lit

    def _next(self, operator_context: bool = False) -> tuple[str, str]:
        item = self._peek(operator_context)
        self.pos += 1
        return item

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            tok, lit = self._peek()
            if tok == _END:
                return requirements
            if tok not in (_IDENT, _NOT):
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")
            try:
                requirements.append(self._requirement())
            except SelectorError as e:
                raise SelectorError(f"unable to parse requirement: {e}") from None
            tok, lit = self._next()
            if tok == _END:
                return requirements
            if tok != _COMMA:
                raise SelectorError(f"found '{lit}', expected: ',' or 'end of string'")
            tok, lit = self._peek()
            if tok not in (_IDENT, _NOT):
                raise SelectorError(f"found '{lit}', expected: identifier after ','")

    def _requirement(self) -> Requirement:
        negated = False
        tok, key = self._next()
        if tok == _NOT:
            negated = True
            tok, key = self._next()
        if tok != _IDENT:
            raise SelectorError(f"found '{key}', expected: identifier")
        if errs := qualified_name_errors(key):
            raise SelectorError(f"invalid label key {_quote(key)}: {'; '.join(errs)}")
        if negated:
            # Whatever follows `!key` is left for the caller, which wants ',' or the end.
            return Requirement(key, Operator.DOES_NOT_EXIST)
        if self._peek()[0] in (_END, _COMMA):
            return Requirement(key, Operator.EXISTS)
        tok, lit = self._next(operator_context=True)
        if tok not in _OPERATOR_OF_TOKEN:
            raise SelectorError(f"found '{lit}', expected: {_BINARY_OPERATORS}")
        op = _OPERATOR_OF_TOKEN[tok]
        values = self._set_values() if op in (Operator.IN, Operator.NOT_IN) else self._exact_value()
        return Requirement(key, op, tuple(values))

    def _set_values(self) -> set[str]:
        tok, lit = self._next()
        if tok != _OPEN:
            raise SelectorError(f"found '{lit}' expected: '('")   # sic: Kubernetes has no comma here
        tok, lit = self._peek()
        if tok == _CLOSE:   # "()" is the set holding the empty string
            self._next()
            return {""}
        if tok not in (_IDENT, _COMMA):
            raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")
        # A (possibly empty) list of comma-separated (possibly empty) values: "(,a,,b,)".
        values: set[str] = set()
        while True:
            tok, lit = self._next()
            if tok == _IDENT:
                values.add(lit)
                tok2, lit2 = self._peek()
                if tok2 == _CLOSE:
                    self._next()
                    return values
                if tok2 != _COMMA:
                    raise SelectorError(f"found '{lit2}', expected: ',' or ')'")
            elif tok == _COMMA:
                if not values:
                    values.add("")   # "(,"
                tok2, _ = self._peek()
                if tok2 == _CLOSE:
                    values.add("")   # ",)"
                    self._next()
                    return values
                if tok2 == _COMMA:
                    values.add("")   # ",,"
                    self._next()
            else:
                raise SelectorError(f"found '{lit}', expected: ',', or identifier")

    def _exact_value(self) -> set[str]:
        tok, _ = self._peek()
        if tok in (_END, _COMMA):   # "k=" means "k is the empty string"
            return {""}
        tok, lit = self._next()
        if tok != _IDENT:
            raise SelectorError(f"found '{lit}', expected: identifier")
        return {lit}


def parse_label_selector(text: str) -> LabelSelector:
    """Parse Kubernetes' label selector syntax (`kubectl get -l`); "" selects everything.

    Raises SelectorError with Kubernetes' message (`unable to parse requirement: ...`).
    """
    return LabelSelector(tuple(_LabelParser(text).parse()))


def selector_from_set(labels: Mapping[str, str]) -> LabelSelector:
    """A selector requiring each `key=value` of `labels`; an empty mapping selects everything.

    Unlike Kubernetes' SelectorFromSet, invalid keys or values raise SelectorError.
    """
    return LabelSelector(tuple(Requirement(k, Operator.EQUALS, (v,)) for k, v in labels.items()))


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


_PROTO_OPERATORS = {"In": Operator.IN, "NotIn": Operator.NOT_IN, "Exists": Operator.EXISTS,
                    "DoesNotExist": Operator.DOES_NOT_EXIST}


def label_selector_errors(pb: meta_pb2.LabelSelector, *, path: str = "") -> list[str]:
    """Kubernetes' ValidateLabelSelector: every problem, each prefixed with its field path."""
    errs: list[str] = []
    labels_path = _child(path, "matchLabels")
    for key in sorted(pb.match_labels):
        errs += [f"{labels_path}: Invalid value: {_quote(key)}: {m}" for m in qualified_name_errors(key)]
        value = pb.match_labels[key]
        errs += [f"{labels_path}: Invalid value: {_quote(value)}: {m}" for m in label_value_errors(value)]
    for i, expr in enumerate(pb.match_expressions):
        at = f"{_child(path, 'matchExpressions')}[{i}]"
        # Unset proto3-optional scalars read as "", which Kubernetes also sees for a missing field.
        if expr.operator in ("In", "NotIn"):
            if not expr.values:
                errs.append(f"{at}.values: Required value: must be specified when `operator` is "
                            "'In' or 'NotIn'")
        elif expr.operator in ("Exists", "DoesNotExist"):
            if expr.values:
                errs.append(f"{at}.values: Forbidden: may not be specified when `operator` is "
                            "'Exists' or 'DoesNotExist'")
        else:
            errs.append(f"{at}.operator: Invalid value: {_quote(expr.operator)}: "
                        "not a valid selector operator")
        errs += [f"{at}.key: Invalid value: {_quote(expr.key)}: {m}"
                 for m in qualified_name_errors(expr.key)]
        for j, value in enumerate(expr.values):
            errs += [f"{at}.values[{j}]: Invalid value: {_quote(value)}: {m}"
                     for m in label_value_errors(value)]
    return errs


def label_selector_from_proto(pb: meta_pb2.LabelSelector, *, path: str = "") -> LabelSelector:
    """A `matchLabels` + `matchExpressions` message as a LabelSelector; empty selects everything.

    `path` names the field in messages (`spec.selector.matchExpressions[0].values: Required value:
    ...`). Raises SelectorError listing every problem, as Kubernetes' validation does.
    """
    if errs := label_selector_errors(pb, path=path):
        raise SelectorError(errs)
    requirements = [Requirement(k, Operator.EQUALS, (v,)) for k, v in pb.match_labels.items()]
    requirements += [Requirement(e.key, _PROTO_OPERATORS[e.operator], tuple(e.values))
                     for e in pb.match_expressions]
    return LabelSelector(tuple(requirements))


# ---------------------------------------------------------------- field selectors

@dataclass(frozen=True)
class FieldRequirement:
    """`field=value` or `field!=value`; a field the object lacks reads as ""."""

    field: str
    operator: Operator
    value: str

    def __post_init__(self) -> None:
        if self.operator not in (Operator.EQUALS, Operator.NOT_EQUALS):
            raise SelectorError(f"field selector operator '{self.operator}' is not supported: use = or !=")
        object.__setattr__(self, "operator", Operator(self.operator))

    def __str__(self) -> str:
        return f"{self.field}{self.operator.value}{escape_field_value(self.value)}"


def _field_order(r: FieldRequirement) -> tuple[str, str, str]:
    return (r.field, r.operator.value, r.value)


@dataclass(frozen=True)
class FieldSelector:
    """An AND of field requirements, kept in canonical order. No requirements: matches everything."""

    requirements: tuple[FieldRequirement, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "requirements", tuple(sorted(self.requirements, key=_field_order)))

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, fields: Mapping[str, str] | Callable[[str], str | None]) -> bool:
        """Whether an object whose field values `fields` gives (a mapping, or a getter) is selected."""
        get = fields if callable(fields) else fields.get
        for r in self.requirements:
            equal = (get(r.field) or "") == r.value
            if equal != (r.operator is Operator.EQUALS):
                return False
        return True

    def requires_exact_match(self, field: str) -> str | None:
        """The value `field` must equal, if this selector pins it (e.g. `spec.nodeName` for an index)."""
        for r in self.requirements:
            if r.field == field and r.operator is Operator.EQUALS:
                return r.value
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def escape_field_value(value: str) -> str:
    """Kubernetes' fields.EscapeValue: `\\` `,` `=` become `\\\\` `\\,` `\\=`."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _split_terms(text: str) -> list[str]:
    # Commas split terms unless escaped; the backslash stays in the term for _unescape to read.
    terms, start, in_slash = [], 0, False
    for i, c in enumerate(text):
        if in_slash:
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    # The field name has no escaping: the first operator splits, "!=" and "==" tried before "=".
    for i in range(len(term)):
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op):]
    return None


def _unescape(value: str) -> str:
    out, in_slash = [], False
    for c in value:
        if in_slash:
            if c not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{c}")
            out.append(c)
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c in ",=":
            raise SelectorError(f"invalid field selector: unescaped character in value: '{c}'")
        else:
            out.append(c)
    if in_slash:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def parse_field_selector(text: str) -> FieldSelector:
    """Parse Kubernetes' field selector syntax (`f=v`, `f==v`, `f!=v`, comma AND); "" selects all.

    Values may escape `\\,` `\\=` `\\\\`. Which fields exist is the caller's business: check_fields.
    """
    requirements = []
    # Sorted before parsing, as Kubernetes does, so the first error reported is the same one.
    for part in sorted(_split_terms(text)):
        if not part:
            continue
        split = _split_term(part)
        if split is None:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        field, op, raw = split
        value = _unescape(raw)
        operator = Operator.NOT_EQUALS if op == "!=" else Operator.EQUALS
        requirements.append(FieldRequirement(field, operator, value))
    return FieldSelector(tuple(requirements))


def check_fields(selector: FieldSelector, allowed: set[str] | frozenset[str]) -> None:
    """Raise SelectorError(`field label not supported: F`) for the first field not in `allowed`."""
    for r in selector.requirements:
        if r.field not in allowed:
            raise SelectorError(f"field label not supported: {r.field}")
