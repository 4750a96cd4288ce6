"""GET /metrics on real processes: off the public API unless asked for, and what the operators of a live
read in it (docs/operations.md lists every metric)."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.e2e.helpers import campaign, event, invite, iso, post_ok, send
from tests.receiver import Receiver
from tests.sse import SseStream
from tests.support import Server, create_tenant, eventually, free_port, fresh_postgres_database, scrape

TOKEN = "scrape-" + uuid.uuid4().hex
ENV = {"LIVELOOP_METRICS_TOKEN": TOKEN, "LIVELOOP_WEBHOOKS_ALLOW_PRIVATE": "true",
       "LIVELOOP_WEBHOOKS_POLL_SECONDS": "0.2", "LIVELOOP_RATE_LIMIT_PRESENCE_PER_MINUTE": "2"}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.service)])
def watched(request, tmp_path_factory):
    """A server with a metrics token, on a database of its own: (server, API key, database kind)."""
    log = tmp_path_factory.mktemp("log") / "server.log"
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('metrics') / 'liveloop.db'}"
        key = create_tenant(url, "metrics", "shop.example.com")
        with Server(url, log_path=log, env=ENV).start() as server:
            yield server, key, "sqlite"
        return
    base = os.environ.get("LIVELOOP_TEST_DATABASE_URL")
    if not base:
        pytest.skip("LIVELOOP_TEST_DATABASE_URL is not set")
    env = {**ENV, "LIVELOOP_REDIS_URL": os.environ["LIVELOOP_TEST_REDIS_URL"]}
    with fresh_postgres_database(base) as url:
        key = create_tenant(url, "metrics", "shop.example.com")
        with Server(url, log_path=log, env=env).start() as server:
            yield server, key, "postgresql"


def metrics(server):
    return scrape(server.url + "/metrics", TOKEN)


def test_metrics_need_the_token(watched):
    server, _key, _kind = watched
    assert httpx.get(server.url + "/metrics").status_code == 401
    wrong = httpx.get(server.url + "/metrics", headers={"Authorization": "Bearer " + TOKEN[:-1]})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "unauthorized"
    assert metrics(server).value("liveloop_build_info") == 1


def test_without_a_token_or_port_there_are_no_metrics(server):
    # The suite's shared server is started without either.
    response = httpx.get(server.url + "/metrics", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 404
    assert "metrics" not in httpx.get(server.url + "/openapi.json").text.split('"paths"')[1].split('"/v1')[0]


def test_events_are_counted_by_outcome_and_batches_timed(watched):
    server, key, _kind = watched
    cid = "m-" + uuid.uuid4().hex[:8]
    before = metrics(server)
    with server.client(key) as c:
        post_ok(c, "/v1/campaigns", campaign(cid))
        now = datetime.now(UTC)
        good = event("e1", "room_join", cid, "viewer-1", now)
        send(c, [good, event("e2", "room_join", cid, "", now), event("e3", "room_join", "no-such-campaign",
                                                                       "viewer-2", now)])
        send(c, [good])
    after = metrics(server)

    def delta(name, **labels):
        return after.value(name, **labels) - before.value(name, **labels)

    assert delta("liveloop_events_total", outcome="accepted") == 1
    assert delta("liveloop_events_total", outcome="duplicate") == 1
    assert delta("liveloop_events_total", outcome="rejected", code="invalid") == 1
    assert delta("liveloop_events_total", outcome="rejected", code="not_found") == 1
    assert delta("liveloop_request_seconds_count", route="/v1/events") == 2
    assert delta("liveloop_responses_total", route="/v1/events", status="200") == 2
    assert delta("liveloop_responses_total", route="/v1/campaigns", status="201") == 1
    assert delta("liveloop_writer_commit_seconds_count") >= 1
    assert after.has("liveloop_writer_queue_depth") and after.value("liveloop_campaigns_loaded") >= 1


def test_share_clicks_are_counted_once_stored_and_answers_timed(watched):
    server, key, _kind = watched
    cid = "m-" + uuid.uuid4().hex[:8]
    with server.client(key) as c:
        post_ok(c, "/v1/campaigns", campaign(cid))
        code = invite(c, cid, "sharer")
    before = metrics(server)
    with server.client(None) as anonymous:
        assert [anonymous.get(f"/s/{code}").status_code for _ in range(3)] == [302] * 3
        assert anonymous.get("/s/no-such-code").status_code == 404
        assert anonymous.get("/no-such-page").status_code == 404
    after = eventually(lambda: (m := metrics(server)).value("liveloop_share_clicks_total", outcome="stored")
                       - before.value("liveloop_share_clicks_total", outcome="stored") == 3 and m)
    assert (after.value("liveloop_request_seconds_count", route="/s/{code}")
            - before.value("liveloop_request_seconds_count", route="/s/{code}")) == 4
    assert (after.value("liveloop_responses_total", route="/s/{code}", status="302")
            - before.value("liveloop_responses_total", route="/s/{code}", status="302")) == 3
    assert after.value("liveloop_responses_total", route="unmatched", status="404") >= 1
    # Labels are templates and codes from fixed sets: no code, campaign, user or tenant of a client.
    for chosen in (code, cid, "sharer", "no-such-code", "no-such-page"):
        assert chosen not in after.text


def test_open_streams_and_event_to_push_latency(watched):
    server, key, _kind = watched
    cid = "m-" + uuid.uuid4().hex[:8]
    with server.client(key) as c:
        post_ok(c, "/v1/campaigns", campaign(cid, starts_at=iso(datetime.now(UTC) + timedelta(hours=1))))
        code = invite(c, cid, "host-fan")
        token = post_ok(c, f"/v1/campaigns/{cid}/viewer-tokens", {"user_id": "host-fan", "ttl_seconds": 300})["token"]
        before = metrics(server)
        stream = SseStream(server, "/v1/stream", params={"token": token})
        try:
            assert metrics(server).value("liveloop_open_streams", kind="viewer") == before.value(
                "liveloop_open_streams", kind="viewer") + 1
            send(c, [event("r1", "reservation", cid, "friend", datetime.now(UTC), ref=code)])
            assert stream.next()["type"] == "friend_reserved"
            after = metrics(server)
            assert (after.value("liveloop_push_delay_seconds_count")
                    - before.value("liveloop_push_delay_seconds_count")) >= 1
            assert after.value("liveloop_push_delay_seconds_bucket", le="1.0") >= 1
        finally:
            stream.close()
    eventually(lambda: metrics(server).value("liveloop_open_streams", kind="viewer")
               == before.value("liveloop_open_streams", kind="viewer"))
    assert "host-fan" not in metrics(server).text


def test_rate_limit_refusals_are_counted_by_endpoint(watched):
    server, _key, _kind = watched
    left = 60 - time.time() % 60  # limits count in one-minute windows: stay in one
    if left < 5:
        time.sleep(left + 0.05)
    before = metrics(server).value("liveloop_rate_limited_total", endpoint="presence")
    with server.client(None) as anonymous:
        answers = [anonymous.post("/v1/presence", json={}).status_code for _ in range(3)]
    assert answers == [401, 401, 429]
    assert metrics(server).value("liveloop_rate_limited_total", endpoint="presence") == before + 1


def test_webhook_deliveries_are_counted_and_the_backlog_shown(watched):
    server, key, _kind = watched
    cid = "m-" + uuid.uuid4().hex[:8]
    with Receiver() as receiver, server.client(key) as c:
        post_ok(c, "/v1/webhook-endpoints", {"url": receiver.url("/hooks-" + cid)})
        before = metrics(server).value("liveloop_webhook_attempts_total", outcome="delivered")
        rule = {"id": "invite", "type": "reservation_referral", "referrer_reward": {"kind": "coupon", "amount": "5"}}
        post_ok(c, "/v1/campaigns", campaign(cid, rules=[rule]))
        code = invite(c, cid, "siti")
        send(c, [event("r1", "reservation", cid, "budi", datetime.now(UTC) - timedelta(hours=2), ref=code)])
        receiver.wait_for("/hooks-" + cid, lambda got: len(got) >= 1)
        after = eventually(lambda: (m := metrics(server)).value(
            "liveloop_webhook_attempts_total", outcome="delivered") > before and m)
    for stage in ("fan_out", "due", "scheduled"):
        assert after.has("liveloop_webhook_backlog", stage=stage)


def test_processes_sharing_postgresql_report_locks_catch_up_and_redis(watched):
    server, key, kind = watched
    cid = "m-" + uuid.uuid4().hex[:8]
    with server.client(key) as c:
        post_ok(c, "/v1/campaigns", campaign(cid))
        send(c, [event("j1", "room_join", cid, "viewer-1", datetime.now(UTC))])
        assert c.get(f"/v1/campaigns/{cid}/leaderboard").status_code == 200
    found = metrics(server)
    assert found.value("liveloop_database_up") == 1
    if kind == "sqlite":
        # One process owns the log: no lock to wait for, nothing to catch up with, no Redis.
        assert found.value("liveloop_campaign_lock_wait_seconds_count") == 0
        assert found.value("liveloop_catch_up_seconds_count") == 0
        assert not found.has("liveloop_redis_up")
        return
    assert found.value("liveloop_campaign_lock_wait_seconds_count") >= 1
    assert found.value("liveloop_catch_up_seconds_count") >= 1
    for use in ("leaderboards", "fanout", "rate_limits", "presence", "agora"):
        assert found.value("liveloop_redis_up", use=use) == 1, use


def test_a_metrics_port_serves_them_without_a_token_and_a_restart_shows_the_replay(tmp_path):
    url = f"sqlite:///{tmp_path / 'port.db'}"
    key = create_tenant(url)
    port = free_port()
    env = {"LIVELOOP_METRICS_PORT": str(port)}
    with Server(url, env=env).start() as server, server.client(key) as c:
        post_ok(c, "/v1/campaigns", campaign("replayed"))
        send(c, [event("j1", "room_join", "replayed", "viewer-1", datetime.now(UTC))])
        assert httpx.get(server.url + "/metrics").status_code == 404  # not on the public port
        assert scrape(f"http://127.0.0.1:{port}/metrics").value("liveloop_campaign_replay_seconds_count") == 0
    with Server(url, env=env).start() as server, server.client(key) as c:
        assert c.get("/v1/campaigns/replayed/users/viewer-1/progress").status_code == 200
        found = scrape(f"http://127.0.0.1:{port}/metrics")
        assert found.value("liveloop_campaign_replay_seconds_count") == 1
        assert found.value("liveloop_campaigns_loaded") == 1
        assert found.has("process_resident_memory_bytes")
