"""kubectl's JSONPath dialect (cli.jsonpath): what each template prints, and the errors kubectl names."""
from __future__ import annotations

import json
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cli import goformat, jsonpath
from cli.jsonpath import ExecError, ParseError, Template

pytestmark = pytest.mark.timeout(60)

POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "web-1", "namespace": "shop", "labels": {"app": "web", "tier": "fe"},
                 "annotations": {"example.com/owner": "team-a", "note": "<b>&</b>"}},
    "spec": {"initContainers": [{"name": "setup", "image": "busybox"}],
             "containers": [{"name": "app", "image": "nginx:1.25", "ports": [{"containerPort": 80}]},
                            {"name": "log", "image": "fluent-bit"}]},
    "status": {"phase": "Running", "podIP": "10.244.1.5",
               "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "False"}],
               "containerStatuses": [{"name": "app", "ready": True, "restartCount": 2},
                                     {"name": "log", "ready": False, "restartCount": 0}]},
}
LIST = {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "", "selfLink": ""}, "items": [
    POD,
    {"kind": "Pod", "metadata": {"name": "web-2", "labels": {"app": "web"}},
     "spec": {"containers": [{"name": "app", "image": "nginx:1.26"}]},
     "status": {"phase": "Pending", "conditions": [{"type": "Ready", "status": "True"}]}},
    {"kind": "Pod", "metadata": {"name": "db-0"}, "spec": {"containers": [{"name": "db", "image": "postgres"}]},
     "status": {"phase": "Running", "podIP": "10.244.2.9"}},
]}
NUMBERS = {"ints": [3, 1, 2], "n": 5, "f": 1.5, "big": 1e6, "whole": 2.0, "yes": True, "no": False,
           "empty": [], "nested": [[1, 2], [3]], "s": "ab"}


