"""Tenants and their API keys."""

from __future__ import annotations

import json
from dataclasses import dataclass

import sqlalchemy as sa

from liveloop.kit.ids import hash_api_key, new_api_key, new_id
from liveloop.tenants.models import api_keys, server_secrets, tenants


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    name: str
    allowed_hosts: tuple[str, ...]


def create_tenant(conn: sa.Connection, *, name: str, allowed_hosts: list[str], now: int) -> tuple[Tenant, str]:
    """A new tenant and its first API key (returned once, stored only as a hash)."""
    tenant = Tenant(new_id("tn"), name, tuple(h.lower() for h in allowed_hosts))
    conn.execute(
        tenants.insert().values(
            id=tenant.id, name=name, allowed_hosts=json.dumps(list(tenant.allowed_hosts)), created_at=now
        )
    )
    return tenant, add_api_key(conn, tenant_id=tenant.id, now=now)


def add_api_key(conn: sa.Connection, *, tenant_id: str, now: int) -> str:
    """The tenant's first key: an admin key, from which every other key is made (tenants/keys.py)."""
    key = new_api_key()
    conn.execute(api_keys.insert().values(key_hash=hash_api_key(key), id=new_id("key"), tenant_id=tenant_id,
                                          name="admin", scopes="admin", prefix=key[:8], created_at=now))
    return key


def get_tenant(conn: sa.Connection, tenant_id: str) -> Tenant:
    row = conn.execute(sa.select(tenants.c.name, tenants.c.allowed_hosts).where(tenants.c.id == tenant_id)).one()
    return Tenant(tenant_id, row.name, tuple(json.loads(row.allowed_hosts)))


def server_secret(conn: sa.Connection, *, name: str, generate) -> str:
    """A secret kept in the database so that every process and every restart shares it."""
    value = conn.execute(sa.select(server_secrets.c.value).where(server_secrets.c.name == name)).scalar()
    if value is None:
        conn.execute(server_secrets.insert().values(name=name, value=generate()))
        value = conn.execute(sa.select(server_secrets.c.value).where(server_secrets.c.name == name)).scalar_one()
    return value
