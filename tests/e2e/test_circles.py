"""Circles (family and friends, SPEC section 13) through the real HTTP API, on SQLite and on
PostgreSQL + Redis: making and joining them, the 4xx for a full, closed or second circle, circle
milestones granted to every member, the circle leaderboard's tie rule, and a restart replaying it all."""

from __future__ import annotations

from datetime import timedelta

from tests.e2e.helpers import NOW, campaign, during, event, invite, iso, post_ok, send
from tests.support import Server, create_tenant

CIRCLE_TIER = {"id": "family", "type": "milestone", "metric": "joins", "scope": "circle",
               "tiers": [{"at": 2, "reward": {"kind": "coupon", "amount": "3.00"}},
                         {"at": 3, "reward": {"kind": "badge", "name": "Family host"}}]}


def circle_campaign(cid: str, **extra) -> dict:
    return campaign(cid, leaderboard={"metric": "joins", "by": "circle"}, rules=[CIRCLE_TIER], **extra)


def error(client, path: str, body: dict, status: int) -> dict:
    response = client.post(path, json=body)
    assert response.status_code == status, response.text
    return response.json()["error"]


def friend_joins(client, cid: str, code: str, friend: str, minutes: int) -> None:
    send(client, [event(f"{friend}-join", "room_join", cid, friend, during(minutes), ref=code)])


def rewards_of(client, cid: str, user: str) -> list[tuple[str, str, str | None]]:
    page = client.get(f"/v1/campaigns/{cid}/rewards", params={"user_id": user}).json()["rewards"]
    return sorted((r["rule_id"], r["kind"], r["amount"]) for r in page)


def test_circles_are_made_joined_and_refused_with_the_problem_named(client, cid):
    post_ok(client, "/v1/campaigns", circle_campaign(cid, max_circle_size=3))
    base = f"/v1/campaigns/{cid}/circles"
    made = post_ok(client, base, {"id": "fam", "owner": "amina", "name": "Amina's family"})
    assert (made["id"], made["owner"], made["name"], made["members"], made["max_circle_size"], made["score"]) == (
        "fam", "amina", "Amina's family", ["amina"], 3, 0)
    assert post_ok(client, f"{base}/fam/members", {"user_id": "bilal"})["members"] == ["amina", "bilal"]
    # Joining again changes nothing.
    assert post_ok(client, f"{base}/fam/members", {"user_id": "bilal"}, status=200)["members"] == ["amina", "bilal"]
    post_ok(client, f"{base}/fam/members", {"user_id": "chadi"})

    assert error(client, f"{base}/fam/members", {"user_id": "dana"}, 409)["code"] == "circle.full"
    assert error(client, base, {"id": "fam", "owner": "zed", "name": "Again"}, 409)["code"] == "circle.exists"
    second = error(client, base, {"id": "other", "owner": "bilal", "name": "Bilal's"}, 409)
    assert second["code"] == "circle.one_per_user" and "fam" in second["message"]
    post_ok(client, base, {"id": "friends", "owner": "dana", "name": "Dana's friends"})
    assert error(client, f"{base}/friends/members", {"user_id": "amina"}, 409)["code"] == "circle.one_per_user"
    assert error(client, f"{base}/nope/members", {"user_id": "eve"}, 404)["code"] == "circle.not_found"
    assert client.get(f"{base}/nope").status_code == 404
    assert error(client, base, {"id": "", "owner": "eve", "name": "x"}, 422)["field"]
    assert client.get(f"{base}/fam").json()["members"] == ["amina", "bilal", "chadi"]


def test_a_circle_of_an_ended_campaign_is_closed(client, cid):
    post_ok(client, "/v1/campaigns", circle_campaign(cid, starts_at=iso(NOW - timedelta(hours=3)),
                                                     ends_at=iso(NOW - timedelta(hours=1))))
    closed = error(client, f"/v1/campaigns/{cid}/circles", {"id": "late", "owner": "amina", "name": "Late"}, 409)
    assert closed["code"] == "circle.closed" and "ended" in closed["message"]


