"""The pure parts of create, label/annotate, edit, expose and --record, and label's Conflict retry."""
from __future__ import annotations

import argparse
import io
import json
import random

import pytest

from cli import create, edit, expose, metadata_cmds, outcome, record
from cli.api import ServerError
from cli.commands import Context, UsageError
from cli.main import build_parsers, main
from cli.manifests import parse_source
from client import codec, kinds
from skiffpb.k8s.apps.v1 import apps_pb2
from skiffpb.k8s.core.v1 import core_pb2

pytestmark = pytest.mark.timeout(30)

DEPLOY = kinds.by_resource("deployments")
PODS = kinds.by_resource("pods")
SERVICES = kinds.by_resource("services")


def _deployment(ports=((8080, None),), labels=None, match=None) -> apps_pb2.Deployment:
    return codec.from_dict(apps_pb2.Deployment, {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": labels if labels is not None else {"app": "web"}},
        "spec": {"selector": {"matchLabels": match if match is not None else {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                     {"name": "c", "image": "x",
                      "ports": [{"containerPort": p, **({"protocol": pr} if pr else {})} for p, pr in ports]}]}}}})


# -- create -------------------------------------------------------------------------------------
@pytest.mark.parametrize("image,name", [
    pytest.param("nginx", "nginx", id="plain"), pytest.param("nginx:1.25", "nginx", id="tag"),
    pytest.param("registry.local:5000/team/api:v2", "api", id="registry-port"),
    pytest.param("busybox@sha256:abc", "busybox", id="digest"),
])
def test_container_names_follow_the_image(image, name):
    """A container is named after its image's last path element, tag and digest removed."""
    assert create.container_name(image, random.Random(0)) == name


def test_container_names_with_dots_get_a_random_suffix():
    """`.` and `_` become `-` and a 5-character suffix from apimachinery's alphabet is added."""
    name = create.container_name("k8s.gcr.io/echo_server.v2:1.4", random.Random(1))
    prefix, suffix = name[:-6], name[-6:]
    assert prefix == "echo-server-v2" and suffix[0] == "-"
    assert all(c in create.SUFFIX_ALPHABET for c in suffix[1:])


