from __future__ import annotations

import sqlalchemy as sa

from liveloop.kit.db.base import BigInt, metadata

# A circle's name, kept for reads; who is in it is decided by the event log (`circle_create`,
# `circle_join`, engine/social.py), so every process and every replay agrees.
circles = sa.Table(
    "circles",
    metadata,
    sa.Column("tenant_id", sa.String(40), primary_key=True),
    sa.Column("campaign_id", sa.String(64), primary_key=True),
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("owner", sa.String(128), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", BigInt, nullable=False),
)
