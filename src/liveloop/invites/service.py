"""Invite codes: one per (campaign, user, channel); vanity codes allowed."""

from __future__ import annotations

import sqlalchemy as sa

from liveloop.invites import repository
from liveloop.kit.errors import Conflict
from liveloop.kit.ids import new_invite_code
from liveloop.users import service as users_service


def create(conn: sa.Connection, *, tenant_id: str, campaign_id: str, market: str, user_id: str, channel: str,
           code: str | None, now: int, clip_id: str | None = None) -> tuple[str, bool]:
    """The (user, channel)'s code, created if it has none; returns (code, created). A clip's codes
    (`clip_id`) have a channel of their own per clip (clips/service.py)."""
    existing = repository.find(conn, tenant_id=tenant_id, campaign_id=campaign_id, user_id=user_id, channel=channel)
    if existing is not None:
        if code is not None and code != existing:
            raise Conflict(f"this user already has the code {existing!r} on this channel", field="code")
        return existing, False
    if code is not None:
        if repository.taken(conn, code):
            raise Conflict(f"the code {code!r} is taken", field="code")
    else:
        code = new_invite_code()
        while repository.taken(conn, code):
            code = new_invite_code()
    users_service.ensure(conn, tenant_id=tenant_id, user_id=user_id, market=market, now=now)
    repository.insert(conn, code=code, tenant_id=tenant_id, campaign_id=campaign_id, user_id=user_id,
                      channel=channel, now=now, clip_id=clip_id)
    return code, True
