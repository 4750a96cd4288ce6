"""circles, group buys and segments: circles' names, orders' group and product in the event log,
segments and their members by version, questions to the host, flash deals

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "circles",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", BigInt, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "campaign_id", "id", name=op.f("pk_circles")),
    )
    op.create_table(
        "segments",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", BigInt, nullable=False),
        sa.Column("updated_at", BigInt, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_segments")),
    )
    op.create_table(
        "segment_members",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("segment_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "segment_id", "version", "user_id", name=op.f("pk_segment_members")),
    )
    op.create_table(
        "questions",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("priority", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("asked_at", BigInt, nullable=False),
        sa.Column("answered_at", BigInt, nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "campaign_id", "id", name=op.f("pk_questions")),
    )
    op.create_index("ix_questions_queue", "questions", ["tenant_id", "campaign_id", "status", "priority", "asked_at"])
    op.create_table(
        "flash_deals",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("starts_at", BigInt, nullable=False),
        sa.Column("early_ms", BigInt, nullable=False),
        sa.Column("created_at", BigInt, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "campaign_id", "id", name=op.f("pk_flash_deals")),
    )
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("group_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("sku", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("sku")
        batch.drop_column("group_id")
    op.drop_table("flash_deals")
    op.drop_table("questions")
    op.drop_table("segment_members")
    op.drop_table("segments")
    op.drop_table("circles")
