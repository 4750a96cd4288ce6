"""Outgoing webhooks through the real API and a real receiver: Standard Webhooks signatures checked by
the scheme's own library, filters, retries, redirects, isolation of a dead endpoint, rotation, manual
retry, and the refusals of bad endpoint URLs (SPEC section 11)."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from standardwebhooks import Webhook

from tests.e2e.helpers import before_start, campaign, during, event, invite, iso, post_ok, send
from tests.receiver import Behaviour, Receiver
from tests.support import Server, create_tenant, eventually, free_port, fresh_postgres_database

ALLOW_PRIVATE = {"LIVELOOP_WEBHOOKS_ALLOW_PRIVATE": "true", "LIVELOOP_WEBHOOKS_POLL_SECONDS": "0.2"}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.service)])
def hooked(request, tmp_path_factory):
    """A server that may send to the loopback (LIVELOOP_WEBHOOKS_ALLOW_PRIVATE), on a database of its own."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('hooks') / 'liveloop.db'}"
        yield from _serve(url, {}, tmp_path_factory)
        return
    base = os.environ.get("LIVELOOP_TEST_DATABASE_URL")
    if not base:
        pytest.skip("LIVELOOP_TEST_DATABASE_URL is not set")
    redis_url = os.environ.get("LIVELOOP_TEST_REDIS_URL")
    with fresh_postgres_database(base) as url:
        yield from _serve(url, {"LIVELOOP_REDIS_URL": redis_url} if redis_url else {}, tmp_path_factory)


def _serve(url: str, env: dict, tmp_path_factory):
    key = create_tenant(url, "hooks", "shop.example.com")
    server = Server(url, log_path=tmp_path_factory.mktemp("log") / "server.log", env={**ALLOW_PRIVATE, **env})
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
def client(hooked):
    server, key = hooked
    with server.client(key) as c:
        yield c


def endpoint(client, receiver, path: str, **extra) -> dict:
    return post_ok(client, "/v1/webhook-endpoints", {"url": receiver.url(path), **extra})


def referral(client, cid: str) -> None:
    """Siti invites Budi, who reserves: an attribution and a double-sided reward."""
    rule = {"id": "invite", "type": "reservation_referral", "referrer_reward": {"kind": "coupon", "amount": "5"},
            "referee_reward": {"kind": "coupon", "amount": "2"}}
    post_ok(client, "/v1/campaigns", campaign(cid, rules=[rule]))
    code = invite(client, cid, "siti")
    send(client, [event("r1", "reservation", cid, "budi", before_start(30), ref=code)])


def of_campaign(requests, cid: str) -> list[dict]:
    bodies = [orjson.loads(r.body) for r in requests]
    return [b for b in bodies if b["data"].get("campaign_id") == cid]


def test_a_referral_reaches_the_endpoint_signed_as_standard_webhooks(client, receiver):
    path = "/all-" + uuid.uuid4().hex[:6]
    created = endpoint(client, receiver, path, description="shop back end")
    assert created["secret"].startswith("whsec_") and created["events"] is None
    listed = client.get("/v1/webhook-endpoints").json()["endpoints"]
    assert [e["id"] for e in listed if e["url"] == receiver.url(path)] == [created["id"]]
    assert all(e["secret"] is None for e in listed)

    cid = "wh-" + uuid.uuid4().hex[:8]
    referral(client, cid)
    got = receiver.wait_for(path, lambda rs: len(of_campaign(rs, cid)) >= 3)
    verifier = Webhook(created["secret"])
    for request in got:
        # the scheme's own verifier checks id, timestamp and signature over the raw body
        payload = verifier.verify(request.body, request.headers)
        assert request.headers["webhook-id"].startswith("msg_")
        assert request.headers["content-type"] == "application/json"
        assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 60
        assert set(payload) == {"type", "timestamp", "data"}
    mine = of_campaign(got, cid)
    assert sorted(m["type"] for m in mine) == ["referral.attributed", "reward.issued", "reward.issued"]
    attributed = next(m["data"] for m in mine if m["type"] == "referral.attributed")
    assert (attributed["referrer"], attributed["referee"]) == ("siti", "budi")
    rewards = {m["data"]["user_id"]: m["data"] for m in mine if m["type"] == "reward.issued"}
    assert (rewards["siti"]["role"], rewards["siti"]["amount"], rewards["siti"]["status"]) == (
        "referrer", "5.00", "available")
    ledger = client.get(f"/v1/campaigns/{cid}/rewards").json()["rewards"]
    assert {r["id"] for r in ledger} == {r["id"] for r in rewards.values()}  # the API's read of the same rewards

    # a tampered body does not verify (a message of this campaign: the endpoint takes the tenant's others too)
    ours = next(r for r in got if b'"siti"' in r.body)
    with pytest.raises(Exception, match="signature"):
        verifier.verify(ours.body.replace(b"siti", b"mallory"), ours.headers)


