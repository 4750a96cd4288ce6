"""Per-client rate limits on the public endpoints (share link, viewer streams, presence).

Counting happens in the process, in fixed one-minute windows, so the hot path never waits on the
network. With Redis, each process adds its counts to shared per-window counters once a second and
learns the totals, so a client spreading requests over several processes is held to the same
limit (give or take one second of traffic).
"""

from __future__ import annotations

import asyncio
import logging

from liveloop.kit.background import cancel_and_wait
from liveloop.ops import metrics

log = logging.getLogger("liveloop.ratelimit")

WINDOW_MS = 60_000


class RateLimiter:
    def __init__(self, limits: dict[str, int], *, redis_url: str | None = None) -> None:
        self._limits = limits  # requests per window, per (endpoint, client)
        self._window = -1
        self._counts: dict[tuple[str, str], int] = {}  # this window, this process + others' as known
        self._unsynced: dict[tuple[str, str], int] = {}
        self._redis_url = redis_url
        self._redis = None
        self._task: asyncio.Task | None = None

    def allow(self, endpoint: str, client: str, now: int) -> bool:
        """Count one request; False once the client is over the endpoint's limit in this window."""
        limit = self._limits.get(endpoint)
        if not limit:
            return True
        window = now // WINDOW_MS
        if window != self._window:
            self._window = window
            self._counts.clear()
            self._unsynced.clear()
        key = (endpoint, client)
        count = self._counts.get(key, 0) + 1
        self._counts[key] = count
        if self._redis is not None:
            self._unsynced[key] = self._unsynced.get(key, 0) + 1
        if count > limit:
            metrics.RATE_LIMITED.labels(endpoint).inc()
            return False
        return True

    def retry_after(self, now: int) -> float:
        """Seconds until the current window ends, when every count starts again (`Retry-After`)."""
        return (WINDOW_MS - now % WINDOW_MS) / 1000

    async def start(self) -> None:
        if self._redis_url:
            import redis.asyncio as redis

            self._redis = redis.from_url(self._redis_url)
            self._task = asyncio.ensure_future(self._sync_forever())

    async def close(self) -> None:
        await cancel_and_wait(self._task)
        if self._redis is not None:
            await self._redis.aclose()

    async def _sync_forever(self) -> None:
        up = metrics.REDIS_UP.labels("rate_limits")
        up.set(1)
        shared = True  # the outage and the recovery are logged once each, not every second
        while True:
            await asyncio.sleep(1.0)
            try:
                await self.sync()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - Redis away: limits stay per process until it is back
                if shared:
                    log.warning("rate-limit counters not shared (Redis unreachable)", exc_info=True,
                                extra={"event": "redis_away", "use": "rate_limits"})
                    shared = False
                    up.set(0)
                continue
            if not shared:
                log.warning("Redis is back: rate-limit counters are shared again",
                            extra={"event": "redis_back", "use": "rate_limits"})
                shared = True
                up.set(1)

    async def sync(self) -> None:
        """Add this process's new counts to Redis and take the cross-process totals."""
        if not self._unsynced:
            return
        window, pending = self._window, self._unsynced
        self._unsynced = {}
        pipe = self._redis.pipeline(transaction=False)
        keys = list(pending)
        for endpoint, client in keys:
            name = f"liveloop:rl:{endpoint}:{window}:{client}"
            pipe.incrby(name, pending[(endpoint, client)])
            pipe.pexpire(name, 2 * WINDOW_MS)
        totals = (await pipe.execute())[::2]
        if window == self._window:
            for key, total in zip(keys, totals, strict=True):
                # Redis has every process's counts up to its last sync; what this process counted
                # while the pipeline ran is not in it yet.
                self._counts[key] = max(self._counts.get(key, 0), int(total) + self._unsynced.get(key, 0))
