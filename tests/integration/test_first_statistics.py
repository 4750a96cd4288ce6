"""A new PostgreSQL database's busiest tables are analyzed once they hold rows (kit/db/statistics.py):
until then PostgreSQL plans them as if they were empty and picked the wrong index for the event log's
duplicate check. Nothing is done on SQLite."""

from __future__ import annotations

import asyncio

from liveloop.events.models import events
from liveloop.kit.db import statistics
from liveloop.kit.db.database import Database
from liveloop.kit.db.migrate import upgrade
from liveloop.kit.db.statistics import FirstStatistics


def add_events(db: Database, count: int, start: int = 0) -> None:
    with db.engine.begin() as conn:
        conn.execute(events.insert(), [
            {"tenant_id": "t1", "id": f"e{i}", "campaign_id": "c1", "type": "click", "at": i, "received_at": i}
            for i in range(start, start + count)])


def analyzed(db: Database) -> dict[str, bool]:
    with db.engine.connect() as conn:
        return {name: done for name, done in conn.exec_driver_sql(
            "SELECT relname, last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname IN ('events', 'users')")}


async def watch(db: Database, seconds: float) -> None:
    first = FirstStatistics(db)
    first.start()
    await asyncio.sleep(seconds)
    await first.stop()


def test_a_table_is_analyzed_once_it_holds_rows_and_only_then(new_database, monkeypatch):
    monkeypatch.setattr(statistics, "CHECK_SECONDS", 0.05)
    url = new_database("statistics")
    upgrade(url)
    db = Database(url)
    try:
        if db.dialect != "postgresql":
            # Nothing to do on SQLite: no task is made (outside an event loop, making one would raise).
            FirstStatistics(db).start()
            return
        with db.engine.begin() as conn:  # autovacuum's own analysis would race this test's
            conn.exec_driver_sql("ALTER TABLE events SET (autovacuum_enabled = false)")
            conn.exec_driver_sql("ALTER TABLE users SET (autovacuum_enabled = false)")
        add_events(db, statistics.MIN_ROWS - 10)
        asyncio.run(watch(db, 1.5))  # the counts reach the statistics within a second
        assert analyzed(db) == {"events": False, "users": False}
        add_events(db, 20, start=statistics.MIN_ROWS)
        asyncio.run(watch(db, 1.5))
        assert analyzed(db) == {"events": True, "users": False}
    finally:
        db.close()
