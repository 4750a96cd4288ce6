"""The deployment of docs/deploy.md, run: Debian's nginx with docs/deploy/nginx/liveloop.conf (the file the
docs include, not a copy) in front of two `liveloop serve` processes on PostgreSQL and Redis.

Only what says where things are is the test's own: the two processes' addresses and nginx's port
(liveloop-upstreams.conf, liveloop-listen.conf, as the docs ask) and nginx's main file (its pid, logs
and temporary files under the test's directory). nginx runs as a child of the test, not a daemon.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest
import sqlalchemy as sa

from liveloop.kit.db.dialect import create_engine
from tests.e2e.helpers import campaign, event, invite, post_ok
from tests.support import Server, create_tenant, free_port, fresh_postgres_database

pytestmark = [pytest.mark.nginx, pytest.mark.service]

SITE = Path(__file__).resolve().parents[2] / "docs" / "deploy" / "nginx" / "liveloop.conf"
CID = "through-nginx"
VIEWERS = 6
CLIENT = "127.0.0.2"  # the test's own address: loopback, yet not nginx's (127.0.0.1, the trusted proxy)


def nginx_binary() -> str:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)
    if found is None:
        pytest.skip("nginx is not installed (.ci/run installs it: apt-get install nginx)")
    return found


class Nginx:
    def __init__(self, root: Path, upstreams: list[int]) -> None:
        self.port = free_port()
        self.root = root
        conf = root / "conf"
        conf.mkdir(parents=True)
        (root / "temp").mkdir()
        (conf / "liveloop-upstreams.conf").write_text("".join(f"server 127.0.0.1:{p};\n" for p in upstreams))
        (conf / "liveloop-listen.conf").write_text(f"listen 127.0.0.1:{self.port};\n")
        temp = "\n".join(f"    {kind}_temp_path {root / 'temp' / kind};"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        user = "user root;\n" if os.geteuid() == 0 else ""  # workers must reach the test's directory
        (conf / "nginx.conf").write_text(f"""{user}daemon off;
worker_processes 1;
pid {root / 'nginx.pid'};
error_log {root / 'error.log'} info;
events {{ worker_connections 512; }}
http {{
    access_log {root / 'access.log'};
{temp}
    include {SITE};
}}
""")
        self.conf = conf / "nginx.conf"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Nginx:
        binary = nginx_binary()
        check = subprocess.run([binary, "-t", "-p", f"{self.root}/", "-c", str(self.conf), "-e", "stderr"],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        self.proc = subprocess.Popen([binary, "-p", f"{self.root}/", "-c", str(self.conf), "-e", "stderr"],
                                     stdout=subprocess.DEVNULL, stderr=open(self.root / "stderr.log", "wb"))  # noqa: SIM115
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("nginx did not start: " + (self.root / "error.log").read_text()[-2000:])

    def __exit__(self, *_exc) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful stop
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def client(base_url: str, **extra) -> httpx.Client:
    """A client connecting from CLIENT, as a viewer on the internet would, from an address of its own."""
    return httpx.Client(base_url=base_url, transport=httpx.HTTPTransport(local_address=CLIENT),
                        **{"timeout": 30, **extra})


class Viewer:
    """A viewer's EventSource through nginx: reconnects after the server's `retry:` hint, with Last-Event-ID."""

    def __init__(self, base_url: str, token: str) -> None:
        self.messages: queue.Queue[tuple[float, dict]] = queue.Queue()
        self.connections = 0
        self.ended = 0  # streams the server ended
        self._base_url, self._token = base_url, token
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def wait_connected(self, timeout: float = 10) -> None:
        assert self._connected.wait(timeout), "the viewer did not connect"

    def _run(self) -> None:
        retry_ms, last_id = 2000, None
        while not self._stop.is_set():
            headers = {"Last-Event-ID": last_id} if last_id else {}
            try:
                with client(self._base_url, timeout=httpx.Timeout(10, read=60)) as c, c.stream(
                        "GET", "/v1/stream", params={"token": self._token}, headers=headers) as response:
                    assert response.status_code == 200
                    self.connections += 1
                    self._connected.set()
                    fields: dict[str, str] = {}
                    for line in response.iter_lines():
                        if line == "":
                            if "data" in fields:
                                message = orjson.loads(fields["data"])
                                last_id = fields.get("id", last_id)
                                self.messages.put((time.monotonic(), message))
                            fields = {}
                        elif not line.startswith(":"):
                            name, _, value = line.partition(":")
                            fields[name] = value.removeprefix(" ")
                            if name == "retry":
                                retry_ms = int(fields[name])
                    self.ended += 1
            except (httpx.HTTPError, httpx.StreamError):
                pass  # cut: EventSource tries again after the same delay
            self._connected.clear()
            self._stop.wait(retry_ms / 1000)

    def next_of(self, kind: str, timeout: float = 5) -> tuple[float, dict]:
        deadline = time.monotonic() + timeout
        while True:
            at, message = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            if message["type"] == kind:
                return at, message

    def close(self) -> None:
        self._stop.set()


def friend_reserves(api: httpx.Client, codes: dict[str, str], tag: str) -> float:
    """A friend of each viewer reserves through the viewer's code; returns when the batch was answered."""
    at = datetime.now(UTC)
    events = [event(f"{tag}-{viewer}", "reservation", CID, f"{tag}-friend-{viewer}", at, ref=code)
              for viewer, code in codes.items()]
    answer = api.post("/v1/events", json={"events": events})
    assert answer.status_code == 200 and answer.json()["accepted"] == len(events), answer.text
    return time.monotonic()


