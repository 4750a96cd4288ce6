from __future__ import annotations

import sqlalchemy as sa

from liveloop.kit.db.base import BigInt, metadata

# One row per erasure: the pseudonym that replaced the user in the log, the ledger and the
# leaderboards, and a keyed hash of the erased user_id (never the id itself), so that erasing the
# same user again answers with the same pseudonym instead of a 404; and the campaigns whose states
# every process rebuilds (privacy/service.py reads recent erasures when Redis cannot tell it).
erasures = sa.Table(
    "erasures",
    metadata,
    sa.Column("tenant_id", sa.String(40), primary_key=True),
    sa.Column("pseudonym", sa.String(40), primary_key=True),
    sa.Column("user_hash", sa.String(64), nullable=False),
    sa.Column("erased_at", BigInt, nullable=False),
    sa.Column("campaigns", sa.Text, nullable=False, server_default="[]"),  # JSON list: states to rebuild
    sa.Index("ix_erasures_tenant_user_hash", "tenant_id", "user_hash"),
)