@pytest.mark.parametrize("template,data,out", [
    # fields and text
    pytest.param("{.metadata.name}", POD, "web-1", id="field"),
    pytest.param("kind is {.kind}, name {.metadata.name}", POD, "kind is Pod, name web-1", id="text-around"),
    pytest.param("no actions at all", POD, "no actions at all", id="text-only"),
    pytest.param("{$}", {"a": 1}, '{"a":1}', id="root"),
    pytest.param("{@.kind}", POD, "Pod", id="current"),
    pytest.param("{$.metadata.namespace}", POD, "shop", id="dollar-path"),
    pytest.param("{.missing}", POD, "", id="missing-key-prints-nothing"),
    pytest.param("{.metadata.name.more}", POD, "", id="field-of-a-string"),
    pytest.param("{.metadata.labels}", POD, '{"app":"web","tier":"fe"}', id="map-as-compact-json"),
    pytest.param("{.spec.containers[0].ports}", POD, '[{"containerPort":80}]', id="list-as-json"),
    pytest.param("{.metadata.annotations.note}", POD, "<b>&</b>", id="string-as-is"),
    pytest.param("{.metadata.annotations}", POD, '{"example.com/owner":"team-a","note":"\\u003cb\\u003e\\u0026\\u003c/b\\u003e"}',
                 id="json-escapes-html-as-go"),
    # arrays
    pytest.param("{.items[*].metadata.name}", LIST, "web-1 web-2 db-0", id="wildcard-joined-by-space"),
    pytest.param("{.items[0].spec.containers[*].image}", LIST, "nginx:1.25 fluent-bit", id="index-then-wildcard"),
    pytest.param("{.items[-1].metadata.name}", LIST, "db-0", id="negative-index"),
    pytest.param("{.items[0:2].metadata.name}", LIST, "web-1 web-2", id="slice"),
    pytest.param("{.items[1:].metadata.name}", LIST, "web-2 db-0", id="slice-open-end"),
    pytest.param("{.items[:1].metadata.name}", LIST, "web-1", id="slice-open-start"),
    pytest.param("{.items[-2:].metadata.name}", LIST, "web-2 db-0", id="slice-negative-start"),
    pytest.param("{.items[::2].metadata.name}", LIST, "web-1 db-0", id="step"),
    pytest.param("{.items[0,2].metadata.name}", LIST, "web-1 db-0", id="union-of-indexes"),
    pytest.param("{.items[1:1]}", LIST, "", id="empty-slice"),
    pytest.param("{.ints[]}", NUMBERS, "3", id="empty-brackets-first"),
    pytest.param("{.nested[*][0]}", NUMBERS, "1 3", id="index-each"),
    # keys
    pytest.param("{['kind']}", POD, "Pod", id="bracket-key"),
    pytest.param("{.metadata.annotations.example\\.com/owner}", POD, "team-a", id="escaped-dot"),
    pytest.param("{.metadata.annotations['example\\.com/owner']}", POD, "team-a", id="bracket-escaped-dot"),
    pytest.param("{.metadata.annotations['example.com/owner']}", POD, "", id="bracket-dots-are-a-path"),
    pytest.param("{.items[0]['metadata.name', 'status.phase']}", LIST, "web-1 Running", id="union-of-paths"),
    pytest.param("{.metadata.labels.*}", POD, "web fe", id="map-wildcard-in-key-order"),
    pytest.param("{.s.*}", NUMBERS, "97 98", id="string-wildcard-is-bytes"),
    # recursive descent
    pytest.param("{..image}", POD, "nginx:1.25 fluent-bit busybox", id="recursive"),
    pytest.param("{.items[*]..podIP}", LIST, "10.244.1.5 10.244.2.9", id="recursive-under-items"),
    pytest.param("{..ready}", POD, "true false", id="recursive-bools"),
    # filters
    pytest.param('{.status.conditions[?(@.type=="Ready")].status}', POD, "False", id="filter-eq"),
    pytest.param("{.status.conditions[?(@.type!='Ready')].type}", POD, "Initialized", id="filter-ne-single-quotes"),
    pytest.param('{.items[?(@.status.phase=="Running")].metadata.name}', LIST, "web-1 db-0", id="filter-items"),
    pytest.param("{.items[?(@.status.podIP)].metadata.name}", LIST, "web-1 db-0", id="filter-exists"),
    pytest.param("{.status.containerStatuses[?(@.restartCount>1)].name}", POD, "app", id="filter-gt"),
    pytest.param("{.status.containerStatuses[?(@.restartCount<=0)].name}", POD, "log", id="filter-le"),
    pytest.param("{.status.containerStatuses[?(@.ready==true)].name}", POD, "app", id="filter-bool"),
    pytest.param('{.items[?(@.metadata.name<"web-2")].metadata.name}', LIST, "web-1 db-0", id="filter-string-lt"),
    pytest.param("{.ints[?(@>=2)]}", NUMBERS, "3 2", id="filter-current-value"),
    pytest.param('{.items[*].status.conditions[?(@.type=="Ready")].status}', LIST, "False True", id="filter-each"),
    # range
    pytest.param('{range .items[*]}{.metadata.name}{"\\t"}{.status.podIP}{"\\n"}{end}', LIST,
                 "web-1\t10.244.1.5\nweb-2\t\ndb-0\t10.244.2.9\n", id="range"),
    pytest.param("{range .items[*]}[{.metadata.name}, {.status.phase}] {end}", LIST,
                 "[web-1, Running] [web-2, Pending] [db-0, Running] ", id="range-with-text"),
    pytest.param('{range .items[*]}{.metadata.name}:{range .spec.containers[*]} {.name}{end}{"\\n"}{end}', LIST,
                 "web-1: app log\nweb-2: app\ndb-0: db\n", id="nested-range"),
    pytest.param('{range .empty[*]}never{end}after', NUMBERS, "after", id="empty-range"),
    pytest.param("{.kind}{range .items[*]} {.metadata.name}{end}{.kind}", LIST, "List web-1 web-2 db-0List",
                 id="around-range"),
    pytest.param("{range .ints[*]}x{end}", NUMBERS, "xxx", id="range-over-scalars"),
    pytest.param("{range .ints[0:2]}<{@}>{end}", NUMBERS, "<3><1>", id="range-current"),
    pytest.param("{range .ints[*]}x", NUMBERS, "xxxx", id="range-without-end-as-kubectl"),
    # literals and scalars
    pytest.param('{"\\n"}{"\\t"}{"a\\"b"}', {}, '\n\ta"b', id="double-quoted-escapes"),
    pytest.param("{'\\u00e9'}{'\\x41'}{'\\101'}{'\"'}", {}, "\u00e9AA\"", id="single-quoted"),
    pytest.param("{'it''s'}", {}, "s", id="adjacent-literals-last-wins"),
    pytest.param('{"{}"}', {}, "{}", id="braces-in-literal"),
    pytest.param("{.n} {.f} {.big} {.whole}", NUMBERS, "5 1.5 1e+06 2", id="numbers-as-go-prints"),
    pytest.param("{.yes} {.no}", NUMBERS, "true false", id="bools"),
    pytest.param("{.nested}", NUMBERS, "[[1,2],[3]]", id="nested-json"),
    pytest.param("{.empty}", NUMBERS, "[]", id="empty-list-json"),
])
def test_templates(template, data, out):
    """Each template prints what kubectl prints for the same data."""
    assert Template(template).execute(data) == out


