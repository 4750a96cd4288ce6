"""`flash_deal` on viewers' streams: a subscriber of committed effects (FlashDealDue).

Early: to the holders of `early_notice` connected here. At the start: to every viewer of the
campaign connected here who was not told early. Each process pushes to its own viewers, once per
logged notice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from liveloop.engine.model import FlashDealDue
from liveloop.events.committed import Committed
from liveloop.flash.service import FlashDeals, public

log = logging.getLogger("liveloop.flash")

ViewerPublish = Callable[[tuple[str, str, str], dict], None]
Viewers = Callable[[str, str], list[str]]


class FlashNotices:
    def __init__(self, deals: FlashDeals, publish: ViewerPublish, viewers: Viewers) -> None:
        self._deals = deals
        self._publish = publish
        self._viewers = viewers
        self._tasks: set[asyncio.Task] = set()

    def __call__(self, committed: Committed) -> None:
        for live, effect in committed.effects:
            if type(effect) is FlashDealDue:
                task = asyncio.get_running_loop().create_task(
                    self._push(committed.tenant_id, live.state.config.id, effect))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _push(self, tenant_id: str, campaign_id: str, due: FlashDealDue) -> None:
        try:
            deal = await self._deals.deal(tenant_id, campaign_id, due.deal_id)
        except Exception:  # noqa: BLE001 - a notice that cannot be read is logged, the others go on
            log.exception("flash deal %s of %s/%s could not be read", due.deal_id, tenant_id, campaign_id)
            return
        if due.phase == "early":
            users = [u for u in self._viewers(tenant_id, campaign_id) if u in due.holders]
        else:
            users = [u for u in self._viewers(tenant_id, campaign_id) if u not in due.holders]
        message = {"type": "flash_deal", "phase": due.phase, **public(deal)}
        for user in users:
            self._publish((tenant_id, campaign_id, user), dict(message))
