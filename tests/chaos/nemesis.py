"""Faults for the chaos tests: kill -9 the leader, wait for a new one, restart the old one.

The nemesis runs in the test's main thread while traffic threads run; it never sleeps to
synchronise. Between faults it waits for *progress*: a caller-supplied counter (acknowledged
writes) must grow by `min_progress`, so every round proves the cluster served writes both with
one member down and after it came back. That wait is also the pacing between kills.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import grpc

from tests.harness import wait_for

# Client channels reconnect quickly after a member restarts (grpc's default backoff grows to 120 s).
CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
]


def channel(endpoint: str) -> grpc.Channel:
    """A client channel of its own (the harness closes `Member.channel()` when it kills a member)."""
    return grpc.insecure_channel(endpoint, options=CHANNEL_OPTIONS)


@dataclass
class Round:
    killed: str
    new_leader: str
    kill_at: float
    leader_at: float
    restarted_at: float
    done_at: float

    def __str__(self) -> str:
        return (f"killed {self.killed}; {self.new_leader} led after {self.leader_at - self.kill_at:.2f}s; "
                f"restarted at +{self.restarted_at - self.kill_at:.2f}s; round took {self.done_at - self.kill_at:.2f}s")


def kill_leader_rounds(cluster, rounds: int, progress: Callable[[], int], min_progress: int,
                       timeout: float = 20.0) -> list[Round]:
    """`rounds` times: SIGKILL the leader, wait for a new leader and for progress, restart it, wait for progress."""
    done = []
    for _ in range(rounds):
        old = cluster.leader(timeout=timeout)
        kill_at = time.monotonic()
        cluster.kill9(old)
        new = cluster.leader(timeout=timeout)  # only live members count: this waits for the election
        leader_at = time.monotonic()
        base = progress()
        wait_for(lambda: progress() >= base + min_progress, timeout,
                 f"{min_progress} acknowledged writes with {old.name} down (had {base})")
        cluster.restart(old)  # waits until it serves a linearizable read
        restarted_at = time.monotonic()
        base = progress()
        wait_for(lambda: progress() >= base + min_progress, timeout,
                 f"{min_progress} acknowledged writes after {old.name} restarted (had {base})")
        done.append(Round(old.name, new.name, kill_at, leader_at, restarted_at, time.monotonic()))
    return done
