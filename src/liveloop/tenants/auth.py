"""API-key authentication and scopes: `Authorization: Bearer <key>` to a tenant, if the key may."""

from __future__ import annotations

from fastapi import Request

from liveloop.kit import clock
from liveloop.kit.db.database import Database
from liveloop.kit.errors import Forbidden, Unauthorized
from liveloop.kit.ids import hash_api_key
from liveloop.ops.context import note_tenant
from liveloop.tenants.keys import Key, key_for
from liveloop.tenants.scopes import required_scope
from liveloop.tenants.service import Tenant

# How long a process trusts what it read about a key. A key revoked by another process is refused
# here at most this long afterwards (SPEC section 14: "at once on every process"); one read per
# key and second costs nothing next to the requests it serves.
KEY_CACHE_SECONDS = 1.0

# Where (tenant id, key id) of the key that authorized a request are left for the audit (audit/recorder.py).
ACTOR = "liveloop.actor"


class ApiKeys:
    """Resolves keys to tenants and checks their scopes; what was read is kept for a second (by hash)."""

    def __init__(self, db: Database, *, max_age: float = KEY_CACHE_SECONDS) -> None:
        self._db = db
        self._max_age = max_age
        self._cache: dict[str, tuple[Key, float]] = {}

    async def tenant(self, authorization: str | None, *, need: str) -> Tenant:
        return (await self.key(authorization, need=need)).tenant

    async def key(self, authorization: str | None, *, need: str) -> Key:
        if not authorization:
            raise Unauthorized("missing Authorization: Bearer <api key>")
        scheme, _, secret = authorization.partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret or len(secret) > 200:
            raise Unauthorized("Authorization must be 'Bearer <api key>'")
        digest = hash_api_key(secret)
        now = clock.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and now - cached[1] < self._max_age:
            key = cached[0]
        else:
            key = await self._db.read(lambda conn: key_for(conn, digest))
            if key is None:
                self._cache.pop(digest, None)
                raise Unauthorized("unknown or revoked API key")
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (key, now)
        note_tenant(key.tenant.id)
        if not key.allows(need):
            raise Forbidden(f"this API key's scopes ({', '.join(sorted(key.scopes))}) do not include {need!r}",
                            code="auth.scope")
        return key

    def forget(self, key_id: str) -> None:
        """A key revoked by this process is refused here at once."""
        for digest, (key, _at) in list(self._cache.items()):
            if key.id == key_id:
                del self._cache[digest]


async def current_key(request: Request) -> Key:
    """FastAPI dependency: the request's key, allowed the scope its route declares (tenants/scopes.py)."""
    route = request.scope.get("route")
    need = required_scope(request.method, route.path if route is not None else request.url.path)
    key = await request.app.state.components.api_keys.key(request.headers.get("authorization"), need=need)
    request.scope[ACTOR] = (key.tenant.id, key.id)
    return key


async def current_tenant(request: Request) -> Tenant:
    """FastAPI dependency for the management endpoints: the tenant of a key allowed this route."""
    return (await current_key(request)).tenant
