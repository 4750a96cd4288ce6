"""The console's tables: operators (a tenant's people who log in), their sessions, failed logins."""

from __future__ import annotations

import sqlalchemy as sa

from liveloop.kit.db.base import BigInt, metadata

operators = sa.Table(
    "operators",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False, index=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),  # lower-cased: one login per address
    sa.Column("password_hash", sa.String(200), nullable=False),  # argon2id, encoded with its parameters
    sa.Column("created_at", BigInt, nullable=False),
)

# A session is a random token in an HttpOnly cookie; only its SHA-256 is stored, so a copy of the
# database opens no console. Every process reads the same rows, and logging out deletes the row.
operator_sessions = sa.Table(
    "operator_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("operator_id", sa.String(40), sa.ForeignKey("operators.id"), nullable=False, index=True),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at", BigInt, nullable=False),
    sa.Column("expires_at", BigInt, nullable=False),
)

# Failed logins per (email, address), hashed together: what the login rate limit counts, in every process.
login_failures = sa.Table(
    "operator_login_failures",
    metadata,
    sa.Column("id", BigInt, primary_key=True, autoincrement=True),
    sa.Column("key_hash", sa.String(64), nullable=False),
    sa.Column("at", BigInt, nullable=False),
    sa.Index("ix_operator_login_failures_key_at", "key_hash", "at"),
)
