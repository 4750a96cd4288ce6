"""Fraud signals with several `liveloop serve` processes on one PostgreSQL: what one process saw (a
device, a referral) judges a referral another process takes, and each decision is in the log that
every process (and a restart) replays."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from types import SimpleNamespace

import pytest

from liveloop.engine.model import Event
from liveloop.fraud import screen
from liveloop.fraud.screen import FraudChecks, OwnSpans, _FirstTouch
from liveloop.fraud.signals import TenantSignals
from tests.e2e.helpers import before_start, campaign, event, invite, post_ok, send
from tests.support import Server, create_tenant, fresh_postgres_database, redis_env, scrape

TOKEN = "scrape-" + uuid.uuid4().hex
RULE = {"id": "rr", "type": "reservation_referral", "referrer_reward": {"kind": "coupon", "amount": "2.00"},
        "referee_reward": {"kind": "coupon", "amount": "1.00"}}


def statuses(client, cid: str, user: str) -> list[tuple]:
    rewards = client.get(f"/v1/campaigns/{cid}/rewards", params={"user_id": user}).json()["rewards"]
    return [(r["status"], r["reason"]) for r in rewards]


@pytest.mark.service
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


@pytest.mark.service
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


def test_a_referral_another_process_logged_first_is_learnt_after_this_ones_own_event():
    """This process's own events are not read back, so it notes their (campaign, user) pairs itself;
    another process's event logged before them in the campaign is still that user's first (a referral)."""
    seen = _FirstTouch({"code-alice": "alice"})
    seen.own("one", "bob", 10)  # bob's event here was logged after position 10
    signals = TenantSignals()
    # Another process logged bob's reservation through alice's code at 7: his first in "one".
    assert seen.scan(signals, [(7, "one", "reservation", "bob", "code-alice", None, None, 0)]) == [("bob", "alice")]
    assert "alice" in signals.referrers_of["bob"]
    # At 12 it would have come after this process's event: not a first touch, no referral.
    later = _FirstTouch({"code-alice": "alice"})
    later.own("one", "carol", 10)
    assert later.scan(TenantSignals(), [(12, "one", "reservation", "carol", "code-alice", None, None, 0)]) == []
    # Once read, a pair's later events are not first touches either.
    assert seen.scan(signals, [(8, "one", "order_paid", "bob", "code-alice", None, None, 0)]) == []


def test_own_spans_merge_and_leave_out_the_widest():
    own = OwnSpans()
    own.add("one", 10, 20)
    own.add("one", 20, 35)  # the next batch on the same campaign: one span
    own.add("two", 40, 41)
    own.add("two", 41, 41)  # nothing logged
    assert sorted(own.past(0)) == [("one", 10, 35), ("two", 40, 41)]
    assert own.past(35) == [("two", 40, 41)]
    own.forget_to(35)
    assert own.past(0) == [("two", 40, 41)]
    many = OwnSpans()
    for i in range(OwnSpans.MAX_SKIPPED + 5):
        many.add(f"c{i}", i * 100, i * 100 + i + 1)  # widths 1, 2, ...
    kept = many.past(0)
    assert len(kept) == OwnSpans.MAX_SKIPPED and min(up_to - after for _c, after, up_to in kept) == 6


class _SlowDatabase:
    """A database whose reads take a moment, counted."""

    def __init__(self) -> None:
        self.reads = 0

    async def read(self, fn):
        self.reads += 1
        await asyncio.sleep(0.05)
        return fn(None)


def test_a_tenant_asked_for_by_two_batches_at_once_is_loaded_once(monkeypatch):
    """Two loads finishing one after the other would leave the second copy without what batches
    checked against the first (own events are not read back): the second batch waits for the first load."""
    monkeypatch.setattr(screen, "_load", lambda conn, tenant_id, shared: TenantSignals())
    db = _SlowDatabase()
    checks = FraudChecks(db, outbox=None, shared=True)

    async def both():
        await asyncio.gather(checks.prepare("t1", [], {}, now=1_000), checks.prepare("t1", [], {}, now=1_000))

    asyncio.run(both())
    assert db.reads == 1 and checks.signals_of("t1") is not None


def test_own_events_are_noted_once_their_write_is_committed(monkeypatch):
    """`check` notes nothing of a batch's first touches; `logged` (after the commit) does: a failed write
    leaves no mark that would hide another process's first event of the user."""
    loaded = TenantSignals()
    loaded.first_touch = _FirstTouch({})
    monkeypatch.setattr(screen, "_load", lambda conn, tenant_id, shared: loaded)
    checks = FraudChecks(_SlowDatabase(), outbox=None, shared=True)
    asyncio.run(checks.prepare("t1", [], {}, now=1_000))
    state = SimpleNamespace(config=SimpleNamespace(id="one"), codes={}, participants=set(), last_seq=10)
    checks.check("t1", state, "phone", None, Event("e1", "reservation", "bob", 5))
    assert loaded.first_touch.seen == {}  # not committed yet
    rows = [SimpleNamespace(campaign_id="one", user_id="bob", type="reservation"),
            SimpleNamespace(campaign_id="one", user_id=None, type="click")]
    checks.logged("t1", [("one", 10, 12)], rows)
    assert loaded.first_touch.seen == {("one", "bob"): 10}
