"""kit/db/bulk.py: the JSON bulk insert stores exactly what executemany would."""

from __future__ import annotations

import sqlalchemy as sa

from liveloop.kit.db.bulk import BulkInsert, ExistingKeys

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
