"""client/selectors.py against Kubernetes' label and field selector behaviour: table tests of parsing,
rendering, matching and errors (messages as k8s.io/apimachinery words them), then Hypothesis
properties: rendering round-trips, and matching agrees with a naive evaluator."""
from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from client.selectors import (
    EVERYTHING, FieldRequirement, FieldSelector, LabelSelector, Operator, Requirement, SelectorError,
    check_fields, escape_field_value, label_selector_from_proto, parse_field_selector,
    parse_label_selector, selector_from_set,
)
from skiffpb.k8s.meta.v1 import meta_pb2

pytestmark = pytest.mark.timeout(60)

# Kubernetes' validation texts, written out here rather than imported, so a drift shows.
NAME_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
            "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
             "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
             "'my_value',  or '12345', regex used for validation is "
             "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
PREFIX_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
              "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
              "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
UNABLE = "unable to parse requirement: "
OPERATORS = "in, notin, =, ==, !=, gt, lt"


# -- label selectors: parsing and rendering ----------------------------------------------------
@pytest.mark.parametrize("text, canonical", [
    pytest.param("", "", id="empty"),
    pytest.param(" \t\r\n", "", id="only-whitespace"),
    pytest.param("app=web", "app=web", id="equals"),
    pytest.param("app==web", "app=web", id="double-equals-folds-to-equals"),
    pytest.param("app!=web", "app!=web", id="not-equals"),
    pytest.param("env in (prod, staging)", "env in (prod,staging)", id="in-with-spaces"),
    pytest.param("env in (staging,prod,prod)", "env in (prod,staging)", id="in-values-sorted-deduplicated"),
    pytest.param("env notin (a,b)", "env notin (a,b)", id="notin"),
    pytest.param("env in(a)", "env in (a)", id="in-without-space-before-paren"),
    pytest.param("tier", "tier", id="exists"),
    pytest.param("!tier", "!tier", id="does-not-exist"),
    pytest.param("  !  tier  ", "!tier", id="does-not-exist-with-spaces"),
    pytest.param("b=1,a=2", "a=2,b=1", id="sorted-by-key"),
    pytest.param("a = b , c", "a=b,c", id="spaces-around-operators-and-commas"),
    pytest.param("\tenv\nin\r(a ,b )", "env in (a,b)", id="tabs-and-newlines-are-whitespace"),
    pytest.param("x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()", id="kubernetes-doc-example"),
    pytest.param("x in (,)", "x in ()", id="only-commas-is-the-empty-value"),
    pytest.param("x=", "x=", id="equals-empty-value"),
    pytest.param("x=,y!=", "x=,y!=", id="empty-values-before-comma-and-end"),
    pytest.param("example.com/app=web", "example.com/app=web", id="prefixed-key"),
    pytest.param("in in (in,notin)", "in in (in,notin)", id="keywords-as-key-and-values"),
    pytest.param("notin notin (in)", "notin notin (in)", id="notin-as-key"),
    pytest.param("in=notin", "in=notin", id="keyword-key-equality"),
    pytest.param("k<10,k>5", "k>5,k<10", id="gt-and-lt"),
    pytest.param("v=1.2_3-a", "v=1.2_3-a", id="value-with-dots-dashes-underscores"),
    pytest.param("a" * 63 + "=" + "b" * 63, "a" * 63 + "=" + "b" * 63, id="63-character-key-and-value"),
    pytest.param("a,a=y,a!=x", "a!=x,a=y,a", id="same-key-in-fixed-order"),
])
def test_label_selector_parses_to_canonical_form(text, canonical):
    """A valid selector parses, renders canonically, and the canonical form parses to the same value."""
    sel = parse_label_selector(text)
    assert str(sel) == canonical
    assert parse_label_selector(canonical) == sel


def test_parsed_requirements_are_exposed():
    """The parsed requirements carry key, operator and sorted values for callers that inspect them."""
    sel = parse_label_selector("env in (b,a),!canary,app==web")
    assert sel.requirements == (
        Requirement("app", Operator.EQUALS, ("web",)),
        Requirement("canary", Operator.DOES_NOT_EXIST),
        Requirement("env", Operator.IN, ("a", "b")),
    )


