"""Background tasks of a process (sweepers, workers, followers): each is cancelled when the process stops."""

from __future__ import annotations

import asyncio


async def cancel_and_wait(task: asyncio.Task | None) -> None:
    """Cancel the task and wait until it has ended, whatever it raised (None: nothing to stop)."""
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
