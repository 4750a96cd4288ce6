"""Operators list, change and cancel campaigns over the real HTTP API (SPEC sections 4 and 12).

A change is logged in the campaign's event log: it takes effect from its place among the events,
a restart replays it there (tests/e2e/test_replay.py style, below), and other processes apply it
when they catch up (tests/e2e/test_multiprocess_changes.py).
"""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from tests.e2e.helpers import NOW, campaign, during, event, invite, iso, post_ok, send
from tests.support import Server, create_tenant

SOON, LATER = NOW + timedelta(hours=2), NOW + timedelta(hours=4)  # a scheduled campaign's window
RR = {"id": "rr", "type": "reservation_referral", "referrer_reward": {"kind": "coupon", "amount": "1.00"}}
BADGE = {"kind": "badge", "name": "Host"}


def milestone(at: int, metric: str = "reservations", reward: dict = BADGE, rule_id: str = "ms") -> dict:
    return {"id": rule_id, "type": "milestone", "metric": metric, "tiers": [{"at": at, "reward": reward}]}


def scheduled(cid: str, **overrides) -> dict:
    return campaign(cid, starts_at=iso(SOON), ends_at=iso(LATER), **overrides)


def reserved(minutes_ago: int):
    return NOW - timedelta(minutes=minutes_ago)


def patch(client, cid: str, body: dict, status: int = 200) -> dict:
    response = client.patch(f"/v1/campaigns/{cid}", json=body)
    assert response.status_code == status, response.text
    return response.json()


def refused(client, cid: str, body: dict, status: int, code: str, field: str | None) -> dict:
    error = patch(client, cid, body, status)["error"]
    assert (error["code"], error["field"]) == (code, field), error
    assert error["message"]
    return error


def ledger(client, cid: str, user: str | None = None) -> list[tuple]:
    params = {"user_id": user} if user else {}
    response = client.get(f"/v1/campaigns/{cid}/rewards", params=params)
    assert response.status_code == 200, response.text
    return [(r["user_id"], r["rule_id"], r["status"], r["reason"]) for r in response.json()["rewards"]]


def landing(server, code: str) -> tuple[str, dict]:
    with server.client(None) as anon:
        response = anon.get(f"/s/{code}")
    assert response.status_code == 302, response.text
    url = urlsplit(response.headers["location"])
    return f"{url.scheme}://{url.netloc}{url.path}", parse_qs(url.query)


# -- listing ----------------------------------------------------------------------------------


def test_campaigns_are_listed_newest_start_first_a_page_at_a_time_with_their_status(server):
    key = create_tenant(server.database_url, "lister")
    with server.client(key) as c:
        windows = {  # id: (starts, ends) relative to now, in hours
            "l-ended": (-5, -3), "l-live-a": (-2, 1), "l-live-b": (-1, 1), "l-soon": (1, 2), "l-later": (3, 4),
            "l-cancelled": (2, 3),
        }
        for cid, (start, end) in windows.items():
            post_ok(c, "/v1/campaigns", campaign(cid, starts_at=iso(NOW + timedelta(hours=start)),
                                                 ends_at=iso(NOW + timedelta(hours=end))))
        assert c.post("/v1/campaigns/l-cancelled/cancel").json()["status"] == "cancelled"

        first = c.get("/v1/campaigns", params={"limit": 2}).json()
        assert [x["id"] for x in first["campaigns"]] == ["l-later", "l-cancelled"]
        assert first["next_cursor"]
        # A campaign created between two pages does not shift the next one.
        post_ok(c, "/v1/campaigns", campaign("l-newest", starts_at=iso(NOW + timedelta(hours=9)),
                                             ends_at=iso(NOW + timedelta(hours=10))))
        ids, statuses, cursor = [], {}, first["next_cursor"]
        while cursor:
            page = c.get("/v1/campaigns", params={"limit": 2, "cursor": cursor}).json()
            assert len(page["campaigns"]) <= 2
            ids += [x["id"] for x in page["campaigns"]]
            statuses.update({x["id"]: x["status"] for x in page["campaigns"]})
            cursor = page["next_cursor"]
        assert ids == ["l-soon", "l-live-b", "l-live-a", "l-ended"]
        assert statuses == {"l-soon": "scheduled", "l-live-b": "live", "l-live-a": "live", "l-ended": "ended"}

        def listed(status: str) -> list[str]:
            response = c.get("/v1/campaigns", params={"status": status})
            assert response.status_code == 200, response.text
            assert response.json()["next_cursor"] is None
            return [x["id"] for x in response.json()["campaigns"]]

        assert listed("scheduled") == ["l-newest", "l-later", "l-soon"]
        assert listed("live") == ["l-live-b", "l-live-a"]
        assert listed("ended") == ["l-ended"]
        assert listed("cancelled") == ["l-cancelled"]
        assert c.get("/v1/campaigns/l-live-a").json()["status"] == "live"
        assert c.get("/v1/campaigns/l-soon").json()["status"] == "scheduled"

        bad = c.get("/v1/campaigns", params={"cursor": "not-a-cursor"})
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "cursor"
        for forged in ([2**64, "x"], [1, "a\u0000b"], {"a": 1, "b": 2}, [1, "x", 3]):
            cursor = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode()
            assert c.get("/v1/campaigns", params={"cursor": cursor}).status_code == 422, forged
        assert c.get("/v1/campaigns", params={"status": "paused"}).status_code == 422
        assert c.get("/v1/campaigns", params={"limit": 0}).status_code == 422
    with server.client(create_tenant(server.database_url, "empty")) as other:
        assert other.get("/v1/campaigns").json() == {"campaigns": [], "next_cursor": None}


