"""The outbox under several processes and a kill -9: each message delivered by one process at a time,
none lost (SPEC 11: at least once, surviving restarts)."""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter

import pytest

from tests.e2e.helpers import before_start, campaign, event, invite, post_ok, send
from tests.receiver import Behaviour, Receiver
from tests.support import Server, create_tenant, fresh_postgres_database

ENV = {"LIVELOOP_WEBHOOKS_ALLOW_PRIVATE": "true", "LIVELOOP_WEBHOOKS_POLL_SECONDS": "0.2"}
RULE = {"id": "invite", "type": "reservation_referral", "referrer_reward": {"kind": "points", "points": 1}}


def referrals(client, cid: str, n: int) -> None:
    """`n` friends of Siti reserve: n attributions and n rewards, 2n messages."""
    post_ok(client, "/v1/campaigns", campaign(cid, rules=[RULE]))
    code = invite(client, cid, "siti")
    for start in range(0, n, 50):
        send(client, [event(f"r{i}", "reservation", cid, f"friend{i}", before_start(30), ref=code)
                      for i in range(start, min(n, start + 50))])


def receiver_count(receiver: Receiver, path: str, delivery: dict) -> int:
    return ids_for(receiver, path)[delivery["message_id"]]


def ids_for(receiver: Receiver, path: str) -> Counter:
    return Counter(r.headers["webhook-id"] for r in receiver.at(path))


@pytest.mark.service
def test_two_processes_deliver_one_outbox_without_doubles(tmp_path):
    base = os.environ.get("LIVELOOP_TEST_DATABASE_URL")
    if not base:
        pytest.skip("LIVELOOP_TEST_DATABASE_URL is not set")
    with fresh_postgres_database(base) as url, Receiver() as receiver:
        key = create_tenant(url, "two")
        servers = [Server(url, log_path=tmp_path / f"s{i}.log", env=ENV).start() for i in range(2)]
        try:
            path = "/both"
            receiver.behaviour[path] = Behaviour(delay=0.02)
            with servers[0].client(key) as one, servers[1].client(key) as two:
                post_ok(one, "/v1/webhook-endpoints", {"url": receiver.url(path)})
                referrals(one, "a-" + uuid.uuid4().hex[:6], 100)
                referrals(two, "b-" + uuid.uuid4().hex[:6], 100)
            got = receiver.wait_for(path, lambda rs: len(rs) >= 400, timeout=60)
            seen = ids_for(receiver, path)
            assert len(seen) == 400 and len(got) == 400, f"{len(got)} requests, {len(seen)} messages"
            assert max(seen.values()) == 1
        finally:
            for server in servers:
                server.stop()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.service)])
def test_messages_in_flight_at_a_kill_9_are_delivered_after_the_restart(tmp_path, backend):
    base = os.environ.get("LIVELOOP_TEST_DATABASE_URL")
    if backend == "postgresql" and not base:
        pytest.skip("LIVELOOP_TEST_DATABASE_URL is not set")
    if backend == "sqlite":
        _kill_and_restart(f"sqlite:///{tmp_path / 'liveloop.db'}", tmp_path)
    else:
        with fresh_postgres_database(base) as url:
            _kill_and_restart(url, tmp_path)


def _kill_and_restart(url: str, tmp_path) -> None:
    with Receiver() as receiver:
        key = create_tenant(url, "kill")
        server = Server(url, log_path=tmp_path / "first.log", env=ENV).start()
        path = "/slow"
        # every attempt takes 3 s: the kill lands while attempts are under way and others wait
        receiver.behaviour[path] = Behaviour(delay=3.0)
        try:
            with server.client(key) as client:
                post_ok(client, "/v1/webhook-endpoints", {"url": receiver.url(path)})
                referrals(client, "k-" + uuid.uuid4().hex[:6], 10)
            receiver.wait_for(path, lambda rs: len(rs) >= 1, timeout=10)
        finally:
            server.kill9()
        assert len(ids_for(receiver, path)) < 20  # messages were still waiting when it died
        receiver.behaviour[path] = Behaviour()
        second = Server(url, log_path=tmp_path / "second.log", env=ENV).start()
        try:
            with second.client(key) as client:
                [ep] = client.get("/v1/webhook-endpoints").json()["endpoints"]
                deadline = time.monotonic() + 60
                while True:
                    page = client.get(f"/v1/webhook-endpoints/{ep['id']}/deliveries?limit=100").json()
                    done = [d for d in page["deliveries"] if d["status"] == "succeeded"]
                    if len(done) == 20 or time.monotonic() > deadline:
                        break
                    time.sleep(0.5)
        finally:
            second.stop()
        # every message succeeded, those cut short by the kill too (once their lease had passed)
        assert len(done) == 20 and len(page["deliveries"]) == 20
        assert set(ids_for(receiver, path)) == {d["message_id"] for d in done}
        cut_short = [d for d in done if len(d["attempts"]) == 1 and receiver_count(receiver, path, d) > 1]
        assert cut_short, "no attempt was under way at the kill"
