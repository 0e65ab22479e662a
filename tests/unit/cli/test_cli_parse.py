"""The skiff CLI's pure parts: manifest loading, tables and ages, -o output shapes, flags and error lines."""
from __future__ import annotations

import io
import json

import pytest
import yaml

from cli import printers
from cli.api import ServerError, Unreachable, translate
from client.errors import STATUS_KEY
from cli.commands import UsageError, grace_period_of, namespace_of, resolve_targets
from cli.main import duration, main, split_command
from cli.manifests import STDIN, ManifestError, load, parse_source, read_sources
from client import kinds
from client.codec import from_dict
from skiffpb.k8s.apps.v1 import apps_pb2
from skiffpb.k8s.core.v1 import core_pb2
from skiffpb.k8s.meta.v1 import meta_pb2

pytestmark = pytest.mark.timeout(30)

DEPLOYMENT = """\
# A Deployment as the Kubernetes docs write it.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web          # trailing comment
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports:
        - containerPort: 80
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: http
"""


# -- manifests ----------------------------------------------------------------------------------
def test_multi_document_yaml_with_comments_and_empty_documents():
    """Every non-empty document of a file is decoded into its kind, comments and `---` noise ignored."""
    text = "---\n# only a comment\n---\n" + DEPLOYMENT + "---\n\n---\n" + SERVICE + "...\n"
    found = parse_source("web.yaml", text)
    assert [(m.kind.kind, m.name, m.namespace) for m in found] == [("Deployment", "web", ""),
                                                                   ("Service", "web", "shop")]
    assert found[0].obj.spec.template.spec.containers[0].ports[0].container_port == 80
    assert found[1].obj.spec.ports[0].target_port.str_val == "http"
    assert all(m.source == "web.yaml" for m in found)


def test_json_files_single_and_concatenated():
    """JSON manifests load, one object or several one after another."""
    one = json.dumps(yaml.safe_load(DEPLOYMENT))
    two = one + "\n" + json.dumps(yaml.safe_load(SERVICE))
    assert [m.kind.kind for m in parse_source("a.json", one)] == ["Deployment"]
    assert [m.kind.kind for m in parse_source("b.json", two)] == ["Deployment", "Service"]


def test_v1_list_stands_for_its_items():
    """A `kind: List` document (as `get -o yaml` prints) is applied item by item."""
    doc = {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""},
           "items": [yaml.safe_load(DEPLOYMENT), yaml.safe_load(SERVICE)]}
    assert [m.kind.kind for m in parse_source("list.yaml", yaml.safe_dump(doc))] == ["Deployment", "Service"]


def test_timestamps_stay_strings():
    """A date-like annotation value is a string, as in Kubernetes' YAML, not a datetime."""
    text = DEPLOYMENT.replace("  labels: {app: web}\n", "  labels: {app: web}\n  annotations: {built: 2024-01-02}\n", 1)
    (m,) = parse_source("d.yaml", text)
    assert m.obj.metadata.annotations["built"] == "2024-01-02"


def test_directory_expands_to_sorted_manifest_files(tmp_path):
    """A directory stands for its *.yaml, *.yml and *.json files in name order, not recursively."""
    (tmp_path / "b.yml").write_text(SERVICE)
    (tmp_path / "a.yaml").write_text(DEPLOYMENT)
    (tmp_path / "c.json").write_text(json.dumps(yaml.safe_load(DEPLOYMENT)))
    (tmp_path / "notes.txt").write_text("not a manifest")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "z.yaml").write_text(SERVICE)
    sources = read_sources([str(tmp_path)], stdin=io.StringIO())
    assert [s.rsplit("/", 1)[1] for s, _ in sources] == ["a.yaml", "b.yml", "c.json"]


def test_stdin_is_named_STDIN():
    """`-f -` reads stdin and names it STDIN in messages, as kubectl does."""
    found, errors = load(["-"], io.StringIO(DEPLOYMENT))
    assert errors == [] and [(m.source, m.name) for m in found] == [(STDIN, "web")]


