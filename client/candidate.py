"""A runnable leader-election candidate, for demos and real-process tests: `python -m client.leaderelection`.

    python -m client.leaderelection --apiserver 127.0.0.1:6443[,HOST:PORT...] \\
        --lease-namespace default --lease-name demo --identity a \\
        --lease-duration 4 --renew-deadline 3 --retry-period 0.5 --action-log /tmp/actions.jsonl

It campaigns for the Lease `namespace/name` through the apiserver (client.leaderelection's
LeaderElector over an ApiLeaseLock) and, while it leads, does its "work": every `--action-interval`
seconds it appends one JSON line `{"identity": ..., "time": <time.time()>, "seq": n}` to the action
log ("-": stdout). The log is opened O_APPEND and each line is one write(2), so several candidates
may share one file (`tail -f` shows the hand-overs).

When it stops leading (the lease was taken, or no renewal succeeded within --renew-deadline) the
work stops at once and the process exits with status 1, as Kubernetes components do in
OnStoppedLeading; with `--rejoin` it goes back to being a candidate instead. SIGTERM/SIGINT: stop
working, release the lease (clear holderIdentity, so another candidate takes over at its next
retry), exit 0. Exit status 2: a bad flag.

Why the work checks `is_leader` before each action although the watchdog cancels it: after the
process was paused (SIGSTOP, a long swap-in), every timer is overdue at once and asyncio runs them
in the order they were due, so the work's next tick may run before the watchdog's. The check reads
the clock *before* stamping the action, so every line in the log carries a time before this
leader's renew deadline, hence before anyone else can acquire (renewTime + leaseDurationSeconds).
What a clock check cannot fence is a pause between the check and the side effect itself: the line
then carries a time from before the deadline but lands later; a resource that must never see a
stale leader's write needs a fencing token checked by the resource, which Kubernetes does not have.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import socket
import sys
import time
import uuid
from dataclasses import dataclass

from client.api import ApiClient
from client.leaderelection import ApiLeaseLock, ElectionConfig, LeaderElector
from client.process import ConfigError, endpoints, run_process

log = logging.getLogger("client.candidate")

EXIT_LOST = 1  # the process stopped leading (without --rejoin)


@dataclass(frozen=True)
class Config:
    apiservers: tuple[str, ...]
    lease_namespace: str
    lease_name: str
    identity: str
    election: ElectionConfig
    action_log: str          # a path, or "-" for stdout
    action_interval: float
    rejoin: bool


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m client.leaderelection",
        description="A leader-election candidate: while it holds the Lease it appends an action line "
                    "every --action-interval seconds; it stops at once when it loses the lease.")
    p.add_argument("--apiserver", required=True, help="apiserver endpoints HOST:PORT, comma-separated")
    p.add_argument("--lease-namespace", default="default", help="namespace of the Lease (default: default)")
    p.add_argument("--lease-name", default="demo", help="name of the Lease (default: demo)")
    p.add_argument("--identity", default="",
                   help="this candidate's holderIdentity, unique among the candidates (default: HOSTNAME_RANDOM)")
    p.add_argument("--lease-duration", type=float, default=15.0,
                   help="seconds a non-holder waits after the last renewal before taking the lease")
    p.add_argument("--renew-deadline", type=float, default=10.0,
                   help="seconds the leader keeps acting without a successful renewal")
    p.add_argument("--retry-period", type=float, default=2.0, help="seconds between attempts")
    p.add_argument("--action-log", default="-", help="file the actions are appended to ('-': stdout)")
    p.add_argument("--action-interval", type=float, default=0.1, help="seconds between actions while leading")
    p.add_argument("--rejoin", action="store_true",
                   help="after losing the lease, campaign again instead of exiting with status 1")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warn", "error"])
    return p


def config_from_args(argv: list[str]) -> tuple[Config, str]:
    a = build_parser().parse_args(argv)
    servers = endpoints("--apiserver", a.apiserver)
    if not a.lease_name:
        raise ConfigError("--lease-name: must not be empty")
    try:
        election = ElectionConfig(a.lease_duration, a.renew_deadline, a.retry_period)
    except ValueError as e:  # its message starts with the parameter's name: name the flag
        flag = "--" + str(e).split(" ", 1)[0].replace("_", "-")
        raise ConfigError(f"{flag}: {e}") from None
    if not a.action_interval > 0:
        raise ConfigError(f"--action-interval: must be a positive number of seconds, got {a.action_interval}")
    identity = a.identity or f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"
    return Config(servers, a.lease_namespace, a.lease_name, identity, election, a.action_log,
                  a.action_interval, a.rejoin), a.log_level


class ActionLog:
    """One JSON line per action; O_APPEND and one write(2) per line, so candidates may share a file."""

    def __init__(self, path: str):
        self._own = path != "-"
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644) if self._own else sys.stdout.fileno()

    def append(self, identity: str, t: float, seq: int) -> None:
        os.write(self.fd, json.dumps({"identity": identity, "time": t, "seq": seq}).encode() + b"\n")

    def close(self) -> None:
        if self._own:
            os.close(self.fd)


async def work(elector: LeaderElector, actions: ActionLog, interval: float) -> None:
    """The leading task: an action every `interval` s, each stamped with a time at which we still led."""
    seq = 0
    while True:
        now = time.time()
        # Read the clock first, then ask: `is_leader` reads it again, so `now` is before our deadline.
        # NEVER act without this check: after a pause this tick may run before the watchdog's.
        if not elector.is_leader:
            log.info("%s: not leader any more; stopping work", elector.identity)
            return
        actions.append(elector.identity, now, seq)
        seq += 1
        await asyncio.sleep(interval)


async def run(cfg: Config) -> int:
    loop = asyncio.get_running_loop()
    api = ApiClient(cfg.apiservers)
    # A renewal is a get and a write: each call may take half the renew deadline.
    lock = ApiLeaseLock(api, cfg.lease_name, cfg.lease_namespace, timeout=cfg.election.renew_deadline / 2)
    actions = ActionLog(cfg.action_log)
    lost, stop = asyncio.Event(), asyncio.Event()

    def on_stopped_leading() -> None:
        log.info("%s: stopped leading", cfg.identity)
        if not cfg.rejoin:
            lost.set()

    e = cfg.election
    elector = LeaderElector(
        lock, cfg.identity, lease_duration=e.lease_duration, renew_deadline=e.renew_deadline,
        retry_period=e.retry_period, on_started_leading=lambda: work(elector, actions, cfg.action_interval),
        on_stopped_leading=on_stopped_leading,
        on_new_leader=lambda who: log.info("%s: the leader is %s", cfg.identity, who))
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("%s: campaigning for lease %s/%s via %s", cfg.identity, cfg.lease_namespace, cfg.lease_name,
             ",".join(cfg.apiservers))
    campaign = asyncio.ensure_future(elector.run())
    waits = {asyncio.ensure_future(lost.wait()), asyncio.ensure_future(stop.wait())}
    try:
        await asyncio.wait({campaign, *waits}, return_when=asyncio.FIRST_COMPLETED)
        if campaign.done():
            campaign.result()  # run() only ends by raising: let it
    finally:
        for w in waits:
            w.cancel()
        # Cancelling run() stops the work (if any), then releases the lease if we still hold it.
        campaign.cancel()
        await asyncio.gather(campaign, *waits, return_exceptions=True)
        actions.close()
        await api.close()
    if lost.is_set() and not stop.is_set():
        log.info("%s: lost the lease; exiting with status %d", cfg.identity, EXIT_LOST)
        return EXIT_LOST
    log.info("%s: stopped", cfg.identity)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_process(argv, config_from_args, run, ConfigError)


if __name__ == "__main__":
    raise SystemExit(main())
