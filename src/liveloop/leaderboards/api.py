from __future__ import annotations

import base64
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Query

from liveloop.campaigns.service import leaderboard_metric
from liveloop.circles.service import Circles
from liveloop.deps import Campaigns, Db, component
from liveloop.kit.errors import BadRequest
from liveloop.kit.money import to_decimal_str
from liveloop.kit.responses import ViewResponse
from liveloop.leaderboards.schemas import LeaderboardRead
from liveloop.markets.catalogue import get_market
from liveloop.markets.policy import leaderboard_name
from liveloop.tenants.auth import current_tenant
from liveloop.tenants.service import Tenant
from liveloop.users.repository import names_and_consents

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
    cursor: Annotated[str | None, Query(max_length=400, description="`next_cursor` of the page before")] = None,
) -> ViewResponse:
    """Ranked users with their display names, masked where the market's policy asks for it.

    In markets whose policy masks names (EU, GB, US, CA: `leaderboard_mask_names_without_consent`,
    a liveloop default a campaign may waive with `waive: ["policy.leaderboard_masking"]`), a public
    leaderboard shows a user who has not consented (`consents.leaderboard_public`) by the first
    letter of their display name and "***" ("Siti K." -> "S***"), with `masked: true`; the
    `user_id`, the shop's own id, is kept so the shop can still match its users. A leaderboard the
    campaign declares private (`leaderboard.public: false`) is never shown to viewers and is not masked.

    `next_cursor` is set while more entries follow: the next page starts after the last entry shown
    (its score, when it reached it and its user), so it neither repeats nor skips an entry that stayed
    put while the board changed; ranks are always the current ones.
    """
    body = await campaigns.body(tenant.id, cid)
    after = read_cursor(cursor) if cursor is not None else None
    if body.get("leaderboard", {}).get("by") == "circle":
        # Circles ranked by their members' metric summed (docs/social.md), from the state caught up
        # with the log; circles have names of their own, never a user's.
        board = await circles.board(tenant.id, cid, after, limit + 1)
        keys = board.pop("keys")
        more = len(keys) > limit
        board["entries"] = board["entries"][:limit]
        board["next_cursor"] = make_cursor(*keys[limit - 1]) if more else None
        return ViewResponse(board)
    page = None
    if after is None and campaigns.boards is not None:
        # With several processes, Redis's copy answers the top without this process loading the campaign.
        page = await campaigns.boards.top_keys(tenant.id, cid, limit + 1)
    if page is None:
        page = (await campaigns.get(tenant.id, cid)).state.leaderboard.page_after(after, limit + 1)
    more = len(page) > limit
    page = page[:limit]
    top = [(rank, user_id, score) for rank, user_id, score, _at in page]
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
    next_cursor = make_cursor(page[-1][2], page[-1][3], page[-1][1]) if more else None
    return ViewResponse({"metric": metric, "by": "user", "entries": entries, "next_cursor": next_cursor})


def make_cursor(score: int, reached_at: int, user_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([score, reached_at, user_id])).decode().rstrip("=")


def read_cursor(cursor: str) -> tuple[int, int, str]:
    try:
        score, reached_at, user_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if type(score) is int and type(reached_at) is int and isinstance(user_id, str) and \
                abs(score) < 2**62 and abs(reached_at) < 2**62:
            return score, reached_at, user_id
    except (ValueError, TypeError):
        pass
    raise BadRequest("cursor is not one this list gave", field="cursor")
