"""Log lines of a real process: one per request with its id, tenant, route template, status and duration,
notable events named, JSON or text, and no personal data (docs/operations.md)."""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import UTC, datetime

import httpx
import orjson
import pytest

from tests.e2e.helpers import campaign, event, invite, post_ok, send
from tests.e2e.test_write_isolation import poison_rows
from tests.sse import SseStream
from tests.support import BIN, Server, create_tenant, eventually, sqlite_tenant

JSON_INFO = {"LIVELOOP_LOG_FORMAT": "json", "LIVELOOP_LOG_LEVEL": "info"}
REQUEST_FIELDS = {"time", "level", "logger", "message", "request_id", "tenant_id", "method", "route", "status",
                  "duration_ms"}


def json_lines(path) -> list[dict]:
    """Every line of the log, each of which must be one JSON object."""
    return [orjson.loads(line) for line in path.read_text().splitlines()]


def requests_in(path) -> dict[str, dict]:
    return {line["request_id"]: line for line in json_lines(path) if line["logger"] == "liveloop.request"}


def test_one_json_line_per_request_with_its_id_tenant_route_and_status(tmp_path):
    url, key, tenant = sqlite_tenant(tmp_path, "logs")
    log = tmp_path / "server.log"
    cid = "logs"
    with Server(url, log_path=log, env=JSON_INFO).start() as server, server.client(key) as c:
        created = c.post("/v1/campaigns", json=campaign(cid))
        code = invite(c, cid, "Ayu Lestari")
        token = post_ok(c, f"/v1/campaigns/{cid}/viewer-tokens", {"user_id": "ayu", "ttl_seconds": 60})["token"]
        batch = c.post("/v1/events", json={"events": [event("j1", "room_join", cid, "ayu", datetime.now(UTC))]})
        with server.client(None) as anonymous:
            share = anonymous.get(f"/s/{code}")
            missing = anonymous.get("/no/such/page")
            with SseStream(server, "/v1/stream", params={"token": token}) as stream:
                stream_id = stream.response.headers["x-request-id"]
        answers = {"POST /v1/campaigns": created, "POST /v1/events": batch, "GET /s/{code}": share,
                   "GET unmatched": missing}
        ids = {name: answer.headers["x-request-id"] for name, answer in answers.items()}
        assert len(set(ids.values()) | {stream_id}) == 5
        logged = eventually(lambda: (found := requests_in(log)) and stream_id in found and found)

    for name, answer in answers.items():
        line = logged[ids[name]]
        method, route = name.split(" ")
        assert set(line) == REQUEST_FIELDS
        assert (line["method"], line["route"], line["status"]) == (method, route, answer.status_code)
        assert line["level"] == "info" and line["duration_ms"] >= 0
        assert line["time"].endswith("Z") and datetime.fromisoformat(line["time"])
    assert logged[ids["POST /v1/events"]]["tenant_id"] == tenant
    assert logged[ids["GET /s/{code}"]]["tenant_id"] == tenant  # known from the code alone
    assert logged[ids["GET unmatched"]]["tenant_id"] is None
    assert logged[stream_id]["route"] == "/v1/stream" and logged[stream_id]["tenant_id"] == tenant
    text = log.read_text()
    for secret in (token, code, key, "Ayu Lestari", "/no/such/page"):
        assert secret not in text
    started = [line for line in json_lines(log) if line.get("event") == "started"]
    assert len(started) == 1 and started[0]["level"] == "info"


def test_text_lines_for_people_and_no_request_lines_above_info(tmp_path):
    url = f"sqlite:///{tmp_path / 'text.db'}"
    create_tenant(url)
    text_log, quiet_log = tmp_path / "text.log", tmp_path / "quiet.log"
    with Server(url, log_path=text_log, env={"LIVELOOP_LOG_LEVEL": "info"}).start() as server:
        rid = httpx.get(server.url + "/healthz").headers["x-request-id"]
        eventually(lambda: rid in text_log.read_text())
    line = next(line for line in text_log.read_text().splitlines() if rid in line)
    assert " INFO liveloop.request: GET /healthz 200 " in line and line.endswith("tenant_id=-")
    with Server(url, log_path=quiet_log, env={"LIVELOOP_LOG_LEVEL": "warning"}).start() as server:
        for _ in range(5):
            assert httpx.get(server.url + "/healthz").status_code == 200
        time.sleep(0.3)
    assert "liveloop.request" not in quiet_log.read_text()


