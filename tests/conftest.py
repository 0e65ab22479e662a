"""Fixtures shared by every tier. Process-starting fixtures always stop what they started."""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from tests.harness import Cluster, ControlPlane, EtcdCluster, StoreCluster
from tests.harness.proc import stop_all

# Hypothesis: no per-example deadline (the machine may be busy with clusters of other tests), and
# in CI the same examples every run, so a red CI always means the change, not the dice.
settings.register_profile("skiff", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", parent=settings.get_profile("skiff"), derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "skiff")


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _dump_on_failure(request, cluster) -> None:
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        print(f"\n----- logs of {cluster.kind} -----\n{cluster.logs()}")


def _running(request, cluster):
    try:
        cluster.start()
        yield cluster
    finally:
        _dump_on_failure(request, cluster)
        cluster.stop()


@pytest.fixture
def store_cluster(tmp_path, request):
    """A running 3-member Skiff store."""
    yield from _running(request, StoreCluster(tmp_path / "store"))


@pytest.fixture
def etcd_cluster(tmp_path, request):
    """A running 3-member real etcd (skipped when etcd is not installed)."""
    if not EtcdCluster.available():
        pytest.skip("etcd not installed (deploy/venv.sh installs it as root)")
    yield from _running(request, EtcdCluster(tmp_path / "etcd"))


@pytest.fixture
def control_plane(tmp_path, request):
    """A running 3-member store with two API servers in front of it."""
    yield from _running(request, ControlPlane(tmp_path / "cp"))


@pytest.fixture
def control_plane_with_controllers(tmp_path, request):
    """A control plane plus a controller manager (`python -m controller`, no leader election). Which
    controllers, and more flags: an indirect parameter `{"controllers": "garbagecollector", "args":
    ["--pod-eviction-timeout", "3s"]}` (default: every controller)."""
    spec = getattr(request, "param", None) or {}
    yield from _running(request, ControlPlane(tmp_path / "cp", controllers=spec.get("controllers", "*"),
                                              controller_args=spec.get("args")))


@pytest.fixture
def cluster(tmp_path, request):
    """A whole cluster (tests/harness/cluster.py): 3 store members, 2 apiservers, 2 schedulers and 2 controller
    managers (leader-elected, short leases), a hollow kubelet with 3 nodes. An indirect parameter passes
    `Cluster`'s keyword arguments: `{"nodes": 3, "kubelet_args": {"cpu": "1", "ready_delay": 1.0}}`."""
    c = Cluster(tmp_path / "cluster", **(getattr(request, "param", None) or {}))
    try:
        try:
            c.start()
        except BaseException:
            print(f"\n----- logs of the cluster that failed to start -----\n{c.logs()}")
            raise
        yield c
    finally:
        _dump_on_failure(request, c)
        c.stop()


def pytest_sessionfinish(session, exitstatus):
    stop_all()
