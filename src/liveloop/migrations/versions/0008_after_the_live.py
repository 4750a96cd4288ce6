"""after the live: scheduled jobs and who they served, clips and their share links, follow-up lives

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "scheduled_jobs",
        sa.Column("id", BigInt, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("slot", sa.String(length=64), server_default="", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("run_at", BigInt, nullable=False),
        sa.Column("lease", sa.String(length=32), nullable=True),
        sa.Column("runs", sa.Integer(), server_default="0", nullable=False),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", BigInt, nullable=False),
        sa.Column("updated_at", BigInt, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_jobs")),
        sa.UniqueConstraint("tenant_id", "campaign_id", "kind", "slot",
                            name=op.f("uq_scheduled_jobs_tenant_id_campaign_id_kind_slot")),
    )
    op.create_index("ix_scheduled_jobs_due", "scheduled_jobs", ["status", "run_at"])
    op.create_table(
        "scheduled_job_recipients",
        sa.Column("job_id", BigInt, nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("at", BigInt, nullable=False),
        sa.PrimaryKeyConstraint("job_id", "user_id", name=op.f("pk_scheduled_job_recipients")),
    )
    op.create_table(
        "clips",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("thumbnail_url", sa.String(length=2000), nullable=True),
        sa.Column("created_at", BigInt, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "campaign_id", "id", name=op.f("pk_clips")),
    )
    op.add_column("invites", sa.Column("clip_id", sa.String(length=64), nullable=True))
    op.create_table(
        "campaign_follow_ups",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("follows", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "campaign_id", "follows", name=op.f("pk_campaign_follow_ups")),
    )
    op.create_index("ix_campaign_follow_ups_follows", "campaign_follow_ups", ["tenant_id", "follows"])


def downgrade() -> None:
    op.drop_table("campaign_follow_ups")
    op.drop_column("invites", "clip_id")
    op.drop_table("clips")
    op.drop_table("scheduled_job_recipients")
    op.drop_table("scheduled_jobs")
