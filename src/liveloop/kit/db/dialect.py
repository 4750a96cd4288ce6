"""Per-dialect SQL: connection pragmas, insert-or-ignore, the engine factory."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


def normalize_url(url: str) -> str:
    """Accept the URLs people paste (postgresql://, postgres://) and pick our drivers."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(url: str) -> sa.Engine:
    url = normalize_url(url)
    # A failed statement's message leaves out its values: they are users' data (addresses, names),
    # and such messages reach the logs.
    if is_sqlite(url):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                                  hide_parameters=True)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True, hide_parameters=True)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL lets readers run beside the single writer; synchronous=NORMAL keeps every committed
    # transaction safe from a killed process (not from power loss) without an fsync per commit.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA cache_size=-65536")
    # Deleted and overwritten content is zeroed on disk, not left in free pages: an erased user's
    # name, device ids and addresses are gone from the file, not only from its queries.
    cur.execute("PRAGMA secure_delete=ON")
    cur.close()


def insert_ignore(dialect_name: str, table: sa.Table):
    """INSERT that skips rows whose unique key exists (idempotent ingestion)."""
    if dialect_name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()
