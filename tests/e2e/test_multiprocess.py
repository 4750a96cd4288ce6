"""Several `liveloop serve` processes on one PostgreSQL: one campaign's events sent to all of them
at once, with duplicates, concurrent retries and a process killed with SIGKILL mid-stream, give
exactly the ledger, leaderboard and report that one process gives for the same log order."""

from __future__ import annotations

import os
import random
import threading

import httpx
import pytest
import sqlalchemy as sa

from liveloop.kit.db.dialect import create_engine
from tests.e2e.test_durability import CID, batches, outcome, setup, stream
from tests.support import Server, create_tenant, fresh_postgres_database, only_tenant, redis_env, redis_leaderboard

pytestmark = pytest.mark.service


@pytest.fixture
def pg_base():
    base = os.environ.get("LIVELOOP_TEST_DATABASE_URL")
    if not base:
        pytest.skip("LIVELOOP_TEST_DATABASE_URL is not set")
    return base


def send_all(servers: list[Server], key: str, pending: list[list[dict]], rng: random.Random, *,
             kill: Server | None = None, kill_after: int = 0) -> set[int]:
    """Send batches from 3 threads, each to a random process; returns the acknowledged indexes. `kill`:
    a process killed with SIGKILL once `kill_after` batches are acknowledged, so mid-stream however
    fast the processes ingest (a timer landed after the end once they got faster)."""
    acknowledged: set[int] = set()
    lock = threading.Lock()
    queue = list(enumerate(pending))

    def worker() -> None:
        clients = {s.port: s.client(key) for s in servers}
        while True:
            with lock:
                if not queue:
                    break
                index, batch = queue.pop(0)
                target = rng.choice(servers)
            try:
                response = clients[target.port].post("/v1/events", json={"events": batch})
                if response.status_code == 200:
                    with lock:
                        acknowledged.add(index)
                        due = kill is not None and kill.proc is not None and len(acknowledged) == kill_after
                    if due:
                        kill.kill9()
            except httpx.HTTPError:
                pass
        for client in clients.values():
            client.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return acknowledged


def logged_order(url: str) -> list[str]:
    engine = create_engine(url)
    with engine.connect() as conn:
        ids = conn.execute(sa.text("SELECT id FROM events WHERE campaign_id = :c AND user_id IS NOT NULL ORDER BY seq"),
                           {"c": CID}).scalars().all()
    engine.dispose()
    return list(ids)