def test_missing_path_refuses_the_command(tmp_path):
    """A path that does not exist is an error before anything is read or sent."""
    with pytest.raises(ManifestError, match=r'^the path ".*nope.yaml" does not exist$'):
        load([str(tmp_path / "nope.yaml")], io.StringIO())


def test_a_bad_file_is_reported_and_the_good_ones_kept(tmp_path):
    """One error per bad file, naming it; objects of good files still load."""
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(DEPLOYMENT)
    bad.write_text(SERVICE + "---\n" + DEPLOYMENT.replace("image:", "imagee:"))
    found, errors = load([str(good), str(bad)], io.StringIO())
    assert [m.source for m in found] == [str(good)]
    assert errors == [f'error validating "{bad}": error validating data: '
                      "spec.template.spec.containers[0].imagee: unknown field"]


@pytest.mark.parametrize("text,message", [
    pytest.param(DEPLOYMENT.replace("image:", "imagee:"),
                 'error validating "f.yaml": error validating data: spec.template.spec.containers[0].imagee: '
                 "unknown field", id="unknown-field"),
    pytest.param(DEPLOYMENT.replace("replicas: 2", "replicas: two"),
                 'error validating "f.yaml": error validating data: spec.replicas: expected integer, got string '
                 '"two"', id="wrong-type"),
    pytest.param(DEPLOYMENT.replace("containerPort: 80", "containerPort: [80]"),
                 'error validating "f.yaml": error validating data: spec.template.spec.containers[0].ports[0]'
                 ".containerPort: expected integer, got array", id="wrong-type-in-list"),
    pytest.param("apiVersion: v1\nmetadata: {name: a}\n",
                 'error validating "f.yaml": error validating data: kind not set', id="no-kind"),
    pytest.param("metadata: {name: a}\n",
                 'error validating "f.yaml": error validating data: [apiVersion not set, kind not set]',
                 id="no-apiversion-no-kind"),
    pytest.param("apiVersion: apps/v1\nkind: Deploymnt\nmetadata: {name: a}\n",
                 'resource mapping not found for name: "a" namespace: "" from "f.yaml": no matches for kind '
                 '"Deploymnt" in version "apps/v1"\nensure CRDs are installed first', id="unknown-kind"),
    pytest.param("apiVersion: v1\nkind: Pod\nspec: {}\n",
                 'error validating "f.yaml": error validating data: metadata.name: Required value: name is '
                 "required", id="no-name"),
    pytest.param("- a\n- b\n",
                 'error validating "f.yaml": error validating data: document: expected an object with apiVersion '
                 "and kind, got list", id="not-an-object"),
    pytest.param("apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: a, nmae: b}}\n",
                 'error validating "f.yaml": error validating data: items[0].metadata.nmae: unknown field',
                 id="list-item"),
    pytest.param("apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n   labels: {}\n",
                 "error parsing f.yaml: error converting YAML to JSON: yaml: line 5: mapping values are not "
                 "allowed here", id="yaml-syntax"),
])
def test_bad_manifests_name_file_and_field(text, message):
    """Each kind of bad manifest is refused with kubectl's wording, the file and the field path."""
    with pytest.raises(ManifestError) as e:
        parse_source("f.yaml", text)
    assert str(e.value) == message


