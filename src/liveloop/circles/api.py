from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from liveloop.circles.schemas import CircleCreate, CircleMemberAdd, CircleRead
from liveloop.circles.service import Circles
from liveloop.deps import component
from liveloop.kit import clock
from liveloop.tenants.auth import current_tenant
from liveloop.tenants.service import Tenant

router = APIRouter(tags=["circles"])
CirclesDep = Annotated[Circles, component("circles")]


@router.post("/v1/campaigns/{cid}/circles", status_code=201, response_model=CircleRead,
             summary="Make a circle (family and friends) with its owner as first member")
async def create_circle(cid: str, body: CircleCreate, circles: CirclesDep,
                        tenant: Annotated[Tenant, Depends(current_tenant)]) -> dict:
    """409 `circle.exists` for a taken id, `circle.one_per_user` when the owner is in another circle,
    `circle.closed` once the campaign has ended or was cancelled."""
    return await circles.create(tenant.id, cid, circle_id=body.id, owner=body.owner, name=body.name,
                                now=clock.now_ms())


@router.post("/v1/campaigns/{cid}/circles/{circle_id}/members", status_code=201, response_model=CircleRead,
             summary="Add a member to a circle (at most max_circle_size, one circle per user and campaign)")
async def join_circle(cid: str, circle_id: str, body: CircleMemberAdd, circles: CirclesDep, response: Response,
                      tenant: Annotated[Tenant, Depends(current_tenant)]) -> dict:
    """201 when the user joined, 200 when they were a member already; 409 `circle.full`,
    `circle.one_per_user` (a member of another circle) or `circle.closed`; 404 for an unknown circle."""
    circle, joined = await circles.join(tenant.id, cid, circle_id, user_id=body.user_id, now=clock.now_ms())
    if not joined:
        response.status_code = 200
    return circle


@router.get("/v1/campaigns/{cid}/circles/{circle_id}", response_model=CircleRead, summary="A circle")
async def get_circle(cid: str, circle_id: str, circles: CirclesDep,
                     tenant: Annotated[Tenant, Depends(current_tenant)]) -> dict:
    return await circles.get(tenant.id, cid, circle_id)
