from __future__ import annotations

import sqlalchemy as sa

from liveloop.kit.db.base import BigInt, metadata

# The ledger is append-only: one row per reward as it was granted (status at the grant, its cause
# and time), and one row per later change of status (void on a refund, ...) with its cause. A
# reward's current status is its latest change, or the granted one. Both are written in the
# transaction that ingests the cause; nothing is ever updated or deleted.
rewards = sa.Table(
    "rewards",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("campaign_id", sa.String(64), nullable=False),
    sa.Column("rule_id", sa.String(64), nullable=False),
    sa.Column("user_id", sa.String(128), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("amount", BigInt),
    sa.Column("percent_off", sa.String(16)),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("points", BigInt),
    sa.Column("sku", sa.String(128)),
    sa.Column("name", sa.String(200)),
    sa.Column("content", sa.String(500)),
    sa.Column("status", sa.String(16), nullable=False),  # as granted; later ones are in reward_changes
    sa.Column("reason", sa.String(16)),
    sa.Column("cause_event_id", sa.String(128), nullable=False),
    sa.Column("created_at", BigInt, nullable=False),
    sa.Column("available_at", BigInt),
    # Not keyed by user: a user's rewards are served from memory, and an index keyed in random
    # order costs SQLite a page write per reward; this one grows at its end.
    sa.Index("ix_rewards_campaign", "tenant_id", "campaign_id"),
)

reward_changes = sa.Table(
    "reward_changes",
    metadata,
    sa.Column("seq", BigInt, primary_key=True, autoincrement=True),
    sa.Column("reward_id", sa.String(32), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(16)),
    sa.Column("cause_event_id", sa.String(128), nullable=False),
    sa.Column("at", BigInt, nullable=False),
)
