"""Invite codes: one per (campaign, user, channel); vanity codes allowed."""

from __future__ import annotations

import sqlalchemy as sa

from liveloop.invites.models import invites
from liveloop.kit.errors import Conflict
from liveloop.kit.ids import new_invite_code
from liveloop.users import service as users_service


def find(conn: sa.Connection, *, tenant_id: str, campaign_id: str, user_id: str, channel: str) -> str | None:
    return conn.execute(
        sa.select(invites.c.code).where(
            invites.c.tenant_id == tenant_id,
            invites.c.campaign_id == campaign_id,
            invites.c.user_id == user_id,
            invites.c.channel == channel,
        )
    ).scalar()


def create(conn: sa.Connection, *, tenant_id: str, campaign_id: str, market: str, user_id: str, channel: str,
           code: str | None, now: int, clip_id: str | None = None) -> tuple[str, bool]:
    """The (user, channel)'s code, created if it has none; returns (code, created). A clip's codes
    (`clip_id`) have a channel of their own per clip (clips/service.py)."""
    existing = find(conn, tenant_id=tenant_id, campaign_id=campaign_id, user_id=user_id, channel=channel)
    if existing is not None:
        if code is not None and code != existing:
            raise Conflict(f"this user already has the code {existing!r} on this channel", field="code")
        return existing, False
    if code is not None:
        taken = conn.execute(sa.select(invites.c.code).where(invites.c.code == code)).first()
        if taken is not None:
            raise Conflict(f"the code {code!r} is taken", field="code")
    else:
        code = new_invite_code()
        while conn.execute(sa.select(invites.c.code).where(invites.c.code == code)).first() is not None:
            code = new_invite_code()
    users_service.ensure(conn, tenant_id=tenant_id, user_id=user_id, market=market, now=now)
    conn.execute(invites.insert().values(code=code, tenant_id=tenant_id, campaign_id=campaign_id, user_id=user_id,
                                         channel=channel, created_at=now, clip_id=clip_id))
    return code, True


def holders(conn: sa.Connection, *, tenant_id: str, campaign_id: str) -> int:
    """How many users hold an invite link of the campaign: those who could invite (the K-factor's base)."""
    return conn.execute(
        sa.select(sa.func.count(sa.distinct(invites.c.user_id))).where(
            invites.c.tenant_id == tenant_id, invites.c.campaign_id == campaign_id)
    ).scalar_one()
