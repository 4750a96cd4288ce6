from __future__ import annotations

import sqlalchemy as sa

from liveloop.kit.db.base import BigInt, metadata

# One row per run period: written once, in the transaction that logs the winners' `draw_win`
# events and their prizes, and never changed, so running a period again returns this result.
draw_results = sa.Table(
    "draw_results",
    metadata,
    sa.Column("tenant_id", sa.String(40), primary_key=True),
    sa.Column("campaign_id", sa.String(64), primary_key=True),
    sa.Column("rule_id", sa.String(64), primary_key=True),
    sa.Column("period", sa.String(32), primary_key=True),
    sa.Column("seed", sa.String(64), nullable=False),
    sa.Column("seed_hash", sa.String(64), nullable=False),
    sa.Column("entrants", sa.Integer, nullable=False),
    sa.Column("entrants_hash", sa.String(64), nullable=False),
    # The entrants' user ids sorted by UTF-8 bytes, each followed by "\n": exactly the bytes hashed.
    sa.Column("entrant_list", sa.Text, nullable=False),
    sa.Column("winners", sa.Text, nullable=False),  # JSON list of user ids, in draw order
    sa.Column("run_at", BigInt, nullable=False),
)

# Free alternative entries (`free_entry: true` rules): one per user and period, same odds as any entry.
draw_entries = sa.Table(
    "draw_entries",
    metadata,
    sa.Column("tenant_id", sa.String(40), primary_key=True),
    sa.Column("campaign_id", sa.String(64), primary_key=True),
    sa.Column("rule_id", sa.String(64), primary_key=True),
    sa.Column("period", sa.String(32), primary_key=True),
    sa.Column("user_id", sa.String(128), primary_key=True),
    sa.Column("created_at", BigInt, nullable=False),
)
