"""`skiff describe`'s text, golden against kubectl 1.20's layout, and the pure parts under it.

The goldens are what kubectl prints for the same objects (its describe.go and Go's tabwriter: column
blocks, `<none>`, the space after a condition's status). A `·` marks a trailing space: kubectl pads
cells even when nothing follows, and editors strip trailing blanks.
"""
from __future__ import annotations

from datetime import timedelta, timezone

import pytest
import yaml

from cli import describers as d
from cli import quantity
from cli.describe import about
from cli.describers_pod import describe_pod, describe_probe
from cli.printers import parse_time
from cli.tabwriter import tabwrite
from client.codec import from_dict
from skiffpb.k8s.apps.v1 import apps_pb2
from skiffpb.k8s.coordination.v1 import coordination_pb2
from skiffpb.k8s.core.v1 import core_pb2
from skiffpb.k8s.networking.v1 import networking_pb2

pytestmark = pytest.mark.timeout(30)


def G(text: str) -> str:
    return text.replace("·", " ")


NOW = parse_time("2021-03-01T10:10:02Z")
CLOCK = d.Clock(NOW)                                        # UTC
CLOCK_PLUS1 = d.Clock(NOW, timezone(timedelta(hours=1)))       # a user one hour east of UTC


def load(cls, text: str):
    return from_dict(cls, yaml.safe_load(text))


def pod():
    return load(core_pb2.Pod, """
metadata:
  name: nginx-deployment-66b6c48dd5-4jlxr
  namespace: default
  uid: u1
  labels: {app: nginx, pod-template-hash: 66b6c48dd5}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: nginx-deployment-66b6c48dd5, uid: rs1,
                     controller: true}]
  creationTimestamp: "2021-03-01T10:00:00Z"
spec:
  priority: 0
  nodeName: minikube
  containers:
  - name: nginx
    image: nginx:1.14.2
    ports: [{containerPort: 80, protocol: TCP}]
    volumeMounts: [{name: default-token-xxxxx, mountPath: /var/run/secrets/kubernetes.io/serviceaccount,
                    readOnly: true}]
  volumes:
  - name: default-token-xxxxx
    secret: {secretName: default-token-xxxxx, defaultMode: 420}
  tolerations:
  - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 300}
  - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 300}
status:
  phase: Running
  hostIP: 192.168.49.2
  podIP: 172.17.0.3
  podIPs: [{ip: 172.17.0.3}]
  startTime: "2021-03-01T10:00:00Z"
  qosClass: BestEffort
  conditions:
  - {type: Initialized, status: "True"}
  - {type: Ready, status: "True"}
  - {type: ContainersReady, status: "True"}
  - {type: PodScheduled, status: "True"}
  containerStatuses:
  - name: nginx
    containerID: skiff://abc
    image: nginx:1.14.2
    imageID: nginx@sha256:f7988fb6c02e0ce69257d9bd9cf37ae20a60f1df7563c3a2a6abe24160306b8d
    ready: true
    restartCount: 0
    state: {running: {startedAt: "2021-03-01T10:00:05Z"}}
""")


