"""Issue 5's acceptance: Deployments that roll, ReplicaSets that heal, nodes that fail over, on a whole
cluster of real processes (`cluster` fixture, tests/harness/cluster.py: 3 store members, 2 apiservers,
2 leader-elected schedulers and controller managers, a hollow kubelet with 3 nodes).

The user's actions go through the CLI (`skiff apply`, `set image --record`, `rollout status|history|undo`,
`scale`, `get`, `describe`), as a user would type them; the test observes through the API (the typed
client and an informer).

The rollout bounds are checked from a watch of every pod of the namespace (`PodWatch`, started before
the change), on the state after each event, in the order the apiserver committed them:
    active pods <= replicas + maxSurge,  available pods >= replicas - maxUnavailable,
where *active* means not terminating (no deletionTimestamp) and not Succeeded/Failed, and *available*
means active and Ready. The Deployments here keep minReadySeconds at 0, Kubernetes' default, so that
available is exactly "Ready and active" and can be read off each committed state: with
minReadySeconds > 0 a pod becomes available by time passing, between events, which no sequence of
watched states pins down exactly (the unit tests' rollout simulation and properties cover it:
tests/unit/controller/test_rollout_properties.py). For 5 replicas with the default 25%/25%:
maxSurge = ceil(1.25) = 2, maxUnavailable = floor(1.25) = 1, so at most 7 pods and at least 4
available; for 6: 2 and 1 (at most 8, at least 5).

Pod creations are counted as distinct uids first seen after a mark.
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

import pytest

from client.informer import DeletedFinalStateUnknown
from controller.replicaset.reconcile import is_active, is_ready
from skiffpb.k8s.core.v1 import core_pb2
from tests.harness import wait_for
from tests.harness.cluster import CONTROLLER_LEASE, Cluster

pytestmark = pytest.mark.timeout(120)

NS = "default"
REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"


def deployment(replicas: int = 5, image: str = "web:v1", cpu: str = "100m") -> str:
    """A Deployment as a user writes it: RollingUpdate with the default 25%/25%, minReadySeconds 0."""
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: web
        image: "{image}"
        resources:
          requests: {{cpu: {cpu}, memory: 64Mi}}
"""


# -- the pod watch ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Counts:
    active: int
    available: int
    terminating: int


