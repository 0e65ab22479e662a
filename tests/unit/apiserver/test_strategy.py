"""The apiserver's pure strategy: Kubernetes' defaults, validation messages, and what create, update
and status update keep, set and bump; objects built from Kubernetes manifests via client.codec."""
from __future__ import annotations

import copy
import random

import pytest
from hypothesis import given, settings, strategies as st

from apiserver import strategy
from client import kinds
from client.codec import from_dict, to_dict

NOW = "2026-11-26T01:02:03Z"
LATER = "2026-11-27T00:00:00Z"

DNS1123_SUBDOMAIN = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                     "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                     "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
DNS1123_LABEL = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
                 "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
                 "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1035_LABEL = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                 "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex "
                 "used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
QUALIFIED_NAME = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
                  "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
                  "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
LABEL_VALUE = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
               "must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex "
               "used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
PORT_RANGE = "must be between 1 and 65535, inclusive"

# --- manifests, in the forms the Kubernetes docs use -------------------------------------------------

NGINX_DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "nginx-deployment", "labels": {"app": "nginx"}},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "nginx"}},
        "template": {
            "metadata": {"labels": {"app": "nginx"}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:1.14.2", "ports": [{"containerPort": 80}]}]},
        },
    },
}
REPLICA_SET = {
    "apiVersion": "apps/v1", "kind": "ReplicaSet",
    "metadata": {"name": "frontend", "labels": {"app": "guestbook", "tier": "frontend"}},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"tier": "frontend"}},
        "template": {"metadata": {"labels": {"tier": "frontend"}},
                     "spec": {"containers": [{"name": "php-redis", "image": "gcr.io/google_samples/gb-frontend:v3"}]}},
    },
}
POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "web"},
    "spec": {"containers": [{"name": "web", "image": "nginx:1.14.2", "ports": [{"name": "http", "containerPort": 80}]}]},
}
SERVICE = {
    "apiVersion": "v1", "kind": "Service",
    "metadata": {"name": "my-service"},
    "spec": {"selector": {"app": "MyApp"}, "ports": [{"protocol": "TCP", "port": 80, "targetPort": 9376}]},
}
INGRESS = {
    "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
    "metadata": {"name": "minimal-ingress", "annotations": {"nginx.ingress.kubernetes.io/rewrite-target": "/"}},
    "spec": {
        "ingressClassName": "nginx-example",
        "rules": [{"http": {"paths": [{"path": "/testpath", "pathType": "Prefix",
                                       "backend": {"service": {"name": "test", "port": {"number": 80}}}}]}}],
    },
}
NAMESPACE = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}
NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}, "spec": {"podCIDR": "10.244.1.0/24"}}
CONFIG_MAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "game-demo"},
              "data": {"player_initial_lives": "3", "game.properties": "enemy.types=aliens,monsters\n"}}
LEASE = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "node-1"},
         "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40, "renewTime": "2026-11-26T01:02:03.000000Z"}}
ENDPOINTS = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "my-service"},
             "subsets": [{"addresses": [{"ip": "10.244.1.5"}], "ports": [{"port": 9376}]}]}

_DELETE = object()


def variant(base: dict, changes: dict) -> dict:
    """A deep copy of `base` with dotted paths ("spec.template.spec.containers.0.image") set or deleted;
    an index one past a list's end appends."""
    out = copy.deepcopy(base)
    for path, value in changes.items():
        parts = path.split(".")
        node = out
        for p in parts[:-1]:
            node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})
        last = int(parts[-1]) if isinstance(node, list) else parts[-1]
        if value is _DELETE:
            del node[last]
        elif isinstance(node, list) and last == len(node):
            node.append(value)
        else:
            node[last] = value
    return out


def decode(manifest: dict):
    kind = kinds.by_gvk(manifest["apiVersion"], manifest["kind"])
    return kind, from_dict(kind.message, manifest)


def created(manifest: dict, uid: str = "uid-1"):
    """The object as the service stores it on create: defaulted, namespaced, prepared."""
    kind, obj = decode(manifest)
    strategy.default(kind, obj)
    if kind.namespaced and not obj.metadata.namespace:
        obj.metadata.namespace = "default"
    strategy.prepare_create(kind, obj, now=NOW, uid=uid)
    return kind, obj


def create_errors(manifest: dict):
    kind, obj = created(manifest)
    return strategy.validate(kind, obj)


def updated(old_manifest: dict, new_manifest: dict):
    """(kind, new, old, errors) for an update of a created `old_manifest` with `new_manifest`."""
    kind, old = created(old_manifest)
    old.metadata.resource_version = "7"
    _, new = decode(new_manifest)
    if kind.namespaced and not new.metadata.namespace:
        new.metadata.namespace = "default"
    strategy.default(kind, new)
    strategy.prepare_update(kind, new, old)
    return kind, new, old, strategy.validate(kind, new, old)


# --- defaults -------------------------------------------------------------------------------------