def crashing_pod():
    return load(core_pb2.Pod, """
metadata:
  name: api-0
  namespace: shop
  uid: p1
  labels: {app: api}
  annotations: {note: hello, kubectl.kubernetes.io/last-applied-configuration: "{}"}
  deletionTimestamp: "2021-03-01T10:09:32Z"
  deletionGracePeriodSeconds: 30
spec:
  nodeName: n2
  nodeSelector: {disk: ssd}
  initContainers:
  - name: migrate
    image: api:2
    command: [/bin/migrate]
    args: [--all, "--db=main"]
  containers:
  - name: api
    image: api:2
    ports: [{containerPort: 8080, protocol: TCP, name: http}, {containerPort: 9090, protocol: TCP}]
    env:
    - {name: MODE, value: prod}
    - name: POD_NAME
      valueFrom: {fieldRef: {apiVersion: v1, fieldPath: metadata.name}}
    - name: DB
      valueFrom: {configMapKeyRef: {name: cfg, key: db}}
    - name: CPU
      valueFrom: {resourceFieldRef: {resource: limits.cpu}}
    resources:
      limits: {cpu: 500m, memory: 256Mi}
      requests: {cpu: 250m, memory: 128Mi}
    livenessProbe: {httpGet: {path: /healthz, port: 8080, scheme: HTTP}, timeoutSeconds: 1, periodSeconds: 10,
                    successThreshold: 1, failureThreshold: 3}
    readinessProbe: {tcpSocket: {port: http}, initialDelaySeconds: 5, timeoutSeconds: 1, periodSeconds: 5,
                     successThreshold: 1, failureThreshold: 3}
    volumeMounts: [{name: data, mountPath: /data}, {name: cfg, mountPath: /etc/api, readOnly: true,
                    subPath: api.conf}]
  volumes:
  - name: data
    emptyDir: {}
  - name: cfg
    configMap: {name: cfg}
  - name: host
    hostPath: {path: /var/log, type: Directory}
status:
  phase: Running
  hostIP: 127.0.0.3
  podIP: 127.1.0.7
  podIPs: [{ip: 127.1.0.7}]
  startTime: "2021-03-01T10:00:00Z"
  qosClass: Burstable
  conditions: [{type: Ready, status: "False"}]
  initContainerStatuses:
  - name: migrate
    image: api:2
    ready: true
    state: {terminated: {exitCode: 0, reason: Completed, startedAt: "2021-03-01T10:00:01Z",
                         finishedAt: "2021-03-01T10:00:03Z"}}
  containerStatuses:
  - name: api
    image: api:2
    ready: false
    restartCount: 3
    state: {waiting: {reason: CrashLoopBackOff}}
    lastState: {terminated: {exitCode: 1, reason: Error, message: boom, startedAt: "2021-03-01T10:08:00Z",
                             finishedAt: "2021-03-01T10:08:01Z"}}
""")


def event(kind: str, name: str, uid: str, *, type_: str, reason: str, message: str, component: str,
          first: str, last: str, count: int, namespace: str = "default"):
    ev = load(core_pb2.Event, f"""
metadata: {{name: {name}.{reason.lower()}, namespace: {namespace}}}
involvedObject: {{kind: {kind}, name: {name}, namespace: {namespace}, uid: "{uid}"}}
type: {type_}
reason: {reason}
message: "{message}"
source: {{component: {component}}}
firstTimestamp: "{first}"
lastTimestamp: "{last}"
count: {count}
""")
    return ev


def pod_events():
    return [
        event("Pod", "nginx-deployment-66b6c48dd5-4jlxr", "u1", type_="Warning", reason="BackOff",
              message="Back-off restarting failed container", component="kubelet",
              first="2021-03-01T10:00:00Z", last="2021-03-01T10:07:00Z", count=4),
        event("Pod", "nginx-deployment-66b6c48dd5-4jlxr", "u1", type_="Normal", reason="Scheduled",
              message="Successfully assigned default/nginx to minikube", component="default-scheduler",
              first="2021-03-01T10:00:00Z", last="2021-03-01T10:00:00Z", count=1),
    ]


TEMPLATE = """
    metadata: {labels: {app: nginx}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.14.2
        ports: [{containerPort: 80, protocol: TCP}]
"""


def deployment():
    return load(apps_pb2.Deployment, """
metadata: {name: nginx-deployment, namespace: default, uid: d1, creationTimestamp: "2021-03-01T10:00:00Z",
           labels: {app: nginx}, annotations: {deployment.kubernetes.io/revision: "1"}}
spec:
  replicas: 3
  selector: {matchLabels: {app: nginx}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 25%, maxSurge: 25%}}
  template:""" + TEMPLATE + """
status: {replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3,
         conditions: [{type: Available, status: "True", reason: MinimumReplicasAvailable},
                      {type: Progressing, status: "True", reason: NewReplicaSetAvailable}]}
""")


