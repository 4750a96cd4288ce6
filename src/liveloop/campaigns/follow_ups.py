"""Follow-up lives: a campaign created with `follow_up_of` takes the invite and clip codes of those
earlier campaigns as `ref` (events/store.py hands their owners to the engine), and is the next live
their sharers are invited to (afterlive/page.py)."""

from __future__ import annotations

import orjson
import sqlalchemy as sa

from liveloop.campaigns.models import campaign_follow_ups, campaigns
from liveloop.kit.errors import Invalid
from liveloop.kit.times import parse_iso

f, c = campaign_follow_ups.c, campaigns.c


def link(conn: sa.Connection, *, tenant_id: str, body: dict) -> None:
    """Record a new campaign's `follow_up_of`, each an earlier campaign of the tenant (else a 422)."""
    earlier = body.get("follow_up_of") or []
    if not earlier:
        return
    found = {cid: orjson.loads(text) for cid, text in conn.execute(
        sa.select(c.id, c.body).where(c.tenant_id == tenant_id, c.id.in_(earlier)))}
    starts = parse_iso(body["starts_at"], field="starts_at")
    for campaign_id in earlier:
        if campaign_id not in found:
            raise Invalid(f"follow_up_of: campaign {campaign_id!r} is not one of this tenant's campaigns",
                          field="follow_up_of")
        if parse_iso(found[campaign_id]["starts_at"], field="starts_at") >= starts:
            raise Invalid(f"follow_up_of: campaign {campaign_id!r} does not start before this one",
                          field="follow_up_of")
    conn.execute(campaign_follow_ups.insert(), [{"tenant_id": tenant_id, "campaign_id": body["id"], "follows": cid}
                                                for cid in earlier])


def next_lives(conn: sa.Connection, *, tenant_id: str, campaign_id: str, now: int) -> list[dict]:
    """The campaigns that follow this one up and have not ended yet, soonest first (their bodies)."""
    rows = conn.execute(
        sa.select(c.body).join(campaign_follow_ups, sa.and_(f.tenant_id == c.tenant_id, f.campaign_id == c.id))
        .where(f.tenant_id == tenant_id, f.follows == campaign_id)
    ).scalars()
    bodies = [orjson.loads(text) for text in rows]
    ahead = [b for b in bodies if parse_iso(b["ends_at"], field="ends_at") > now]
    return sorted(ahead, key=lambda b: (parse_iso(b["starts_at"], field="starts_at"), b["id"]))
