"""The database as the rest of liveloop sees it: reads in a thread pool, writes via the writer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from typing import Any, TypeVar

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool

from liveloop.kit.db.dialect import create_engine
from liveloop.kit.db.locks import AdvisoryLocks
from liveloop.kit.db.unreachable import unreachable_as_unavailable
from liveloop.kit.db.writer import Writer

T = TypeVar("T")


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self.writer = Writer(self.engine)
        # On PostgreSQL several processes may share the database (events/gate.py takes its locks);
        # SQLite is one process's own.
        self.locks = AdvisoryLocks(self.engine) if self.engine.dialect.name == "postgresql" else None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def read(self, fn: Callable[[sa.Connection], T]) -> T:
        """Run `fn(conn)` on a pooled connection in a worker thread (committed data only)."""
        return await run_in_threadpool(self._read, fn)

    def _read(self, fn: Callable[[sa.Connection], Any]) -> Any:
        with unreachable_as_unavailable(), self.engine.connect() as conn:
            return fn(conn)

    async def write(self, fn: Callable[[sa.Connection], T], *, isolated: bool = False,
                    campaigns: Collection[tuple[str, str]] | None = None) -> T:
        """Run `fn(conn)` in the writer's next group commit; return once it is durable.

        `campaigns`: the (tenant_id, campaign_id) states the rows were computed from, rebuilt if the
        write fails (None: unknown, every state is). See kit/db/writer.py.
        """
        return await self.writer.run(fn, isolated=isolated, campaigns=campaigns)

    def submit(self, fn: Callable[[sa.Connection], T], *,
               campaigns: Collection[tuple[str, str]] | None = None) -> asyncio.Future:
        """`write`, queued now rather than when awaited: the future of its result (writes are committed in
        the order they are queued)."""
        return self.writer.submit(fn, campaigns=campaigns)

    def close(self) -> None:
        self.writer.stop()
        if self.locks is not None:
            self.locks.close()
        self.engine.dispose()
