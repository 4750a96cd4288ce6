from __future__ import annotations

import os
import uuid

import pytest

from tests.support import Server, create_tenant


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'liveloop.db'}"


@pytest.fixture(scope="session")
def server(sqlite_url, tmp_path_factory):
    """One liveloop process on SQLite shared by the API tests (each test uses its own campaign ids)."""
    srv = Server(sqlite_url, log_path=tmp_path_factory.mktemp("log") / "server.log")
    create_tenant(sqlite_url, "bootstrap")  # migrates the database before the server starts
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
    # Under CI a service test that would be skipped is a failure: the services must be there.
    if os.environ.get("CI") == "true":
        for item in items:
            if item.get_closest_marker("service"):
                item.add_marker(pytest.mark.skip_is_failure)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and item.get_closest_marker("skip_is_failure"):
        report.outcome = "failed"
        report.longrepr = f"service test skipped under CI=true: {report.longrepr}"
