"""What the console's room view reads besides the campaign's live state: joins per minute and referred viewers
over time, from the log (read once when the page opens; the page then follows the stream and the polls)."""

from __future__ import annotations

from bisect import bisect_left

import sqlalchemy as sa

from liveloop.events.models import events
from liveloop.invites.models import invites


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


def referred_times(conn: sa.Connection, *, tenant_id: str, campaign_id: str) -> list[int]:
    """When each referred viewer arrived, sorted: the viewers whose first event in the campaign carried another
    viewer's invite code (first touch, as the engine attributes them; the K-factor's numerator over time)."""
    scope = (events.c.tenant_id == tenant_id, events.c.campaign_id == campaign_id)
    firsts = (sa.select(sa.func.min(events.c.seq).label("seq"))
              .where(*scope, events.c.user_id.is_not(None)).group_by(events.c.user_id).subquery())
    owner = invites.c.user_id
    rows = conn.execute(
        sa.select(events.c.at).select_from(events.join(firsts, firsts.c.seq == events.c.seq)
                                           .join(invites, invites.c.code == events.c.ref))
        .where(owner != events.c.user_id)
    ).scalars()
    return sorted(rows)


def k_series(referred: list[int], holders: list[int], *, since: int, step: int, points: int) -> list[float | None]:
    """The K-factor at the end of each of `points` periods of `step` ms from `since`: referred viewers arrived by
    then per invite holder by then (None while nobody holds a link). Both lists are sorted times."""
    out: list[float | None] = []
    for n in range(points):
        end = since + (n + 1) * step
        base = bisect_left(holders, end)
        out.append(round(bisect_left(referred, end) / base, 4) if base else None)
    return out
