from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from liveloop.deps import Db, SettingsDep
from liveloop.integrations import repository
from liveloop.integrations.schemas import IntegrationCreate, IntegrationRead, IntegrationUpdate
from liveloop.kit import clock
from liveloop.tenants.auth import current_tenant
from liveloop.tenants.service import Tenant

router = APIRouter(tags=["integrations"])

IntegrationId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_]{1,64}$", examples=["int_3f2a9c0d1e4b5a6f7081"])]


@router.post("/v1/integrations", status_code=201, response_model=IntegrationRead,
             summary="A webhook endpoint for a streaming provider (paste its url into the provider's console)")
async def create_integration(
    body: IntegrationCreate, db: Db, settings: SettingsDep, tenant: Annotated[Tenant, Depends(current_tenant)]
) -> dict:
    now = clock.now_ms()
    integration_id = await db.write(
        lambda conn: repository.create(conn, tenant_id=tenant.id, provider=body.provider, secret=body.secret,
                                    api_key=body.api_key, now=now),
        isolated=True,
    )
    url = f"{settings.base_url}/v1/integrations/{body.provider}/{integration_id}"
    return {"id": integration_id, "provider": body.provider, "url": url}


@router.put("/v1/integrations/{integration_id}", response_model=IntegrationRead,
            summary="Replace an integration's secret (and API key); its webhook URL stays the same")
async def update_integration(
    integration_id: IntegrationId, body: IntegrationUpdate, db: Db, settings: SettingsDep,
    tenant: Annotated[Tenant, Depends(current_tenant)],
) -> dict:
    provider = await db.write(
        lambda conn: repository.update(conn, tenant_id=tenant.id, integration_id=integration_id, secret=body.secret,
                                    api_key=body.api_key),
        isolated=True,
    )
    url = f"{settings.base_url}/v1/integrations/{provider}/{integration_id}"
    return {"id": integration_id, "provider": provider, "url": url}
