"""Webhook endpoints: create, list, delete, rotate the secret; deliveries and manual retries (SPEC 11)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from liveloop.deps import Db, SettingsDep, component
from liveloop.kit import clock
from liveloop.tenants.auth import current_tenant
from liveloop.tenants.service import Tenant
from liveloop.webhooks import service
from liveloop.webhooks.schemas import (
    DeliveryList,
    RetryRead,
    SecretRotated,
    WebhookEndpointCreate,
    WebhookEndpointList,
    WebhookEndpointRead,
)
from liveloop.webhooks.worker import WebhookWorker

router = APIRouter(tags=["webhooks"])
Worker = Annotated[WebhookWorker, component("webhooks")]
CurrentTenant = Annotated[Tenant, Depends(current_tenant)]
EndpointId = Annotated[str, Path(pattern=r"^ep_[0-9a-f]{24}$")]
MessageId = Annotated[str, Path(pattern=r"^msg_[0-9a-f]{24}$")]


@router.post("/v1/webhook-endpoints", status_code=201, response_model=WebhookEndpointRead,
             summary="Send liveloop's events to a URL, signed as Standard Webhooks (the secret is shown once)")
async def create_endpoint(body: WebhookEndpointCreate, db: Db, settings: SettingsDep, worker: Worker,
                          tenant: CurrentTenant) -> dict:
    await service.check_url(body.url, allow_private=settings.webhooks_allow_private)
    now = clock.now_ms()
    created = await db.write(lambda conn: service.create_endpoint(
        conn, tenant_id=tenant.id, url=body.url, events=body.events, description=body.description, now=now),
        isolated=True)
    await worker.endpoint_created()
    return created


@router.get("/v1/webhook-endpoints", response_model=WebhookEndpointList, summary="The tenant's webhook endpoints")
async def list_endpoints(db: Db, tenant: CurrentTenant) -> dict:
    return {"endpoints": await db.read(lambda conn: service.list_endpoints(conn, tenant_id=tenant.id))}


@router.delete("/v1/webhook-endpoints/{endpoint_id}", status_code=204, response_class=Response,
               summary="Stop sending to an endpoint (its pending deliveries are dropped)")
async def delete_endpoint(endpoint_id: EndpointId, db: Db, worker: Worker, tenant: CurrentTenant) -> Response:
    now = clock.now_ms()
    await db.write(lambda conn: service.delete_endpoint(conn, tenant_id=tenant.id, endpoint_id=endpoint_id,
                                                        now=now), isolated=True)
    await worker.endpoint_deleted()
    return Response(status_code=204)


@router.post("/v1/webhook-endpoints/{endpoint_id}/rotate", response_model=SecretRotated,
             summary="A new secret; for 24 hours every delivery is signed with the old one too")
async def rotate(endpoint_id: EndpointId, db: Db, tenant: CurrentTenant) -> dict:
    now = clock.now_ms()
    return await db.write(lambda conn: service.rotate(conn, tenant_id=tenant.id, endpoint_id=endpoint_id, now=now),
                          isolated=True)


@router.get("/v1/webhook-endpoints/{endpoint_id}/deliveries", response_model=DeliveryList,
            summary="Messages sent (or to send) to an endpoint, newest first, each with its attempts")
async def list_deliveries(
    endpoint_id: EndpointId, db: Db, tenant: CurrentTenant,
    status: Annotated[str | None, Query(pattern="^(pending|succeeded|failed)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> dict:
    return await db.read(lambda conn: service.deliveries(conn, tenant_id=tenant.id, endpoint_id=endpoint_id,
                                                         status=status, limit=limit, cursor=cursor))


@router.post("/v1/webhook-endpoints/{endpoint_id}/deliveries/{msg_id}/retry", status_code=202,
             response_model=RetryRead, summary="Send a message to an endpoint again, now")
async def retry(endpoint_id: EndpointId, msg_id: MessageId, db: Db, worker: Worker, tenant: CurrentTenant) -> dict:
    now = clock.now_ms()
    answer = await db.write(lambda conn: service.retry(conn, tenant_id=tenant.id, endpoint_id=endpoint_id,
                                                       message_id=msg_id, now=now), isolated=True)
    worker.poke()
    return answer
