from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from liveloop.campaigns import service
from liveloop.campaigns.schemas import CampaignCreate
from liveloop.engine.state import CampaignState
from liveloop.events.live import LiveCampaign
from liveloop.kit import clock
from liveloop.tenants.auth import current_tenant
from liveloop.tenants.service import Tenant

router = APIRouter(tags=["campaigns"])


@router.post("/v1/campaigns", status_code=201, summary="Create a campaign (the referral programme of one live)")
async def create_campaign(
    body: CampaignCreate, request: Request, tenant: Annotated[Tenant, Depends(current_tenant)]
) -> dict:
    rt = request.app.state.runtime
    rates = await rt.fx.table(tenant.id)
    data = service.normalize(body, allowed_hosts=tenant.allowed_hosts, convert=rates.convert)
    config = service.to_config(tenant.id, data)
    now = clock.now_ms()
    stored = await rt.db.write(lambda conn: service.create(conn, tenant_id=tenant.id, data=data, now=now),
                               isolated=True)
    rt.live.add(tenant.id, LiveCampaign(stored, CampaignState(config)))
    return stored


@router.get("/v1/campaigns/{cid}", summary="A campaign")
async def get_campaign(cid: str, request: Request, tenant: Annotated[Tenant, Depends(current_tenant)]) -> dict:
    live = await request.app.state.runtime.live.get(tenant.id, cid)
    return live.body
