"""The review queue and the blocklist (the checks themselves are events in the log)."""

from __future__ import annotations

import sqlalchemy as sa

from liveloop.kit.db.base import BigInt, metadata

# One row per referral held for review: opened with the `fraud_check` that held it, decided by a
# logged `review_decision`, in the same transaction as that event.
fraud_reviews = sa.Table(
    "fraud_reviews",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("campaign_id", sa.String(64), nullable=False),
    sa.Column("referrer", sa.String(128), nullable=False),
    sa.Column("referee", sa.String(128), nullable=False),
    sa.Column("risk", sa.Integer, nullable=False),
    sa.Column("signals", sa.Text, nullable=False),  # JSON list of {code, detail}
    sa.Column("status", sa.String(16), nullable=False),  # open, approved, denied
    sa.Column("opened_at", BigInt, nullable=False),
    sa.Column("decided_at", BigInt),
    sa.Column("decided_by", sa.String(64)),
    sa.Column("note", sa.String(1000)),
    sa.UniqueConstraint("tenant_id", "campaign_id", "referee"),
    sa.Index("ix_fraud_reviews_queue", "tenant_id", "campaign_id", "status", "risk"),
)

# The tenant's blocklist, one row per entry (kind: device, network, email_domain).
fraud_blocklist = sa.Table(
    "fraud_blocklist",
    metadata,
    sa.Column("tenant_id", sa.String(40), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("value", sa.String(128), primary_key=True),
    sa.Column("created_at", BigInt, nullable=False),
)
