from __future__ import annotations

import base64
import itertools
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Query

from liveloop.deps import Campaigns
from liveloop.kit import clock
from liveloop.kit.errors import BadRequest
from liveloop.kit.ids import USER_ID_PATTERN
from liveloop.kit.responses import ViewResponse
from liveloop.rewards.schemas import RewardsRead
from liveloop.rewards.views import reward_read
from liveloop.tenants.auth import current_tenant
from liveloop.tenants.service import Tenant

router = APIRouter(tags=["rewards"])


@router.get("/v1/campaigns/{cid}/rewards", response_model=RewardsRead,
            summary="The reward ledger of a campaign, or of one user, a page at a time")
async def list_rewards(
    cid: str,
    campaigns: Campaigns,
    tenant: Annotated[Tenant, Depends(current_tenant)],
    user_id: Annotated[str | None, Query(pattern=USER_ID_PATTERN)] = None,
    status: Annotated[str | None, Query(pattern="^(available|pending|void|declined)$")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    cursor: Annotated[str | None, Query(max_length=300, description="`next_cursor` of the page before")] = None,
) -> ViewResponse:
    """In the order the rewards were granted; `next_cursor` is set while more entries follow (null
    on the last page). The ledger only grows, so a page never shifts: rewards granted meanwhile come
    after the last one, and a reward whose status changed meanwhile is shown where it was granted."""
    live = await campaigns.get(tenant.id, cid)
    state = live.state
    pool = state.rewards_by_user.get(user_id, []) if user_id is not None else state.rewards.values()
    start = 0
    if cursor is not None:
        start = read_cursor(cursor, pool)
    now = clock.now_ms()
    out = []
    position = start
    more = False
    for reward in itertools.islice(pool, start, None):
        position += 1
        row = reward_read(reward, now)
        if status is not None and row["status"] != status:
            continue
        if len(out) == limit:
            more = True
            break
        out.append(row)
        last = position
    return ViewResponse({"rewards": out, "next_cursor": make_cursor(last, out[-1]["id"]) if more else None})


def make_cursor(position: int, reward_id: str) -> str:
    """How many of the ledger's entries (in grant order) the pages so far covered, and the last shown."""
    return base64.urlsafe_b64encode(orjson.dumps([position, reward_id])).decode().rstrip("=")


def read_cursor(cursor: str, pool) -> int:
    try:
        position, reward_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if type(position) is int and 0 < position <= len(pool) and isinstance(reward_id, str):
            [shown] = itertools.islice(pool, position - 1, position)
            if shown.id == reward_id:
                return position
    except (ValueError, TypeError):
        pass
    raise BadRequest("cursor is not one this list gave (for this campaign, user and status)", field="cursor")
