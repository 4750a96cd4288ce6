from __future__ import annotations

import sqlalchemy as sa

from liveloop.kit.db.base import BigInt, metadata

# Clips of a live (replays, highlights) that sharers pass on after it; a clip's share links are
# invite codes (invites.clip_id) that land on the clip's `url`.
clips = sa.Table(
    "clips",
    metadata,
    sa.Column("tenant_id", sa.String(40), primary_key=True),
    sa.Column("campaign_id", sa.String(64), primary_key=True),
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("thumbnail_url", sa.String(2000)),
    sa.Column("created_at", BigInt, nullable=False),
)
