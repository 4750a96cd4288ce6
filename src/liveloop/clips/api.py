"""Clips of a live: added by the shop, listed, and shared by viewers with links of their own (SPEC 12)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from liveloop.clips import service
from liveloop.clips.schemas import ClipCreate, ClipInviteCreate, ClipInviteRead, ClipList, ClipRead
from liveloop.deps import Campaigns, Db, SettingsDep, component
from liveloop.kit import clock
from liveloop.sharelink.targets import ShareTarget, ShareTargets
from liveloop.tenants.auth import current_tenant
from liveloop.tenants.service import Tenant

router = APIRouter(tags=["clips"])
ShareTargetsDep = Annotated[ShareTargets, component("share_targets")]
CurrentTenant = Annotated[Tenant, Depends(current_tenant)]
ClipId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


@router.post("/v1/campaigns/{cid}/clips", status_code=201, response_model=ClipRead,
             summary="Add a clip of the live (a replay, a highlight) for sharers to pass on")
async def create_clip(cid: str, body: ClipCreate, campaigns: Campaigns, db: Db, tenant: CurrentTenant) -> dict:
    await campaigns.body(tenant.id, cid)
    service.check(body, allowed_hosts=tenant.allowed_hosts)
    now = clock.now_ms()
    return await db.write(lambda conn: service.create(conn, tenant_id=tenant.id, campaign_id=cid, body=body, now=now),
                          isolated=True)


@router.get("/v1/campaigns/{cid}/clips", response_model=ClipList, summary="The campaign's clips, oldest first")
async def list_clips(cid: str, campaigns: Campaigns, db: Db, tenant: CurrentTenant) -> dict:
    await campaigns.body(tenant.id, cid)
    return {"clips": await db.read(lambda conn: service.list_clips(conn, tenant_id=tenant.id, campaign_id=cid))}


@router.post("/v1/campaigns/{cid}/clips/{clip_id}/invites", status_code=201, response_model=ClipInviteRead,
             summary="A user's share link to a clip: it lands on the clip and counts as that user's clicks "
                     "(the same code again for the same user)")
async def create_clip_invite(cid: str, clip_id: ClipId, body: ClipInviteCreate, campaigns: Campaigns, db: Db,
                             share_targets: ShareTargetsDep, settings: SettingsDep, tenant: CurrentTenant) -> dict:
    live = await campaigns.get(tenant.id, cid)
    now = clock.now_ms()
    code, clip = await db.write(lambda conn: service.invite(
        conn, tenant_id=tenant.id, campaign_id=cid, market=live.body["market"], clip_id=clip_id,
        user_id=body.user_id, now=now), isolated=True)
    # The code is durable now: teach the engine (a click counts for its owner) and the share link.
    live.state.codes[code] = body.user_id
    share_targets.remember(ShareTarget(code, tenant.id, cid, body.user_id, clip["url"]))
    return {"code": code, "url": f"{settings.base_url}/s/{code}", "user_id": body.user_id, "clip_id": clip_id}
