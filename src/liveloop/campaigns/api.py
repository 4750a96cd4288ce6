from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from liveloop.afterlive import plan
from liveloop.campaigns import follow_ups, service
from liveloop.campaigns.schemas import CampaignCreate
from liveloop.deps import Campaigns, Db, Fx, component
from liveloop.engine.state import CampaignState
from liveloop.events.live import LiveCampaign
from liveloop.kit import clock
from liveloop.scheduler.worker import JobWorker
from liveloop.tenants.auth import current_tenant
from liveloop.tenants.service import Tenant

router = APIRouter(tags=["campaigns"])
Jobs = Annotated[JobWorker, component("jobs")]


@router.post("/v1/campaigns", status_code=201, summary="Create a campaign (the referral programme of one live)")
async def create_campaign(
    body: CampaignCreate, db: Db, campaigns: Campaigns, fx: Fx, jobs: Jobs,
    tenant: Annotated[Tenant, Depends(current_tenant)],
) -> dict:
    rates = await fx.table(tenant.id)
    data = service.normalize(body, allowed_hosts=tenant.allowed_hosts, convert=rates.convert)
    config = service.to_config(tenant.id, data)
    now = clock.now_ms()

    def create(conn) -> dict:
        stored = service.create(conn, tenant_id=tenant.id, data=data, now=now)
        follow_ups.link(conn, tenant_id=tenant.id, body=stored)
        plan.schedule(conn, tenant_id=tenant.id, body=stored, now=now)
        return stored

    stored = await db.write(create, isolated=True)
    campaigns.add(tenant.id, LiveCampaign(stored, CampaignState(config)))
    jobs.poke()  # a campaign created for a past window has jobs due now
    return stored


@router.get("/v1/campaigns/{cid}", summary="A campaign")
async def get_campaign(cid: str, campaigns: Campaigns, tenant: Annotated[Tenant, Depends(current_tenant)]) -> dict:
    live = await campaigns.get(tenant.id, cid)
    return live.body
