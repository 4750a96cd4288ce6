"""Segments (seed users, SPEC section 13) through the real HTTP API, on SQLite and PostgreSQL + Redis:
explicit lists up to 100,000 users a call, a past campaign's top N, rules only a segment's members
earn from (`audience`), the report's `segments` block, and the 4xx for what cannot be."""

from __future__ import annotations

import uuid
from datetime import timedelta

from tests.e2e.helpers import NOW, campaign, during, event, invite, iso, post_ok, send
from tests.support import Server, create_tenant


def put(client, sid: str, body: dict, status: int) -> dict:
    response = client.put(f"/v1/segments/{sid}", json=body)
    assert response.status_code == status, response.text
    return response.json()


def exclusive(sid: str) -> dict:
    return {"id": "seed-task", "type": "milestone", "metric": "joins", "audience": {"segment": sid},
            "tiers": [{"at": 1, "reward": {"kind": "coupon", "amount": "10.00"}}]}


EVERYONE = {"id": "all", "type": "milestone", "metric": "joins",
            "tiers": [{"at": 1, "reward": {"kind": "points", "points": 5}}]}


def bring_friends(client, cid: str, counts: dict[str, int]) -> None:
    events = []
    for user, n in counts.items():
        code = invite(client, cid, user)
        for i in range(n):
            events.append(event(f"{user}-f{i}", "room_join", cid, f"{user}-friend{i}", during(1 + i), ref=code))
            events.append(event(f"{user}-o{i}", "order_paid", cid, f"{user}-friend{i}", during(2 + i),
                                order={"id": f"{cid}-{user}-{i}", "amount": "10.00", "currency": "USD"}))
    send(client, events)


def earned(client, cid: str, rule: str) -> list[str]:
    ledger = client.get(f"/v1/campaigns/{cid}/rewards", params={"limit": 500}).json()["rewards"]
    return sorted(r["user_id"] for r in ledger if r["rule_id"] == rule)


def test_segments_are_made_replaced_and_grown(client):
    sid = "seg-" + uuid.uuid4().hex[:8]
    made = put(client, sid, {"name": "Top fans", "user_ids": ["a", "b", "b"]}, 201)
    assert (made["name"], made["members"], made["version"]) == ("Top fans", 2, 1)
    again = put(client, sid, {"name": "Top fans", "user_ids": ["c"]}, 200)
    assert (again["members"], again["version"]) == (1, 2)
    grown = post_ok(client, f"/v1/segments/{sid}/members", {"user_ids": ["d", "c"]}, status=200)
    assert (grown["members"], grown["version"]) == (2, 3)
    assert client.get(f"/v1/segments/{sid}").json() == grown

    many = [f"user-{i}" for i in range(100_000)]
    assert put(client, sid + "-big", {"name": "Everyone", "user_ids": many}, 201)["members"] == 100_000
    too_many = client.put(f"/v1/segments/{sid}-x", json={"name": "Too many", "user_ids": [*many, "one-more"]})
    assert too_many.status_code == 422 and too_many.json()["error"]["field"].startswith("user_ids")

    unknown = client.put(f"/v1/segments/{sid}-y", json={"name": "Past", "from": {
        "campaign_id": "never-was", "metric": "joins", "top": 5}})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "segment.unknown_campaign" and "never-was" in unknown.json()["error"][
        "message"]
    both = client.put(f"/v1/segments/{sid}-z", json={"name": "x", "user_ids": ["a"], "from": {
        "campaign_id": "c", "metric": "joins", "top": 5}})
    assert both.status_code == 422
    assert client.get("/v1/segments/nope").status_code == 404


