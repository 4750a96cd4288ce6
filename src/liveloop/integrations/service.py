"""Streaming-provider integrations: where a provider sends its webhooks, and the secret to check them."""

from __future__ import annotations

import sqlalchemy as sa

from liveloop.integrations.models import integrations
from liveloop.kit.ids import new_id


def create(conn: sa.Connection, *, tenant_id: str, provider: str, secret: str, api_key: str | None,
           now: int) -> str:
    """A new integration; returns its id."""
    integration_id = new_id("int")
    conn.execute(integrations.insert().values(id=integration_id, tenant_id=tenant_id, provider=provider,
                                              secret=secret, api_key=api_key, created_at=now))
    return integration_id