@pytest.mark.parametrize("with_redis", [True, False], ids=["redis", "postgresql-only"])
def test_three_processes_one_campaign_equal_one_process(pg_base, tmp_path, with_redis):
    env = redis_env() if with_redis else {}
    rng = random.Random(11)
    with fresh_postgres_database(pg_base) as url:
        key = create_tenant(url)
        servers = [Server(url, log_path=tmp_path / f"s{i}.log", env=env).start() for i in range(3)]
        try:
            codes = setup(servers[0], key)
            events = stream(codes, n=1800)
            pending = batches(events, size=40)
            # duplicates: a few batches are sent twice from the start (concurrent retries)
            pending += [pending[i] for i in rng.sample(range(len(pending)), 6)]
            acknowledged = send_all(servers, key, pending, rng, kill=servers[1], kill_after=len(pending) // 4)
            assert len(acknowledged) < len(pending), "the kill should land mid-stream"
            alive = [s for s in servers if s.proc is not None]
            assert len(alive) == 2
            # resend everything that was not acknowledged, to the processes still up
            missing = [pending[i] for i in range(len(pending)) if i not in acknowledged]
            for i, batch in enumerate(missing):
                with alive[i % 2].client(key) as c:
                    assert c.post("/v1/events", json={"events": batch}).status_code == 200
            # every process answers the same, whichever served which batch
            results = [outcome(s, key) for s in alive]
            assert results[0] == results[1]
            if with_redis:
                # a process started now answers from Redis's copy without replaying the campaign
                late = Server(url, log_path=tmp_path / "late.log", env=env).start()
                servers.append(late)
                with late.client(key) as c:
                    board = c.get(f"/v1/campaigns/{CID}/leaderboard", params={"limit": 1000}).json()
                assert board == results[0]["leaderboard"]
                copy = redis_leaderboard(env["LIVELOOP_REDIS_URL"], only_tenant(url), CID)
                assert copy == [(e["rank"], e["user_id"], e["score"]) for e in results[0]["leaderboard"]["entries"]]
            order = logged_order(url)
        finally:
            for s in servers:
                s.stop()
    assert sorted(order) == sorted({e["id"] for e in events})  # nothing lost, nothing doubled

    # one process, fed the same events in the order the shared log holds them
    by_id = {e["id"]: e for e in events}
    with fresh_postgres_database(pg_base) as url:
        key1 = create_tenant(url)
        single = Server(url, log_path=tmp_path / "single.log").start()
        try:
            assert setup(single, key1) == codes
            with single.client(key1) as c:
                for batch in batches([by_id[i] for i in order], size=40):
                    assert c.post("/v1/events", json={"events": batch}).status_code == 200
            expected = outcome(single, key1)
        finally:
            single.stop()
    got = results[0]
    assert got["leaderboard"] == expected["leaderboard"]
    assert got["report"] == expected["report"]
    assert [r[1:] for r in got["ledger"]] == [r[1:] for r in expected["ledger"]]


@pytest.mark.parametrize("with_redis", [True, False], ids=["redis", "poll"])
def test_a_viewer_on_one_process_hears_of_events_logged_by_another(pg_base, tmp_path, with_redis):
    import time

    from tests.e2e.helpers import before_start, campaign, event, invite, post_ok
    from tests.e2e.test_realtime import Sse, viewer_token

    env = redis_env() if with_redis else {}
    with fresh_postgres_database(pg_base) as url:
        key = create_tenant(url)
        one, two = (Server(url, log_path=tmp_path / f"f{i}.log", env=env).start() for i in range(2))
        try:
            with one.client(key) as c1, two.client(key) as c2:
                rule = {"id": "rr", "type": "reservation_referral",
                        "referrer_reward": {"kind": "coupon", "amount": "5.00"}}
                post_ok(c1, "/v1/campaigns", campaign("fan", rules=[rule]))
                code = invite(c1, "fan", "alice")
                with Sse(one, viewer_token(c1, "fan", "alice")) as alice:
                    sent = time.monotonic()
                    # the friend's reservation reaches the other process, which never saw the invite
                    result = c2.post("/v1/events", json={"events": [
                        event("r1", "reservation", "fan", "fina", before_start(5), ref=code)]}).json()
                    assert result["accepted"] == 1
                    friend = alice.next(timeout=3)
                    took = time.monotonic() - sent
                    assert friend["type"] == "friend_reserved" and friend["friend"]["user_id"] == "fina"
                    assert [m["type"] for m in alice.take(2)] == ["reward", "rank"]
                    assert took < 1.0, f"pushed after {took:.2f} s"
                # and both processes now give the same progress
                assert c1.get("/v1/campaigns/fan/users/alice/progress").json() == \
                    c2.get("/v1/campaigns/fan/users/alice/progress").json()
        finally:
            one.stop()
            two.stop()


def test_a_leaderboard_copy_left_behind_the_log_is_repaired_without_new_events(pg_base, tmp_path):
    """As if a process died between its commit and its Redis write (or Redis failed over to a
    replica that missed it): the copy is behind the log, and no event comes to fix it."""
    import time

    import redis

    from liveloop.leaderboards.shared import Keys
    from tests.e2e.helpers import before_start, campaign, event, invite, post_ok

    env = redis_env()
    redis_url = env["LIVELOOP_REDIS_URL"]
    with fresh_postgres_database(pg_base) as url:
        key = create_tenant(url)
        one, two = (Server(url, log_path=tmp_path / f"r{i}.log", env=env).start() for i in range(2))
        try:
            with one.client(key) as c1, two.client(key) as c2, redis.from_url(redis_url) as r:
                post_ok(c1, "/v1/campaigns", campaign("rep"))
                codes = {u: invite(c1, "rep", u) for u in ("alice", "bob")}
                post_ok(c1, "/v1/events", {"events": [
                    event("b1", "reservation", "rep", "g1", before_start(9), ref=codes["bob"])]}, 200)
                keys = Keys(only_tenant(url), "rep")
                before = {k: r.dump(k) for k in (keys.z, keys.m, keys.seq)}
                post_ok(c2, "/v1/events", {"events": [
                    event(f"a{i}", "reservation", "rep", f"f{i}", before_start(9), ref=codes["alice"])
                    for i in range(2)]}, 200)
                for k, value in before.items():  # the copy goes back to before the second batch
                    r.restore(k, 0, value, replace=True)
                assert redis_leaderboard(redis_url, only_tenant(url), "rep") == [(1, "bob", 1)]
                deadline = time.monotonic() + 30  # two catch-up polls, 5 s apart
                expected = [(1, "alice", 2), (2, "bob", 1)]
                while redis_leaderboard(redis_url, only_tenant(url), "rep") != expected:
                    assert time.monotonic() < deadline, "the copy was not repaired"
                    time.sleep(0.2)
                board = c2.get("/v1/campaigns/rep/leaderboard").json()["entries"]
                assert [(e["rank"], e["user_id"], e["score"]) for e in board] == expected
        finally:
            one.stop()
            two.stop()