def replica_set(name: str = "nginx-deployment-66b6c48dd5", *, image: str = "nginx:1.14.2", replicas: int = 3,
                created: str = "2021-03-01T10:00:00Z", owner: str = "d1", uid: str = "rs1"):
    return load(apps_pb2.ReplicaSet, f"""
metadata:
  name: {name}
  namespace: default
  uid: {uid}
  creationTimestamp: "{created}"
  labels: {{app: nginx, pod-template-hash: {name.rsplit('-', 1)[1]}}}
  annotations: {{deployment.kubernetes.io/desired-replicas: "3", deployment.kubernetes.io/max-replicas: "4",
                 deployment.kubernetes.io/revision: "1"}}
  ownerReferences: [{{apiVersion: apps/v1, kind: Deployment, name: nginx-deployment, uid: {owner}, controller: true}}]
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: nginx, pod-template-hash: {name.rsplit('-', 1)[1]}}}}}
  template:
    metadata: {{labels: {{app: nginx, pod-template-hash: {name.rsplit('-', 1)[1]}}}}}
    spec:
      containers:
      - name: nginx
        image: {image}
        ports: [{{containerPort: 80, protocol: TCP}}]
status: {{replicas: {replicas}, readyReplicas: {replicas}, availableReplicas: {replicas}}}
""")


def replica_set_pods():
    pods = []
    for i, (phase, owner) in enumerate([("Running", "rs1"), ("Running", "rs1"), ("Pending", "rs1"),
                                        ("Running", "someone-else")]):
        pods.append(load(core_pb2.Pod, f"""
metadata: {{name: p{i}, namespace: default, ownerReferences: [{{kind: ReplicaSet, name: x, uid: {owner},
                                                                controller: true}}]}}
status: {{phase: {phase}}}
"""))
    return pods


def service():
    return load(core_pb2.Service, """
metadata: {name: my-service, namespace: default, labels: {app: nginx}}
spec:
  selector: {app: nginx}
  type: NodePort
  clusterIP: 10.96.12.34
  clusterIPs: [10.96.12.34]
  ipFamilies: [IPv4]
  ipFamilyPolicy: SingleStack
  sessionAffinity: None
  externalTrafficPolicy: Cluster
  ports: [{protocol: TCP, port: 80, targetPort: 9376, nodePort: 30080}]
""")


def endpoints():
    return load(core_pb2.Endpoints, """
metadata: {name: my-service, namespace: default}
subsets: [{addresses: [{ip: 10.244.0.5}, {ip: 10.244.0.6}, {ip: 10.244.1.3}, {ip: 10.244.1.4}],
           ports: [{port: 9376, protocol: TCP}]}]
""")


def node():
    return load(core_pb2.Node, """
metadata: {name: n1, creationTimestamp: "2021-03-01T09:00:00Z",
           labels: {kubernetes.io/hostname: n1, node-role.kubernetes.io/worker: ""}}
spec: {podCIDR: 10.244.1.0/24, podCIDRs: [10.244.1.0/24]}
status:
  capacity: {cpu: "2", memory: 4Gi, pods: "110"}
  allocatable: {cpu: "2", memory: 4Gi, pods: "110"}
  conditions:
  - {type: Ready, status: "True", reason: KubeletReady, message: kubelet is posting ready status,
     lastHeartbeatTime: "2021-03-01T10:10:00Z", lastTransitionTime: "2021-03-01T09:00:10Z"}
  addresses: [{type: InternalIP, address: 127.0.0.2}, {type: Hostname, address: n1}]
  nodeInfo: {kernelVersion: 6.1.0, osImage: Debian GNU/Linux 12, operatingSystem: linux, architecture: amd64,
             containerRuntimeVersion: skiff://0.1.0, kubeletVersion: v0.1.0, kubeProxyVersion: v0.1.0}
""")


def node_pods():
    return [load(core_pb2.Pod, """
metadata: {name: web-1, namespace: default, creationTimestamp: "2021-03-01T10:00:00Z"}
spec: {containers: [{name: c, resources: {requests: {cpu: 100m, memory: 128Mi},
                                          limits: {cpu: 500m, memory: 256Mi}}}]}
""")]


def lease():
    return load(coordination_pb2.Lease, """
metadata: {name: n1, namespace: kube-node-lease}
spec: {holderIdentity: n1, renewTime: "2021-03-01T10:10:00.123456Z"}
""")


def namespace():
    return load(core_pb2.Namespace, "metadata: {name: default}\nstatus: {phase: Active}")


def ingress():
    return load(networking_pb2.Ingress, """
metadata: {name: web, namespace: default, uid: i1, resourceVersion: "42", creationTimestamp: "2021-03-01T10:00:00Z",
           generation: 1}
spec:
  rules: [{host: web.example, http: {paths: [{path: /, pathType: Prefix,
                                               backend: {service: {name: web, port: {number: 80}}}}]}}]
""")


