"""Users: the merchant's viewers, known by the merchant's own ids."""

from __future__ import annotations

import orjson
import sqlalchemy as sa

from liveloop.kit.db.dialect import insert_ignore
from liveloop.kit.errors import Invalid
from liveloop.kit.limits import MAX_CONSENTS
from liveloop.users.emails import normalize
from liveloop.users.models import users


def upsert(conn: sa.Connection, *, tenant_id: str, user_id: str, changes: dict, default_market: str | None,
           now: int) -> tuple[dict, bool]:
    """Create or update a user; returns (user, created)."""
    row = conn.execute(
        sa.select(users).where(users.c.tenant_id == tenant_id, users.c.user_id == user_id)
    ).mappings().first()
    values = dict(changes)
    if "email" in values:
        values["email_hash"], values["email_domain"] = normalize(values.pop("email"))
    if "consents" in values:
        merged = orjson.loads(row["consents"]) if row is not None else {}
        merged.update(values["consents"])
        if len(merged) > MAX_CONSENTS:
            raise Invalid(f"a user holds at most {MAX_CONSENTS} consents", field="consents")
        values["consents"] = orjson.dumps(merged).decode()
    if row is None:
        market = values.get("market") or default_market
        if market is None:
            raise Invalid("a new user needs a market", field="market")
        values["market"] = market
        conn.execute(users.insert().values(tenant_id=tenant_id, user_id=user_id, created_at=now, updated_at=now,
                                           **values))
        created = True
    else:
        if values:
            conn.execute(users.update().where(users.c.tenant_id == tenant_id, users.c.user_id == user_id)
                         .values(updated_at=now, **values))
        created = False
    return get(conn, tenant_id=tenant_id, user_id=user_id) or {}, created


def ensure(conn: sa.Connection, *, tenant_id: str, user_id: str, market: str, now: int) -> None:
    """Create a user implicitly (first seen in an invite or event), in the campaign's market."""
    conn.execute(insert_ignore(conn.dialect.name, users).values(
        tenant_id=tenant_id, user_id=user_id, market=market, consents="{}", created_at=now, updated_at=now))


def get(conn: sa.Connection, *, tenant_id: str, user_id: str) -> dict | None:
    row = conn.execute(
        sa.select(users).where(users.c.tenant_id == tenant_id, users.c.user_id == user_id)
    ).mappings().first()
    if row is None:
        return None
    return {
        "user_id": row["user_id"],
        "market": row["market"],
        "locale": row["locale"],
        "display_name": row["display_name"],
        "consents": orjson.loads(row["consents"]),
    }
