from __future__ import annotations

import sqlalchemy as sa

from liveloop.kit.db.base import BigInt, metadata

users = sa.Table(
    "users",
    metadata,
    sa.Column("tenant_id", sa.String(40), primary_key=True),
    sa.Column("user_id", sa.String(128), primary_key=True),
    sa.Column("market", sa.String(2), nullable=False),
    sa.Column("locale", sa.String(35)),
    sa.Column("display_name", sa.String(200)),
    sa.Column("consents", sa.Text, nullable=False, server_default="{}"),  # JSON object
    # Fraud signals (fraud/emails.py): the normalized address's hash and its domain, never the address.
    sa.Column("email_hash", sa.String(64)),
    sa.Column("email_domain", sa.String(255)),
    sa.Column("created_at", BigInt, nullable=False),
    sa.Column("updated_at", BigInt, nullable=False),
)

# The users that gave an email, alone: the fraud screen looks up the emails of every batch's would-be
# referees and referrers (fraud/screen.py `_emails`), most of whom gave none; probing this small
# index instead of the primary key's costs the database a fraction (issue 18, docs/benchmarks.md).
sa.Index("ix_users_with_email", users.c.tenant_id, users.c.user_id,
         postgresql_where=users.c.email_hash.is_not(None), sqlite_where=users.c.email_hash.is_not(None))
