from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from liveloop.deps import Campaigns
from liveloop.kit import clock
from liveloop.kit.ids import USER_ID_PATTERN
from liveloop.kit.responses import ViewResponse
from liveloop.rewards.schemas import RewardsRead
from liveloop.rewards.views import reward_read
from liveloop.tenants.auth import current_tenant
from liveloop.tenants.service import Tenant

router = APIRouter(tags=["rewards"])


@router.get("/v1/campaigns/{cid}/rewards", response_model=RewardsRead,
            summary="The reward ledger of a campaign, or of one user")
async def list_rewards(
    cid: str,
    campaigns: Campaigns,
    tenant: Annotated[Tenant, Depends(current_tenant)],
    user_id: Annotated[str | None, Query(pattern=USER_ID_PATTERN)] = None,
    status: Annotated[str | None, Query(pattern="^(available|pending|void|declined)$")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ViewResponse:
    live = await campaigns.get(tenant.id, cid)
    state = live.state
    pool = state.rewards_by_user.get(user_id, []) if user_id is not None else state.rewards.values()
    now = clock.now_ms()
    rows = (reward_read(r, now) for r in pool)
    if status is not None:
        rows = (row for row in rows if row["status"] == status)
    out = []
    for i, row in enumerate(rows):
        if i >= offset + limit:
            break
        if i >= offset:
            out.append(row)
    return ViewResponse({"rewards": out})