@pytest.mark.parametrize("template,message", [
    pytest.param("{.metadata.name", "unclosed action", id="unclosed"),
    pytest.param("{.a\n}", "unclosed action", id="newline-in-action"),
    pytest.param("{.items[0}", "unterminated array", id="array"),
    pytest.param('{"abc}', "unterminated quoted string", id="quote"),
    pytest.param("{.a[?(@.b=='c']}", "unterminated filter", id="filter"),
    pytest.param("{.a[?(@.b)x]}", "unclosed array expect ]", id="filter-bracket"),
    pytest.param("{.items[x]}", "invalid array index x", id="index"),
    pytest.param('{.items["kind"]}', 'invalid array index "kind"', id="double-quoted-key"),
    pytest.param("{.items[-:]}", "array index - is not a number", id="bare-minus"),
    pytest.param("{{.a}}", "unrecognized character in action: U+007B '{'", id="nested-brace"),
    pytest.param("{.a\t}", "unrecognized character in action: U+0009", id="tab"),
    pytest.param("{......a}", "invalid multiple recursive descent", id="recursive-twice"),
    pytest.param("{1.2.3}", "cannot parse number 1.2.3", id="number"),
    pytest.param('{"\\q"}', 'unquote string "\\q" error invalid syntax', id="bad-escape"),
    pytest.param("{.a[0,x]}", "invalid array index x", id="union-branch"),
])
def test_parse_errors(template, message):
    """Templates kubectl cannot parse fail with client-go's message."""
    with pytest.raises(ParseError) as e:
        Template(template)
    assert str(e.value) == message


@pytest.mark.parametrize("template,message", [
    pytest.param("{.items[5]}", "array index out of bounds: index 5, length 3", id="index"),
    pytest.param("{.items[1:9]}", "array index out of bounds: index 8, length 3", id="slice-end"),
    pytest.param("{.items[2:1]}", "starting index 2 is greater than ending index 1", id="reversed"),
    pytest.param("{.items[::0]}", "step must be > 0", id="step"),
    pytest.param("{.kind[0]}", "string is not array or slice", id="not-array"),
    pytest.param("{.metadata[*]}", "map[string]interface {} is not array or slice", id="map-wildcard-brackets"),
    pytest.param("{.metadata[?(@.x)]}", "map[resourceVersion: selfLink:] is not array or slice and cannot be filtered",
                 id="filter-map"),
    pytest.param('{.items[?(@.metadata==1)]}', "invalid type for comparison", id="compare-map"),
    pytest.param('{.items[?(@.kind==1)]}', "incompatible types for comparison", id="compare-string-int"),
    pytest.param("{.items[?(@.kind=\"Pod\")]}", "unrecognized filter operator =", id="operator"),
    pytest.param("{.items[?(@.spec.containers[*].name=='app')]}", "can only compare one element at a time",
                 id="compare-many"),
    pytest.param("{metadata.name}", "unrecognized identifier metadata", id="no-leading-dot"),
    pytest.param("{end}", "not in range, nothing to end", id="end-without-range"),
])
def test_execution_errors(template, message):
    """Templates that parse but cannot apply fail with client-go's message, missing keys allowed or not."""
    with pytest.raises(ExecError) as e:
        Template(template).execute(LIST)
    assert str(e.value) == message


def test_missing_keys_when_not_allowed():
    """With --allow-missing-template-keys=false a field found nowhere is an error; found anywhere, it is not."""
    assert Template("{.items[*].status.podIP}").execute(LIST, allow_missing_keys=False) == "10.244.1.5 10.244.2.9"
    with pytest.raises(ExecError, match="^podIP is not found$"):
        Template("{.status.podIP}").execute(LIST["items"][1], allow_missing_keys=False)
    with pytest.raises(ExecError, match="^x is not found$"):
        Template('{.items[?(@.x=="y")]}').execute(LIST, allow_missing_keys=False)
    # an existence filter tests, it does not fail
    assert Template("{.items[?(@.x)]}").execute(LIST, allow_missing_keys=False) == ""


def test_as_json_prints_each_action_as_an_indented_array():
    """jsonpath-as-json: each action's results as one JSON array, indented four spaces, one per line."""
    out = Template("{.items[*].metadata.name}{.kind}").execute(LIST, as_json=True)
    assert out == '[\n    "web-1",\n    "web-2",\n    "db-0"\n]\n[\n    "List"\n]\n'
    assert Template("{.missing}").execute(LIST, as_json=True) == "[]\n"


@pytest.mark.parametrize("value,text", [
    pytest.param({"b": 1, "a": [True, None, 0.5]}, '{"a":[true,null,0.5],"b":1}', id="sorted-keys"),
    pytest.param(1e21, "1e+21", id="big-float"), pytest.param(1e20, "100000000000000000000", id="float-fixed"),
    pytest.param(1e-7, "1e-7", id="small-float"), pytest.param(3.0, "3", id="whole-float"),
    pytest.param("a\u2028<\x01", '"a\\u2028\\u003c\\u0001"', id="escapes"),
])
def test_to_json_as_go_marshals(value, text):
    """Maps and lists print as Go's json.Marshal writes them."""
    assert goformat.to_json(value) == text


