"""kubelet/app.py and kubelet/control.py: flags into a Config (each bad flag named), and the control
endpoint's routes (what each method and path asks, and what is refused)."""
from __future__ import annotations

import pytest

from kubelet.app import Config, ConfigError, config_from_args
from kubelet.control import DEFAULT_ADD_WAIT, HttpError, Route, route
from kubelet.hollow import Timing
from kubelet.nodestatus import NodeShape

pytestmark = pytest.mark.timeout(60)

BASE = ["--hollow", "--apiserver", "127.0.0.1:6443,127.0.0.1:6444"]


def test_defaults_fit_the_controller_managers_10s_grace_period():
    cfg, level = config_from_args(BASE)
    assert cfg == Config(apiservers=("127.0.0.1:6443", "127.0.0.1:6444"), nodes=1, name_prefix="hollow-",
                         shape=NodeShape(), timing=Timing(0.5, 0.5), lease_duration=10, renew_interval=2.5,
                         status_update_frequency=10.0, status_report_frequency=300.0, control=("127.0.0.1", 0),
                         workers=32, api_timeout=10.0)
    assert level == "info"


def test_every_flag_lands_in_the_config():
    cfg, level = config_from_args(BASE + [
        "--nodes", "100", "--name-prefix", "kubemark-", "--cpu", "500m", "--memory", "1Gi", "--pods", "30",
        "--ephemeral-storage", "10Gi", "--node-labels", "zone=a, tier=hollow", "--ready-delay", "0",
        "--stop-delay", "2", "--lease-duration", "4", "--renew-interval", "0.5",
        "--node-status-update-frequency", "1", "--node-status-report-frequency", "5",
        "--control-listen", "[::1]:9000", "--workers", "4", "--api-timeout", "3", "--log-level", "debug"])
    assert cfg.nodes == 100 and cfg.name_prefix == "kubemark-"
    assert cfg.shape == NodeShape(cpu="500m", memory="1Gi", pods=30, ephemeral_storage="10Gi",
                                  labels=(("tier", "hollow"), ("zone", "a")))
    assert cfg.timing == Timing(0.0, 2.0)
    assert (cfg.lease_duration, cfg.renew_interval, cfg.status_update_frequency, cfg.status_report_frequency) == \
        (4, 0.5, 1.0, 5.0)
    assert (cfg.control, cfg.workers, cfg.api_timeout, level) == (("::1", 9000), 4, 3.0, "debug")


@pytest.mark.parametrize("extra, flag", [
    pytest.param(["--apiserver", " , "], "--apiserver", id="no-apiserver"),
    pytest.param(["--apiserver", "nohost"], "--apiserver", id="apiserver-not-host-port"),
    pytest.param(["--nodes", "-1"], "--nodes", id="negative-nodes"),
    pytest.param(["--nodes", "5000"], "--nodes", id="too-many-nodes"),
    pytest.param(["--name-prefix", "Hollow_"], "--name-prefix", id="prefix-not-dns"),
    pytest.param(["--cpu", "lots"], "--cpu", id="cpu-not-quantity"),
    pytest.param(["--memory", "0"], "--memory", id="memory-zero"),
    pytest.param(["--pods", "254"], "--pods", id="pods-over-a-24"),
    pytest.param(["--node-labels", "novalue"], "--node-labels", id="label-without-value"),
    pytest.param(["--node-labels", "bad key=v"], "--node-labels", id="label-bad-key"),
    pytest.param(["--node-labels", "k=bad value"], "--node-labels", id="label-bad-value"),
    pytest.param(["--node-labels", "kubernetes.io/hostname=x"], "--node-labels", id="label-hostname"),
    pytest.param(["--ready-delay", "-1"], "--ready-delay", id="negative-ready-delay"),
    pytest.param(["--stop-delay", "nan"], "--stop-delay", id="nan-stop-delay"),
    pytest.param(["--lease-duration", "0"], "--lease-duration", id="lease-zero"),
    pytest.param(["--renew-interval", "0"], "--renew-interval", id="renew-zero"),
    pytest.param(["--lease-duration", "4", "--renew-interval", "4"], "--renew-interval", id="renew-not-shorter"),
    pytest.param(["--node-status-update-frequency", "0"], "--node-status-update-frequency", id="update-zero"),
    pytest.param(["--node-status-report-frequency", "-5"], "--node-status-report-frequency", id="report-negative"),
    pytest.param(["--control-listen", "10.0.0.1:80"], "--control-listen", id="control-not-loopback"),
    pytest.param(["--control-listen", "127.0.0.1"], "--control-listen", id="control-no-port"),
    pytest.param(["--workers", "0"], "--workers", id="workers-zero"),
])
def test_bad_flags_are_named(extra, flag):
    with pytest.raises(ConfigError) as e:
        config_from_args(BASE + extra)
    assert str(e.value).startswith(f"{flag}: ")


def test_only_the_hollow_kubelet_exists():
    with pytest.raises(ConfigError, match="^--hollow: "):
        config_from_args(["--apiserver", "127.0.0.1:6443"])


@pytest.mark.parametrize("method, target, want", [
    pytest.param("GET", "/nodes", Route("list"), id="list"),
    pytest.param("GET", "/nodes/hollow-3", Route("get", node="hollow-3"), id="get"),
    pytest.param("POST", "/nodes?count=5", Route("add", count=5, wait=DEFAULT_ADD_WAIT), id="add"),
    pytest.param("POST", "/nodes?count=2&wait=0.5", Route("add", count=2, wait=0.5), id="add-wait"),
    pytest.param("POST", "/nodes/hollow-0/stop-heartbeat", Route("stop-heartbeat", node="hollow-0"), id="stop"),
    pytest.param("POST", "/nodes/hollow-0/start-heartbeat/", Route("start-heartbeat", node="hollow-0"), id="start"),
    pytest.param("POST", "/nodes/hollow-0/delete", Route("delete", node="hollow-0"), id="delete"),
    pytest.param("GET", "/health", Route("health"), id="health"),
    pytest.param("GET", "/metrics", Route("metrics"), id="metrics"),
])
def test_routes(method, target, want):
    assert route(method, target) == want


@pytest.mark.parametrize("method, target, status", [
    pytest.param("POST", "/nodes", 400, id="add-without-count"),
    pytest.param("POST", "/nodes?count=0", 400, id="add-zero"),
    pytest.param("POST", "/nodes?count=x", 400, id="add-not-a-number"),
    pytest.param("POST", "/nodes?count=1&wait=-1", 400, id="negative-wait"),
    pytest.param("DELETE", "/nodes", 405, id="wrong-method"),
    pytest.param("GET", "/nodes/hollow-0/delete", 405, id="delete-by-get"),
    pytest.param("POST", "/nodes/hollow-0/reboot", 404, id="unknown-verb"),
    pytest.param("GET", "/", 404, id="root"),
])
def test_refused_requests(method, target, status):
    with pytest.raises(HttpError) as e:
        route(method, target)
    assert e.value.status == status
