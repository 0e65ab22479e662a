"""The controller manager (`python -m controller`) over a real control plane: Deployments that roll,
roll back, scale, pause and resume, and a leader killed mid-rollout.

The scheduler and the kubelet are other issues' work, so this test plays their part: `FakeKubelet`
(an informer and a work queue in the test's event loop) binds each new pod to a node (pods/binding),
marks it Running and Ready `ready_after` seconds later (status subresource), and completes graceful
deletions (a delete with grace period 0, as a kubelet does once containers stopped).

`PodHistory` records every pod event (an informer over all pods): the order the apiserver committed
them in. The rollout bounds are checked on the state after each event:
    active pods <= replicas + maxSurge,  available active pods >= replicas - maxUnavailable,
where active means not terminating (no deletionTimestamp) and not Succeeded/Failed. Kubernetes
states its guarantee for those pods: a terminating pod is on its way out (here it stays until the
fake kubelet completes its deletion) and is neither counted nor available. Pod creations are
counted as distinct uids seen.
"""
from __future__ import annotations

import asyncio
import itertools
import re
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from client.api import ApiClient
from client.errors import Conflict, NotFound
from client.informer import Informer
from client.workqueue import ShutDown, WorkQueue
from controller.deployment import annotations as ann
from controller.ownership import controller_of
from controller.replicaset.reconcile import is_active, is_ready
from client.times import format_time
from skiffpb.k8s.apps.v1 import apps_pb2
from skiffpb.k8s.core.v1 import core_pb2
from tests.harness import Proc

pytestmark = pytest.mark.timeout(240)

NS = "default"
LD, RD, RP = "3s", "2s", "0.5s"     # short leases: a standby takes over within ~4 s of the kill
_METRICS = re.compile(r"controller-manager metrics on ([\d.]+):(\d+)")


# -- helpers ----------------------------------------------------------------------------------------------

async def eventually(predicate, timeout: float, what: str, interval: float = 0.05):
    """Awaits until `predicate()` (sync or async) is truthy, returning it; AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            value = predicate()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - "not yet"
            last = e
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}" + (f" (last error: {last!r})"
                                                                                          if last else ""))
        await asyncio.sleep(interval)


def copy(msg):
    new = type(msg)()
    new.CopyFrom(msg)
    return new


async def mutate(api: ApiClient, name: str, change) -> apps_pb2.Deployment:
    """Read-modify-write of the Deployment, retried on Conflict (the controller writes its status)."""
    while True:
        d = await api.get("deployments", NS, name)
        change(d)
        try:
            return await api.update(d)
        except Conflict:
            continue


def web(replicas: int, image: str, *, change_cause: str = "") -> apps_pb2.Deployment:
    """A Deployment of `replicas` pods, RollingUpdate 25%/25% (surge 2, unavailable 1 for 5 or 6)."""
    d = apps_pb2.Deployment(api_version="apps/v1", kind="Deployment")
    d.metadata.name, d.metadata.namespace = "web", NS
    if change_cause:
        d.metadata.annotations[ann.CHANGE_CAUSE] = change_cause
    d.spec.replicas = replicas
    d.spec.selector.match_labels["app"] = "web"
    d.spec.template.metadata.labels["app"] = "web"
    d.spec.template.spec.containers.add(name="app", image=image)
    d.spec.strategy.type = "RollingUpdate"
    d.spec.strategy.rolling_update.max_surge.str_val = "25%"
    d.spec.strategy.rolling_update.max_unavailable.str_val = "25%"
    return d


def set_image(image: str, change_cause: str = ""):
    """A change for `mutate`: the container's image, and the change-cause as `--record` writes it."""
    def change(d: apps_pb2.Deployment) -> None:
        d.spec.template.spec.containers[0].image = image
        if change_cause:
            d.metadata.annotations[ann.CHANGE_CAUSE] = change_cause
    return change


def image_of(obj) -> str:
    spec = obj.spec.template.spec if isinstance(obj, (apps_pb2.Deployment, apps_pb2.ReplicaSet)) else obj.spec
    return spec.containers[0].image