def test_go_formats():
    """The Go renderings kubectl's error messages use."""
    assert goformat.go_quote('{"\\t"}\n') == '"{\\"\\\\t\\"}\\n"'
    assert goformat.go_syntax({"b": [1, "x"], "a": True}) == 'map[string]interface {}{"a":true, "b":[]interface {}{1, "x"}}'
    assert goformat.go_value({"a": {"b": "c"}, "l": [1, 2]}) == "map[a:map[b:c] l:[1 2]]"
    assert [goformat.go_text(x) for x in (0.0001, 0.00001, 123456.0, 1234567.0, None)] == \
        ["0.0001", "1e-05", "123456", "1.234567e+06", "<nil>"]


# -- properties ---------------------------------------------------------------------------------------
IDENT = st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=8).filter(
    lambda s: s not in ("range", "end", "true", "false"))
SCALAR = st.one_of(st.text(max_size=10), st.integers(-10**6, 10**6), st.booleans())
JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-2**53, 2**53), st.text(max_size=8),
                              st.floats(allow_nan=False, allow_infinity=False)),
                    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner,
                                                                                         max_size=4)),
                    max_leaves=20)


@given(st.text().filter(lambda t: "{" not in t), JSON)
def test_text_without_actions_prints_itself(text, data):
    """A template with no `{` is plain text, whatever the data."""
    assert Template(text).execute(data) == text


@given(st.lists(IDENT, min_size=1, max_size=4), st.text(string.printable.replace("{", ""), max_size=12))
def test_a_dotted_path_finds_its_leaf(path, leaf):
    """`{.a.b.c}` prints the string at data[a][b][c]."""
    data: object = leaf
    for key in reversed(path):
        data = {key: data, "other": "x"}
    assert Template("{." + ".".join(path) + "}").execute(data) == leaf


@given(st.lists(SCALAR, min_size=1, max_size=8), st.data())
def test_slices_match_python_slicing(items, data):
    """`[a:b]` and `[a:b:s]` within bounds select what Python's slicing selects, printed space-separated."""
    n = len(items)
    a = data.draw(st.integers(0, n - 1))
    b = data.draw(st.integers(a + 1, n))
    step = data.draw(st.integers(1, 3))
    expected = " ".join(goformat.go_text(x) for x in items[a:b:step])
    assert Template(f"{{.l[{a}:{b}:{step}]}}").execute({"l": items}) == expected
    assert Template(f"{{.l[{a - n}]}}").execute({"l": items}) == goformat.go_text(items[a])


@given(st.lists(st.dictionaries(st.sampled_from(["name", "x"]), st.text(string.ascii_letters, max_size=6)),
                max_size=6))
def test_wildcard_then_field_skips_missing_keys(items):
    """`{.items[*].name}` prints the names of the items that have one, in order."""
    names = [i["name"] for i in items if "name" in i]
    assert Template("{.items[*].name}").execute({"items": items}) == " ".join(names)


def _same(a, b) -> bool:
    """Equal as JSON values; a float printed without a fraction (Go's 1e+16 is 10000000000000000) reads
    back as an int of the same value."""
    if isinstance(a, float):
        return isinstance(b, (int, float)) and not isinstance(b, bool) and float(b) == a
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    return type(a) is type(b) and a == b


@given(JSON)
def test_json_output_reads_back(value):
    """What a map or list prints as is JSON that reads back to the same value."""
    assert _same(value, json.loads(goformat.to_json(value)))
    assert _same(value, json.loads(goformat.to_json(value, indent=4)))


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",))))
def test_go_quote_unquotes(text):
    """A string quoted as Go quotes it unquotes to itself, as a JSONPath literal."""
    assert jsonpath.unquote(goformat.go_quote(text)) == text
    if not text.endswith("\\"):   # client-go takes `\\"` at the end for an escaped quote: unterminated
        assert Template("{" + goformat.go_quote(text) + "}").execute({}) == text


@given(st.text(alphabet="{}[]().,@$*?'\"=!<>:-\\ ab01\n", max_size=30))
def test_any_template_parses_or_fails_cleanly(template):
    """Arbitrary templates parse or raise ParseError; parsed ones execute or raise ExecError."""
    try:
        t = Template(template)
    except ParseError:
        return
    try:
        t.execute(LIST)
        t.execute(NUMBERS, allow_missing_keys=False)
    except ExecError:
        pass
