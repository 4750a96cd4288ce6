"""The scheduled job of a flash deal's notices (flash/service.py), run by any process's scheduler."""

from __future__ import annotations

from liveloop.flash.service import FLASH_NOTICE, FlashDeals
from liveloop.kit.errors import NotFound
from liveloop.scheduler.repository import Job
from liveloop.scheduler.worker import Handler, Outcome


class FlashJobs:
    def __init__(self, deals: FlashDeals) -> None:
        self._deals = deals

    def handlers(self) -> dict[str, Handler]:
        return {FLASH_NOTICE: self.notice}

    async def notice(self, job: Job, now: int) -> Outcome:
        try:
            again = await self._deals.notice_due(job.tenant_id, job.campaign_id, job.slot, now=now)
        except NotFound:
            return Outcome()  # the campaign or the deal is gone
        return Outcome(next_at=again)
