"""`skiff` against real apiservers: the examples round-trip, bad manifests are named precisely."""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from apiserver import strategy
from client import kinds
from client.codec import from_dict, to_dict

ROOT = Path(__file__).resolve().parents[2]
SKIFF = [sys.executable, "-m", "cli"]
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def skiff(api, *args, stdin: str | None = None) -> subprocess.CompletedProcess:
    # A client config that does not exist: the developer's ~/.skiff/config (its namespace) stays out of it.
    env = dict(os.environ, PYTHONPATH=str(ROOT), SKIFFCONFIG=str(ROOT / ".no-such-skiff-config"))
    return subprocess.run([*SKIFF, "--server", api.endpoint, *args], capture_output=True, text=True,
                          input=stdin, timeout=60, cwd=ROOT, env=env)


def documents() -> list[dict]:
    docs = []
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def expected_readback(doc: dict) -> dict:
    """The manifest plus Kubernetes' defaults, as the pure strategy computes them."""
    kind = kinds.by_gvk(doc["apiVersion"], doc["kind"])
    obj = from_dict(kind.message, doc)
    strategy.default(kind, obj)
    out = to_dict(obj)
    if kind.namespaced:
        out["metadata"].setdefault("namespace", "default")
    return out


SERVER_META = ("uid", "resourceVersion", "creationTimestamp", "generation")


def test_examples_apply_and_read_back_as_input_plus_defaults(control_plane):
    """Every manifest in examples/ applies, re-applies unchanged, and reads back with -o yaml as itself plus defaults."""
    api = control_plane.apiservers[0]
    first = skiff(api, "apply", "-f", "examples/")
    assert first.returncode == 0, first.stderr
    assert first.stdout.count(" created") == len(documents())
    again = skiff(api, "apply", "-f", "examples/")
    assert again.returncode == 0 and again.stdout.count(" unchanged") == len(documents()), again.stdout
    for doc in documents():
        kind = kinds.by_gvk(doc["apiVersion"], doc["kind"])
        out = skiff(api, "get", kind.resource, doc["metadata"]["name"], "-o", "yaml")
        assert out.returncode == 0, out.stderr
        got = yaml.safe_load(out.stdout)
        assert all(got["metadata"].get(k) for k in SERVER_META), got["metadata"]
        for k in SERVER_META:
            got["metadata"].pop(k)
        annotations = got["metadata"].get("annotations", {})
        applied = {**doc, "metadata": {**doc["metadata"]}}
        if kind.namespaced:
            applied["metadata"].setdefault("namespace", "default")
        assert yaml.safe_load(annotations.pop(LAST_APPLIED)) == applied
        if not annotations:
            got["metadata"].pop("annotations", None)
        got.pop("status", None)
        want = expected_readback(doc)
        want.pop("status", None)
        if kind.resource == "services":  # allocated by the server
            for field in ("clusterIP", "clusterIPs"):
                if field in got["spec"] and field not in want["spec"]:
                    want["spec"][field] = got["spec"][field]
            for gp, wp in zip(got["spec"].get("ports", []), want["spec"].get("ports", [])):
                if "nodePort" in gp and "nodePort" not in wp:
                    wp["nodePort"] = gp["nodePort"]
        assert got == want, f"{kind.resource}/{doc['metadata']['name']} read back differently"


BAD_MANIFESTS = [
    pytest.param("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a\n", "error converting YAML", id="malformed-yaml"),
    pytest.param("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: three\n",
                 "spec.replicas", id="wrong-type"),
    pytest.param("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n"
                 "      containers:\n      - name: c\n        imagee: nginx\n",
                 "spec.template.spec.containers[0].imagee: unknown field", id="unknown-field"),
    pytest.param("apiVersion: v1\nkind: Gadget\nmetadata: {name: g}\n", 'no matches for kind "Gadget"',
                 id="unknown-kind"),
    pytest.param("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Not_Valid}\n",
                 'metadata.name: Invalid value: "Not_Valid"', id="invalid-name"),
    pytest.param("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: mm}\nspec:\n  selector: {matchLabels: {app: web}}\n"
                 "  template:\n    metadata: {labels: {app: api}}\n    spec: {containers: [{name: c, image: x}]}\n",
                 "`selector` does not match template `labels`", id="selector-mismatch"),
]


@pytest.mark.parametrize("text,message", BAD_MANIFESTS)
def test_bad_manifests_are_refused_with_the_field_named(control_plane, text, message):
    """A bad manifest makes `skiff apply` exit 1 with a message naming what is wrong, and nothing is created."""
    api = control_plane.apiservers[0]
    before = skiff(api, "get", "configmaps", "-o", "name").stdout
    r = skiff(api, "apply", "-f", "-", stdin=text)
    assert r.returncode == 1
    assert message in r.stderr, r.stderr
    assert skiff(api, "get", "configmaps", "-o", "name").stdout == before
    assert skiff(api, "get", "deployments", "-o", "name").stdout == ""


