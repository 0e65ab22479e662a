"""The client config: parsing and its errors, which apiservers and namespace a command uses, the
`skiff config` edits and their kubectl wording, and the unreachable-server message for several addresses."""
from __future__ import annotations

import io
import os
import stat

import pytest
import yaml

from cli import config as cfg
from cli.api import Unreachable, split_servers, unreachable_message
from cli.main import main

pytestmark = pytest.mark.timeout(30)

TWO_CLUSTERS = """\
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: 127.0.0.1:6443}
- name: ha
  cluster:
    server: https://10.0.0.1:6443
    servers: [10.0.0.2:6443, 10.0.0.1:6443, 10.0.0.3:6443]
contexts:
- name: local
  context: {cluster: local}
- name: shop
  context: {cluster: ha, namespace: shop, user: admin}
- name: broken
  context: {cluster: gone}
current-context: shop
users:
- name: admin
  user: {token: abc}
preferences: {colors: true}
"""


def config(text: str = TWO_CLUSTERS) -> cfg.Config:
    return cfg.parse(text, "/home/u/.skiff/config")


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err, stdin=io.StringIO())
    return code, out.getvalue(), err.getvalue()


# -- parsing --------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,message", [
    pytest.param("- a\n- b\n", "the file must hold a mapping (apiVersion, kind, clusters, contexts, current-context), "
                 "not a list", id="not-a-mapping"),
    pytest.param("clusters: [\n  name: a\n", "line 3, column 1: expected ',' or ']', but got '<stream end>'",
                 id="yaml-syntax"),
    pytest.param("kind: Pod\n", "kind: must be 'Config', not 'Pod'", id="wrong-kind"),
    pytest.param("clusters: {a: b}\n", "clusters: must be a list of {name, cluster}, not a mapping", id="clusters-map"),
    pytest.param("clusters:\n- cluster: {server: a:1}\n", "clusters[0].name: required: a non-empty string",
                 id="no-name"),
    pytest.param("contexts:\n- {name: a}\n- {name: a}\n", 'contexts[1].name: "a" appears twice in contexts',
                 id="duplicate"),
    pytest.param("clusters:\n- name: a\n  cluster: {server: [1, 2]}\n",
                 "clusters[0].cluster.server: must be a string, not a list", id="server-list"),
    pytest.param("clusters:\n- name: a\n  cluster: {servers: a:1}\n",
                 "clusters[0].cluster.servers: must be a list of HOST:PORT strings", id="servers-string"),
    pytest.param("contexts:\n- name: a\n  context: {namespace: 7}\n",
                 "contexts[0].context.namespace: must be a string, not a number", id="namespace-number"),
    pytest.param("current-context: [a]\n", "current-context: must be a string, not a list", id="current-list"),
])
def test_a_malformed_config_names_the_file_and_what_is_wrong(text, message):
    """A config that cannot be used is refused with the file and the line or key path."""
    with pytest.raises(cfg.ConfigError) as e:
        cfg.parse(text, "/home/u/.skiff/config")
    assert str(e.value) == f"error loading config file /home/u/.skiff/config: {message}"


def test_empty_and_missing_files_are_empty_configs(tmp_path):
    """An empty file or no file at all is a config without contexts, as kubectl treats them."""
    assert cfg.parse("", "f").doc == {} and cfg.parse("# nothing\n", "f").doc == {}
    assert cfg.load(str(tmp_path / "absent")).doc == {}


def test_cluster_servers_in_order_without_repeats_or_schemes():
    """A cluster's apiservers: `server` first, then `servers`, each once, URL schemes dropped."""
    assert cfg.cluster_servers(config().clusters()["ha"]) == ["10.0.0.1:6443", "10.0.0.2:6443", "10.0.0.3:6443"]
    assert split_servers(" a:1, b:2,,a:1 ") == ["a:1", "b:2"]


# -- which apiservers, which namespace ------------------------------------------------------------
@pytest.mark.parametrize("server,context,env,servers,namespace", [
    pytest.param(None, None, {}, ("10.0.0.1:6443", "10.0.0.2:6443", "10.0.0.3:6443"), "shop", id="current-context"),
    pytest.param(None, "local", {}, ("127.0.0.1:6443",), None, id="--context"),
    pytest.param(None, None, {"SKIFF_SERVER": "e:1,f:2"}, ("e:1", "f:2"), "shop", id="env-over-context"),
    pytest.param("s:1", None, {"SKIFF_SERVER": "e:1"}, ("s:1",), "shop", id="flag-over-env"),
    pytest.param("s:1", "local", {}, ("s:1",), None, id="flag-with-context-namespace"),
])
def test_target_precedence(server, context, env, servers, namespace):
    """--server > $SKIFF_SERVER > the context's cluster; the namespace is the context's."""
    t = cfg.target(config(), server_flag=server, context_flag=context, environ=env)
    assert (t.servers, t.namespace) == (servers, namespace)


