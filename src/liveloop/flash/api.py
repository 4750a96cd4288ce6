from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from liveloop.deps import Campaigns, Db, component
from liveloop.events.live import refuse_cancelled
from liveloop.flash import service
from liveloop.flash.schemas import FlashDealCreate, FlashDealRead, FlashDealsRead
from liveloop.kit import clock
from liveloop.kit.times import to_ms
from liveloop.scheduler.worker import JobWorker
from liveloop.tenants.auth import current_tenant
from liveloop.tenants.service import Tenant

router = APIRouter(tags=["flash deals"])
Jobs = Annotated[JobWorker, component("jobs")]


@router.post("/v1/campaigns/{cid}/flash-deals", status_code=201, response_model=FlashDealRead,
             summary="Announce a flash deal: early to early_notice holders, at starts_at to everyone else")
async def create_flash_deal(cid: str, body: FlashDealCreate, db: Db, campaigns: Campaigns, jobs: Jobs,
                            tenant: Annotated[Tenant, Depends(current_tenant)]) -> dict:
    """Viewers' streams get `flash_deal` `{phase, id, title, starts_at, early_minutes, early_at, ends_at}`:
    phase `early` for holders of the `early_notice` privilege, `start` for the others. 409
    `flash_deal.exists` for a taken id."""
    live = await campaigns.get(tenant.id, cid)
    refuse_cancelled(live)
    now = clock.now_ms()
    deal = await db.write(lambda conn: service.create(
        conn, tenant_id=tenant.id, campaign_id=cid, deal_id=body.id, title=body.title,
        starts_at=to_ms(body.starts_at), early_ms=round(body.early_minutes * 60_000),
        ends_at=to_ms(body.ends_at) if body.ends_at is not None else None, now=now), isolated=True)
    jobs.poke()  # a notice may be due at once
    return service.public(deal)


@router.get("/v1/campaigns/{cid}/flash-deals", response_model=FlashDealsRead, summary="The campaign's flash deals")
async def list_flash_deals(cid: str, db: Db, campaigns: Campaigns,
                           tenant: Annotated[Tenant, Depends(current_tenant)]) -> dict:
    await campaigns.get(tenant.id, cid)
    deals = await db.read(lambda conn: service.listed(conn, tenant_id=tenant.id, campaign_id=cid))
    return {"flash_deals": [service.public(d) for d in deals]}
