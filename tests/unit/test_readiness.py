"""Readiness: the reasons a process gives for taking no traffic (ops/readiness.py)."""

from __future__ import annotations

import asyncio

from liveloop.ops.readiness import Readiness


def test_ready_until_a_check_fails_and_never_while_stopping():
    failing: list[str | None] = [None]

    async def database() -> str | None:
        return failing[0]

    async def scenario() -> list[list[str]]:
        readiness = Readiness({"database": database})
        seen = [await readiness.reasons()]
        failing[0] = "database unreachable"
        seen.append(await readiness.reasons())
        failing[0] = None
        readiness.stopping()
        seen.append(await readiness.reasons())
        return seen

    assert asyncio.run(scenario()) == [[], ["database unreachable"], ["shutting down"]]


def test_a_hanging_check_times_out_and_is_not_started_again_while_it_hangs():
    started = []

    async def hangs() -> str | None:
        started.append(1)
        await asyncio.sleep(3600)
        return None

    async def raises() -> str | None:
        raise OSError("connection refused")

    async def scenario() -> list[list[str]]:
        readiness = Readiness({"database": hangs, "redis": raises}, timeout=0.05)
        return [await readiness.reasons() for _ in range(3)]

    assert asyncio.run(scenario()) == [["database did not answer within 0.05 s", "redis: OSError"]] * 3
    assert started == [1]
