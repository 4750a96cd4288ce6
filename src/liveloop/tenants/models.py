from __future__ import annotations

import sqlalchemy as sa

from liveloop.kit.db.base import BigInt, metadata

tenants = sa.Table(
    "tenants",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("allowed_hosts", sa.Text, nullable=False, server_default="[]"),  # JSON list
    sa.Column("created_at", BigInt, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_hash", sa.String(64), primary_key=True),  # SHA-256 hex; the key is never stored
    sa.Column("id", sa.String(40), nullable=False, unique=True),  # what the API and the audit name it by
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False, index=True),
    sa.Column("name", sa.String(100), nullable=False, server_default="default"),
    sa.Column("scopes", sa.String(40), nullable=False, server_default="admin"),  # space separated, sorted
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("created_at", BigInt, nullable=False),
    sa.Column("revoked_at", BigInt),
)

server_secrets = sa.Table(
    "server_secrets",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("value", sa.String(128), nullable=False),
)
