"""Rate limits: fixed one-minute windows per endpoint and client, shared through Redis."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from liveloop.kit.ratelimit import WINDOW_MS, RateLimiter

T0 = 1_000 * WINDOW_MS


def test_limit_per_client_and_window():
    limiter = RateLimiter({"share": 3})
    assert [limiter.allow("share", "1.2.3.4", T0 + i) for i in range(5)] == [True, True, True, False, False]
    assert limiter.allow("share", "5.6.7.8", T0)  # another client has its own count
    assert limiter.allow("stream", "1.2.3.4", T0)  # no limit set for that endpoint
    assert limiter.allow("share", "1.2.3.4", T0 + WINDOW_MS)  # a new window starts afresh


def test_zero_turns_a_limit_off():
    limiter = RateLimiter({"share": 0})
    assert all(limiter.allow("share", "1.2.3.4", T0) for _ in range(10_000))


@pytest.mark.service
def test_limits_hold_across_processes_through_redis():
    url = os.environ.get("LIVELOOP_TEST_REDIS_URL")
    if not url:
        pytest.skip("LIVELOOP_TEST_REDIS_URL is not set")
    client = f"10.0.0.{uuid.uuid4().int % 250}-{uuid.uuid4().hex[:6]}"

    async def scenario():
        import time

        now = int(time.time() * 1000)
        one, two = RateLimiter({"share": 10}, redis_url=url), RateLimiter({"share": 10}, redis_url=url)
        await one.start()
        await two.start()
        try:
            assert all(one.allow("share", client, now) for _ in range(6))
            assert all(two.allow("share", client, now) for _ in range(4))
            await one.sync()
            await two.sync()
            # together they used the 10 allowed: the process that synced last knows it at once
            assert not two.allow("share", client, now)
            # the other learns it at its next sync (it syncs what it counted, once a second)
            one.allow("share", client, now)
            await one.sync()
            assert not one.allow("share", client, now)
        finally:
            await one.close()
            await two.close()

    asyncio.run(scenario())