async def rollout_complete(api: ApiClient, image: str, replicas: int) -> apps_pb2.Deployment | None:
    """The Deployment once its status says all `replicas` run `image`, updated and available, old ones gone."""
    d = await api.get("deployments", NS, "web")
    s = d.status
    if (image_of(d) == image and d.spec.replicas == replicas and s.observed_generation == d.metadata.generation
            and s.replicas == s.updated_replicas == s.ready_replicas == s.available_replicas == replicas):
        return d
    return None


async def replica_sets(api: ApiClient) -> dict[str, apps_pb2.ReplicaSet]:
    """The Deployment's ReplicaSets by image."""
    items, _ = await api.list("replicasets", NS)
    return {image_of(rs): rs for rs in items}


# -- the fake kubelet ---------------------------------------------------------------------------------------

class FakeKubelet:
    """Binds, readies and finishes deleting pods, as the scheduler and kubelets would (module doc)."""

    def __init__(self, api: ApiClient, *, ready_after: float = 0.3, stop_after: float = 0.3, nodes: int = 3):
        self.api = api
        self.ready_after, self.stop_after = ready_after, stop_after
        self.nodes = itertools.cycle([f"node-{i + 1}" for i in range(nodes)])
        self.informer = Informer(api, "pods", NS)
        self.queue: WorkQueue[str] = WorkQueue()
        self.due: dict[tuple[str, str], float] = {}     # (uid, step) -> when to do it
        self.informer.add_handler(on_add=self._enqueue, on_update=lambda old, new: self._enqueue(new))

    def _enqueue(self, pod) -> None:
        self.queue.add(f"{pod.metadata.namespace}/{pod.metadata.name}")

    async def run(self) -> None:
        tasks = [asyncio.create_task(self.informer.run())] + [asyncio.create_task(self._worker()) for _ in range(4)]
        try:
            await asyncio.gather(*tasks)
        finally:
            self.queue.shutdown()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except ShutDown:
                return
            try:
                await self._sync(key)
            except (Conflict, NotFound):
                self.queue.add_after(key, 0.05)
            except Exception:  # noqa: BLE001 - retried; a test's fake must not die quietly either
                self.queue.add_after(key, 0.2)
            finally:
                self.queue.done(key)

    def _wait(self, key: str, uid: str, step: str, delay: float) -> bool:
        """True when `step` of pod `uid` is due; else requeues the key for then."""
        now = time.monotonic()
        due = self.due.setdefault((uid, step), now + delay)
        if now >= due:
            return True
        self.queue.add_after(key, due - now)
        return False

    async def _sync(self, key: str) -> None:
        pod = self.informer.get_by_key(key)
        if pod is None:
            return
        ns, name, uid = pod.metadata.namespace, pod.metadata.name, pod.metadata.uid
        if pod.metadata.HasField("deletion_timestamp"):
            if self._wait(key, uid, "stop", self.stop_after):
                await self.api.delete("pods", ns, name, grace_period_seconds=0, precondition_uid=uid)
        elif not pod.spec.node_name:
            await self.api.bind(ns, name, next(self.nodes), uid=uid)
        elif not is_ready(pod) and self._wait(key, uid, "ready", self.ready_after):
            new = copy(pod)
            now = format_time(time.time())
            new.status.phase = "Running"
            new.status.start_time = now
            for kind in ("Initialized", "ContainersReady", "Ready"):
                new.status.conditions.add(type=kind, status="True", last_transition_time=now)
            for c in pod.spec.containers:
                s = new.status.container_statuses.add(name=c.name, image=c.image, ready=True, started=True)
                s.state.running.started_at = now
            await self.api.update_status(new)


# -- the pod history ------------------------------------------------------------------------------------------

@dataclass
class Counts:
    active: int
    available: int
    terminating: int


