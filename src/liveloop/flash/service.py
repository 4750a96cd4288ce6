"""Flash deals: announced early to holders of the `early_notice` privilege, on time to everyone else.

Creating a deal plans two scheduled jobs (`flash.notice`, slots "<deal>:early" and "<deal>:start").
When one is due, its notice is logged in the campaign's event log as a `flash_deal` event (once:
the state remembers which were logged, and the event's id is the deal's and phase's), with the
holders of `early_notice` at that place in the log. Every process applies it (the one that logged
it, the others as they catch up) and pushes `flash_deal` to the viewers connected to it, so each
viewer hears of each phase once, across restarts and processes (flash/notices.py).
"""

from __future__ import annotations

import sqlalchemy as sa

from liveloop.engine.model import FLASH_DEAL, Event
from liveloop.engine.state import CampaignState
from liveloop.events.actions import LoggedActions
from liveloop.events.gate import CampaignGate
from liveloop.events.live import LiveCampaign
from liveloop.flash.models import flash_deals
from liveloop.kit.db.database import Database
from liveloop.kit.errors import Conflict, NotFound
from liveloop.kit.times import iso
from liveloop.scheduler import repository as jobs
from liveloop.scheduler.repository import Planned

FLASH_NOTICE = "flash.notice"
PHASES = ("early", "start")
f = flash_deals.c


def due_at(deal: dict, phase: str) -> int:
    return deal["starts_at_ms"] - (deal["early_ms"] if phase == "early" else 0)


def _read(row) -> dict:
    return {"id": row.id, "title": row.title, "starts_at": iso(row.starts_at), "early_minutes": row.early_ms / 60_000,
            "early_at": iso(row.starts_at - row.early_ms),
            "ends_at": iso(row.ends_at) if row.ends_at is not None else None,
            "starts_at_ms": row.starts_at, "early_ms": row.early_ms, "ends_at_ms": row.ends_at}


def public(deal: dict) -> dict:
    return {k: v for k, v in deal.items() if not k.endswith("_ms")}


def create(conn: sa.Connection, *, tenant_id: str, campaign_id: str, deal_id: str, title: str, starts_at: int,
           early_ms: int, now: int, ends_at: int | None = None) -> dict:
    exists = conn.execute(sa.select(f.id).where(f.tenant_id == tenant_id, f.campaign_id == campaign_id,
                                                f.id == deal_id)).first()
    if exists is not None:
        raise Conflict(f"flash deal {deal_id!r} already exists", code="flash_deal.exists", field="id")
    conn.execute(flash_deals.insert().values(tenant_id=tenant_id, campaign_id=campaign_id, id=deal_id, title=title,
                                             starts_at=starts_at, early_ms=early_ms, ends_at=ends_at,
                                             created_at=now))
    deal = get(conn, tenant_id=tenant_id, campaign_id=campaign_id, deal_id=deal_id)
    jobs.schedule(conn, tenant_id=tenant_id, campaign_id=campaign_id, now=now,
                  jobs=[Planned(FLASH_NOTICE, f"{deal_id}:{phase}", due_at(deal, phase)) for phase in PHASES])
    return deal


def get(conn: sa.Connection, *, tenant_id: str, campaign_id: str, deal_id: str) -> dict:
    row = conn.execute(sa.select(f.id, f.title, f.starts_at, f.early_ms, f.ends_at).where(
        f.tenant_id == tenant_id, f.campaign_id == campaign_id, f.id == deal_id)).first()
    if row is None:
        raise NotFound(f"flash deal {deal_id!r} not found", code="flash_deal.not_found")
    return _read(row)


def listed(conn: sa.Connection, *, tenant_id: str, campaign_id: str) -> list[dict]:
    rows = conn.execute(sa.select(f.id, f.title, f.starts_at, f.early_ms, f.ends_at).where(
        f.tenant_id == tenant_id, f.campaign_id == campaign_id).order_by(f.starts_at, f.id))
    return [_read(row) for row in rows]


class FlashDeals:
    def __init__(self, db: Database, gate: CampaignGate, actions: LoggedActions) -> None:
        self._db = db
        self._gate = gate
        self._actions = actions
        self._deals: dict[tuple[str, str, str], dict] = {}  # deals never change: cached once read

    async def deal(self, tenant_id: str, campaign_id: str, deal_id: str) -> dict:
        key = (tenant_id, campaign_id, deal_id)
        found = self._deals.get(key)
        if found is None:
            found = self._deals[key] = await self._db.read(
                lambda conn: get(conn, tenant_id=tenant_id, campaign_id=campaign_id, deal_id=deal_id))
        return found

    async def running_for(self, tenant_id: str, state: CampaignState, user_id: str, *, now: int) -> list[dict]:
        """The deals announced to the viewer (started, or told early to a holder of early_notice) that
        have not ended: what their widget shows when it opens after the stream's `flash_deal`."""
        sent = state.social.flash_sent  # (deal, phase) -> the holders of early_notice when it was logged
        running = []
        for deal_id in sorted({d for d, _phase in sent}):
            # the early phase only to who held early_notice when it was sent, as the stream told them
            phase = ("start" if (deal_id, "start") in sent
                     else "early" if user_id in sent.get((deal_id, "early"), ()) else None)
            if phase is None:
                continue
            deal = await self.deal(tenant_id, state.config.id, deal_id)
            if deal["ends_at_ms"] is None or deal["ends_at_ms"] > now:
                running.append({"phase": phase, **public(deal)})
        return running

    async def notice_due(self, tenant_id: str, campaign_id: str, slot: str, *, now: int) -> int | None:
        """Log the phase's notice if it is due and not logged yet; returns when to look again (None: done)."""
        deal_id, _, phase = slot.rpartition(":")
        deal = await self.deal(tenant_id, campaign_id, deal_id)
        due = due_at(deal, phase)
        if now < due:
            return due

        def decide(live: LiveCampaign) -> Event | None:
            if (deal_id, phase) in live.state.social.flash_sent or live.state.config.cancelled:
                return None
            return Event(f"flash:{campaign_id}:{deal_id}:{phase}", FLASH_DEAL, None, now, deal_id, phase)

        await self._actions.act(tenant_id, campaign_id, decide, now=now)
        return None
