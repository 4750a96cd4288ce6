"""PUT /v1/campaigns/{cid}/room-users/{provider_uid}: who a streaming provider's user is."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from liveloop.deps import Campaigns, Db, component
from liveloop.kit import clock
from liveloop.kit.errors import NotFound
from liveloop.kit.ids import USER_ID_PATTERN
from liveloop.rooms import repository
from liveloop.rooms.directory import Rooms
from liveloop.rooms.schemas import RoomUserRead, RoomUserUpdate
from liveloop.tenants.auth import current_tenant
from liveloop.tenants.service import Tenant

router = APIRouter(tags=["integrations"])
RoomsDep = Annotated[Rooms, component("rooms")]

ProviderUid = Annotated[str, Path(pattern=USER_ID_PATTERN,
                                  description="Agora: the uid; LiveKit: the participant identity")]


@router.put("/v1/campaigns/{cid}/room-users/{provider_uid}", response_model=RoomUserRead,
            summary="Map a streaming provider's user id to your user id (otherwise the provider's id is used)")
async def put_room_user(
    cid: str, provider_uid: ProviderUid, body: RoomUserUpdate, campaigns: Campaigns, db: Db, rooms: RoomsDep,
    tenant: Annotated[Tenant, Depends(current_tenant)],
) -> dict:
    await campaigns.get(tenant.id, cid)  # 404 for an unknown (or another tenant's) campaign
    now = clock.now_ms()
    await db.write(lambda conn: repository.set_user(conn, tenant_id=tenant.id, campaign_id=cid,
                                                 provider_uid=provider_uid, user_id=body.user_id, now=now),
                   isolated=True)
    rooms.users.remember(tenant.id, cid, provider_uid, body.user_id)
    return {"campaign_id": cid, "provider_uid": provider_uid, "user_id": body.user_id}


@router.get("/v1/campaigns/{cid}/room-users/{provider_uid}", response_model=RoomUserRead,
            summary="The user id a streaming provider's user id maps to")
async def get_room_user(
    cid: str, provider_uid: ProviderUid, campaigns: Campaigns, db: Db,
    tenant: Annotated[Tenant, Depends(current_tenant)],
) -> dict:
    await campaigns.get(tenant.id, cid)
    user_id = await db.read(lambda conn: repository.get_user(conn, tenant_id=tenant.id, campaign_id=cid,
                                                          provider_uid=provider_uid))
    if user_id is None:
        raise NotFound(f"no mapping for {provider_uid!r}: the provider's id is used as the user id",
                       field="provider_uid")
    return {"campaign_id": cid, "provider_uid": provider_uid, "user_id": user_id}