def test_no_config_means_the_default_server():
    """Without a config, skiff talks to 127.0.0.1:6443 in namespace default."""
    t = cfg.target(cfg.Config("f"), server_flag=None, context_flag=None, environ={})
    assert t == cfg.Target(("127.0.0.1:6443",), None, "")


@pytest.mark.parametrize("text,context,message", [
    pytest.param(TWO_CLUSTERS, "nope", "context was not found for specified context: nope", id="unknown-context"),
    pytest.param("current-context: gone\n", None, 'context was not found for specified context: gone (current-context '
                 'in /home/u/.skiff/config; see "skiff config get-contexts")', id="dangling-current"),
    pytest.param(TWO_CLUSTERS, "broken", 'context "broken" names cluster "gone", which is not in /home/u/.skiff/config '
                 '(add it with "skiff config set-cluster gone --server=HOST:PORT")', id="missing-cluster"),
    pytest.param("clusters: [{name: c, cluster: {}}]\ncontexts: [{name: x, context: {cluster: c}}]\n"
                 "current-context: x\n", None, 'cluster "c" in /home/u/.skiff/config has no server (set one with '
                 '"skiff config set-cluster c --server=HOST:PORT")', id="no-server"),
])
def test_target_errors(text, context, message):
    """A context or cluster that is not there is an error that says what to do."""
    with pytest.raises(cfg.ConfigError) as e:
        cfg.target(config(text), server_flag=None, context_flag=context, environ={})
    assert str(e.value) == message


# -- edits ----------------------------------------------------------------------------------------
def test_set_cluster_and_context_add_then_modify_keeping_other_fields():
    """set-cluster replaces the addresses; set-context changes only the fields given."""
    c = cfg.set_cluster(cfg.Config("f"), "a", ["h:1", "h:2"])
    assert c.doc == {"apiVersion": "v1", "kind": "Config", "clusters": [{"name": "a", "cluster": {
        "server": "h:1", "servers": ["h:2"]}}]}
    c = cfg.set_cluster(c, "a", ["h:3"])
    assert c.clusters() == {"a": {"server": "h:3"}}
    c, existed = cfg.set_context(c, "x", cluster="a", namespace="web")
    assert not existed
    c, existed = cfg.set_context(c, "x", cluster="b")
    assert existed and c.contexts() == {"x": {"cluster": "b", "namespace": "web"}}
    c, _ = cfg.set_context(c, "x", namespace="")
    assert c.contexts() == {"x": {"cluster": "b"}}


def test_use_and_delete_refuse_unknown_names():
    """use-context and delete-context speak kubectl's errors for names that are not there."""
    with pytest.raises(cfg.ConfigError, match='^no context exists with the name: "x"$'):
        cfg.use_context(config(), "x")
    with pytest.raises(cfg.ConfigError, match="^cannot delete context x, not in /home/u/.skiff/config$"):
        cfg.delete_entry(config(), "contexts", "x")
    assert "local" not in cfg.delete_entry(config(), "contexts", "local").contexts()


def test_get_contexts_table_like_kubectl():
    """get-contexts: kubectl's table, sorted by name, `*` on the current context."""
    lines, missing = cfg.contexts_table(config())
    assert lines == ["CURRENT   NAME      CLUSTER   AUTHINFO   NAMESPACE",
                     "          broken    gone",
                     "          local     local",
                     "*         shop      ha        admin      shop"]
    assert missing == []
    assert cfg.contexts_table(config(), ["local", "zz"]) == (
        ["CURRENT   NAME      CLUSTER   AUTHINFO   NAMESPACE", "          local     local"], ["context zz not found"])


def test_view_shows_kubectls_keys_and_minify_keeps_the_current_context():
    """view fills kubectl's keys; --minify keeps only the current context and its cluster."""
    v = cfg.view(config())
    assert v["preferences"] == {"colors": True} and v["users"][0]["name"] == "admin"
    assert v["contexts"][0] == {"name": "local", "context": {"cluster": "local", "user": ""}}
    m = cfg.view(config(), minify=True)
    assert [c["name"] for c in m["contexts"]] == ["shop"] and [c["name"] for c in m["clusters"]] == ["ha"]
    assert cfg.view(cfg.Config("f")) == {"apiVersion": "v1", "kind": "Config", "clusters": None, "contexts": None,
                                         "current-context": "", "preferences": {}, "users": None}


