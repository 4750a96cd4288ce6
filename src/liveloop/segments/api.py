from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from liveloop.deps import Campaigns, Db
from liveloop.kit import clock
from liveloop.kit.errors import Invalid, NotFound
from liveloop.segments import service
from liveloop.segments.schemas import SegmentMembersAdd, SegmentPut, SegmentRead
from liveloop.tenants.auth import current_tenant
from liveloop.tenants.service import Tenant

router = APIRouter(tags=["segments"])
SegmentId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


@router.put("/v1/segments/{sid}", response_model=SegmentRead, status_code=201,
            summary="Create or replace a segment (seed users): a list of users, or a past campaign's top N")
async def put_segment(sid: SegmentId, body: SegmentPut, db: Db, campaigns: Campaigns, response: Response,
                      tenant: Annotated[Tenant, Depends(current_tenant)]) -> dict:
    """201 when created, 200 when replaced. `from: {campaign_id, metric, top}` takes that campaign's
    top referrers by the metric, ranked like its leaderboard (422 `segment.unknown_campaign` for a
    campaign the tenant does not have). A rule's `audience` keeps the version it was set with."""
    if body.from_ is not None:
        source = body.from_.model_dump()
        try:
            past = await campaigns.get(tenant.id, body.from_.campaign_id)
        except NotFound:
            raise Invalid(f"segment from an unknown campaign {body.from_.campaign_id!r}",
                          code="segment.unknown_campaign", field="from.campaign_id") from None
        users = service.top_referrers(past.state, body.from_.metric, body.from_.top)
    else:
        users = body.user_ids or []
        source = {"user_ids": len(users)}
    now = clock.now_ms()
    segment, created = await db.write(lambda conn: service.put(
        conn, tenant_id=tenant.id, segment_id=sid, name=body.name, user_ids=users, source=source, add=False,
        now=now), isolated=True)
    if not created:
        response.status_code = 200
    return segment


@router.post("/v1/segments/{sid}/members", response_model=SegmentRead,
             summary="Add users to a segment (up to 100,000 per call)")
async def add_members(sid: SegmentId, body: SegmentMembersAdd, db: Db,
                      tenant: Annotated[Tenant, Depends(current_tenant)]) -> dict:
    now = clock.now_ms()

    def add(conn) -> dict:
        current = service.get(conn, tenant_id=tenant.id, segment_id=sid)
        return service.put(conn, tenant_id=tenant.id, segment_id=sid, name=current["name"], user_ids=body.user_ids,
                           source={"user_ids": len(body.user_ids), "added_to": current["version"]}, add=True,
                           now=now)[0]

    return await db.write(add, isolated=True)


@router.get("/v1/segments/{sid}", response_model=SegmentRead, summary="A segment")
async def get_segment(sid: SegmentId, db: Db, tenant: Annotated[Tenant, Depends(current_tenant)]) -> dict:
    return await db.read(lambda conn: service.get(conn, tenant_id=tenant.id, segment_id=sid))
