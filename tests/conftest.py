from __future__ import annotations

import os
import uuid

import pytest

from tests.support import Server, create_tenant, fresh_postgres_database


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.service)])
def database_url(request, tmp_path_factory):
    """Every API test runs on the embedded SQLite and, when configured, on a fresh PostgreSQL
    database with Redis (the scale-out setup)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'liveloop.db'}"
        return
    base = os.environ.get("LIVELOOP_TEST_DATABASE_URL")
    if not base:
        pytest.skip("LIVELOOP_TEST_DATABASE_URL is not set")
    if os.environ.get("CI") == "true" and not os.environ.get("LIVELOOP_TEST_REDIS_URL"):
        pytest.fail("under CI the PostgreSQL run needs LIVELOOP_TEST_REDIS_URL too")
    with fresh_postgres_database(base) as url:
        yield url


@pytest.fixture(scope="session")
def server(database_url, tmp_path_factory):
    """One liveloop process shared by the API tests (each test uses its own campaign ids)."""
    redis_url = os.environ.get("LIVELOOP_TEST_REDIS_URL")
    env = {"LIVELOOP_REDIS_URL": redis_url} if redis_url and database_url.startswith("postgresql") else {}
    srv = Server(database_url, log_path=tmp_path_factory.mktemp("log") / "server.log", env=env)
    create_tenant(database_url, "bootstrap")  # migrates the database before the server starts
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def api_key(server) -> str:
    return create_tenant(server.database_url, "acme")


@pytest.fixture
def client(server, api_key):
    with server.client(api_key) as c:
        yield c


@pytest.fixture
def cid() -> str:
    return "c-" + uuid.uuid4().hex[:12]


def pytest_collection_modifyitems(config, items):
    # Under CI a service, browser or nginx test that would be skipped is a failure: the services,
    # Chromium and nginx must be there.
    if os.environ.get("CI") == "true":
        for item in items:
            if any(item.get_closest_marker(name) for name in ("service", "browser", "nginx")):
                item.add_marker(pytest.mark.skip_is_failure)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and item.get_closest_marker("skip_is_failure"):
        report.outcome = "failed"
        report.longrepr = f"test skipped under CI=true: {report.longrepr}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.service)])
def new_database(request, tmp_path):
    """Makes fresh, empty databases of one kind: `new_database("name")` -> URL. Tests that take it
    run on SQLite and, when configured, on PostgreSQL."""
    from contextlib import ExitStack

    base = os.environ.get("LIVELOOP_TEST_DATABASE_URL")
    if request.param == "postgresql" and not base:
        pytest.skip("LIVELOOP_TEST_DATABASE_URL is not set")
    with ExitStack() as stack:
        def make(name: str) -> str:
            if request.param == "sqlite":
                return f"sqlite:///{tmp_path / (name + '.db')}"
            return stack.enter_context(fresh_postgres_database(base))

        yield make
