"""Group buys (拼团, SPEC section 13) through the real HTTP API, on SQLite and on PostgreSQL + Redis:
a group that completes by paid orders within its window, one that fails by the clock, refunds
before and after completion, `group_progress` on the members' streams, `group.completed` and
`group.failed` at a real webhook receiver, and the failure job surviving a restart."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime

import orjson
import pytest

from tests.e2e.helpers import campaign, event, post_ok, send
from tests.receiver import Receiver
from tests.sse import SseStream
from tests.support import Server, create_tenant, fresh_postgres_database

FAST = {"LIVELOOP_WEBHOOKS_ALLOW_PRIVATE": "true", "LIVELOOP_WEBHOOKS_POLL_SECONDS": "0.2",
        "LIVELOOP_SCHEDULER_POLL_SECONDS": "0.2"}
SKU = "WOK-28CM"


def group_rule(window_minutes: float = 30, size: int = 3) -> dict:
    return {"id": "pintuan", "type": "group_buy", "sku": SKU, "group_size": size, "window_minutes": window_minutes,
            "reward": {"kind": "coupon", "amount": "4.00"}}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.service)])
def served(request, tmp_path_factory):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('groups') / 'liveloop.db'}"
        yield from _serve(url, {}, tmp_path_factory)
        return
    base = os.environ.get("LIVELOOP_TEST_DATABASE_URL")
    if not base:
        pytest.skip("LIVELOOP_TEST_DATABASE_URL is not set")
    redis_url = os.environ.get("LIVELOOP_TEST_REDIS_URL")
    with fresh_postgres_database(base) as url:
        yield from _serve(url, {"LIVELOOP_REDIS_URL": redis_url} if redis_url else {}, tmp_path_factory)


def _serve(url: str, env: dict, tmp_path_factory):
    key = create_tenant(url, "groups", "shop.example.com")
    server = Server(url, log_path=tmp_path_factory.mktemp("log") / "server.log", env={**FAST, **env})
    server.start()
    try:
        yield server, key
    finally:
        server.stop()


@pytest.fixture(scope="module")
def receiver():
    with Receiver() as r:
        yield r


@pytest.fixture
def client(served):
    server, key = served
    with server.client(key) as c:
        yield c


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def pay(cid: str, user: str, order_id: str, group_id: str | None, sku: str = SKU, at: str | None = None) -> dict:
    order = {"id": order_id, "amount": "19.90", "currency": "USD", "sku": sku}
    if group_id is not None:
        order["group_id"] = group_id
    ev = event(f"pay-{order_id}", "order_paid", cid, user, datetime.now(UTC), order=order)
    if at is not None:
        ev["at"] = at
    return ev


def refund(cid: str, user: str, order_id: str) -> dict:
    return event(f"refund-{order_id}", "order_refunded", cid, user, datetime.now(UTC), order={"id": order_id})


def hooks(client, receiver) -> str:
    path = "/groups-" + uuid.uuid4().hex[:6]
    post_ok(client, "/v1/webhook-endpoints", {"url": receiver.url(path), "events": ["group.completed", "group.failed"]})
    return path


def messages(receiver, path: str, cid: str) -> list[dict]:
    bodies = [orjson.loads(r.body) for r in receiver.at(path)]
    return [b for b in bodies if b["data"]["campaign_id"] == cid]


def member_rewards(client, cid: str) -> dict[str, tuple[str, str, str]]:
    ledger = client.get(f"/v1/campaigns/{cid}/rewards", params={"limit": 100}).json()["rewards"]
    return {r["user_id"]: (r["role"], r["amount"], r["status"]) for r in ledger if r["rule_id"] == "pintuan"}


def stream(served, client, cid: str, user: str) -> SseStream:
    token = post_ok(client, f"/v1/campaigns/{cid}/viewer-tokens", {"user_id": user, "ttl_seconds": 600})["token"]
    return SseStream(served[0], "/v1/stream", params={"token": token})


def progress_of(sse: SseStream, count: int) -> list[dict]:
    found = []
    deadline = time.monotonic() + 10
    while len(found) < count and time.monotonic() < deadline:
        message = sse.next(timeout=max(0.1, deadline - time.monotonic()))
        if message["type"] == "group_progress":
            found.append(message)
    return found


def test_a_group_completes_by_paid_orders_within_its_window(served, client, receiver):
    cid = "gb-" + uuid.uuid4().hex[:8]
    path = hooks(client, receiver)
    other = {"id": "shares", "type": "milestone", "metric": "joins", "tiers": [{"at": 1, "reward": {"kind": "points",
                                                                                                  "points": 5}}]}
    post_ok(client, "/v1/campaigns", campaign(cid, rules=[group_rule(), other]))
    group = post_ok(client, f"/v1/campaigns/{cid}/groups", {"rule_id": "pintuan", "user_id": "lin"})
    gid = group["id"]
    assert (group["leader"], group["members"], group["group_size"], group["status"], group["code"]) == (
        "lin", [], 3, "open", gid)
    assert group["url"].endswith(f"/s/{gid}")

    again = client.post(f"/v1/campaigns/{cid}/groups", json={"rule_id": "pintuan", "user_id": "lin"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "group.already_open"
    wrong = client.post(f"/v1/campaigns/{cid}/groups", json={"rule_id": "shares", "user_id": "lin"})
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "group.not_a_group_buy"
    assert "shares" in wrong.json()["error"]["message"]
    assert client.get(f"/v1/campaigns/{cid}/groups/nope").status_code == 404

    # The group's link attributes like the leader's invite.
    landed = client.get(f"/s/{gid}")
    assert landed.status_code == 302 and f"ll_ref={gid}" in landed.headers["location"]
    send(client, [event("mei-click", "click", cid, "mei", datetime.now(UTC), ref=gid)])
    assert client.get(f"/v1/campaigns/{cid}/users/mei/progress").json()["referrer"] == "lin"

    with stream(served, client, cid, "lin") as sse:
        send(client, [pay(cid, "lin", "o-lin", gid),
                      pay(cid, "tao", "o-tao", gid),
                      pay(cid, "mei", "o-mei-other", gid, sku="OTHER-SKU")])  # another product: not for the group
        # A refund before completion removes that member.
        assert send(client, [refund(cid, "tao", "o-tao")])["accepted"] == 1
        assert client.get(f"/v1/campaigns/{cid}/groups/{gid}").json()["members"] == ["lin"]
        send(client, [pay(cid, "mei", "o-mei", gid),
                      pay(cid, "mei", "o-mei-twice", gid)])  # the same user twice counts once
        assert client.get(f"/v1/campaigns/{cid}/groups/{gid}").json()["members"] == ["lin", "mei"]
        send(client, [pay(cid, "wu", "o-wu", gid)])
        seen = progress_of(sse, 5)
        assert [(m["members"], m["status"]) for m in seen] == [
            (["lin"], "open"), (["lin", "tao"], "open"), (["lin"], "open"), (["lin", "mei"], "open"),
            (["lin", "mei", "wu"], "completed")]
        assert seen[-1]["group_size"] == 3

    read = client.get(f"/v1/campaigns/{cid}/groups/{gid}").json()
    assert read["status"] == "completed" and read["ended_at"] is not None
    assert [(o["user_id"], o["order_id"]) for o in read["orders"]] == [("lin", "o-lin"), ("mei", "o-mei"),
                                                                      ("wu", "o-wu")]
    assert member_rewards(client, cid) == {u: ("member", "4.00", "available") for u in ("lin", "mei", "wu")}
    completed = receiver.wait_for(path, lambda rs: len(rs) >= 1)
    body = orjson.loads(completed[0].body)
    assert body["type"] == "group.completed" and body["data"]["members"] == ["lin", "mei", "wu"]

    # After completion a refund voids that member's reward only; the leader may open a new group.
    send(client, [refund(cid, "mei", "o-mei")])
    assert member_rewards(client, cid) == {"lin": ("member", "4.00", "available"),
                                           "mei": ("member", "4.00", "void"), "wu": ("member", "4.00", "available")}
    assert client.get(f"/v1/campaigns/{cid}/groups/{gid}").json()["status"] == "completed"
    post_ok(client, f"/v1/campaigns/{cid}/groups", {"rule_id": "pintuan", "user_id": "lin"})
    time.sleep(0.5)
    assert [m["type"] for m in messages(receiver, path, cid)] == ["group.completed"]


def test_a_group_fails_by_the_clock_and_lists_its_members_and_orders(client, receiver):
    cid = "gb-" + uuid.uuid4().hex[:8]
    path = hooks(client, receiver)
    post_ok(client, "/v1/campaigns", campaign(cid, rules=[group_rule(window_minutes=0.05)]))  # 3 seconds
    gid = post_ok(client, f"/v1/campaigns/{cid}/groups", {"rule_id": "pintuan", "user_id": "lin"})["id"]
    send(client, [pay(cid, "lin", "o-lin", gid), pay(cid, "mei", "o-mei", gid)])
    assert client.get(f"/v1/campaigns/{cid}/groups/{gid}").json()["status"] == "open"

    got = receiver.wait_for(path, lambda rs: len(messages(receiver, path, cid)) >= 1, timeout=20)
    failed = orjson.loads(got[0].body)
    assert failed["type"] == "group.failed"
    data = failed["data"]
    assert (data["id"], data["status"], data["members"]) == (gid, "failed", ["lin", "mei"])
    assert [(o["user_id"], o["order_id"]) for o in data["orders"]] == [("lin", "o-lin"), ("mei", "o-mei")]
    assert client.get(f"/v1/campaigns/{cid}/groups/{gid}").json()["status"] == "failed"
    # A late order joins nothing, and nobody is rewarded.
    send(client, [pay(cid, "tao", "o-tao", gid)])
    assert client.get(f"/v1/campaigns/{cid}/groups/{gid}").json()["members"] == ["lin", "mei"]
    assert member_rewards(client, cid) == {}
    post_ok(client, f"/v1/campaigns/{cid}/groups", {"rule_id": "pintuan", "user_id": "lin"})


def test_an_order_timed_inside_the_window_completes_the_group_even_if_it_arrives_late(client):
    cid = "gb-" + uuid.uuid4().hex[:8]
    post_ok(client, "/v1/campaigns", campaign(cid, rules=[group_rule(window_minutes=0.05, size=2)]))
    group = post_ok(client, f"/v1/campaigns/{cid}/groups", {"rule_id": "pintuan", "user_id": "lin"})
    paid_at = now_iso()
    send(client, [pay(cid, "lin", "o-lin", group["id"], at=paid_at)])
    # Event time decides who is in: an order before the group's creation is not.
    send(client, [pay(cid, "mei", "o-early", group["id"], at="2020-01-01T00:00:00Z")])
    assert client.get(f"/v1/campaigns/{cid}/groups/{group['id']}").json()["members"] == ["lin"]
    send(client, [pay(cid, "mei", "o-mei", group["id"], at=paid_at)])
    assert client.get(f"/v1/campaigns/{cid}/groups/{group['id']}").json()["status"] == "completed"


def test_the_failure_is_due_across_a_restart(new_database, tmp_path):
    url = new_database("groups")
    key = create_tenant(url, "groups", "shop.example.com")
    cid = "restarted"
    with Server(url, log_path=tmp_path / "first.log", env=FAST).start() as first, first.client(key) as c:
        post_ok(c, "/v1/campaigns", campaign(cid, rules=[group_rule(window_minutes=0.05)]))
        gid = post_ok(c, f"/v1/campaigns/{cid}/groups", {"rule_id": "pintuan", "user_id": "lin"})["id"]
        send(c, [pay(cid, "lin", "o-lin", gid)])
    time.sleep(3.5)  # the window closes while no process runs
    with Server(url, log_path=tmp_path / "second.log", env=FAST).start() as second, second.client(key) as c:
        deadline = time.monotonic() + 10
        while c.get(f"/v1/campaigns/{cid}/groups/{gid}").json()["status"] != "failed":
            assert time.monotonic() < deadline, "the group did not fail after the restart"
            time.sleep(0.1)
        before = c.get(f"/v1/campaigns/{cid}/groups/{gid}").json()
    with Server(url, log_path=tmp_path / "third.log", env=FAST).start() as third, third.client(key) as c:
        after = c.get(f"/v1/campaigns/{cid}/groups/{gid}").json()  # replayed from the log
    assert before["members"] == ["lin"] and before["ended_at"]
    assert {**after, "url": None} == {**before, "url": None}  # each process names its own address
