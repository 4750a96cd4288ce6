"""A tenant's API keys: created with a name and scopes, listed without the key, revoked at once."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import orjson
import sqlalchemy as sa

from liveloop.kit.errors import BadRequest, Conflict, Invalid, NotFound
from liveloop.kit.ids import hash_api_key, new_api_key, new_id
from liveloop.kit.times import iso
from liveloop.tenants.models import api_keys, tenants
from liveloop.tenants.scopes import ADMIN, SCOPES
from liveloop.tenants.service import Tenant


@dataclass(frozen=True, slots=True)
class Key:
    """An API key as a request is authorized by it: its tenant, its id (the audit's actor) and scopes."""

    tenant: Tenant
    id: str
    scopes: frozenset[str]

    def allows(self, need: str) -> bool:
        return ADMIN in self.scopes or need in self.scopes


def encode_scopes(scopes: list[str] | tuple[str, ...] | frozenset[str]) -> str:
    return " ".join(sorted(set(scopes)))


def create_key(conn: sa.Connection, *, tenant_id: str, name: str, scopes: list[str], now: int) -> tuple[dict, str]:
    """A new key (returned once, stored only as its hash) and its read."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise Invalid(f"unknown scope {unknown[0]!r}: use {', '.join(SCOPES)}", field="scopes")
    if not scopes:
        raise Invalid("a key needs at least one scope", field="scopes")
    if not name.strip():
        raise Invalid("a key needs a name", field="name")
    key = new_api_key()
    key_id = new_id("key")
    conn.execute(api_keys.insert().values(key_hash=hash_api_key(key), id=key_id, tenant_id=tenant_id, name=name,
                                          scopes=encode_scopes(scopes), prefix=key[:8], created_at=now))
    return get_key(conn, tenant_id=tenant_id, key_id=key_id), key


def get_key(conn: sa.Connection, *, tenant_id: str, key_id: str) -> dict:
    row = conn.execute(sa.select(api_keys).where(api_keys.c.tenant_id == tenant_id, api_keys.c.id == key_id)).first()
    if row is None:
        raise NotFound(f"no API key {key_id!r}")
    return _read(row)


def page(conn: sa.Connection, *, tenant_id: str, limit: int, cursor: str | None) -> dict:
    """The tenant's keys, oldest first, a page at a time (never the key itself)."""
    c = api_keys.c
    query = sa.select(api_keys).where(c.tenant_id == tenant_id)
    if cursor is not None:
        created, key_id = _read_cursor(cursor)
        query = query.where(sa.or_(c.created_at > created, sa.and_(c.created_at == created, c.id > key_id)))
    rows = conn.execute(query.order_by(c.created_at, c.id).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return {"api_keys": [_read(r) for r in rows],
            "next_cursor": _cursor(rows[-1].created_at, rows[-1].id) if more else None}


def revoke_key(conn: sa.Connection, *, tenant_id: str, key_id: str, now: int) -> dict:
    """Revoked from now on (again: unchanged). The tenant's last admin key cannot be revoked: nobody
    could make another."""
    key = get_key(conn, tenant_id=tenant_id, key_id=key_id)
    if key["revoked_at"] is not None:
        return key
    if ADMIN in key["scopes"]:
        admins = conn.execute(sa.select(sa.func.count()).select_from(api_keys).where(
            api_keys.c.tenant_id == tenant_id, api_keys.c.revoked_at.is_(None),
            api_keys.c.scopes.like(f"%{ADMIN}%"))).scalar_one()
        if admins <= 1:
            raise Conflict("this is the tenant's last admin key: create another admin key first",
                           code="api_key.last_admin")
    conn.execute(api_keys.update().where(api_keys.c.tenant_id == tenant_id, api_keys.c.id == key_id)
                 .values(revoked_at=now))
    return get_key(conn, tenant_id=tenant_id, key_id=key_id)


def key_for(conn: sa.Connection, digest: str) -> Key | None:
    """The live key with this hash, or None (unknown or revoked)."""
    row = conn.execute(
        sa.select(tenants.c.id, tenants.c.name, tenants.c.allowed_hosts, api_keys.c.id.label("key_id"),
                  api_keys.c.scopes)
        .join(api_keys, api_keys.c.tenant_id == tenants.c.id)
        .where(api_keys.c.key_hash == digest, api_keys.c.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    tenant = Tenant(row.id, row.name, tuple(orjson.loads(row.allowed_hosts)))
    return Key(tenant, row.key_id, frozenset(row.scopes.split()))


def _read(row) -> dict:
    return {"id": row.id, "name": row.name, "scopes": row.scopes.split(), "prefix": row.prefix,
            "created_at": iso(row.created_at), "revoked_at": iso(row.revoked_at)}


def _cursor(created_at: int, key_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([created_at, key_id])).decode().rstrip("=")


def _read_cursor(cursor: str) -> tuple[int, str]:
    try:
        created, key_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if type(created) is int and abs(created) < 2**62 and isinstance(key_id, str) and len(key_id) <= 40 \
                and key_id.isascii() and key_id.replace("_", "").isalnum():
            return created, key_id
    except (ValueError, TypeError):
        pass
    raise BadRequest("cursor is not one this API returned", field="cursor")