def test_an_endpoint_gets_only_the_types_it_asked_for(client, receiver):
    path = "/rewards-" + uuid.uuid4().hex[:6]
    endpoint(client, receiver, path, events=["reward.issued"])
    cid = "wh-" + uuid.uuid4().hex[:8]
    referral(client, cid)
    got = receiver.wait_for(path, lambda rs: len(of_campaign(rs, cid)) >= 2)
    time.sleep(1.0)  # nothing else follows
    assert {m["type"] for m in of_campaign(receiver.at(path), cid)} == {"reward.issued"}
    assert len(of_campaign(got, cid)) == 2


def test_a_failed_delivery_is_retried_with_the_same_message_id_and_logged(client, receiver):
    path = "/flaky-" + uuid.uuid4().hex[:6]
    receiver.behaviour[path] = Behaviour(statuses=[500])
    created = endpoint(client, receiver, path, events=["referral.attributed"])
    cid = "wh-" + uuid.uuid4().hex[:8]
    referral(client, cid)
    # the first attempt fails; the retry 5 s later succeeds
    got = receiver.wait_for(path, lambda rs: len(rs) >= 2, timeout=20)
    assert got[0].headers["webhook-id"] == got[1].headers["webhook-id"]
    assert got[1].at - got[0].at >= 4.5
    deliveries = client.get(f"/v1/webhook-endpoints/{created['id']}/deliveries").json()["deliveries"]
    [delivery] = [d for d in deliveries if d["message_id"] == got[0].headers["webhook-id"]]
    assert delivery["status"] == "succeeded" and delivery["type"] == "referral.attributed"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 200]
    assert delivery["attempts"][0]["error"] == "answered 500"
    failed_only = client.get(f"/v1/webhook-endpoints/{created['id']}/deliveries?status=failed").json()
    assert failed_only["deliveries"] == []

    # a manual retry sends it once more, now
    retried = client.post(f"/v1/webhook-endpoints/{created['id']}/deliveries/{delivery['message_id']}/retry")
    assert retried.status_code == 202
    again = receiver.wait_for(path, lambda rs: len(rs) >= 3)
    assert again[2].headers["webhook-id"] == delivery["message_id"]


def test_redirects_are_not_followed(client, receiver):
    path = "/moved-" + uuid.uuid4().hex[:6]
    receiver.behaviour[path] = Behaviour(statuses=[302] * 3, location=receiver.url("/elsewhere"))
    created = endpoint(client, receiver, path, events=["referral.attributed"])
    referral(client, "wh-" + uuid.uuid4().hex[:8])
    receiver.wait_for(path, lambda rs: len(rs) >= 1)
    time.sleep(0.5)
    assert receiver.at("/elsewhere") == []
    deliveries = client.get(f"/v1/webhook-endpoints/{created['id']}/deliveries").json()["deliveries"]
    assert deliveries[0]["status"] == "pending" and deliveries[0]["next_attempt_at"] is not None
    assert deliveries[0]["attempts"][0]["error"] == "answered 302 (redirects are not followed)"


def test_an_endpoint_nobody_listens_on_fails_its_attempt_with_the_connection_error(client):
    created = post_ok(client, "/v1/webhook-endpoints",
                      {"url": f"http://127.0.0.1:{free_port()}/hook", "events": ["referral.attributed"]})
    referral(client, "wh-" + uuid.uuid4().hex[:8])

    def first_attempt() -> dict | None:
        deliveries = client.get(f"/v1/webhook-endpoints/{created['id']}/deliveries").json()["deliveries"]
        return deliveries[0]["attempts"][0] if deliveries and deliveries[0]["attempts"] else None

    attempt = eventually(first_attempt, timeout=20)
    assert attempt["status_code"] is None
    assert attempt["error"].startswith("ClientConnectorError: "), attempt


