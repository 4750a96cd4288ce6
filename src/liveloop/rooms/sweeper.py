"""The presence sweeper: closes silent widget presences and records watch time that nobody reports.

Runs every few seconds in each process (started in the app's lifespan) and logs what it decides
as events through ingestion, under deterministic ids, so a replay gives the same result and two
processes deciding the same thing store it once (with Redis, the shared presence book also lets
only one process claim each silent viewer, and any process claims those whose beats went to a
process that has died):
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
from typing import TYPE_CHECKING

from liveloop.events.live import LiveCampaign
from liveloop.kit import clock
from liveloop.kit.background import cancel_and_wait
from liveloop.kit.db.writer import WriterFailed
from liveloop.kit.errors import LiveloopError, NotFound
from liveloop.kit.times import iso
from liveloop.rooms.presence import Campaign, Claim, presence_event_id, timeout_at
from liveloop.rooms.receiver import event_id

if TYPE_CHECKING:
    from liveloop.events.gate import CampaignGate
    from liveloop.events.ingest import Ingestor
    from liveloop.rooms.presence import PresenceBook
    from liveloop.rooms.shared_presence import SharedPresenceBook

log = logging.getLogger("liveloop.rooms")

CHECKPOINT_GRACE_MS = 10_000
UNKNOWN_CAMPAIGN_MS = 60_000


class PresenceSweeper:
    def __init__(self, campaigns: CampaignGate, ingestor: Ingestor, book: PresenceBook | SharedPresenceBook, *,
                 timeout_seconds: int, sweep_seconds: float) -> None:
        self._campaigns = campaigns
        self._ingestor = ingestor
        self._book = book
        self._timeout_ms = timeout_seconds * 1000
        self._every = sweep_seconds
        self._task: asyncio.Task | None = None
        self._unknown: dict[Campaign, int] = {}  # campaigns of another deployment, until when to skip them

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            try:
                await self.sweep(clock.now_ms())
            except (LiveloopError, WriterFailed) as exc:
                log.warning("presence sweep failed, trying again next time: %s", exc)
            except Exception:
                log.exception("presence sweep failed")

    async def sweep(self, now: int) -> int:
        """One pass; returns how many events were accepted."""
        by_tenant: dict[str, list[dict]] = {}
        claims_by_tenant: dict[str, list[tuple[Campaign, list[Claim]]]] = {}
        for tenant_id, campaign, claims, events in await self._timeouts(now):
            claims_by_tenant.setdefault(tenant_id, []).append((campaign, claims))
            by_tenant.setdefault(tenant_id, []).extend(events)
        for tenant_id, event in await self._checkpoints(now):
            by_tenant.setdefault(tenant_id, []).append(event)
        accepted = 0
        failure: BaseException | None = None
        for tenant_id, events in by_tenant.items():
            logged = False
            try:
                result = await self._ingestor.ingest(tenant_id, events, now=now)
                logged = True
                accepted += result.accepted
                if result.rejected:
                    log.warning("presence sweep events refused: %s", result.rejected)
            except (LiveloopError, WriterFailed) as exc:
                failure = failure or exc
            finally:
                # Not logged: the viewers go back to the book, and the next sweep tries again.
                for campaign, claims in claims_by_tenant.get(tenant_id, ()):
                    await self._book.settle(campaign, claims, logged=logged)
        if failure is not None:
            raise failure
        return accepted

    async def _timeouts(self, now: int) -> list[tuple[str, Campaign, list[Claim], list[dict]]]:
        """The silent widget viewers, claimed (so no other process times them out too), and their timeouts."""
        book = self._book
        before = now - self._timeout_ms
        found = []
        for campaign in await book.campaigns_due(before, now):
            if self._campaigns.peek(*campaign) is None:
                # Not loaded here: a process that has it loaded (it took the viewers' beats or
                # serves their streams) times them out. Only viewers silent for twice the timeout,
                # whose process is gone, make this one load the campaign and replay its log.
                if not await self._known(campaign, now):
                    continue
                claims = await book.claim(campaign, before - (now - before), now)
                if not claims:
                    continue
                live = await self._campaign(campaign, now)
                if live is None:
                    await book.settle(campaign, claims, logged=False)
                    continue
            else:
                live = await self._campaign(campaign, now)
                if live is None:
                    continue
                claims = await book.claim(campaign, before, now)
            tenant_id, campaign_id = campaign
            events = []
            for claim in claims:
                presence = live.state.presence_of(claim.user_id)
                if presence is None or not presence.open:
                    continue
                events.append({
                    "id": presence_event_id(campaign_id, claim.user_id, "timeout", str(claim.last)),
                    "type": "room_timeout", "campaign_id": campaign_id, "user_id": claim.user_id,
                    "at": iso(timeout_at(claim.last, now))})
            if events:
                found.append((tenant_id, campaign, claims, events))
            elif claims:
                await book.settle(campaign, claims, logged=True)  # nothing to log: their presences are closed
        return found

    async def _known(self, campaign: Campaign, now: int) -> bool:
        """Whether the campaign exists in this deployment (its body only: nothing is replayed)."""
        if self._unknown.get(campaign, 0) > now:
            return False
        try:
            await self._campaigns.body(*campaign)
        except NotFound:
            self._forget(campaign, now)
            return False
        except (LiveloopError, WriterFailed):
            return False
        return True

    def _forget(self, campaign: Campaign, now: int) -> None:
        self._unknown[campaign] = now + UNKNOWN_CAMPAIGN_MS
        if len(self._unknown) > 10_000:
            self._unknown = {k: v for k, v in self._unknown.items() if v > now}

    async def _campaign(self, campaign: Campaign, now: int) -> LiveCampaign | None:
        """The campaign caught up with the log, or None when this deployment does not know it.

        The shared book may name campaigns of another deployment on the same Redis: they are left
        alone (their own sweepers claim their viewers) and not looked up again for a minute.
        """
        if self._unknown.get(campaign, 0) > now:
            return None
        try:
            return await self._campaigns.get(*campaign)
        except NotFound:
            self._forget(campaign, now)
            return None
        except (LiveloopError, WriterFailed) as exc:
            log.warning("presence sweep skips campaign %s this time: %s", campaign[1], exc)
            return None

    async def _checkpoints(self, now: int) -> list[tuple[str, dict]]:
        found = []
        for tenant_id, campaign_id in self._campaigns.loaded():
            live = self._campaigns.peek(tenant_id, campaign_id)
            if live is None or not live.state.config.min_watch_ms or not live.state.present or \
                    live.state.config.cancelled:
                continue
            state = live.state
            waiting = [user_id for user_id in sorted(state.present) if state.watch_due(user_id) is not None]
            if not waiting:
                continue
            # Widget viewers' own beats prove their watch time.
            beating = await self._book.beating((tenant_id, campaign_id), waiting)
            for user_id in waiting:
                if user_id in beating:
                    continue
                due = state.watch_due(user_id)
                if due is not None and due + CHECKPOINT_GRACE_MS <= now:
                    found.append((tenant_id, {
                        "id": event_id("watch", campaign_id, user_id, str(due)), "type": "room_heartbeat",
                        "campaign_id": campaign_id, "user_id": user_id, "at": iso(due)}))
        return found
