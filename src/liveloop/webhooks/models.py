"""Outgoing webhooks: endpoints, the outbox of messages, and each message's delivery to each endpoint."""

from __future__ import annotations

import sqlalchemy as sa

from liveloop.kit.db.base import BigInt, metadata

webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("events", sa.Text),  # JSON list of types; NULL: every type
    sa.Column("description", sa.String(500)),
    sa.Column("secret", sa.String(100), nullable=False),
    # After a rotation, deliveries are signed with the previous secret too until `previous_until`.
    sa.Column("previous_secret", sa.String(100)),
    sa.Column("previous_until", BigInt),
    sa.Column("created_at", BigInt, nullable=False),
    sa.Column("deleted_at", BigInt),
    sa.Index("ix_webhook_endpoints_tenant", "tenant_id"),
)

# The outbox: written in the same transaction as the cause. `fanned_out` turns true once a worker has
# made one delivery per subscribed endpoint.
webhook_messages = sa.Table(
    "webhook_messages",
    metadata,
    sa.Column("seq", BigInt, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(40), nullable=False, unique=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # the JSON sent, exactly as signed
    sa.Column("created_at", BigInt, nullable=False),
    sa.Column("fanned_out", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index("ix_webhook_messages_pending", "fanned_out", "seq"),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", BigInt, primary_key=True, autoincrement=True),
    sa.Column("message_seq", BigInt, nullable=False),
    sa.Column("endpoint_id", sa.String(40), nullable=False),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending, succeeded, failed
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    # When the next attempt is due; while an attempt is under way, the end of its lease.
    sa.Column("next_at", BigInt, nullable=False),
    sa.Column("updated_at", BigInt, nullable=False),
    sa.UniqueConstraint("message_seq", "endpoint_id"),
    sa.Index("ix_webhook_deliveries_due", "status", "next_at"),
    sa.Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
)

webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("seq", BigInt, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", BigInt, nullable=False),
    sa.Column("at", BigInt, nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("error", sa.String(500)),
    sa.Column("duration_ms", sa.Integer, nullable=False),
    sa.Index("ix_webhook_attempts_delivery", "delivery_id", "seq"),
)