class PodHistory:
    """Every pod event in commit order (an informer over the namespace), replayable as states."""

    def __init__(self, api: ApiClient):
        self.informer = Informer(api, "pods", NS)
        self.events: list[tuple[str, core_pb2.Pod]] = []
        self.informer.add_handler(on_add=lambda p: self.events.append(("add", p)),
                                  on_update=lambda old, new: self.events.append(("update", new)),
                                  on_delete=lambda p: self.events.append(("delete", getattr(p, "obj", p))))

    def mark(self) -> int:
        return len(self.events)

    def uids(self) -> set[str]:
        return {p.metadata.uid for _, p in self.events}

    def names(self) -> set[str]:
        return {p.metadata.name for _, p in self.events}

    def states(self, start: int = 0, end: int | None = None):
        """(index, event, Counts) after each event in [start, end)."""
        pods: dict[str, core_pb2.Pod] = {}
        end = len(self.events) if end is None else end
        for i, (typ, pod) in enumerate(self.events[:end]):
            if typ == "delete":
                pods.pop(pod.metadata.name, None)
            else:
                pods[pod.metadata.name] = pod
            if i >= start:
                active = [p for p in pods.values() if is_active(p)]
                yield i, (typ, pod.metadata.name), Counts(len(active), sum(1 for p in active if is_ready(p)),
                                                          len(pods) - len(active))

    def check_bounds(self, start: int, end: int, replicas: int, surge: int, unavailable: int) -> tuple[int, int]:
        """Asserts the rollout bounds after every event in [start, end); returns (peak active, lowest available)."""
        peak, low, bad = 0, replicas, []
        for i, ev, c in self.states(start, end):
            peak, low = max(peak, c.active), min(low, c.available)
            if c.active > replicas + surge or c.available < replicas - unavailable:
                bad.append(f"#{i} {ev}: {c}")
        assert not bad, f"rollout bounds (<= {replicas + surge} pods, >= {replicas - unavailable} available) " \
                        f"broken {len(bad)} times: {bad[:5]}"
        return peak, low


# -- the controller managers -----------------------------------------------------------------------------------

class Managers:
    """`python -m controller` processes; all stopped at teardown (logs dumped on failure)."""

    def __init__(self, base_dir: Path, endpoints: list[str]):
        self.base_dir, self.endpoints = base_dir, endpoints
        self.procs: dict[str, Proc] = {}

    def start(self, identity: str, *extra: str) -> Proc:
        args = ["--apiserver", ",".join(self.endpoints), "--identity", identity, "--lease-duration", LD,
                "--renew-deadline", RD, "--retry-period", RP, "--metrics-listen", "127.0.0.1:0", *extra]
        proc = self.procs[identity] = Proc.python_module(identity, "controller", args,
                                                         self.base_dir / f"{identity}.log").start()
        return proc

    def log(self, identity: str) -> str:
        return self.procs[identity].log_path.read_text(errors="replace")

    def running(self, identity: str) -> bool:
        """True once `identity` leads and its caches have synced (it raises if the process died)."""
        proc = self.procs[identity]
        if not proc.alive:
            raise AssertionError(f"{identity} exited with {proc.popen.returncode}:\n{proc.log_tail()}")
        return f"{identity}: caches synced; running controllers" in self.log(identity)

    def metrics(self, identity: str) -> str:
        m = _METRICS.search(self.log(identity))
        with urllib.request.urlopen(f"http://{m.group(1)}:{m.group(2)}/metrics", timeout=5) as r:
            return r.read().decode()

    def stop(self) -> None:
        for p in self.procs.values():
            p.stop()

    def logs(self) -> str:
        return "\n".join(f"===== {n} ({p.log_path}) =====\n{p.log_tail(150)}" for n, p in self.procs.items())


@pytest.fixture
def managers(control_plane, tmp_path, request):
    m = Managers(tmp_path / "cm", control_plane.endpoints)
    try:
        yield m
    finally:
        m.stop()
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            print(f"\n----- logs of the controller managers -----\n{m.logs()}")


class World:
    """The test's side of the cluster: an API client, the fake kubelet and the pod history, running."""

    def __init__(self, endpoints: list[str], **kubelet):
        self.api = ApiClient(endpoints)
        self.kubelet = FakeKubelet(self.api, **kubelet)
        self.history = PodHistory(self.api)
        self.tasks: list[asyncio.Task] = []

    async def __aenter__(self) -> "World":
        self.tasks = [asyncio.create_task(self.kubelet.run()), asyncio.create_task(self.history.informer.run())]
        await self.history.informer.wait_for_sync(30)
        return self

    async def __aexit__(self, *exc) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.api.close()