# -- the command, through main() -------------------------------------------------------------------
def test_config_commands_round_trip_and_keep_unknown_keys():
    """set-cluster, set-context, use-context, get-contexts, current-context and delete-context, as kubectl words them."""
    path = os.environ["SKIFFCONFIG"]
    with open(path, "w") as f:
        f.write(TWO_CLUSTERS)
    assert run("config", "set-cluster", "lab", "--server=127.0.0.1:6443,127.0.0.1:7443") == (
        0, 'Cluster "lab" set.\n', "")
    assert run("config", "set-context", "lab", "--cluster=lab", "--namespace=web") == (0, 'Context "lab" created.\n', "")
    assert run("config", "use-context", "lab") == (0, 'Switched to context "lab".\n', "")
    assert run("config", "set-context", "--current", "--namespace=api") == (0, 'Context "lab" modified.\n', "")
    assert run("config", "current-context") == (0, "lab\n", "")
    code, out, _ = run("config", "get-contexts", "-o", "name")
    assert (code, out) == (0, "broken\nlab\nlocal\nshop\n")
    assert run("config", "delete-context", "lab") == (
        0, f"deleted context lab from {path}\n",
        'warning: this removed your active context, use "skiff config use-context" to select a different one\n')
    written = yaml.safe_load(open(path))
    assert written["users"] == [{"name": "admin", "user": {"token": "abc"}}]   # kept as they were
    assert {c["name"] for c in written["clusters"]} == {"local", "ha", "lab"}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


@pytest.mark.parametrize("argv,err", [
    (["config", "use-context", "nope"], 'error: no context exists with the name: "nope"\n'),
    (["config", "current-context"], "error: current-context is not set\n"),
    (["config", "set-context", "--current"], "error: no current context is set\n"),
    (["config", "frob"], 'error: unknown command "frob" for "skiff config"\nRun \'skiff config --help\' for usage.\n'),
    (["--context", "nope", "get", "pods"], "error: context was not found for specified context: nope\n"),
])
def test_config_errors_exit_1(argv, err):
    """Errors read as kubectl's and exit 1; none of them needs a server."""
    assert run(*argv) == (1, "", err)


def test_a_malformed_config_stops_commands_but_not_config_view_or_version_client():
    """`get` with a broken config exits 1 naming the file; `version --client` still works."""
    path = os.environ["SKIFFCONFIG"]
    with open(path, "w") as f:
        f.write("clusters: oops\n")
    code, out, err = run("get", "pods")
    assert (code, out) == (1, "")
    assert err == f"error: error loading config file {path}: clusters: must be a list of {{name, cluster}}, not a string\n"
    code, out, _ = run("version", "--client", "--short")
    assert code == 0 and out.startswith("Client Version: v")


# -- when no apiserver answers --------------------------------------------------------------------
@pytest.mark.parametrize("attempts,message", [
    pytest.param([("127.0.0.1:6443", "refused")], "The connection to the server 127.0.0.1:6443 was refused - did you "
                 "specify the right host or port? (start a cluster with ./deploy/up.sh)", id="one-refused"),
    pytest.param([("10.0.0.1:6443", "timeout")], "Unable to connect to the server: 10.0.0.1:6443 did not answer "
                 "within 10s - did you specify the right host or port? (start a cluster with ./deploy/up.sh)",
                 id="one-timeout"),
    pytest.param([("a:1", "refused"), ("b:2", "refused")], "The connection to the servers a:1, b:2 was refused "
                 "(tried in this order) - did you specify the right host or port? (start a cluster with "
                 "./deploy/up.sh)", id="all-refused"),
    pytest.param([("a:1", "refused"), ("b:2", "timeout")], "Unable to connect to the server: tried a:1 (connection "
                 "refused), b:2 (no answer within 10s) - did you specify the right host or port? (start a cluster "
                 "with ./deploy/up.sh)", id="mixed"),
])
def test_unreachable_names_every_address_tried(attempts, message):
    """The unreachable-server message names each address tried, in order, and how to start a cluster."""
    assert unreachable_message(attempts, 10.0) == message
    assert str(Unreachable(attempts[0][0], attempts=attempts, timeout=10.0)) == message