class PodWatch:
    """Every pod event of the namespace in commit order (an informer on the cluster client's loop);
    the state after each one can be replayed. Handlers run on the client's thread: they only record."""

    def __init__(self, cluster: Cluster, namespace: str = NS):
        self._lock = threading.Lock()
        self.events: list[tuple[float, str, core_pb2.Pod]] = []     # (monotonic time, type, pod)
        cluster.api.informer("pods", namespace, on_add=lambda p: self._record("add", p),
                             on_update=lambda old, new: self._record("update", new),
                             on_delete=lambda p: self._record("delete", p))

    def _record(self, typ: str, pod) -> None:
        if isinstance(pod, DeletedFinalStateUnknown):
            pod = pod.obj
        with self._lock:
            self.events.append((time.monotonic(), typ, pod))

    def mark(self) -> int:
        with self._lock:
            return len(self.events)

    def _snapshot(self) -> list[tuple[float, str, core_pb2.Pod]]:
        with self._lock:
            return list(self.events)

    @staticmethod
    def _apply(pods: dict[str, core_pb2.Pod], typ: str, pod: core_pb2.Pod) -> None:
        if typ == "delete":
            pods.pop(pod.metadata.name, None)
        else:
            pods[pod.metadata.name] = pod

    def states(self, start: int = 0, end: int | None = None):
        """(index, (type, name), pods by name) after each event in [start, end)."""
        events = self._snapshot()
        end = len(events) if end is None else end
        pods: dict[str, core_pb2.Pod] = {}
        for i, (_, typ, pod) in enumerate(events[:end]):
            self._apply(pods, typ, pod)
            if i >= start:
                yield i, (typ, pod.metadata.name), pods

    def current(self) -> dict[str, core_pb2.Pod]:
        """The pods by name after the last event (the objects are shared: read only)."""
        pods: dict[str, core_pb2.Pod] = {}
        for _, typ, pod in self._snapshot():
            self._apply(pods, typ, pod)
        return pods

    @staticmethod
    def counts(pods: dict[str, core_pb2.Pod]) -> Counts:
        active = [p for p in pods.values() if is_active(p)]
        return Counts(len(active), sum(1 for p in active if is_ready(p)), len(pods) - len(active))

    def check_rollout_bounds(self, start: int, end: int, replicas: int, surge: int,
                             unavailable: int) -> tuple[int, int]:
        """Asserts the rollout bounds after every event in [start, end); (peak active, lowest available)."""
        peak, low, bad = 0, replicas, []
        for i, ev, pods in self.states(start, end):
            c = self.counts(pods)
            peak, low = max(peak, c.active), min(low, c.available)
            if c.active > replicas + surge or c.available < replicas - unavailable:
                bad.append(f"#{i} {ev}: {c}")
        assert not bad, (f"rollout bounds (<= {replicas + surge} pods, >= {replicas - unavailable} available) "
                         f"broken after {len(bad)} events: {bad[:5]}")
        return peak, low

    def first_seen(self, names) -> float:
        """The monotonic time the first of `names` was seen."""
        return min(t for t, _, p in self._snapshot() if p.metadata.name in names)

    def created(self, start: int, end: int | None = None) -> dict[str, str]:
        """uid -> name of every pod first seen in [start, end)."""
        events = self._snapshot()
        before = {p.metadata.uid for _, _, p in events[:start]}
        end = len(events) if end is None else end
        return {p.metadata.uid: p.metadata.name for _, _, p in events[start:end] if p.metadata.uid not in before}


def image_of(pod: core_pb2.Pod) -> str:
    return pod.spec.containers[0].image


def settled(watch: PodWatch, image: str, replicas: int):
    """The pods once exactly `replicas` run `image`, all Ready, and no other pod is left (none terminating)."""
    pods = watch.current()
    ok = (len(pods) == replicas and all(is_active(p) and is_ready(p) and image_of(p) == image
                                        for p in pods.values()))
    return pods if ok else None


def settle(watch: PodWatch, image: str, replicas: int, timeout: float = 30.0) -> dict[str, core_pb2.Pod]:
    return wait_for(lambda: settled(watch, image, replicas), timeout,
                    f"exactly {replicas} Ready pods of {image} and no other pod")


# -- reading the CLI's tables ---------------------------------------------------------------------------

def table(text: str) -> list[dict[str, str]]:
    """Rows of a kubectl-style table by column name, cut at the header's column offsets (so an empty
    cell stays empty). Columns are separated by at least two spaces; a name may hold one."""
    lines = [line for line in text.splitlines() if line.strip()]
    header = lines[0]
    starts = [m.start() for m in re.finditer(r"(?:(?<=\s{2})|^)\S", header)]
    names = [header[a:b].strip() for a, b in zip(starts, starts[1:] + [None])]
    rows = []
    for line in lines[1:]:
        cells = [line[a:b].strip() if b is not None else line[a:].strip()
                 for a, b in zip(starts, starts[1:] + [None])]
        rows.append(dict(zip(names, cells)))
    return rows


def header_of(text: str) -> list[str]:
    return re.split(r"\s{2,}", text.splitlines()[0].strip())


def rollout_status_ok(cluster: Cluster, timeout: str = "60s") -> str:
    r = cluster.skiff("rollout", "status", "deployment/web", f"--timeout={timeout}", timeout=90)
    assert r.returncode == 0, f"rollout status exited {r.returncode}:\n{r.stdout}{r.stderr}"
    assert r.stdout.splitlines()[-1] == 'deployment "web" successfully rolled out', r.stdout
    return r.stdout


def replica_sets(cluster: Cluster) -> dict[str, object]:
    """The ReplicaSets of the namespace by their pod template's image."""
    return {rs.spec.template.spec.containers[0].image: rs for rs in cluster.api.list("replicasets", NS)}


