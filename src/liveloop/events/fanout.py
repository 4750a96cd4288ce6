"""Fan-out between processes: viewers connected to one process hear of events logged by another.

Every process keeps its own engine state, caught up with the shared log (events/gate.py). After a
process commits events of a campaign it announces it on Redis (`liveloop:logged`, the campaign's
key); every other process that has the campaign loaded catches up at once, which pushes the
resulting messages to the viewers connected to it. Redis pub/sub may drop a message (a
reconnect, a slow consumer), so each process also catches up its loaded campaigns every few
seconds; without Redis that poll, twice a second, is the only way and still within a second.
The same poll repairs Redis's copy of a leaderboard that is behind the log (leaderboards/shared.py).

What a room shows beside the log (the host's question queue) changes without a logged event: the
process where it changed announces the campaign on `liveloop:touched`, and every other process
calls its `touched` listeners (the room streams take a new snapshot). Without Redis the other
processes see it at the room's next snapshot.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING

import orjson

from liveloop.ops import metrics

if TYPE_CHECKING:
    from liveloop.events.gate import SharedGate

log = logging.getLogger("liveloop.fanout")

CHANNEL = "liveloop:logged"
TOUCHED = "liveloop:touched"


class LogFanout:
    def __init__(self, live: SharedGate, *, redis_url: str | None) -> None:
        self._live = live
        self._redis_url = redis_url
        self._redis = None
        self._tasks: list[asyncio.Task] = []
        self.poll_seconds = 5.0 if redis_url else 0.5
        self.touched_listeners: list[Callable[[str, str], None]] = []
        self._origin = secrets.token_hex(8)  # this process's announcements come back to it: skipped

    async def start(self) -> None:
        if self._redis_url:
            import redis.asyncio as redis

            self._redis = redis.from_url(self._redis_url)
            self._tasks.append(asyncio.ensure_future(self._listen()))
        self._tasks.append(asyncio.ensure_future(self._poll()))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._redis is not None:
            await self._redis.aclose()

    def logged(self, tenant_id: str, campaign_id: str, position: int) -> None:
        """This process just committed events of the campaign, up to log position `position`."""
        if self._redis is not None:
            task = asyncio.ensure_future(self._announce(tenant_id, campaign_id, position))
            task.add_done_callback(_log_failure)

    async def _announce(self, tenant_id: str, campaign_id: str, position: int) -> None:
        await self._redis.publish(CHANNEL, orjson.dumps([tenant_id, campaign_id, position]))

    def touched(self, tenant_id: str, campaign_id: str) -> None:
        """Something the campaign's room shows changed here outside the log: tell the other processes."""
        if self._redis is not None:
            task = asyncio.ensure_future(
                self._redis.publish(TOUCHED, orjson.dumps([tenant_id, campaign_id, self._origin])))
            task.add_done_callback(_log_failure)

    def _on_touched(self, data: bytes) -> None:
        tenant_id, campaign_id, origin = orjson.loads(data)
        if origin == self._origin:
            return
        for listener in self.touched_listeners:
            try:
                listener(tenant_id, campaign_id)
            except Exception:  # noqa: BLE001 - one listener's failure does not stop the fan-out
                log.exception("a touched listener failed for campaign %s", campaign_id)

    async def _listen(self) -> None:
        up = metrics.REDIS_UP.labels("fanout")
        up.set(1)
        away = False  # the outage and the recovery are logged once each, not at every reconnection
        while True:
            try:
                pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                await pubsub.subscribe(CHANNEL, TOUCHED)
                if away:
                    away = False
                    up.set(1)
                    log.warning("Redis fan-out is back", extra={"event": "redis_back", "use": "fanout"})
                async for message in pubsub.listen():
                    if message["channel"] in (TOUCHED, TOUCHED.encode()):
                        self._on_touched(message["data"])
                        continue
                    tenant_id, campaign_id, *position = orjson.loads(message["data"])
                    live = self._live.peek(tenant_id, campaign_id)
                    if live is not None and position and live.state.last_seq >= position[0]:
                        continue  # this process's own events, or ones it has caught up with already
                    await self._catch_up(tenant_id, campaign_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - Redis away: the poll covers, and we reconnect
                if not away:
                    away = True
                    up.set(0)
                    log.warning("Redis fan-out interrupted; polling the log until it is back", exc_info=True,
                                extra={"event": "redis_away", "use": "fanout"})
                await asyncio.sleep(1.0)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            for tenant_id, campaign_id in self._live.loaded():
                await self._catch_up(tenant_id, campaign_id)
                try:
                    await self._live.repair_board(tenant_id, campaign_id)
                except Exception:  # noqa: BLE001 - the database may be briefly away; the next round retries
                    log.warning("could not check the leaderboard copy of campaign %s", campaign_id, exc_info=True)

    async def _catch_up(self, tenant_id: str, campaign_id: str) -> None:
        if self._live.peek(tenant_id, campaign_id) is None:
            return  # not loaded here: it will be caught up when first used
        try:
            await self._live.get(tenant_id, campaign_id)
        except Exception:  # noqa: BLE001 - the database may be briefly away; the next round retries
            log.warning("could not catch up campaign %s", campaign_id, exc_info=True)


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("could not announce logged events on Redis: %s", task.exception())
