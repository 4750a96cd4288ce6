"""kit/db/bulk.py: the JSON bulk insert stores exactly what executemany would."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from liveloop.kit.db.bulk import BulkInsert, ExistingKeys, RowsByKeys
from liveloop.kit.db.dialect import create_engine
from tests.support import fresh_postgres_database

ROWS = [
    (1, "plain", None, 2**62),
    (2, 'quote " backslash \\ tab \t newline \n', "café 😀 مرحبا", -5),
    (3, "nul \x00 inside", "", 0),  # SQLite's JSON would cut at the NUL: executemany takes these
    (4, True, 1.5, None),
]


def _tables():
    metadata = sa.MetaData()
    columns = lambda name: sa.Table(  # noqa: E731
        name, metadata, sa.Column("k", sa.Integer, unique=True), sa.Column("a", sa.String), sa.Column("b", sa.String),
        sa.Column("n", sa.Integer))
    return metadata, columns("json_way"), columns("many_way")


def test_json_insert_stores_what_executemany_stores(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'bulk.db'}")
    metadata, json_way, many_way = _tables()
    metadata.create_all(engine)
    insert = BulkInsert("sqlite", json_way, ("k", "a", "b", "n"), skip_conflicts=True)
    with engine.begin() as conn:
        assert insert(conn, ROWS) == len(ROWS)
        assert insert(conn, [(1, "again", None, None), (5, "new", None, None)]) == 1  # conflicts skipped, counted
        assert insert(conn, []) == 0
        conn.exec_driver_sql("INSERT INTO many_way (k, a, b, n) VALUES (?, ?, ?, ?)", ROWS)
        conn.exec_driver_sql("INSERT INTO many_way (k, a, b, n) VALUES (5, 'new', NULL, NULL)")
        stored = "SELECT k, a, typeof(a), b, typeof(b), n, typeof(n) FROM {} ORDER BY k"
        assert conn.exec_driver_sql(stored.format("json_way")).all() == conn.exec_driver_sql(
            stored.format("many_way")).all()


def test_existing_keys_finds_only_the_scope(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'keys.db'}")
    metadata = sa.MetaData()
    table = sa.Table("t", metadata, sa.Column("scope", sa.String), sa.Column("key", sa.String))
    metadata.create_all(engine)
    existing = ExistingKeys("sqlite", table, "scope", "key")
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"scope": "a", "key": f"k{i}"} for i in range(0, 1200, 2)]
                     + [{"scope": "b", "key": "k1"}])
        asked = [f"k{i}" for i in range(1200)]  # more than one chunk
        assert existing(conn, "a", asked) == {f"k{i}" for i in range(0, 1200, 2)}
        assert existing(conn, "b", asked) == {"k1"}


@pytest.mark.service
@pytest.mark.parametrize("way", ["json", "arrays"])
def test_postgresql_bulk_insert_stores_what_executemany_stores(way):
    """On PostgreSQL a batch is one INSERT ... SELECT FROM jsonb_array_elements(one JSON text), or from
    unnest(arrays) for rows JSON cannot carry: same rows, same order (the serial key follows the rows'
    order), conflicts skipped and counted, NULLs and odd text kept."""
    base = os.environ.get("LIVELOOP_TEST_DATABASE_URL")
    if not base:
        pytest.skip("LIVELOOP_TEST_DATABASE_URL is not set")
    rows = [(k, str(a), None if b is None else str(b), n) for k, a, b, n in ROWS
            if "\x00" not in str(a)]  # PostgreSQL text holds no NUL
    rows += [(7, "x" * 300, None, 2**62), (6, "{a,b} 'q' \"NULL\"", "NULL", None), (8, None, None, None)]
    with fresh_postgres_database(base) as url:
        engine = create_engine(url)
        metadata = sa.MetaData()
        tables = [sa.Table(name, metadata, sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=True),
                           sa.Column("k", sa.BigInteger, unique=True), sa.Column("a", sa.Text),
                           sa.Column("b", sa.String(40)), sa.Column("n", sa.BigInteger))
                  for name in ("array_way", "many_way")]
        metadata.create_all(engine)
        insert = BulkInsert("postgresql", tables[0], ("k", "a", "b", "n"), skip_conflicts=True)
        assert insert._json_sql is not None and insert._array_sql is not None
        if way == "arrays":
            insert._json_sql = None  # as for a row whose values JSON cannot carry
        with engine.begin() as conn:
            for _ in range(6):  # psycopg prepares the statement from the fifth time on
                assert insert(conn, rows) in (len(rows), 0)
            assert insert(conn, [(1, "again", None, None), (5, "new", None, None)]) == 1
            assert insert(conn, []) == 0
            conn.exec_driver_sql(insert.sql.replace("array_way", "many_way"), rows)
            conn.exec_driver_sql("INSERT INTO many_way (k, a, b, n) VALUES (5, 'new', NULL, NULL)")
            stored = "SELECT k, a, b, n FROM {} ORDER BY seq"
            assert conn.exec_driver_sql(stored.format("array_way")).all() == conn.exec_driver_sql(
                stored.format("many_way")).all()
            with pytest.raises(sa.exc.DataError):  # too long for the column: refused, as row by row
                with conn.begin_nested():
                    insert(conn, [(99, "a", "b" * 41, None)])
            existing = ExistingKeys("postgresql", tables[0], "b", "a")
            assert existing(conn, "NULL", ["{a,b} 'q' \"NULL\"", "plain", "nothing"]) == {"{a,b} 'q' \"NULL\""}
            assert existing(conn, "NULL", []) == set()
        engine.dispose()


def test_rows_by_keys_reads_the_scope_with_its_condition(new_database):
    """The rows of many keys in one scope, with an extra condition: the same on both databases, more keys
    than SQLite's chunk, and on PostgreSQL one statement however many keys (prepared after five calls)."""
    engine = create_engine(new_database("rows"))
    metadata = sa.MetaData()
    table = sa.Table("u", metadata, sa.Column("scope", sa.String(8)), sa.Column("key", sa.String(8)),
                     sa.Column("mail", sa.String(8)), sa.Column("domain", sa.String(8)))
    metadata.create_all(engine)
    query = RowsByKeys(engine.dialect.name, table, "scope", "key", ("key", "mail", "domain"),
                       where="mail IS NOT NULL")
    try:
        with engine.begin() as conn:
            conn.execute(table.insert(), [{"scope": "a", "key": f"k{i}", "mail": None if i % 3 else f"m{i}",
                                           "domain": "x"} for i in range(1200)]
                         + [{"scope": "b", "key": "k0", "mail": "other", "domain": "y"}])
            asked = [f"k{i}" for i in range(0, 1300, 2)]
            expected = sorted((f"k{i}", f"m{i}", "x") for i in range(0, 1200, 6))
            for _ in range(6):
                assert sorted(query.rows(conn, "a", asked)) == expected
            assert query.rows(conn, "b", ["k0", "k1"]) == [("k0", "other", "y")]
            assert query.rows(conn, "a", []) == []
    finally:
        engine.dispose()
