from __future__ import annotations

import sqlalchemy as sa

from liveloop.kit.db.base import BigInt, metadata

campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("tenant_id", sa.String(40), primary_key=True),
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("body", sa.Text, nullable=False),  # the campaign as the API returns it (JSON)
    sa.Column("created_at", BigInt, nullable=False),
)

# Follow-up lives: `campaign_id` accepts the invite codes of each earlier campaign it `follows`.
campaign_follow_ups = sa.Table(
    "campaign_follow_ups",
    metadata,
    sa.Column("tenant_id", sa.String(40), primary_key=True),
    sa.Column("campaign_id", sa.String(64), primary_key=True),
    sa.Column("follows", sa.String(64), primary_key=True),
    sa.Index("ix_campaign_follow_ups_follows", "tenant_id", "follows"),
)
