"""Live campaigns: each campaign's engine state, kept in memory and rebuilt from its event log.

All state is read and advanced on the event loop thread only, so the engine needs no locks; the
database work (loading, writing) happens in threads and is awaited.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import sqlalchemy as sa

from liveloop.campaigns import service as campaigns_service
from liveloop.engine.model import Event
from liveloop.engine.state import CampaignState
from liveloop.events.models import events
from liveloop.invites.models import invites
from liveloop.kit.db.database import Database
from liveloop.kit.errors import NotFound
from liveloop.kit.ids import CAMPAIGN_ID

REPLAY_CHUNK = 20_000


@dataclass(slots=True)
class LiveCampaign:
    body: dict  # the campaign as the API returns it
    state: CampaignState


class LiveCampaigns:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._live: dict[tuple[str, str], LiveCampaign] = {}
        self._loading: dict[tuple[str, str], asyncio.Future] = {}

    async def get(self, tenant_id: str, campaign_id: str) -> LiveCampaign:
        """The live campaign, loaded on first use; NotFound for an unknown (or other tenant's) id."""
        key = (tenant_id, campaign_id)
        live = self._live.get(key)
        if live is not None:
            return live
        if not CAMPAIGN_ID.match(campaign_id):
            raise NotFound(f"campaign {campaign_id!r} not found", field="campaign_id")
        pending = self._loading.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._db.read(lambda conn: load(conn, tenant_id, campaign_id)))
            self._loading[key] = pending
            try:
                live = await pending
            finally:
                self._loading.pop(key, None)
            if live is not None:
                self._live[key] = live
        else:
            live = await asyncio.shield(pending)
            live = self._live.get(key, live)
        if live is None:
            raise NotFound(f"campaign {campaign_id!r} not found", field="campaign_id")
        return live

    def peek(self, tenant_id: str, campaign_id: str) -> LiveCampaign | None:
        return self._live.get((tenant_id, campaign_id))

    def add(self, tenant_id: str, live: LiveCampaign) -> None:
        self._live[(tenant_id, live.body["id"])] = live

    def drop_all(self) -> None:
        """After a failed write: forget derived state; it is rebuilt from the log on next use."""
        self._live.clear()


def load(conn: sa.Connection, tenant_id: str, campaign_id: str) -> LiveCampaign | None:
    """Rebuild a campaign's state by replaying its events in log order."""
    body = campaigns_service.get(conn, tenant_id=tenant_id, campaign_id=campaign_id)
    if body is None:
        return None
    codes = dict(
        conn.execute(
            sa.select(invites.c.code, invites.c.user_id).where(
                invites.c.tenant_id == tenant_id, invites.c.campaign_id == campaign_id
            )
        ).all()
    )
    state = CampaignState(campaigns_service.to_config(tenant_id, body), codes)
    replay(conn, state)
    return LiveCampaign(body, state)


def replay(conn: sa.Connection, state: CampaignState) -> None:
    """Apply the campaign's logged events after `state.last_seq`, each with its own `received_at`."""
    cfg = state.config
    cols = events.c
    query = (
        sa.select(cols.seq, cols.id, cols.type, cols.user_id, cols.at, cols.ref, cols.order_id, cols.amount,
                  cols.currency, cols.value, cols.received_at)
        .where(cols.tenant_id == cfg.tenant_id, cols.campaign_id == cfg.id, cols.seq > sa.bindparam("after"))
        .order_by(cols.seq)
        .limit(REPLAY_CHUNK)
    )
    while True:
        rows = conn.execute(query, {"after": state.last_seq}).all()
        for seq, eid, kind, uid, at, ref, order_id, amount, currency, value, received_at in rows:
            state.apply(Event(eid, kind, uid, at, ref, order_id, amount, currency, value), received_at)
            state.last_seq = seq
        if len(rows) < REPLAY_CHUNK:
            return