# -- changing a campaign before its start ------------------------------------------------------


def test_before_its_start_a_campaign_changes_except_rules_that_have_fired(server, client, cid):
    created = post_ok(client, "/v1/campaigns", scheduled(cid, budget="10.00", rules=[RR, milestone(3)]))
    assert created["status"] == "scheduled"
    code = invite(client, cid, "alice")
    send(client, [event("b", "reservation", cid, "bob", reserved(10), ref=code),
                  event("c", "reservation", cid, "carol", reserved(5), ref=code)])
    assert ledger(client, cid, "alice") == [("alice", "rr", "available", None)] * 2  # ms: 2 of 3

    changed = patch(client, cid, {"title": "Spring live, moved", "landing_url": "https://shop.example.com/new"})
    assert (changed["title"], changed["landing_url"], changed["status"]) == (
        "Spring live, moved", "https://shop.example.com/new", "scheduled")
    assert changed["updated_at"] and changed["created_at"] == created["created_at"]
    assert client.get(f"/v1/campaigns/{cid}").json() == changed
    assert landing(server, code) == ("https://shop.example.com/new", {"ll_ref": [code]})

    # `rr` has granted rewards: it stays as it is; `ms` has not, and may change.
    refused(client, cid, {"rules": [{**RR, "referrer_reward": {"kind": "coupon", "amount": "2.00"}}, milestone(3)]},
            409, "campaign.locked", "rules.0")
    refused(client, cid, {"rules": [milestone(3)]}, 409, "campaign.locked", "rules")
    patch(client, cid, {"rules": [milestone(2), RR]})
    # Alice already has two reservations: the lowered tier is granted at once.
    assert ledger(client, cid, "alice") == [("alice", "rr", "available", None)] * 2 + [
        ("alice", "ms", "available", None)]

    refused(client, cid, {"budget": "1.50"}, 409, "campaign.locked", "budget")  # 2.00 granted already
    assert patch(client, cid, {"budget": "3"})["budget"] == "3.00"

    # Checked like a new campaign: fields, the window, market policy (US: a draw needs a free entry).
    draw = {"id": "lucky", "type": "draw", "entry": {"metric": "joins", "at_least": 1}, "winners": 1,
            "prize": {"kind": "free_item", "sku": "SKU-1"}}
    error = refused(client, cid, {"rules": [milestone(2), RR, draw]}, 422, "policy.free_entry_required",
                    "rules.2.free_entry")
    assert [d["code"] for d in error["details"]] == ["policy.free_entry_required"]
    refused(client, cid, {"ends_at": iso(SOON - timedelta(minutes=1))}, 422, "invalid", None)
    refused(client, cid, {"title": None}, 422, "invalid", "title")
    refused(client, cid, {"market": "ID"}, 422, "invalid", "market")
    refused(client, cid, {"budget": "-1"}, 422, "invalid", "budget")
    assert client.patch("/v1/campaigns/nope", json={"title": "x"}).status_code == 404
    assert client.post("/v1/campaigns/nope/cancel").status_code == 404

    unchanged = patch(client, cid, {"title": "Spring live, moved"})
    assert unchanged == client.get(f"/v1/campaigns/{cid}").json()

    moved = patch(client, cid, {"starts_at": iso(NOW + timedelta(hours=1)), "ends_at": iso(NOW + timedelta(hours=3)),
                                "rules": [milestone(2), RR, {**draw, "free_entry": True}]})
    assert moved["starts_at"] == iso(NOW + timedelta(hours=1)).replace("Z", ".000Z")
    assert [r["id"] for r in moved["rules"]] == ["ms", "rr", "lucky"]
    assert client.get(f"/v1/campaigns/{cid}/draws/lucky").status_code == 200


