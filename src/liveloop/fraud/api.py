from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from liveloop.deps import component
from liveloop.fraud.schemas import BlocklistRead, BlocklistUpdate, DecisionsCreate, DecisionsRead, ReviewsRead
from liveloop.fraud.service import Decision, Reviews
from liveloop.kit import clock
from liveloop.tenants.auth import current_tenant
from liveloop.tenants.service import Tenant

router = APIRouter(tags=["fraud"])
ReviewsDep = Annotated[Reviews, component("reviews")]
TenantDep = Annotated[Tenant, Depends(current_tenant)]


@router.get("/v1/campaigns/{cid}/reviews", response_model=ReviewsRead,
            summary="Referrals held for review, highest risk first")
async def list_reviews(
    cid: str, reviews: ReviewsDep, tenant: TenantDep,
    status: Annotated[str | None, Query(pattern="^(open|approved|denied)$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=200, description="`next_cursor` of the page before")] = None,
) -> dict:
    return await reviews.page(tenant.id, cid, status=status, limit=limit, cursor=cursor)


@router.post("/v1/campaigns/{cid}/reviews/decisions", response_model=DecisionsRead,
             summary="Approve or deny reviews, one or many")
async def decide(cid: str, body: DecisionsCreate, reviews: ReviewsDep, tenant: TenantDep) -> dict:
    """Approving releases the referral's rewards (or leaves them `pending` under their own hold);
    denying voids them, takes the referral out of the referrer's metrics, score and rank, and voids
    the milestone rewards no longer reached. The same decision again changes nothing; another
    decision on a decided review is a 409. An unknown review id is rejected alone, with its index."""
    decisions = [Decision(i, d.id, d.decision) for i, d in enumerate(body.decisions)]
    return await reviews.decide(tenant.id, cid, decisions, note=body.note, decided_by="api", now=clock.now_ms())


@router.get("/v1/blocklist", response_model=BlocklistRead, summary="The tenant's fraud blocklist")
async def get_blocklist(reviews: ReviewsDep, tenant: TenantDep) -> dict:
    return await reviews.blocklist(tenant.id)


@router.put("/v1/blocklist", response_model=BlocklistRead,
            summary="Replace the tenant's blocklist (devices, IP networks, email domains)")
async def put_blocklist(body: BlocklistUpdate, reviews: ReviewsDep, tenant: TenantDep) -> dict:
    return await reviews.put_blocklist(tenant.id, body.model_dump(), now=clock.now_ms())