# -- ages and tables ----------------------------------------------------------------------------
@pytest.mark.parametrize("seconds,shown", [
    pytest.param(-5, "<invalid>", id="future"), pytest.param(-1, "0s", id="clock-skew"),
    pytest.param(0, "0s", id="zero"), pytest.param(5, "5s", id="seconds"),
    pytest.param(119, "119s", id="under-two-minutes"), pytest.param(120, "2m", id="two-minutes"),
    pytest.param(182, "3m2s", id="minutes-seconds"), pytest.param(599, "9m59s", id="under-ten-minutes"),
    pytest.param(600, "10m", id="ten-minutes"), pytest.param(3 * 3600 - 1, "179m", id="under-three-hours"),
    pytest.param(3 * 3600 + 5 * 60, "3h5m", id="hours-minutes"), pytest.param(4 * 3600, "4h", id="whole-hours"),
    pytest.param(10 * 3600, "10h", id="over-eight-hours"), pytest.param(47 * 3600, "47h", id="under-two-days"),
    pytest.param(2 * 86400, "2d", id="two-days"), pytest.param(2 * 86400 + 5 * 3600, "2d5h", id="days-hours"),
    pytest.param(30 * 86400, "30d", id="days"), pytest.param(2 * 365 * 86400 + 10 * 86400, "2y10d", id="years-days"),
    pytest.param(9 * 365 * 86400, "9y", id="years"),
])
def test_human_duration_matches_kubectl(seconds, shown):
    """Ages read as kubectl's duration.HumanDuration prints them."""
    assert printers.human_duration(seconds) == shown


@pytest.mark.parametrize("stamp,shown", [
    pytest.param("2026-01-01T00:00:00Z", "3m2s", id="rfc3339"),
    pytest.param("2026-01-01T00:00:00.123456Z", "3m1s", id="micro"),
    pytest.param("", "<unknown>", id="missing"), pytest.param("yesterday", "<unknown>", id="garbage"),
])
def test_age_from_timestamps(stamp, shown):
    """AGE is the time since creationTimestamp; `<unknown>` without one."""
    now = printers.parse_time("2026-01-01T00:03:02Z")
    assert printers.age(stamp, now) == shown


NOW = printers.parse_time("2026-01-01T01:00:00Z")


def _deployment(name: str, ns: str = "default", ready: int = 1, replicas: int = 3) -> apps_pb2.Deployment:
    return from_dict(apps_pb2.Deployment, {
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": "2026-01-01T00:59:55Z"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
        "status": {"replicas": replicas, "readyReplicas": ready, "updatedReplicas": replicas,
                   "availableReplicas": ready}})


def test_deployment_table_like_kubectl():
    """Deployments show READY, UP-TO-DATE, AVAILABLE and AGE, aligned with three spaces."""
    kind = kinds.by_name("deploy")
    lines = printers.format_table(printers.columns(kind), [_deployment("web"), _deployment("api-server", ready=3)], NOW)
    assert lines == [
        "NAME         READY   UP-TO-DATE   AVAILABLE   AGE",
        "web          1/3     3            1           5s",
        "api-server   3/3     3            3           5s",
    ]


def test_all_namespaces_adds_namespace_first_and_wide_adds_columns():
    """-A puts NAMESPACE first; -o wide appends CONTAINERS, IMAGES, SELECTOR."""
    kind = kinds.by_name("deployments.apps")
    cols = printers.columns(kind, wide=True, all_namespaces=True)
    assert printers.header(cols) == ["NAMESPACE", "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE",
                                     "CONTAINERS", "IMAGES", "SELECTOR"]
    assert printers.row(cols, _deployment("web", ns="shop"), NOW) == ["shop", "web", "1/3", "3", "1", "5s", "c",
                                                                       "nginx", "app=web"]


def test_cluster_scoped_kinds_get_no_namespace_column():
    """-A does not add NAMESPACE for nodes or namespaces."""
    assert printers.header(printers.columns(kinds.by_name("nodes"), all_namespaces=True))[0] == "NAME"


