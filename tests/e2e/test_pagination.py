"""Lists that can grow come a page at a time with a `next_cursor`, and pages do not shift when
entries are written between them (SPEC section 4: rewards, leaderboard; campaigns, audit, keys and
webhook deliveries have their own tests)."""

from __future__ import annotations

from tests.e2e.helpers import before_start, campaign, event, invite, post_ok, send

REFERRAL = {
    "id": "rr",
    "type": "reservation_referral",
    "referrer_reward": {"kind": "coupon", "amount": "5.00"},
    "referee_reward": {"kind": "points", "points": 10},
}


def pages(client, path: str, key: str, **params) -> tuple[list[dict], int]:
    items, cursor, count = [], None, 0
    while True:
        response = client.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body[key]) <= params["limit"]
        items += body[key]
        count += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items, count


def refer(client, cid: str, referrer: str, referees: list[str], minute: int) -> None:
    code = invite(client, cid, referrer)
    send(client, [event(f"res-{f}", "reservation", cid, f, before_start(minute), ref=code) for f in referees])


def test_reward_pages_cover_the_ledger_once_in_grant_order_while_it_grows(client, cid):
    post_ok(client, "/v1/campaigns", campaign(cid, rules=[REFERRAL]))
    for i, n in enumerate((4, 3, 3, 2)):
        refer(client, cid, f"r{i}", [f"f{i}-{j}" for j in range(n)], minute=50 - i)
    whole = client.get(f"/v1/campaigns/{cid}/rewards").json()
    assert len(whole["rewards"]) == 24 and whole["next_cursor"] is None

    first = client.get(f"/v1/campaigns/{cid}/rewards", params={"limit": 5}).json()
    assert [r["id"] for r in first["rewards"]] == [r["id"] for r in whole["rewards"][:5]]
    refer(client, cid, "r3", ["f3-late"], minute=10)  # two more rewards, granted between the pages
    rest, _ = pages(client, f"/v1/campaigns/{cid}/rewards", "rewards", limit=5)
    seen = [r["id"] for r in first["rewards"]] + [r["id"] for r in rest][5:]
    assert len(seen) == len(set(seen)) == 26
    assert seen[:24] == [r["id"] for r in whole["rewards"]]
    assert {r["user_id"] for r in rest[24:]} == {"r3", "f3-late"}

    # Continuing from the first page's cursor after the writes: the entries that followed it, then the new ones.
    after = client.get(f"/v1/campaigns/{cid}/rewards", params={"limit": 100, "cursor": first["next_cursor"]}).json()
    assert [r["id"] for r in after["rewards"]] == seen[5:] and after["next_cursor"] is None

    coupons, count = pages(client, f"/v1/campaigns/{cid}/rewards", "rewards", limit=4, status="available")
    assert len(coupons) == 26 and count == 7
    mine, _ = pages(client, f"/v1/campaigns/{cid}/rewards", "rewards", limit=2, user_id="r0")
    assert [r["kind"] for r in mine] == ["coupon"] * 4

    bad = client.get(f"/v1/campaigns/{cid}/rewards", params={"cursor": "bm9wZQ"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "cursor"
    # A cursor of one user's list does not page another's.
    r0 = client.get(f"/v1/campaigns/{cid}/rewards", params={"limit": 1, "user_id": "r0"}).json()
    assert client.get(f"/v1/campaigns/{cid}/rewards",
                      params={"user_id": "r1", "cursor": r0["next_cursor"]}).status_code == 400


def test_leaderboard_pages_follow_the_ranks(client, cid):
    post_ok(client, "/v1/campaigns", campaign(cid, rules=[REFERRAL]))
    for i, n in enumerate((4, 3, 3, 2, 1)):
        refer(client, cid, f"r{i}", [f"f{i}-{j}" for j in range(n)], minute=50 - i)
    whole = client.get(f"/v1/campaigns/{cid}/leaderboard", params={"limit": 100}).json()
    assert [e["user_id"] for e in whole["entries"]] == ["r0", "r1", "r2", "r3", "r4"]
    assert whole["next_cursor"] is None

    entries, count = pages(client, f"/v1/campaigns/{cid}/leaderboard", "entries", limit=2)
    assert entries == whole["entries"] and count == 3

    first = client.get(f"/v1/campaigns/{cid}/leaderboard", params={"limit": 2}).json()
    refer(client, cid, "r9", ["f9-0"], minute=5)  # a new entry at the bottom, between the pages
    rest, _ = pages(client, f"/v1/campaigns/{cid}/leaderboard", "entries", limit=2)
    following = client.get(f"/v1/campaigns/{cid}/leaderboard",
                           params={"limit": 10, "cursor": first["next_cursor"]}).json()["entries"]
    assert [(e["rank"], e["user_id"]) for e in following] == [(3, "r2"), (4, "r3"), (5, "r4"), (6, "r9")]
    assert len(rest) == 6
    assert client.get(f"/v1/campaigns/{cid}/leaderboard", params={"cursor": "%%"}).status_code == 400
