"""What a campaign schedules after (and before) its live, and when each job is first due.

- `campaign.ended` at `ends_at`: the report, once.
- `sharer.report` `report_delay_minutes` (default 30) after `ends_at`: each sharer's report, once.
- `reminder` per entry of `reminders`, from the earliest time any market's quiet hours can move it
  to (afterlive/reminders.py) up to `before_minutes` before `starts_at`.

Each job reads the campaign again when it runs, so a window changed later moves it (PATCH calls
`replan` in its own transaction; a job that finds the campaign's end later than it was planned for
reschedules itself).
"""

from __future__ import annotations

import sqlalchemy as sa

from liveloop.afterlive.reminders import reminder_times
from liveloop.kit.times import parse_iso
from liveloop.scheduler import repository
from liveloop.scheduler.repository import Planned

CAMPAIGN_ENDED = "campaign.ended"
SHARER_REPORT = "sharer.report"
REMINDER = "reminder"
DEFAULT_REPORT_DELAY_MINUTES = 30
MINUTE_MS = 60_000


def ends_at(body: dict) -> int:
    return parse_iso(body["ends_at"], field="ends_at")


def starts_at(body: dict) -> int:
    return parse_iso(body["starts_at"], field="starts_at")


def report_due(body: dict) -> int:
    delay = body.get("report_delay_minutes", DEFAULT_REPORT_DELAY_MINUTES)
    return ends_at(body) + delay * MINUTE_MS


def reminder_minutes(body: dict) -> list[int]:
    return [r["before_minutes"] for r in body.get("reminders") or ()]


def planned(body: dict) -> list[Planned]:
    """The jobs of a campaign (its stored body) and when each is first due."""
    jobs = [Planned(CAMPAIGN_ENDED, "", ends_at(body)), Planned(SHARER_REPORT, "", report_due(body))]
    for minutes in reminder_minutes(body):
        jobs.append(Planned(REMINDER, str(minutes), reminder_times(starts_at(body), minutes)[0]))
    return jobs


def schedule(conn: sa.Connection, *, tenant_id: str, body: dict, now: int) -> None:
    """Plan a new campaign's jobs, in the transaction that creates it."""
    repository.schedule(conn, tenant_id=tenant_id, campaign_id=body["id"], jobs=planned(body), now=now)


def follow_change(conn: sa.Connection, *, tenant_id: str, body: dict, now: int) -> None:
    """A campaign was changed (PATCH) or cancelled: its pending jobs follow, in the same transaction."""
    if "cancelled_at" in body:
        repository.cancel(conn, tenant_id=tenant_id, campaign_id=body["id"], now=now)
    else:
        replan(conn, tenant_id=tenant_id, body=body, now=now)


def replan(conn: sa.Connection, *, tenant_id: str, body: dict, now: int) -> None:
    """Move a changed campaign's pending jobs to its new times, in the transaction that changes it."""
    repository.reschedule(conn, tenant_id=tenant_id, campaign_id=body["id"], jobs=planned(body), now=now)


def sharer_reports_sent(conn: sa.Connection, *, tenant_id: str, campaign_id: str) -> dict | None:
    """The `sharer.report` job of a campaign: its status, when it is (or was) due, and who was sent a report when."""
    return repository.progress(conn, tenant_id=tenant_id, campaign_id=campaign_id, kind=SHARER_REPORT)
