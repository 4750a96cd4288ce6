"""What the console's pages read besides the campaigns' live state.

The campaign list reads the campaigns table here until `GET /v1/campaigns?status=` gives the
campaigns service a list of its own.
"""

from __future__ import annotations

import json

import orjson
import sqlalchemy as sa

from liveloop.campaigns.models import campaigns
from liveloop.events.models import events
from liveloop.kit.times import parse_iso
from liveloop.tenants.models import tenants
from liveloop.tenants.service import Tenant

STATUSES = ("live", "scheduled", "ended")


def tenant(conn: sa.Connection, tenant_id: str) -> Tenant:
    row = conn.execute(sa.select(tenants.c.name, tenants.c.allowed_hosts).where(tenants.c.id == tenant_id)).one()
    return Tenant(tenant_id, row.name, tuple(json.loads(row.allowed_hosts)))


def campaigns_by_status(conn: sa.Connection, *, tenant_id: str, now: int) -> dict[str, list[dict]]:
    """The tenant's campaigns (newest first) under live, scheduled and ended."""
    out: dict[str, list[dict]] = {status: [] for status in STATUSES}
    rows = conn.execute(sa.select(campaigns.c.body).where(campaigns.c.tenant_id == tenant_id)
                        .order_by(campaigns.c.created_at.desc())).scalars()
    for text in rows:
        body = orjson.loads(text)
        starts, ends = parse_iso(body["starts_at"], field="starts_at"), parse_iso(body["ends_at"], field="ends_at")
        status = "scheduled" if now < starts else "live" if now < ends else "ended"
        out[status].append(body)
    return out


def joins_per_minute(conn: sa.Connection, *, tenant_id: str, campaign_id: str, since: int) -> dict[int, int]:
    """Viewers whose first room join was at or after `since`, by minute (epoch ms of the minute's start)."""
    first = sa.func.min(events.c.at)
    rows = conn.execute(
        sa.select(first).where(events.c.tenant_id == tenant_id, events.c.campaign_id == campaign_id,
                               events.c.type == "room_join", events.c.user_id.is_not(None))
        .group_by(events.c.user_id).having(first >= since)
    ).scalars()
    out: dict[int, int] = {}
    for at in rows:
        minute = at // 60_000 * 60_000
        out[minute] = out.get(minute, 0) + 1
    return out
