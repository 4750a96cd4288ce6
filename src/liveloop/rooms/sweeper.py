"""The presence sweeper: closes silent widget presences and records watch time that nobody reports.

Runs every few seconds in each process (started in the app's lifespan) and logs what it decides
as events through ingestion, under deterministic ids, so a replay gives the same result and two
processes deciding the same thing store it once:
- a widget viewer silent for longer than the timeout gets a `room_timeout` at its last beat plus
  half a beat interval;
- a presence that no widget beats for (a provider's or a shop's join, whose leave has not come)
  gets a `room_heartbeat` at the very moment its watch time reaches the campaign's
  `min_watch_seconds`, once that moment is a grace period in the past, so that a leave that is
  only a little late still decides instead.
"""

from __future__ import annotations

import asyncio
import logging

from liveloop.kit import clock
from liveloop.kit.db.writer import WriterFailed
from liveloop.kit.errors import LiveloopError
from liveloop.kit.times import iso
from liveloop.realtime.presence import presence_event_id, timeout_at
from liveloop.rooms.receiver import event_id

log = logging.getLogger("liveloop.rooms")

CHECKPOINT_GRACE_MS = 10_000


class PresenceSweeper:
    def __init__(self, runtime) -> None:
        self._rt = runtime
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        every = self._rt.settings.presence_sweep_seconds
        while True:
            await asyncio.sleep(every)
            try:
                await self.sweep(clock.now_ms())
            except (LiveloopError, WriterFailed) as exc:
                log.warning("presence sweep failed, trying again next time: %s", exc)
            except Exception:
                log.exception("presence sweep failed")

    async def sweep(self, now: int) -> int:
        """One pass; returns how many events were accepted."""
        by_tenant: dict[str, list[dict]] = {}
        for tenant_id, event in [*self._timeouts(now), *self._checkpoints(now)]:
            by_tenant.setdefault(tenant_id, []).append(event)
        accepted = 0
        for tenant_id, events in by_tenant.items():
            result = await self._rt.ingestor.ingest(tenant_id, events, now=now)
            accepted += result.accepted
            if result.rejected:
                log.warning("presence sweep events refused: %s", result.rejected)
        return accepted

    def _timeouts(self, now: int) -> list[tuple[str, dict]]:
        rt = self._rt
        found = []
        for key, last in rt.presence.silent(now - rt.settings.presence_timeout_seconds * 1000):
            rt.presence.forget(key)
            tenant_id, campaign_id, user_id = key
            live = rt.live.peek(tenant_id, campaign_id)
            presence = live.state.presence_of(user_id) if live is not None else None
            if presence is None or not presence.open:
                continue
            at = timeout_at(last, now)
            found.append((tenant_id, {
                "id": presence_event_id(campaign_id, user_id, "timeout", str(last)), "type": "room_timeout",
                "campaign_id": campaign_id, "user_id": user_id, "at": iso(at)}))
        return found

    def _checkpoints(self, now: int) -> list[tuple[str, dict]]:
        rt = self._rt
        found = []
        for tenant_id, campaign_id in rt.live.loaded():
            live = rt.live.peek(tenant_id, campaign_id)
            if live is None or not live.state.config.min_watch_ms or not live.state.present:
                continue
            state = live.state
            for user_id in sorted(state.present):
                if rt.presence.last_seen((tenant_id, campaign_id, user_id)) is not None:
                    continue  # a widget viewer: its own beats prove its watch time
                due = state.watch_due(user_id)
                if due is not None and due + CHECKPOINT_GRACE_MS <= now:
                    found.append((tenant_id, {
                        "id": event_id("watch", campaign_id, user_id, str(due)), "type": "room_heartbeat",
                        "campaign_id": campaign_id, "user_id": user_id, "at": iso(due)}))
        return found