@pytest.mark.parametrize("pod,cells", [
    pytest.param({"spec": {"containers": [{"name": "a"}, {"name": "b"}]},
                  "status": {"phase": "Running", "containerStatuses": [
                      {"name": "a", "ready": True, "restartCount": 2, "state": {"running": {}}},
                      {"name": "b", "ready": False, "restartCount": 1, "state": {"running": {}}}]}},
                 ["1/2", "Running", "3"], id="running"),
    pytest.param({"spec": {"containers": [{"name": "a"}]}, "status": {"phase": "Pending"}},
                 ["0/1", "Pending", "0"], id="pending"),
    pytest.param({"spec": {"containers": [{"name": "a"}]},
                  "status": {"phase": "Pending", "containerStatuses": [
                      {"name": "a", "state": {"waiting": {"reason": "ContainerCreating"}}}]}},
                 ["0/1", "ContainerCreating", "0"], id="waiting"),
    pytest.param({"spec": {"containers": [{"name": "a"}]},
                  "status": {"phase": "Running", "containerStatuses": [
                      {"name": "a", "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}},
                 ["0/1", "CrashLoopBackOff", "4"], id="crashloop"),
    pytest.param({"spec": {"containers": [{"name": "a"}]},
                  "status": {"phase": "Failed", "containerStatuses": [
                      {"name": "a", "state": {"terminated": {"exitCode": 3}}}]}},
                 ["0/1", "ExitCode:3", "0"], id="exit-code"),
    pytest.param({"spec": {"initContainers": [{"name": "i"}], "containers": [{"name": "a"}]},
                  "status": {"phase": "Pending", "initContainerStatuses": [{"name": "i", "state": {"running": {}}}]}},
                 ["0/1", "Init:0/1", "0"], id="init"),
    pytest.param({"metadata": {"deletionTimestamp": "2026-01-01T01:00:30Z"}, "spec": {"containers": [{"name": "a"}]},
                  "status": {"phase": "Running"}}, ["0/1", "Terminating", "0"], id="terminating"),
])
def test_pod_ready_status_restarts(pod, cells):
    """Pods show READY, STATUS and RESTARTS computed as kubectl does."""
    obj = from_dict(core_pb2.Pod, {"metadata": {"name": "p", **pod.get("metadata", {})},
                                   **{k: v for k, v in pod.items() if k != "metadata"}})
    assert printers.row(printers.columns(kinds.by_name("po")), obj, NOW)[1:4] == cells


@pytest.mark.parametrize("spec,status,cells", [
    pytest.param({"type": "ClusterIP", "clusterIP": "10.96.0.10", "ports": [{"port": 80, "protocol": "TCP"}]}, {},
                 ["ClusterIP", "10.96.0.10", "<none>", "80/TCP"], id="cluster-ip"),
    pytest.param({"type": "NodePort", "clusterIP": "10.96.0.11",
                  "ports": [{"port": 80, "nodePort": 30080}, {"port": 53, "protocol": "UDP", "nodePort": 30053}]}, {},
                 ["NodePort", "10.96.0.11", "<none>", "80:30080/TCP,53:30053/UDP"], id="node-port"),
    pytest.param({"type": "LoadBalancer", "clusterIP": "10.96.0.12", "ports": [{"port": 443, "nodePort": 31443}]},
                 {}, ["LoadBalancer", "10.96.0.12", "<pending>", "443:31443/TCP"], id="lb-pending"),
    pytest.param({"type": "LoadBalancer", "clusterIP": "10.96.0.12", "ports": [{"port": 443, "nodePort": 31443}]},
                 {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}},
                 ["LoadBalancer", "10.96.0.12", "192.0.2.1", "443:31443/TCP"], id="lb"),
    pytest.param({"type": "ExternalName", "externalName": "db.example.com"}, {},
                 ["ExternalName", "<none>", "db.example.com", "<none>"], id="external-name"),
])
def test_service_columns(spec, status, cells):
    """Services show TYPE, CLUSTER-IP, EXTERNAL-IP and PORT(S) as kubectl does."""
    svc = from_dict(core_pb2.Service, {"metadata": {"name": "s"}, "spec": spec, "status": status})
    assert printers.row(printers.columns(kinds.by_name("svc")), svc, NOW)[1:5] == cells


def test_table_widths_grow_for_streamed_rows():
    """Rows printed later by `get -w` line up under the header, widening a column only when they must."""
    t = printers.Table()
    assert t.lines([["NAME", "AGE"], ["a", "1s"]]) == ["NAME   AGE", "a      1s"]
    assert t.lines([["b", "2s"]]) == ["b      2s"]
    assert t.lines([["a-long-name", "3s"]]) == ["a-long-name   3s"]


@pytest.mark.parametrize("resource,namespace,all_ns,notice", [
    pytest.param("pods", "default", False, "No resources found in default namespace.", id="namespaced"),
    pytest.param("pods", "", True, "No resources found", id="all-namespaces"),
    pytest.param("nodes", "", False, "No resources found", id="cluster-scoped"),
])
def test_no_resources_notice(resource, namespace, all_ns, notice):
    """An empty table is kubectl's `No resources found` notice."""
    assert printers.no_resources(kinds.by_resource(resource), namespace, all_ns) == notice


# -- -o json|yaml|name --------------------------------------------------------------------------
def test_list_as_yaml_is_a_sorted_v1_list():
    """`get -o yaml` of a collection is a v1 List with sorted keys, items carrying apiVersion and kind."""
    kind = kinds.by_name("deploy")
    text = printers.render_objects(kind, [_deployment("a"), _deployment("b")], "yaml", single=False)
    doc = yaml.safe_load(text)
    assert list(doc) == ["apiVersion", "items", "kind", "metadata"]
    assert doc["apiVersion"] == "v1" and doc["kind"] == "List"
    assert doc["metadata"] == {"resourceVersion": "", "selfLink": ""}
    assert [(i["apiVersion"], i["kind"], i["metadata"]["name"]) for i in doc["items"]] == [
        ("apps/v1", "Deployment", "a"), ("apps/v1", "Deployment", "b")]
    assert text.startswith("apiVersion: v1\nitems:\n- apiVersion: apps/v1\n")


def test_list_as_json_and_empty_list():
    """`get -o json` of a collection is a v1 List indented by four spaces; an empty one has no items."""
    kind = kinds.by_name("deploy")
    text = printers.render_objects(kind, [_deployment("a")], "json", single=False)
    assert text.startswith('{\n    "apiVersion": "v1",\n    "items": [\n')
    assert json.loads(text)["items"][0]["spec"]["replicas"] == 3
    assert json.loads(printers.render_objects(kind, [], "json", single=False))["items"] == []


def test_single_object_and_names():
    """One named object prints as itself; -o name prints kind.group/name."""
    kind = kinds.by_name("deploy")
    doc = json.loads(printers.render_objects(kind, [_deployment("web")], "json", single=True))
    assert list(doc)[:4] == ["apiVersion", "kind", "metadata", "spec"] and doc["kind"] == "Deployment"
    assert printers.render_objects(kind, [_deployment("a"), _deployment("b")], "name", single=False) == \
        "deployment.apps/a\ndeployment.apps/b\n"
    assert printers.object_name(kinds.by_name("svc"), "web") == "service/web"
    assert printers.object_name(kinds.by_name("ing"), "web") == "ingress.networking.k8s.io/web"


def test_yaml_strings_round_trip_as_strings():
    """Multi-line strings print as `|` blocks and number-like strings stay quoted, so YAML reads them back."""
    data = {"a": '{"x":1}\n', "rv": "4", "t": "2026-01-01T00:00:00Z", "b": "true", "plain": "web"}
    text = printers.dump(data, "yaml")
    assert 'a: |\n  {"x":1}\n' in text and 'rv: "4"' in text and "plain: web" in text
    assert yaml.safe_load(text) == data


def test_watched_yaml_documents_are_separated():
    """`get -w -o yaml` prints each object as its own YAML document."""
    out = printers.render_watched(kinds.by_name("deploy"), _deployment("web"), "yaml")
    assert out.startswith("---\napiVersion: apps/v1\n")


# -- flags and arguments ------------------------------------------------------------------------
@pytest.mark.parametrize("args,expected", [
    pytest.param(["pods"], [("pods", None)], id="collection"),
    pytest.param(["deploy", "a", "b"], [("deployments", "a"), ("deployments", "b")], id="names"),
    pytest.param(["deployments.apps", "a"], [("deployments", "a")], id="group-qualified"),
    pytest.param(["deploy/a", "svc/b"], [("deployments", "a"), ("services", "b")], id="slash-form"),
])
def test_resolve_targets(args, expected):
    """TYPE [NAME...] and TYPE/NAME forms name kinds as kubectl does."""
    assert [(k.resource, n) for k, n in resolve_targets(args)] == expected


@pytest.mark.parametrize("args,message", [
    pytest.param(["foo"], 'the server doesn\'t have a resource type "foo"', id="unknown-type"),
    pytest.param(["deploy/a", "b"], "there is no need to specify a resource type", id="mixed-forms"),
    pytest.param(["deploy", "deploy/a"], "there is no need to specify a resource type", id="type-then-slash"),
])
def test_resolve_targets_errors(args, message):
    """Bad resource arguments are usage errors with kubectl's words."""
    with pytest.raises(UsageError, match=message):
        resolve_targets(args)


@pytest.mark.parametrize("resource,given,explicit,ns", [
    pytest.param("pods", "shop", "other", "shop", id="manifest-wins"),
    pytest.param("pods", "", "other", "other", id="flag"),
    pytest.param("pods", "", None, "default", id="default"),
    pytest.param("nodes", "", "other", "", id="cluster-scoped"),
])
def test_namespace_of(resource, given, explicit, ns):
    """The namespace is the manifest's, else -n, else default; none for cluster-scoped kinds."""
    assert namespace_of(kinds.by_resource(resource), given, explicit) == ns


@pytest.mark.parametrize("grace,force,now,expected", [
    pytest.param(-1, False, False, None, id="object-default"), pytest.param(30, False, False, 30, id="given"),
    pytest.param(0, False, False, 1, id="zero-needs-force"), pytest.param(0, True, False, 0, id="force-zero"),
    pytest.param(-1, True, False, 0, id="force"), pytest.param(-1, False, True, 1, id="now"),
])
def test_grace_period_rules(grace, force, now, expected):
    """--grace-period, --force and --now combine as in kubectl."""
    assert grace_period_of(grace, force, now) == expected


@pytest.mark.parametrize("text,seconds", [
    pytest.param("10", 10.0, id="number"), pytest.param("30s", 30.0, id="s"), pytest.param("2m", 120.0, id="m"),
    pytest.param("1m30s", 90.0, id="m-s"), pytest.param("1h", 3600.0, id="h"), pytest.param("0", 0.0, id="zero"),
])
def test_durations(text, seconds):
    """Durations are seconds or Go-style 30s/5m/1h."""
    assert duration(text) == seconds


def test_split_command_keeps_global_flags_anywhere():
    """Global flags before the command are split off; the rest goes to the command's parser."""
    assert split_command(["--server", "h:1", "-n", "x", "get", "pods", "-o", "yaml"], ["get"]) == (
        "get", ["--server", "h:1", "-n", "x"], ["pods", "-o", "yaml"])


@pytest.mark.parametrize("argv,code,stream,text", [
    pytest.param(["get", "--help"], 0, "out", "skiff get TYPE", id="help"),
    pytest.param([], 0, "out", "Commands:", id="no-command"),
    pytest.param(["get"], 1, "err", "error: You must specify the type of resource to get.", id="get-no-type"),
    pytest.param(["get", "pods", "--bogus"], 1, "err", "error: unrecognized arguments: --bogus", id="bad-flag"),
    pytest.param(["get", "pods", "-o", "xml"], 1, "err",
                 'error: unable to match a printer suitable for the output format "xml", allowed formats are: '
                 "json,jsonpath,jsonpath-as-json,jsonpath-file,name,wide,yaml", id="bad-output"),
    pytest.param(["frob"], 1, "err", 'error: unknown command "frob" for "skiff"', id="bad-command"),
    pytest.param(["scale", "deploy", "web"], 1, "err", 'error: required flag(s) "replicas" not set',
                 id="scale-no-replicas"),
    pytest.param(["apply"], 1, "err", "error: must specify one of -f and -k", id="apply-no-file"),
    pytest.param(["delete"], 1, "err", "error: You must provide one or more resources", id="delete-nothing"),
    pytest.param(["delete", "deploy"], 1, "err", "error: resource(s) were provided, but no name was specified",
                 id="delete-no-name"),
    pytest.param(["delete", "deploy", "web", "--cascade=sideways"], 1, "err", "error: invalid cascade value",
                 id="bad-cascade"),
    pytest.param(["get", "pods", "web", "-A"], 1, "err",
                 "error: a resource cannot be retrieved by name across all namespaces", id="name-with-A"),
])
def test_usage_errors_exit_1_without_a_server(argv, code, stream, text):
    """Usage errors print kubectl-style `error: ...` lines and exit 1; help exits 0; no server is needed."""
    out, err = io.StringIO(), io.StringIO()
    assert main(["--server", "127.0.0.1:1", *argv], stdout=out, stderr=err, stdin=io.StringIO()) == code
    assert text in (out if stream == "out" else err).getvalue()


def test_invalid_manifest_exits_1_before_any_request(tmp_path):
    """`apply` of a manifest with an unknown field prints the file and path and sends nothing."""
    f = tmp_path / "web.yaml"
    f.write_text(DEPLOYMENT.replace("image:", "imagee:"))
    out, err = io.StringIO(), io.StringIO()
    assert main(["--server", "127.0.0.1:1", "apply", "-f", str(f)], stdout=out, stderr=err) == 1
    assert err.getvalue() == (f'error: error validating "{f}": error validating data: '
                              "spec.template.spec.containers[0].imagee: unknown field\n")
    assert out.getvalue() == ""


# -- errors from the server ---------------------------------------------------------------------
def _status(reason: str, message: str, code: int) -> tuple[tuple[str, bytes]]:
    st = meta_pb2.Status(kind="Status", api_version="v1", status="Failure", reason=reason, message=message, code=code)
    return ((STATUS_KEY, st.SerializeToString()),)


@pytest.mark.parametrize("code,details,trailing,line", [
    pytest.param("NOT_FOUND", 'deployments.apps "web" not found',
                 _status("NotFound", 'deployments.apps "web" not found', 404),
                 'Error from server (NotFound): deployments.apps "web" not found', id="status"),
    pytest.param("INVALID_ARGUMENT", "x", _status("Invalid", 'Deployment.apps "web" is invalid: spec.replicas: bad', 422),
                 'Error from server (Invalid): Deployment.apps "web" is invalid: spec.replicas: bad', id="invalid"),
    pytest.param("ABORTED", "the object has been modified", (),
                 "Error from server (Conflict): the object has been modified", id="no-status-mapped"),
    pytest.param("DATA_LOSS", "oops", None, "Error from server (DATA_LOSS): oops", id="no-status-code-name"),
    pytest.param("UNAVAILABLE", "store down", _status("ServiceUnavailable", "store down", 503),
                 "Error from server (ServiceUnavailable): store down", id="unavailable-with-status"),
])
def test_server_errors_read_like_kubectl(code, details, trailing, line):
    """A failed call reads `Error from server (<Reason>): <message>`, reason from the Status if there is one."""
    e = translate(code, details, trailing, "h:1")
    assert isinstance(e, ServerError) and e.line() == line


def test_unreachable_server():
    """UNAVAILABLE without a Status means no server answered: kubectl's connection-refused line."""
    e = translate("UNAVAILABLE", "failed to connect to all addresses", (), "127.0.0.1:6443")
    assert isinstance(e, Unreachable)
    assert str(e) == ("The connection to the server 127.0.0.1:6443 was refused - did you specify the right host "
                      "or port? (start a cluster with ./deploy/up.sh)")
