"""GET /v1/audit: the tenant's management actions, newest first, a page at a time."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from liveloop.audit import service
from liveloop.deps import Db
from liveloop.tenants.auth import current_tenant
from liveloop.tenants.service import Tenant

router = APIRouter(tags=["audit"])


class AuditEntryRead(BaseModel):
    id: int
    at: str
    actor: str
    action: str
    target: str | None


class AuditRead(BaseModel):
    entries: list[AuditEntryRead]
    next_cursor: str | None


@router.get("/v1/audit", response_model=AuditRead, summary="Who did what, when: the tenant's management actions")
async def audit(
    db: Db,
    tenant: Annotated[Tenant, Depends(current_tenant)],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200, description="`next_cursor` of the page before")] = None,
) -> dict:
    """Campaign changes, draw runs, keys, webhook endpoints, integrations, FX rates and erasures,
    each with its actor (the API key's id), time, action and target (ids only, never personal data;
    an erased user is named by their pseudonym)."""
    return await db.read(lambda conn: service.page(conn, tenant_id=tenant.id, limit=limit, cursor=cursor))
