from __future__ import annotations

import sqlalchemy as sa

from liveloop.kit.db.base import BigInt, metadata

# A streaming provider's webhook endpoint. The secret is kept as given: verifying a provider's
# signature needs it, unlike an API key, which is only ever compared.
integrations = sa.Table(
    "integrations",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),  # in the webhook URL, which carries no tenant
    sa.Column("tenant_id", sa.String(40), nullable=False, index=True),
    sa.Column("provider", sa.String(16), nullable=False),
    sa.Column("secret", sa.String(512), nullable=False),
    sa.Column("api_key", sa.String(256)),
    sa.Column("created_at", BigInt, nullable=False),
)
