"""SIGTERM to a real process under load: it stops accepting, ends its streams with a `retry:` hint,
answers the batches in flight once durable, writes the buffered clicks and exits in time; after a
restart every acknowledged event and click is there (docs/operations.md)."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from datetime import UTC, datetime

import httpx
import orjson
import sqlalchemy as sa

from liveloop.kit.db.dialect import create_engine
from tests.e2e.helpers import campaign, event, invite, post_ok
from tests.support import Server, create_tenant

CID = "closing"


class RawStream:
    """A viewer stream read as text in a thread, until the server ends it."""

    def __init__(self, server: Server, token: str) -> None:
        self.text = ""
        self.ended = threading.Event()
        self._client = httpx.Client(base_url=server.url, timeout=httpx.Timeout(10, read=60))
        self._stream = self._client.stream("GET", "/v1/stream", params={"token": token})
        self._response = self._stream.__enter__()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for chunk in self._response.iter_text():
                self.text += chunk
        except (httpx.HTTPError, httpx.StreamError):
            self.text += "<cut>"
        finally:
            self.ended.set()
            self._client.close()


class Load:
    """Batches of new events and share-link clicks sent without a pause, each answer recorded."""

    def __init__(self, server: Server, key: str, code: str) -> None:
        self.acknowledged: list[str] = []  # ids of events in batches answered 200
        self.answered_at: list[float] = []
        self.redirects = 0
        self._server, self._key, self._code = server, key, code
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._batches, args=(n,)) for n in range(3)]
        self._threads.append(threading.Thread(target=self._clicks))

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _batches(self, n: int) -> None:
        with self._server.client(self._key) as client:
            for i in range(1_000_000):
                if self._stop.is_set():
                    return
                batch = [event(f"b{n}-{i}-{j}", "room_join", CID, f"u{n}-{i}-{j}", datetime.now(UTC))
                         for j in range(20)]
                try:
                    answer = client.post("/v1/events", json={"events": batch})
                except httpx.HTTPError:
                    time.sleep(0.02)  # refused: the process is going; a real client would try another
                    continue
                if answer.status_code == 200:
                    with self._lock:
                        self.acknowledged += [e["id"] for e in batch]
                        self.answered_at.append(time.monotonic())

    def _clicks(self) -> None:
        with self._server.client(None) as client:
            while not self._stop.is_set():
                try:
                    answer = client.get(f"/s/{self._code}")
                except httpx.HTTPError:
                    time.sleep(0.02)
                    continue
                if answer.status_code == 302:
                    self.redirects += 1


def logged(url: str) -> tuple[set[str], int]:
    """The ids of the campaign's logged room joins, and how many clicks it logged."""
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, type FROM events WHERE campaign_id = :cid"), {"cid": CID}).all()
    engine.dispose()
    return {row.id for row in rows if row.type == "room_join"}, sum(1 for row in rows if row.type == "click")


def test_sigterm_under_load_loses_nothing_acknowledged(new_database, tmp_path):
    url = new_database("closing")
    key = create_tenant(url)
    env = {"LIVELOOP_SHUTDOWN_SECONDS": "8", "LIVELOOP_LOG_FORMAT": "json", "LIVELOOP_LOG_LEVEL": "info",
           "LIVELOOP_RATE_LIMIT_SHARE_PER_MINUTE": "0"}
    if url.startswith("postgresql") and os.environ.get("LIVELOOP_TEST_REDIS_URL"):
        env["LIVELOOP_REDIS_URL"] = os.environ["LIVELOOP_TEST_REDIS_URL"]
    log = tmp_path / "server.log"
    server = Server(url, log_path=log, env=env).start()
    try:
        with server.client(key) as c:
            post_ok(c, "/v1/campaigns", campaign(CID))
            code = invite(c, CID, "host")
            tokens = [post_ok(c, f"/v1/campaigns/{CID}/viewer-tokens", {"user_id": f"viewer{i}", "ttl_seconds": 600})
                      ["token"] for i in range(4)]
        streams = [RawStream(server, token) for token in tokens]
        with Load(server, key, code) as load:
            time.sleep(1.5)
            assert load.acknowledged and load.redirects
            signalled = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)
            status = server.proc.wait(timeout=30)
            took = time.monotonic() - signalled
            server.proc = None
    finally:
        server.stop()

    assert status == 0 and took < 8, (status, took)
    assert max(load.answered_at) > signalled  # batches in flight at the signal were answered
    for stream in streams:
        assert stream.ended.wait(1)
        # Ended by the server, which says when to reconnect (within 3 s) and asks to.
        retry = [line for line in stream.text.splitlines() if line.startswith("retry: ")]
        assert retry[0] == "retry: 2000" and 750 <= int(retry[-1].removeprefix("retry: ")) <= 3000
        assert stream.text.rstrip().endswith('data: {"type":"reconnect"}') and "<cut>" not in stream.text
    events = [orjson.loads(line) for line in log.read_text().splitlines()]
    started = next(e for e in events if e.get("event") == "shutdown_started")
    assert started["streams"] == 4
    assert any(e.get("event") == "shutdown_finished" for e in events)

    with Server(url, env={k: v for k, v in env.items() if k == "LIVELOOP_REDIS_URL"}).start():
        joins, clicks = logged(url)  # after the restart: what the process left is what was stored
    assert set(load.acknowledged) <= joins, len(set(load.acknowledged) - joins)
    assert clicks >= load.redirects


def test_a_shutdown_held_up_by_the_database_still_ends_in_time(tmp_path):
    url = f"sqlite:///{tmp_path / 'stuck.db'}"
    key = create_tenant(url)
    server = Server(url, env={"LIVELOOP_SHUTDOWN_SECONDS": "3"}).start()
    try:
        with server.client(key) as c:
            post_ok(c, "/v1/campaigns", campaign(CID))
        blocker = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=1)
        blocker.execute("BEGIN EXCLUSIVE")  # the writer waits on it: the batch below hangs
        answers: list[object] = []

        def post() -> None:
            with server.client(key) as c:
                try:
                    answers.append(c.post("/v1/events", json={"events": [
                        event("stuck", "room_join", CID, "u1", datetime.now(UTC))]}).status_code)
                except httpx.HTTPError as exc:
                    answers.append(type(exc).__name__)

        sending = threading.Thread(target=post)
        sending.start()
        time.sleep(0.5)
        signalled = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        status = server.proc.wait(timeout=30)
        took = time.monotonic() - signalled
        server.proc = None
        sending.join(timeout=10)
        blocker.rollback()
        blocker.close()
    finally:
        server.stop()
    assert 2 < took < 4.5 and status == 70, (took, status)  # the watchdog's exit status
    assert answers and answers[0] != 200  # never acknowledged, so the client sends it again
