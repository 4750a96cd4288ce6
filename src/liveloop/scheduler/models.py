"""Scheduled jobs: work due at a time stored in the database, and who each job has already served."""

from __future__ import annotations

import sqlalchemy as sa

from liveloop.kit.db.base import BigInt, metadata

# One row per job of a campaign: (kind, slot) names it (e.g. ("reminder", "60")), so planning the
# same job twice makes one. `run_at` is when it is next due; while a process runs it, the end of
# that process's lease, and `lease` names the claim in force: only its holder may record the run.
scheduled_jobs = sa.Table(
    "scheduled_jobs",
    metadata,
    sa.Column("id", BigInt, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("campaign_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("slot", sa.String(64), nullable=False, server_default=""),
    sa.Column("status", sa.String(16), nullable=False),  # pending, done
    sa.Column("run_at", BigInt, nullable=False),
    sa.Column("lease", sa.String(32)),
    sa.Column("runs", sa.Integer, nullable=False, server_default="0"),
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.String(500)),
    sa.Column("created_at", BigInt, nullable=False),
    sa.Column("updated_at", BigInt, nullable=False),
    sa.UniqueConstraint("tenant_id", "campaign_id", "kind", "slot"),
    sa.Index("ix_scheduled_jobs_due", "status", "run_at"),
)

# The users a job has written a message for, in the same transaction as the message: a job that
# serves many users over several runs (reminders, sharer reports) serves each of them once.
scheduled_job_recipients = sa.Table(
    "scheduled_job_recipients",
    metadata,
    sa.Column("job_id", BigInt, primary_key=True),
    sa.Column("user_id", sa.String(128), primary_key=True),
    sa.Column("at", BigInt, nullable=False),
)
