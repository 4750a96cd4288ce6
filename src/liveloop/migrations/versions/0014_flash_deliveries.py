"""flash deals: which viewer was told of which deal (once per viewer, also when their stream opens later)

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "flash_deliveries",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("deal_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("phase", sa.String(length=8), nullable=False),
        sa.Column("delivered_at", BigInt, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "campaign_id", "deal_id", "user_id", name=op.f("pk_flash_deliveries")),
    )


def downgrade() -> None:
    op.drop_table("flash_deliveries")
