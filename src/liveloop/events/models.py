from __future__ import annotations

import sqlalchemy as sa

from liveloop.kit.db.base import BigInt, metadata

# The event log is the system of record: a campaign's state is its events replayed in `seq`
# order, each with the `received_at` the engine was handed when it was first applied.
events = sa.Table(
    "events",
    metadata,
    sa.Column("seq", BigInt, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("id", sa.String(128), nullable=False),
    sa.Column("campaign_id", sa.String(64), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("user_id", sa.String(128)),  # NULL for an anonymous share-link click
    sa.Column("at", BigInt, nullable=False),
    sa.Column("ref", sa.String(64)),
    sa.Column("device_id", sa.String(128)),
    sa.Column("ip", sa.String(64)),
    sa.Column("order_id", sa.String(128)),
    sa.Column("amount", BigInt),  # minor units of `currency`
    sa.Column("currency", sa.String(3)),
    sa.Column("received_at", BigInt, nullable=False),
    sa.Column("value", BigInt),  # an order's amount in the campaign currency, as converted at ingestion
    sa.Column("group_id", sa.String(64)),  # an order's group buy (order.group_id)
    sa.Column("sku", sa.String(128)),  # an order's product (order.sku)
    sa.UniqueConstraint("tenant_id", "id"),
    sa.Index("ix_events_campaign_seq", "tenant_id", "campaign_id", "seq"),
)


# The newest snapshot of each campaign's state (events/snapshots.py): the state replayed up to `seq`,
# pickled, so a restart replays only the log after it. Derived data: dropping every row changes no
# result, only the next load's time. `generation` grows when the log is rewritten (an erasure), so a
# snapshot taken from the log as it was before cannot be stored after it.
campaign_snapshots = sa.Table(
    "campaign_snapshots",
    metadata,
    sa.Column("tenant_id", sa.String(40), primary_key=True),
    sa.Column("campaign_id", sa.String(64), primary_key=True),
    sa.Column("generation", sa.Integer, nullable=False),
    sa.Column("seq", BigInt, nullable=False),
    sa.Column("format", sa.String(32), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),  # HMAC-SHA256 of `body`
    sa.Column("taken_at", BigInt, nullable=False),
    sa.Column("body", sa.LargeBinary),  # NULL: invalidated
)