def test_a_refused_write_is_a_notable_event_without_the_rows_values(tmp_path):
    url = f"sqlite:///{tmp_path / 'refused.db'}"
    key = create_tenant(url)
    poison_rows(url)  # the database refuses events of users named poison*
    log = tmp_path / "server.log"
    address = "198.51.100.23"
    with Server(url, log_path=log, env=JSON_INFO).start() as server, server.client(key) as c:
        post_ok(c, "/v1/campaigns", campaign("refused"))
        refused = c.post("/v1/events", json={"events": [
            event("p1", "room_join", "refused", "poison-ayu", datetime.now(UTC), ip=address, device_id="phone-77")]})
        assert refused.status_code == 503
        eventually(lambda: any(line.get("event") == "state_rebuilt" for line in json_lines(log)))
    lines = json_lines(log)
    refusal = next(line for line in lines if line.get("event") == "write_refused")
    assert refusal["level"] == "warning" and refusal["logger"] == "liveloop.writer"
    rebuilt = next(line for line in lines if line.get("event") == "state_rebuilt")
    assert rebuilt["campaigns"] == 1
    text = log.read_text()
    assert "poisoned row" in text  # the database's reason is kept, the values of the rows are not
    for personal in (address, "phone-77", "poison-ayu"):
        assert personal not in text


def test_a_replay_is_a_notable_event(tmp_path):
    url, key, tenant = sqlite_tenant(tmp_path, "replay")
    with Server(url).start() as server, server.client(key) as c:
        post_ok(c, "/v1/campaigns", campaign("replayed"))
        send(c, [event(f"j{i}", "room_join", "replayed", f"viewer-{i}", datetime.now(UTC)) for i in range(30)])
    log = tmp_path / "restart.log"
    with Server(url, log_path=log, env=JSON_INFO).start() as server, server.client(key) as c:
        assert c.get("/v1/campaigns/replayed/leaderboard").status_code == 200
        replays = eventually(lambda: [line for line in json_lines(log) if line.get("event") == "campaign_replayed"])
    assert len(replays) == 1
    assert (replays[0]["tenant_id"], replays[0]["campaign_id"]) == (tenant, "replayed")
    assert replays[0]["log_position"] >= 30 and replays[0]["seconds"] >= 0
    assert replays[0]["request_id"]  # loaded for a request, whose id it names


@pytest.mark.parametrize(("name", "value"), [("LIVELOOP_LOG_FORMAT", "xml"), ("LIVELOOP_LOG_LEVEL", "loud")])
def test_an_unknown_log_format_or_level_stops_the_start(tmp_path, name, value):
    url = f"sqlite:///{tmp_path / 'bad.db'}"
    run = subprocess.run([str(BIN / "liveloop"), "serve", "--database-url", url, "--port", "1"],
                         env={"PATH": "/usr/bin:/bin", name: value}, capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and name in run.stderr


def test_request_ids_are_unique(tmp_path):
    url = f"sqlite:///{tmp_path / 'ids.db'}"
    create_tenant(url)
    with Server(url).start() as server, httpx.Client(base_url=server.url) as c:
        ids = [c.get("/healthz").headers["x-request-id"] for _ in range(50)]
    with Server(url).start() as server:
        ids.append(httpx.get(server.url + "/healthz").headers["x-request-id"])
    assert len(set(ids)) == 51 and all(0 < len(i) <= 32 for i in ids)


def test_every_request_line_is_written_by_a_sigterm_shutdown_in_order(tmp_path):
    # Lines are written together about ten times a second: those still waiting when SIGTERM comes are
    # written before the process exits, after the lines before them and before the shutdown's last line.
    url = f"sqlite:///{tmp_path / 'sigterm.db'}"
    key = create_tenant(url)
    log = tmp_path / "server.log"
    server = Server(url, log_path=log, env=JSON_INFO).start()
    try:
        with server.client(key) as c:
            post_ok(c, "/v1/campaigns", campaign("sigterm"))
            code = invite(c, "sigterm", "ayu")
            with server.client(None) as anonymous:
                ids = [anonymous.get(f"/s/{code}" if i % 2 else "/healthz").headers["x-request-id"]
                       for i in range(400)]
            server.proc.send_signal(signal.SIGTERM)
            assert server.proc.wait(timeout=30) == 0
    finally:
        server.stop()
    lines = json_lines(log)
    logged = [line for line in lines if line["logger"] == "liveloop.request"]
    served = [line["request_id"] for line in logged if line["request_id"] in set(ids)]
    assert served == ids  # every one, once, in the order they were answered
    for i, line in enumerate(line for line in logged if line["request_id"] in set(ids)):
        assert set(line) == REQUEST_FIELDS
        assert (line["route"], line["status"]) == (("/s/{code}", 302) if i % 2 else ("/healthz", 200))
    # The lines still waiting at SIGTERM were written before the shutdown's own lines.
    events = [line.get("event") or line["logger"] for line in lines]
    last_request = max(i for i, e in enumerate(events) if e == "liveloop.request")
    assert last_request < events.index("shutdown_started") < events.index("shutdown_finished")
