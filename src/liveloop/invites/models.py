from __future__ import annotations

import sqlalchemy as sa

from liveloop.kit.db.base import BigInt, metadata

invites = sa.Table(
    "invites",
    metadata,
    sa.Column("code", sa.String(64), primary_key=True),  # global: /s/{code} carries no tenant
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("campaign_id", sa.String(64), nullable=False),
    sa.Column("user_id", sa.String(128), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False, server_default=""),
    sa.Column("created_at", BigInt, nullable=False),
    # A clip's share link lands on the clip (clips/) rather than on the campaign's landing URL.
    sa.Column("clip_id", sa.String(64)),
    sa.UniqueConstraint("tenant_id", "campaign_id", "user_id", "channel"),
)
