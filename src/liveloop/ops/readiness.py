"""GET /readyz: whether this process should get traffic, with the reasons when it should not.

`/healthz` says the process is alive; `/readyz` says it can do its work: the database reachable and
its schema up to date, Redis reachable (when configured), the process not shutting down. A load
balancer or an orchestrator takes a process out of rotation while it answers 503.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

# A check returns None when all is well, else the reason, said for an operator.
Check = Callable[[], Awaitable[str | None]]


class Readiness:
    def __init__(self, checks: dict[str, Check], *, timeout: float = 2.0) -> None:
        self._checks = checks
        self._timeout = timeout
        self._stopping = False
        # A check that has not answered yet is awaited again rather than started twice: a database
        # that hangs must not take a worker thread per probe.
        self._running: dict[str, asyncio.Task] = {}

    def stopping(self) -> None:
        """The process is shutting down: no new traffic, whatever the checks say."""
        self._stopping = True

    async def reasons(self) -> list[str]:
        """Why the process is not ready (an empty list: it is)."""
        if self._stopping:
            return ["shutting down"]
        found = await asyncio.gather(*(self._check(name) for name in self._checks))
        return [reason for reason in found if reason is not None]

    async def close(self) -> None:
        """Close what the checks hold open (connections)."""
        for check in self._checks.values():
            close = getattr(check, "close", None)
            if close is not None:
                await close()

    async def _check(self, name: str) -> str | None:
        task = self._running.get(name)
        if task is None or task.done():
            task = self._running[name] = asyncio.ensure_future(self._checks[name]())
        try:
            return await asyncio.wait_for(asyncio.shield(task), self._timeout)
        except TimeoutError:
            return f"{name} did not answer within {self._timeout:g} s"
        except Exception as exc:  # noqa: BLE001 - whatever went wrong, the process is not ready
            return f"{name}: {exc.__class__.__name__}"
