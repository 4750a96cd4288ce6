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


NAMES_PER_QUERY = 500  # a report names every referrer: keep each IN list well under SQLite's variable limit


def display_names(conn: sa.Connection, *, tenant_id: str, user_ids: list[str]) -> dict[str, str | None]:
    names: dict[str, str | None] = {}
    for start in range(0, len(user_ids), NAMES_PER_QUERY):
        rows = conn.execute(
            sa.select(users.c.user_id, users.c.display_name).where(
                users.c.tenant_id == tenant_id, users.c.user_id.in_(user_ids[start:start + NAMES_PER_QUERY])
            )
        ).all()
        names.update(rows)
    return names


def names_and_consents(conn: sa.Connection, *, tenant_id: str,
                       user_ids: list[str]) -> dict[str, tuple[str | None, dict]]:
    """Display name and consents of each known user, in one query (public leaderboards mask by consent)."""
    if not user_ids:
        return {}
    rows = conn.execute(
        sa.select(users.c.user_id, users.c.display_name, users.c.consents).where(
            users.c.tenant_id == tenant_id, users.c.user_id.in_(user_ids)
        )
    ).all()
    return {uid: (name, orjson.loads(consents) if consents else {}) for uid, name, consents in rows}


def names_and_locales(conn: sa.Connection, *, tenant_id: str,
                      user_ids: list[str]) -> dict[str, tuple[str | None, str | None]]:
    """Display name and locale of each known user, in one query (stream messages are written in the locale)."""
    if not user_ids:
        return {}
    rows = conn.execute(
        sa.select(users.c.user_id, users.c.display_name, users.c.locale).where(
            users.c.tenant_id == tenant_id, users.c.user_id.in_(user_ids)
        )
    ).all()
    return {uid: (name, locale) for uid, name, locale in rows}


def profiles(conn: sa.Connection, *, tenant_id: str, user_ids: list[str]) -> dict[str, dict]:
    """Each known user's display name, locale, market and consents (what a message to or about them needs)."""
    found: dict[str, dict] = {}
    for start in range(0, len(user_ids), NAMES_PER_QUERY):
        rows = conn.execute(
            sa.select(users.c.user_id, users.c.display_name, users.c.locale, users.c.market, users.c.consents).where(
                users.c.tenant_id == tenant_id, users.c.user_id.in_(user_ids[start:start + NAMES_PER_QUERY])
            )
        ).all()
        for uid, name, locale, market, consents in rows:
            found[uid] = {"display_name": name, "locale": locale, "market": market,
                          "consents": orjson.loads(consents) if consents else {}}
    return found
