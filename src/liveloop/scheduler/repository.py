"""The SQL of scheduled jobs: planning, claiming the due ones, recording a run.

Claims lock rows with `FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite is one process's own and renders
no lock) and move the claimed jobs' `run_at` to the end of a lease, under a new `lease` token, in
the same transaction. A run is recorded only by the holder of the lease in force (`record` checks
the token first, which also locks the row): a process that outlived its lease, or was killed, has
its run refused and nothing of it written, and the job is run again by whoever claims it next.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from liveloop.kit.db.dialect import insert_ignore
from liveloop.scheduler.models import scheduled_job_recipients, scheduled_jobs

j, r = scheduled_jobs.c, scheduled_job_recipients.c


@dataclass(frozen=True, slots=True)
class Planned:
    """A job a campaign needs: what (`kind`, `slot`) and when it is first due."""

    kind: str
    slot: str
    run_at: int


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed job: its identity and the lease under which this process runs it."""

    id: int
    tenant_id: str
    campaign_id: str
    kind: str
    slot: str
    lease: str
    failures: int


class LeaseLost(Exception):
    """Another process claimed the job after this one's lease ran out: this run is not recorded."""


def schedule(conn: sa.Connection, *, tenant_id: str, campaign_id: str, jobs: list[Planned], now: int) -> None:
    """Add the jobs a campaign does not have yet (planning twice makes each job once)."""
    for job in jobs:
        conn.execute(insert_ignore(conn.dialect.name, scheduled_jobs).values(
            tenant_id=tenant_id, campaign_id=campaign_id, kind=job.kind, slot=job.slot, status="pending",
            run_at=job.run_at, created_at=now, updated_at=now))


def reschedule(conn: sa.Connection, *, tenant_id: str, campaign_id: str, jobs: list[Planned], now: int) -> None:
    """A campaign changed: its pending jobs are due at their new times, new ones are added.

    A job under way keeps its lease (its run re-reads the campaign); a job no longer planned stays
    and finds, when due, that it has nothing to do.
    """
    for job in jobs:
        conn.execute(scheduled_jobs.update().where(
            j.tenant_id == tenant_id, j.campaign_id == campaign_id, j.kind == job.kind, j.slot == job.slot,
            j.status == "pending", j.lease.is_(None)).values(run_at=job.run_at, updated_at=now))
    schedule(conn, tenant_id=tenant_id, campaign_id=campaign_id, jobs=jobs, now=now)


def cancel(conn: sa.Connection, *, tenant_id: str, campaign_id: str, now: int) -> None:
    """A campaign was cancelled: none of its pending jobs runs (a run under way is refused)."""
    conn.execute(scheduled_jobs.update().where(
        j.tenant_id == tenant_id, j.campaign_id == campaign_id, j.status == "pending",
    ).values(status="done", lease=None, updated_at=now))


def claim_due(conn: sa.Connection, *, now: int, lease_ms: int, limit: int) -> list[Job]:
    """Due jobs, earliest first, each leased to this process until `now + lease_ms`."""
    rows = conn.execute(
        sa.select(j.id, j.tenant_id, j.campaign_id, j.kind, j.slot, j.failures)
        .where(j.status == "pending", j.run_at <= now)
        .order_by(j.run_at, j.id).limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    claimed = []
    for row in rows:
        lease = secrets.token_hex(12)
        conn.execute(scheduled_jobs.update().where(j.id == row.id).values(
            run_at=now + lease_ms, lease=lease, runs=j.runs + 1, updated_at=now))
        claimed.append(Job(row.id, row.tenant_id, row.campaign_id, row.kind, row.slot, lease, row.failures))
    return claimed


def record(conn: sa.Connection, job: Job, *, next_at: int | None, recipients: list[str], now: int) -> None:
    """A run's outcome, written with its messages: due again at `next_at`, or done (None).

    LeaseLost, before anything is written, when the lease is no longer this run's.
    """
    updated = conn.execute(scheduled_jobs.update().where(j.id == job.id, j.lease == job.lease).values(
        status="pending" if next_at is not None else "done", run_at=next_at if next_at is not None else now,
        lease=None, failures=0, last_error=None, updated_at=now))
    if updated.rowcount != 1:
        raise LeaseLost(f"job {job.id} ({job.kind}) was claimed by another process")
    if recipients:
        conn.execute(scheduled_job_recipients.insert(), [{"job_id": job.id, "user_id": u, "at": now}
                                                          for u in recipients])


def record_failure(conn: sa.Connection, job: Job, *, error: str, retry_at: int, now: int) -> None:
    """A run that failed: due again at `retry_at` (if the lease is still this run's)."""
    conn.execute(scheduled_jobs.update().where(j.id == job.id, j.lease == job.lease).values(
        run_at=retry_at, lease=None, failures=j.failures + 1, last_error=error[:500], updated_at=now))


def served(conn: sa.Connection, *, job_id: int) -> set[str]:
    """The users the job has already written a message for."""
    return set(conn.execute(sa.select(r.user_id).where(r.job_id == job_id)).scalars())



def progress(conn: sa.Connection, *, tenant_id: str, campaign_id: str, kind: str, slot: str = "") -> dict | None:
    """A campaign's job as the console shows it: `{status, run_at, runs, failures, last_error, served}`,
    `served` being each user it has written a message for, with when; None when it has no such job."""
    row = conn.execute(sa.select(j.id, j.status, j.run_at, j.runs, j.failures, j.last_error).where(
        j.tenant_id == tenant_id, j.campaign_id == campaign_id, j.kind == kind, j.slot == slot)
        .order_by(j.id.desc()).limit(1)).first()
    if row is None:
        return None
    served = dict(conn.execute(sa.select(r.user_id, r.at).where(r.job_id == row.id)).all())
    return {"status": row.status, "run_at": row.run_at, "runs": row.runs, "failures": row.failures,
            "last_error": row.last_error, "served": served}
