from __future__ import annotations

import sqlalchemy as sa

from liveloop.kit.db.base import BigInt, metadata

# Viewers' questions to the host. `priority` is whether the asker held a `priority_question`
# privilege of the campaign when asking: the host's queue lists those first, then by time.
questions = sa.Table(
    "questions",
    metadata,
    sa.Column("tenant_id", sa.String(40), primary_key=True),
    sa.Column("campaign_id", sa.String(64), primary_key=True),
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("user_id", sa.String(128), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("priority", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # open, answered
    sa.Column("asked_at", BigInt, nullable=False),
    sa.Column("answered_at", BigInt),
    sa.Index("ix_questions_queue", "tenant_id", "campaign_id", "status", "priority", "asked_at"),
)
