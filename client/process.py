"""The shared `main` of every Skiff process: flags, logging, asyncio, exit codes.

    def main(argv=None) -> int:
        return run_process(argv, config_from_args, run, ConfigError)

Exit codes: 0 after a clean stop (SIGTERM), 2 for a bad flag (the message names it). Logs go to
stderr, one line per event, UTC timestamps.
"""
from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import Any, Awaitable, Callable

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def run_process(argv: list[str] | None, config_from_args: Callable[[list[str]], tuple[Any, str]],
                run: Callable[[Any], Awaitable[None]], config_error: type[Exception],
                quiet_loggers: tuple[str, ...] = ()) -> int:
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
        asyncio.run(run(cfg))
    except config_error as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
