"""The server's signing key for viewer and room tokens and draw seeds."""

from __future__ import annotations

import secrets

from liveloop.kit.db.database import Database
from liveloop.tenants.service import server_secret


class Signing:
    """From the settings, else generated once and stored in the database (so every process and
    restart signs alike); loaded at start-up, before the first request."""

    def __init__(self, configured: str | None) -> None:
        self.key = configured or ""

    async def load(self, db: Database) -> None:
        if not self.key:
            self.key = await db.write(
                lambda conn: server_secret(conn, name="signing", generate=lambda: secrets.token_hex(32)))
