"""The shared `main` of every Skiff process: flags, logging, asyncio, exit codes.

    def main(argv=None) -> int:
        return run_process(argv, config_from_args, run, ConfigError)

Exit codes: 0 after a clean stop (SIGTERM), 2 for a bad flag (the message names it). Logs go to
stderr, one line per event, UTC timestamps. `ConfigError`, `host_port` and `endpoints` are the flag
checks every component shares.
"""
from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import Any, Awaitable, Callable

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class ConfigError(Exception):
    """A bad flag: the message names it; the process exits 2."""


def host_port(flag: str, text: str) -> tuple[str, int]:
    """`HOST:PORT` (port 0: any free port) -> (host, port); ConfigError naming `flag` otherwise."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"{flag}: {text!r} is not HOST:PORT (port 0: any free port)")
    return host, int(port)


def endpoints(flag: str, text: str) -> tuple[str, ...]:
    """Comma-separated HOST:PORTs (at least one), as given: `--apiserver 127.0.0.1:6443,127.0.0.1:6444`."""
    out = tuple(s.strip() for s in text.split(",") if s.strip())
    if not out:
        raise ConfigError(f"{flag}: give at least one HOST:PORT")
    for s in out:
        host_port(flag, s)
    return out


def run_process(argv: list[str] | None, config_from_args: Callable[[list[str]], tuple[Any, str]],
                run: Callable[[Any], Awaitable[int | None]], config_error: type[Exception],
                quiet_loggers: tuple[str, ...] = ()) -> int:
    """Parses the flags, sets up logging, runs `run(config)`; its int result (None: 0) is the exit code."""
    try:
        cfg, level = config_from_args(sys.argv[1:] if argv is None else argv)
    except config_error as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    logging.basicConfig(level={"warn": "WARNING"}.get(level, level.upper()), stream=sys.stderr, format=LOG_FORMAT)
    logging.Formatter.converter = time.gmtime
    for name in quiet_loggers:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        status = asyncio.run(run(cfg))
    except config_error as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return status or 0