def test_empty_selector_selects_everything():
    """The empty string, an empty set and the EVERYTHING constant are one selector that matches all."""
    assert parse_label_selector("") == selector_from_set({}) == EVERYTHING
    assert EVERYTHING.empty and not parse_label_selector("a").empty
    assert EVERYTHING.matches({}) and EVERYTHING.matches({"a": "b"})


@pytest.mark.parametrize("text, message", [
    pytest.param("a b", f"{UNABLE}found 'b', expected: {OPERATORS}", id="missing-operator"),
    pytest.param("a/b/c", f'{UNABLE}invalid label key "a/b/c": a qualified name {NAME_MSG} with an '
                 "optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')", id="two-slashes"),
    pytest.param("-a", f'{UNABLE}invalid label key "-a": name part {NAME_MSG}', id="key-starts-with-dash"),
    pytest.param("Example.com/a", f'{UNABLE}invalid label key "Example.com/a": prefix part {PREFIX_MSG}',
                 id="uppercase-prefix"),
    pytest.param("/a", f'{UNABLE}invalid label key "/a": prefix part must be non-empty', id="empty-prefix"),
    pytest.param("a/", f'{UNABLE}invalid label key "a/": name part must be non-empty; name part {NAME_MSG}',
                 id="empty-name"),
    pytest.param("a" * 64, f'{UNABLE}invalid label key "{"a" * 64}": name part must be no more than 63 '
                 "characters", id="key-too-long"),
    pytest.param("a=-b", f'{UNABLE}invalid label value: "-b": at key: "a": {VALUE_MSG}', id="bad-value"),
    pytest.param("a=" + "b" * 64, f'{UNABLE}invalid label value: "{"b" * 64}": at key: "a": must be no more '
                 "than 63 characters", id="value-too-long"),
    pytest.param("a in (x,-y)", f'{UNABLE}invalid label value: "-y": at key: "a": {VALUE_MSG}',
                 id="bad-value-in-set"),
    pytest.param("a in b", f"{UNABLE}found 'b' expected: '('", id="in-without-paren"),
    pytest.param("a in (b", f"{UNABLE}found '', expected: ',' or ')'", id="unclosed-set"),
    pytest.param("a in (b c)", f"{UNABLE}found 'c', expected: ',' or ')'", id="set-missing-comma"),
    pytest.param("a in (=)", f"{UNABLE}found '=', expected: ',', ')' or identifier", id="operator-opens-set"),
    pytest.param("a in (b,=)", f"{UNABLE}found '=', expected: ',', or identifier", id="operator-in-set"),
    pytest.param("a=(b)", f"{UNABLE}found '(', expected: identifier", id="paren-as-value"),
    pytest.param("a<<1", f"{UNABLE}found '<', expected: identifier", id="doubled-lt"),
    pytest.param("a>b", f"{UNABLE}for 'Gt', 'Lt' operators, the value must be an integer", id="gt-non-integer"),
    pytest.param("a>", f"{UNABLE}for 'Gt', 'Lt' operators, the value must be an integer", id="gt-empty"),
    pytest.param("a>99999999999999999999", f"{UNABLE}for 'Gt', 'Lt' operators, the value must be an integer",
                 id="gt-beyond-int64"),
    pytest.param("!", f"{UNABLE}found '', expected: identifier", id="bare-bang"),
    pytest.param("!=a", "found '!=', expected: !, identifier, or 'end of string'", id="starts-with-not-equals"),
    pytest.param("!!a", f"{UNABLE}found '!', expected: identifier", id="double-bang"),
    pytest.param("a=b c", "found 'c', expected: ',' or 'end of string'", id="trailing-word"),
    pytest.param("a=b=c", "found '=', expected: ',' or 'end of string'", id="two-equals"),
    pytest.param("!a=b", "found '=', expected: ',' or 'end of string'", id="negation-with-value"),
    pytest.param("a=b,", "found '', expected: identifier after ','", id="trailing-comma"),
    pytest.param("a,,b", "found ',', expected: identifier after ','", id="double-comma"),
    pytest.param(",a", "found ',', expected: !, identifier, or 'end of string'", id="leading-comma"),
    pytest.param("(a)", "found '(', expected: !, identifier, or 'end of string'", id="leading-paren"),
    pytest.param('"a"', f'{UNABLE}invalid label key "\\"a\\"": name part {NAME_MSG}', id="quotes-are-quoted-as-go"),
    pytest.param("a\u00a0=b", f'{UNABLE}invalid label key "a\\u00a0": name part {NAME_MSG}',
                 id="non-breaking-space-is-not-whitespace"),
])
def test_label_selector_errors(text, message):
    """An invalid selector raises SelectorError with the message Kubernetes gives for it."""
    with pytest.raises(SelectorError) as e:
        parse_label_selector(text)
    assert str(e.value) == message
    assert e.value.errors == (message,)
    assert isinstance(e.value, ValueError)


