"""Room tokens: what lets an overlay page read one campaign's room stream, and the route that mints them.

EventSource cannot send headers, and an API key must never reach a page: an overlay in a browser or
streaming software passes a room token as `?token=` instead. A room token reads one campaign's room
stream and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from liveloop.deps import Campaigns, SigningDep
from liveloop.kit import clock
from liveloop.kit.errors import Unauthorized
from liveloop.kit.times import iso
from liveloop.ops.context import note_tenant
from liveloop.realtime.tokens import MAX_TTL_SECONDS, MIN_TTL_SECONDS, sign_claims, verify_claims
from liveloop.tenants.auth import current_tenant
from liveloop.tenants.service import Tenant

router = APIRouter(tags=["realtime"])

# The server secret also signs viewer tokens and derives draw seeds: a domain prefix keeps them apart.
_DOMAIN = b"liveloop-room-token|"


@dataclass(frozen=True, slots=True)
class RoomToken:
    tenant_id: str
    campaign_id: str
    expires_at: int  # epoch ms


def sign_room_token(secret: str, *, tenant_id: str, campaign_id: str, ttl_seconds: int, now: int) -> tuple[str, int]:
    """A token for one campaign's room stream, valid `ttl_seconds` from `now`; returns (token, expires_at)."""
    return sign_claims(secret, _DOMAIN, {"t": tenant_id, "c": campaign_id}, ttl_seconds=ttl_seconds, now=now)


def verify_room_token(secret: str, token: str, *, now: int) -> RoomToken:
    """The room a token grants, or Unauthorized when it is malformed, forged or expired."""
    claims = verify_claims(secret, _DOMAIN, token, now=now, what="room token",
                           expired="room token expired; mint a new one")
    room = RoomToken(claims.get("t"), claims.get("c"), claims["x"])
    if not (isinstance(room.tenant_id, str) and isinstance(room.campaign_id, str)):
        raise Unauthorized("malformed room token", field="token")
    note_tenant(room.tenant_id)
    return room


class RoomTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ttl_seconds: Annotated[int, Field(ge=MIN_TTL_SECONDS, le=MAX_TTL_SECONDS)] = 6 * 3600


class RoomTokenRead(BaseModel):
    token: str
    expires_at: str


@router.post("/v1/campaigns/{cid}/room-tokens", status_code=201, response_model=RoomTokenRead,
             summary="A token for the campaign's room stream, for an overlay page (GET .../room-stream?token=)")
async def create_room_token(
    cid: str, campaigns: Campaigns, signing: SigningDep, tenant: Annotated[Tenant, Depends(current_tenant)],
    body: RoomTokenCreate | None = None,
) -> dict:
    await campaigns.get(tenant.id, cid)
    token, expires_at = sign_room_token(signing.key, tenant_id=tenant.id, campaign_id=cid,
                                        ttl_seconds=(body or RoomTokenCreate()).ttl_seconds, now=clock.now_ms())
    return {"token": token, "expires_at": iso(expires_at)}
