"""campaign snapshots: each campaign's state as of a log position, so a restart replays only the tail

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "campaign_snapshots",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("seq", BigInt, nullable=False),
        sa.Column("format", sa.String(length=32), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("taken_at", BigInt, nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "campaign_id", name=op.f("pk_campaign_snapshots")),
    )


def downgrade() -> None:
    op.drop_table("campaign_snapshots")