def conditions(d: apps_pb2.Deployment) -> dict[str, tuple[str, str, str]]:
    return {c.type: (c.status, c.reason, c.message) for c in d.status.conditions}


# -- the scenarios ---------------------------------------------------------------------------------------------

async def test_deployment_rolls_out_rolls_back_and_scales(control_plane, managers):
    """A Deployment of 5 becomes 5 Ready pods; v1 -> v2 keeps the rollout bounds at every pod event; re-applying v1
    reuses its ReplicaSet as revision 3; scaling to 10 then 3 follows."""
    managers.start("cm-1")
    async with World(control_plane.endpoints) as w:
        api = w.api
        await eventually(lambda: managers.running("cm-1"), 60, "the controller manager to lead and run")
        await api.create(web(5, "app:v1", change_cause="kubectl create deployment web --image=app:v1"))
        d = await eventually(lambda: rollout_complete(api, "app:v1", 5), 60, "5 Ready pods of app:v1")
        [rs1] = (await replica_sets(api)).values()
        assert rs1.metadata.name.startswith("web-") and rs1.metadata.annotations[ann.REVISION] == "1"
        assert (rs1.status.replicas, rs1.status.ready_replicas, rs1.status.available_replicas,
                rs1.status.fully_labeled_replicas) == (5, 5, 5, 5)
        assert rs1.status.observed_generation == rs1.metadata.generation
        assert d.metadata.annotations[ann.REVISION] == "1" and not d.status.unavailable_replicas
        assert conditions(d) == {
            "Available": ("True", "MinimumReplicasAvailable", "Deployment has minimum availability."),
            "Progressing": ("True", "NewReplicaSetAvailable",
                            f'ReplicaSet "{rs1.metadata.name}" has successfully progressed.')}
        pods, _ = await api.list("pods", NS)
        assert len(pods) == 5 and all(controller_of(p).uid == rs1.metadata.uid for p in pods)
        events, _ = await api.list("events", NS)
        messages = {(e.reason, e.message) for e in events}
        assert ("ScalingReplicaSet", f"Scaled up replica set {rs1.metadata.name} to 5") in messages
        assert {("SuccessfulCreate", f"Created pod: {p.metadata.name}") for p in pods} <= messages

        # v1 -> v2, recorded: surge 2 (25% of 5, up), unavailable 1 (25% of 5, down)
        start = w.history.mark()
        await mutate(api, "web", set_image("app:v2", "kubectl set image deployment/web app=app:v2"))
        d = await eventually(lambda: rollout_complete(api, "app:v2", 5), 90, "the rollout to app:v2")
        await eventually(lambda: len(w.history.informer.list()) == 5, 30, "the old pods to be gone")
        peak, low = w.history.check_bounds(start, w.history.mark(), replicas=5, surge=2, unavailable=1)
        assert peak > 5, "the rollout never surged"
        assert len(w.history.uids()) == 10, "a pod was created twice (or one too few)"
        rss = await replica_sets(api)
        assert sorted(rss) == ["app:v1", "app:v2"]
        assert (rss["app:v1"].spec.replicas, rss["app:v2"].spec.replicas) == (0, 5)
        assert rss["app:v1"].metadata.annotations[ann.REVISION] == "1"
        assert rss["app:v2"].metadata.annotations[ann.REVISION] == "2"
        assert rss["app:v1"].metadata.annotations[ann.CHANGE_CAUSE] == "kubectl create deployment web --image=app:v1"
        assert rss["app:v2"].metadata.annotations[ann.CHANGE_CAUSE] == "kubectl set image deployment/web app=app:v2"
        assert d.metadata.annotations[ann.REVISION] == "2"
        assert conditions(d)["Progressing"][1] == "NewReplicaSetAvailable"

        # re-applying v1's template (rollout undo --to-revision=1) reuses v1's ReplicaSet, as revision 3
        start = w.history.mark()
        await mutate(api, "web", set_image("app:v1", "kubectl create deployment web --image=app:v1"))
        d = await eventually(lambda: rollout_complete(api, "app:v1", 5), 90, "the rollback to app:v1")
        await eventually(lambda: len(w.history.informer.list()) == 5, 30, "the v2 pods to be gone")
        w.history.check_bounds(start, w.history.mark(), replicas=5, surge=2, unavailable=1)
        rss = await replica_sets(api)
        assert sorted(rss) == ["app:v1", "app:v2"]
        assert rss["app:v1"].metadata.uid == rs1.metadata.uid
        assert rss["app:v1"].metadata.annotations[ann.REVISION] == "3"
        assert rss["app:v1"].metadata.annotations[ann.REVISION_HISTORY] == "1"
        assert d.metadata.annotations[ann.REVISION] == "3"

        # scale to 10, then to 3
        await mutate(api, "web", lambda d: setattr(d.spec, "replicas", 10))
        await eventually(lambda: rollout_complete(api, "app:v1", 10), 60, "10 available pods")
        await mutate(api, "web", lambda d: setattr(d.spec, "replicas", 3))
        await eventually(lambda: rollout_complete(api, "app:v1", 3), 60, "3 available pods")
        await eventually(lambda: len(w.history.informer.list()) == 3, 30, "the surplus pods to be gone")
        assert (await replica_sets(api))["app:v1"].spec.replicas == 3
        events, _ = await api.list("events", NS)
        scaling = [e.message for e in events if e.reason == "ScalingReplicaSet"]
        assert f"Scaled up replica set {rs1.metadata.name} to 10 from 5" in scaling
        assert f"Scaled down replica set {rs1.metadata.name} to 3 from 10" in scaling


