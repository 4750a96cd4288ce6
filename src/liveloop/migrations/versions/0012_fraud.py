"""fraud signals: users' email hash and domain, the review queue, the blocklist

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("email_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("email_domain", sa.String(length=255), nullable=True))
    op.create_table(
        "fraud_reviews",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("referrer", sa.String(length=128), nullable=False),
        sa.Column("referee", sa.String(length=128), nullable=False),
        sa.Column("risk", sa.Integer(), nullable=False),
        sa.Column("signals", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("opened_at", BigInt, nullable=False),
        sa.Column("decided_at", BigInt, nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("note", sa.String(length=1000), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fraud_reviews")),
        sa.UniqueConstraint("tenant_id", "campaign_id", "referee",
                            name=op.f("uq_fraud_reviews_tenant_id_campaign_id_referee")),
    )
    op.create_index("ix_fraud_reviews_queue", "fraud_reviews", ["tenant_id", "campaign_id", "status", "risk"])
    op.create_table(
        "fraud_blocklist",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.Column("created_at", BigInt, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "kind", "value", name=op.f("pk_fraud_blocklist")),
    )


def downgrade() -> None:
    op.drop_table("fraud_blocklist")
    op.drop_index("ix_fraud_reviews_queue", table_name="fraud_reviews")
    op.drop_table("fraud_reviews")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("email_domain")
        batch.drop_column("email_hash")
