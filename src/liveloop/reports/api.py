from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from liveloop.kit import clock
from liveloop.reports import views
from liveloop.tenants.auth import current_tenant
from liveloop.tenants.service import Tenant

router = APIRouter(tags=["reports"])


@router.get("/v1/campaigns/{cid}/users/{uid}/progress", summary="One user's referral progress")
async def progress(
    cid: str,
    uid: Annotated[str, Path(min_length=1, max_length=128)],
    request: Request,
    tenant: Annotated[Tenant, Depends(current_tenant)],
) -> dict:
    live = await request.app.state.runtime.live.get(tenant.id, cid)
    return views.progress(live.state, uid, clock.now_ms())


@router.get("/v1/campaigns/{cid}/report", summary="Funnel, referred vs organic, per-referrer rows, K-factor")
async def report(cid: str, request: Request, tenant: Annotated[Tenant, Depends(current_tenant)]) -> dict:
    live = await request.app.state.runtime.live.get(tenant.id, cid)
    return views.report(live.state)