def test_a_dead_endpoint_does_not_delay_another(client, receiver):
    slow, fast = "/slow-" + uuid.uuid4().hex[:6], "/fast-" + uuid.uuid4().hex[:6]
    receiver.behaviour[slow] = Behaviour(delay=10.0)
    endpoint(client, receiver, slow)
    endpoint(client, receiver, fast)
    started = time.monotonic()
    for _ in range(3):
        referral(client, "wh-" + uuid.uuid4().hex[:8])
    got = receiver.wait_for(fast, lambda rs: len(rs) >= 9, timeout=8)
    assert got[-1].at - started < 5  # while the slow endpoint holds its first attempts for 10 s


def test_after_a_rotation_deliveries_carry_both_signatures(client, receiver):
    path = "/rotated-" + uuid.uuid4().hex[:6]
    created = endpoint(client, receiver, path, events=["referral.attributed"])
    rotated = post_ok(client, f"/v1/webhook-endpoints/{created['id']}/rotate", {}, status=200)
    assert rotated["secret"] != created["secret"] and rotated["secret"].startswith("whsec_")
    referral(client, "wh-" + uuid.uuid4().hex[:8])
    [request] = receiver.wait_for(path, lambda rs: len(rs) >= 1)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Webhook(rotated["secret"]).verify(request.body, request.headers)
    Webhook(created["secret"]).verify(request.body, request.headers)  # receivers not yet updated


def test_a_deleted_endpoint_gets_nothing_more(client, receiver):
    path = "/gone-" + uuid.uuid4().hex[:6]
    created = endpoint(client, receiver, path)
    assert client.delete(f"/v1/webhook-endpoints/{created['id']}").status_code == 204
    assert client.delete(f"/v1/webhook-endpoints/{created['id']}").status_code == 404
    referral(client, "wh-" + uuid.uuid4().hex[:8])
    time.sleep(1.5)
    assert receiver.at(path) == []


@pytest.mark.parametrize(("body", "field"), [
    ({"url": "https://example.com/x", "events": ["reward.exploded"]}, "events.0"),
    ({"url": "not a url at all"}, "url"),
    ({"url": "https://example.com/x", "secret": "mine"}, "secret"),
])
def test_bad_endpoints_are_refused_naming_the_field(client, body, field):
    response = client.post("/v1/webhook-endpoints", json=body)
    assert response.status_code == 422 and response.json()["error"]["field"] == field, response.text


def test_unknown_endpoints_and_messages_are_404(client, receiver):
    created = endpoint(client, receiver, "/x")
    assert client.post("/v1/webhook-endpoints/ep_" + "0" * 24 + "/rotate").status_code == 404
    missing = client.post(f"/v1/webhook-endpoints/{created['id']}/deliveries/msg_{'0' * 24}/retry")
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "msg_id"


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    """A server with the production setting: https to public addresses only."""
    url = f"sqlite:///{tmp_path_factory.mktemp('strict') / 'liveloop.db'}"
    key = create_tenant(url, "strict")
    server = Server(url, log_path=tmp_path_factory.mktemp("log") / "strict.log").start()
    try:
        with server.client(key) as c:
            yield c
    finally:
        server.stop()


@pytest.mark.parametrize(("url", "why"), [
    ("http://example.com/hook", "https"),
    ("https://127.0.0.1/hook", "private"),
    ("https://localhost:8443/hook", "private"),
    ("https://10.1.2.3/hook", "private"),
    ("https://169.254.169.254/latest/meta-data", "private"),
    ("https://[::1]/hook", "private"),
    ("https://no-such-host.invalid/hook", "resolve"),
])
def test_without_the_setting_only_https_to_public_addresses_is_accepted(strict, url, why):
    response = strict.post("/v1/webhook-endpoints", json={"url": url})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == "url" and why in error["message"]