# -- goldens ------------------------------------------------------------------------------------
POD = G("""\
Name:         nginx-deployment-66b6c48dd5-4jlxr
Namespace:    default
Priority:     0
Node:         minikube/192.168.49.2
Start Time:   Mon, 01 Mar 2021 10:00:00 +0000
Labels:       app=nginx
              pod-template-hash=66b6c48dd5
Annotations:  <none>
Status:       Running
IP:           172.17.0.3
IPs:
  IP:           172.17.0.3
Controlled By:  ReplicaSet/nginx-deployment-66b6c48dd5
Containers:
  nginx:
    Container ID:   skiff://abc
    Image:          nginx:1.14.2
    Image ID:       nginx@sha256:f7988fb6c02e0ce69257d9bd9cf37ae20a60f1df7563c3a2a6abe24160306b8d
    Port:           80/TCP
    Host Port:      0/TCP
    State:          Running
      Started:      Mon, 01 Mar 2021 10:00:05 +0000
    Ready:          True
    Restart Count:  0
    Environment:    <none>
    Mounts:
      /var/run/secrets/kubernetes.io/serviceaccount from default-token-xxxxx (ro)
Conditions:
  Type              Status
  Initialized       True·
  Ready             True·
  ContainersReady   True·
  PodScheduled      True·
Volumes:
  default-token-xxxxx:
    Type:        Secret (a volume populated by a Secret)
    SecretName:  default-token-xxxxx
    Optional:    false
QoS Class:       BestEffort
Node-Selectors:  <none>
Tolerations:     node.kubernetes.io/not-ready:NoExecute op=Exists for 300s
                 node.kubernetes.io/unreachable:NoExecute op=Exists for 300s
Events:
  Type     Reason     Age                 From               Message
  ----     ------     ----                ----               -------
  Normal   Scheduled  10m                 default-scheduler  Successfully assigned default/nginx to minikube
  Warning  BackOff    3m2s (x4 over 10m)  kubelet            Back-off restarting failed container
""")

CRASHING_POD = G("""\
Name:                      api-0
Namespace:                 shop
Node:                      n2/127.0.0.3
Start Time:                Mon, 01 Mar 2021 11:00:00 +0100
Labels:                    app=api
Annotations:               note: hello
Status:                    Terminating (lasts 30s)
Termination Grace Period:  30s
IP:                        127.1.0.7
IPs:
  IP:  127.1.0.7
Init Containers:
  migrate:
    Container ID:··
    Image:         api:2
    Image ID:······
    Port:          <none>
    Host Port:     <none>
    Command:
      /bin/migrate
    Args:
      --all
      --db=main
    State:          Terminated
      Reason:       Completed
      Exit Code:    0
      Started:      Mon, 01 Mar 2021 11:00:01 +0100
      Finished:     Mon, 01 Mar 2021 11:00:03 +0100
    Ready:          True
    Restart Count:  0
    Environment:    <none>
    Mounts:         <none>
Containers:
  api:
    Container ID:···
    Image:          api:2
    Image ID:·······
    Ports:          8080/TCP, 9090/TCP
    Host Ports:     0/TCP, 0/TCP
    State:          Waiting
      Reason:       CrashLoopBackOff
    Last State:     Terminated
      Reason:       Error
      Message:      boom
      Exit Code:    1
      Started:      Mon, 01 Mar 2021 11:08:00 +0100
      Finished:     Mon, 01 Mar 2021 11:08:01 +0100
    Ready:          False
    Restart Count:  3
    Limits:
      cpu:     500m
      memory:  256Mi
    Requests:
      cpu:      250m
      memory:   128Mi
    Liveness:   http-get http://:8080/healthz delay=0s timeout=1s period=10s #success=1 #failure=3
    Readiness:  tcp-socket :http delay=5s timeout=1s period=5s #success=1 #failure=3
    Environment:
      MODE:      prod
      POD_NAME:  api-0 (v1:metadata.name)
      DB:        <set to the key 'db' of config map 'cfg'>  Optional: false
      CPU:       1 (limits.cpu)
    Mounts:
      /data from data (rw)
      /etc/api from cfg (ro,path="api.conf")
Conditions:
  Type    Status
  Ready   False·
Volumes:
  data:
    Type:       EmptyDir (a temporary directory that shares a pod's lifetime)
    Medium:·····
    SizeLimit:  <unset>
  cfg:
    Type:      ConfigMap (a volume populated by a ConfigMap)
    Name:      cfg
    Optional:  false
  host:
    Type:          HostPath (bare host directory volume)
    Path:          /var/log
    HostPathType:  Directory
QoS Class:         Burstable
Node-Selectors:    disk=ssd
Tolerations:       <none>
Events:            <none>
""")

