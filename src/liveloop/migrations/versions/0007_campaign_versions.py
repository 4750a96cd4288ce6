"""campaigns: versions (changes and cancellation), and the columns listing sorts and filters on

Revision ID: 0007
Revises: 0006
"""

import orjson
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ms(text: str) -> int:
    from liveloop.kit.times import parse_iso

    return parse_iso(text, field="time")


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("starts_at", BigInt, nullable=True))
        batch.add_column(sa.Column("ends_at", BigInt, nullable=True))
        batch.add_column(sa.Column("cancelled_at", BigInt, nullable=True))
        batch.add_column(sa.Column("updated_at", BigInt, nullable=True))
    conn = op.get_bind()
    table = sa.table("campaigns", sa.column("tenant_id"), sa.column("id"), sa.column("body"),
                     sa.column("created_at"), sa.column("version"), sa.column("starts_at"), sa.column("ends_at"),
                     sa.column("updated_at"))
    rows = conn.execute(sa.select(table.c.tenant_id, table.c.id, table.c.body, table.c.created_at)).all()
    for tenant_id, campaign_id, body, created_at in rows:
        data = orjson.loads(body)
        conn.execute(table.update().where(table.c.tenant_id == tenant_id, table.c.id == campaign_id).values(
            version=1, starts_at=_ms(data["starts_at"]), ends_at=_ms(data["ends_at"]), updated_at=created_at))
    with op.batch_alter_table("campaigns") as batch:
        for name in ("version", "starts_at", "ends_at", "updated_at"):
            batch.alter_column(name, nullable=False)
        batch.create_index("ix_campaigns_starts_at", ["tenant_id", "starts_at", "id"])
    op.create_table(
        "campaign_versions",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", BigInt, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "campaign_id", "version", name=op.f("pk_campaign_versions")),
    )
    # Campaigns were never changed before: each one's body is its first version.
    op.execute("INSERT INTO campaign_versions (tenant_id, campaign_id, version, body, created_at) "
               "SELECT tenant_id, id, 1, body, created_at FROM campaigns")


def downgrade() -> None:
    op.drop_table("campaign_versions")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_index("ix_campaigns_starts_at")
        for name in ("updated_at", "cancelled_at", "ends_at", "starts_at", "version"):
            batch.drop_column(name)