async def test_a_paused_deployment_rolls_out_only_once_resumed(control_plane, managers):
    """A new template on a paused Deployment makes no ReplicaSet (Progressing Unknown, DeploymentPaused); resuming
    rolls it out (DeploymentResumed, then NewReplicaSetAvailable)."""
    managers.start("cm-1")
    async with World(control_plane.endpoints) as w:
        api = w.api
        await eventually(lambda: managers.running("cm-1"), 60, "the controller manager to lead and run")
        await api.create(web(3, "app:v1"))
        await eventually(lambda: rollout_complete(api, "app:v1", 3), 60, "3 Ready pods of app:v1")

        await mutate(api, "web", lambda d: setattr(d.spec, "paused", True))
        await mutate(api, "web", set_image("app:v2"))

        async def paused_and_seen():
            d = await api.get("deployments", NS, "web")
            return d.status.observed_generation == d.metadata.generation and \
                conditions(d).get("Progressing", ("", "", ""))[:2] == ("Unknown", "DeploymentPaused") and d
        d = await eventually(paused_and_seen, 30, "the paused Deployment with app:v2 to be observed")
        assert conditions(d)["Progressing"][2] == "Deployment is paused"
        assert sorted(await replica_sets(api)) == ["app:v1"], "a paused Deployment rolled out"
        assert d.metadata.annotations[ann.REVISION] == "1"

        start = w.history.mark()
        await mutate(api, "web", lambda d: setattr(d.spec, "paused", False))
        d = await eventually(lambda: rollout_complete(api, "app:v2", 3), 60, "the rollout to app:v2 once resumed")
        await eventually(lambda: len(w.history.informer.list()) == 3, 30, "the old pods to be gone")
        w.history.check_bounds(start, w.history.mark(), replicas=3, surge=1, unavailable=0)
        assert d.metadata.annotations[ann.REVISION] == "2"
        assert conditions(d)["Progressing"][:2] == ("True", "NewReplicaSetAvailable")
        events, _ = await api.list("events", NS)
        assert any(e.reason == "ScalingReplicaSet" and e.message.startswith("Scaled up replica set") and
                   e.involved_object.name == "web" for e in events)


