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
