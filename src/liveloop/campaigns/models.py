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