# -- label selectors: matching -----------------------------------------------------------------
@pytest.mark.parametrize("text, labels, want", [
    pytest.param("app=web", {"app": "web"}, True, id="equals-hit"),
    pytest.param("app=web", {"app": "api"}, False, id="equals-miss"),
    pytest.param("app=web", {}, False, id="equals-absent"),
    pytest.param("app=", {"app": ""}, True, id="equals-empty-value"),
    pytest.param("app=", {}, False, id="equals-empty-needs-the-key"),
    pytest.param("app!=web", {"app": "api"}, True, id="not-equals-other"),
    pytest.param("app!=web", {}, True, id="not-equals-absent"),
    pytest.param("app!=web", {"app": "web"}, False, id="not-equals-same"),
    pytest.param("env in (a,b)", {"env": "b"}, True, id="in-hit"),
    pytest.param("env in (a,b)", {"env": "c"}, False, id="in-miss"),
    pytest.param("env in (a,b)", {}, False, id="in-absent"),
    pytest.param("env notin (a,b)", {"env": "c"}, True, id="notin-other"),
    pytest.param("env notin (a,b)", {}, True, id="notin-absent"),
    pytest.param("env notin (a,b)", {"env": "a"}, False, id="notin-member"),
    pytest.param("tier", {"tier": ""}, True, id="exists-with-empty-value"),
    pytest.param("tier", {}, False, id="exists-absent"),
    pytest.param("!tier", {}, True, id="does-not-exist-absent"),
    pytest.param("!tier", {"tier": "x"}, False, id="does-not-exist-present"),
    pytest.param("n>5", {"n": "6"}, True, id="gt-hit"),
    pytest.param("n>5", {"n": "5"}, False, id="gt-equal"),
    pytest.param("n>5", {"n": "0010"}, True, id="gt-leading-zeros"),
    pytest.param("n>5", {"n": "six"}, False, id="gt-non-integer-label"),
    pytest.param("n>5", {}, False, id="gt-absent"),
    pytest.param("n<5", {"n": "-7"}, True, id="lt-negative-label"),
    pytest.param("n<5", {"n": "5"}, False, id="lt-equal"),
    pytest.param("app=web,tier", {"app": "web", "tier": "fe"}, True, id="and-both"),
    pytest.param("app=web,tier", {"app": "web"}, False, id="and-one-missing"),
    pytest.param("app=web,app!=web", {"app": "web"}, False, id="contradiction"),
])
def test_label_selector_matches(text, labels, want):
    """Matching follows Kubernetes: a missing key satisfies only !=, notin and !key."""
    assert parse_label_selector(text).matches(labels) is want


def test_selector_from_set_requires_every_pair():
    """A selector from a set requires each key=value pair and renders as sorted equalities."""
    sel = selector_from_set({"tier": "fe", "app": "web"})
    assert str(sel) == "app=web,tier=fe"
    assert sel.matches({"app": "web", "tier": "fe", "extra": "x"})
    assert not sel.matches({"app": "web"})


@pytest.mark.parametrize("labels, message", [
    pytest.param({"a b": "x"}, f'invalid label key "a b": name part {NAME_MSG}', id="bad-key"),
    pytest.param({"a": "x y"}, f'invalid label value: "x y": at key: "a": {VALUE_MSG}', id="bad-value"),
])
def test_selector_from_set_rejects_invalid_labels(labels, message):
    """An invalid key or value in a set raises SelectorError instead of selecting everything."""
    with pytest.raises(SelectorError, match=re.escape(message)):
        selector_from_set(labels)