def test_a_circle_milestone_grants_every_member_and_circles_rank_by_summed_times(client, cid):
    post_ok(client, "/v1/campaigns", circle_campaign(cid))
    base = f"/v1/campaigns/{cid}/circles"
    post_ok(client, base, {"id": "fam", "owner": "amina", "name": "Amina's family"})
    post_ok(client, f"{base}/fam/members", {"user_id": "bilal"})
    post_ok(client, base, {"id": "pals", "owner": "dana", "name": "Dana's pals"})
    post_ok(client, f"{base}/pals/members", {"user_id": "emre"})
    codes = {user: invite(client, cid, user) for user in ("amina", "bilal", "dana", "emre", "solo")}

    # pals reach 2 joins at minute 5; fam reach 2 at minute 8 (one friend each), though fam's
    # events arrive first: the circle that reached the score first ranks first.
    friend_joins(client, cid, codes["amina"], "f1", 3)
    friend_joins(client, cid, codes["bilal"], "f2", 8)
    friend_joins(client, cid, codes["dana"], "f3", 1)
    friend_joins(client, cid, codes["emre"], "f4", 5)
    friend_joins(client, cid, codes["solo"], "f5", 2)  # solo is in no circle: not on the circle board

    board = client.get(f"/v1/campaigns/{cid}/leaderboard").json()
    assert board["by"] == "circle"
    assert [(e["rank"], e["circle_id"], e["name"], e["score"], e["members"]) for e in board["entries"]] == [
        (1, "pals", "Dana's pals", 2, ["dana", "emre"]), (2, "fam", "Amina's family", 2, ["amina", "bilal"])]
    # The first tier (2 joins summed) went to every member of both circles, once each.
    for user in ("amina", "bilal", "dana", "emre"):
        assert rewards_of(client, cid, user) == [("family", "coupon", "3.00")]
    assert rewards_of(client, cid, "solo") == []

    # A new member brings their own friends: fam reaches 3 and passes pals; every member then gets
    # the second tier, the newcomer included, but not the first one again.
    post_ok(client, f"{base}/fam/members", {"user_id": "chadi"})
    chadi = invite(client, cid, "chadi")
    friend_joins(client, cid, chadi, "f6", 9)
    board = client.get(f"/v1/campaigns/{cid}/leaderboard").json()["entries"]
    assert [(e["circle_id"], e["score"]) for e in board] == [("fam", 3), ("pals", 2)]
    assert rewards_of(client, cid, "amina") == [("family", "badge", None), ("family", "coupon", "3.00")]
    assert rewards_of(client, cid, "chadi") == [("family", "badge", None)]
    fam = client.get(f"{base}/fam").json()
    assert (fam["score"], fam["rank"]) == (3, 1)


def test_a_restart_replays_circles_to_the_same_ledger_and_board(new_database, tmp_path):
    url = new_database("circles")
    key = create_tenant(url)
    cid = "circled"
    first = Server(url, log_path=tmp_path / "first.log").start()
    try:
        with first.client(key) as c:
            post_ok(c, "/v1/campaigns", circle_campaign(cid, max_circle_size=3))
            for n in range(4):
                post_ok(c, f"/v1/campaigns/{cid}/circles", {"id": f"c{n}", "owner": f"o{n}", "name": f"Circle {n}"})
                post_ok(c, f"/v1/campaigns/{cid}/circles/c{n}/members", {"user_id": f"m{n}"})
            for i in range(24):
                user = f"o{i % 4}" if i % 3 else f"m{i % 4}"
                code = invite(c, cid, user)
                friend_joins(c, cid, code, f"f{i}", (i * 7) % 50)
                if i == 10:  # a late member joins in the middle of the stream
                    post_ok(c, f"/v1/campaigns/{cid}/circles/c1/members", {"user_id": "late"})
            before = (c.get(f"/v1/campaigns/{cid}/rewards", params={"limit": 1000}).json(),
                      c.get(f"/v1/campaigns/{cid}/leaderboard", params={"limit": 10}).json())
    finally:
        first.stop()
    assert len(before[0]["rewards"]) > 8 and len(before[1]["entries"]) == 4
    second = Server(url, log_path=tmp_path / "second.log").start()
    try:
        with second.client(key) as c:
            after = (c.get(f"/v1/campaigns/{cid}/rewards", params={"limit": 1000}).json(),
                     c.get(f"/v1/campaigns/{cid}/leaderboard", params={"limit": 10}).json())
    finally:
        second.stop()
    assert after == before
