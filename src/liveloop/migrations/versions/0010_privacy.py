"""API keys with names and scopes (existing keys become admin keys), the audit log, erasures

Revision ID: 0010
Revises: 0009
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("id", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("name", sa.String(length=100), nullable=False, server_default="default"))
        batch.add_column(sa.Column("scopes", sa.String(length=40), nullable=False, server_default="admin"))
    conn = op.get_bind()
    for (key_hash,) in conn.execute(sa.text("SELECT key_hash FROM api_keys WHERE id IS NULL")).all():
        conn.execute(sa.text("UPDATE api_keys SET id = :id WHERE key_hash = :h"),
                     {"id": f"key_{secrets.token_hex(10)}", "h": key_hash})
    with op.batch_alter_table("api_keys") as batch:
        batch.alter_column("id", existing_type=sa.String(length=40), nullable=False)
        batch.create_unique_constraint(op.f("uq_api_keys_id"), ["id"])
    op.create_table(
        "audit_log",
        sa.Column("seq", BigInt, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("at", BigInt, nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_tenant_seq", "audit_log", ["tenant_id", "seq"])
    op.create_table(
        "erasures",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("pseudonym", sa.String(length=40), nullable=False),
        sa.Column("user_hash", sa.String(length=64), nullable=False),
        sa.Column("erased_at", BigInt, nullable=False),
        sa.Column("campaigns", sa.Text(), server_default="[]", nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "pseudonym", name=op.f("pk_erasures")),
    )
    op.create_index("ix_erasures_tenant_user_hash", "erasures", ["tenant_id", "user_hash"])


def downgrade() -> None:
    op.drop_table("erasures")
    op.drop_table("audit_log")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_constraint(op.f("uq_api_keys_id"), type_="unique")
        batch.drop_column("scopes")
        batch.drop_column("name")
        batch.drop_column("id")
