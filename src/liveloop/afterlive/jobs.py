"""The jobs afterlive/plan.py schedules, as the scheduler runs them (scheduler/worker.py).

Each handler reads the campaign again when it is due (its window may have moved since it was
planned), takes the campaign's state through the gate (caught up with every process's events) and
returns the messages to write with the job's own update, in one transaction. A job serving many
users writes at most BATCH messages a run and is due again at once while users remain; the users it
served are recorded with its messages, so none is served twice.
"""

from __future__ import annotations

from liveloop.afterlive import plan, texts
from liveloop.afterlive.reminders import due_at, quiet, reminder_times
from liveloop.afterlive.service import SharerReports
from liveloop.afterlive.sharers import reader_locale, sharers
from liveloop.campaigns import service as campaigns_service
from liveloop.events.gate import CampaignGate
from liveloop.invites.repository import holders
from liveloop.kit.db.database import Database
from liveloop.kit.errors import NotFound
from liveloop.kit.times import from_ms, iso
from liveloop.markets.catalogue import Market, get_market
from liveloop.reports import views
from liveloop.scheduler import repository
from liveloop.scheduler.repository import Job
from liveloop.scheduler.worker import Handler, Outcome
from liveloop.users.repository import display_names, profiles
from liveloop.webhooks.outbox import message_row

BATCH = 1000  # messages written by one run of a job


class AfterLiveJobs:
    def __init__(self, db: Database, campaigns: CampaignGate, reports: SharerReports) -> None:
        self._db = db
        self._campaigns = campaigns
        self._reports = reports

    def handlers(self) -> dict[str, Handler]:
        return {plan.CAMPAIGN_ENDED: self.campaign_ended, plan.SHARER_REPORT: self.sharer_report,
                plan.REMINDER: self.reminder}

    async def _body(self, job: Job) -> dict | None:
        """The campaign as stored now (not as planned)."""
        return await self._db.read(lambda conn: campaigns_service.get(conn, tenant_id=job.tenant_id,
                                                                      campaign_id=job.campaign_id))

    async def _served(self, job: Job) -> set[str]:
        return await self._db.read(lambda conn: repository.served(conn, job_id=job.id))

    async def campaign_ended(self, job: Job, now: int) -> Outcome:
        """`campaign.ended` with the campaign report, once its end has passed."""
        body = await self._body(job)
        if body is None:
            return Outcome()
        ends = plan.ends_at(body)
        if ends > now:
            return Outcome(next_at=ends)  # the window was moved later
        state = (await self._campaigns.get(job.tenant_id, job.campaign_id)).state
        referrers = list(state.referrers)

        def people(conn) -> tuple[dict[str, str | None], int]:
            return (display_names(conn, tenant_id=job.tenant_id, user_ids=referrers),
                    holders(conn, tenant_id=job.tenant_id, campaign_id=job.campaign_id))

        names, inviters = await self._db.read(people)
        report = views.report(state, names=names, inviters=inviters, now=now)
        data = {"campaign_id": job.campaign_id, **report}
        return Outcome([message_row(job.tenant_id, "campaign.ended", data, now)])

    async def sharer_report(self, job: Job, now: int) -> Outcome:
        """`sharer.report` to every user with a click on their links, `report_delay_minutes` after the end."""
        body = await self._body(job)
        if body is None:
            return Outcome()
        due = plan.report_due(body)
        if due > now:
            return Outcome(next_at=due)
        state = (await self._campaigns.get(job.tenant_id, job.campaign_id)).state
        served = await self._served(job)
        waiting = [user_id for user_id in sharers(state) if user_id not in served]
        todo = waiting[:BATCH]
        reports = await self._reports.reports(state, body, todo, now=now)
        messages = [message_row(job.tenant_id, "sharer.report", {"campaign_id": job.campaign_id, **report}, now)
                    for report in reports]
        return Outcome(messages, todo, next_at=now if len(waiting) > len(todo) else None)

    async def reminder(self, job: Job, now: int) -> Outcome:
        """`reminder.due` to every user with a reservation, when their reminder time has come."""
        body = await self._body(job)
        minutes = int(job.slot)
        if body is None or minutes not in plan.reminder_minutes(body):
            return Outcome()  # the reminder was taken off the campaign
        starts = plan.starts_at(body)
        if now >= starts:
            return Outcome()  # the live has begun: too late to remind anybody
        times = reminder_times(starts, minutes)
        if now < times[0]:
            return Outcome(next_at=times[0])  # the start was moved later
        later = [t for t in times if t > now]
        next_at = later[0] if later else None
        state = (await self._campaigns.get(job.tenant_id, job.campaign_id)).state
        served = await self._served(job)
        waiting = [u for u, person in state.participants.items() if person.reservation_at is not None
                   and u not in served]
        people = await self._db.read(lambda conn: profiles(conn, tenant_id=job.tenant_id, user_ids=waiting))
        nominal = starts - minutes * plan.MINUTE_MS
        messages, recipients = [], []
        for user_id in waiting:
            profile = people.get(user_id, {})
            market = _market(profile.get("market"), body["market"])
            tz = market.timezone
            # Due when the user's own time for it has come; never sent in their night (one who
            # reserved after their evening slot waits for the campaign's next reminder).
            if due_at(nominal, tz) > now or quiet(now, tz):
                continue
            if len(recipients) == BATCH:
                next_at = now
                break
            tag = reader_locale(profile, body["market"])
            data = {
                "campaign_id": job.campaign_id, "user_id": user_id, "before_minutes": minutes,
                "title": body["title"], "landing_url": body["landing_url"], "starts_at": iso(starts),
                "local_starts_at": from_ms(starts).astimezone(market.zone).isoformat(), "timezone": tz,
                "locale": tag, "text": texts.reminder(tag, title=body["title"], starts_at=starts, tz=tz),
            }
            messages.append(message_row(job.tenant_id, "reminder.due", data, now))
            recipients.append(user_id)
        return Outcome(messages, recipients, next_at)


def _market(code: str | None, fallback: str) -> Market:
    try:
        return get_market(code or fallback)
    except NotFound:
        return get_market(fallback)

