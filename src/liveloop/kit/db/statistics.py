"""First statistics of a new PostgreSQL database: its busiest tables analyzed as soon as they hold rows.

PostgreSQL plans each query from the statistics ANALYZE gathers. On a new database nobody has run it
yet, and autovacuum does so only after its next pass (a minute, `autovacuum_naptime`, at the earliest):
until then a table is planned as if it were nearly empty, whatever it holds, and PostgreSQL picks
between indexes that look alike at that size. The ingestion path paid for it under the campaign's
lock: the check for events already logged went through the campaign index and read every row of the
tenant (8 to 10 ms a batch of 500 instead of under 1), measured with pg_stat_statements and
auto_explain while `make bench-scaleout` ingested its stream into a new database.

So each process on PostgreSQL looks every CHECK_SECONDS for one of these tables that holds at least
MIN_ROWS rows and that nobody (a process, autovacuum, an operator) has ever analyzed, and analyzes it
(a second or less; it takes no lock that writers wait for). Once each has been analyzed it stops:
autovacuum keeps the statistics current from then on.
"""

from __future__ import annotations

import asyncio
import logging

import sqlalchemy as sa

from liveloop.kit.background import cancel_and_wait
from liveloop.kit.db.database import Database

log = logging.getLogger("liveloop.db")

TABLES = ("events", "users", "rewards", "reward_changes", "invites", "webhook_messages", "webhook_deliveries")
MIN_ROWS = 1000
CHECK_SECONDS = 2.0


def table_statistics(conn: sa.Connection, tables: list[str]) -> list[tuple[str, int, bool]]:
    """(table, rows written so far, analyzed by anyone yet) of those of `tables` that exist."""
    return [tuple(row) for row in conn.exec_driver_sql(
        "SELECT relname, n_tup_ins, last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL"
        " FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = ANY(%s)", (tables,))]


def analyze(conn: sa.Connection, table: str) -> None:
    conn.exec_driver_sql(f'ANALYZE "{table}"')
    conn.commit()  # statistics are rows of a catalog: kept only once committed


class FirstStatistics:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self._db.dialect == "postgresql":
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        waiting = list(TABLES)
        while waiting:
            await asyncio.sleep(CHECK_SECONDS)
            try:
                for table, written, analyzed in await self._db.read(lambda conn: table_statistics(conn, waiting)):
                    if analyzed:
                        waiting.remove(table)
                    elif written >= MIN_ROWS:
                        await self._db.read(lambda conn, table=table: analyze(conn, table))
                        log.info("analyzed table %s (%d rows written, never analyzed before)", table, written)
                        waiting.remove(table)
            except Exception as exc:  # noqa: BLE001 - the database away: readiness says so; try again later
                log.debug("could not check the tables' statistics: %s", exc)