def test_a_refund_voids_a_commission_as_reward_status_changed(client, receiver):
    path = "/status-" + uuid.uuid4().hex[:6]
    endpoint(client, receiver, path, events=["reward.status_changed"])
    cid = "wh-" + uuid.uuid4().hex[:8]
    post_ok(client, "/v1/campaigns", campaign(cid, rules=[
        {"id": "oc", "type": "order_commission", "percent": "10", "hold_days": 14}]))
    code = invite(client, cid, "alice")
    order = {"id": "O-1", "amount": "19.95", "currency": "USD"}
    send(client, [event("j1", "room_join", cid, "bob", during(1), ref=code),
                  event("p1", "order_paid", cid, "bob", during(5), order=order)])
    send(client, [event("p2", "order_refunded", cid, "bob", during(9), order={"id": "O-1"})])
    [message] = of_campaign(receiver.wait_for(path, lambda rs: len(of_campaign(rs, cid)) >= 1), cid)
    data = message["data"]
    assert (message["type"], data["user_id"], data["status"], data["reason"]) == (
        "reward.status_changed", "alice", "void", "refund")
    assert [h["status"] for h in data["history"]] == ["pending", "void"]


def test_a_draw_run_is_sent_as_draw_completed_with_its_prizes(client, receiver):
    path = "/draws-" + uuid.uuid4().hex[:6]
    endpoint(client, receiver, path, events=["draw.completed", "reward.issued"])
    cid = "wh-" + uuid.uuid4().hex[:8]
    ends = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    starts = ends - timedelta(hours=1)
    rule = {"id": "lucky", "type": "draw", "entry": {"metric": "joins", "at_least": 1}, "winners": 1,
            "prize": {"kind": "free_item", "sku": "SOCKS"}, "free_entry": True}
    post_ok(client, "/v1/campaigns", campaign(cid, market="SG", starts_at=iso(starts), ends_at=iso(ends),
                                              leaderboard={"metric": "joins"}, rules=[rule]))
    code = invite(client, cid, "siti")
    send(client, [event("j1", "room_join", cid, "budi", starts + timedelta(minutes=5), ref=code)])
    result = post_ok(client, f"/v1/campaigns/{cid}/draws/lucky/run", {}, status=200)
    got = of_campaign(receiver.wait_for(path, lambda rs: len(of_campaign(rs, cid)) >= 2), cid)
    completed = next(m["data"] for m in got if m["type"] == "draw.completed")
    assert (completed["rule_id"], completed["period"], completed["winners"], completed["seed"]) == (
        "lucky", "campaign", ["siti"], result["seed"])
    prize = next(m["data"] for m in got if m["type"] == "reward.issued")
    assert (prize["user_id"], prize["role"], prize["sku"]) == ("siti", "winner", "SOCKS")


def test_a_review_is_announced_when_it_opens_and_when_it_is_decided(client, receiver):
    path = "/reviews-" + uuid.uuid4().hex[:6]
    endpoint(client, receiver, path, events=["review.opened", "review.decided"])
    cid = "wh-" + uuid.uuid4().hex[:8]
    rule = {"id": "invite", "type": "reservation_referral", "referrer_reward": {"kind": "coupon", "amount": "5"}}
    post_ok(client, "/v1/campaigns", campaign(cid, rules=[rule]))
    code = invite(client, cid, "farmer")
    device = "dev-" + uuid.uuid4().hex[:8]
    send(client, [event("o", "click", cid, "farmer", before_start(40), device_id=device),
                  event("r1", "reservation", cid, "sock", before_start(30), ref=code, device_id=device)])
    opened = receiver.wait_for(path, lambda rs: len(of_campaign(rs, cid)) >= 1)
    review = of_campaign(opened, cid)[0]
    assert review["type"] == "review.opened"
    data = review["data"]
    assert (data["referrer"], data["referee"], data["status"], data["risk"]) == ("farmer", "sock", "open", 60)
    assert [s["code"] for s in data["signals"]] == ["same_device"] and len(data["reward_ids"]) == 1
    post_ok(client, f"/v1/campaigns/{cid}/reviews/decisions",
            {"decisions": [{"id": data["id"], "decision": "deny"}], "note": "a sock puppet"}, 200)
    got = receiver.wait_for(path, lambda rs: len(of_campaign(rs, cid)) >= 2)
    decided = [m["data"] for m in of_campaign(got, cid) if m["type"] == "review.decided"]
    assert [(d["id"], d["status"], d["decided_by"], d["note"]) for d in decided] == [
        (data["id"], "denied", "api", "a sock puppet")]
