"""Fraud signals and the review queue through the real API (SPEC section 10), on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

from tests.e2e.helpers import before_start, campaign, event, invite, post_ok, send

RULES = [
    {"id": "rr", "type": "reservation_referral",
     "referrer_reward": {"kind": "coupon", "amount": "2.00"}, "referee_reward": {"kind": "coupon", "amount": "1.00"}},
    {"id": "ms", "type": "milestone", "metric": "reservations",
     "tiers": [{"at": 2, "reward": {"kind": "cashback", "amount": "5.00"}}]},
]


def _u(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def rewards(client, cid: str, user: str) -> list[dict]:
    response = client.get(f"/v1/campaigns/{cid}/rewards", params={"user_id": user})
    assert response.status_code == 200, response.text
    return response.json()["rewards"]


def progress(client, cid: str, user: str) -> dict:
    response = client.get(f"/v1/campaigns/{cid}/users/{user}/progress")
    assert response.status_code == 200, response.text
    return response.json()


def reviews(client, cid: str, **params) -> dict:
    response = client.get(f"/v1/campaigns/{cid}/reviews", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_shared_device_holds_a_referral_and_a_device_farm_declines_it(client, cid):
    post_ok(client, "/v1/campaigns", campaign(cid, rules=RULES, budget="100.00"))
    owner, device = _u("farmer"), _u("dev")
    code = invite(client, cid, owner)
    f1, f2, f3 = _u("acct"), _u("acct"), _u("acct")
    send(client, [event("o", "click", cid, owner, before_start(90), device_id=device),
                  event("a1", "reservation", cid, f1, before_start(80), code, device_id=device)])
    held = rewards(client, cid, f1)
    assert [(r["status"], r["reason"]) for r in held] == [("pending", "review")]
    assert held[0]["history"][0]["fraud"]["signals"] == ["same_device"]
    assert held[0]["history"][0]["fraud"]["risk"] == 60
    # While in review the referral counts: the referrer sees progress at once.
    assert progress(client, cid, owner)["metrics"]["reservations"] == 1

    # A third user on the device: same_device + device_farm = 100 >= decline_at (90).
    send(client, [event("a2", "reservation", cid, f2, before_start(70), code, device_id=device),
                  event("a3", "reservation", cid, f3, before_start(60), code, device_id=device)])
    for farmed in (f2, f3):
        declined = rewards(client, cid, farmed)
        assert [(r["status"], r["reason"]) for r in declined] == [("declined", "fraud")]
        assert set(declined[0]["history"][0]["fraud"]["signals"]) == {"same_device", "device_farm"}
    assert progress(client, cid, owner)["metrics"]["reservations"] == 1  # declined referrals do not count
    assert [(r["status"], r["reason"]) for r in rewards(client, cid, owner) if r["rule_id"] == "rr"].count(
        ("declined", "fraud")) == 2

    page = reviews(client, cid, status="open")
    assert [r["referee"] for r in page["reviews"]] == [f1]
    top = page["reviews"][0]
    assert top["risk"] == 60 and [s["code"] for s in top["signals"]] == ["same_device"]
    assert device in top["signals"][0]["detail"]
    assert top["status"] == "open" and len(top["reward_ids"]) == 2 and page["next_cursor"] is None


def test_deny_removes_the_referral_and_voids_the_milestone_it_reached(client, cid):
    post_ok(client, "/v1/campaigns", campaign(cid, rules=RULES, budget="100.00",
                                             fraud={"review_at": 50, "decline_at": 101}))
    owner, device = _u("farmer"), _u("dev")
    code = invite(client, cid, owner)
    honest = _u("friend")
    farmed = [_u("acct") for _ in range(2)]
    send(client, [event("o", "click", cid, owner, before_start(90), device_id=device),
                  event("h", "reservation", cid, honest, before_start(85), code, device_id=_u("own"))]
         + [event(f"a{i}", "reservation", cid, f, before_start(80 - i), code, device_id=device)
            for i, f in enumerate(farmed)])
    assert progress(client, cid, owner)["metrics"]["reservations"] == 3
    milestone = [r for r in rewards(client, cid, owner) if r["rule_id"] == "ms"]
    assert [r["status"] for r in milestone] == ["available"]
    ids = {r["referee"]: r["id"] for r in reviews(client, cid)["reviews"]}
    assert set(ids) == set(farmed)

    decided = post_ok(client, f"/v1/campaigns/{cid}/reviews/decisions",
                      {"decisions": [{"id": ids[farmed[0]], "decision": "approve"},
                                     {"id": "rv_000000000000000000000000", "decision": "deny"},
                                     {"id": ids[farmed[1]], "decision": "deny"}], "note": "same phone"}, 200)
    assert decided["decided"] == 2
    assert [r["index"] for r in decided["rejected"]] == [1]
    assert decided["rejected"][0]["error"]["code"] == "not_found"
    assert [r["status"] for r in rewards(client, cid, farmed[0])] == ["available"]
    assert [(r["status"], r["reason"]) for r in rewards(client, cid, farmed[1])] == [("void", "fraud")]
    assert progress(client, cid, owner)["metrics"]["reservations"] == 2
    # Still 2 (the milestone's tier) after the denied one left: the milestone stays.
    assert [r["status"] for r in rewards(client, cid, owner) if r["rule_id"] == "ms"] == ["available"]

    # The same decision again changes nothing; the other decision is a 409.
    again = post_ok(client, f"/v1/campaigns/{cid}/reviews/decisions",
                    {"decisions": [{"id": ids[farmed[1]], "decision": "deny"}]}, 200)
    assert again["decided"] == 0
    conflict = client.post(f"/v1/campaigns/{cid}/reviews/decisions",
                           json={"decisions": [{"id": ids[farmed[1]], "decision": "approve"}]})
    assert conflict.status_code == 409, conflict.text
    assert conflict.json()["error"]["field"] == "decisions.0.decision"

    denied = reviews(client, cid, status="denied")["reviews"]
    assert [(r["referee"], r["decided_by"], r["note"]) for r in denied] == [(farmed[1], "api", "same phone")]
    history = [r for r in rewards(client, cid, farmed[1])][0]["history"]
    assert history[-1]["fraud"] == {"decision": "deny", "decided_by": "api"}


def test_denying_below_a_tier_voids_the_milestone(client, cid):
    post_ok(client, "/v1/campaigns", campaign(cid, rules=RULES, fraud={"decline_at": 101}))
    owner, device = _u("farmer"), _u("dev")
    code = invite(client, cid, owner)
    farmed = [_u("acct") for _ in range(2)]
    send(client, [event("o", "click", cid, owner, before_start(90), device_id=device)]
         + [event(f"a{i}", "reservation", cid, f, before_start(80 - i), code, device_id=device)
            for i, f in enumerate(farmed)])
    assert progress(client, cid, owner)["rank"] == 1
    ids = [r["id"] for r in reviews(client, cid)["reviews"]]
    post_ok(client, f"/v1/campaigns/{cid}/reviews/decisions",
            {"decisions": [{"id": i, "decision": "deny"} for i in ids]}, 200)
    mine = progress(client, cid, owner)
    assert mine["metrics"]["reservations"] == 0 and mine["score"] == 0 and mine["rank"] is None
    assert {(r["rule_id"], r["status"], r["reason"]) for r in rewards(client, cid, owner)} == {
        ("rr", "void", "fraud"), ("ms", "void", "fraud")}
    board = client.get(f"/v1/campaigns/{cid}/leaderboard").json()
    assert owner not in [e["user_id"] for e in board["entries"]]


def test_carrier_nat_and_busy_addresses_are_not_same_ip_but_a_home_address_is(client, cid):
    post_ok(client, "/v1/campaigns", campaign(cid, rules=RULES, fraud={"review_at": 30}))
    owner = _u("host")
    code = invite(client, cid, owner)
    cgnat, home = "100.70.1.2", f"198.51.100.{uuid.uuid4().int % 200 + 1}"
    busy = f"203.0.113.{uuid.uuid4().int % 200 + 1}"
    crowd = [event(f"c{i}", "click", cid, _u("dorm"), before_start(200), device_id=_u("d"), ip=busy)
             for i in range(20)]
    a, b, c = _u("viewer"), _u("viewer"), _u("viewer")
    send(client, crowd + [
        event("o1", "click", cid, owner, before_start(100), device_id=_u("d"), ip=cgnat),
        event("o2", "click", cid, owner, before_start(100), device_id=_u("d"), ip=busy),
        event("o3", "click", cid, owner, before_start(100), device_id=_u("d"), ip=home),
        event("a", "reservation", cid, a, before_start(90), code, device_id=_u("d"), ip=cgnat),
        event("b", "reservation", cid, b, before_start(90), code, device_id=_u("d"), ip=busy),
        event("c", "reservation", cid, c, before_start(90), code, device_id=_u("d"), ip=home),
    ])
    assert [r["status"] for r in rewards(client, cid, a)] == ["available"]
    assert [r["status"] for r in rewards(client, cid, b)] == ["available"]
    assert [(r["status"], r["reason"]) for r in rewards(client, cid, c)] == [("pending", "review")]


def test_email_alias_and_disposable_domain(client, cid):
    post_ok(client, "/v1/campaigns", campaign(cid, rules=RULES))
    owner, alias, burner = _u("host"), _u("alias"), _u("burner")
    name = uuid.uuid4().hex[:10]
    for user, email in ((owner, f"{name}@gmail.com"), (alias, f"{name[:4]}.{name[4:]}+promo@GoogleMail.com"),
                        (burner, "someone@mailinator.com")):
        response = client.put(f"/v1/users/{user}", json={"market": "US", "email": email})
        assert response.status_code in (200, 201), response.text
        assert "email" not in response.json() and "email_hash" not in response.json()
    bad = client.put(f"/v1/users/{owner}", json={"email": "no-at-sign"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "email"
    code = invite(client, cid, owner)
    send(client, [event("a", "reservation", cid, alias, before_start(90), code),
                  event("b", "reservation", cid, burner, before_start(80), code)])
    history = rewards(client, cid, alias)[0]["history"][0]
    assert history["fraud"]["signals"] == ["email_alias"]
    # A disposable domain alone (50) reaches review_at (50): a human looks.
    held = rewards(client, cid, burner)
    assert [(r["status"], r["reason"]) for r in held] == [("pending", "review")]
    assert held[0]["history"][0]["fraud"] == {"risk": 50, "signals": ["disposable_email"]}


def test_blocklist(client, cid):
    bad = client.put("/v1/blocklist", json={"networks": ["10.0.0.0/8", "300.1.2.0/24"]})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "networks.1"
    bad = client.put("/v1/blocklist", json={"email_domains": ["ok.example", "not a domain"]})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "email_domains.1"
    device = _u("stolen")
    response = client.put("/v1/blocklist", json={"devices": [device], "networks": ["192.0.2.0/24"],
                                                 "email_domains": ["Spam.Example"]})
    assert response.status_code == 200, response.text
    assert response.json() == {"devices": [device], "networks": ["192.0.2.0/24"], "email_domains": ["spam.example"]}
    assert client.get("/v1/blocklist").json() == response.json()
    post_ok(client, "/v1/campaigns", campaign(cid, rules=RULES))
    owner, viewer = _u("host"), _u("viewer")
    code = invite(client, cid, owner)
    send(client, [event("a", "reservation", cid, viewer, before_start(90), code, ip="192.0.2.77")])
    assert [(r["status"], r["reason"]) for r in rewards(client, cid, viewer)] == [("declined", "fraud")]
    client.put("/v1/blocklist", json={})


def test_reviews_are_paginated_and_another_campaigns_review_is_rejected(client, cid):
    other = cid + "x"
    for c in (cid, other):
        post_ok(client, "/v1/campaigns", campaign(c, rules=RULES, fraud={"decline_at": 101}))
    owner, device = _u("farmer"), _u("dev")
    code = invite(client, cid, owner)
    farmed = [_u("acct") for _ in range(5)]
    send(client, [event("o", "click", cid, owner, before_start(90), device_id=device)]
         + [event(f"a{i}", "reservation", cid, f, before_start(80 - i), code, device_id=device)
            for i, f in enumerate(farmed)])
    seen, cursor = [], None
    while True:
        page = reviews(client, cid, limit=2, **({"cursor": cursor} if cursor else {}))
        seen += page["reviews"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(r["referee"] for r in seen) == sorted(farmed)
    assert [r["risk"] for r in seen] == sorted((r["risk"] for r in seen), reverse=True)
    assert client.get(f"/v1/campaigns/{cid}/reviews", params={"cursor": "nonsense"}).status_code == 422
    answer = post_ok(client, f"/v1/campaigns/{other}/reviews/decisions",
                     {"decisions": [{"id": seen[0]["id"], "decision": "deny"}]}, 200)
    assert answer["decided"] == 0 and answer["rejected"][0]["index"] == 0


def test_commissions_follow_the_referral_held_approved_with_their_own_hold_and_declined(client, cid):
    from tests.e2e.helpers import during

    rules = [{"id": "oc", "type": "order_commission", "percent": "10", "hold_days": 7}]
    post_ok(client, "/v1/campaigns", campaign(cid, rules=rules))
    owner, device = _u("host"), _u("dev")
    code = invite(client, cid, owner)
    held, declined = _u("held"), _u("declined")
    order = {"amount": "50.00", "currency": "USD"}
    send(client, [event("o", "click", cid, owner, before_start(90), device_id=device),
                  event("h", "click", cid, held, before_start(80), code, device_id=device),
                  event("x", "click", cid, _u("third"), before_start(75), device_id=device),
                  event("d", "click", cid, declined, before_start(70), code, device_id=device),
                  event("ho", "order_paid", cid, held, during(5), order={"id": _u("o"), **order}),
                  event("do", "order_paid", cid, declined, during(6), order={"id": _u("o"), **order})])
    commissions = {r["cause_event_id"].rsplit("/", 1)[-1]: r for r in rewards(client, cid, owner)}
    assert (commissions["ho"]["status"], commissions["ho"]["reason"]) == ("pending", "review")
    assert (commissions["do"]["status"], commissions["do"]["reason"]) == ("declined", "fraud")
    assert commissions["do"]["amount"] == "5.00"  # its would-be amount, so support can say why
    assert progress(client, cid, owner)["metrics"]["orders"] == 1  # the declined referee's order does not count
    [review] = reviews(client, cid)["reviews"]
    assert review["referee"] == held and review["reward_ids"] == [commissions["ho"]["id"]]
    post_ok(client, f"/v1/campaigns/{cid}/reviews/decisions", {"decisions": [{"id": review["id"],
                                                                              "decision": "approve"}]}, 200)
    [approved] = [r for r in rewards(client, cid, owner) if r["id"] == commissions["ho"]["id"]]
    # Approved, it keeps its own 7-day hold.
    assert (approved["status"], approved["reason"]) == ("pending", None) and approved["available_at"]
