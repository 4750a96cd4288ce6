"""Where a share code leads, in SQL: the invite's tenant, campaign and owner, and its clip's URL.

Behind the `TargetLookup` Protocol so the share link's cache (sharelink/targets.py) is tested
without a database; `tests/fakes.py` keeps it in memory.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import sqlalchemy as sa

from liveloop.clips.models import clips
from liveloop.invites.models import invites
from liveloop.kit.db.database import Database


class CodeTarget(NamedTuple):
    tenant_id: str
    campaign_id: str
    owner: str
    landing: str | None  # the clip's URL for a clip's code


class TargetLookup(Protocol):
    async def target(self, code: str) -> CodeTarget | None:
        """Where any tenant's code leads (codes are global: the share link carries no tenant); None if unknown."""


class SqlTargets:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def target(self, code: str) -> CodeTarget | None:
        return await self._db.read(lambda conn: target(conn, code))


def target(conn: sa.Connection, code: str) -> CodeTarget | None:
    i, k = invites.c, clips.c
    row = conn.execute(
        sa.select(i.tenant_id, i.campaign_id, i.user_id, k.url)
        .outerjoin(clips, sa.and_(k.tenant_id == i.tenant_id, k.campaign_id == i.campaign_id, k.id == i.clip_id))
        .where(i.code == code)
    ).first()
    return CodeTarget(*row) if row is not None else None