def test_two_processes_behind_the_documented_nginx(tmp_path):
    base, redis_url = os.environ.get("LIVELOOP_TEST_DATABASE_URL"), os.environ.get("LIVELOOP_TEST_REDIS_URL")
    if not (base and redis_url):
        pytest.skip("LIVELOOP_TEST_DATABASE_URL and LIVELOOP_TEST_REDIS_URL are not set")
    nginx_binary()
    with fresh_postgres_database(base) as url:
        key = create_tenant(url, "nginx", "shop.example.com")
        ports = [free_port(), free_port()]
        nginx = Nginx(tmp_path / "nginx", ports)
        env = {"LIVELOOP_REDIS_URL": redis_url, "LIVELOOP_TRUSTED_PROXIES": "127.0.0.1",
               "LIVELOOP_PUBLIC_URL": nginx.url, "LIVELOOP_LOG_FORMAT": "json", "LIVELOOP_LOG_LEVEL": "info",
               "LIVELOOP_METRICS_TOKEN": "scrape", "LIVELOOP_SHUTDOWN_SECONDS": "8"}
        one = Server(url, port=ports[0], log_path=tmp_path / "one.log", env=env).start()
        two = Server(url, port=ports[1], log_path=tmp_path / "two.log", env=env).start()
        viewers: list[Viewer] = []
        try:
            with nginx, client(nginx.url, headers={"Authorization": f"Bearer {key}"}) as api:
                starts = datetime.now(UTC) + timedelta(hours=1)
                post_ok(api, "/v1/campaigns", campaign(CID, starts_at=starts.isoformat().replace("+00:00", "Z")))
                codes = {f"viewer{i}": invite(api, CID, f"viewer{i}") for i in range(VIEWERS)}

                # A share link: redirected, counted, with the viewer's own address (not nginx's, not
                # one it wrote itself) recorded with the click.
                with client(nginx.url) as anonymous:
                    share = anonymous.get(f"/s/{codes['viewer0']}", headers={"X-Forwarded-For": "6.6.6.6"})
                    assert share.status_code == 302
                    assert share.headers["location"].startswith("https://shop.example.com/")
                    # nginx's request id is the one liveloop answers with and logs.
                    request_id = share.headers["x-request-id"]
                    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
                    assert anonymous.get("/metrics", headers={"Authorization": "Bearer scrape"}).status_code == 404
                assert clicks_logged(url) == [CLIENT]
                # Request lines are written together about ten times a second (ops/requests.py).
                deadline = time.monotonic() + 3
                while True:
                    logs = (tmp_path / "one.log").read_text() + (tmp_path / "two.log").read_text()
                    if f'"request_id":"{request_id}"' in logs or time.monotonic() > deadline:
                        break
                    time.sleep(0.1)
                assert f'"request_id":"{request_id}"' in logs

                # Viewers' streams through nginx: a push arrives within a second of the batch's answer.
                tokens = {viewer: post_ok(api, f"/v1/campaigns/{CID}/viewer-tokens",
                                          {"user_id": viewer, "ttl_seconds": 600})["token"] for viewer in codes}
                viewers = [Viewer(nginx.url, token) for token in tokens.values()]
                for viewer in viewers:
                    viewer.wait_connected()
                answered = friend_reserves(api, codes, "before")
                for viewer in viewers:
                    arrived, message = viewer.next_of("friend_reserved")
                    assert arrived - answered < 1.0, arrived - answered
                    assert message["friend"]["user_id"].startswith("before-friend-")

                # Process one stops: its viewers are told to reconnect, come back through nginx to
                # process two, and hear of the next events as fast as before.
                one.proc.send_signal(signal.SIGTERM)
                assert one.proc.wait(timeout=15) == 0
                one.proc = None
                moved = [viewer for viewer in viewers if viewer.ended]
                assert moved, "round robin put no stream on process one"
                deadline = time.monotonic() + 10
                while not all(viewer.connections == 1 + viewer.ended and viewer._connected.is_set()
                              for viewer in viewers):
                    assert time.monotonic() < deadline, [(v.connections, v.ended) for v in viewers]
                    time.sleep(0.05)
                answered = friend_reserves(api, codes, "after")
                for viewer in viewers:
                    arrived, message = viewer.next_of("friend_reserved")
                    assert arrived - answered < 1.0, arrived - answered
                    assert message["friend"]["user_id"].startswith("after-friend-")
                assert api.get("/readyz").json() == {"ready": True}  # nginx reaches process two only
        finally:
            for viewer in viewers:
                viewer.close()
            one.stop()
            two.stop()


def clicks_logged(url: str) -> list[str]:
    """The addresses recorded with the campaign's clicks, once the click is written."""
    engine = create_engine(url)
    try:
        deadline = time.monotonic() + 5
        while True:
            with engine.connect() as conn:
                found = conn.execute(sa.text("SELECT ip FROM events WHERE campaign_id = :cid AND type = 'click'"),
                                     {"cid": CID}).scalars().all()
            if found or time.monotonic() > deadline:
                return list(found)
            time.sleep(0.05)
    finally:
        engine.dispose()


def test_the_docs_include_the_tested_file_rather_than_a_copy():
    deploy = (SITE.parents[2] / "deploy.md").read_text()
    assert "(deploy/nginx/liveloop.conf)" in deploy
    assert "proxy_pass" not in deploy  # any copy would drift from the file the test runs
    for included in re.findall(r"^\s*include (\S+);", SITE.read_text(), re.M):
        assert (SITE.parent / included).is_file(), f"{included}: no example beside {SITE.name}"