@pytest.mark.parametrize("args, message", [
    pytest.param(("a", Operator.IN, ()), "for 'in', 'notin' operators, values set can't be empty", id="in-empty"),
    pytest.param(("a", Operator.EQUALS, ("x", "y")), "exact-match compatibility requires one single value",
                 id="equals-two-values"),
    pytest.param(("a", Operator.EXISTS, ("x",)), "values set must be empty for exists and does not exist",
                 id="exists-with-value"),
    pytest.param(("a", Operator.GREATER_THAN, ()), "for 'Gt', 'Lt' operators, exactly one value is required",
                 id="gt-without-value"),
    pytest.param(("a", "~", ()), "operator '~' is not recognized", id="unknown-operator"),
])
def test_requirement_constructor_validates(args, message):
    """Building a Requirement directly applies Kubernetes' NewRequirement checks."""
    with pytest.raises(SelectorError) as e:
        Requirement(*args)
    assert str(e.value) == message


# -- label selectors from LabelSelector messages -----------------------------------------------
def expr(key=None, operator=None, values=()) -> meta_pb2.LabelSelectorRequirement:
    r = meta_pb2.LabelSelectorRequirement(values=list(values))
    if key is not None:
        r.key = key
    if operator is not None:
        r.operator = operator
    return r


def proto(match_labels=None, *exprs) -> meta_pb2.LabelSelector:
    return meta_pb2.LabelSelector(match_labels=match_labels or {}, match_expressions=list(exprs))


@pytest.mark.parametrize("pb, canonical", [
    pytest.param(proto(), "", id="empty"),
    pytest.param(proto({"app": "web"}), "app=web", id="match-labels"),
    pytest.param(proto({"app": ""}), "app=", id="match-labels-empty-value"),
    pytest.param(proto(None, expr("env", "In", ["b", "a"])), "env in (a,b)", id="in"),
    pytest.param(proto(None, expr("env", "NotIn", ["a"])), "env notin (a)", id="notin"),
    pytest.param(proto(None, expr("tier", "Exists")), "tier", id="exists"),
    pytest.param(proto(None, expr("tier", "DoesNotExist")), "!tier", id="does-not-exist"),
    pytest.param(proto({"app": "web", "z": "1"}, expr("env", "In", ["prod"]), expr("canary", "DoesNotExist")),
                 "app=web,!canary,env in (prod),z=1", id="labels-and-expressions"),
])
def test_label_selector_from_proto(pb, canonical):
    """matchLabels and matchExpressions become equalities and set requirements, ANDed."""
    sel = label_selector_from_proto(pb)
    assert str(sel) == canonical
    assert parse_label_selector(canonical) == sel


PATH = "spec.selector"


