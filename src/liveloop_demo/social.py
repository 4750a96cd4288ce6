"""The demo's social part (docs/social.md): seed users from the first live's top sharers with an
exclusive task, a family circle in the UAE and group buys in Malaysia, in a campaign of their own
(so the referral campaigns' funnels stay as simulated), all through the real HTTP API."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console
from rich.markup import escape

SOCIAL_CAMPAIGN = "demo-social"
SKU = "WOK-28CM"


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _campaign(seeds: str) -> dict:
    now = datetime.now(UTC).replace(microsecond=0)
    return {
        "id": SOCIAL_CAMPAIGN, "title": "Weekend wok live", "market": "MY",
        "starts_at": _iso(now - timedelta(minutes=30)), "ends_at": _iso(now + timedelta(minutes=90)),
        "landing_url": "https://shop.example.com/live/demo-social",
        "leaderboard": {"metric": "joins", "by": "circle"}, "max_circle_size": 5,
        "rules": [
            {"id": "pintuan", "type": "group_buy", "sku": SKU, "group_size": 3, "window_minutes": 0.05,
             "reward": {"kind": "coupon", "amount": "6.00"}},
            {"id": "family-table", "type": "milestone", "metric": "joins", "scope": "circle",
             "tiers": [{"at": 4, "reward": {"kind": "points", "points": 200}}]},
            {"id": "seed-task", "type": "milestone", "metric": "joins", "audience": {"segment": seeds},
             "tiers": [{"at": 1, "reward": {"kind": "privilege", "name": "early_notice"}}]},
        ],
    }


def _event(n: int, kind: str, user: str, ref: str | None = None, order: dict | None = None) -> dict:
    body: dict[str, Any] = {"id": f"ev-social-{n:04d}", "type": kind, "campaign_id": SOCIAL_CAMPAIGN,
                            "user_id": user, "at": _iso(datetime.now(UTC))}
    if ref:
        body["ref"] = ref
    if order:
        body["order"] = order
    return body


def run_social(console: Console, api, first_campaign: str) -> None:
    """Drive the social mechanics and print what came of each."""
    seeds = "top-sharers"
    segment = api.call("PUT", f"/v1/segments/{seeds}", expect=(200, 201), json={
        "name": "Top sharers of the last live", "from": {"campaign_id": first_campaign, "metric": "joins",
                                                         "top": 5}}).json()
    api.call("POST", "/v1/campaigns", expect=(201,), json=_campaign(seeds))
    cid = SOCIAL_CAMPAIGN
    events: list[dict] = []

    def send() -> None:
        api.call("POST", "/v1/events", json={"events": events})
        events.clear()

    # A family circle whose members each bring friends into the room.
    family = ["amina", "omar", "layla"]
    api.call("POST", f"/v1/campaigns/{cid}/circles", expect=(201,),
             json={"id": "al-falasi", "owner": family[0], "name": "Al Falasi family"})
    for member in family[1:]:
        api.call("POST", f"/v1/campaigns/{cid}/circles/al-falasi/members", expect=(201,), json={"user_id": member})
    api.call("POST", f"/v1/campaigns/{cid}/circles", expect=(201,),
             json={"id": "tan-friends", "owner": "tan", "name": "Tan's friends"})
    n = 0
    for member, friends in (("amina", 2), ("omar", 1), ("layla", 1), ("tan", 2)):
        code = api.call("POST", f"/v1/campaigns/{cid}/invites", expect=(201,), json={"user_id": member}).json()["code"]
        for i in range(friends):
            n += 1
            events.append(_event(n, "room_join", f"{member}-friend{i}", ref=code))
    # The seed users join and bring one friend each: only they earn the exclusive task.
    members = api.call("GET", f"/v1/campaigns/{first_campaign}/leaderboard", params={"limit": 5}).json()["entries"]
    for entry in members[:2] + [{"user_id": "not-a-seed"}]:
        code = api.call("POST", f"/v1/campaigns/{cid}/invites", expect=(201,),
                        json={"user_id": entry["user_id"]}).json()["code"]
        n += 1
        events.append(_event(n, "room_join", f"{entry['user_id']}-guest", ref=code))
    send()

    # Two group buys: one fills up, one is left with its leader when the window closes.
    done = api.call("POST", f"/v1/campaigns/{cid}/groups", expect=(201,),
                    json={"rule_id": "pintuan", "user_id": "mei"}).json()
    lonely = api.call("POST", f"/v1/campaigns/{cid}/groups", expect=(201,),
                      json={"rule_id": "pintuan", "user_id": "raj"}).json()
    for user, group in (("mei", done), ("siew", done), ("hafiz", done), ("raj", lonely)):
        n += 1
        events.append(_event(n, "order_paid", user, order={"id": f"social-{user}", "amount": "59.00",
                                                             "currency": "MYR", "sku": SKU, "group_id": group["id"]}))
    send()
    deadline = time.monotonic() + 15
    while api.call("GET", f"/v1/campaigns/{cid}/groups/{lonely['id']}").json()["status"] == "open":
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)

    rewards = api.call("GET", f"/v1/campaigns/{cid}/rewards", params={"limit": 500}).json()["rewards"]

    def earned(rule: str) -> list[str]:
        return sorted(r["user_id"] for r in rewards if r["rule_id"] == rule and r["status"] == "available")

    console.print()
    console.print(f"[bold]{cid}[/] · group buys, circles and seed users (docs/social.md)")
    for group in (done, lonely):
        read = api.call("GET", f"/v1/campaigns/{cid}/groups/{group['id']}").json()
        console.print(f"  group buy {read['id']} led by {read['leader']}: {read['status']}, "
                      f"{len(read['members'])} of {read['group_size']} paid ({', '.join(read['members'])})")
    console.print(f"  group buy rewards (6.00 MYR coupon each): {', '.join(earned('pintuan')) or 'none'}")
    board = api.call("GET", f"/v1/campaigns/{cid}/leaderboard").json()["entries"]
    for entry in board:
        console.print(f"  circle #{entry['rank']} {escape(entry['name'])}: {entry['score']} joins together "
                      f"({', '.join(entry['members'])})")
    console.print(f"  circle milestone (4 joins together, 200 points each): {', '.join(earned('family-table'))}")
    console.print(f"  seed segment {seeds!r}: {segment['members']} users from {first_campaign}'s top sharers; "
                  f"exclusive task earned by {', '.join(earned('seed-task')) or 'none'}")
