"""Webhook endpoints: create, list, delete, rotate the secret; deliveries and manual retries (SPEC 11)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from liveloop.deps import Db, SettingsDep, component
from liveloop.kit import clock
from liveloop.kit.errors import Invalid
from liveloop.kit.times import iso
from liveloop.tenants.auth import current_tenant
from liveloop.tenants.service import Tenant
from liveloop.webhooks import repository, signing, urls
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

ROTATION_OVERLAP_MS = 24 * 3600 * 1000


def _read(endpoint: repository.Endpoint, secret: str | None = None) -> dict:
    return {"id": endpoint.id, "url": endpoint.url, "events": list(endpoint.events) if endpoint.events else None,
            "description": endpoint.description, "created_at": iso(endpoint.created_at), "secret": secret}


@router.post("/v1/webhook-endpoints", status_code=201, response_model=WebhookEndpointRead,
             summary="Send liveloop's events to a URL, signed as Standard Webhooks (the secret is shown once)")
async def create_endpoint(body: WebhookEndpointCreate, db: Db, settings: SettingsDep, worker: Worker,
                          tenant: CurrentTenant) -> dict:
    await urls.check_field(body.url, allow_private=settings.webhooks_allow_private)
    endpoint_id = "ep_" + secrets.token_hex(12)
    secret = signing.new_secret()
    now = clock.now_ms()
    events = sorted(set(body.events)) if body.events else None
    endpoint = await db.write(lambda conn: repository.create_endpoint(
        conn, endpoint_id=endpoint_id, tenant_id=tenant.id, url=body.url, events=events,
        description=body.description, secret=secret, now=now), isolated=True)
    worker.poke()
    return _read(endpoint, secret)


@router.get("/v1/webhook-endpoints", response_model=WebhookEndpointList, summary="The tenant's webhook endpoints")
async def list_endpoints(db: Db, tenant: CurrentTenant) -> dict:
    found = await db.read(lambda conn: repository.list_endpoints(conn, tenant_id=tenant.id))
    return {"endpoints": [_read(ep) for ep in found]}


@router.delete("/v1/webhook-endpoints/{endpoint_id}", status_code=204, response_class=Response,
               summary="Stop sending to an endpoint (its pending deliveries are dropped)")
async def delete_endpoint(endpoint_id: EndpointId, db: Db, tenant: CurrentTenant) -> Response:
    now = clock.now_ms()
    await db.write(lambda conn: repository.delete_endpoint(conn, tenant_id=tenant.id, endpoint_id=endpoint_id,
                                                           now=now), isolated=True)
    return Response(status_code=204)


@router.post("/v1/webhook-endpoints/{endpoint_id}/rotate", response_model=SecretRotated,
             summary="A new secret; for 24 hours every delivery is signed with the old one too")
async def rotate(endpoint_id: EndpointId, db: Db, tenant: CurrentTenant) -> dict:
    secret = signing.new_secret()
    now = clock.now_ms()
    await db.write(lambda conn: repository.rotate_secret(
        conn, tenant_id=tenant.id, endpoint_id=endpoint_id, secret=secret, keep_until=now + ROTATION_OVERLAP_MS),
        isolated=True)
    return {"id": endpoint_id, "secret": secret, "previous_secret_expires_at": iso(now + ROTATION_OVERLAP_MS)}


@router.get("/v1/webhook-endpoints/{endpoint_id}/deliveries", response_model=DeliveryList,
            summary="Messages sent (or to send) to an endpoint, newest first, each with its attempts")
async def list_deliveries(
    endpoint_id: EndpointId, db: Db, tenant: CurrentTenant,
    status: Annotated[str | None, Query(pattern="^(pending|succeeded|failed)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> dict:
    before = None
    if cursor is not None:
        if not cursor.isdigit():
            raise Invalid("cursor is not one this list gave", field="cursor")
        before = int(cursor)
    rows = await db.read(lambda conn: repository.deliveries(
        conn, tenant_id=tenant.id, endpoint_id=endpoint_id, status=status, limit=limit + 1, before=before))
    page = rows[:limit]
    return {
        "deliveries": [{
            "message_id": row["message_id"], "type": row["type"], "status": row["status"],
            "created_at": iso(row["created_at"]),
            "next_attempt_at": iso(row["next_at"]) if row["next_at"] is not None else None,
            "attempts": [{"at": iso(at.at), "status_code": at.status_code, "error": at.error,
                          "duration_ms": at.duration_ms} for at in row["attempts"]],
        } for row in page],
        "next_cursor": str(page[-1]["id"]) if len(rows) > limit else None,
    }


@router.post("/v1/webhook-endpoints/{endpoint_id}/deliveries/{msg_id}/retry", status_code=202,
             response_model=RetryRead, summary="Send a message to an endpoint again, now")
async def retry(endpoint_id: EndpointId, msg_id: MessageId, db: Db, worker: Worker, tenant: CurrentTenant) -> dict:
    now = clock.now_ms()
    await db.write(lambda conn: repository.retry_now(conn, tenant_id=tenant.id, endpoint_id=endpoint_id,
                                                     message_id=msg_id, now=now), isolated=True)
    worker.poke()
    return {"message_id": msg_id, "status": "pending"}