@pytest.mark.parametrize("pb, errors", [
    pytest.param(proto(None, expr("env", "In")), [
        f"{PATH}.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"],
        id="in-without-values"),
    pytest.param(proto(None, expr("env", "NotIn")), [
        f"{PATH}.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"],
        id="notin-without-values"),
    pytest.param(proto(None, expr("env", "Exists", ["a"])), [
        f"{PATH}.matchExpressions[0].values: Forbidden: may not be specified when `operator` is 'Exists' or "
        "'DoesNotExist'"], id="exists-with-values"),
    pytest.param(proto(None, expr("env", "DoesNotExist", ["a"])), [
        f"{PATH}.matchExpressions[0].values: Forbidden: may not be specified when `operator` is 'Exists' or "
        "'DoesNotExist'"], id="does-not-exist-with-values"),
    pytest.param(proto(None, expr("env", "in", ["a"])), [
        f'{PATH}.matchExpressions[0].operator: Invalid value: "in": not a valid selector operator'],
        id="lowercase-operator"),
    pytest.param(proto(None, expr("env", None, ["a"])), [
        f'{PATH}.matchExpressions[0].operator: Invalid value: "": not a valid selector operator'],
        id="operator-unset"),
    pytest.param(proto(None, expr("n", "Gt", ["1"])), [
        f'{PATH}.matchExpressions[0].operator: Invalid value: "Gt": not a valid selector operator'],
        id="gt-is-for-node-selectors-only"),
    pytest.param(proto(None, expr(None, "Exists")), [
        f'{PATH}.matchExpressions[0].key: Invalid value: "": name part must be non-empty',
        f'{PATH}.matchExpressions[0].key: Invalid value: "": name part {NAME_MSG}'], id="key-unset"),
    pytest.param(proto(None, expr("env", "In", ["a", "-b"])), [
        f'{PATH}.matchExpressions[0].values[1]: Invalid value: "-b": {VALUE_MSG}'], id="bad-value"),
    pytest.param(proto({"a b": "x"}), [f'{PATH}.matchLabels: Invalid value: "a b": name part {NAME_MSG}'],
                 id="match-labels-bad-key"),
    pytest.param(proto({"a": "x y"}), [f'{PATH}.matchLabels: Invalid value: "x y": {VALUE_MSG}'],
                 id="match-labels-bad-value"),
    pytest.param(proto({"a": "ok"}, expr("e", "Exists"), expr("f", "In"), expr("g", "Bogus")), [
        f"{PATH}.matchExpressions[1].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
        f'{PATH}.matchExpressions[2].operator: Invalid value: "Bogus": not a valid selector operator'],
        id="every-error-reported"),
])
def test_label_selector_from_proto_errors(pb, errors):
    """An invalid LabelSelector raises SelectorError listing every problem with its field path."""
    with pytest.raises(SelectorError) as e:
        label_selector_from_proto(pb, path=PATH)
    assert e.value.errors == tuple(errors)
    assert str(e.value) == (errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]")


def test_label_selector_from_proto_without_path():
    """Without a path, messages start at the selector's own fields."""
    with pytest.raises(SelectorError, match=r"^matchExpressions\[0\]\.values: Required value"):
        label_selector_from_proto(proto(None, expr("env", "In")))


# -- field selectors ---------------------------------------------------------------------------
@pytest.mark.parametrize("text, canonical", [
    pytest.param("", "", id="empty"),
    pytest.param("metadata.name=web", "metadata.name=web", id="equals"),
    pytest.param("metadata.name==web", "metadata.name=web", id="double-equals-folds-to-equals"),
    pytest.param("spec.nodeName!=", "spec.nodeName!=", id="not-equals-empty"),
    pytest.param("status.phase=Running,metadata.namespace=default",
                 "metadata.namespace=default,status.phase=Running", id="sorted"),
    pytest.param("a=b,", "a=b", id="trailing-comma-ignored"),
    pytest.param(",,a=b", "a=b", id="empty-terms-ignored"),
    pytest.param(r"metadata.name=a\,b\=c\\d", r"metadata.name=a\,b\=c\\d", id="escapes"),
    pytest.param("a= b ", "a= b ", id="spaces-are-data"),
    pytest.param("a=!x", "a=!x", id="bang-in-value"),
    pytest.param("=x", "=x", id="empty-field-name"),
])
def test_field_selector_parses_to_canonical_form(text, canonical):
    """A valid field selector parses, renders canonically, and the canonical form parses to the same value."""
    sel = parse_field_selector(text)
    assert str(sel) == canonical
    assert parse_field_selector(canonical) == sel


def test_field_selector_unescapes_values():
    """Escaped commas, equals signs and backslashes are data in the parsed value."""
    sel = parse_field_selector(r"metadata.name=a\,b\=c\\d,spec.nodeName!=n")
    assert sel.requirements == (FieldRequirement("metadata.name", Operator.EQUALS, "a,b=c\\d"),
                                FieldRequirement("spec.nodeName", Operator.NOT_EQUALS, "n"))
    assert escape_field_value("a,b=c\\d") == r"a\,b\=c\\d"