def condition(obj, ctype: str):
    return next((c for c in obj.status.conditions if c.type == ctype), None)


# -- (a) the seed scenario --------------------------------------------------------------------------------

def test_seed_scenario_rollout_history_undo_and_scale(cluster):
    """5 replicas of web:v1 roll to v2 within maxSurge/maxUnavailable at every pod event; the history shows
    both recorded revisions; undo to revision 1 reuses the first ReplicaSet; scale to 10, then 3."""
    watch = PodWatch(cluster)
    assert cluster.skiff_ok("apply", "-f", "-", "--record", stdin=deployment(5, "web:v1")) == \
        "deployment.apps/web created\n"
    rollout_status_ok(cluster)
    settle(watch, "web:v1", 5)
    [rs1] = cluster.api.list("replicasets", NS)
    assert rs1.metadata.annotations[REVISION] == "1"
    apply_cause = f"skiff apply --server={','.join(cluster.endpoints)} --filename=- --record=true"
    assert rs1.metadata.annotations[CHANGE_CAUSE] == apply_cause

    # v1 -> v2, recorded
    start = watch.mark()
    assert cluster.skiff_ok("set", "image", "deployment/web", "web=web:v2", "--record") == \
        "deployment.apps/web image updated\n"
    rollout_status_ok(cluster)
    settle(watch, "web:v2", 5)
    end = watch.mark()
    peak, low = watch.check_rollout_bounds(start, end, replicas=5, surge=2, unavailable=1)
    assert peak > 5, f"the rollout never surged (peak {peak} pods)"
    created = watch.created(start, end)
    assert len(created) == 5 and len(set(created.values())) == 5, f"v2 pods created: {sorted(created.values())}"
    print(f"\nv1 -> v2: peak {peak} active pods (bound 7), lowest {low} available (bound 4), "
          f"{end - start} pod events")

    set_cause = f"skiff set image deployment/web web=web:v2 --server={','.join(cluster.endpoints)} --record=true"
    assert cluster.skiff_ok("rollout", "history", "deployment/web") == (
        "deployment.apps/web \n"
        "REVISION  CHANGE-CAUSE\n"
        f"1         {apply_cause}\n"
        f"2         {set_cause}\n"
        "\n")
    rss = replica_sets(cluster)
    assert sorted(rss) == ["web:v1", "web:v2"]
    assert (rss["web:v1"].spec.replicas, rss["web:v2"].spec.replicas) == (0, 5)
    assert rss["web:v2"].metadata.annotations[CHANGE_CAUSE] == set_cause

    # undo to revision 1: v1's template again, run by v1's ReplicaSet (same name and uid) as revision 3
    start = watch.mark()
    assert cluster.skiff_ok("rollout", "undo", "deployment/web", "--to-revision=1") == \
        "deployment.apps/web rolled back\n"
    rollout_status_ok(cluster)
    pods = settle(watch, "web:v1", 5)
    end = watch.mark()
    watch.check_rollout_bounds(start, end, replicas=5, surge=2, unavailable=1)
    assert len(watch.created(start, end)) == 5
    rss = replica_sets(cluster)
    assert sorted(rss) == ["web:v1", "web:v2"], "the undo made a new ReplicaSet instead of reusing revision 1's"
    v1 = rss["web:v1"]
    assert (v1.metadata.name, v1.metadata.uid) == (rs1.metadata.name, rs1.metadata.uid)
    assert v1.metadata.annotations[REVISION] == "3" and v1.spec.replicas == 5
    assert all(p.metadata.owner_references[0].uid == rs1.metadata.uid for p in pods.values())
    history = cluster.skiff_ok("rollout", "history", "deployment/web").splitlines()
    assert history[2:] == [f"2         {set_cause}", f"3         {apply_cause}", ""], history

    # scale to 10, then 3
    assert cluster.skiff_ok("scale", "deployment", "web", "--replicas=10") == "deployment.apps/web scaled\n"
    settle(watch, "web:v1", 10)
    rollout_status_ok(cluster)
    assert table(cluster.skiff_ok("get", "deploy", "web"))[0]["READY"] == "10/10"
    assert cluster.skiff_ok("scale", "deployment", "web", "--replicas=3") == "deployment.apps/web scaled\n"
    settle(watch, "web:v1", 3)
    rollout_status_ok(cluster)
    row = table(cluster.skiff_ok("get", "deploy", "web"))[0]
    assert (row["READY"], row["UP-TO-DATE"], row["AVAILABLE"]) == ("3/3", "3", "3")
    assert replica_sets(cluster)["web:v1"].spec.replicas == 3


