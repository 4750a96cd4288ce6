"""Clips in the database (functions of a connection; the caller commits)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from liveloop.clips.models import clips

k = clips.c


def exists(conn: sa.Connection, *, tenant_id: str, campaign_id: str, clip_id: str) -> bool:
    return conn.execute(sa.select(k.id).where(k.tenant_id == tenant_id, k.campaign_id == campaign_id,
                                              k.id == clip_id)).first() is not None


def insert(conn: sa.Connection, *, tenant_id: str, campaign_id: str, clip_id: str, title: str, url: str,
           thumbnail_url: str | None, now: int) -> None:
    conn.execute(clips.insert().values(tenant_id=tenant_id, campaign_id=campaign_id, id=clip_id, title=title,
                                       url=url, thumbnail_url=thumbnail_url, created_at=now))


def row(conn: sa.Connection, *, tenant_id: str, campaign_id: str, clip_id: str) -> Any | None:
    """The clip's row, or None."""
    return conn.execute(sa.select(clips).where(k.tenant_id == tenant_id, k.campaign_id == campaign_id,
                                               k.id == clip_id)).first()


def rows(conn: sa.Connection, *, tenant_id: str, campaign_id: str) -> list:
    """The campaign's clips, oldest first."""
    return list(conn.execute(sa.select(clips).where(k.tenant_id == tenant_id, k.campaign_id == campaign_id)
                             .order_by(k.created_at, k.id)))
