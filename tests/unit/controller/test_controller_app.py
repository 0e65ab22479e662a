"""`python -m controller`'s flags (controller/app.py): Kubernetes' --controllers syntax, Go durations,
bad flags exiting 2 with the flag named; and the write fence of a manager that stopped leading."""
from __future__ import annotations

import pytest

from client.fake import FakeApi
from controller import app
from controller.app import CONTROLLERS, ConfigError, FencedApi, NotLeader, config_from_args, parse_duration, \
    select_controllers
from skiffpb.k8s.core.v1 import core_pb2

pytestmark = pytest.mark.timeout(30)

KNOWN = ["deployment", "replicaset", "endpoint"]


@pytest.mark.parametrize("spec, enabled", [
    pytest.param("*", ("deployment", "replicaset", "endpoint"), id="star"),
    pytest.param("replicaset,deployment", ("deployment", "replicaset"), id="names-in-registry-order"),
    pytest.param("*,-endpoint", ("deployment", "replicaset"), id="star-minus-one"),
    pytest.param("-endpoint,*", ("deployment", "replicaset"), id="order-does-not-matter"),
    pytest.param(" replicaset , ", ("replicaset",), id="spaces-and-empty-items"),
])
def test_controllers_flag_follows_kubernetes(spec, enabled):
    """`name` enables, `-name` disables, `*` enables the rest, as kube-controller-manager's --controllers."""
    assert select_controllers(spec, KNOWN) == enabled


@pytest.mark.parametrize("spec, message", [
    pytest.param("replicaset,jobs", "--controllers: unknown controller 'jobs'; known: deployment, replicaset, endpoint",
                 id="unknown"),
    pytest.param("-deployment", "--controllers: '-deployment' enables no controller", id="none-enabled"),
    pytest.param(",", "--controllers: empty", id="empty"),
])
def test_controllers_flag_errors_name_the_flag(spec, message):
    with pytest.raises(ConfigError) as e:
        select_controllers(spec, KNOWN)
    assert str(e.value).startswith(message)


@pytest.mark.parametrize("text, seconds", [
    ("10s", 10.0), ("500ms", 0.5), ("1m30s", 90.0), ("1.5h", 5400.0), ("15", 15.0), ("0.25", 0.25), ("0s", 0.0),
])
def test_durations_are_go_durations_or_seconds(text, seconds):
    assert parse_duration(text, "--x") == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "10sec", "1m 30s", "-5s", "nan", "inf"])
def test_bad_durations_name_the_flag(text):
    with pytest.raises(ConfigError, match=r"^--pod-eviction-timeout: invalid duration"):
        parse_duration(text, "--pod-eviction-timeout")


def test_defaults_and_a_full_command_line():
    """Every flag of the issue parses into the frozen Config (and Options for the controllers)."""
    cfg, level = config_from_args([
        "--apiserver", "127.0.0.1:6443,127.0.0.1:6444", "--controllers", "replicaset,deployment",
        "--leader-elect=true", "--lease-name", "cm", "--lease-namespace", "kube-system", "--lease-duration", "4s",
        "--renew-deadline", "3", "--retry-period", "500ms", "--identity", "me", "--concurrent-syncs", "3",
        "--node-monitor-grace-period", "20s", "--pod-eviction-timeout", "1m", "--metrics-listen", "127.0.0.1:0",
        "--log-level", "debug"])
    assert cfg.apiservers == ("127.0.0.1:6443", "127.0.0.1:6444")
    assert cfg.controllers == ("deployment", "replicaset") and cfg.leader_elect and cfg.identity == "me"
    assert (cfg.lease_name, cfg.lease_namespace) == ("cm", "kube-system")
    e = cfg.election
    assert (e.lease_duration, e.renew_deadline, e.retry_period) == (4.0, 3.0, 0.5)
    assert cfg.options.workers == 3
    assert (cfg.options.node_monitor_grace_period, cfg.options.pod_eviction_timeout) == (20.0, 60.0)
    assert cfg.metrics == ("127.0.0.1", 0) and level == "debug"

    cfg, level = config_from_args(["--apiserver", "127.0.0.1:6443"])
    assert cfg.controllers == tuple(CONTROLLERS) and cfg.leader_elect and level == "info"
    assert (cfg.lease_name, cfg.lease_namespace) == ("skiff-controller-manager", "kube-system")
    assert (cfg.election.lease_duration, cfg.election.renew_deadline, cfg.election.retry_period) == (15, 10, 2)
    assert cfg.options.workers == 5 and cfg.metrics is None and cfg.identity
    assert (cfg.options.node_monitor_grace_period, cfg.options.pod_eviction_timeout) == (10.0, 10.0)
    assert not config_from_args(["--apiserver", "a:1", "--leader-elect=false"])[0].leader_elect
    assert config_from_args(["--apiserver", "a:1", "--leader-elect"])[0].leader_elect


@pytest.mark.parametrize("argv, flag", [
    pytest.param(["--apiserver", "nohost"], "--apiserver", id="apiserver-not-host-port"),
    pytest.param(["--apiserver", "a:1", "--controllers", "bogus"], "--controllers", id="controllers"),
    pytest.param(["--apiserver", "a:1", "--lease-duration", "2s", "--renew-deadline", "3s"], "--renew-deadline",
                 id="renew-deadline-not-below-lease"),
    pytest.param(["--apiserver", "a:1", "--retry-period", "soon"], "--retry-period", id="retry-period"),
    pytest.param(["--apiserver", "a:1", "--concurrent-syncs", "0"], "--concurrent-syncs", id="concurrent-syncs"),
    pytest.param(["--apiserver", "a:1", "--metrics-listen", "9090"], "--metrics-listen", id="metrics-listen"),
    pytest.param(["--apiserver", "a:1", "--node-monitor-grace-period", "10x"], "--node-monitor-grace-period",
                 id="grace-period"),
])
def test_bad_flags_exit_2_naming_the_flag(argv, flag, capsys):
    assert app.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {flag}:"), err


def test_argparse_errors_exit_2_naming_the_flag(capsys):
    with pytest.raises(SystemExit) as e:
        app.main(["--apiserver", "a:1", "--leader-elect=maybe"])
    assert e.value.code == 2
    assert "argument --leader-elect: invalid boolean 'maybe'" in capsys.readouterr().err


async def test_the_fence_refuses_writes_once_not_leading_and_lets_reads_through():
    """Writes go through only while is_leader() holds; reads always do."""
    leading = [True]
    api = FakeApi()
    fenced = FencedApi(api, lambda: leading[0])
    pod = core_pb2.Pod()
    pod.metadata.name, pod.metadata.namespace = "p", "default"
    await fenced.create(pod)
    leading[0] = False
    with pytest.raises(NotLeader, match="^create: this controller manager is not the leader any more"):
        await fenced.create(pod)
    for verb, args in (("update", (pod,)), ("update_status", (pod,)), ("delete", ("pods", "default", "p")),
                       ("bind", ("default", "p", "n1"))):
        with pytest.raises(NotLeader):
            await getattr(fenced, verb)(*args)
    items, _ = await fenced.list("pods", "default")
    assert [p.metadata.name for p in items] == ["p"]
    assert (await fenced.get("pods", "default", "p")).metadata.name == "p"
    assert [a[0] for a in api.actions] == ["create", "list", "get"]
