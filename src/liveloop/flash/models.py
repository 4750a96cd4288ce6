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

# Which viewer was told of which deal (once per viewer and deal, whichever process or restart): a
# viewer connected when a notice is sent, or one whose stream opens later while the deal still runs,
# is told only if this row could be written first (flash/notices.py).
flash_deliveries = sa.Table(
    "flash_deliveries",
    metadata,
    sa.Column("tenant_id", sa.String(40), primary_key=True),
    sa.Column("campaign_id", sa.String(64), primary_key=True),
    sa.Column("deal_id", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(128), primary_key=True),
    sa.Column("phase", sa.String(8), nullable=False),
    sa.Column("delivered_at", BigInt, nullable=False),
)