# -- (b) the leading controller manager killed mid-rollout -----------------------------------------------

@pytest.mark.parametrize("cluster", [{"kubelet_args": {"ready_delay": 1.0}}], indirect=True)
def test_standby_controller_manager_finishes_a_rollout_when_the_leader_is_killed(cluster):
    """The controller manager named by the Lease is killed with SIGKILL half-way through v1 -> v2 of 6 replicas;
    the standby takes the Lease and finishes the rollout within the bounds, and creates no pod twice."""
    watch = PodWatch(cluster)
    cluster.skiff_ok("apply", "-f", "-", stdin=deployment(6, "web:v1"))
    rollout_status_ok(cluster)
    settle(watch, "web:v1", 6)

    leader = cluster.controller_leader()
    assert leader is not None and leader.running()
    [standby] = [m for m in cluster.controller_managers if m is not leader]
    assert not standby.running(), "the standby ran controllers while the other manager led"

    start = watch.mark()
    cluster.skiff_ok("set", "image", "deployment/web", "web=web:v2")

    def mid_rollout():
        rss = replica_sets(cluster)
        new, old = rss.get("web:v2"), rss.get("web:v1")
        return (new is not None and old is not None and new.status.ready_replicas >= 1
                and 0 < old.spec.replicas and new.spec.replicas < 6)
    wait_for(mid_rollout, 30, "the rollout to be half-way (new pods Ready, old ReplicaSet not scaled to 0)",
             interval=0.02)
    leader.kill9()
    killed = time.monotonic()

    wait_for(standby.running, 30, f"{standby.name} to take the Lease and run its controllers")
    took_over = time.monotonic() - killed
    assert cluster.lease_holder(CONTROLLER_LEASE) == standby.name
    rollout_status_ok(cluster)
    settle(watch, "web:v2", 6)
    finished = time.monotonic() - killed
    end = watch.mark()

    watch.check_rollout_bounds(start, end, replicas=6, surge=2, unavailable=1)
    created = watch.created(start, end)
    assert len(created) == 6, f"{len(created)} pods created for 6 of v2: {sorted(created.values())}"
    assert len(set(created.values())) == 6
    # Finishing needs at least one more step (the old ReplicaSet's last pods go only once new ones are
    # Ready, a second after they are bound): the standby must have taken it.
    assert re.search(r"Scaled down replica set web-\w+ to 0", standby.log()), \
        f"{standby.name} scaled nothing: the kill was not mid-rollout"
    d = cluster.api.get("deployments", NS, "web")
    assert d.metadata.annotations[REVISION] == "2"
    print(f"\ncontroller manager {leader.name} killed mid-rollout: {standby.name} ran its controllers "
          f"{took_over:.1f}s later (lease {cluster.controller_managers[0].lease[0]:g}s), rollout finished "
          f"{finished:.1f}s after the kill; 6 pods created for 6 replicas")


# -- (c) a node stops heartbeating -------------------------------------------------------------------------

