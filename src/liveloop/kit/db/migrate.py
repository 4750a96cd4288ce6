"""Alembic, driven from code: `liveloop migrate`, the start of `liveloop serve`, and readiness."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError

from liveloop.kit.db.database import Database
from liveloop.kit.db.dialect import normalize_url
from liveloop.kit.errors import Unavailable


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "liveloop:migrations")
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    command.upgrade(alembic_config(url), "head")


class SchemaCheck:
    """Whether a database's schema is behind the migrations of this version (readiness)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._script = ScriptDirectory.from_config(alembic_config(db.url))
        self.heads = frozenset(self._script.get_heads())

    async def __call__(self) -> str | None:
        try:
            return await self._db.read(self._behind)
        except Unavailable:
            return "database unreachable"

    def _behind(self, conn: sa.Connection) -> str | None:
        current = frozenset(MigrationContext.configure(conn).get_current_heads())
        if current == self.heads:
            return None
        for revision in current:
            try:
                self._script.get_revision(revision)
            except CommandError:
                # Migrated by a newer version (a rolling upgrade): its migrations keep this one working.
                return None
        return (f"migrations behind: the database is at {', '.join(sorted(current)) or 'none'}, this version "
                f"needs {', '.join(sorted(self.heads))} (run liveloop migrate)")
