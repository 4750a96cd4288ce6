from __future__ import annotations

import sqlalchemy as sa

from liveloop.kit.db.base import BigInt, metadata

# A segment (seed users): its name and current version. Each change writes a new version of its
# members and never touches an old one, so a campaign rule that names a version (its `audience`)
# decides the same on every replay.
segments = sa.Table(
    "segments",
    metadata,
    sa.Column("tenant_id", sa.String(40), primary_key=True),
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("source", sa.Text, nullable=False),  # JSON: {"user_ids": n} or the `from` it was made from
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("created_at", BigInt, nullable=False),
    sa.Column("updated_at", BigInt, nullable=False),
)

segment_members = sa.Table(
    "segment_members",
    metadata,
    sa.Column("tenant_id", sa.String(40), primary_key=True),
    sa.Column("segment_id", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.String(128), primary_key=True),
)