def test_pods_of_a_silent_node_are_recreated_elsewhere(cluster):
    """One hollow node stops heartbeating: it turns Ready=Unknown with the unreachable taints, and its pods are
    recreated on the other nodes within grace period + eviction timeout + 5 s."""
    watch = PodWatch(cluster)
    cluster.skiff_ok("apply", "-f", "-", stdin=deployment(6, "web:v1"))
    rollout_status_ok(cluster)
    pods = settle(watch, "web:v1", 6)
    victim = sorted(p.spec.node_name for p in pods.values())[0]
    on_victim = {p.metadata.name for p in pods.values() if p.spec.node_name == victim}
    assert on_victim

    cluster.kubelet.stop_heartbeat(victim)
    stopped = time.monotonic()
    seen: dict[str, float] = {}

    def recovered():
        now = time.monotonic()
        node = cluster.api.get("nodes", "", victim)
        if "unknown" not in seen and condition(node, "Ready").status == "Unknown":
            seen["unknown"] = now
        current = watch.current()
        if "evicted" not in seen and all(current[n].metadata.HasField("deletion_timestamp")
                                         for n in on_victim if n in current):
            seen["evicted"] = now
        live = [p for p in current.values()
                if is_active(p) and is_ready(p) and p.spec.node_name and p.spec.node_name != victim]
        return len(live) == 6 and "unknown" in seen
    budget = cluster.grace + cluster.eviction + 5
    wait_for(recovered, budget + 10, f"6 Ready pods on nodes other than {victim}", interval=0.1)
    took = time.monotonic() - stopped
    print(f"\n{victim}'s heartbeat stopped: Ready=Unknown after {seen['unknown'] - stopped:.1f}s, its "
          f"{len(on_victim)} pods deleted by {seen.get('evicted', float('nan')) - stopped:.1f}s, all 6 replicas "
          f"Ready on live nodes {took:.1f}s after the stop (grace {cluster.grace:g}s + eviction "
          f"{cluster.eviction:g}s + 5s = {budget:g}s allowed)")
    assert took <= budget, f"recreation took {took:.1f}s, over {budget:g}s"

    node = cluster.api.get("nodes", "", victim)
    ready = condition(node, "Ready")
    assert (ready.status, ready.reason, ready.message) == ("Unknown", "NodeStatusUnknown",
                                                           "Kubelet stopped posting node status.")
    assert {(t.key, t.effect) for t in node.spec.taints} == {("node.kubernetes.io/unreachable", "NoSchedule"),
                                                             ("node.kubernetes.io/unreachable", "NoExecute")}
    nodes = {row["NAME"]: row for row in table(cluster.skiff_ok("get", "nodes"))}
    assert nodes[victim]["STATUS"] == "NotReady", nodes     # kubectl shows Unknown as NotReady
    assert all(row["STATUS"] == "Ready" for name, row in nodes.items() if name != victim), nodes
    described = cluster.skiff_ok("describe", "node", victim)
    assert re.search(r"^Taints:\s+node\.kubernetes\.io/unreachable:NoExecute\n\s+"
                     r"node\.kubernetes\.io/unreachable:NoSchedule$", described, re.M), described
    assert re.search(r"^\s+Ready\s+Unknown\s.*NodeStatusUnknown\s+Kubelet stopped posting node status\.$",
                     described, re.M), described

    # The silent node's pods stay Terminating (no kubelet confirms their end, as in Kubernetes); the
    # Deployment counts only the new ones.
    rows = {row["NAME"]: row for row in table(cluster.skiff_ok("get", "pods", "-o", "wide"))}
    for name in on_victim:
        assert (rows[name]["STATUS"], rows[name]["NODE"]) == ("Terminating", victim), rows[name]
    assert sum(1 for row in rows.values() if row["STATUS"] == "Running" and row["NODE"] != victim) == 6
    row = table(cluster.skiff_ok("get", "deploy", "web"))[0]
    assert (row["READY"], row["UP-TO-DATE"], row["AVAILABLE"]) == ("6/6", "6", "6")

    # The node comes back: Ready again, its taints lifted, its kubelet finishes the pending deletions.
    cluster.kubelet.start_heartbeat(victim)

    def back():
        node = cluster.api.get("nodes", "", victim)
        return condition(node, "Ready").status == "True" and not node.spec.taints
    wait_for(back, 20, f"{victim} to be Ready again without taints")
    wait_for(lambda: not on_victim & set(watch.current()), 20, f"{victim}'s terminated pods to be gone")
    settle(watch, "web:v1", 6)
    events = [e for e in cluster.api.list("events") if (e.involved_object.kind, e.involved_object.name) ==
              ("Node", victim)]
    assert {"NodeNotReady", "NodeReady"} <= {e.reason for e in events}, [(e.reason, e.message) for e in events]