def test_an_exclusive_rule_rewards_only_the_segment_taken_from_a_past_live(client, cid):
    past = cid + "-past"
    post_ok(client, "/v1/campaigns", campaign(past, leaderboard={"metric": "joins"}))
    bring_friends(client, past, {"ana": 3, "budi": 2, "chen": 1})
    seeds = "seeds-" + uuid.uuid4().hex[:6]
    taken = put(client, seeds, {"name": "Last live's top 2", "from": {"campaign_id": past, "metric": "joins",
                                                                       "top": 2}}, 201)
    assert taken["members"] == 2 and taken["source"]["campaign_id"] == past

    bad = client.post("/v1/campaigns", json=campaign(cid, rules=[exclusive("no-such-segment")]))
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "audience.unknown_segment"
    assert "no-such-segment" in bad.json()["error"]["message"]

    post_ok(client, "/v1/campaigns", campaign(cid, leaderboard={"metric": "joins"}, rules=[exclusive(seeds), EVERYONE]))
    stored = client.get(f"/v1/campaigns/{cid}").json()["rules"][0]["audience"]
    assert stored == {"segment": seeds, "version": 1}
    # The segment changes after the campaign was made: the campaign keeps the version it was made with.
    put(client, seeds, {"name": "Someone else", "user_ids": ["dewi"]}, 200)
    bring_friends(client, cid, {"ana": 1, "budi": 2, "chen": 1, "dewi": 1})
    assert earned(client, cid, "seed-task") == ["ana", "budi"]
    assert earned(client, cid, "all") == ["ana", "budi", "chen", "dewi"]

    report = client.get(f"/v1/campaigns/{cid}/report").json()
    assert report["segments"] == {seeds: {"members": 2, "sharing": 2, "referees": 3, "orders": 3, "gmv": "30.00"}}
    assert client.get(f"/v1/campaigns/{past}/report").json()["segments"] == {}


def test_a_restart_replays_an_exclusive_rule_alike(new_database, tmp_path):
    url = new_database("segments")
    key = create_tenant(url)
    with Server(url, log_path=tmp_path / "first.log").start() as first, first.client(key) as c:
        put(c, "seeds", {"name": "Seeds", "user_ids": ["ana", "chen"]}, 201)
        post_ok(c, "/v1/campaigns", campaign("seeded", leaderboard={"metric": "joins"}, rules=[exclusive("seeds")]))
        bring_friends(c, "seeded", {"ana": 1, "budi": 1, "chen": 2})
        put(c, "seeds", {"name": "Seeds", "user_ids": ["budi"]}, 200)
        before = c.get("/v1/campaigns/seeded/rewards").json(), c.get("/v1/campaigns/seeded/report").json()
    assert sorted(r["user_id"] for r in before[0]["rewards"]) == ["ana", "chen"]
    with Server(url, log_path=tmp_path / "second.log").start() as second, second.client(key) as c:
        after = c.get("/v1/campaigns/seeded/rewards").json(), c.get("/v1/campaigns/seeded/report").json()
    assert after == before


def test_a_rule_set_by_patch_pins_the_segment_version_of_then(client, cid):
    sid = "seg-" + uuid.uuid4().hex[:8]
    put(client, sid, {"name": "Seeds", "user_ids": ["a"]}, 201)
    put(client, sid, {"name": "Seeds", "user_ids": ["b"]}, 200)
    post_ok(client, "/v1/campaigns", campaign(cid, starts_at=iso(NOW + timedelta(hours=1)),
                                              ends_at=iso(NOW + timedelta(hours=2))))
    patched = client.patch(f"/v1/campaigns/{cid}", json={"rules": [exclusive(sid)]})
    assert patched.status_code == 200, patched.text
    assert patched.json()["rules"][0]["audience"] == {"segment": sid, "version": 2}
    unknown = client.patch(f"/v1/campaigns/{cid}", json={"rules": [exclusive("missing-seg")]})
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "audience.unknown_segment"
    future = client.patch(f"/v1/campaigns/{cid}", json={"rules": [{**exclusive(sid),
                                                                   "audience": {"segment": sid, "version": 9}}]})
    assert future.status_code == 422 and future.json()["error"]["code"] == "audience.unknown_version"
