"""API-key authentication: `Authorization: Bearer <key>` to a tenant."""

from __future__ import annotations

from fastapi import Request

from liveloop.kit.db.database import Database
from liveloop.kit.errors import Unauthorized
from liveloop.kit.ids import hash_api_key
from liveloop.ops.context import note_tenant
from liveloop.tenants.service import Tenant, tenant_for_key


class ApiKeys:
    """Resolves keys to tenants; known keys are cached (by hash) so the hot paths skip the database."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._cache: dict[str, Tenant] = {}

    async def tenant(self, authorization: str | None) -> Tenant:
        if not authorization:
            raise Unauthorized("missing Authorization: Bearer <api key>")
        scheme, _, key = authorization.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key or len(key) > 200:
            raise Unauthorized("Authorization must be 'Bearer <api key>'")
        digest = hash_api_key(key)
        tenant = self._cache.get(digest)
        if tenant is None:
            tenant = await self._db.read(lambda conn: tenant_for_key(conn, key))
            if tenant is None:
                raise Unauthorized("unknown or revoked API key")
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = tenant
        note_tenant(tenant.id)
        return tenant


async def current_tenant(request: Request) -> Tenant:
    """FastAPI dependency for the management endpoints."""
    return await request.app.state.components.api_keys.tenant(request.headers.get("authorization"))
