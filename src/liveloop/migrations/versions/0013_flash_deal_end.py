"""flash deals: an optional end time, when the viewers' widgets take the deal down

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("flash_deals") as batch:
        batch.add_column(sa.Column("ends_at", BigInt, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("flash_deals") as batch:
        batch.drop_column("ends_at")