DEPLOYMENT = G("""\
Name:                   nginx-deployment
Namespace:              default
CreationTimestamp:      Mon, 01 Mar 2021 10:00:00 +0000
Labels:                 app=nginx
Annotations:            deployment.kubernetes.io/revision: 1
Selector:               app=nginx
Replicas:               3 desired | 3 updated | 3 total | 3 available | 0 unavailable
StrategyType:           RollingUpdate
MinReadySeconds:        0
RollingUpdateStrategy:  25% max unavailable, 25% max surge
Pod Template:
  Labels:  app=nginx
  Containers:
   nginx:
    Image:        nginx:1.14.2
    Port:         80/TCP
    Host Port:    0/TCP
    Environment:  <none>
    Mounts:       <none>
  Volumes:        <none>
Conditions:
  Type           Status  Reason
  ----           ------  ------
  Available      True    MinimumReplicasAvailable
  Progressing    True    NewReplicaSetAvailable
OldReplicaSets:  <none>
NewReplicaSet:   nginx-deployment-66b6c48dd5 (3/3 replicas created)
Events:
  Type    Reason             Age   From                   Message
  ----    ------             ----  ----                   -------
  Normal  ScalingReplicaSet  10m   deployment-controller  Scaled up replica set nginx-deployment-66b6c48dd5 to 3
""")

REPLICA_SET = G("""\
Name:           nginx-deployment-66b6c48dd5
Namespace:      default
Selector:       app=nginx,pod-template-hash=66b6c48dd5
Labels:         app=nginx
                pod-template-hash=66b6c48dd5
Annotations:    deployment.kubernetes.io/desired-replicas: 3
                deployment.kubernetes.io/max-replicas: 4
                deployment.kubernetes.io/revision: 1
Controlled By:  Deployment/nginx-deployment
Replicas:       3 current / 3 desired
Pods Status:    2 Running / 1 Waiting / 0 Succeeded / 0 Failed
Pod Template:
  Labels:  app=nginx
           pod-template-hash=66b6c48dd5
  Containers:
   nginx:
    Image:        nginx:1.14.2
    Port:         80/TCP
    Host Port:    0/TCP
    Environment:  <none>
    Mounts:       <none>
  Volumes:        <none>
Events:           <none>
""")

SERVICE = G("""\
Name:                     my-service
Namespace:                default
Labels:                   app=nginx
Annotations:              <none>
Selector:                 app=nginx
Type:                     NodePort
IP Family Policy:         SingleStack
IP Families:              IPv4
IP:                       10.96.12.34
IPs:                      10.96.12.34
Port:                     <unset>  80/TCP
TargetPort:               9376/TCP
NodePort:                 <unset>  30080/TCP
Endpoints:                10.244.0.5:9376,10.244.0.6:9376,10.244.1.3:9376 + 1 more...
Session Affinity:         None
External Traffic Policy:  Cluster
Events:                   <none>
""")

