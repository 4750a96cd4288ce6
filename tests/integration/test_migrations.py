"""The Alembic migrations build exactly the schema the models describe, on every database."""

from __future__ import annotations

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from liveloop.kit.db.dialect import create_engine
from liveloop.kit.db.migrate import upgrade
from liveloop.tables import metadata
from tests.support import fresh_postgres_database


def assert_schema_matches(url: str) -> None:
    upgrade(url)
    upgrade(url)  # running it again is harmless
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        engine.dispose()


def test_sqlite_schema_matches_models(tmp_path):
    assert_schema_matches(f"sqlite:///{tmp_path / 'm.db'}")


@pytest.mark.service
def test_postgresql_schema_matches_models():
    base = os.environ.get("LIVELOOP_TEST_DATABASE_URL")
    if not base:
        pytest.skip("LIVELOOP_TEST_DATABASE_URL is not set")
    with fresh_postgres_database(base) as url:
        assert_schema_matches(url)


def test_campaigns_stored_before_versions_become_their_first_version(new_database):
    """Migration 0007 on a database with campaigns: each keeps its body as version 1, and the
    columns listing sorts and filters on are filled from it."""
    import orjson
    import sqlalchemy as sa
    from alembic import command

    from liveloop.kit.db.migrate import alembic_config

    url = new_database("old")
    command.upgrade(alembic_config(url), "0005")
    body = {"id": "spring", "title": "Spring", "starts_at": "2027-03-01T12:00:00.000Z",
            "ends_at": "2027-03-01T14:00:00.000Z", "created_at": "2027-02-01T00:00:00.000Z"}
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO campaigns (tenant_id, id, body, created_at) "
                                 "VALUES ('t', 'spring', :b, 7)"), {"b": orjson.dumps(body).decode()})
        upgrade(url)
        with engine.connect() as conn:
            row = conn.execute(sa.text("SELECT version, starts_at, ends_at, cancelled_at, updated_at FROM campaigns"
                                       )).one()
            first = conn.execute(sa.text("SELECT campaign_id, version, body, created_at FROM campaign_versions")).one()
        assert tuple(row) == (1, 1_803_902_400_000, 1_803_909_600_000, None, 7)
        assert (first.campaign_id, first.version, orjson.loads(first.body), first.created_at) == ("spring", 1, body, 7)
    finally:
        engine.dispose()


def test_keys_stored_before_scopes_become_admin_keys(new_database):
    """Migration 0010 on a database with keys: each keeps working, as an admin key with an id."""
    import sqlalchemy as sa
    from alembic import command

    from liveloop.kit.db.migrate import alembic_config
    from liveloop.kit.ids import hash_api_key
    from liveloop.tenants.keys import key_for

    url = new_database("old-keys")
    command.upgrade(alembic_config(url), "0009")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO tenants (id, name, allowed_hosts, created_at) "
                                 "VALUES ('tn_a', 'A', '[]', 1)"))
            for key in ("ll_first", "ll_second"):
                conn.execute(sa.text("INSERT INTO api_keys (key_hash, tenant_id, prefix, created_at) "
                                     "VALUES (:h, 'tn_a', :p, 2)"), {"h": hash_api_key(key), "p": key[:8]})
        upgrade(url)
        with engine.connect() as conn:
            keys = [key_for(conn, hash_api_key(k)) for k in ("ll_first", "ll_second")]
        assert [k.scopes for k in keys] == [frozenset({"admin"})] * 2
        assert keys[0].tenant.id == "tn_a" and keys[0].id != keys[1].id and keys[0].id.startswith("key_")
    finally:
        engine.dispose()