def test_nginx_deployment_gets_kubernetes_defaults():
    """The docs' nginx Deployment reads back as `kubectl get -o yaml` shows it in Kubernetes 1.20."""
    kind, obj = decode(NGINX_DEPLOYMENT)
    strategy.default(kind, obj)
    assert to_dict(obj) == {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "nginx-deployment", "labels": {"app": "nginx"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {
                "metadata": {"labels": {"app": "nginx"}},
                "spec": {
                    "containers": [{
                        "name": "nginx", "image": "nginx:1.14.2",
                        "ports": [{"containerPort": 80, "protocol": "TCP"}],
                        "resources": {},
                        "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File",
                        "imagePullPolicy": "IfNotPresent",
                    }],
                    "restartPolicy": "Always",
                    "terminationGracePeriodSeconds": 30,
                    "dnsPolicy": "ClusterFirst",
                    "securityContext": {},
                    "schedulerName": "default-scheduler",
                },
            },
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
    }
    assert strategy.validate(kind, created(NGINX_DEPLOYMENT)[1]) == []


def test_defaults_fill_only_what_is_absent():
    """Given values survive defaulting: explicit replicas 0, a Recreate strategy, a zero grace period."""
    kind, obj = decode(variant(NGINX_DEPLOYMENT, {
        "spec.replicas": 0, "spec.strategy": {"type": "Recreate"}, "spec.revisionHistoryLimit": 0,
        "spec.template.spec.terminationGracePeriodSeconds": 0, "spec.template.spec.restartPolicy": "Always",
        "spec.template.spec.containers.0.imagePullPolicy": "Never"}))
    strategy.default(kind, obj)
    spec = to_dict(obj)["spec"]
    assert spec["replicas"] == 0 and spec["revisionHistoryLimit"] == 0
    assert spec["strategy"] == {"type": "Recreate"}
    assert spec["template"]["spec"]["terminationGracePeriodSeconds"] == 0
    assert spec["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Never"


def test_defaulting_twice_changes_nothing():
    """default is idempotent for every sample manifest."""
    for manifest in (NGINX_DEPLOYMENT, REPLICA_SET, POD, SERVICE, INGRESS, NAMESPACE, NODE, CONFIG_MAP, LEASE,
                     ENDPOINTS):
        kind, obj = decode(manifest)
        strategy.default(kind, obj)
        once = to_dict(obj)
        strategy.default(kind, obj)
        assert to_dict(obj) == once, manifest["kind"]


@pytest.mark.parametrize("image,policy", [
    pytest.param("nginx", "Always", id="no-tag"),
    pytest.param("nginx:latest", "Always", id="latest"),
    pytest.param("nginx:1.14.2", "IfNotPresent", id="tag"),
    pytest.param("registry.local:5000/team/app", "Always", id="registry-port-no-tag"),
    pytest.param("registry.local:5000/team/app:v2", "IfNotPresent", id="registry-port-tag"),
    pytest.param("nginx@sha256:" + "a" * 64, "IfNotPresent", id="digest"),
])
def test_image_pull_policy_follows_the_tag(image, policy):
    """imagePullPolicy defaults to Always for `latest` or no tag, else IfNotPresent."""
    kind, obj = decode(variant(POD, {"spec.containers.0.image": image}))
    strategy.default(kind, obj)
    assert obj.spec.containers[0].image_pull_policy == policy


def test_pod_defaults_and_initial_status():
    """A Pod gains probe, volume and container defaults, requests from limits, service links, and Pending status."""
    manifest = variant(POD, {
        "spec.containers.0.resources": {"limits": {"cpu": "500m", "memory": "128Mi"}},
        "spec.containers.0.livenessProbe": {"httpGet": {"port": 80}},
        "spec.containers.0.readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 5},
        "spec.containers.0.env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "spec.containers.0.volumeMounts": [{"name": "data", "mountPath": "/data"}],
        "spec.volumes": [{"name": "data"}, {"name": "cfg", "configMap": {"name": "cfg"}},
                         {"name": "host", "hostPath": {"path": "/tmp"}}],
    })
    kind, obj = created(manifest)
    d = to_dict(obj)
    c = d["spec"]["containers"][0]
    assert c["resources"] == {"limits": {"cpu": "500m", "memory": "128Mi"},
                              "requests": {"cpu": "500m", "memory": "128Mi"}}
    assert c["livenessProbe"] == {"httpGet": {"path": "/", "port": 80, "scheme": "HTTP"}, "timeoutSeconds": 1,
                                  "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
    assert c["readinessProbe"] == {"tcpSocket": {"port": "http"}, "timeoutSeconds": 1, "periodSeconds": 5,
                                   "successThreshold": 1, "failureThreshold": 3}
    assert c["env"][0]["valueFrom"]["fieldRef"] == {"apiVersion": "v1", "fieldPath": "metadata.name"}
    assert d["spec"]["volumes"] == [{"name": "data", "emptyDir": {}},
                                    {"name": "cfg", "configMap": {"name": "cfg", "defaultMode": 420}},
                                    {"name": "host", "hostPath": {"path": "/tmp", "type": ""}}]
    assert d["spec"]["enableServiceLinks"] is True
    assert d["status"] == {"phase": "Pending", "qosClass": "Guaranteed"}
    assert d["metadata"] == {"name": "web", "namespace": "default", "uid": "uid-1", "generation": 1,
                             "creationTimestamp": NOW}
    assert strategy.validate(kind, obj) == []


@pytest.mark.parametrize("resources,qos", [
    pytest.param(None, "BestEffort", id="none"),
    pytest.param({"requests": {"cpu": "100m"}}, "Burstable", id="requests-only"),
    pytest.param({"limits": {"cpu": "1", "memory": "1Gi"}}, "Guaranteed", id="limits-only"),
    pytest.param({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}, "Burstable",
                 id="requests-below-limits"),
    pytest.param({"limits": {"cpu": "1"}}, "Burstable", id="cpu-limit-only"),
])
def test_pod_qos_class(resources, qos):
    """status.qosClass is Kubernetes' QoS class of the defaulted pod."""
    manifest = POD if resources is None else variant(POD, {"spec.containers.0.resources": resources})
    assert created(manifest)[1].status.qos_class == qos


@pytest.mark.parametrize("manifest,spec", [
    pytest.param(SERVICE, {
        "ports": [{"protocol": "TCP", "port": 80, "targetPort": 9376}], "selector": {"app": "MyApp"},
        "type": "ClusterIP", "sessionAffinity": "None"}, id="cluster-ip"),
    pytest.param(variant(SERVICE, {"spec.type": "NodePort", "spec.ports": [{"port": 80, "targetPort": 80,
                                                                             "nodePort": 30007}]}), {
        "ports": [{"protocol": "TCP", "port": 80, "targetPort": 80, "nodePort": 30007}], "selector": {"app": "MyApp"},
        "type": "NodePort", "sessionAffinity": "None", "externalTrafficPolicy": "Cluster"}, id="node-port"),
    pytest.param(variant(SERVICE, {"spec.type": "LoadBalancer", "spec.clusterIP": "10.0.171.239"}), {
        "ports": [{"protocol": "TCP", "port": 80, "targetPort": 9376}], "selector": {"app": "MyApp"},
        "clusterIP": "10.0.171.239", "type": "LoadBalancer", "sessionAffinity": "None",
        "externalTrafficPolicy": "Cluster"}, id="load-balancer"),
    pytest.param(variant(SERVICE, {"spec": {"type": "ExternalName", "externalName": "my.database.example.com"}}), {
        "type": "ExternalName", "sessionAffinity": "None", "externalName": "my.database.example.com"},
        id="external-name"),
    pytest.param(variant(SERVICE, {"spec.clusterIP": "None", "spec.ports": [{"name": "web", "port": 80}]}), {
        "ports": [{"name": "web", "protocol": "TCP", "port": 80, "targetPort": 80}], "selector": {"app": "MyApp"},
        "clusterIP": "None", "type": "ClusterIP", "sessionAffinity": "None"}, id="headless"),
    pytest.param(variant(SERVICE, {"spec.sessionAffinity": "ClientIP",
                                   "spec.ports": [{"name": "http", "port": 80, "targetPort": "http"}]}), {
        "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": "http"}], "selector": {"app": "MyApp"},
        "type": "ClusterIP", "sessionAffinity": "ClientIP",
        "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}}}, id="client-ip-named-target"),
])
def test_service_of_each_type_defaults_and_validates(manifest, spec):
    """Each Service type from the docs gains Kubernetes' defaults and validates clean."""
    kind, obj = created(manifest)
    assert to_dict(obj)["spec"] == spec
    assert strategy.validate(kind, obj) == []


def test_ingress_from_the_docs_is_left_as_given_and_valid():
    """networking.k8s.io/v1 defaults nothing in an Ingress (pathType stays as given) and the docs' one is valid."""
    kind, obj = decode(INGRESS)
    strategy.default(kind, obj)
    assert to_dict(obj) == INGRESS
    kind, obj = created(INGRESS)
    assert strategy.validate(kind, obj) == []


def test_namespace_create_sets_finalizer_and_phase():
    """A new Namespace is Active with the `kubernetes` finalizer, without a namespace of its own."""
    kind, obj = created(NAMESPACE)
    assert to_dict(obj)["spec"] == {"finalizers": ["kubernetes"]}
    assert to_dict(obj)["status"] == {"phase": "Active"}
    assert strategy.validate(kind, obj) == []


def test_prepare_create_clears_what_clients_may_not_set():
    """Request-supplied deletion, version and status fields are dropped; identity comes from the server."""
    manifest = variant(NGINX_DEPLOYMENT, {
        "metadata.uid": "client-uid", "metadata.resourceVersion": "12", "metadata.selfLink": "/x",
        "metadata.deletionTimestamp": NOW, "metadata.deletionGracePeriodSeconds": 30, "metadata.generation": 9,
        "metadata.creationTimestamp": "2000-01-01T00:00:00Z", "status": {"replicas": 3}})
    kind, obj = created(manifest, uid="server-uid")
    assert to_dict(obj)["metadata"] == {"name": "nginx-deployment", "namespace": "default", "uid": "server-uid",
                                        "generation": 1, "creationTimestamp": NOW, "labels": {"app": "nginx"}}
    assert not obj.HasField("status")


# --- validation: a table of bad objects ----------------------------------------------------------

DEPLOY_IMAGE = "spec.template.spec.containers.0"


@pytest.mark.parametrize("manifest,expected", [
    pytest.param(variant(NGINX_DEPLOYMENT, {"metadata.name": "Web_1"}),
                 [("metadata.name", f'Invalid value: "Web_1": {DNS1123_SUBDOMAIN}')], id="deployment-name"),
    pytest.param(variant(NGINX_DEPLOYMENT, {"spec.replicas": -1}),
                 [("spec.replicas", "Invalid value: -1: must be greater than or equal to 0")], id="negative-replicas"),
    pytest.param(variant(NGINX_DEPLOYMENT, {"spec.selector": _DELETE}),
                 [("spec.selector", "Required value"),
                  ("spec.template.metadata.labels",
                   'Invalid value: map[string]string{"app":"nginx"}: `selector` does not match template `labels`')],
                 id="no-selector"),
    pytest.param(variant(NGINX_DEPLOYMENT, {"spec.template.metadata.labels": {"app": "api"}}),
                 [("spec.template.metadata.labels",
                   'Invalid value: map[string]string{"app":"api"}: `selector` does not match template `labels`')],
                 id="selector-mismatch"),
    pytest.param(variant(NGINX_DEPLOYMENT, {"spec.selector": {"matchExpressions": [
        {"key": "app", "operator": "Is", "values": ["nginx"]}]}}),
                 [("spec.selector.matchExpressions[0].operator", 'Invalid value: "Is": not a valid selector operator'),
                  ("spec.selector", 'Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), '
                                    'MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{'
                                    'Key:"app", Operator:"Is", Values:[]string{"nginx"}}}}: invalid label selector')],
                 id="selector-operator"),
    pytest.param(variant(NGINX_DEPLOYMENT, {f"{DEPLOY_IMAGE}.image": _DELETE}),
                 [("spec.template.spec.containers[0].image", "Required value")], id="no-image"),
    pytest.param(variant(NGINX_DEPLOYMENT, {"spec.template.spec.restartPolicy": "Never"}),
                 [("spec.template.spec.restartPolicy", 'Unsupported value: "Never": supported values: "Always"')],
                 id="template-restart-never"),
    pytest.param(variant(NGINX_DEPLOYMENT, {"spec.strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}}),
                 [("spec.strategy.rollingUpdate.maxUnavailable",
                   'Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:""}: may not be 0 when `maxSurge` is 0')],
                 id="surge-and-unavailable-zero"),
    pytest.param(variant(NGINX_DEPLOYMENT, {"spec.strategy": {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}}),
                 [("spec.strategy.rollingUpdate", "Forbidden: may not be specified when strategy `type` is 'Recreate'")],
                 id="recreate-with-rolling-update"),
    pytest.param(variant(NGINX_DEPLOYMENT, {"spec.strategy": {"rollingUpdate": {"maxUnavailable": "150%"}}}),
                 [("spec.strategy.rollingUpdate.maxUnavailable",
                   'Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"150%"}: must not be greater than 100%')],
                 id="unavailable-over-100-percent"),
    pytest.param(variant(NGINX_DEPLOYMENT, {"spec.strategy": {"rollingUpdate": {"maxSurge": "25"}}}),
                 [("spec.strategy.rollingUpdate.maxSurge",
                   'Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"25"}: a valid percent string must be a '
                   "numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is "
                   "'[0-9]+%')")], id="surge-not-a-percent"),
    pytest.param(variant(NGINX_DEPLOYMENT, {"spec.strategy": {"type": "BlueGreen"}}),
                 [("spec.strategy.type", 'Unsupported value: "BlueGreen": supported values: "Recreate", "RollingUpdate"')],
                 id="strategy-type"),
    pytest.param(variant(NGINX_DEPLOYMENT, {"spec.minReadySeconds": 10, "spec.progressDeadlineSeconds": 10}),
                 [("spec.progressDeadlineSeconds", "Invalid value: 10: must be greater than minReadySeconds")],
                 id="progress-deadline-not-above-min-ready"),
    pytest.param(variant(NGINX_DEPLOYMENT, {"spec.revisionHistoryLimit": -1}),
                 [("spec.revisionHistoryLimit", "Invalid value: -1: must be greater than or equal to 0")],
                 id="revision-history-limit"),
    pytest.param(variant(REPLICA_SET, {"spec.selector": {}}),
                 [("spec.selector", "Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
                                    "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid "
                                    "for deployment")], id="replicaset-empty-selector"),
    pytest.param(variant(POD, {"spec.restartPolicy": "Sometimes"}),
                 [("spec.restartPolicy", 'Unsupported value: "Sometimes": supported values: "Always", "Never", '
                                         '"OnFailure"')], id="restart-policy"),
    pytest.param(variant(POD, {"spec.dnsPolicy": "Google"}),
                 [("spec.dnsPolicy", 'Unsupported value: "Google": supported values: "ClusterFirst", '
                                     '"ClusterFirstWithHostNet", "Default", "None"')], id="dns-policy"),
    pytest.param(variant(POD, {"spec.containers.1": {"name": "web", "image": "busybox"}}),
                 [("spec.containers[1].name", 'Duplicate value: "web"')], id="duplicate-container"),
    pytest.param(variant(POD, {"spec.containers.0.name": "Web"}),
                 [("spec.containers[0].name", f'Invalid value: "Web": {DNS1123_LABEL}')], id="container-name"),
    pytest.param(variant(POD, {"spec.containers.0.ports.0.name": "HTTP"}),
                 [("spec.containers[0].ports[0].name",
                   'Invalid value: "HTTP": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)'),
                  ("spec.containers[0].ports[0].name", 'Invalid value: "HTTP": must contain at least one letter (a-z)')],
                 id="port-name"),
    pytest.param(variant(POD, {"spec.containers.0.ports.0.containerPort": 70000}),
                 [("spec.containers[0].ports[0].containerPort", f"Invalid value: 70000: {PORT_RANGE}")],
                 id="container-port-range"),
    pytest.param(variant(POD, {"spec.containers.0.volumeMounts": [{"name": "data", "mountPath": "/data"}]}),
                 [("spec.containers[0].volumeMounts[0].name", 'Not found: "data"')], id="mount-unknown-volume"),
    pytest.param(variant(POD, {"spec.volumes": [{"name": "data", "emptyDir": {}, "hostPath": {"path": "/d"}}]}),
                 [("spec.volumes[0].hostPath", "Forbidden: may not specify more than 1 volume type")],
                 id="volume-two-sources"),
    pytest.param(variant(POD, {"spec.volumes": [{"emptyDir": {}}]}),
                 [("spec.volumes[0].name", "Required value")], id="volume-no-name"),
    pytest.param(variant(POD, {"spec.containers.0.env": [{"name": "1BAD", "value": "x"}]}),
                 [("spec.containers[0].env[0].name",
                   'Invalid value: "1BAD": a valid environment variable name must consist of alphabetic characters, '
                   "digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or "
                   "'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')")], id="env-name"),
    pytest.param(variant(POD, {"spec.containers.0.resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}),
                 [("spec.containers[0].resources.requests", 'Invalid value: "2": must be less than or equal to cpu '
                                                            "limit")], id="requests-over-limits"),
    pytest.param(variant(POD, {"spec.containers.0.livenessProbe": {"exec": {"command": ["true"]},
                                                                   "httpGet": {"port": 80}}}),
                 [("spec.containers[0].livenessProbe.httpGet", "Forbidden: may not specify more than 1 handler type")],
                 id="probe-two-handlers"),
    pytest.param(variant(POD, {"spec.containers.0.readinessProbe": {"periodSeconds": 5}}),
                 [("spec.containers[0].readinessProbe", "Required value: must specify a handler type")],
                 id="probe-no-handler"),
    pytest.param(variant(POD, {"spec.containers.0.livenessProbe": {"tcpSocket": {"port": 80}, "successThreshold": 2}}),
                 [("spec.containers[0].livenessProbe.successThreshold", "Invalid value: 2: must be 1")],
                 id="liveness-success-threshold"),
    pytest.param(variant(POD, {"metadata.labels": {"-bad": "ok", "good": "not ok!"}}),
                 [("metadata.labels", f'Invalid value: "-bad": {QUALIFIED_NAME}'),
                  ("metadata.labels", f'Invalid value: "not ok!": {LABEL_VALUE}')], id="labels"),
    pytest.param(variant(POD, {"spec.tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoWhere"}]}),
                 [("spec.tolerations[0].effect", 'Unsupported value: "NoWhere": supported values: "NoExecute", '
                                                 '"NoSchedule", "PreferNoSchedule"')], id="toleration-effect"),
    pytest.param(variant(SERVICE, {"spec.ports.0.port": 70000, "spec.ports.0.targetPort": _DELETE}),
                 [("spec.ports[0].port", f"Invalid value: 70000: {PORT_RANGE}"),
                  ("spec.ports[0].targetPort", f"Invalid value: 70000: {PORT_RANGE}")], id="service-port-range"),
    pytest.param(variant(SERVICE, {"metadata.name": "1web"}),
                 [("metadata.name", f'Invalid value: "1web": {DNS1035_LABEL}')], id="service-name-dns1035"),
    pytest.param(variant(SERVICE, {"spec.ports": [{"name": "a", "port": 80}, {"name": "b", "port": 80}]}),
                 [("spec.ports[1]", 'Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", '
                                    'AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, '
                                    'IntVal:0, StrVal:""}, NodePort:0}')], id="service-duplicate-port"),
    pytest.param(variant(SERVICE, {"spec.ports.1": {"port": 81}}),
                 [("spec.ports[0].name", "Required value"), ("spec.ports[1].name", "Required value")],
                 id="service-ports-need-names"),
    pytest.param(variant(SERVICE, {"spec.ports.0.nodePort": 30001}),
                 [("spec.ports[0].nodePort", "Forbidden: may not be used when `type` is 'ClusterIP'")],
                 id="node-port-on-cluster-ip"),
    pytest.param(variant(SERVICE, {"spec.type": "NodePort", "spec.ports.0.nodePort": 80}),
                 [("spec.ports[0].nodePort", "Invalid value: 80: provided port is not in the valid range. The range "
                                             "of valid ports is 30000-32767")], id="node-port-range"),
    pytest.param(variant(SERVICE, {"spec.type": "NodePort", "spec.clusterIP": "None"}),
                 [("spec.clusterIP", 'Invalid value: "None": may not be set to \'None\' for NodePort services')],
                 id="headless-node-port"),
    pytest.param(variant(SERVICE, {"spec.ports": _DELETE}), [("spec.ports", "Required value")], id="service-no-ports"),
    pytest.param(variant(SERVICE, {"spec.type": "Internal"}),
                 [("spec.type", 'Unsupported value: "Internal": supported values: "ClusterIP", "ExternalName", '
                                '"LoadBalancer", "NodePort"')], id="service-type"),
    pytest.param(variant(SERVICE, {"spec.sessionAffinity": "Sticky"}),
                 [("spec.sessionAffinity", 'Unsupported value: "Sticky": supported values: "ClientIP", "None"')],
                 id="session-affinity"),
    pytest.param(variant(SERVICE, {"spec.clusterIP": "10.0.0.300"}),
                 [("spec.clusterIP", 'Invalid value: "10.0.0.300": must be a valid IP address, (e.g. 10.9.8.7 or '
                                     '2001:db8::ffff)')], id="cluster-ip"),
    pytest.param(variant(INGRESS, {"spec.rules.0.host": "Foo.com"}),
                 [("spec.rules[0].host", f'Invalid value: "Foo.com": {DNS1123_SUBDOMAIN}')], id="ingress-host"),
    pytest.param(variant(INGRESS, {"spec.rules.0.host": "foo.*.com"}),
                 [("spec.rules[0].host", "Invalid value: \"foo.*.com\": a wildcard DNS-1123 subdomain must start with "
                                         "'*.', followed by a valid DNS subdomain, which must consist of lower case "
                                         "alphanumeric characters, '-' or '.' and end with an alphanumeric character "
                                         "(e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]"
                                         "*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")], id="ingress-wildcard"),
    pytest.param(variant(INGRESS, {"spec.rules.0.http.paths.0.pathType": _DELETE}),
                 [("spec.rules[0].http.paths[0].pathType", "Required value: pathType must be specified")],
                 id="ingress-no-path-type"),
    pytest.param(variant(INGRESS, {"spec.rules.0.http.paths.0.pathType": "Regex"}),
                 [("spec.rules[0].http.paths[0].pathType", 'Unsupported value: "Regex": supported values: "Exact", '
                                                           '"ImplementationSpecific", "Prefix"')], id="ingress-path-type"),
    pytest.param(variant(INGRESS, {"spec.rules.0.http.paths.0.path": "testpath"}),
                 [("spec.rules[0].http.paths[0].path", 'Invalid value: "testpath": must be an absolute path')],
                 id="ingress-relative-path"),
    pytest.param(variant(INGRESS, {"spec.rules.0.http.paths.0.backend.service.port": {}}),
                 [("spec.rules[0].http.paths[0].backend", "Required value: port name or number is required")],
                 id="ingress-backend-port"),
    pytest.param(variant(INGRESS, {"spec.rules.0.http.paths.0.backend.service.name": _DELETE}),
                 [("spec.rules[0].http.paths[0].backend.service.name", "Required value")], id="ingress-backend-name"),
    pytest.param(variant(LEASE, {"spec.leaseDurationSeconds": 0}),
                 [("spec.leaseDurationSeconds", "Invalid value: 0: must be greater than 0")], id="lease-duration"),
    pytest.param(variant(NODE, {"spec.taints": [{"key": "gpu", "value": "true", "effect": "NoRun"}]}),
                 [("spec.taints[0].effect", 'Unsupported value: "NoRun": supported values: "NoExecute", "NoSchedule", '
                                            '"PreferNoSchedule"')], id="taint-effect"),
    pytest.param(variant(NODE, {"spec.podCIDR": "10.244.1.0"}),
                 [("spec.podCIDR", 'Invalid value: "10.244.1.0": must be valid CIDR')], id="node-pod-cidr"),
    pytest.param(variant(NAMESPACE, {"metadata.name": "team.a"}),
                 [("metadata.name", f'Invalid value: "team.a": {DNS1123_LABEL}')], id="namespace-name-label"),
    pytest.param(variant(CONFIG_MAP, {"data": {"bad key": "x"}}),
                 [("data[bad key]", "Invalid value: \"bad key\": a valid config key must consist of alphanumeric "
                                    "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex "
                                    "used for validation is '[-._a-zA-Z0-9]+')")], id="config-map-key"),
    pytest.param(variant(ENDPOINTS, {"subsets.0.addresses.0.ip": "pod-a"}),
                 [("subsets[0].addresses[0].ip", 'Invalid value: "pod-a": must be a valid IP address, (e.g. 10.9.8.7 '
                                                 'or 2001:db8::ffff)')], id="endpoints-ip"),
    pytest.param(variant(CONFIG_MAP, {"metadata.generateName": "Game-", "metadata.name": "game-x"}),
                 [("metadata.generateName", f'Invalid value: "Game-": {DNS1123_SUBDOMAIN}')], id="generate-name"),
    pytest.param(variant(CONFIG_MAP, {"metadata.ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "Deployment", "name": "a", "uid": "u1", "controller": True},
        {"apiVersion": "apps/v1", "kind": "Deployment", "name": "b", "uid": "u2", "controller": True}]}),
                 [("metadata.ownerReferences",
                   'Invalid value: []v1.OwnerReference{v1.OwnerReference{APIVersion:"apps/v1", Kind:"Deployment", '
                   'Name:"a", UID:"u1", Controller:true, BlockOwnerDeletion:nil}, v1.OwnerReference{APIVersion:'
                   '"apps/v1", Kind:"Deployment", Name:"b", UID:"u2", Controller:true, BlockOwnerDeletion:nil}}: '
                   'Only one reference can have Controller set to true. Found "true" in references for a and b')],
                 id="two-controllers"),
    pytest.param(variant(CONFIG_MAP, {"metadata.ownerReferences": [{"apiVersion": "apps/", "kind": "Deployment",
                                                                     "name": "a"}]}),
                 [("metadata.ownerReferences.apiVersion", 'Invalid value: "apps/": version must not be empty'),
                  ("metadata.ownerReferences.uid", 'Invalid value: "": uid must not be empty')],
                 id="owner-reference-fields"),
    pytest.param(variant(CONFIG_MAP, {"metadata.finalizers": ["cleanup"]}),
                 [("metadata.finalizers", 'Invalid value: "cleanup": name is neither a standard finalizer name nor is '
                                          "it fully qualified")], id="finalizer-name"),
    pytest.param(variant(CONFIG_MAP, {"metadata.annotations": {"big": "x" * (256 * 1024)}}),
                 [("metadata.annotations", "Too long: must have at most 262144 bytes")], id="annotations-too-big"),
])
def test_invalid_objects_are_answered_in_kubernetes_words(manifest, expected):
    """Each bad object yields exactly Kubernetes' (field path, message) pairs."""
    assert create_errors(manifest) == expected


def test_errors_join_into_kubernetes_invalid_status():
    """The service's errors.invalid turns the pairs into Kubernetes' one-line Invalid message."""
    from apiserver import errors
    errs = create_errors(variant(NGINX_DEPLOYMENT, {"spec.replicas": -1}))
    err = errors.invalid("Deployment", "apps", "nginx-deployment", errs)
    assert err.message == ('Deployment.apps "nginx-deployment" is invalid: spec.replicas: Invalid value: -1: must be '
                           "greater than or equal to 0")


# --- updates: immutable fields --------------------------------------------------------------------

POD_UPDATE_FORBIDDEN = ("Forbidden: pod updates may not change fields other than `spec.containers[*].image`, "
                        "`spec.initContainers[*].image`, `spec.activeDeadlineSeconds` or `spec.tolerations` "
                        "(only additions to existing tolerations)")
TOLERATION = {"key": "gpu", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60}


@pytest.mark.parametrize("old,new,expected", [
    pytest.param(NGINX_DEPLOYMENT, variant(NGINX_DEPLOYMENT, {"metadata.name": "other"}),
                 [("metadata.name", 'Invalid value: "other": field is immutable')], id="name"),
    pytest.param(CONFIG_MAP, variant(CONFIG_MAP, {"metadata.namespace": "team-a"}),
                 [("metadata.namespace", 'Invalid value: "team-a": field is immutable')], id="namespace"),
    pytest.param(CONFIG_MAP, variant(CONFIG_MAP, {"metadata.uid": "someone-else"}),
                 [("metadata.uid", 'Invalid value: "someone-else": field is immutable')], id="uid"),
    pytest.param(CONFIG_MAP, variant(CONFIG_MAP, {"metadata.deletionTimestamp": NOW}),
                 [("metadata.deletionTimestamp", f'Invalid value: "{NOW}": field is immutable')],
                 id="deletion-timestamp-set-by-update"),
    pytest.param(NGINX_DEPLOYMENT, variant(NGINX_DEPLOYMENT, {"spec.selector.matchLabels.app": "web2",
                                                              "spec.template.metadata.labels.app": "web2"}),
                 [("spec.selector", 'Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web2"}, '
                                    'MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable')],
                 id="deployment-selector"),
    pytest.param(REPLICA_SET, variant(REPLICA_SET, {"spec.selector.matchLabels.env": "prod",
                                                    "spec.template.metadata.labels.env": "prod"}),
                 [("spec.selector", 'Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"env":"prod", '
                                    '"tier":"frontend"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field '
                                    "is immutable")], id="replicaset-selector"),
    pytest.param(variant(SERVICE, {"spec.clusterIP": "10.0.0.1"}), variant(SERVICE, {"spec.clusterIP": "10.0.0.2"}),
                 [("spec.clusterIP", 'Invalid value: "10.0.0.2": field is immutable')], id="service-cluster-ip"),
    pytest.param(variant(SERVICE, {"spec.clusterIP": "10.0.0.1"}), SERVICE, [], id="service-cluster-ip-left-out"),
    pytest.param(variant(SERVICE, {"spec.clusterIP": "10.0.0.1"}),
                 {**SERVICE, "spec": {"type": "ExternalName", "externalName": "db.example.com"}}, [],
                 id="service-to-external-name"),
    pytest.param(POD, variant(POD, {"spec.restartPolicy": "Never"}),
                 [("spec", f"{POD_UPDATE_FORBIDDEN}\nchanged: spec.restartPolicy")], id="pod-restart-policy"),
    pytest.param(POD, variant(POD, {"spec.containers.0.ports.0.containerPort": 8080}),
                 [("spec", f"{POD_UPDATE_FORBIDDEN}\nchanged: spec.containers[0].ports[0].containerPort")],
                 id="pod-container-port"),
    pytest.param(POD, variant(POD, {"spec.containers.1": {"name": "sidecar", "image": "busybox"}}),
                 [("spec.containers", "Forbidden: pod updates may not add or remove containers")], id="pod-add-container"),
    pytest.param(POD, variant(POD, {"spec.containers.0.image": "nginx:1.16"}), [], id="pod-image"),
    pytest.param(variant(POD, {"spec.activeDeadlineSeconds": 60}), variant(POD, {"spec.activeDeadlineSeconds": 30}),
                 [], id="pod-deadline-down"),
    pytest.param(variant(POD, {"spec.activeDeadlineSeconds": 30}), variant(POD, {"spec.activeDeadlineSeconds": 60}),
                 [("spec.activeDeadlineSeconds", "Invalid value: 60: must be less than or equal to previous value")],
                 id="pod-deadline-up"),
    pytest.param(variant(POD, {"spec.tolerations": [TOLERATION]}),
                 variant(POD, {"spec.tolerations": [{**TOLERATION, "tolerationSeconds": 10},
                                                    {"key": "ssd", "operator": "Exists"}]}),
                 [], id="pod-toleration-added"),
    pytest.param(variant(POD, {"spec.tolerations": [TOLERATION]}),
                 variant(POD, {"spec.tolerations": [{**TOLERATION, "key": "tpu"}]}),
                 [("spec.tolerations", "Forbidden: existing toleration can not be modified except its tolerationSeconds")],
                 id="pod-toleration-changed"),
    pytest.param(variant(CONFIG_MAP, {"immutable": True}), variant(CONFIG_MAP, {"immutable": True, "data.x": "1"}),
                 [("data", "Forbidden: field is immutable when `immutable` is set")], id="immutable-config-map"),
    pytest.param(variant(CONFIG_MAP, {"immutable": True}), CONFIG_MAP,
                 [("immutable", "Forbidden: field is immutable when `immutable` is set")], id="config-map-unfreeze"),
    pytest.param(NODE, variant(NODE, {"spec.podCIDR": "10.244.2.0/24"}),
                 [("spec.podCIDRs", 'Forbidden: node updates may not change podCIDR except from "" to valid')],
                 id="node-pod-cidr"),
])
def test_updates_keep_immutable_fields(old, new, expected):
    """An update that changes an immutable field is refused with Kubernetes' message; allowed changes pass."""
    assert updated(old, new)[3] == expected


def test_no_new_finalizers_while_deleting():
    """Once an object is being deleted, an update may remove finalizers but not add any."""
    kind, old = created(variant(CONFIG_MAP, {"metadata.finalizers": ["example.com/a"]}))
    old.metadata.deletion_timestamp = LATER
    _, new = decode(variant(CONFIG_MAP, {"metadata.finalizers": ["example.com/a", "example.com/b"]}))
    new.metadata.namespace = "default"
    strategy.prepare_update(kind, new, old)
    assert new.metadata.deletion_timestamp == LATER
    assert strategy.validate(kind, new, old) == [
        ("metadata.finalizers", 'Forbidden: no new finalizers can be added if the object is being deleted, found new '
                                'finalizers []string{"example.com/b"}')]
    del new.metadata.finalizers[:]
    assert strategy.validate(kind, new, old) == []


def test_creation_timestamp_is_immutable_to_validate():
    """validate itself refuses a changed creationTimestamp (prepare_update normally restores it first)."""
    kind, old = created(CONFIG_MAP)
    new = type(old)()
    new.CopyFrom(old)
    new.metadata.creation_timestamp = LATER
    assert strategy.validate(kind, new, old) == [
        ("metadata.creationTimestamp", f'Invalid value: "{LATER}": field is immutable')]


# --- updates: what is kept and what moves ----------------------------------------------------------

@pytest.mark.parametrize("old,new,generation", [
    pytest.param(NGINX_DEPLOYMENT, variant(NGINX_DEPLOYMENT, {"spec.replicas": 5}), 2, id="deployment-spec"),
    pytest.param(NGINX_DEPLOYMENT, variant(NGINX_DEPLOYMENT, {"metadata.labels.tier": "web"}), 1,
                 id="deployment-labels"),
    pytest.param(NGINX_DEPLOYMENT, variant(NGINX_DEPLOYMENT, {"metadata.annotations": {"note": "x"}}), 2,
                 id="deployment-annotations"),
    pytest.param(NGINX_DEPLOYMENT, variant(NGINX_DEPLOYMENT, {"spec.replicas": _DELETE, "spec.strategy": {}}), 2,
                 id="deployment-defaulted-replicas"),
    pytest.param(NGINX_DEPLOYMENT, variant(NGINX_DEPLOYMENT, {"status": {"replicas": 3}}), 1,
                 id="deployment-status-in-spec-update"),
    pytest.param(REPLICA_SET, variant(REPLICA_SET, {"metadata.annotations": {"note": "x"}}), 1,
                 id="replicaset-annotations"),
    pytest.param(REPLICA_SET, variant(REPLICA_SET, {"spec.replicas": 1}), 2, id="replicaset-spec"),
    pytest.param(SERVICE, variant(SERVICE, {"spec.ports.0.port": 8080}), 2, id="service-spec"),
    pytest.param(CONFIG_MAP, variant(CONFIG_MAP, {"data.x": "1"}), 2, id="config-map-data"),
    pytest.param(CONFIG_MAP, variant(CONFIG_MAP, {"metadata.labels": {"a": "b"}}), 1, id="config-map-labels"),
    pytest.param(LEASE, variant(LEASE, {"spec.renewTime": "2026-11-26T01:02:13.000000Z"}), 2, id="lease-renew"),
    pytest.param(ENDPOINTS, variant(ENDPOINTS, {"subsets.0.addresses.0.ip": "10.244.1.6"}), 2, id="endpoints"),
    pytest.param(NAMESPACE, variant(NAMESPACE, {"spec": {"finalizers": []}}), 1, id="namespace-finalizers-kept"),
])
def test_generation_moves_only_on_spec_changes(old, new, generation):
    """generation becomes old + 1 exactly when the spec (or a spec-less kind's data) changed."""
    kind, new_obj, old_obj, errs = updated(old, new)
    assert errs == []
    assert new_obj.metadata.generation == generation


def test_update_keeps_status_identity_and_timestamps():
    """A spec update keeps the stored status, uid, creationTimestamp and grace period."""
    kind, old = created(NGINX_DEPLOYMENT, uid="uid-1")
    old.status.replicas = 3
    old.metadata.deletion_grace_period_seconds = 30
    _, new = decode(variant(NGINX_DEPLOYMENT, {"spec.replicas": 5, "status": {"replicas": 99},
                                               "metadata.namespace": "default",
                                               "metadata.creationTimestamp": "2000-01-01T00:00:00Z"}))
    strategy.default(kind, new)
    strategy.prepare_update(kind, new, old)
    assert strategy.validate(kind, new, old) == []
    assert (new.status.replicas, new.metadata.uid, new.metadata.creation_timestamp,
            new.metadata.deletion_grace_period_seconds) == (3, "uid-1", NOW, 30)


def test_service_update_keeps_allocated_cluster_ip_and_node_ports():
    """An update that leaves clusterIP and a port's nodePort empty keeps what the server allocated."""
    old_manifest = variant(SERVICE, {"spec.type": "NodePort", "spec.clusterIP": "10.96.0.10",
                                     "spec.clusterIPs": ["10.96.0.10"],
                                     "spec.ports": [{"name": "http", "port": 80, "nodePort": 30080},
                                                    {"name": "https", "port": 443, "nodePort": 30443}]})
    new_manifest = variant(SERVICE, {"spec.type": "NodePort",
                                     "spec.ports": [{"name": "http", "port": 8080},
                                                    {"name": "https", "port": 443, "nodePort": 30444}]})
    kind, new, old, errs = updated(old_manifest, new_manifest)
    assert errs == []
    assert (new.spec.cluster_ip, list(new.spec.cluster_ips)) == ("10.96.0.10", ["10.96.0.10"])
    assert [p.node_port for p in new.spec.ports] == [30080, 30444]


@pytest.mark.parametrize("old_changes,new_changes,spec", [
    pytest.param({"spec.type": "NodePort", "spec.clusterIP": "10.96.0.10", "spec.ports.0.nodePort": 30080},
                 {"spec.type": "ClusterIP", "spec.clusterIP": "10.96.0.10", "spec.ports.0.nodePort": 30080,
                  "spec.externalTrafficPolicy": "Cluster"},
                 {"ports": [{"protocol": "TCP", "port": 80, "targetPort": 9376}], "selector": {"app": "MyApp"},
                  "clusterIP": "10.96.0.10", "type": "ClusterIP", "sessionAffinity": "None"}, id="node-port-to-cluster-ip"),
    pytest.param({"spec.clusterIP": "10.96.0.10"},
                 {"spec.type": "ExternalName", "spec.externalName": "db.example.com", "spec.clusterIP": "10.96.0.10"},
                 {"ports": [{"protocol": "TCP", "port": 80, "targetPort": 9376}], "selector": {"app": "MyApp"},
                  "type": "ExternalName", "sessionAffinity": "None", "externalName": "db.example.com"},
                 id="cluster-ip-to-external-name"),
])
def test_service_type_change_drops_what_the_old_type_needed(old_changes, new_changes, spec):
    """A read-modify-write that only changes a Service's type need not clear the old type's fields by hand."""
    kind, new, old, errs = updated(variant(SERVICE, old_changes), variant(SERVICE, new_changes))
    assert errs == []
    assert to_dict(new.spec) == spec


def test_status_update_keeps_spec_and_metadata():
    """A status write takes only the new status; spec, labels and generation stay as stored."""
    kind, old = created(NGINX_DEPLOYMENT)
    old.metadata.resource_version = "7"
    _, new = decode(variant(NGINX_DEPLOYMENT, {"spec.replicas": 50, "metadata.labels": {"app": "hijack"},
                                               "metadata.namespace": "default", "metadata.resourceVersion": "7",
                                               "status": {"observedGeneration": 1, "replicas": 3,
                                                          "readyReplicas": 2, "availableReplicas": 2}}))
    strategy.prepare_status_update(kind, new, old)
    assert strategy.validate(kind, new, old) == []
    assert new.spec == old.spec and new.metadata == old.metadata
    assert to_dict(new.status) == {"observedGeneration": 1, "replicas": 3, "readyReplicas": 2, "availableReplicas": 2}


def test_status_update_of_a_deployment_may_set_annotations_but_not_labels():
    """As in Kubernetes, the deployment controller records its revision annotation with a status write:
    annotations are taken, labels and generation are not."""
    kind, old = created(NGINX_DEPLOYMENT)
    _, new = decode(variant(NGINX_DEPLOYMENT, {"metadata.labels": {"app": "hijack"},
                                               "metadata.annotations": {"deployment.kubernetes.io/revision": "2"},
                                               "status": {"observedGeneration": 1}}))
    strategy.prepare_status_update(kind, new, old)
    assert dict(new.metadata.annotations) == {"deployment.kubernetes.io/revision": "2"}
    assert new.metadata.labels == old.metadata.labels and new.metadata.generation == old.metadata.generation
    kind, old = created(POD)
    _, new = decode(variant(POD, {"metadata.annotations": {"note": "x"}, "status": {"phase": "Running"}}))
    strategy.prepare_status_update(kind, new, old)
    assert new.metadata == old.metadata, "a pod's status write keeps its metadata"


def test_status_update_is_validated():
    """Status counts are checked as Kubernetes does: ready replicas cannot exceed replicas."""
    kind, old = created(NGINX_DEPLOYMENT)
    _, new = decode(variant(NGINX_DEPLOYMENT, {"status": {"replicas": 1, "readyReplicas": 2, "availableReplicas": 2}}))
    strategy.prepare_status_update(kind, new, old)
    assert strategy.validate(kind, new, old) == [
        ("status.readyReplicas", "Invalid value: 2: cannot be greater than status.replicas"),
        ("status.availableReplicas", "Invalid value: 2: cannot be greater than status.replicas")]


def test_status_update_refused_for_kinds_without_status():
    """ConfigMaps have no status subresource."""
    kind, old = created(CONFIG_MAP)
    with pytest.raises(ValueError):
        strategy.prepare_status_update(kind, type(old)(), old)


# --- field selectors and names --------------------------------------------------------------------

def test_field_labels_per_kind():
    """Pods select on node, phase, restart policy, scheduler and IP; cluster-scoped kinds have no namespace field."""
    kind, pod = created(variant(POD, {"spec.nodeName": "node-1", "status": {}}))
    pod.status.pod_ip = "10.244.1.5"
    values = {name: get(pod) for name, get in strategy.field_labels(kind).items()}
    assert {k: values[k] for k in ("metadata.name", "metadata.namespace", "spec.nodeName", "status.phase",
                                   "spec.restartPolicy", "spec.schedulerName", "status.podIP")} == {
        "metadata.name": "web", "metadata.namespace": "default", "spec.nodeName": "node-1", "status.phase": "Pending",
        "spec.restartPolicy": "Always", "spec.schedulerName": "default-scheduler", "status.podIP": "10.244.1.5"}
    node_kind, node = created(variant(NODE, {"spec.unschedulable": True}))
    assert {k: f(node) for k, f in strategy.field_labels(node_kind).items()} == {
        "metadata.name": "node-1", "spec.unschedulable": "true"}
    ns_kind, ns = created(NAMESPACE)
    assert strategy.field_labels(ns_kind)["status.phase"](ns) == "Active"
    rs_kind, rs = created(REPLICA_SET)
    assert strategy.field_labels(rs_kind)["status.replicas"](rs) == "0"
    ev_kind = kinds.by_resource("events")
    ev = from_dict(ev_kind.message, {"metadata": {"name": "web.1", "namespace": "default"},
                                     "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default",
                                                        "uid": "u1"},
                                     "reason": "Scheduled", "type": "Normal", "source": {"component": "scheduler"}})
    labels = strategy.field_labels(ev_kind)
    assert [labels[k](ev) for k in ("involvedObject.kind", "involvedObject.name", "involvedObject.namespace",
                                    "involvedObject.uid", "reason", "type", "source")] == [
        "Pod", "web", "default", "u1", "Scheduled", "Normal", "scheduler"]
    assert strategy.validate(ev_kind, ev) == []


def test_generate_name_is_prefix_plus_five_from_the_rng():
    """generateName gets Kubernetes' 5-character suffix, drawn from the given rng, the prefix cut to 58."""
    name = strategy.generate_name("web-", random.Random(1))
    assert name.startswith("web-") and len(name) == 9 and name == strategy.generate_name("web-", random.Random(1))
    assert len(strategy.generate_name("x" * 80, random.Random(1))) == 63


# --- properties -----------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(replicas=st.integers(-3, 5), min_ready=st.integers(-3, 20), deadline=st.integers(-3, 20),
       history=st.integers(-3, 5))
def test_deployment_counts_report_exactly_the_broken_fields(replicas, min_ready, deadline, history):
    """For any counts, validate names exactly the fields Kubernetes' rules call invalid."""
    manifest = variant(NGINX_DEPLOYMENT, {"spec.replicas": replicas, "spec.minReadySeconds": min_ready,
                                          "spec.progressDeadlineSeconds": deadline,
                                          "spec.revisionHistoryLimit": history})
    expected = {path for path, bad in (("spec.replicas", replicas < 0), ("spec.minReadySeconds", min_ready < 0),
                                       ("spec.revisionHistoryLimit", history < 0),
                                       ("spec.progressDeadlineSeconds", deadline < 0 or deadline <= min_ready)) if bad}
    assert {path for path, _ in create_errors(manifest)} == expected


@settings(max_examples=40, deadline=None)
@given(replicas=st.integers(0, 4), label=st.sampled_from(["a", "b"]), note=st.sampled_from([None, "x"]))
def test_generation_tracks_spec_equality(replicas, label, note):
    """After any update, generation is 1 if the spec and annotations are unchanged and 2 otherwise."""
    changes = {"spec.replicas": replicas, "metadata.labels.extra": label}
    if note is not None:
        changes["metadata.annotations"] = {"note": note}
    kind, new, old, errs = updated(NGINX_DEPLOYMENT, variant(NGINX_DEPLOYMENT, changes))
    assert errs == []
    assert new.metadata.generation == (1 if replicas == 3 and note is None else 2)