NODE = G("""\
Name:               n1
Roles:              worker
Labels:             kubernetes.io/hostname=n1
                    node-role.kubernetes.io/worker=
Annotations:        <none>
CreationTimestamp:  Mon, 01 Mar 2021 09:00:00 +0000
Taints:             <none>
Unschedulable:      false
Lease:
  HolderIdentity:  n1
  AcquireTime:     <unset>
  RenewTime:       Mon, 01 Mar 2021 10:10:00 +0000
Conditions:
  Type    Status  LastHeartbeatTime                 LastTransitionTime                Reason         Message
  ----    ------  -----------------                 ------------------                ------         -------
  Ready   True    Mon, 01 Mar 2021 10:10:00 +0000   Mon, 01 Mar 2021 09:00:10 +0000   KubeletReady   kubelet is posting ready status
Addresses:
  InternalIP:  127.0.0.2
  Hostname:    n1
Capacity:
  cpu:     2
  memory:  4Gi
  pods:    110
Allocatable:
  cpu:     2
  memory:  4Gi
  pods:    110
System Info:
  Machine ID:·················
  System UUID:················
  Boot ID:····················
  Kernel Version:             6.1.0
  OS Image:                   Debian GNU/Linux 12
  Operating System:           linux
  Architecture:               amd64
  Container Runtime Version:  skiff://0.1.0
  Kubelet Version:            v0.1.0
  Kube-Proxy Version:         v0.1.0
PodCIDR:                      10.244.1.0/24
PodCIDRs:                     10.244.1.0/24
Non-terminated Pods:          (1 in total)
  Namespace                   Name     CPU Requests  CPU Limits  Memory Requests  Memory Limits  AGE
  ---------                   ----     ------------  ----------  ---------------  -------------  ---
  default                     web-1    100m (5%)     500m (25%)  128Mi (3%)       256Mi (6%)     10m
Allocated resources:
  (Total limits may be over 100 percent, i.e., overcommitted.)
  Resource           Requests    Limits
  --------           --------    ------
  cpu                100m (5%)   500m (25%)
  memory             128Mi (3%)  256Mi (6%)
  ephemeral-storage  0 (0%)      0 (0%)
Events:              <none>
""")

NAMESPACE = G("""\
Name:         default
Labels:       <none>
Annotations:  <none>
Status:       Active
""")

GENERIC = G("""\
Name:         web
Namespace:    default
Labels:       <none>
Annotations:  <none>
API Version:  networking.k8s.io/v1
Kind:         Ingress
Metadata:
  Creation Timestamp:  2021-03-01T10:00:00Z
  Generation:          1
  Resource Version:    42
  UID:                 i1
Spec:
  Rules:
    Host:  web.example
    Http:
      Paths:
        Backend:
          Service:
            Name:  web
            Port:
              Number:  80
        Path:          /
        Path Type:     Prefix
Events:                <none>
""")


# -- the describers against the goldens -----------------------------------------------------------
def deployment_event():
    return event("Deployment", "nginx-deployment", "d1", type_="Normal", reason="ScalingReplicaSet",
                 message="Scaled up replica set nginx-deployment-66b6c48dd5 to 3", component="deployment-controller",
                 first="2021-03-01T10:00:00Z", last="2021-03-01T10:00:00Z", count=1)


@pytest.mark.parametrize("render,golden", [
    pytest.param(lambda: describe_pod(pod(), pod_events(), CLOCK), POD, id="pod-running-with-events"),
    pytest.param(lambda: describe_pod(crashing_pod(), [], CLOCK_PLUS1), CRASHING_POD, id="pod-terminating-crashloop"),
    pytest.param(lambda: d.describe_deployment(deployment(), [replica_set()], [deployment_event()], CLOCK),
                 DEPLOYMENT, id="deployment"),
    pytest.param(lambda: d.describe_replica_set(replica_set(), replica_set_pods(), [], CLOCK), REPLICA_SET,
                 id="replicaset"),
    pytest.param(lambda: d.describe_service(service(), endpoints(), [], CLOCK), SERVICE, id="service"),
    pytest.param(lambda: d.describe_node(node(), node_pods(), lease(), "", [], CLOCK), NODE, id="node"),
    pytest.param(lambda: d.describe_namespace(namespace(), CLOCK), NAMESPACE, id="namespace"),
    pytest.param(lambda: d.describe_generic(d.object_data("networking.k8s.io/v1", "Ingress", ingress()), [], CLOCK),
                 GENERIC, id="generic-ingress"),
])
def test_describe_matches_kubectl(render, golden):
    """Each describer prints exactly kubectl 1.20's text for the same object."""
    assert render() == golden


def test_events_section_none_joins_the_last_block_and_is_left_out_when_not_asked():
    """No events: `Events:  <none>` aligned with the lines above it; events=None (--show-events=false): no section."""
    with_none = d.describe_deployment(deployment(), [replica_set()], [], CLOCK)
    assert with_none.endswith("OldReplicaSets:  <none>\nNewReplicaSet:   nginx-deployment-66b6c48dd5 (3/3 replicas "
                              "created)\nEvents:          <none>\n")
    assert "Events" not in d.describe_deployment(deployment(), [replica_set()], None, CLOCK)


