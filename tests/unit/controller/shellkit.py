"""Running one controller's shell against client/fake.py in a unit test (no sockets).

    async with running(api, make, clock=clock) as c:        # informers synced, workers running
        await eventually(lambda: ..., what="the Endpoints to be written")

`eventually` re-checks its predicate whenever the event loop has run a little (a wait for a
condition, as tests/harness's wait_for, never a sleep standing in for one).
"""
from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, Callable

from controller.manager import ControllerContext, Options

WAIT = 5.0


@contextlib.asynccontextmanager
async def running(api: Any, make: Callable, *, clock: Callable[[], float] = time.time,
                  options: Options = Options(workers=2, resync_period=0.0)):
    ctx = ControllerContext(api, options=options, clock=clock)
    controller = make(ctx)
    await ctx.start_informers(timeout=WAIT)
    task = asyncio.create_task(controller.run())
    try:
        yield controller
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await ctx.close()


async def eventually(predicate: Callable[[], Any], *, what: str, timeout: float = WAIT) -> Any:
    """Awaits until `predicate()` is truthy (an awaitable result is awaited); AssertionError after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last = None
    while True:
        try:
            value = predicate()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - "not yet"; reported on timeout
            last = e
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}" + (f" (last: {last!r})" if last else ""))
        await asyncio.sleep(0.01)


async def settled(api: Any, *, quiet: float = 0.2, timeout: float = WAIT) -> None:
    """Awaits until the fake has seen no new write for `quiet` seconds (the controller is idle)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    seen, since = api.resource_version, loop.time()
    while loop.time() - since < quiet:
        if loop.time() > deadline:
            raise AssertionError("the controller kept writing")
        await asyncio.sleep(0.02)
        if api.resource_version != seen:
            seen, since = api.resource_version, loop.time()
