"""The invite codes' SQL, and the `InviteLookup` Protocol through which ingestion learns their owners.

A code belongs to one campaign, but is valid as `ref` in every campaign that follows that one up
(events/store.py `code_campaigns`): lookups take a list of campaign ids.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

import sqlalchemy as sa

from liveloop.invites.models import invites
from liveloop.kit.db.database import Database

i = invites.c


class InviteLookup(Protocol):
    """Invite codes as the ingestion pipeline needs them."""

    async def owners(self, tenant_id: str, campaign_ids: list[str], codes: Collection[str]) -> dict[str, str]:
        """The owner of each of `codes` that is an invite code of one of `campaign_ids`."""


class SqlInvites:
    """Invite lookups in SQL, each one read."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def owners(self, tenant_id: str, campaign_ids: list[str], codes: Collection[str]) -> dict[str, str]:
        return await self._db.read(lambda conn: owners(conn, tenant_id=tenant_id, campaign_ids=campaign_ids,
                                                       codes=codes))


def owners(conn: sa.Connection, *, tenant_id: str, campaign_ids: list[str],
           codes: Collection[str] | None = None) -> dict[str, str]:
    """Code -> owner for the invite codes of these campaigns: all of them, or only those of `codes`."""
    query = sa.select(i.code, i.user_id).where(i.tenant_id == tenant_id, i.campaign_id.in_(campaign_ids))
    if codes is not None:
        query = query.where(i.code.in_(list(codes)))
    return dict(conn.execute(query).all())


def find(conn: sa.Connection, *, tenant_id: str, campaign_id: str, user_id: str, channel: str) -> str | None:
    """The code a user holds on a channel of a campaign, if any."""
    return conn.execute(
        sa.select(i.code).where(
            i.tenant_id == tenant_id,
            i.campaign_id == campaign_id,
            i.user_id == user_id,
            i.channel == channel,
        )
    ).scalar()


def taken(conn: sa.Connection, code: str) -> bool:
    """Whether any tenant's invite already has this code (codes are global: the share link has no tenant)."""
    return conn.execute(sa.select(i.code).where(i.code == code)).first() is not None


def insert(conn: sa.Connection, *, code: str, tenant_id: str, campaign_id: str, user_id: str, channel: str,
           now: int, clip_id: str | None) -> None:
    conn.execute(invites.insert().values(code=code, tenant_id=tenant_id, campaign_id=campaign_id, user_id=user_id,
                                         channel=channel, created_at=now, clip_id=clip_id))


def holders(conn: sa.Connection, *, tenant_id: str, campaign_id: str) -> int:
    """How many users hold an invite link of the campaign: those who could invite (the K-factor's base)."""
    return conn.execute(
        sa.select(sa.func.count(sa.distinct(i.user_id))).where(i.tenant_id == tenant_id, i.campaign_id == campaign_id)
    ).scalar_one()


def holder_times(conn: sa.Connection, *, tenant_id: str, campaign_id: str) -> list[int]:
    """When each holder of the campaign's invite links got their first one, sorted (the K-factor's base over time)."""
    first = sa.func.min(i.created_at)
    return sorted(conn.execute(
        sa.select(first).where(i.tenant_id == tenant_id, i.campaign_id == campaign_id).group_by(i.user_id)
    ).scalars())