@pytest.mark.parametrize("text, message", [
    pytest.param("metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'",
                 id="no-operator"),
    pytest.param("a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'", id="second-term-no-operator"),
    pytest.param("a!b", "invalid selector: 'a!b'; can't understand 'a!b'", id="bang-alone-is-no-operator"),
    pytest.param(r"a=b\x", r"invalid field selector: invalid escape sequence: \x", id="unknown-escape"),
    pytest.param("a=b\\", "invalid field selector: invalid escape sequence: \\", id="trailing-backslash"),
    pytest.param("a=b=c", "invalid field selector: unescaped character in value: '='", id="unescaped-equals"),
    pytest.param("a==b=c", "invalid field selector: unescaped character in value: '='", id="double-then-equals"),
])
def test_field_selector_errors(text, message):
    """An invalid field selector raises SelectorError naming the term or character at fault."""
    with pytest.raises(SelectorError) as e:
        parse_field_selector(text)
    assert str(e.value) == message


POD = {"metadata.name": "web-1", "metadata.namespace": "default", "spec.nodeName": "node-1",
       "status.phase": "Running"}


@pytest.mark.parametrize("text, fields, want", [
    pytest.param("metadata.name=web-1", POD, True, id="equals-hit"),
    pytest.param("metadata.name=web-2", POD, False, id="equals-miss"),
    pytest.param("status.phase!=Failed", POD, True, id="not-equals-hit"),
    pytest.param("status.phase!=Running", POD, False, id="not-equals-miss"),
    pytest.param("spec.nodeName=", {"spec.nodeName": ""}, True, id="unscheduled-empty"),
    pytest.param("spec.nodeName=", {}, True, id="unscheduled-missing-reads-as-empty"),
    pytest.param("spec.nodeName!=", POD, True, id="scheduled"),
    pytest.param("spec.nodeName!=", {}, False, id="scheduled-missing"),
    pytest.param("metadata.namespace=default,spec.nodeName=node-1", POD, True, id="and-both"),
    pytest.param("metadata.namespace=default,spec.nodeName=node-2", POD, False, id="and-one"),
    pytest.param("", {}, True, id="empty-matches-everything"),
])
def test_field_selector_matches(text, fields, want):
    """Field matching compares exact strings, a missing field reading as "", given a mapping or a getter."""
    sel = parse_field_selector(text)
    assert sel.matches(fields) is want
    assert sel.matches(fields.get) is want
    assert sel.matches(lambda f: fields.get(f, None)) is want


def test_field_selector_requires_exact_match():
    """requires_exact_match gives the value an equality pins, for index lookups, and None otherwise."""
    sel = parse_field_selector("spec.nodeName=node-1,status.phase!=Failed")
    assert sel.requires_exact_match("spec.nodeName") == "node-1"
    assert sel.requires_exact_match("status.phase") is None
    assert sel.requires_exact_match("metadata.name") is None
    assert parse_field_selector("").empty and not sel.empty


POD_FIELDS = {"metadata.name", "metadata.namespace", "spec.nodeName", "status.phase"}


@pytest.mark.parametrize("text, message", [
    pytest.param("spec.nodeName=a,status.phase=Running", None, id="all-supported"),
    pytest.param("", None, id="empty"),
    pytest.param("spec.foo=x", "field label not supported: spec.foo", id="unsupported"),
    pytest.param("metadata.name=a,zz=1,spec.foo!=x", "field label not supported: spec.foo",
                 id="first-unsupported-in-canonical-order"),
    pytest.param("metadata.name =a", "field label not supported: metadata.name ", id="space-is-part-of-field"),
])
def test_check_fields(text, message):
    """check_fields accepts the kind's fields and names the first other one as Kubernetes does."""
    sel = parse_field_selector(text)
    if message is None:
        check_fields(sel, POD_FIELDS)
    else:
        with pytest.raises(SelectorError) as e:
            check_fields(sel, POD_FIELDS)
        assert str(e.value) == message


def test_field_requirement_rejects_set_operators():
    """A field requirement supports only = and !=."""
    with pytest.raises(SelectorError, match="field selector operator 'in' is not supported"):
        FieldRequirement("a", Operator.IN, "x")


# -- properties --------------------------------------------------------------------------------
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

