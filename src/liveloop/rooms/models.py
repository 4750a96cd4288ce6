from __future__ import annotations

import sqlalchemy as sa

from liveloop.kit.db.base import BigInt, metadata

# How a streaming provider's user id maps to the shop's own user id, per campaign. Without a row,
# the provider's id (Agora uid, LiveKit participant identity) is taken as the user id.
room_users = sa.Table(
    "room_users",
    metadata,
    sa.Column("tenant_id", sa.String(40), primary_key=True),
    sa.Column("campaign_id", sa.String(64), primary_key=True),
    sa.Column("provider_uid", sa.String(128), primary_key=True),
    sa.Column("user_id", sa.String(128), nullable=False),
    sa.Column("updated_at", BigInt, nullable=False),
)