def test_deployment_dict_is_kubectls():
    """create deployment: app=NAME everywhere, replicas, the port on the first container, Go field order."""
    d = create.deployment_dict("web", ["nginx", "redis:7"], replicas=3, port=80, namespace="shop",
                               rng=random.Random(0))
    assert list(d) == ["kind", "apiVersion", "metadata", "spec", "status"]
    assert d["metadata"] == {"name": "web", "namespace": "shop", "creationTimestamp": None, "labels": {"app": "web"}}
    assert d["spec"]["replicas"] == 3 and d["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert d["spec"]["strategy"] == {} and d["status"] == {}
    assert d["spec"]["template"]["spec"]["containers"] == [
        {"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}], "resources": {}},
        {"name": "redis", "image": "redis:7", "resources": {}}]
    decoded = codec.from_dict(apps_pb2.Deployment, d)  # what is sent decodes as a Deployment
    assert decoded.spec.template.metadata.labels["app"] == "web"


def test_create_dry_run_yaml_matches_kubectl():
    """`create deployment --dry-run=client -o yaml` prints kubectl 1.20's manifest byte for byte."""
    out, err = io.StringIO(), io.StringIO()
    assert main(["--server", "127.0.0.1:1", "create", "deployment", "web", "--image=nginx", "--dry-run=client",
                 "-o", "yaml"], stdout=out, stderr=err) == 0
    assert out.getvalue() == """\
apiVersion: apps/v1
kind: Deployment
metadata:
  creationTimestamp: null
  labels:
    app: web
  name: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  strategy: {}
  template:
    metadata:
      creationTimestamp: null
      labels:
        app: web
    spec:
      containers:
      - image: nginx
        name: nginx
        resources: {}
status: {}
"""


@pytest.mark.parametrize("words,argv,names,command", [
    pytest.param(["web"], ["create", "deploy", "web"], ["web"], [], id="no-dash"),
    pytest.param(["web", "sleep", "1"], ["create", "deploy", "web", "--", "sleep", "1"], ["web"], ["sleep", "1"],
                 id="command"),
    pytest.param(["web", "a"], ["create", "deploy", "web", "a"], ["web", "a"], [], id="two-names"),
])
def test_command_after_dash(words, argv, names, command):
    """Words after `--` are the container's command; others are names."""
    assert create.split_command(words, argv) == (names, command)


@pytest.mark.parametrize("argv,text", [
    pytest.param(["create", "deployment", "web"], 'error: required flag(s) "image" not set', id="no-image"),
    pytest.param(["create", "deployment", "--image=x"], "error: exactly one NAME is required, got 0", id="no-name"),
    pytest.param(["create", "namespace", "a", "b"], "error: exactly one NAME is required, got 2", id="two-names"),
    pytest.param(["create", "ns", "a", "--image=x"], "error: unknown flag: --image", id="foreign-flag"),
    pytest.param(["create", "deployment", "web", "--image=a", "--image=b", "--", "sh"],
                 "error: cannot specify multiple --image options and command", id="images-and-command"),
    pytest.param(["create"], "error: must specify one of -f and -k", id="nothing"),
    pytest.param(["create", "-f", "x.yaml", "extra"], "error: Unexpected args: [extra]", id="file-and-args"),
    pytest.param(["create", "secret", "x"], 'error: unknown command "secret" for "skiff create"', id="unknown"),
    pytest.param(["create", "ns", "a", "--dry-run=maybe"],
                 'error: Invalid dry-run value (maybe). Must be "none", "server", or "client".', id="dry-run"),
    pytest.param(["label", "pods", "web"], "error: at least one label update is required", id="label-nothing"),
    pytest.param(["label", "a=b"], "error: one or more resources must be specified as <resource> <name> or "
                                   "<resource>/<name>", id="label-no-resource"),
    pytest.param(["label", "pods", "a=b"], "error: resource(s) were provided, but no name, label selector, or "
                                           "--all flag specified", id="label-no-name"),
    pytest.param(["label", "pods", "--all", "-l", "a=b", "x=y"], "error: cannot set --all and --selector at the "
                                                                 "same time", id="all-and-selector"),
    pytest.param(["label", "pods", "web", "-l", "a=b", "x=y"], "error: name cannot be provided when a selector is "
                                                               "specified", id="name-and-selector"),
    pytest.param(["annotate", "pods", "web"], "error: at least one annotation update is required", id="annotate"),
    pytest.param(["expose", "deploy"], "error: resource(s) were provided, but no name, label selector, or --all "
                                       "flag specified\nSee 'skiff expose -h' for help and examples", id="expose"),
    pytest.param(["edit"], "error: You must provide one or more resources by argument or filename.", id="edit"),
])
def test_usage_errors_need_no_server(argv, text):
    """The new verbs' usage errors print kubectl's `error: ...` and exit 1 before any request."""
    out, err = io.StringIO(), io.StringIO()
    assert main(["--server", "127.0.0.1:1", *argv], stdout=out, stderr=err, stdin=io.StringIO()) == 1
    assert err.getvalue().startswith(text), err.getvalue()


def test_save_config_keeps_the_canonical_object():
    """--save-config's last-applied record leaves out nulls and status, as apply would write it."""
    data = create.save_config(create.namespace_dict("shop"))
    saved = json.loads(data["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert saved == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}, "spec": {}}


# -- outcome ------------------------------------------------------------------------------------
@pytest.mark.parametrize("value,strategy,warned", [
    pytest.param(None, "none", False, id="absent"), pytest.param("server", "server", False, id="server"),
    pytest.param("client", "client", False, id="client"), pytest.param("unchanged", "client", True, id="bare"),
    pytest.param("true", "client", True, id="bool-true"), pytest.param("false", "none", True, id="bool-false"),
])
def test_dry_run_values(value, strategy, warned):
    """--dry-run's values as kubectl reads them, deprecated forms with a warning."""
    warnings: list[str] = []
    assert outcome.dry_run_of(value, warnings.append) == strategy
    assert bool(warnings) == warned


def test_report_lines():
    """The result line: name and operation, with the dry-run suffix; -o name prints the name alone."""
    ns = codec.from_dict(core_pb2.Namespace, {"metadata": {"name": "shop"}})
    nskind = kinds.by_resource("namespaces")
    assert outcome.report(nskind, ns, "created", None) == "namespace/shop created\n"
    assert outcome.report(nskind, ns, "created", None, "client") == "namespace/shop created (dry run)\n"
    assert outcome.report(nskind, ns, "created", None, "server") == "namespace/shop created (server dry run)\n"
    assert outcome.report(nskind, ns, "created", "name", "server") == "namespace/shop\n"


# -- label / annotate ---------------------------------------------------------------------------
@pytest.mark.parametrize("args,resources,pairs", [
    pytest.param(["pods", "web", "a=b", "c-"], ["pods", "web"], ["a=b", "c-"], id="type-name"),
    pytest.param(["pod/web", "a="], ["pod/web"], ["a="], id="empty-value"),
    pytest.param(["pods", "-", "=x"], ["pods", "-", "=x"], [], id="not-pairs"),
])
def test_resources_come_before_pairs(args, resources, pairs):
    """kubectl's split of resources and `k=v`/`k-` changes."""
    assert metadata_cmds.split_resources_and_pairs(args, "label") == (resources, pairs)


@pytest.mark.parametrize("pairs,message", [
    pytest.param(["a=b=c"], "invalid label spec: a=b=c", id="two-equals"),
    pytest.param(["a=b", "a-"], "can not both modify and remove a label in the same command", id="both"),
    pytest.param(["a=" + "x" * 64], 'invalid label value: "a=' + "x" * 64 + '": must be no more than 63 characters',
                 id="too-long"),
])
def test_bad_label_changes(pairs, message):
    with pytest.raises(UsageError) as e:
        metadata_cmds.parse_label_changes(pairs)
    assert str(e.value).startswith(message)


def test_annotation_values_may_hold_equals():
    assert metadata_cmds.parse_annotation_changes(["note=a=b", "old-"]) == ({"note": "a=b"}, ["old"])


@pytest.mark.parametrize("field,current,new,overwrite,result,error", [
    pytest.param(metadata_cmds.LABEL, {"app": "web"}, {"app": "web", "t": "1"}, False, {"app": "web", "t": "1"},
                 None, id="same-value-needs-no-overwrite"),
    pytest.param(metadata_cmds.LABEL, {"app": "web"}, {"app": "api"}, False, None,
                 "'app' already has a value (web), and --overwrite is false", id="label-refused"),
    pytest.param(metadata_cmds.LABEL, {"a": "1", "b": "2"}, {"a": "3", "b": "4"}, False, None,
                 "['a' already has a value (1), and --overwrite is false, 'b' already has a value (2), and "
                 "--overwrite is false]", id="label-refused-twice"),
    pytest.param(metadata_cmds.LABEL, {"app": "web"}, {"app": "api"}, True, {"app": "api"}, None, id="overwrite"),
    pytest.param(metadata_cmds.ANNOTATION, {"o": "x"}, {"o": "y"}, False, None,
                 "--overwrite is false but found the following declared annotation(s): 'o' already has a value (x)",
                 id="annotation-refused"),
    pytest.param(metadata_cmds.ANNOTATION, {record.CHANGE_CAUSE: "x"}, {record.CHANGE_CAUSE: "y"}, False,
                 {record.CHANGE_CAUSE: "y"}, None, id="change-cause-always-overwritable"),
])
def test_changed_map(field, current, new, overwrite, result, error):
    """New values apply; a different existing value needs --overwrite, with kubectl's message per verb."""
    if error:
        with pytest.raises(metadata_cmds.MetadataError) as e:
            metadata_cmds.changed_map(field, current, new, [], overwrite=overwrite)
        assert str(e.value) == error
    else:
        assert metadata_cmds.changed_map(field, current, new, [], overwrite=overwrite) == result


def test_listing_of_several_objects_is_headed():
    """--list over several objects heads each (on stderr) and indents its lines."""
    assert metadata_cmds.listing(PODS, "web", {"b": "2", "a": "1"}, single=True) == (None, ["a=1", "b=2"])
    assert metadata_cmds.listing(DEPLOY, "web", {"a": "1"}, single=False) == (
        "Listing labels for Deployment.apps/web:", [" a=1"])


class _ConflictingApi:
    """A fake Api whose object changes under the first Update (a Conflict), as another writer would."""

    def __init__(self, obj):
        self.obj, self.updates, self.conflicts = obj, [], 1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def get(self, kind, ns, name):
        out = type(self.obj)()
        out.CopyFrom(self.obj)
        return out

    def update(self, obj, dry_run=False):
        self.updates.append(obj)
        if self.conflicts:
            self.conflicts -= 1
            self.obj.metadata.labels["other"] = "writer"
            self.obj.metadata.resource_version = "8"
            raise ServerError("ABORTED", "Conflict", "the object has been modified")
        self.obj = obj
        return obj


def _ctx(api) -> Context:
    ctx = Context(server="fake", namespace=None, timeout=1.0, out=io.StringIO(), err=io.StringIO(),
                  stdin=io.StringIO())
    ctx.api = lambda: api
    return ctx


def _args(command: str, *argv: str) -> argparse.Namespace:
    _, subs = build_parsers()
    ns = subs[command].parse_intermixed_args(list(argv))
    ns.command_line = [command, *argv]
    return ns


def test_label_rereads_and_retries_after_a_conflict():
    """A Conflict without --resource-version is retried on the fresh object; the other writer's label stays."""
    pod = codec.from_dict(core_pb2.Pod, {"metadata": {"name": "web", "namespace": "default",
                                                      "resourceVersion": "7", "labels": {"app": "web"}}})
    api = _ConflictingApi(pod)
    ctx = _ctx(api)
    assert metadata_cmds.run_label(ctx, _args("label", "pods", "web", "tier=front")) == 0
    assert ctx.out.getvalue() == "pod/web labeled\n"
    assert [u.metadata.resource_version for u in api.updates] == ["7", "8"]
    assert dict(api.obj.metadata.labels) == {"app": "web", "other": "writer", "tier": "front"}


def test_label_with_resource_version_does_not_retry():
    """--resource-version is the user's precondition: its Conflict is reported, not retried."""
    pod = codec.from_dict(core_pb2.Pod, {"metadata": {"name": "web", "namespace": "default", "resourceVersion": "7"}})
    api = _ConflictingApi(pod)
    ctx = _ctx(api)
    assert metadata_cmds.run_label(ctx, _args("label", "pods", "web", "a=b", "--resource-version=7")) == 1
    assert len(api.updates) == 1
    assert ctx.err.getvalue() == "Error from server (Conflict): the object has been modified\n"


# -- expose -------------------------------------------------------------------------------------
def test_expose_a_deployment():
    """The selector from matchLabels, the labels from the object, the container port, target = port."""
    svc = expose.service_for(DEPLOY, _deployment(), expose.Options())
    assert svc == {"kind": "Service", "apiVersion": "v1",
                   "metadata": {"name": "web", "creationTimestamp": None, "labels": {"app": "web"}},
                   "spec": {"ports": [{"protocol": "TCP", "port": 8080, "targetPort": 8080}],
                            "selector": {"app": "web"}},
                   "status": {"loadBalancer": {}}}
    codec.from_dict(core_pb2.Service, svc)


@pytest.mark.parametrize("obj_ports,opts,ports", [
    pytest.param(((80, None), (53, "UDP")), expose.Options(),
                 [{"name": "port-1", "protocol": "TCP", "port": 80, "targetPort": 80},
                  {"name": "port-2", "protocol": "UDP", "port": 53, "targetPort": 53}], id="several-named"),
    pytest.param(((53, "UDP"),), expose.Options(port="53"), [{"protocol": "UDP", "port": 53, "targetPort": 53}],
                 id="protocol-of-the-matching-port"),
    pytest.param(((53, "UDP"),), expose.Options(port="80", target_port="dns"),
                 [{"protocol": "TCP", "port": 80, "targetPort": "dns"}], id="unmatched-port-is-tcp"),
    pytest.param(((80, None),), expose.Options(port="80", protocol="SCTP", target_port="8080"),
                 [{"protocol": "SCTP", "port": 80, "targetPort": 8080}], id="flags-win"),
])
def test_expose_ports(obj_ports, opts, ports):
    """Ports come from --port or the containers; protocols from --protocol, the object, else TCP."""
    assert expose.service_for(DEPLOY, _deployment(obj_ports), opts)["spec"]["ports"] == ports


def test_expose_flags_shape_the_service():
    opts = expose.Options(name="pub", type="LoadBalancer", selector="app=web,tier=front", labels="team=a",
                          external_ip="1.2.3.4", load_balancer_ip="5.6.7.8", session_affinity="ClientIP",
                          port="443")
    svc = expose.service_for(DEPLOY, _deployment(), opts)
    assert svc["metadata"] == {"name": "pub", "creationTimestamp": None, "labels": {"team": "a"}}
    assert svc["spec"] == {"ports": [{"protocol": "TCP", "port": 443, "targetPort": 443}],
                           "selector": {"app": "web", "tier": "front"}, "type": "LoadBalancer",
                           "externalIPs": ["1.2.3.4"], "sessionAffinity": "ClientIP", "loadBalancerIP": "5.6.7.8"}


def test_expose_pods_and_services_and_long_names():
    """A pod's labels select; a service's selector and ports carry over; names are cut to 63 characters."""
    pod = codec.from_dict(core_pb2.Pod, {"metadata": {"name": "p" * 70, "labels": {"app": "web", "h": "1"}},
                                         "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 9}]}]}})
    svc = expose.service_for(PODS, pod, expose.Options())
    assert svc["metadata"]["name"] == "p" * 63 and svc["spec"]["selector"] == {"app": "web", "h": "1"}
    src = codec.from_dict(core_pb2.Service, {"metadata": {"name": "s"},
                                             "spec": {"selector": {"app": "web"},
                                                      "ports": [{"port": 80, "targetPort": 8080}]}})
    assert expose.service_for(SERVICES, src, expose.Options(name="s2"))["spec"] == {
        "ports": [{"protocol": "TCP", "port": 80, "targetPort": 80}], "selector": {"app": "web"}}
    headless = expose.service_for(DEPLOY, _deployment(()), expose.Options(cluster_ip="None"))
    assert headless["spec"] == {"selector": {"app": "web"}, "clusterIP": "None"}


HINT = "\nSee 'skiff expose -h' for help and examples"


@pytest.mark.parametrize("kind,obj,opts,message", [
    pytest.param(DEPLOY, _deployment(()), expose.Options(),
                 "couldn't find port via --port flag or introspection" + HINT, id="no-port"),
    pytest.param(PODS, codec.from_dict(core_pb2.Pod, {"metadata": {"name": "p"}}), expose.Options(port="80"),
                 "couldn't retrieve selectors via --selector flag or introspection: the pod has no labels and cannot "
                 "be exposed" + HINT, id="pod-without-labels"),
    pytest.param(DEPLOY, _deployment(match={}), expose.Options(),
                 "couldn't retrieve selectors via --selector flag or introspection: invalid deployment: no "
                 "selectors, therefore cannot be exposed" + HINT, id="deployment-without-selector"),
    pytest.param(kinds.by_resource("configmaps"), core_pb2.ConfigMap(), expose.Options(port="80"),
                 "cannot expose a ConfigMap", id="configmap"),
    pytest.param(kinds.by_resource("ingresses"), kinds.by_resource("ingresses").message(), expose.Options(port="80"),
                 "cannot expose a Ingress.networking.k8s.io", id="ingress"),
    pytest.param(DEPLOY, _deployment(), expose.Options(port="http"),
                 'strconv.Atoi: parsing "http": invalid syntax', id="port-not-a-number"),
    pytest.param(DEPLOY, _deployment(), expose.Options(selector="app in (a)"),
                 "unexpected label spec: app in (a)", id="set-based-selector"),
    pytest.param(DEPLOY, _deployment(), expose.Options(session_affinity="Sticky"),
                 "unknown session affinity: Sticky", id="affinity"),
])
def test_expose_refusals(kind, obj, opts, message):
    """What cannot be exposed is refused with kubectl's words."""
    with pytest.raises(expose.ExposeError) as e:
        expose.service_for(kind, obj, opts)
    assert str(e.value) == message


# -- --record -----------------------------------------------------------------------------------
@pytest.mark.parametrize("argv,cause", [
    pytest.param(["apply", "-f", "x.yaml", "--record"], "skiff apply --filename=x.yaml --record=true", id="apply"),
    pytest.param(["-n", "web", "apply", "-fx.yaml", "--record=true"],
                 "skiff apply --namespace=web --filename=x.yaml --record=true", id="global-and-attached"),
    pytest.param(["scale", "--replicas", "3", "deploy/web", "--record"],
                 "skiff scale deploy/web --replicas=3 --record=true", id="scale"),
    pytest.param(["create", "deployment", "web", "--image=nginx", "--record", "--", "sleep", "1"],
                 "skiff create deployment web sleep 1 --image=nginx --record=true", id="create-command"),
    pytest.param(["label", "pods", "web", "a=b", "--overwrite", "--record"],
                 "skiff label pods web a=b --overwrite=true --record=true", id="bool-flag"),
    pytest.param(["apply", "--bogus", "--record"], "", id="unparsable"),
])
def test_change_cause(argv, cause):
    """kubectl's rendering: program, positional words, then each flag as --long=value in the order given."""
    _, subs = build_parsers()
    command = next(a for a in argv if a in subs)
    assert record.change_cause(argv, subs[command]) == cause


def test_record_flag_never_swallows_the_next_argument():
    """A bare --record is a flag: the argument after it stays an argument."""
    ns = _args("scale", "--record", "deploy/web", "--replicas=2")
    assert ns.record is True and ns.args == ["deploy/web"]
    assert _args("scale", "--record=false", "deploy/web").record is False


def test_annotate_manifest_sets_the_cause_in_document_and_object():
    m = parse_source("w.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")[0]
    r = record.annotate_manifest(m, "skiff apply --record=true")
    assert r.data["metadata"]["annotations"] == {record.CHANGE_CAUSE: "skiff apply --record=true"}
    assert r.obj.metadata.annotations[record.CHANGE_CAUSE] == "skiff apply --record=true"
    assert not m.obj.metadata.annotations and "annotations" not in m.data["metadata"]


# -- edit ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("env,argv", [
    pytest.param({}, ["vi", "/t/f.yaml"], id="default"),
    pytest.param({"EDITOR": "nano", "KUBE_EDITOR": "emacs"}, ["emacs", "/t/f.yaml"], id="kube-editor-first"),
    pytest.param({"SKIFF_EDITOR": "ed", "KUBE_EDITOR": "emacs"}, ["ed", "/t/f.yaml"], id="skiff-editor-first"),
    pytest.param({"EDITOR": "code --wait"}, ["code", "--wait", "/t/f.yaml"], id="split-on-spaces"),
    pytest.param({"EDITOR": "vim -c 'set ft=yaml'", "SHELL": "/bin/bash"},
                 ["/bin/bash", "-c", "vim -c 'set ft=yaml' /t/f.yaml"], id="quotes-go-to-the-shell"),
])
def test_editor_argv(env, argv):
    """SKIFF_EDITOR, then KUBE_EDITOR, then EDITOR, then vi; run as kubectl runs it."""
    assert edit.editor_argv(env, "/t/f.yaml") == argv


def test_header_lists_reasons_as_comments():
    text = edit.header([edit.Reason('deployments.apps "web" was not valid', ("spec.replicas: bad",)),
                        edit.Reason("The edited file had a syntax error: line 3\nmore")])
    assert text == edit.HEADER + ('# deployments.apps "web" was not valid:\n# * spec.replicas: bad\n#\n'
                                  "# The edited file had a syntax error: line 3\n# more\n#\n")
    assert edit.strip_comments(text + "a: 1\n  # indented\n#!kept\n") == "a: 1\n#!kept\n"
    assert not edit.has_content(text + "\n  \n") and edit.has_content(text + "a: 1")


def test_merge_patch_carries_only_the_change():
    """The Conflict fallback sends what the user changed: new values, removed keys as null, lists whole."""
    seen = {"metadata": {"name": "w", "labels": {"a": "1", "b": "2"}}, "spec": {"replicas": 1, "x": [1, 2]}}
    saved = {"metadata": {"name": "w", "labels": {"a": "1", "c": "3"}}, "spec": {"replicas": 1, "x": [2]}}
    assert edit.merge_patch(seen, saved) == {"metadata": {"labels": {"b": None, "c": "3"}}, "spec": {"x": [2]}}
    assert edit.merge_patch(seen, seen) == {}


def test_render_one_object_or_a_list():
    cm = codec.from_dict(core_pb2.ConfigMap, {"metadata": {"name": "c"}})
    cms = kinds.by_resource("configmaps")
    assert edit.render([(cms, cm)], "yaml") == "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
    both = json.loads(edit.render([(cms, cm), (cms, cm)], "json"))
    assert both["kind"] == "List" and [i["metadata"]["name"] for i in both["items"]] == ["c", "c"]
    assert edit.items_of([both]) == both["items"]
