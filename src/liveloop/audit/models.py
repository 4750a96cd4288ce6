from __future__ import annotations

import sqlalchemy as sa

from liveloop.kit.db.base import BigInt, metadata

# Management actions, append-only: who (an API key's id or an operator), when, what, on what. Never
# personal data: targets are campaign, key, endpoint and rule ids, and an erased user's pseudonym.
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", BigInt, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("at", BigInt, nullable=False),
    sa.Column("actor", sa.String(80), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(300)),
    sa.Index("ix_audit_log_tenant_seq", "tenant_id", "seq"),
)
