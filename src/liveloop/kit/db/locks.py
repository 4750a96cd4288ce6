"""Cross-process mutual exclusion per campaign, for several liveloop processes on PostgreSQL.

A campaign's events must be applied by one engine at a time, in log order, or two processes
would each grant the same reward. Each process holds a PostgreSQL session advisory lock on the
campaign while it catches up with the log, applies its batch and commits it; the lock lives on a
connection of its own, so the group-commit writer is never blocked by it.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool

from liveloop.kit.db.unreachable import unreachable_as_unavailable


def lock_key(tenant_id: str, campaign_id: str) -> int:
    digest = hashlib.sha256(f"liveloop-campaign\x1f{tenant_id}\x1f{campaign_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryLocks:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    async def acquire(self, key: int) -> sa.Connection:
        return await run_in_threadpool(self._acquire, key)

    async def release(self, conn: sa.Connection, key: int) -> None:
        await run_in_threadpool(self._release, conn, key)

    def _acquire(self, key: int) -> sa.Connection:
        with unreachable_as_unavailable():
            return self._lock(key)

    def _lock(self, key: int) -> sa.Connection:
        conn = self._engine.connect()
        try:
            conn.exec_driver_sql("SELECT pg_advisory_lock(%s)", (key,))
            conn.commit()
        except Exception:
            conn.close()
            raise
        return conn

    def _release(self, conn: sa.Connection, key: int) -> None:
        try:
            conn.exec_driver_sql("SELECT pg_advisory_unlock(%s)", (key,))
            conn.commit()
        finally:
            conn.close()  # closing a session releases its locks anyway
