"""Who users are, as messages and pages about them need it: the users table's lookups by id, and the
`NameLookup` Protocol through which the stream hubs and draws read them after a commit.

Every lookup answers for the users it knows; an unknown id is simply absent. `tests/fakes.py` keeps
the same Protocol in memory.
"""

from __future__ import annotations

from typing import Protocol

import orjson
import sqlalchemy as sa

from liveloop.kit.db.database import Database
from liveloop.users.models import users


class NameLookup(Protocol):
    """Display names with what showing them needs, each one read."""

    async def display_names(self, tenant_id: str, user_ids: list[str]) -> dict[str, str | None]:
        """Each known user's display name."""

    async def names_and_consents(self, tenant_id: str, user_ids: list[str]) -> dict[str, tuple[str | None, dict]]:
        """Each known user's display name and consents (a public leaderboard masks by consent)."""

    async def names_and_locales(self, tenant_id: str,
                                user_ids: list[str]) -> dict[str, tuple[str | None, str | None]]:
        """Each known user's display name and locale (stream messages are written in the locale)."""


class SqlNames:
    """Name lookups in SQL (in a worker thread, like every read)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def display_names(self, tenant_id: str, user_ids: list[str]) -> dict[str, str | None]:
        return await self._db.read(lambda conn: display_names(conn, tenant_id=tenant_id, user_ids=user_ids))

    async def names_and_consents(self, tenant_id: str, user_ids: list[str]) -> dict[str, tuple[str | None, dict]]:
        return await self._db.read(lambda conn: names_and_consents(conn, tenant_id=tenant_id, user_ids=user_ids))

    async def names_and_locales(self, tenant_id: str,
                                user_ids: list[str]) -> dict[str, tuple[str | None, str | None]]:
        return await self._db.read(lambda conn: names_and_locales(conn, tenant_id=tenant_id, user_ids=user_ids))


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
    """Display name and locale of each known user, a query per `NAMES_PER_QUERY` of them (stream messages are
    written in the locale; the hub asks for all the batches of a burst at once)."""
    found: dict[str, tuple[str | None, str | None]] = {}
    for start in range(0, len(user_ids), NAMES_PER_QUERY):
        rows = conn.execute(
            sa.select(users.c.user_id, users.c.display_name, users.c.locale).where(
                users.c.tenant_id == tenant_id, users.c.user_id.in_(user_ids[start:start + NAMES_PER_QUERY])
            )
        ).all()
        found.update((uid, (name, locale)) for uid, name, locale in rows)
    return found


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
