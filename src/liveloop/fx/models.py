from __future__ import annotations

import sqlalchemy as sa

from liveloop.kit.db.base import BigInt, metadata

# Rates a tenant supplies: 1 `base` = `rate` `quote`, from `valid_from` (UTC day) on.
fx_rates = sa.Table(
    "fx_rates",
    metadata,
    sa.Column("tenant_id", sa.String(40), primary_key=True),
    sa.Column("base", sa.String(3), primary_key=True),
    sa.Column("quote", sa.String(3), primary_key=True),
    sa.Column("valid_from", BigInt, primary_key=True),  # epoch ms of the day's start, UTC
    sa.Column("rate", sa.String(32), nullable=False),
    sa.Column("created_at", BigInt, nullable=False),
)
