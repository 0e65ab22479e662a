"""`skiff version`, `cluster-info` and `api-resources`: kubectl 1.20's shapes, from pure inputs."""
from __future__ import annotations

import io
import json

import pytest
import yaml

from cli import info
from cli.main import main
from client import buildinfo, kinds

pytestmark = pytest.mark.timeout(30)

CLIENT = buildinfo.version_info("0.1.0", commit="5b06b18", commit_date="2026-11-26T03:47:35Z", tree_state="clean",
                                python="python3.11.7", compiler="cpython", platform="linux/amd64")
SERVER = dict(CLIENT, gitTreeState="dirty")


def test_version_info_has_kubectls_fields_in_order():
    """version.Info's fields, in Kubernetes' JSON order, major and minor split from the version."""
    assert list(CLIENT) == ["major", "minor", "gitVersion", "gitCommit", "gitTreeState", "buildDate", "goVersion",
                            "compiler", "platform"]
    assert (CLIENT["major"], CLIENT["minor"], CLIENT["gitVersion"]) == ("0", "1", "v0.1.0")
    assert buildinfo.version_info("")["gitVersion"] == ""


def test_version_lines_like_kubectl_1_20():
    """Plain output is Go's %#v of version.Info; --short only the gitVersions."""
    assert info.version_lines(CLIENT, SERVER, short=False) == [
        'Client Version: version.Info{Major:"0", Minor:"1", GitVersion:"v0.1.0", GitCommit:"5b06b18", '
        'GitTreeState:"clean", BuildDate:"2026-11-26T03:47:35Z", GoVersion:"python3.11.7", Compiler:"cpython", '
        'Platform:"linux/amd64"}',
        'Server Version: version.Info{Major:"0", Minor:"1", GitVersion:"v0.1.0", GitCommit:"5b06b18", '
        'GitTreeState:"dirty", BuildDate:"2026-11-26T03:47:35Z", GoVersion:"python3.11.7", Compiler:"cpython", '
        'Platform:"linux/amd64"}']
    assert info.version_lines(CLIENT, None, short=True) == ["Client Version: v0.1.0"]


def test_version_documents():
    """-o json: {clientVersion, serverVersion} with 2-space indent; -o yaml: keys sorted, then an empty line."""
    doc = info.version_document(CLIENT, SERVER, "json")
    assert json.loads(doc) == {"clientVersion": CLIENT, "serverVersion": SERVER}
    assert doc.startswith('{\n  "clientVersion": {\n    "major": "0",\n')
    text = info.version_document(CLIENT, None, "yaml")
    assert yaml.safe_load(text) == {"clientVersion": CLIENT}
    assert text.startswith('clientVersion:\n  buildDate: "2026-11-26T03:47:35Z"\n  compiler: cpython\n')
    assert text.endswith("platform: linux/amd64\n\n")


def test_cluster_info_lines():
    """The control plane's address, like kubectl's; the store's when the server reports it."""
    assert info.cluster_info_lines("127.0.0.1:6443", ["127.0.0.1:2379", "127.0.0.1:22379"]) == [
        "Skiff control plane is running at 127.0.0.1:6443",
        "Skiff store is running at 127.0.0.1:2379,127.0.0.1:22379"]
    assert info.cluster_info_lines("h:1", []) == ["Skiff control plane is running at h:1"]


def test_api_resources_table_like_kubectl():
    """kubectl's table for the kinds Skiff serves, by group then name."""
    assert info.api_resources_lines(kinds.KINDS) == [
        "NAME          SHORTNAMES   APIVERSION               NAMESPACED   KIND",
        "configmaps    cm           v1                       true         ConfigMap",
        "endpoints     ep           v1                       true         Endpoints",
        "events        ev           v1                       true         Event",
        "namespaces    ns           v1                       false        Namespace",
        "nodes         no           v1                       false        Node",
        "pods          po           v1                       true         Pod",
        "services      svc          v1                       true         Service",
        "deployments   deploy       apps/v1                  true         Deployment",
        "replicasets   rs           apps/v1                  true         ReplicaSet",
        "leases                     coordination.k8s.io/v1   true         Lease",
        "ingresses     ing          networking.k8s.io/v1     true         Ingress",
    ]


@pytest.mark.parametrize("kw,lines", [
    pytest.param({"output": "wide", "namespaced": False}, [
        "NAME         SHORTNAMES   APIVERSION   NAMESPACED   KIND        VERBS",
        "namespaces   ns           v1           false        Namespace   [create delete get list patch update watch]",
        "nodes        no           v1           false        Node        [create delete get list patch update watch]",
    ], id="wide-cluster-scoped"),
    pytest.param({"output": "name", "api_group": "apps"}, ["deployments.apps", "replicasets.apps"], id="name-apps"),
    pytest.param({"namespaced": False, "headers": False, "sort_by": "kind"}, [
        "namespaces   ns        v1        false     Namespace",
        "nodes        no        v1        false     Node",
    ], id="no-headers-by-kind"),   # tabwriter's minimum width of 10, as kubectl's
    pytest.param({"api_group": "batch"}, ["NAME      SHORTNAMES   APIVERSION   NAMESPACED   KIND"], id="nothing"),
])
def test_api_resources_filters(kw, lines):
    """--namespaced, --api-group, --sort-by, --no-headers and -o wide|name as kubectl's."""
    assert info.api_resources_lines(kinds.KINDS, **kw) == lines


def test_api_resources_through_main_needs_no_server():
    """`skiff api-resources -o name` answers from the kinds table, no server needed."""
    out, err = io.StringIO(), io.StringIO()
    assert main(["--server", "127.0.0.1:1", "api-resources", "-o", "name", "--namespaced=false"], stdout=out,
                stderr=err) == 0
    assert out.getvalue() == "namespaces\nnodes\n"
