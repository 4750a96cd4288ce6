"""Bulk inserts for the hot path: rows as tuples straight to the driver's executemany.

SQLAlchemy Core would turn every row dict into bound parameters one by one; on the ingestion path
that costs more than SQLite's own insert, so these statements are built once per table and
dialect and sent as plain SQL.
"""

from __future__ import annotations

import sqlalchemy as sa


class BulkInsert:
    def __init__(self, dialect_name: str, table: sa.Table, columns: tuple[str, ...], *, skip_conflicts: bool = False):
        self.columns = columns
        marker = "%s" if dialect_name == "postgresql" else "?"
        sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([marker] * len(columns))})"
        if skip_conflicts:
            sql += " ON CONFLICT DO NOTHING"
        self.sql = sql

    def __call__(self, conn: sa.Connection, rows: list[tuple]) -> int:
        """Insert the rows; returns how many were inserted (-1 if the driver cannot tell)."""
        if not rows:
            return 0
        return conn.exec_driver_sql(self.sql, rows).rowcount