def test_a_landing_url_stays_on_the_tenants_hosts(server):
    key = create_tenant(server.database_url, "hosted", "shop.example.com")
    with server.client(key) as c:
        post_ok(c, "/v1/campaigns", scheduled("hosted-1"))
        refused(c, "hosted-1", {"landing_url": "https://elsewhere.example.net/"}, 422, "invalid", "landing_url")
        assert patch(c, "hosted-1", {"landing_url": "https://m.shop.example.com/x"})["landing_url"] == (
            "https://m.shop.example.com/x")


def test_once_live_only_the_budget_changes_and_only_upwards(client, cid):
    cashback = {"kind": "cashback", "amount": "3.00"}
    post_ok(client, "/v1/campaigns", campaign(cid, budget="5.00", rules=[milestone(1, "joins", cashback, "mj")]))
    codes = {user: invite(client, cid, user) for user in ("r1", "r2", "r3")}

    def joined(user: str, friend: str, minute: int) -> None:
        send(client, [event(f"j-{friend}", "room_join", cid, friend, during(minute), ref=codes[user])])

    joined("r1", "f1", 1)
    joined("r2", "f2", 2)
    refused(client, cid, {"title": "Renamed"}, 409, "campaign.locked", "title")
    refused(client, cid, {"starts_at": iso(NOW)}, 409, "campaign.locked", "starts_at")
    refused(client, cid, {"rules": []}, 409, "campaign.locked", "rules")
    refused(client, cid, {"budget": "4.00"}, 409, "campaign.locked", "budget")
    assert patch(client, cid, {"budget": "8.00", "title": "Spring live"})["budget"] == "8.00"  # same title: no change
    joined("r3", "f3", 3)
    # What was declined stays declined; what comes after the change is judged by it.
    assert ledger(client, cid) == [("r1", "mj", "available", None), ("r2", "mj", "declined", "budget"),
                                   ("r3", "mj", "available", None)]
    assert "budget" not in patch(client, cid, {"budget": None})  # no budget at all is upwards too
    refused(client, cid, {"budget": "100.00"}, 409, "campaign.locked", "budget")  # a limit again is not


# -- cancelling ---------------------------------------------------------------------------------


