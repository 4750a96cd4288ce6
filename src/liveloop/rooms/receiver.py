"""Streaming-provider notices to room events, through the one ingestion path.

Every event gets an id derived from the provider's own notice id (and the campaign, since one
channel may serve several campaigns), so a notice delivered twice is a duplicate for ingestion:
acknowledged, changing nothing.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from liveloop.events.gate import CampaignGate
from liveloop.events.ingest import Ingestor
from liveloop.kit.times import iso
from liveloop.rooms.directory import Rooms

log = logging.getLogger("liveloop.rooms")


@dataclass(frozen=True, slots=True)
class Source:
    """Where notices come from: one integration endpoint of one tenant."""

    tenant_id: str
    provider: str
    integration_id: str


def event_id(*parts: str) -> str:
    """A deterministic event id within the 128-character limit."""
    raw = ":".join(parts)
    if len(raw) <= 128:
        return raw
    return f"{parts[0]}:sha256:{hashlib.sha256(raw.encode()).hexdigest()}"


class RoomReceiver:
    """Streaming providers' notices become room events, ingested like any batch."""

    def __init__(self, rooms: Rooms, campaigns: CampaignGate, ingestor: Ingestor) -> None:
        self._rooms = rooms
        self._campaigns = campaigns
        self._ingestor = ingestor

    async def notice(self, source: Source, *, channel: str, key: str, kind: str, provider_uid: str, at: int,
                     now: int) -> dict:
        """A join or leave (`kind`) of one provider user in a channel, at the provider's event time."""
        bindings = await self._rooms.directory.bound(source.tenant_id, source.provider, channel, at, now)
        if not bindings:
            return _unbound(source, channel, key)
        campaign_ids = [b.campaign_id for b in bindings]
        await self._rooms.users.load(source.tenant_id, campaign_ids, now)
        events = [{
            "id": event_id(source.provider, source.integration_id, cid, key),
            "type": kind,
            "campaign_id": cid,
            "user_id": self._rooms.users.resolve(source.tenant_id, cid, provider_uid),
            "at": iso(at),
        } for cid in campaign_ids]
        return await self._ingest(source, events, now)

    async def room_finished(self, source: Source, *, channel: str, key: str, at: int, now: int) -> dict:
        """The room ended: every presence still open in its campaigns is closed at `at`."""
        bindings = await self._rooms.directory.bound(source.tenant_id, source.provider, channel, at, now)
        if not bindings:
            return _unbound(source, channel, key)
        events = []
        for binding in bindings:
            live = await self._campaigns.get(source.tenant_id, binding.campaign_id)
            events.extend({
                "id": event_id(source.provider, source.integration_id, binding.campaign_id, key, user_id),
                "type": "room_end",
                "campaign_id": binding.campaign_id,
                "user_id": user_id,
                "at": iso(at),
            } for user_id in sorted(live.state.present))
        if not events:
            return {"ok": True, "accepted": 0, "duplicates": 0}
        return await self._ingest(source, events, now)

    async def _ingest(self, source: Source, events: list[dict], now: int) -> dict:
        result = await self._ingestor.ingest(source.tenant_id, events, now=now)
        reply = {"ok": True, "accepted": result.accepted, "duplicates": result.duplicates}
        if result.rejected:
            # Answered 200 all the same: the provider would retry a notice that can never be stored.
            log.warning("%s notice refused by ingestion (integration %s): %s", source.provider,
                        source.integration_id, result.rejected)
            reply["rejected"] = result.rejected
        return reply


def _unbound(source: Source, channel: str, key: str) -> dict:
    # Acknowledged, or the provider would retry it for nothing.
    log.info("%s notice %s for channel %r ignored: no campaign of tenant %s binds it at that time",
             source.provider, key, channel, source.tenant_id)
    return {"ok": True, "ignored": "no campaign binds this channel at that time"}