NAME = st.from_regex(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,8}[A-Za-z0-9])?", fullmatch=True)
DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,4}[a-z0-9])?"
PREFIX = st.from_regex(rf"{DNS_LABEL}(\.{DNS_LABEL}){{0,2}}", fullmatch=True)
KEYWORDS = st.sampled_from(["in", "notin"])
ANY_KEY = st.one_of(NAME, st.builds("{}/{}".format, PREFIX, NAME), KEYWORDS)
ANY_VALUE = st.one_of(st.just(""), NAME, KEYWORDS)
# Small alphabets for matching, so that selectors and label sets meet often.
FEW_KEYS = st.sampled_from(["app", "env", "in", "example.com/tier", "x.y_z-1"])
FEW_VALUES = st.sampled_from(["", "a", "b", "web", "in", "0", "7", "42", "0042", "abc1"])
INTEGER = st.integers(0, 100).map(str)   # label values cannot carry a sign


@st.composite
def specs(draw, keys=ANY_KEY, values=ANY_VALUE):
    """A list of (key, operator, values) triples, independent of the module under test."""
    out = []
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(list(Operator)))
        if op in (Operator.IN, Operator.NOT_IN):
            vals = draw(st.lists(values, min_size=1, max_size=4))
        elif op in (Operator.EQUALS, Operator.NOT_EQUALS):
            vals = [draw(values)]
        elif op in (Operator.GREATER_THAN, Operator.LESS_THAN):
            vals = [draw(INTEGER)]
        else:
            vals = []
        out.append((draw(keys), op, vals))
    return out


def build(spec) -> LabelSelector:
    return LabelSelector(tuple(Requirement(k, op, tuple(v)) for k, op, v in spec))


def render_loosely(spec, draw) -> str:
    """Spell a spec the many ways a user may: any whitespace, `=` or `==`, values unsorted, repeated."""
    def ws() -> str:
        return draw(st.sampled_from(["", "", " ", "  ", "\t", "\n "]))

    parts = []
    for key, op, vals in spec:
        if op is Operator.EXISTS:
            text = key
        elif op is Operator.DOES_NOT_EXIST:
            text = "!" + ws() + key
        elif op in (Operator.IN, Operator.NOT_IN):
            # Kubernetes' grammar cannot spell two empty values in a row (`(a,,)` is a parse error
            # there too); a set holds "" once anyway, so spell it once.
            vals = [v for i, v in enumerate(vals) if v or "" not in vals[:i]]
            text = f"{key} {ws()}{op.value}{ws()}({ws()}" + f"{ws()},{ws()}".join(vals) + ws() + ")"
        else:
            symbol = {Operator.EQUALS: draw(st.sampled_from(["=", "=="])), Operator.NOT_EQUALS: "!=",
                      Operator.GREATER_THAN: ">", Operator.LESS_THAN: "<"}[op]
            text = f"{key}{ws()}{symbol}{ws()}{vals[0]}"
        parts.append(ws() + text + ws())
    return ",".join(parts)


def naive_matches(spec, labels) -> bool:
    """Kubernetes' documented semantics, written as plainly as possible."""
    for key, op, vals in spec:
        present = key in labels
        value = labels.get(key)
        if op is Operator.EQUALS:
            ok = present and value == vals[0]
        elif op is Operator.NOT_EQUALS:
            ok = not present or value != vals[0]
        elif op is Operator.IN:
            ok = present and value in vals
        elif op is Operator.NOT_IN:
            ok = not present or value not in vals
        elif op is Operator.EXISTS:
            ok = present
        elif op is Operator.DOES_NOT_EXIST:
            ok = not present
        else:
            integer = present and re.fullmatch(r"[+-]?[0-9]+", value) is not None
            ok = integer and (int(value) > int(vals[0]) if op is Operator.GREATER_THAN
                              else int(value) < int(vals[0]))
        if not ok:
            return False
    return True


@PROPERTY
@given(spec=specs())
def test_label_selector_rendering_round_trips(spec):
    """parse(str(sel)) == sel for any valid selector, keyword keys and empty values included."""
    sel = build(spec)
    assert parse_label_selector(str(sel)) == sel


@PROPERTY
@given(data=st.data())
def test_label_selector_matches_naive_evaluator(data):
    """A loosely spelled selector parses to one whose matches() agrees with a naive evaluator."""
    spec = data.draw(specs(FEW_KEYS, FEW_VALUES), label="spec")
    text = render_loosely(spec, data.draw)
    sel = parse_label_selector(text)
    assert sel == build(spec)
    labels = data.draw(st.dictionaries(FEW_KEYS, st.one_of(FEW_VALUES, INTEGER), max_size=5), label="labels")
    assert sel.matches(labels) == naive_matches(spec, labels)


