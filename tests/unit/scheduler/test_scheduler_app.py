"""`python -m scheduler`'s flags: defaults as Kubernetes', a frozen Config, bad flags exit 2 naming the flag."""
from __future__ import annotations

import dataclasses

import pytest

from scheduler.app import Config, ConfigError, config_from_args, main

pytestmark = pytest.mark.timeout(10)


def test_defaults_are_kubernetes():
    cfg, level = config_from_args(["--apiserver", "127.0.0.1:6443"])
    assert cfg.apiservers == ("127.0.0.1:6443",) and level == "info"
    assert cfg.leader_elect is True
    assert (cfg.lease_name, cfg.lease_namespace) == ("skiff-scheduler", "kube-system")
    e = cfg.election
    assert (e.lease_duration, e.renew_deadline, e.retry_period) == (15.0, 10.0, 2.0)
    assert cfg.settings.scheduler_name == "default-scheduler"
    assert (cfg.settings.initial_backoff, cfg.settings.max_backoff) == (1.0, 10.0)
    assert cfg.metrics is None and cfg.identity
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.leader_elect = False           # type: ignore[misc]
    assert isinstance(cfg, Config)


@pytest.mark.parametrize("flags,expected", [
    pytest.param(["--leader-elect=false"], False, id="=false"),
    pytest.param(["--leader-elect", "false"], False, id="spaced"),
    pytest.param(["--leader-elect"], True, id="bare"),
    pytest.param(["--leader-elect=True"], True, id="=True"),
])
def test_leader_elect_takes_kubernetes_booleans(flags, expected):
    cfg, _ = config_from_args(["--apiserver", "h:1", *flags])
    assert cfg.leader_elect is expected


def test_everything_set():
    cfg, level = config_from_args([
        "--apiserver", "a:1, b:2", "--leader-elect=true", "--lease-name", "s", "--lease-namespace", "ns",
        "--lease-duration", "2", "--renew-deadline", "1.5", "--retry-period", "0.25", "--identity", "me",
        "--scheduler-name", "mine", "--metrics-listen", "127.0.0.1:0", "--bind-concurrency", "8",
        "--pod-initial-backoff-seconds", "0.5", "--pod-max-backoff-seconds", "4", "--log-level", "debug"])
    assert cfg.apiservers == ("a:1", "b:2") and cfg.identity == "me" and level == "debug"
    assert (cfg.lease_name, cfg.lease_namespace, cfg.election.renew_deadline) == ("s", "ns", 1.5)
    assert cfg.metrics == ("127.0.0.1", 0)
    s = cfg.settings
    assert (s.scheduler_name, s.bind_concurrency, s.initial_backoff, s.max_backoff) == ("mine", 8, 0.5, 4.0)


@pytest.mark.parametrize("flags,names", [
    pytest.param([], "--apiserver", id="apiserver missing"),
    pytest.param(["--apiserver", "nohost"], "--apiserver", id="apiserver not host:port"),
    pytest.param(["--apiserver", ","], "--apiserver", id="apiserver empty"),
    pytest.param(["--apiserver", "h:1", "--leader-elect=maybe"], "--leader-elect", id="not a boolean"),
    pytest.param(["--apiserver", "h:1", "--renew-deadline", "20"], "--renew-deadline", id="deadline >= duration"),
    pytest.param(["--apiserver", "h:1", "--retry-period", "0"], "--retry-period", id="retry 0"),
    pytest.param(["--apiserver", "h:1", "--lease-duration", "x"], "--lease-duration", id="not a number"),
    pytest.param(["--apiserver", "h:1", "--lease-name", ""], "--lease-name", id="empty lease name"),
    pytest.param(["--apiserver", "h:1", "--scheduler-name", ""], "--scheduler-name", id="empty scheduler name"),
    pytest.param(["--apiserver", "h:1", "--metrics-listen", "8080"], "--metrics-listen", id="metrics port only"),
    pytest.param(["--apiserver", "h:1", "--bind-concurrency", "0"], "--bind-concurrency", id="no binds"),
    pytest.param(["--apiserver", "h:1", "--pod-max-backoff-seconds", "0.5"], "--pod-max-backoff-seconds",
                 id="max below initial"),
    pytest.param(["--apiserver", "h:1", "--log-level", "loud"], "--log-level", id="log level"),
    pytest.param(["--apiserver", "h:1", "--bogus"], "--bogus", id="unknown flag"),
])
def test_bad_flags_name_the_flag(flags, names):
    with pytest.raises(ConfigError, match=names):
        config_from_args(flags)


def test_a_bad_flag_exits_2_with_the_message(capsys):
    assert main(["--apiserver", "h:1", "--renew-deadline", "20"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --renew-deadline: ") and "lease_duration" in err