def test_deployment_without_replica_set_access_leaves_the_lines_out():
    """replica_sets=None (they could not be listed): no OldReplicaSets/NewReplicaSet lines, as kubectl."""
    text = d.describe_deployment(deployment(), None, None, CLOCK)
    assert "OldReplicaSets" not in text and "NewReplicaSet:" not in text


def test_new_and_old_replica_sets():
    """The new replica set is the oldest one owned with the deployment's template; old ones shown are owned ones still scaled up."""
    current = replica_set()
    older = replica_set("nginx-deployment-5d59d67564", image="nginx:1.13", replicas=1,
                        created="2021-02-01T10:00:00Z", uid="rs0")
    drained = replica_set("nginx-deployment-7f5d5b8c9d", image="nginx:1.12", replicas=0,
                          created="2021-01-01T10:00:00Z", uid="rs-1")
    foreign = replica_set("nginx-deployment-aaaaaaaaaa", owner="other", uid="rs9")
    new, old = d.new_and_old(deployment(), [current, older, drained, foreign])
    assert new is current and old == [older]
    assert d.replica_sets_line(old) == "nginx-deployment-5d59d67564 (1/1 replicas created)"
    assert d.new_and_old(deployment(), [older]) == (None, [older])
    assert d.replica_sets_line([]) == "<none>"


# -- events ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("fields,age", [
    pytest.param({"count": 1, "firstTimestamp": "2021-03-01T10:09:52Z"}, "10s", id="once"),
    pytest.param({"count": 4, "firstTimestamp": "2021-03-01T10:00:02Z", "lastTimestamp": "2021-03-01T10:07:00Z"},
                 "3m2s (x4 over 10m)", id="repeated"),
    pytest.param({"eventTime": "2021-03-01T10:09:02.000000Z"}, "60s", id="event-time-only"),
    pytest.param({"eventTime": "2021-03-01T09:00:02.000000Z", "series": {"count": 3,
                  "lastObservedTime": "2021-03-01T10:09:02.000000Z"}}, "60s (x3 over 70m)", id="series"),
    pytest.param({}, "<unknown>", id="no-time"),
])
def test_event_age(fields, age):
    """Ages read as kubectl's: one age, or `last (xN over first)` for a repeated event."""
    assert d.event_age(load(core_pb2.Event, yaml.safe_dump(fields)), CLOCK) == age


def test_events_are_sorted_oldest_first_and_messages_trimmed():
    """The events table lists events by last time seen, message whitespace trimmed."""
    late = event("Pod", "p", "u", type_="Normal", reason="Late", message="  two  ", component="c",
                 first="2021-03-01T10:09:00Z", last="2021-03-01T10:09:00Z", count=1)
    early = event("Pod", "p", "u", type_="Normal", reason="Early", message="one", component="c",
                  first="2021-03-01T10:08:00Z", last="2021-03-01T10:08:00Z", count=1)
    w = d.Writer()
    d.describe_events(w, [late, early], CLOCK)
    assert w.text() == G("""\
Events:
  Type    Reason  Age   From  Message
  ----    ------  ----  ----  -------
  Normal  Early   2m2s  c     one
  Normal  Late    62s   c     two
""")


def test_events_about_an_object_by_uid_or_without_one():
    """An event is about the object if it names the object's uid or no uid; a node's may name the node as uid."""
    p = pod()
    mine = event("Pod", p.metadata.name, "u1", type_="Normal", reason="A", message="m", component="c",
                 first="", last="", count=1)
    no_uid = event("Pod", p.metadata.name, "", type_="Normal", reason="B", message="m", component="c",
                   first="", last="", count=1)
    earlier_pod = event("Pod", p.metadata.name, "u0", type_="Normal", reason="C", message="m", component="c",
                        first="", last="", count=1)
    assert about([mine, no_uid, earlier_pod], p) == [mine, no_uid]
    n = node()
    by_name = event("Node", "n1", "n1", type_="Normal", reason="D", message="m", component="c", first="", last="",
                    count=1, namespace="default")
    assert about([by_name], n, node=True) == [by_name] and about([by_name], n) == []


