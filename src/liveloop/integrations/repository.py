"""Streaming-provider integrations in the database: where a provider sends its webhooks, and its secret."""

from __future__ import annotations

import sqlalchemy as sa

from liveloop.integrations.models import integrations
from liveloop.kit.errors import NotFound
from liveloop.kit.ids import new_id


def create(conn: sa.Connection, *, tenant_id: str, provider: str, secret: str, api_key: str | None,
           now: int) -> str:
    """A new integration; returns its id."""
    integration_id = new_id("int")
    conn.execute(integrations.insert().values(id=integration_id, tenant_id=tenant_id, provider=provider,
                                              secret=secret, api_key=api_key, created_at=now))
    return integration_id


def get(conn: sa.Connection, *, integration_id: str) -> dict | None:
    """An integration by the id in its webhook URL (which carries no tenant)."""
    row = conn.execute(sa.select(integrations).where(integrations.c.id == integration_id)).mappings().first()
    return dict(row) if row is not None else None


def update(conn: sa.Connection, *, tenant_id: str, integration_id: str, secret: str, api_key: str | None) -> str:
    """Replace an integration's secret (and API key); returns its provider."""
    row = conn.execute(sa.select(integrations.c.provider).where(
        integrations.c.id == integration_id, integrations.c.tenant_id == tenant_id)).first()
    if row is None:
        raise NotFound(f"integration {integration_id!r} not found", field="id")
    conn.execute(integrations.update().where(integrations.c.id == integration_id)
                 .values(secret=secret, api_key=api_key))
    return row[0]
