from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from liveloop.deps import Campaigns, Db, SettingsDep, component
from liveloop.events.live import refuse_cancelled
from liveloop.invites import service
from liveloop.invites.schemas import InviteCreate, InviteRead
from liveloop.kit import clock
from liveloop.sharelink.targets import ShareTarget, ShareTargets
from liveloop.tenants.auth import current_tenant
from liveloop.tenants.service import Tenant

router = APIRouter(tags=["invites"])
ShareTargetsDep = Annotated[ShareTargets, component("share_targets")]


@router.post(
    "/v1/campaigns/{cid}/invites",
    status_code=201,
    response_model=InviteRead,
    summary="A user's invite code and share link (the same code again for the same user and channel)",
)
async def create_invite(
    cid: str,
    body: InviteCreate,
    campaigns: Campaigns,
    db: Db,
    share_targets: ShareTargetsDep,
    settings: SettingsDep,
    tenant: Annotated[Tenant, Depends(current_tenant)],
) -> dict:
    live = await campaigns.get(tenant.id, cid)
    refuse_cancelled(live)
    now = clock.now_ms()
    code, _created = await db.write(
        lambda conn: service.create(conn, tenant_id=tenant.id, campaign_id=cid, market=live.body["market"],
                                    user_id=body.user_id, channel=body.channel, code=body.code, now=now),
        isolated=True,
    )
    # The code is durable now: teach the engine and the share link about it.
    live.state.codes[code] = body.user_id
    share_targets.remember(ShareTarget(code, tenant.id, cid, body.user_id))
    return {"code": code, "url": f"{settings.base_url}/s/{code}", "user_id": body.user_id,
            "channel": body.channel}
