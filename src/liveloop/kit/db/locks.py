"""Cross-process mutual exclusion per campaign, for several liveloop processes on PostgreSQL.

A campaign's events must be applied by one engine at a time, in log order, or two processes
would each grant the same reward. Each process holds a PostgreSQL session advisory lock on the
campaign while it catches up with the log, applies its batch and commits it; the lock lives on a
connection of its own, so the group-commit writer is never blocked by it.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool

from liveloop.kit.db.unreachable import unreachable_as_unavailable

T = TypeVar("T")


def lock_key(tenant_id: str, campaign_id: str) -> int:
    digest = hashlib.sha256(f"liveloop-campaign\x1f{tenant_id}\x1f{campaign_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryLocks:
    """Session advisory locks on connections of their own, kept open between uses.

    A batch takes its campaign's lock, reads what the other processes logged, and releases the lock
    after its commit: on a connection in autocommit mode, kept aside (no pool check-out, ping or
    reset each time), that is one thread hop and two statements to take the lock and catch up, and
    one to release it.
    """

    IDLE = 8  # connections kept aside; more are opened when more campaigns are held at once

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._idle: list[sa.Connection] = []
        self._guard = threading.Lock()

    async def acquire(self, key: int,
                      then: Callable[[sa.Connection], T] | None = None) -> tuple[sa.Connection, T | None]:
        """Wait for the lock; then run `then(conn)` on its connection, under the lock, in the same hop."""
        return await run_in_threadpool(self._acquire, key, then)

    async def release(self, conn: sa.Connection, key: int) -> None:
        await run_in_threadpool(self._release, conn, key)

    def _acquire(self, key: int, then: Callable[[sa.Connection], T] | None) -> tuple[sa.Connection, T | None]:
        with unreachable_as_unavailable():
            conn = self._lock(key)
            try:
                return conn, (then(conn) if then is not None else None)
            except BaseException:
                self._release(conn, key)
                raise

    def _connection(self) -> sa.Connection:
        with self._guard:
            if self._idle:
                return self._idle.pop()
        return self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    def _lock(self, key: int) -> sa.Connection:
        conn = self._connection()
        try:
            conn.exec_driver_sql("SELECT pg_advisory_lock(%s)", (key,))
        except Exception:
            conn.close()
            raise
        return conn

    def _release(self, conn: sa.Connection, key: int) -> None:
        try:
            conn.exec_driver_sql("SELECT pg_advisory_unlock(%s)", (key,))
        except BaseException:
            conn.close()  # closing a session releases its locks anyway
            raise
        with self._guard:
            if len(self._idle) < self.IDLE:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._guard:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
