"""Live campaigns: each campaign's engine state, kept in memory and rebuilt from its event log.

All state is read and advanced on the event loop thread only, so the engine needs no locks; the
database work (loading, writing) happens in threads and is awaited. How a process keeps its states
in step with other processes is the gate's business (events/gate.py), chosen once at start-up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from liveloop.engine.state import CampaignState
from liveloop.events.store import EventStore
from liveloop.kit import clock
from liveloop.kit.errors import Conflict, NotFound
from liveloop.kit.ids import CAMPAIGN_ID
from liveloop.ops import metrics

log = logging.getLogger("liveloop.campaigns")


@dataclass(slots=True)
class LiveCampaign:
    body: dict  # the campaign as the API returns it
    state: CampaignState
    # The log position of this process's last write of the board to Redis (None: rebuild it), and
    # the rebuild being sent aside, if any (leaderboards/shared.py).
    board_seq: int | None = -1
    board_rebuild: asyncio.Task | None = None
    board_behind: int | None = None  # the position seen when the copy was last found behind it
    # Events other processes logged that this state caught up with: the ingestor checks a batch's
    # event ids against the log before taking the campaign's lock, and again under it only if this moved.
    caught_up: int = 0


class LiveCampaigns:
    """The campaigns this process has loaded, each loaded once however many requests ask at once."""

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self._live: dict[tuple[str, str], LiveCampaign] = {}
        self._bodies: dict[tuple[str, str], dict] = {}
        self._loading: dict[tuple[str, str], asyncio.Future] = {}
        # How often each campaign (and every campaign: `_dropped_all`) was dropped: a load that a drop
        # overtook may have read what the drop was for (an erasure committing) and is read again.
        self._dropped: dict[tuple[str, str], int] = {}
        self._dropped_all = 0

    async def _load(self, tenant_id: str, campaign_id: str):
        """The campaign's state read from the log (and its latest snapshot); None for an unknown campaign."""
        return await self._store.load(tenant_id, campaign_id)

    async def get_uncaught(self, tenant_id: str, campaign_id: str) -> LiveCampaign:
        """The live campaign as this process last saw it, without catching up with other processes
        (SharedGate's fan-out does, within moments): its existence, or its body on a hot path."""
        key = (tenant_id, campaign_id)
        while True:
            live = self._live.get(key)
            if live is not None:
                return live
            if not CAMPAIGN_ID.match(campaign_id):
                raise unknown_campaign(campaign_id)
            pending = self._loading.get(key)
            if pending is not None:  # another request loads it: its outcome, or a load of our own if dropped
                loaded = await asyncio.shield(pending)
                if loaded is None:
                    raise unknown_campaign(campaign_id)
                if self._loading.get(key) is pending:
                    await asyncio.sleep(0)  # its loader, woken in the same turn, has yet to keep it
                continue
            pending = asyncio.ensure_future(self._load(tenant_id, campaign_id))
            self._loading[key] = pending
            dropped = self._drops(key)
            started = clock.monotonic()
            try:
                loaded = await pending
            finally:
                if self._loading.get(key) is pending:
                    del self._loading[key]
            if loaded is None:
                raise unknown_campaign(campaign_id)
            if self._drops(key) != dropped:
                continue  # dropped while it was read: read again
            live = LiveCampaign(*loaded)
            self._adopt(key, live)
            seconds = clock.monotonic() - started
            metrics.REPLAY_SECONDS.observe(seconds)
            log.info("campaign %s replayed from the log in %.3f s", campaign_id, seconds,
                     extra={"event": "campaign_replayed", "tenant_id": tenant_id, "campaign_id": campaign_id,
                            "log_position": live.state.last_seq, "seconds": round(seconds, 3)})
            return live

    def _drops(self, key: tuple[str, str]) -> tuple[int, int]:
        return self._dropped_all, self._dropped.get(key, 0)

    def loaded(self) -> list[tuple[str, str]]:
        return list(self._live)

    def count(self) -> int:
        """How many campaigns are loaded (safe to call from another thread: one len())."""
        return len(self._live)

    def peek(self, tenant_id: str, campaign_id: str) -> LiveCampaign | None:
        return self._live.get((tenant_id, campaign_id))

    def add(self, tenant_id: str, live: LiveCampaign) -> None:
        """A campaign just created: kept unless a request already loaded it (with its events)."""
        key = (tenant_id, live.body["id"])
        if key not in self._live:
            self._adopt(key, live)

    def _adopt(self, key: tuple[str, str], live: LiveCampaign) -> None:
        self._live[key] = live

    async def body(self, tenant_id: str, campaign_id: str) -> dict:
        """The campaign as stored, without loading its state; NotFound if unknown.

        For what never changes (market, currency, time zone, leaderboard, waivers): a campaign not
        loaded here keeps the body first read, however it changes later. What a change may touch
        is read from the live campaign (`get`).
        """
        key = (tenant_id, campaign_id)
        live = self._live.get(key)
        if live is not None:
            return live.body
        body = self._bodies.get(key)
        if body is None:
            if not CAMPAIGN_ID.match(campaign_id):
                raise unknown_campaign(campaign_id)
            body = await self._store.body(tenant_id, campaign_id)
            if body is None:
                raise unknown_campaign(campaign_id)
            self._bodies[key] = body
        return body

    def drop(self, keys: Iterable[tuple[str, str]] | None) -> None:
        """After a failed write: forget these campaigns' states (None: every one); each is rebuilt
        from the log on next use."""
        if keys is None:
            self._live.clear()
            self._loading.clear()
            self._dropped_all += 1
        for key in keys or ():
            self._live.pop(key, None)
            self._loading.pop(key, None)  # a request after the drop starts a load of its own
            self._dropped[key] = self._dropped.get(key, 0) + 1


def refuse_cancelled(live: LiveCampaign) -> None:
    """What would act for a cancelled campaign (invites, draws) is refused, naming it."""
    if live.state.config.cancelled:
        raise Conflict(f"campaign {live.state.config.id!r} was cancelled at {live.body.get('cancelled_at')}",
                       code="campaign.cancelled")


def unknown_campaign(campaign_id: str) -> NotFound:
    return NotFound(f"campaign {campaign_id!r} not found", field="campaign_id")
