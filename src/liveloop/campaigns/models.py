from __future__ import annotations

import sqlalchemy as sa

from liveloop.kit.db.base import BigInt, metadata

campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("tenant_id", sa.String(40), primary_key=True),
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("body", sa.Text, nullable=False),  # the campaign as the API returns it (JSON), its latest version
    sa.Column("created_at", BigInt, nullable=False),
    # What listing filters and sorts on, kept with each version of the body.
    sa.Column("version", sa.Integer, nullable=False),  # 1 when created, one more with each change
    sa.Column("starts_at", BigInt, nullable=False),
    sa.Column("ends_at", BigInt, nullable=False),
    sa.Column("cancelled_at", BigInt),
    sa.Column("updated_at", BigInt, nullable=False),
    sa.Index("ix_campaigns_starts_at", "tenant_id", "starts_at", "id"),
)

# Every version of every campaign. A change is logged in the campaign's event log
# (`campaign_change`, `value` = its version), so a replay applies each version at its place.
campaign_versions = sa.Table(
    "campaign_versions",
    metadata,
    sa.Column("tenant_id", sa.String(40), primary_key=True),
    sa.Column("campaign_id", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("body", sa.Text, nullable=False),
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