async def test_the_standby_finishes_a_rollout_when_the_leader_is_killed(control_plane, managers):
    """Two managers; the leader is killed with SIGKILL mid-rollout; the standby takes over and finishes it, and no
    pod is created twice (12 creations for 6 pods of v1 then 6 of v2)."""
    managers.start("cm-a")
    async with World(control_plane.endpoints, ready_after=1.0) as w:
        api = w.api
        await eventually(lambda: managers.running("cm-a"), 60, "cm-a to lead and run")
        managers.start("cm-b")
        await eventually(lambda: "cm-b: the leader is cm-a" in managers.log("cm-b"), 60, "cm-b to see cm-a lead")
        await api.create(web(6, "app:v1"))
        await eventually(lambda: rollout_complete(api, "app:v1", 6), 60, "6 Ready pods of app:v1")

        start = w.history.mark()
        await mutate(api, "web", set_image("app:v2"))

        async def mid_rollout():
            rss = await replica_sets(api)
            new, old = rss.get("app:v2"), rss.get("app:v1")
            return (new is not None and old is not None and new.status.ready_replicas >= 1
                    and old.spec.replicas > 0 and new.spec.replicas < 6)
        await eventually(mid_rollout, 60, "the rollout to be half-way")
        assert not managers.running("cm-b"), "the standby ran controllers while cm-a led"
        managers.procs["cm-a"].kill9()
        killed = time.monotonic()

        await eventually(lambda: managers.running("cm-b"), 30, "cm-b to take over")
        took_over = time.monotonic() - killed
        d = await eventually(lambda: rollout_complete(api, "app:v2", 6), 90, "cm-b to finish the rollout")
        await eventually(lambda: len(w.history.informer.list()) == 6, 30, "the old pods to be gone")
        w.history.check_bounds(start, w.history.mark(), replicas=6, surge=2, unavailable=1)
        # Finishing takes at least one more scaling step (the old ReplicaSet's last pods go only once new ones are
        # ready, ready_after = 1 s after they exist): cm-b must have made it.
        assert re.search(r"deployment default/web \(generation \d+\): Scaled down replica set web-\w+ to 0",
                         managers.log("cm-b")), "cm-b scaled nothing: the kill was not mid-rollout"
        assert len(w.history.uids()) == 12, f"{len(w.history.uids())} pods created for 6 of v1 and 6 of v2"
        assert len(w.history.names()) == 12
        lease = await api.get("leases", "kube-system", "skiff-controller-manager")
        assert lease.spec.holder_identity == "cm-b" and took_over < 15
        assert d.metadata.annotations[ann.REVISION] == "2"
        metrics = await asyncio.to_thread(managers.metrics, "cm-b")
        assert 'leader_election_master_status{name="skiff-controller-manager"} 1.0' in metrics
        assert 'controller_syncs_total{controller="deployment",result="success"}' in metrics

        # SIGTERM: a clean stop (status 0) that hands the lease back instead of letting it expire
        assert managers.procs["cm-b"].stop() == 0
        lease = await api.get("leases", "kube-system", "skiff-controller-manager")
        assert not lease.spec.holder_identity


async def test_a_leader_paused_past_its_lease_exits_once_resumed(control_plane, managers):
    """The leader is SIGSTOPped until the standby took over and rolled out a new template; resumed, it exits with
    status 1 (leaderelection lost) and no pod was made twice."""
    managers.start("cm-a")
    async with World(control_plane.endpoints) as w:
        api = w.api
        await eventually(lambda: managers.running("cm-a"), 60, "cm-a to lead and run")
        managers.start("cm-b")
        await eventually(lambda: "cm-b: the leader is cm-a" in managers.log("cm-b"), 60, "cm-b to see cm-a lead")
        await api.create(web(2, "app:v1"))
        await eventually(lambda: rollout_complete(api, "app:v1", 2), 60, "2 Ready pods of app:v1")

        a = managers.procs["cm-a"]
        a.pause()
        try:
            await eventually(lambda: managers.running("cm-b"), 30, "cm-b to take over")
            await mutate(api, "web", set_image("app:v2"))
            await eventually(lambda: rollout_complete(api, "app:v2", 2), 60, "cm-b to roll app:v2 out")
        finally:
            a.resume()
        await eventually(lambda: not a.alive, 30, "cm-a to exit once resumed")
        assert a.popen.returncode == 1, a.log_tail()
        assert "cm-a: leaderelection lost; exiting with status 1" in managers.log("cm-a")
        await eventually(lambda: len(w.history.informer.list()) == 2, 30, "the old pods to be gone")
        assert len(w.history.uids()) == 4
        assert await rollout_complete(api, "app:v2", 2)
