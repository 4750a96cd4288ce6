"""Which message types each tenant's live endpoints take, known in memory to every process.

The outbox makes a message only for a tenant with a live endpoint that takes its type: a message
nobody takes would be written with its cause, fanned out to nobody and kept. Measured, making and
writing those messages halved ingestion for a tenant without endpoints (docs/benchmarks.md,
"Webhook messages only for endpoints that take them"), which is most tenants most of the time.

Each process keeps the live endpoints' (tenant, types) in memory, read whole:
- at start, and at once after this process creates or deletes an endpoint: one process alone is
  exact (an endpoint takes the messages of every cause committed after its creation);
- with several processes on one database, again whenever another process changed them: every
  REFRESH_SECONDS a one-row query (how many endpoints were ever made, and the sum of their deletion
  times) says whether anything changed. Creating an endpoint answers only after SETTLE_SECONDS, by
  which time every running process has reread: each cause committed after the answer has its
  message, wherever it was ingested.
Until the first read every type is taken, so a process that has not read yet loses nothing.

The map is replaced whole, never changed in place: the writer thread reads it (Outbox.write) while
the event loop replaces it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Container

import sqlalchemy as sa

from liveloop.kit.background import cancel_and_wait
from liveloop.kit.db.database import Database
from liveloop.webhooks import repository

log = logging.getLogger("liveloop.webhooks")

REFRESH_SECONDS = 0.5
SETTLE_SECONDS = 2 * REFRESH_SECONDS + 0.5  # two rereads, and room for a slow one


class _Every:
    """What an endpoint without an `events` filter takes."""

    def __contains__(self, _kind: object) -> bool:
        return True

    def __bool__(self) -> bool:
        return True


EVERY: Container[str] = _Every()
NONE: Container[str] = frozenset()


class Subscriptions:
    def __init__(self, db: Database, *, shared: bool) -> None:
        """`shared`: other processes write the same database and may create or delete endpoints."""
        self._db = db
        self._shared = shared
        self._takes: dict[str, Container[str]] | None = None  # None: not read yet
        self._signature: tuple[int, int] | None = None
        self._task: asyncio.Task | None = None

    def takes(self, tenant_id: str) -> Container[str]:
        """The types some live endpoint of the tenant takes (empty, and false, when none)."""
        takes = self._takes
        if takes is None:
            return EVERY
        return takes.get(tenant_id, NONE)

    def any(self) -> bool:
        """Whether any tenant has a live endpoint (True until the first read)."""
        return self._takes is None or bool(self._takes)

    async def start(self) -> None:
        try:
            await self.reload()
        except Exception as exc:  # noqa: BLE001 - e.g. a schema behind its migrations: readiness says so
            log.warning("could not read the webhook endpoints, every message is made until they are: %s", exc)
        if self._shared or self._takes is None:
            self._task = asyncio.get_running_loop().create_task(self._follow())

    async def close(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def reload(self) -> None:
        """Read every live endpoint's tenant and types (after this process changed one: at once)."""
        self._signature, self._takes = await self._db.read(_read)

    async def endpoint_created(self) -> None:
        """After an endpoint's creation committed: known here at once, and with several processes
        waits until each has reread, so that the caller's answer promises every later message."""
        await self.reload()
        if self._shared:
            await asyncio.sleep(SETTLE_SECONDS)

    async def _follow(self) -> None:
        """Rereads what another process changed; alone, only tries again until the first read."""
        failing = False
        while self._shared or self._takes is None:
            await asyncio.sleep(REFRESH_SECONDS)
            try:
                if self._takes is None or await self._db.read(repository.endpoints_signature) != self._signature:
                    await self.reload()
                failing = False
            except Exception as exc:  # noqa: BLE001 - the database away: keep what is known, try again
                if not failing:  # once per outage, not twice a second
                    log.warning("could not reread the webhook endpoints: %s", exc)
                failing = True


def _read(conn: sa.Connection) -> tuple[tuple[int, int], dict[str, Container[str]]]:
    signature = repository.endpoints_signature(conn)  # first: a change after it is caught next time
    takes: dict[str, Container[str]] = {}
    for tenant_id, events in repository.live_endpoint_types(conn):
        known = takes.get(tenant_id, NONE)
        takes[tenant_id] = EVERY if events is None or known is EVERY else frozenset((*known, *events))
    return signature, takes
