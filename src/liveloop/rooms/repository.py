"""Rooms in the database: which campaign a provider's channel belongs to, and who a provider's user is."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
import sqlalchemy as sa

from liveloop.campaigns.models import campaigns
from liveloop.kit.db.dialect import insert_ignore
from liveloop.kit.times import parse_iso
from liveloop.rooms.models import room_users


@dataclass(frozen=True, slots=True)
class Binding:
    """A campaign whose live runs in a provider's channel (`room: {provider, channel}`)."""

    campaign_id: str
    provider: str
    channel: str
    starts_at: int
    ends_at: int


# (campaign count, sum of their versions) of a tenant: grows with every campaign created or changed.
Version = tuple[int, int]


def bindings(conn: sa.Connection, *, tenant_id: str, known: Version | None) -> tuple[Version, list[Binding]] | None:
    """The tenant's room bindings, or None when its campaigns have not changed since `known`."""
    count, versions = conn.execute(
        sa.select(sa.func.count(), sa.func.sum(campaigns.c.version)).where(campaigns.c.tenant_id == tenant_id)
    ).one()
    version = (int(count), int(versions or 0))
    if version == known:
        return None
    found = []
    # A cancelled campaign binds nothing: notices of its channel are acknowledged and ignored.
    for campaign_id, body in conn.execute(sa.select(campaigns.c.id, campaigns.c.body).where(
            campaigns.c.tenant_id == tenant_id, campaigns.c.cancelled_at.is_(None))):
        data = orjson.loads(body)
        room = data.get("room")
        if room:
            found.append(Binding(campaign_id, room["provider"], room["channel"],
                                 parse_iso(data["starts_at"], field="starts_at"),
                                 parse_iso(data["ends_at"], field="ends_at")))
    return version, found


def set_user(conn: sa.Connection, *, tenant_id: str, campaign_id: str, provider_uid: str, user_id: str,
             now: int) -> None:
    """Map a provider's user id to the shop's user id (replacing an earlier mapping)."""
    conn.execute(insert_ignore(conn.dialect.name, room_users).values(
        tenant_id=tenant_id, campaign_id=campaign_id, provider_uid=provider_uid, user_id=user_id, updated_at=now))
    conn.execute(room_users.update().where(
        room_users.c.tenant_id == tenant_id, room_users.c.campaign_id == campaign_id,
        room_users.c.provider_uid == provider_uid,
    ).values(user_id=user_id, updated_at=now))


def get_user(conn: sa.Connection, *, tenant_id: str, campaign_id: str, provider_uid: str) -> str | None:
    return conn.execute(sa.select(room_users.c.user_id).where(
        room_users.c.tenant_id == tenant_id, room_users.c.campaign_id == campaign_id,
        room_users.c.provider_uid == provider_uid,
    )).scalar()


def users_of(conn: sa.Connection, *, tenant_id: str, campaign_ids: list[str]) -> dict[str, dict[str, str]]:
    """Every mapping of these campaigns: {campaign_id: {provider_uid: user_id}}."""
    found: dict[str, dict[str, str]] = {cid: {} for cid in campaign_ids}
    rows = conn.execute(sa.select(room_users.c.campaign_id, room_users.c.provider_uid, room_users.c.user_id).where(
        room_users.c.tenant_id == tenant_id, room_users.c.campaign_id.in_(campaign_ids)))
    for campaign_id, provider_uid, user_id in rows:
        found[campaign_id][provider_uid] = user_id
    return found
