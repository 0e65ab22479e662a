"""controller/deployment/rollout.py: Kubernetes' rollout arithmetic as table tests (fenceposts and
their rounding, the RollingUpdate scale-up and scale-down steps, Recreate's steps, proportional
scaling with the examples of Kubernetes' documentation) and Hypothesis properties of the
fenceposts."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, strategies as st

from controller.deployment import annotations as ann
from controller.deployment.rollout import (
    find_active_or_latest, is_saturated, is_scaling_event, max_surge, max_unavailable, new_rs_replicas,
    old_pods_running, old_rs_scale_down, proportional_scale, recreate_scale_down, resolve_fenceposts,
    scaled_value,
)
from client.times import format_time
from skiffpb.k8s.apps.v1 import apps_pb2
from skiffpb.k8s.core.v1 import core_pb2
from skiffpb.k8s.meta.v1 import meta_pb2
from tests.unit.controller.rollout_sim import T0, deployment

pytestmark = pytest.mark.timeout(60)


def rs(name: str, replicas: int, available: int | None = None, *, age: int = 0, status_replicas: int | None = None,
       desired: int | None = None, max_replicas: int | None = None) -> apps_pb2.ReplicaSet:
    """A ReplicaSet `age` seconds older than T0, with status replicas/available (default: all there, all available)."""
    r = apps_pb2.ReplicaSet()
    r.metadata.name, r.metadata.uid = name, f"uid-{name}"
    r.metadata.creation_timestamp = format_time(T0 - age)
    r.spec.replicas = replicas
    r.status.replicas = replicas if status_replicas is None else status_replicas
    r.status.available_replicas = replicas if available is None else available
    if desired is not None:
        r.metadata.annotations[ann.DESIRED_REPLICAS] = str(desired)
    if max_replicas is not None:
        r.metadata.annotations[ann.MAX_REPLICAS] = str(max_replicas)
    return r


def ios(v: int | str) -> meta_pb2.IntOrString:
    return meta_pb2.IntOrString(int_val=v) if isinstance(v, int) else meta_pb2.IntOrString(str_val=v)


# -- fenceposts ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("surge, unavailable, replicas, expect", [
    pytest.param("25%", "25%", 10, (3, 2), id="25pct-of-10"),
    pytest.param("25%", "25%", 4, (1, 1), id="25pct-of-4"),
    pytest.param("25%", "25%", 1, (1, 0), id="25pct-of-1"),
    pytest.param("0%", "0%", 10, (0, 1), id="0pct-0pct-unavailable-1"),
    pytest.param(0, 0, 5, (0, 1), id="0-0-unavailable-1"),
    pytest.param(0, "10%", 5, (0, 1), id="unavailable-rounds-down-to-0-then-1"),
    pytest.param("10%", 0, 5, (1, 0), id="surge-rounds-up"),
    pytest.param(3, 2, 10, (3, 2), id="absolute"),
    pytest.param(5, 20, 3, (5, 20), id="absolute-not-capped"),
    pytest.param("100%", "100%", 7, (7, 7), id="all"),
    pytest.param("33%", "33%", 10, (4, 3), id="33pct-of-10"),
    pytest.param(None, None, 10, (0, 1), id="absent-is-0"),
    pytest.param(ios("25%"), ios(1), 10, (3, 1), id="intorstring-messages"),
    pytest.param(meta_pb2.IntOrString(), ios("50%"), 10, (0, 5), id="empty-message-is-0"),
    pytest.param("25%", "25%", 0, (0, 1), id="zero-replicas"),
])
def test_resolve_fenceposts(surge, unavailable, replicas, expect):
    """Surge rounds up, unavailable rounds down; both 0 makes unavailable 1."""
    assert resolve_fenceposts(surge, unavailable, replicas) == expect


@pytest.mark.parametrize("value, message", [
    pytest.param("25", "string is not a percentage", id="no-percent-sign"),
    pytest.param("abc%", "invalid value 'abc%'", id="not-a-number"),
])
def test_scaled_value_errors(value, message):
    """A malformed int-or-percent names its field."""
    with pytest.raises(ValueError, match=message) as e:
        resolve_fenceposts(value, 1, 10)
    assert str(e.value).startswith("spec.strategy.rollingUpdate.maxSurge: ")


@given(st.integers(0, 100), st.integers(0, 100), st.integers(0, 1000))
def test_fenceposts_properties(surge_pct, unavailable_pct, replicas):
    """Percentages: surge is the ceiling, unavailable the floor, and never both zero."""
    surge, unavailable = resolve_fenceposts(f"{surge_pct}%", f"{unavailable_pct}%", replicas)
    assert surge == math.ceil(surge_pct * replicas / 100)
    assert surge >= surge_pct * replicas / 100 > surge - 1
    if surge == 0 and unavailable_pct * replicas < 100:
        assert unavailable == 1
    else:
        assert unavailable == unavailable_pct * replicas // 100
    assert surge + unavailable > 0
    assert scaled_value(f"{surge_pct}%", replicas, False) <= scaled_value(f"{surge_pct}%", replicas, True)


@pytest.mark.parametrize("d, surge, unavailable", [
    pytest.param(deployment(replicas=10), 3, 2, id="rolling-defaults"),
    pytest.param(deployment(replicas=2, max_surge=0, max_unavailable=5), 0, 2, id="unavailable-capped-at-replicas"),
    pytest.param(deployment(replicas=0), 0, 0, id="zero-replicas"),
    pytest.param(deployment(replicas=10, strategy="Recreate"), 0, 0, id="recreate"),
])
def test_max_surge_and_unavailable(d, surge, unavailable):
    """What a Deployment may surge and lose, from its strategy."""
    assert (max_surge(d), max_unavailable(d)) == (surge, unavailable)


# -- RollingUpdate: scale up -----------------------------------------------------------------------
@pytest.mark.parametrize("replicas, rss, expect", [
    pytest.param(10, [rs("old", 10), rs("new", 0)], 3, id="start-within-surge"),
    pytest.param(10, [rs("old", 10), rs("new", 3, 0)], 3, id="at-ceiling"),
    pytest.param(10, [rs("old", 2), rs("new", 9)], 10, id="not-beyond-replicas"),
    pytest.param(10, [rs("old", 8, status_replicas=10), rs("new", 3, 0)], 3,
                 id="old-pods-not-yet-deleted-count"),
    pytest.param(10, [rs("old", 8, status_replicas=8), rs("new", 3, 0)], 5, id="old-pods-deleted"),
    pytest.param(10, [rs("new", 0)], 10, id="first-rollout"),
])
def test_new_rs_replicas(replicas, rss, expect):
    """The new ReplicaSet grows while all pods stay within replicas + maxSurge (3 of 10)."""
    d = deployment(replicas=replicas)
    assert new_rs_replicas(d, rss, rss[-1]) == expect


def test_new_rs_replicas_recreate():
    """Recreate: the new ReplicaSet gets every replica at once."""
    d = deployment(replicas=4, strategy="Recreate")
    assert new_rs_replicas(d, [rs("new", 0)], rs("new", 0)) == 4


# -- RollingUpdate: scale down ---------------------------------------------------------------------
@pytest.mark.parametrize("rss, expect", [
    pytest.param([rs("old", 10, age=60), rs("new", 3, 0)], {"old": 8}, id="down-to-min-available"),
    pytest.param([rs("old", 10, 7, age=60), rs("new", 3, 0)], {"old": 8}, id="unhealthy-first-within-budget"),
    pytest.param([rs("old", 10, 10, age=60), rs("new", 3, 3)], {"old": 5}, id="new-available-lets-old-go"),
    pytest.param([rs("a", 2, age=90), rs("b", 5, age=60), rs("new", 3, 3)], {"a": 0}, id="oldest-first"),
    pytest.param([rs("a", 2, 0, age=90), rs("b", 5, 5, age=60), rs("new", 3, 3)], {"a": 0},
                 id="unhealthy-of-oldest"),
    pytest.param([rs("old", 8, age=60), rs("new", 5, 0)], {}, id="new-unavailable-blocks"),
    pytest.param([rs("old", 5, 8, status_replicas=8, age=60), rs("new", 5, 5)], {"old": 3},
                 id="stale-available-clamped-to-spec"),
    pytest.param([rs("old", 0, age=60), rs("new", 10, 10)], {}, id="nothing-old"),
])
def test_old_rs_scale_down(rss, expect):
    """Old ReplicaSets shrink, unhealthy pods first, keeping 8 of 10 available (maxUnavailable 2, maxSurge 3)."""
    d = deployment(replicas=10, max_surge=3, max_unavailable=2)
    old = [r for r in rss if r.metadata.name != "new" and r.spec.replicas > 0]
    assert old_rs_scale_down(d, rss, old, rss[-1]) == expect


# -- Recreate --------------------------------------------------------------------------------------------
def test_recreate_scale_down():
    """Every old ReplicaSet with replicas goes to 0."""
    assert recreate_scale_down([rs("a", 3), rs("b", 0), rs("c", 1)]) == {"a": 0, "c": 0}


def _pod(owner: str, phase: str) -> core_pb2.Pod:
    p = core_pb2.Pod()
    p.metadata.owner_references.add(uid=f"uid-{owner}", controller=True)
    p.status.phase = phase
    return p


@pytest.mark.parametrize("old_status_replicas, pods, running", [
    pytest.param(0, [], False, id="none"),
    pytest.param(1, [], True, id="status-still-counts-one"),
    pytest.param(0, [_pod("old", "Running")], True, id="running-pod"),
    pytest.param(0, [_pod("old", "Unknown")], True, id="unknown-pod"),
    pytest.param(0, [_pod("old", "Pending")], True, id="pending-pod"),
    pytest.param(0, [_pod("old", "Succeeded"), _pod("old", "Failed")], False, id="terminated-pods"),
    pytest.param(0, [_pod("new", "Running"), _pod("other", "Running")], False, id="not-old-pods"),
])
def test_old_pods_running(old_status_replicas, pods, running):
    """Recreate waits while an old ReplicaSet reports pods or any of its pods has not terminated."""
    old = rs("old", 0, status_replicas=old_status_replicas)
    assert old_pods_running(rs("new", 3), [old], pods) is running


# -- scaling ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rss, scaling", [
    pytest.param([rs("old", 8, desired=10), rs("new", 5, desired=10)], True, id="annotation-differs"),
    pytest.param([rs("old", 8, desired=15), rs("new", 5, desired=15)], False, id="annotation-matches"),
    pytest.param([rs("old", 0, desired=10), rs("new", 5, desired=15)], False, id="inactive-ignored"),
    pytest.param([rs("new", 5)], False, id="no-annotation"),
    pytest.param([rs("new", 5, desired=None)], False, id="no-annotation-none"),
])
def test_is_scaling_event(rss, scaling):
    """spec.replicas (15) against the desired-replicas annotation of active ReplicaSets."""
    d = deployment(replicas=15)
    assert is_scaling_event(d, rss[-1], rss[:-1]) is scaling


def test_find_active_or_latest():
    """The only active ReplicaSet; with none, the new one or the newest old one; with several, None."""
    assert find_active_or_latest(None, []) is None
    assert find_active_or_latest(rs("new", 0), [rs("old", 3)]).metadata.name == "old"
    assert find_active_or_latest(rs("new", 0), [rs("old", 0)]).metadata.name == "new"
    assert find_active_or_latest(None, [rs("a", 0, age=9), rs("b", 0, age=1)]).metadata.name == "b"
    assert find_active_or_latest(rs("new", 1), [rs("old", 3)]) is None


@pytest.mark.parametrize("d, new, old, expect", [
    # Kubernetes' documentation (Deployments, "Proportional scaling"): 10 replicas, maxSurge 3,
    # maxUnavailable 2, a rollout stuck at 8 old + 5 new; scaled to 15: 3 more old, 2 more new.
    pytest.param(deployment(replicas=15, max_surge=3, max_unavailable=2),
                 rs("new", 5, 0, desired=10, max_replicas=13), [rs("old", 8, age=60, desired=10, max_replicas=13)],
                 {"old": 11, "new": 7}, id="docs-10-to-15"),
    pytest.param(deployment(replicas=5, max_surge=3, max_unavailable=2),
                 rs("new", 5, 0, desired=10, max_replicas=13), [rs("old", 8, age=60, desired=10, max_replicas=13)],
                 {"old": 5, "new": 3}, id="docs-10-to-5"),
    pytest.param(deployment(replicas=0, max_surge=3, max_unavailable=2),
                 rs("new", 5, 0, desired=10, max_replicas=13), [rs("old", 8, age=60, desired=10, max_replicas=13)],
                 {"old": 0, "new": 0}, id="to-zero"),
    pytest.param(deployment(replicas=3, max_surge=1, max_unavailable=0),
                 rs("new", 1, 0, desired=2, max_replicas=3),
                 [rs("a", 1, age=90, desired=2, max_replicas=3), rs("b", 1, age=60, desired=2, max_replicas=3)],
                 {"a": 1, "b": 1, "new": 2}, id="leftover-to-newest-on-tie-growing"),
    pytest.param(deployment(replicas=2, max_surge=1, max_unavailable=0),
                 rs("new", 1, 0, desired=3, max_replicas=4),
                 [rs("a", 1, age=90, desired=3, max_replicas=4), rs("b", 1, age=60, desired=3, max_replicas=4),
                  rs("c", 1, age=30, desired=3, max_replicas=4)],
                 {"a": 0, "b": 1, "c": 1, "new": 1}, id="leftover-from-oldest-on-tie-shrinking"),
    pytest.param(deployment(replicas=20, max_surge=3, max_unavailable=2),
                 rs("new", 4, 0, desired=10, max_replicas=13), [rs("old", 9, age=60, desired=10, max_replicas=13)],
                 {"old": 16, "new": 7}, id="leftover-to-largest"),
])
def test_proportional_scale(d, new, old, expect):
    """A scale mid-rollout is spread in proportion to sizes; rounding leftovers go to the first in order."""
    sizes, proportional = proportional_scale(d, new, old)
    assert sizes == expect and proportional
    assert sum(sizes.values()) == (d.spec.replicas + max_surge(d) if d.spec.replicas else 0)


def test_proportional_scale_without_annotations_uses_status():
    """No max-replicas annotation: the Deployment's status.replicas stands in for the old size."""
    d = deployment(replicas=20, max_surge=0, max_unavailable=1)
    d.status.replicas = 10
    sizes, _ = proportional_scale(d, rs("new", 4, 0), [rs("old", 6, age=60)])
    assert sizes == {"old": 12, "new": 8}


def test_scale_single_or_saturated():
    """One active ReplicaSet takes all replicas; a saturated new one makes old ones go to 0."""
    d = deployment(replicas=7)
    assert proportional_scale(d, rs("new", 5, desired=5), [rs("old", 0)]) == ({"new": 7}, False)
    assert proportional_scale(d, rs("new", 7, desired=5), [rs("old", 0)]) == ({}, False)
    saturated = rs("new", 7, 7, desired=7)
    assert is_saturated(d, saturated)
    assert not is_saturated(d, rs("new", 7, 6, desired=7))
    assert proportional_scale(d, saturated, [rs("old", 2), rs("older", 0)]) == ({"old": 0}, False)
    recreate = deployment(replicas=7, strategy="Recreate")
    assert proportional_scale(recreate, rs("new", 2, desired=5), [rs("old", 2)]) == ({}, False)
