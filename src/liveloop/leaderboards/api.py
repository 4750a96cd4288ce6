from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from liveloop.campaigns.service import leaderboard_metric
from liveloop.circles.service import Circles
from liveloop.deps import Campaigns, Db, component
from liveloop.kit.money import to_decimal_str
from liveloop.kit.responses import ViewResponse
from liveloop.leaderboards.schemas import LeaderboardRead
from liveloop.markets.catalogue import get_market
from liveloop.markets.policy import leaderboard_name
from liveloop.tenants.auth import current_tenant
from liveloop.tenants.service import Tenant
from liveloop.users.service import names_and_consents

router = APIRouter(tags=["leaderboards"])


@router.get("/v1/campaigns/{cid}/leaderboard", response_model=LeaderboardRead,
            summary="The live leaderboard, highest score first")
async def leaderboard(
    cid: str,
    campaigns: Campaigns,
    db: Db,
    tenant: Annotated[Tenant, Depends(current_tenant)],
    circles: Annotated[Circles, component("circles")],
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
) -> ViewResponse:
    """Ranked users with their display names, masked where the market's policy asks for it.

    In markets whose policy masks names (EU, GB, US, CA: `leaderboard_mask_names_without_consent`,
    a liveloop default a campaign may waive with `waive: ["policy.leaderboard_masking"]`), a public
    leaderboard shows a user who has not consented (`consents.leaderboard_public`) by the first
    letter of their display name and "***" ("Siti K." -> "S***"), with `masked: true`; the
    `user_id`, the shop's own id, is kept so the shop can still match its users. A leaderboard the
    campaign declares private (`leaderboard.public: false`) is never shown to viewers and is not masked.
    """
    body = await campaigns.body(tenant.id, cid)
    if body.get("leaderboard", {}).get("by") == "circle":
        # Circles ranked by their members' metric summed (docs/social.md), from the state caught up
        # with the log; circles have names of their own, never a user's.
        return ViewResponse(await circles.board(tenant.id, cid, limit))
    # With several processes, Redis's copy answers without this process loading the campaign.
    top = await campaigns.boards.top(tenant.id, cid, limit) if campaigns.boards is not None else None
    if top is None:
        top = (await campaigns.get(tenant.id, cid)).state.leaderboard.top(limit)
    metric = leaderboard_metric(body)
    people = await db.read(
        lambda conn: names_and_consents(conn, tenant_id=tenant.id, user_ids=[u for _r, u, _s in top]))
    market = get_market(body["market"])
    public = body.get("leaderboard", {}).get("public", True)
    waive = body.get("waive") or ()
    currency = body["currency"]
    entries = []
    for rank, user_id, score in top:
        name, consents = people.get(user_id, (None, {}))
        shown, masked = leaderboard_name(market, name, consents, waive=waive) if public else (name, False)
        entries.append({
            "rank": rank,
            "user_id": user_id,
            "display_name": shown,
            "masked": masked,
            "score": to_decimal_str(score, currency) if metric == "gmv" else score,
        })
    return ViewResponse({"metric": metric, "by": "user", "entries": entries})
