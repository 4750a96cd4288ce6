"""Fraud signals with several `liveloop serve` processes on one PostgreSQL: what one process saw (a
device, a referral) judges a referral another process takes, and each decision is in the log that
every process (and a restart) replays."""

from __future__ import annotations

import os
import time
import uuid

import pytest

from tests.e2e.helpers import before_start, campaign, event, invite, post_ok, send
from tests.support import Server, create_tenant, fresh_postgres_database, redis_env, scrape

pytestmark = pytest.mark.service
TOKEN = "scrape-" + uuid.uuid4().hex
RULE = {"id": "rr", "type": "reservation_referral", "referrer_reward": {"kind": "coupon", "amount": "2.00"},
        "referee_reward": {"kind": "coupon", "amount": "1.00"}}


def statuses(client, cid: str, user: str) -> list[tuple]:
    rewards = client.get(f"/v1/campaigns/{cid}/rewards", params={"user_id": user}).json()["rewards"]
    return [(r["status"], r["reason"]) for r in rewards]


def test_a_device_seen_by_one_process_holds_a_referral_taken_by_another(tmp_path):
    base = os.environ.get("LIVELOOP_TEST_DATABASE_URL")
    if not base:
        pytest.skip("LIVELOOP_TEST_DATABASE_URL is not set")
    with fresh_postgres_database(base) as url:
        key = create_tenant(url)
        servers = [Server(url, log_path=tmp_path / f"s{i}.log", env=redis_env()).start() for i in range(2)]
        try:
            with servers[0].client(key) as a, servers[1].client(key) as b:
                post_ok(a, "/v1/campaigns", campaign("one", rules=[RULE]))
                post_ok(a, "/v1/campaigns", campaign("two", rules=[RULE]))
                code_one, code_two = invite(a, "one", "farmer"), invite(a, "two", "friend")
                # Each process has the tenant's signals loaded before the other's events arrive.
                send(a, [event("warm-a", "click", "one", "someone", before_start(200))])
                send(b, [event("warm-b", "click", "two", "someone-else", before_start(200))])
                send(a, [event("own", "click", "one", "farmer", before_start(100), device_id="phone-1"),
                         event("ring1", "reservation", "one", "friend", before_start(95), code_one)])
                time.sleep(1.2)  # the other process learns the log at most a second late
                send(b, [event("sock", "reservation", "one", "sock", before_start(90), code_one,
                               device_id="phone-1"),
                         # farmer referred friend in "one"; friend refers farmer in "two": a ring
                         event("ring2", "reservation", "two", "farmer", before_start(85), code_two)])
                assert statuses(b, "one", "sock") == [("pending", "review")]
                assert statuses(b, "two", "farmer") == [("pending", "review")]
                review = b.get("/v1/campaigns/two/reviews").json()["reviews"][0]
                assert [s["code"] for s in review["signals"]] == ["ring"]
                post_ok(a, "/v1/campaigns/two/reviews/decisions",
                        {"decisions": [{"id": review["id"], "decision": "deny"}]}, 200)
                assert statuses(b, "two", "farmer") == [("void", "fraud")]
        finally:
            for server in servers:
                server.stop()
        restarted = Server(url, log_path=tmp_path / "again.log", env=redis_env()).start()
        try:
            with restarted.client(key) as c:
                assert statuses(c, "two", "farmer") == [("void", "fraud")]
                assert statuses(c, "one", "sock") == [("pending", "review")]
        finally:
            restarted.stop()


def test_a_process_reads_back_only_what_the_others_logged(tmp_path):
    """The fraud screen's catch-up (fraud/screen.py) reads what other processes logged, not the
    process's own events again: its reads follow the others' writes, not the tenant's whole log."""
    base = os.environ.get("LIVELOOP_TEST_DATABASE_URL")
    if not base:
        pytest.skip("LIVELOOP_TEST_DATABASE_URL is not set")
    env = {**redis_env(), "LIVELOOP_METRICS_TOKEN": TOKEN}
    with fresh_postgres_database(base) as url:
        key = create_tenant(url)
        servers = [Server(url, log_path=tmp_path / f"s{i}.log", env=env).start() for i in range(2)]
        try:
            with servers[0].client(key) as a, servers[1].client(key) as b:
                post_ok(a, "/v1/campaigns", campaign("one", rules=[RULE]))
                post_ok(a, "/v1/campaigns", campaign("two", rules=[RULE]))
                send(a, [event("warm", "click", "one", "v-warm", before_start(300), device_id="d-warm")])
                send(a, [event(f"a{i}", "click", "one", f"va{i}", before_start(250), device_id=f"da{i}")
                         for i in range(200)])
                send(b, [event(f"b{i}", "click", "two", f"vb{i}", before_start(200), device_id=f"db{i}")
                         for i in range(30)])
                time.sleep(1.2)  # a process learns the others' events at most a second late
                send(a, [event("last", "click", "one", "v-last", before_start(100))])
                read = scrape(servers[0].url + "/metrics", TOKEN).value("liveloop_fraud_caught_up_events_total")
                assert read == 30  # b's events; a's own 201 were not read back
        finally:
            for server in servers:
                server.stop()
