"""`flash_deal` on viewers' streams: once per viewer and deal, also for viewers who connect later.

- When a notice is logged (a committed FlashDealDue), every process tells the viewers with a stream
  open on it: the early phase to the holders of `early_notice`, the start to everyone not told yet.
- When a viewer's stream opens while a deal runs (its phase was logged, neither it nor the campaign has ended),
  the viewer is told of it then: the start if it has started, the early phase if only that was sent
  and they held `early_notice` then.

Either way a viewer is told only when a row of `flash_deliveries` for (deal, viewer) could be written
first (an insert that ignores a row already there), so each viewer hears of each deal once, whichever
process they are on, across restarts, and when their stream opens just as the notice is sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable

import sqlalchemy as sa

from liveloop.engine.model import FlashDealDue
from liveloop.events.committed import Committed
from liveloop.events.gate import CampaignGate
from liveloop.flash.models import flash_deliveries
from liveloop.flash.service import FlashDeals, public
from liveloop.kit import clock
from liveloop.kit.db.database import Database
from liveloop.kit.db.dialect import insert_ignore

log = logging.getLogger("liveloop.flash")

ViewerPublish = Callable[[tuple[str, str, str], dict], None]
Viewers = Callable[[str, str], list[str]]
CHUNK = 500  # rows per insert (SQLite allows 32,766 parameters in one statement)
# (deal, viewer) pairs remembered as told, over the campaigns least recently told of. Only a saving:
# a pair forgotten costs one insert that finds its row already there, never a second notice.
MAX_REMEMBERED = 100_000


def claim(conn: sa.Connection, *, tenant_id: str, campaign_id: str, deal_id: str, phase: str, users: list[str],
          now: int) -> set[str]:
    """The users among `users` not told of the deal yet, now recorded as told."""
    d = flash_deliveries.c
    claimed: set[str] = set()
    for start in range(0, len(users), CHUNK):
        rows = [{"tenant_id": tenant_id, "campaign_id": campaign_id, "deal_id": deal_id, "user_id": user,
                 "phase": phase, "delivered_at": now} for user in users[start:start + CHUNK]]
        claimed.update(conn.execute(insert_ignore(conn.dialect.name, flash_deliveries).values(rows)
                                    .returning(d.user_id)).scalars())
    return claimed


class FlashNotices:
    def __init__(self, deals: FlashDeals, db: Database, campaigns: CampaignGate, publish: ViewerPublish,
                 viewers: Viewers) -> None:
        self._deals = deals
        self._db = db
        self._campaigns = campaigns
        self._publish = publish
        self._viewers = viewers
        self._tasks: set[asyncio.Task] = set()
        # (tenant, campaign) -> {(deal, user)} known to be told (here or elsewhere): a stream reopened
        # by a viewer told already costs no write. Bounded (MAX_REMEMBERED, least recently told
        # campaigns first) and emptied for a campaign found over.
        self._told: OrderedDict[tuple[str, str], set[tuple[str, str]]] = OrderedDict()
        self._remembered = 0

    def __call__(self, committed: Committed) -> None:
        for live, effect in committed.effects:
            if type(effect) is FlashDealDue:
                self._spawn(self._push(committed.tenant_id, live.state.config.id, effect))

    def opened(self, key: tuple[str, str, str]) -> None:
        """A viewer's stream opened on this process (the hub calls this): deals running they missed.

        Read from the state as this process has it (the stream loaded it), with no catch-up read per
        stream opened: a notice logged elsewhere and not applied here yet reaches this viewer by
        `_push` when it is, since the stream is open by then."""
        tenant_id, campaign_id, user_id = key
        live = self._campaigns.peek(tenant_id, campaign_id)
        if live is None:
            return
        state = live.state
        sent = state.social.flash_sent
        if not sent or state.config.cancelled or clock.now_ms() >= state.config.ends_at:
            self._forget(tenant_id, campaign_id)
            return  # no deal announced, or the live is over: nothing runs any more
        told = self._told.get((tenant_id, campaign_id), ())
        for deal_id in sorted({deal for deal, _phase in sent}):
            if (deal_id, user_id) in told:
                continue
            if (deal_id, "start") in sent:
                self._spawn(self._tell(tenant_id, campaign_id, deal_id, "start", [user_id]))
            elif user_id in sent.get((deal_id, "early"), ()):
                self._spawn(self._tell(tenant_id, campaign_id, deal_id, "early", [user_id]))

    def _remember(self, tenant_id: str, campaign_id: str, deal_id: str, users: list[str]) -> None:
        key = (tenant_id, campaign_id)
        told = self._told.get(key)
        if told is None:
            told = self._told[key] = set()
        else:
            self._told.move_to_end(key)
        before = len(told)
        told.update((deal_id, user) for user in users)
        self._remembered += len(told) - before
        while self._remembered > MAX_REMEMBERED and len(self._told) > 1:  # the campaign being told stays
            _key, oldest = self._told.popitem(last=False)
            self._remembered -= len(oldest)

    def _forget(self, tenant_id: str, campaign_id: str) -> None:
        told = self._told.pop((tenant_id, campaign_id), None)
        if told:
            self._remembered -= len(told)

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _push(self, tenant_id: str, campaign_id: str, due: FlashDealDue) -> None:
        viewers = self._viewers(tenant_id, campaign_id)
        users = [u for u in viewers if u in due.holders] if due.phase == "early" else viewers
        await self._tell(tenant_id, campaign_id, due.deal_id, due.phase, users)

    async def _tell(self, tenant_id: str, campaign_id: str, deal_id: str, phase: str, users: list[str]) -> None:
        if not users:
            return
        try:
            deal = await self._deals.deal(tenant_id, campaign_id, deal_id)
            now = clock.now_ms()
            if deal["ends_at_ms"] is not None and now >= deal["ends_at_ms"]:
                return  # over: the widget would take it down at once
            told = await self._db.write(lambda conn: claim(conn, tenant_id=tenant_id, campaign_id=campaign_id,
                                                           deal_id=deal_id, phase=phase, users=users, now=now))
        except Exception:  # noqa: BLE001 - a notice that cannot be read or recorded is logged, the others go on
            log.exception("flash deal %s of %s/%s could not be told", deal_id, tenant_id, campaign_id)
            return
        self._remember(tenant_id, campaign_id, deal_id, users)
        message = {"type": "flash_deal", "phase": phase, **public(deal)}
        for user in users:
            if user in told:
                self._publish((tenant_id, campaign_id, user), dict(message))
