"""PostgreSQL or Redis briefly unreachable: clear errors, nothing lost, recovery when they return."""

from __future__ import annotations

import os
import time
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.e2e.helpers import before_start, campaign, event, invite, post_ok
from tests.proxy import CuttableProxy
from tests.support import Server, create_tenant, fresh_postgres_database, only_tenant, redis_leaderboard

pytestmark = pytest.mark.service


def through(url: str, proxy: CuttableProxy) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


def test_postgresql_outage_refuses_clearly_and_recovers(tmp_path):
    base = os.environ.get("LIVELOOP_TEST_DATABASE_URL")
    if not base:
        pytest.skip("LIVELOOP_TEST_DATABASE_URL is not set")
    with fresh_postgres_database(base) as url:
        key = create_tenant(url)
        target = urlsplit(url)
        proxy = CuttableProxy(target.hostname or "127.0.0.1", target.port or 5432)
        srv = Server(through(url, proxy), log_path=tmp_path / "pg.log").start()
        try:
            with srv.client(key) as c:
                post_ok(c, "/v1/campaigns", campaign("out", rules=[{
                    "id": "rr", "type": "reservation_referral",
                    "referrer_reward": {"kind": "coupon", "amount": "1.00"}}]))
                code = invite(c, "out", "alice")
                first = [event(f"a{i}", "reservation", "out", f"f{i}", before_start(9), ref=code) for i in range(5)]
                assert c.post("/v1/events", json={"events": first}).json()["accepted"] == 5
                proxy.cut()
                second = [event(f"b{i}", "reservation", "out", f"g{i}", before_start(8), ref=code) for i in range(5)]
                refused = c.post("/v1/events", json={"events": second})
                assert refused.status_code == 503, refused.text
                assert refused.json()["error"]["code"] == "unavailable"
                proxy.restore()
                deadline = time.monotonic() + 20
                while True:  # the client resends until the database is back
                    response = c.post("/v1/events", json={"events": second})
                    if response.status_code == 200 or time.monotonic() > deadline:
                        break
                    time.sleep(0.5)
                assert response.status_code == 200, response.text
                assert response.json()["accepted"] + response.json()["duplicates"] == 5
                progress = c.get("/v1/campaigns/out/users/alice/progress").json()
                assert progress["metrics"]["reservations"] == 10
                assert len(progress["rewards"]) == 10  # nothing lost, nothing doubled
        finally:
            srv.stop()


def test_redis_outage_changes_nothing_a_client_sees(tmp_path):
    base = os.environ.get("LIVELOOP_TEST_DATABASE_URL")
    redis_url = os.environ.get("LIVELOOP_TEST_REDIS_URL")
    if not base or not redis_url:
        pytest.skip("LIVELOOP_TEST_DATABASE_URL and LIVELOOP_TEST_REDIS_URL are needed")
    target = urlsplit(redis_url)
    proxy = CuttableProxy(target.hostname or "127.0.0.1", target.port or 6379)
    with fresh_postgres_database(base) as url:
        key = create_tenant(url)
        srv = Server(url, log_path=tmp_path / "redis.log",
                     env={"LIVELOOP_REDIS_URL": through(redis_url, proxy)}).start()
        try:
            with srv.client(key) as c, srv.client(None) as anon:
                post_ok(c, "/v1/campaigns", campaign("rd"))
                code, bob = invite(c, "rd", "alice"), invite(c, "rd", "bob")
                first = event("b0", "reservation", "rd", "g0", before_start(9), ref=bob)
                post_ok(c, "/v1/events", {"events": [first]}, 200)
                tenant_id = only_tenant(url)
                assert redis_leaderboard(redis_url, tenant_id, "rd") == [(1, "bob", 1)]
                proxy.cut()
                batch = [event(f"a{i}", "reservation", "rd", f"f{i}", before_start(9), ref=code) for i in range(3)]
                started = time.monotonic()
                assert c.post("/v1/events", json={"events": batch}).json()["accepted"] == 3
                assert anon.get(f"/s/{code}").status_code == 302
                # leaderboards are answered from the process's own state meanwhile, without waiting
                for _ in range(5):
                    entries = c.get("/v1/campaigns/rd/leaderboard").json()["entries"]
                    assert [(e["user_id"], e["score"]) for e in entries] == [("alice", 3), ("bob", 1)]
                assert time.monotonic() - started < 3.0
                proxy.restore()
                time.sleep(1.5)  # the next rate-limit sync and announcements go through again
                assert c.post("/v1/events", json={"events": batch}).json()["duplicates"] == 3
                progress = c.get("/v1/campaigns/rd/users/alice/progress").json()
                assert progress["metrics"]["reservations"] == 3 and progress["metrics"]["clicks"] == 1
                # Redis's copy of the leaderboard is brought up to date by the next write or poll
                deadline = time.monotonic() + 12
                while redis_leaderboard(redis_url, tenant_id, "rd") != [(1, "alice", 3), (2, "bob", 1)]:
                    assert time.monotonic() < deadline, redis_leaderboard(redis_url, tenant_id, "rd")
                    time.sleep(0.2)
        finally:
            srv.stop()
