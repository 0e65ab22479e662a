"""Hypothesis simulations of whole rollouts over rollout_sim.py's in-memory cluster: the Deployment
and ReplicaSet controllers' plans applied in random interleavings, a fake kubelet making random
pods ready at random moments, time moving in random steps.

- RollingUpdate: at every step available pods >= replicas - maxUnavailable and all pods <=
  replicas + maxSurge, however the controllers and the kubelet interleave; and the rollout ends
  with every replica on the new template, old ReplicaSets at 0, the status complete.
- Recreate: old and new pods never run together, and it ends the same way.
- Template changes and scaling at random moments (mid-rollout too): it always ends settled on the
  last template with the last replica count.
"""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings, strategies as st

from controller.deployment import rollout
from controller.deployment import status as dstatus
from tests.unit.controller.rollout_sim import Cluster, deployment

pytestmark = pytest.mark.timeout(300)

int_or_percent = st.one_of(st.integers(0, 3), st.sampled_from(["0%", "10%", "25%", "50%", "100%"]))


def random_step(c: Cluster, rnd: random.Random, log: list[str]) -> None:
    """One move of the world: a controller sync, the kubelet readying some pods, or time passing."""
    roll = rnd.random()
    if roll < 0.25:
        c.sync_deployment()
        log.append("deployment")
    elif roll < 0.6:
        if c.rss:
            name = rnd.choice(sorted(c.rss))
            c.sync_replica_set(name)
            log.append(f"replicaset {name}")
    elif roll < 0.85:
        chosen = [n for n in c.not_ready() if rnd.random() < 0.5]
        c.kubelet(chosen)
        log.append(f"kubelet {len(chosen)}")
    else:
        seconds = rnd.choice([1, 1, 2, 3])
        c.tick(seconds)
        log.append(f"tick {seconds}")


def assert_settled(c: Cluster, image: str, replicas: int) -> None:
    """Everything on `image`, `replicas` pods all available, old ReplicaSets empty, status complete."""
    assert c.images() == ({image: replicas} if replicas else {}), c.describe()
    assert c.available() == replicas, c.describe()
    for r in c.rss.values():
        want = replicas if r.spec.template.spec.containers[0].image == image else 0
        assert rollout.replicas(r) == want, c.describe()
    assert dstatus.deployment_complete(c.d, c.d.status), c.d.status
    assert c.d.status.observed_generation == c.d.metadata.generation
    assert dstatus.get_condition(c.d.status, "Available").status == "True"
    if c.d.spec.HasField("progress_deadline_seconds"):
        assert dstatus.get_condition(c.d.status, "Progressing").reason == "NewReplicaSetAvailable"


@settings(max_examples=300)
@given(replicas=st.integers(1, 8), max_surge=int_or_percent, max_unavailable=int_or_percent,
       min_ready_seconds=st.integers(0, 3), steps=st.integers(0, 150), rnd=st.randoms(use_true_random=False))
def test_rolling_update_stays_within_bounds_and_finishes(replicas, max_surge, max_unavailable, min_ready_seconds,
                                                         steps, rnd):
    """A RollingUpdate from a settled v1 to v2, under any interleaving: within the surge and
    availability bounds at every step, and finished on v2."""
    c = Cluster(deployment(replicas=replicas, max_surge=max_surge, max_unavailable=max_unavailable,
                           min_ready_seconds=min_ready_seconds))
    c.settle()
    c.set_image("app:v2")
    surge, unavailable = rollout.max_surge(c.d), rollout.max_unavailable(c.d)
    log: list[str] = []

    def check() -> None:
        where = f"after {log[-8:]}: {c.describe()}"
        assert c.available() >= replicas - unavailable, f"availability below {replicas - unavailable} {where}"
        assert c.total() <= replicas + surge, f"more than {replicas + surge} pods {where}"

    check()
    for _ in range(steps):
        random_step(c, rnd, log)
        check()
    c.settle(check=check)                 # then a fair schedule, still checked at every move
    assert_settled(c, "app:v2", replicas)


@settings(max_examples=60)
@given(replicas=st.integers(1, 6), min_ready_seconds=st.integers(0, 2), steps=st.integers(0, 120),
       rnd=st.randoms(use_true_random=False))
def test_recreate_never_mixes_versions(replicas, min_ready_seconds, steps, rnd):
    """Recreate from a settled v1 to v2, under any interleaving: never a v1 and a v2 pod at once."""
    c = Cluster(deployment(replicas=replicas, strategy="Recreate", min_ready_seconds=min_ready_seconds))
    c.settle()
    c.set_image("app:v2")
    log: list[str] = []
    for _ in range(steps):
        random_step(c, rnd, log)
        assert len(c.images()) <= 1, f"after {log[-8:]}: {c.images()}"
    c.settle()
    assert_settled(c, "app:v2", replicas)


@settings(max_examples=60)
@given(replicas=st.integers(0, 6), max_surge=int_or_percent, max_unavailable=int_or_percent,
       changes=st.lists(st.tuples(st.integers(0, 40), st.sampled_from(["image", "scale", "pause", "resume"]),
                                  st.integers(0, 8)), max_size=5),
       rnd=st.randoms(use_true_random=False))
def test_changes_mid_rollout_always_settle(replicas, max_surge, max_unavailable, changes, rnd):
    """New templates, new replica counts, pauses and resumes at random moments (mid-rollout too):
    once resumed, it settles on the last template with the last replica count."""
    c = Cluster(deployment(replicas=replicas, max_surge=max_surge, max_unavailable=max_unavailable))
    c.settle()
    log: list[str] = []
    image, version = "app:v1", 1
    for steps, change, n in changes:
        for _ in range(steps):
            random_step(c, rnd, log)
        if change == "image":
            version += 1
            image = f"app:v{version}"
            c.set_image(image)
        elif change == "scale":
            c.set_replicas(n)
        else:
            c.set_paused(change == "pause")
    c.set_paused(False)
    c.settle(max_rounds=300)
    assert_settled(c, image, c.d.spec.replicas)
    assert len(c.rss) <= 1 + c.d.spec.revision_history_limit