# -- pieces ---------------------------------------------------------------------------------------
def test_tabwriter_aligns_column_blocks_like_go():
    """A column's width comes from consecutive lines with a cell in it; a line without tabs ends the block."""
    text = "Name:\tweb\nLabels:\ta=b\n\tc=d\nIPs:\n  IP:\t10.0.0.1\nControlled By:\tRS/x\n"
    assert tabwrite(text) == ("Name:    web\nLabels:  a=b\n         c=d\nIPs:\n  IP:           10.0.0.1\n"
                              "Controlled By:  RS/x\n")
    assert tabwrite("a\tbb\tc\nccc\td\n", minwidth=10, padding=3) == "a         bb        c\nccc       d\n"
    assert tabwrite("") == "" and tabwrite("x\ty") == "xy"


@pytest.mark.parametrize("probe,text", [
    pytest.param({"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"}, "timeoutSeconds": 1,
                  "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
                 "http-get http://:8080/healthz delay=0s timeout=1s period=10s #success=1 #failure=3", id="http"),
    pytest.param({"httpGet": {"path": "/", "port": "web", "host": "10.0.0.1", "scheme": "HTTPS"}},
                 "http-get https://10.0.0.1:web/ delay=0s timeout=0s period=0s #success=0 #failure=0", id="https-named"),
    pytest.param({"exec": {"command": ["cat", "/tmp/healthy"]}, "initialDelaySeconds": 5},
                 "exec [cat /tmp/healthy] delay=5s timeout=0s period=0s #success=0 #failure=0", id="exec"),
    pytest.param({"tcpSocket": {"port": 6379}}, "tcp-socket :6379 delay=0s timeout=0s period=0s #success=0 #failure=0",
                 id="tcp"),
])
def test_probe_descriptions(probe, text):
    """Probes read as kubectl's DescribeProbe."""
    assert describe_probe(load(core_pb2.Probe, yaml.safe_dump(probe))) == text


@pytest.mark.parametrize("key,label", [
    ("apiVersion", "API Version"), ("resourceVersion", "Resource Version"), ("uid", "UID"), ("podIP", "Pod IP"),
    ("HTMLParser", "HTML Parser"), ("app.kubernetes.io/name", "app.kubernetes.io/name"), ("spec", "Spec"),
])
def test_smart_labels(key, label):
    """The generic describer turns keys into words as kubectl's smartLabelFor does."""
    assert d.smart_label(key) == label


def test_times_are_rfc1123z_in_the_local_zone():
    """Times print as Go's RFC1123Z in the clock's zone; a time never set prints as Go's zero time."""
    assert CLOCK_PLUS1.rfc1123z("2021-12-31T23:30:00Z") == "Sat, 01 Jan 2022 00:30:00 +0100"
    assert d.Clock(0, timezone(-timedelta(hours=5, minutes=30))).rfc1123z("2021-03-01T10:00:00Z") == \
        "Mon, 01 Mar 2021 04:30:00 -0530"
    assert CLOCK.rfc1123z("") == "Mon, 01 Jan 0001 00:00:00 +0000"


def test_labels_and_annotations_multiline():
    """Long or multi-line annotation values go on lines of their own; last-applied is never shown."""
    w = d.Writer()
    d.annotations_multiline(w, "Annotations", {"a": "x" * 150, "b": "one\ntwo\n", d.LAST_APPLIED: "{}", "c": "short"})
    assert w.text() == ("Annotations:  a:\n"
                        f"                {'x' * 138}...\n"
                        "              b:\n                one\n                two\n"
                        "              c: short\n")
    w = d.Writer()
    d.labels_multiline(w, "Labels", {})
    assert w.text() == "Labels:  <none>\n"


@pytest.mark.parametrize("text,shown", [
    ("500m", "500m"), ("1.5", "1500m"), ("2000m", "2"), ("1000", "1k"), ("1024", "1024"), ("128Mi", "128Mi"),
    ("1024Mi", "1Gi"), ("1536Mi", "1536Mi"), ("0.1", "100m"), ("1e3", "1k"), ("0", "0"),
])
def test_quantities_print_canonically(text, shown):
    """Quantities print as Kubernetes' canonical form: the largest suffix of their family that keeps a whole number."""
    assert str(quantity.parse(text)) == shown


def test_quantity_sums_keep_the_first_terms_family():
    """A sum prints in its first term's suffix family."""
    assert str(quantity.parse("100m") + quantity.parse("1")) == "1100m"
    assert str(quantity.parse("128Mi") + quantity.parse("64Mi")) == "192Mi"
