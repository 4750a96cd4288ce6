"""A Redis connection for state that several processes share on a request's path (presence beats,
Agora notice order), which must never hold a request up for long when Redis is away.

Each call has a short timeout and no retries. After a failure the guard stops trying for a couple
of seconds (a request meanwhile does not wait on a dead connection again) and the caller falls
back to its process's own memory; the first failure and the recovery are logged once each.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from liveloop.ops import metrics

log = logging.getLogger("liveloop.redis")

T = TypeVar("T")


class RedisAway(Exception):
    """Redis did not answer (or is being left alone after a recent failure)."""


class RedisGuard:
    def __init__(self, url: str, *, what: str, use: str, timeout: float = 0.5, pause: float = 2.0) -> None:
        self._url = url
        self._what = what  # for the log: what runs on process memory while Redis is away
        self._use = use  # the same in a word, for metrics and log fields
        self._up = metrics.REDIS_UP.labels(use)
        self._up.set(1)
        self._timeout = timeout
        self._pause = pause
        self._paused_until = 0.0
        self._away = False
        self.client = None

    def connect(self):
        """The client (created on first use: it binds to the running event loop)."""
        if self.client is None:
            self.client = redis.from_url(self._url, socket_timeout=self._timeout,
                                         socket_connect_timeout=self._timeout, retry=Retry(NoBackoff(), 0),
                                         health_check_interval=30)
        return self.client

    @property
    def available(self) -> bool:
        """False while the guard leaves Redis alone after a failure."""
        return time.monotonic() >= self._paused_until

    async def call(self, operation: Callable[[object], Awaitable[T]]) -> T:
        """`operation(client)`, or RedisAway when Redis fails or was failing a moment ago."""
        if not self.available:
            raise RedisAway(f"Redis was unreachable less than {self._pause:g} s ago")
        try:
            result = await operation(self.connect())
        except (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError) as exc:
            self._paused_until = time.monotonic() + self._pause
            if not self._away:
                self._away = True
                self._up.set(0)
                log.warning("Redis unreachable (%s): %s use this process's memory until it is back",
                            exc.__class__.__name__, self._what, extra={"event": "redis_away", "use": self._use})
            raise RedisAway(str(exc)) from exc
        if self._away:
            self._away = False
            self._up.set(1)
            log.warning("Redis is back: %s are shared again", self._what,
                        extra={"event": "redis_back", "use": self._use})
        return result

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()
            self.client = None


class RedisPing:
    """Whether Redis answers a PING in time (readiness); a connection of its own, none of the guards'."""

    def __init__(self, url: str, *, timeout: float = 1.0) -> None:
        self._url = url
        self._timeout = timeout
        self._client = None

    async def __call__(self) -> str | None:
        if self._client is None:
            self._client = redis.from_url(self._url, socket_timeout=self._timeout,
                                          socket_connect_timeout=self._timeout, retry=Retry(NoBackoff(), 0))
        try:
            await self._client.ping()
        except (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError):
            return "redis unreachable"
        return None

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