CONFIGMAPS = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: alpha, labels: {app: jp, tier: fe}, annotations: {example.com/owner: team-a}}
data: {greeting: hello, app.properties: dotted}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: beta, labels: {app: jp}}
data: {greeting: hi}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: other}
"""


def test_get_output_options_through_a_real_apiserver(control_plane):
    """`get` with -o jsonpath (a List and one object), --show-labels and --field-selector reads back
    what was applied, formatted as kubectl formats it."""
    api = control_plane.apiservers[0]
    r = skiff(api, "apply", "-f", "-", stdin=CONFIGMAPS)
    assert r.returncode == 0, r.stderr

    listed = skiff(api, "get", "configmaps", "-l", "app=jp", "-o", "jsonpath={.items[*].metadata.name}")
    assert (listed.returncode, listed.stdout, listed.stderr) == (0, "alpha beta", "")
    ranged = skiff(api, "get", "cm", "-l", "app=jp",
                   "-o=jsonpath={range .items[*]}{.metadata.name}{\"\\t\"}{.data.greeting}{\"\\n\"}{end}")
    assert ranged.stdout == "alpha\thello\nbeta\thi\n", ranged.stderr
    one = skiff(api, "get", "configmap", "alpha", "-o",
                "jsonpath={.kind}/{.metadata.name}: {.data.app\\.properties} {.metadata.labels} "
                "{.metadata.annotations['example\\.com/owner']}")
    assert one.stdout == 'ConfigMap/alpha: dotted {"app":"jp","tier":"fe"} team-a', one.stderr
    # as typed in a shell, the template in quotes (the shell removes them)
    shell = subprocess.run(["bash", "-c", f"{shlex.join(SKIFF)} --server {api.endpoint} get cm alpha "
                            "-o jsonpath='{.metadata.name}{\"\\n\"}'"], capture_output=True, text=True,
                           timeout=60, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert (shell.returncode, shell.stdout) == (0, "alpha\n"), shell.stderr
    bad = skiff(api, "get", "cm", "alpha", "-o", "jsonpath={.data")
    assert (bad.returncode, bad.stderr) == (1, "error: error parsing jsonpath {.data, unclosed action\n")

    labels = skiff(api, "get", "cm", "--show-labels")
    assert labels.returncode == 0, labels.stderr
    lines = labels.stdout.splitlines()
    assert lines[0].split() == ["NAME", "DATA", "AGE", "LABELS"]
    assert [line.split()[0::3] for line in lines[1:]] == [["alpha", "app=jp,tier=fe"], ["beta", "app=jp"],
                                                          ["other", "<none>"]]
    assert lines[1].index("app=jp") == lines[0].index("LABELS")   # aligned under its header

    picked = skiff(api, "get", "cm", "--field-selector", "metadata.name=beta", "-o", "wide")
    assert picked.returncode == 0, picked.stderr
    assert [line.split()[:2] for line in picked.stdout.splitlines()] == [["NAME", "DATA"], ["beta", "1"]]
    none = skiff(api, "get", "cm", "--field-selector", "metadata.name=nothing")
    assert (none.stdout, none.stderr) == ("", "No resources found in default namespace.\n")


def test_context_namespace_is_a_default_not_a_constraint(control_plane, tmp_path):
    """A context's namespace is where objects without one go; a manifest naming another namespace
    still applies (kubectl enforces only an explicit -n), and an explicit -n that disagrees is refused."""
    api = control_plane.apiservers[0]
    assert skiff(api, "create", "namespace", "ctx-team").returncode == 0
    assert skiff(api, "create", "namespace", "ctx-other").returncode == 0
    config = tmp_path / "config"
    config.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "team",
        "clusters": [{"name": "local", "cluster": {"server": api.endpoint}}],
        "contexts": [{"name": "team", "context": {"cluster": "local", "namespace": "ctx-team"}}]}))
    env = dict(os.environ, PYTHONPATH=str(ROOT), SKIFFCONFIG=str(config))

    def run(*args, stdin=None):
        return subprocess.run([*SKIFF, *args], capture_output=True, text=True, input=stdin, timeout=60,
                              cwd=ROOT, env=env)
    bare = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bare\ndata:\n  a: b\n"
    elsewhere = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: elsewhere\n  namespace: ctx-other\n"
    out = run("apply", "-f", "-", stdin=bare)
    assert out.returncode == 0 and out.stdout == "configmap/bare created\n", out.stderr
    out = run("apply", "-f", "-", stdin=elsewhere)
    assert out.returncode == 0 and out.stdout == "configmap/elsewhere created\n", out.stderr
    assert run("get", "cm", "bare", "-o", "name").stdout == "configmap/bare\n"
    assert run("get", "cm", "elsewhere", "-n", "ctx-other", "-o", "name").stdout == "configmap/elsewhere\n"
    refused = run("apply", "-n", "ctx-team", "-f", "-", stdin=elsewhere)
    assert refused.returncode == 1
    assert 'does not match the namespace "ctx-team"' in refused.stderr