@PROPERTY
@given(data=st.data())
def test_label_selector_from_proto_matches_naive_evaluator(data):
    """A LabelSelector message matches exactly the label sets its matchLabels and matchExpressions describe."""
    match_labels = data.draw(st.dictionaries(FEW_KEYS, FEW_VALUES, max_size=3), label="matchLabels")
    ops = {"In": Operator.IN, "NotIn": Operator.NOT_IN, "Exists": Operator.EXISTS,
           "DoesNotExist": Operator.DOES_NOT_EXIST}
    exprs, spec = [], [(k, Operator.EQUALS, [v]) for k, v in match_labels.items()]
    for _ in range(data.draw(st.integers(0, 3), label="expressions")):
        key, name = data.draw(FEW_KEYS), data.draw(st.sampled_from(sorted(ops)))
        vals = data.draw(st.lists(FEW_VALUES, min_size=1, max_size=3)) if name in ("In", "NotIn") else []
        exprs.append(expr(key, name, vals))
        spec.append((key, ops[name], vals))
    sel = label_selector_from_proto(proto(match_labels, *exprs))
    assert parse_label_selector(str(sel)) == sel
    labels = data.draw(st.dictionaries(FEW_KEYS, FEW_VALUES, max_size=5), label="labels")
    assert sel.matches(labels) == naive_matches(spec, labels)


SELECTOR_TEXT = st.lists(st.one_of(st.sampled_from(list("ab=!(),<> \t/.-_") + [" in ", " notin "]),
                                   st.characters()), max_size=30).map("".join)


@PROPERTY
@given(text=SELECTOR_TEXT)
def test_any_label_text_parses_or_raises_selector_error(text):
    """Arbitrary text either parses to a selector that round-trips or raises SelectorError, nothing else."""
    try:
        sel = parse_label_selector(text)
    except SelectorError:
        return
    assert parse_label_selector(str(sel)) == sel


FIELD = st.from_regex(r"[a-zA-Z][a-zA-Z0-9.]{0,12}", fullmatch=True)
FIELD_VALUE = st.one_of(st.text(alphabet=st.sampled_from(list("ab\\,=! ")), max_size=8), st.text(max_size=8))


@st.composite
def field_specs(draw, fields=FIELD, values=FIELD_VALUE):
    return draw(st.lists(st.tuples(fields, st.sampled_from([Operator.EQUALS, Operator.NOT_EQUALS]), values),
                         max_size=4))


@PROPERTY
@given(spec=field_specs())
def test_field_selector_rendering_round_trips(spec):
    """parse(str(sel)) == sel for any field selector, whatever characters its values hold."""
    sel = FieldSelector(tuple(FieldRequirement(*r) for r in spec))
    assert parse_field_selector(str(sel)) == sel


@PROPERTY
@given(data=st.data())
def test_field_selector_matches_naive_evaluator(data):
    """Field matching agrees with comparing each field's value (missing reads as "") to the wanted one."""
    names = st.sampled_from(sorted(POD_FIELDS))
    values = st.sampled_from(["", "a", "b,c", "d=e", "f\\g"])
    spec = data.draw(field_specs(names, values), label="spec")
    text = ",".join(f"{f}{data.draw(st.sampled_from(['=', '==']) if op is Operator.EQUALS else st.just('!='))}"
                    f"{escape_field_value(v)}" for f, op, v in spec)
    fields = data.draw(st.dictionaries(names, values), label="fields")
    want = all((fields.get(f, "") == v) == (op is Operator.EQUALS) for f, op, v in spec)
    assert parse_field_selector(text).matches(fields) is want


@PROPERTY
@given(text=st.text(alphabet=st.one_of(st.sampled_from(list("ab=!,\\ ")), st.characters()), max_size=30))
def test_any_field_text_parses_or_raises_selector_error(text):
    """Arbitrary text either parses to a field selector that round-trips or raises SelectorError."""
    try:
        sel = parse_field_selector(text)
    except SelectorError:
        return
    assert parse_field_selector(str(sel)) == sel
