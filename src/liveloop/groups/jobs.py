"""The scheduled job that fails a group buy whose window has closed (wall time).

Planned with the group (groups/service.py), due at its `expires_at`, run by the scheduler of any
process (scheduler/worker.py). The failure is a logged `group_fail` event written with its
`group.failed` message (groups/messages.py), decided under the campaign's hold: a group completed
meanwhile stays completed, and a job run twice (a lost lease, a restart) finds the group failed
already and writes nothing.
"""

from __future__ import annotations

from liveloop.groups.service import Groups
from liveloop.groups.views import GROUP_EXPIRY
from liveloop.kit.errors import NotFound
from liveloop.scheduler.repository import Job
from liveloop.scheduler.worker import Handler, Outcome


class GroupJobs:
    def __init__(self, groups: Groups) -> None:
        self._groups = groups

    def handlers(self) -> dict[str, Handler]:
        return {GROUP_EXPIRY: self.expiry}

    async def expiry(self, job: Job, now: int) -> Outcome:
        try:
            again = await self._groups.fail_if_expired(job.tenant_id, job.campaign_id, job.slot, now=now)
        except NotFound:
            return Outcome()  # the campaign is gone
        return Outcome(next_at=again)