def test_a_cancelled_campaign_lands_without_attribution_and_rewards_nothing_more(server, client, cid):
    post_ok(client, "/v1/campaigns", scheduled(cid, rules=[RR]))
    code = invite(client, cid, "alice")
    send(client, [event("b", "reservation", cid, "bob", reserved(10), ref=code)])
    assert landing(server, code)[1] == {"src": ["ig"], "ll_ref": [code]}
    before = ledger(client, cid)
    assert before == [("alice", "rr", "available", None)]

    live_one = f"{cid}-live"
    post_ok(client, "/v1/campaigns", campaign(live_one))
    error = client.post(f"/v1/campaigns/{live_one}/cancel").json()["error"]
    assert error["code"] == "campaign.not_scheduled" and "live" in error["message"]

    cancelled = client.post(f"/v1/campaigns/{cid}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["cancelled_at"]
    assert client.post(f"/v1/campaigns/{cid}/cancel").json() == cancelled.json()  # again: unchanged
    assert client.get(f"/v1/campaigns/{cid}").json()["status"] == "cancelled"

    # Its links still lead to the page, but attribute and count nothing.
    assert landing(server, code) == ("https://shop.example.com/live", {"src": ["ig"]})
    time.sleep(0.3)
    assert client.get(f"/v1/campaigns/{cid}/users/alice/progress").json()["metrics"]["clicks"] == 1
    # Its events are rejected alone, each saying why; the rest of the batch is kept.
    result = send(client, [event("c", "reservation", cid, "carol", reserved(5), ref=code),
                           event("x", "room_join", live_one, "carol", during(1))])
    assert result["accepted"] == 1
    assert [(r["index"], r["error"]["code"], r["error"]["field"]) for r in result["rejected"]] == [
        (0, "campaign.cancelled", "campaign_id")]
    assert ledger(client, cid) == before
    # Nothing is started for it any more, and it changes no more.
    refused_invite = client.post(f"/v1/campaigns/{cid}/invites", json={"user_id": "dave"})
    assert refused_invite.status_code == 409 and refused_invite.json()["error"]["code"] == "campaign.cancelled"
    refused(client, cid, {"title": "Back on"}, 409, "campaign.cancelled", None)
    listed = client.get("/v1/campaigns", params={"status": "cancelled", "limit": 200}).json()["campaigns"]
    assert cid in [x["id"] for x in listed]


# -- a restart replays every change at its place ----------------------------------------------


def outcome(server: Server, key: str, cids: list[str], users: list[str]) -> dict:
    with server.client(key) as c:
        def read(path: str) -> dict:
            response = c.get(path)
            assert response.status_code == 200, response.text
            return response.json()

        return {cid: {
            "campaign": {k: v for k, v in read(f"/v1/campaigns/{cid}").items() if k != "status"},
            "rewards": read(f"/v1/campaigns/{cid}/rewards")["rewards"],
            "report": read(f"/v1/campaigns/{cid}/report"),
            "progress": {user: read(f"/v1/campaigns/{cid}/users/{user}/progress") for user in users},
        } for cid in cids}


def test_a_restart_replays_each_change_where_it_happened(new_database, tmp_path):
    url = new_database("changes")
    key = create_tenant(url)
    users = ["alice", "bob", "carol", "dave", "erin"]
    first = Server(url, log_path=tmp_path / "first.log").start()
    try:
        with first.client(key) as c:
            # Scheduled: reservations, a lowered milestone (granted at the change), a moved window.
            post_ok(c, "/v1/campaigns", scheduled("early", budget="1.00", rules=[RR, milestone(3)]))
            code = invite(c, "early", "alice")
            send(c, [event("b", "reservation", "early", "bob", reserved(30), ref=code),
                     event("c", "reservation", "early", "carol", reserved(20), ref=code)])  # 2nd coupon: budget
            patch(c, "early", {"rules": [RR, milestone(2)], "budget": "5.00",
                               "starts_at": iso(NOW + timedelta(hours=1))})
            send(c, [event("e", "reservation", "early", "erin", reserved(5), ref=code)])
            # Live: a budget raised between two rewards.
            post_ok(c, "/v1/campaigns", campaign("running", budget="3.00",
                                                 rules=[milestone(1, "joins", {"kind": "cashback", "amount": "3.00"},
                                                                  "mj")]))
            codes = [invite(c, "running", user) for user in ("alice", "bob", "carol")]
            send(c, [event("j1", "room_join", "running", "dave", during(1), ref=codes[0]),
                     event("j2", "room_join", "running", "erin", during(2), ref=codes[1])])
            patch(c, "running", {"budget": "6.00"})
            send(c, [event("j3", "room_join", "running", "frank", during(3), ref=codes[2])])
            # Cancelled: what came before stays; what came after was refused.
            post_ok(c, "/v1/campaigns", scheduled("called-off", rules=[RR]))
            off = invite(c, "called-off", "alice")
            send(c, [event("o1", "reservation", "called-off", "bob", reserved(9), ref=off)])
            assert c.post("/v1/campaigns/called-off/cancel").status_code == 200
            assert send(c, [event("o2", "reservation", "called-off", "carol", reserved(8), ref=off)])["accepted"] == 0
        cids = ["early", "running", "called-off"]
        live = outcome(first, key, cids, users)
        assert [(r["user_id"], r["rule_id"], r["status"]) for r in live["early"]["rewards"]] == [
            ("alice", "rr", "available"), ("alice", "rr", "declined"), ("alice", "ms", "available"),
            ("alice", "rr", "available")]
        assert [(r["user_id"], r["status"]) for r in live["running"]["rewards"]] == [
            ("alice", "available"), ("bob", "declined"), ("carol", "available")]
    finally:
        first.stop()
    second = Server(url, log_path=tmp_path / "second.log").start()
    try:
        assert outcome(second, key, cids, users) == live
    finally:
        second.stop()
