"""Test support: a real `liveloop serve` process on a free port, and helpers to drive it."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

BIN = Path(sys.executable).parent


def free_port() -> int:
    """A free port below the kernel's ephemeral range (32768+ on Linux), so that no outgoing
    connection of the tests can take it between this check and the server's bind."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20_000, 32_000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port found")


def cli(*args: str, env: dict | None = None, stdin: str | None = None, timeout: float = 120,
        ) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "liveloop"), *args], input=stdin, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, check=True)


def setup_cli(*args: str, stdin: str = "") -> str:
    """`liveloop *args` run in this process, for set-up the tests do hundreds of times (a tenant, an
    operator): its standard output; RuntimeError with its output when it exits with an error (other
    exceptions pass through). A `liveloop` process spends a second importing before its work; the
    commands are run as processes (`cli`) by test_console_sessions (tenant create and operator add,
    their refusals too), test_demo and test_readiness."""
    from typer.testing import CliRunner

    from liveloop.cli import app

    result = CliRunner().invoke(app, list(args), input=stdin, catch_exceptions=False)
    if result.exit_code != 0:
        raise RuntimeError(f"liveloop {' '.join(args)} exited with {result.exit_code}: {result.output}")
    return result.stdout


def create_tenant(database_url: str, name: str = "acme", *hosts: str) -> str:
    args = ["tenant", "create", name, "--database-url", database_url]
    for host in hosts:
        args += ["--allowed-host", host]
    return setup_cli(*args).strip().splitlines()[-1]


def sqlite_tenant(directory: Path, name: str) -> tuple[str, str, str]:
    """A new SQLite database `name`.db in `directory` with one tenant: (its URL, the API key, the tenant id)."""
    url = f"sqlite:///{directory / f'{name}.db'}"
    key = create_tenant(url, name)
    return url, key, only_tenant(url)


def redis_env() -> dict[str, str]:
    """The environment that gives a server the test Redis; skips the test when there is none."""
    import pytest

    url = os.environ.get("LIVELOOP_TEST_REDIS_URL")
    if not url:
        pytest.skip("LIVELOOP_TEST_REDIS_URL is not set")
    return {"LIVELOOP_REDIS_URL": url}


def only_tenant(database_url: str) -> str:
    """The id of the one tenant of a fresh database."""
    import sqlalchemy as sa

    from liveloop.kit.db.dialect import create_engine

    engine = create_engine(database_url)
    with engine.connect() as conn:
        tenant_id = conn.execute(sa.text("SELECT id FROM tenants")).scalar_one()
    engine.dispose()
    return tenant_id


def redis_leaderboard(redis_url: str, tenant_id: str, campaign_id: str) -> list[tuple[int, str, int]]:
    """(rank, user_id, score) of a campaign's leaderboard as Redis holds it, read directly."""
    import redis

    from liveloop.leaderboards.shared import Keys, user_of

    with redis.from_url(redis_url) as r:
        rows = r.zrange(Keys(tenant_id, campaign_id).z, 0, -1, withscores=True)
    return [(rank, user_of(name), -int(score)) for rank, (name, score) in enumerate(rows, 1)]


@contextmanager
def fresh_postgres_database(base_url: str):
    """A new, empty database on the server of `base_url`, dropped afterwards."""
    import psycopg

    parts = urlsplit(base_url.replace("postgresql+psycopg://", "postgresql://"))
    name = f"liveloop_test_{uuid.uuid4().hex[:10]}"
    admin = urlunsplit(parts)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path="/" + name))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Server:
    database_url: str
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    log_path: Path | None = None
    env: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        env = {**os.environ, "LIVELOOP_LOG_LEVEL": "warning", **self.env}
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(BIN / "liveloop"), "serve", "--database-url", self.database_url, "--port", str(self.port)],
            env=env, stdout=log, stderr=log,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None

    def client(self, api_key: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, follow_redirects=False)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()


class Scrape:
    """One scrape of a process's /metrics, parsed with prometheus-client's own parser."""

    def __init__(self, text: str) -> None:
        from prometheus_client.parser import text_string_to_metric_families

        self.text = text
        self.samples = [(s.name, s.labels, s.value) for family in text_string_to_metric_families(text)
                        for s in family.samples]

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples named `name` whose labels include `labels` (0 when there are none)."""
        return sum(value for sample, have, value in self.samples
                   if sample == name and all(have.get(k) == v for k, v in labels.items()))

    def has(self, name: str, **labels: str) -> bool:
        return any(sample == name and all(have.get(k) == v for k, v in labels.items())
                   for sample, have, _value in self.samples)


def scrape(url: str, token: str | None = None) -> Scrape:
    response = httpx.get(url, headers={"Authorization": f"Bearer {token}"} if token else {}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return Scrape(response.text)


def eventually(check, timeout: float = 10.0, every: float = 0.05):
    """`check()`'s first true result within `timeout` seconds; AssertionError with the last one otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            assert result, f"not true within {timeout} s: {result!r}"
            return result
        time.sleep(every)
