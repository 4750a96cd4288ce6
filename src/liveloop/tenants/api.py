"""/v1/api-keys: a tenant's keys, made and revoked by an admin key."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from liveloop.deps import Db, component
from liveloop.kit import clock
from liveloop.kit.fields import Line
from liveloop.tenants import keys
from liveloop.tenants.auth import ApiKeys, current_tenant
from liveloop.tenants.service import Tenant

router = APIRouter(tags=["api keys"])
TenantDep = Annotated[Tenant, Depends(current_tenant)]
Keys = Annotated[ApiKeys, component("api_keys")]
KeyId = Annotated[str, Path(max_length=40)]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Line(100) = Field(examples=["shop back end"])
    scopes: Annotated[list[Literal["read", "write", "admin"]], Field(min_length=1, max_length=3,
                                                                    examples=[["read", "write"]])]


class ApiKeyRead(BaseModel):
    id: str
    name: str
    scopes: list[str]
    prefix: str = Field(description="the key's first characters, to recognise it")
    created_at: str
    revoked_at: str | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="the key itself: shown once, stored only as a hash")


class ApiKeysRead(BaseModel):
    api_keys: list[ApiKeyRead]
    next_cursor: str | None


@router.post("/v1/api-keys", status_code=201, response_model=ApiKeyCreated, summary="Create an API key")
async def create_key(body: ApiKeyCreate, db: Db, tenant: TenantDep) -> dict:
    """`read` allows every GET, `write` the shop back end's calls (events, users, invites, viewer
    tokens, questions), `admin` everything. The key is in this answer only."""
    now = clock.now_ms()
    read, key = await db.write(lambda conn: keys.create_key(conn, tenant_id=tenant.id, name=body.name,
                                                            scopes=list(body.scopes), now=now), isolated=True)
    return {**read, "key": key}


@router.get("/v1/api-keys", response_model=ApiKeysRead, summary="The tenant's API keys (never the keys themselves)")
async def list_keys(
    db: Db,
    tenant: TenantDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200, description="`next_cursor` of the page before")] = None,
) -> dict:
    return await db.read(lambda conn: keys.page(conn, tenant_id=tenant.id, limit=limit, cursor=cursor))


@router.delete("/v1/api-keys/{key_id}", response_model=ApiKeyRead,
               responses={404: {"description": "no such key"},
                          409: {"description": "the tenant's last admin key (`api_key.last_admin`)"}},
               summary="Revoke an API key, at once on every process")
async def revoke_key(key_id: KeyId, db: Db, api_keys: Keys, tenant: TenantDep) -> dict:
    """Refused from now on here, and within a second by every other process. Revoking it again
    changes nothing."""
    now = clock.now_ms()
    read = await db.write(lambda conn: keys.revoke_key(conn, tenant_id=tenant.id, key_id=key_id, now=now),
                          isolated=True)
    api_keys.forget(key_id)
    return read
