from __future__ import annotations

import sqlalchemy as sa

from liveloop.kit.db.base import BigInt, metadata

# Flash deals announced on viewers' streams: early to holders of `early_notice`, at `starts_at` to
# everyone else (flash/jobs.py logs each notice once in the campaign's event log).
flash_deals = sa.Table(
    "flash_deals",
    metadata,
    sa.Column("tenant_id", sa.String(40), primary_key=True),
    sa.Column("campaign_id", sa.String(64), primary_key=True),
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("starts_at", BigInt, nullable=False),
    sa.Column("early_ms", BigInt, nullable=False),
    sa.Column("ends_at", BigInt, nullable=True),  # when the widgets take it down; none: it runs until the live ends
    sa.Column("created_at", BigInt, nullable=False),
)
