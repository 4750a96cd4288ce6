"""fx: tenant-supplied rates, and each order's value in the campaign currency

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "fx_rates",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("base", sa.String(length=3), nullable=False),
        sa.Column("quote", sa.String(length=3), nullable=False),
        sa.Column("valid_from", BigInt, nullable=False),
        sa.Column("rate", sa.String(length=32), nullable=False),
        sa.Column("created_at", BigInt, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "base", "quote", "valid_from", name=op.f("pk_fx_rates")),
    )
    with op.batch_alter_table("events") as batch_op:
        batch_op.add_column(sa.Column("value", BigInt, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch_op:
        batch_op.drop_column("value")
    op.drop_table("fx_rates")
