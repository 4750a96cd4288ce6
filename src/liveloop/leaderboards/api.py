from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from liveloop.kit.money import to_decimal_str
from liveloop.tenants.auth import current_tenant
from liveloop.tenants.service import Tenant
from liveloop.users.service import display_names

router = APIRouter(tags=["leaderboards"])


@router.get("/v1/campaigns/{cid}/leaderboard", summary="The live leaderboard, highest score first")
async def leaderboard(
    cid: str,
    request: Request,
    tenant: Annotated[Tenant, Depends(current_tenant)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
) -> dict:
    rt = request.app.state.runtime
    live = await rt.live.get(tenant.id, cid)
    metric = live.state.config.leaderboard_metric
    top = live.state.leaderboard.top(limit)
    names = await rt.db.read(lambda conn: display_names(conn, tenant_id=tenant.id, user_ids=[u for _r, u, _s in top]))
    currency = live.state.config.currency
    return {
        "metric": metric,
        "entries": [
            {
                "rank": rank,
                "user_id": user_id,
                "display_name": names.get(user_id),
                "score": to_decimal_str(score, currency) if metric == "gmv" else score,
            }
            for rank, user_id, score in top
        ],
    }
