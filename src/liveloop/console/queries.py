"""What the console's room view reads besides the campaign's live state: joins per minute from the log."""

from __future__ import annotations

import sqlalchemy as sa

from liveloop.events.models import events


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
