"""Circles and group buys with several `liveloop serve` processes on one PostgreSQL (+ Redis): a
circle's last place raced from two processes goes to one user, a group opened on one process is
completed by orders sent to the other, a group's failure is logged once although every process
runs the scheduler, and a process started afterwards replays the same ledger, board and groups."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from liveloop.webhooks.models import webhook_messages
from tests.e2e.helpers import campaign, during, event, invite, post_ok, send
from tests.e2e.test_group_buys import FAST, group_rule, pay
from tests.support import Server, create_tenant, fresh_postgres_database, redis_env

pytestmark = pytest.mark.service

CIRCLE_TIER = {"id": "family", "type": "milestone", "metric": "joins", "scope": "circle",
               "tiers": [{"at": 2, "reward": {"kind": "coupon", "amount": "3.00"}}]}


@pytest.fixture
def pg_base():
    base = os.environ.get("LIVELOOP_TEST_DATABASE_URL")
    if not base:
        pytest.skip("LIVELOOP_TEST_DATABASE_URL is not set")
    return base


def answers(client, cid: str, gids: list[str]) -> dict:
    return {
        "rewards": client.get(f"/v1/campaigns/{cid}/rewards", params={"limit": 1000}).json()["rewards"],
        "board": client.get(f"/v1/campaigns/{cid}/leaderboard", params={"limit": 50}).json(),
        "groups": [{k: v for k, v in client.get(f"/v1/campaigns/{cid}/groups/{g}").json().items() if k != "url"}
                   for g in gids],
    }


def failed_messages(url: str, gid: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            bodies = conn.execute(sa.select(webhook_messages.c.body).where(
                webhook_messages.c.type == "group.failed")).scalars().all()
    finally:
        engine.dispose()
    return sum(1 for body in bodies if gid in body)


def test_circles_and_groups_across_processes(pg_base, tmp_path):
    env = {**FAST, **redis_env()}
    cid = "social"
    with fresh_postgres_database(pg_base) as url:
        key = create_tenant(url, "social", "shop.example.com")
        one, two = (Server(url, log_path=tmp_path / f"p{i}.log", env=env).start() for i in (1, 2))
        try:
            with one.client(key) as a, two.client(key) as b:
                # The shop takes every message (the outbox makes none for nobody); the test reads the outbox.
                post_ok(b, "/v1/webhook-endpoints", {"url": "http://127.0.0.1:9/never"})
                post_ok(a, "/v1/campaigns", campaign(cid, leaderboard={"metric": "joins", "by": "circle"},
                                                     max_circle_size=3,
                                                     rules=[CIRCLE_TIER, group_rule(window_minutes=0.05, size=2)]))
                post_ok(a, f"/v1/campaigns/{cid}/circles", {"id": "fam", "owner": "amina", "name": "Family"})
                post_ok(b, f"/v1/campaigns/{cid}/circles/fam/members", {"user_id": "bilal"})
                # The last place, asked for from both processes at once: one user gets it.
                with ThreadPoolExecutor(2) as pool:
                    tries = list(pool.map(
                        lambda pair: pair[0].post(f"/v1/campaigns/{cid}/circles/fam/members",
                                                  json={"user_id": pair[1]}), [(a, "chadi"), (b, "dana")]))
                assert sorted(r.status_code for r in tries) == [201, 409]
                assert next(r for r in tries if r.status_code == 409).json()["error"]["code"] == "circle.full"
                members = a.get(f"/v1/campaigns/{cid}/circles/fam").json()["members"]
                assert members == b.get(f"/v1/campaigns/{cid}/circles/fam").json()["members"] and len(members) == 3

                # Friends of two members join through process two: the circle tier reaches all three.
                for n, member in enumerate(members[:2]):
                    send(b, [event(f"f{n}", "room_join", cid, f"friend{n}", during(5 + n), ref=invite(a, cid, member))])
                assert sorted(r["user_id"] for r in a.get(f"/v1/campaigns/{cid}/rewards").json()["rewards"]
                              if r["rule_id"] == "family") == sorted(members)
                assert a.get(f"/v1/campaigns/{cid}/leaderboard").json()["entries"][0]["score"] == 2

                # A group opened on one, completed by orders sent to the other.
                done = post_ok(a, f"/v1/campaigns/{cid}/groups", {"rule_id": "pintuan", "user_id": "lin"})["id"]
                send(b, [pay(cid, "lin", "o-lin", done), pay(cid, "mei", "o-mei", done)])
                assert a.get(f"/v1/campaigns/{cid}/groups/{done}").json()["status"] == "completed"
                # A group that fails: both processes' schedulers find it due, one failure is logged.
                late = post_ok(b, f"/v1/campaigns/{cid}/groups", {"rule_id": "pintuan", "user_id": "tao"})["id"]
                send(a, [pay(cid, "tao", "o-tao", late)])
                deadline = time.monotonic() + 15
                while a.get(f"/v1/campaigns/{cid}/groups/{late}").json()["status"] != "failed":
                    assert time.monotonic() < deadline, "the group did not fail"
                    time.sleep(0.1)
                time.sleep(1.0)  # both schedulers have had their rounds
                assert failed_messages(url, late) == 1
                assert b.get(f"/v1/campaigns/{cid}/groups/{late}").json()["status"] == "failed"
                before = answers(a, cid, [done, late])
                assert answers(b, cid, [done, late]) == before
        finally:
            one.stop()
            two.stop()
        with Server(url, log_path=tmp_path / "p3.log", env=env).start() as three, three.client(key) as c:
            assert answers(c, cid, [done, late]) == before
