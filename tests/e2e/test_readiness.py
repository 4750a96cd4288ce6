"""GET /readyz on real processes: 503 with the reason while the database or Redis is unreachable or the
schema is behind, 200 otherwise; /healthz stays a liveness check."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import httpx
import pytest
from alembic import command
from alembic.script import ScriptDirectory

from liveloop.kit.db.migrate import alembic_config
from tests.e2e.test_outages import through
from tests.proxy import CuttableProxy
from tests.support import Server, cli, create_tenant, eventually, fresh_postgres_database


def readiness(server) -> tuple[int, dict]:
    response = httpx.get(server.url + "/readyz", timeout=10)
    return response.status_code, response.json()


def test_a_schema_behind_the_migrations_is_not_ready_until_migrated(tmp_path):
    url = f"sqlite:///{tmp_path / 'behind.db'}"
    command.upgrade(alembic_config(url), "0005")  # a database the previous version left
    with Server(url, env={"LIVELOOP_MIGRATE_ON_START": "false"}).start() as server:
        assert httpx.get(server.url + "/healthz").status_code == 200  # alive all the same
        status, body = readiness(server)
        assert status == 503 and body["ready"] is False
        [reason] = body["reasons"]
        head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
        assert reason.startswith("migrations behind") and "at 0005" in reason and f"needs {head}" in reason
        cli("migrate", "--database-url", url)
        assert readiness(server) == (200, {"ready": True})


@pytest.mark.service
def test_an_unreachable_database_or_redis_is_not_ready_until_back(tmp_path):
    base, redis_url = os.environ.get("LIVELOOP_TEST_DATABASE_URL"), os.environ.get("LIVELOOP_TEST_REDIS_URL")
    if not (base and redis_url):
        pytest.skip("LIVELOOP_TEST_DATABASE_URL and LIVELOOP_TEST_REDIS_URL are not set")
    redis = urlsplit(redis_url)
    with fresh_postgres_database(base) as url:
        create_tenant(url)
        target = urlsplit(url)
        database = CuttableProxy(target.hostname or "127.0.0.1", target.port or 5432)
        cache = CuttableProxy(redis.hostname or "127.0.0.1", redis.port or 6379)
        env = {"LIVELOOP_REDIS_URL": through(redis_url, cache)}
        with Server(through(url, database), log_path=tmp_path / "server.log", env=env).start() as server:
            assert readiness(server) == (200, {"ready": True})

            database.cut()
            status, body = readiness(server)
            assert (status, body["reasons"]) == (503, ["database unreachable"])
            assert httpx.get(server.url + "/healthz").status_code == 200
            database.restore()
            eventually(lambda: readiness(server) == (200, {"ready": True}))

            cache.cut()
            status, body = readiness(server)
            assert (status, body["reasons"]) == (503, ["redis unreachable"])
            cache.restore()
            eventually(lambda: readiness(server) == (200, {"ready": True}))