# -- (d) resources run out ---------------------------------------------------------------------------------

@pytest.mark.parametrize("cluster", [{"kubelet_args": {"cpu": "1"}}], indirect=True)
def test_pods_that_do_not_fit_stay_pending_with_the_reason_until_a_node_is_added(cluster):
    """8 pods of 400m on 3 nodes of 1 cpu: 6 run, 2 stay Pending with PodScheduled=False, Unschedulable and
    Kubernetes' message, shown by `get events` and `describe pod`; a fourth node gets them Running promptly."""
    watch = PodWatch(cluster)
    cluster.skiff_ok("apply", "-f", "-", stdin=deployment(8, "web:v1", cpu="400m"))
    message = "0/3 nodes are available: 3 Insufficient cpu."

    def two_unschedulable():
        pods = watch.current()
        running = [p for p in pods.values() if p.spec.node_name and is_ready(p)]
        pending = [p for p in pods.values() if not p.spec.node_name and condition(p, "PodScheduled") is not None
                   and condition(p, "PodScheduled").status == "False"]
        return (len(pods), len(running), len(pending)) == (8, 6, 2) and pending
    pending = wait_for(two_unschedulable, 30, "6 pods Running and 2 Pending with PodScheduled=False")
    for p in pending:
        c = condition(p, "PodScheduled")
        assert (c.status, c.reason, c.message) == ("False", "Unschedulable", message)
        assert p.status.phase == "Pending"
    names = sorted(p.metadata.name for p in pending)

    rows = {row["NAME"]: row for row in table(cluster.skiff_ok("get", "pods", "-o", "wide"))}
    for name in names:
        assert (rows[name]["READY"], rows[name]["STATUS"], rows[name]["NODE"]) == ("0/1", "Pending", "<none>")
    row = table(cluster.skiff_ok("get", "deploy", "web"))[0]
    assert (row["READY"], row["UP-TO-DATE"], row["AVAILABLE"]) == ("6/8", "8", "6"), row

    def failed_scheduling_events():
        events = table(cluster.skiff_ok("get", "events"))
        return {e["OBJECT"] for e in events if (e["TYPE"], e["REASON"], e["MESSAGE"]) ==
                ("Warning", "FailedScheduling", message)} >= {f"pod/{n}" for n in names}
    wait_for(failed_scheduling_events, 20, f"`skiff get events` to list FailedScheduling for {names}")
    described = cluster.skiff_ok("describe", "pod", names[0])
    assert re.search(r"^Status:\s+Pending$", described, re.M), described
    assert re.search(r"^Conditions:\n\s+Type\s+Status\n\s+PodScheduled\s+False\s*$", described, re.M), described
    # Age: `5s`, or `3s (x2 over 5s)` once repeats were folded into the Event
    assert re.search(rf"^\s+Warning\s+FailedScheduling\s+\S+(?: \(x\d+ over \S+\))?\s+default-scheduler\s+"
                     rf"{re.escape(message)}$",
                     described, re.M), described

    # Retried when the cluster changes, not in a busy loop: each attempt is one FailedScheduling,
    # folded into one Event with a count (backoff 1 s, 2 s, 4 s, ... between attempts).
    pending_for = time.monotonic() - watch.first_seen(names)
    attempts = {e.involved_object.name: e.count for e in cluster.api.list("events", NS)
                if e.reason == "FailedScheduling"}
    assert all(1 <= attempts[n] <= 2 + pending_for for n in names), (attempts, pending_for)

    [added] = cluster.kubelet.add_nodes(1)
    t0 = time.monotonic()

    def all_running():
        pods = watch.current()
        return (len(pods) == 8 and all(is_active(p) and is_ready(p) for p in pods.values())
                and {pods[n].spec.node_name for n in names if n in pods} == {added} and pods)
    wait_for(all_running, 20, f"the 2 Pending pods to run on {added}")
    took = time.monotonic() - t0
    print(f"\n{added} added (registered): the 2 Pending pods were Running+Ready on it {took:.1f}s later; "
          f"while Pending ({pending_for:.1f}s) each was tried {sorted(attempts[n] for n in names)} times")
    assert took < 10, f"the Pending pods took {took:.1f}s to run on the new node"
    rollout_status_ok(cluster)
    row = table(cluster.skiff_ok("get", "deploy", "web"))[0]
    assert (row["READY"], row["AVAILABLE"]) == ("8/8", "8")


# -- (e) kubectl's columns -----------------------------------------------------------------------------------

def test_get_shows_kubectls_columns_with_the_real_values(cluster):
    """`skiff get deploy`, `get rs`, `get pods -o wide` and `get nodes` print kubectl's columns, with values that
    match the objects (5/5 ready, the ReplicaSet's counts, each pod's IP and node)."""
    watch = PodWatch(cluster)
    cluster.skiff_ok("apply", "-f", "-", stdin=deployment(5, "web:v1"))
    rollout_status_ok(cluster)
    pods = settle(watch, "web:v1", 5)
    [rs] = cluster.api.list("replicasets", NS)

    # one get per type: skiff does not take several (kubectl's `get deploy,rs,pods`)
    out = cluster.skiff_ok("get", "deploy")
    assert header_of(out) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    [row] = table(out)
    assert (row["NAME"], row["READY"], row["UP-TO-DATE"], row["AVAILABLE"]) == ("web", "5/5", "5", "5")
    assert re.fullmatch(r"\d+s", row["AGE"]), row

    out = cluster.skiff_ok("get", "deploy", "-o", "wide")
    assert header_of(out) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    [row] = table(out)
    assert (row["CONTAINERS"], row["IMAGES"], row["SELECTOR"]) == ("web", "web:v1", "app=web")

    out = cluster.skiff_ok("get", "rs")
    assert header_of(out) == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    [row] = table(out)
    assert (row["NAME"], row["DESIRED"], row["CURRENT"], row["READY"]) == (rs.metadata.name, "5", "5", "5")
    assert rs.metadata.name == f"web-{rs.metadata.labels['pod-template-hash']}"

    out = cluster.skiff_ok("get", "rs", "-o", "wide")
    [row] = table(out)
    assert (row["CONTAINERS"], row["IMAGES"], row["SELECTOR"]) == (
        "web", "web:v1", f"app=web,pod-template-hash={rs.metadata.labels['pod-template-hash']}")

    out = cluster.skiff_ok("get", "pods", "-o", "wide")
    assert header_of(out) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE",
                              "READINESS GATES"]
    rows = {row["NAME"]: row for row in table(out)}
    assert sorted(rows) == sorted(pods)
    for name, p in pods.items():
        row = rows[name]
        assert (row["READY"], row["STATUS"], row["RESTARTS"]) == ("1/1", "Running", "0"), row
        assert (row["IP"], row["NODE"]) == (p.status.pod_ip, p.spec.node_name), row
        assert (row["NOMINATED NODE"], row["READINESS GATES"]) == ("<none>", "<none>"), row
        assert name.startswith(rs.metadata.name + "-")
    assert len({row["NODE"] for row in rows.values()}) == 3, "5 pods of one owner not spread over the 3 nodes"

    out = cluster.skiff_ok("get", "pods")
    assert header_of(out) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]

    out = cluster.skiff_ok("get", "nodes")
    assert header_of(out) == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert {(r["NAME"], r["STATUS"], r["ROLES"]) for r in table(out)} == {
        (n, "Ready", "<none>") for n in cluster.kubelet.node_names()}
