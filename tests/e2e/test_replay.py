"""A restart rebuilds every campaign from its stored log alone (SPEC 9): a new `liveloop serve`
process on the same database answers progress, leaderboard, rewards, report and draws exactly as
the process that took the events did.

No Redis here: the second process has nothing to answer from but the log it replays.
"""

from __future__ import annotations

import random
from datetime import timedelta

from tests.e2e.helpers import NOW, campaign, event, invite, iso, post_ok
from tests.support import Server, create_tenant

CID = "replayed"
STARTS, ENDS = NOW - timedelta(hours=3), NOW - timedelta(hours=1)  # over: its draw can be run
RULES = [
    {"id": "rr", "type": "reservation_referral", "max_per_referrer": 3,
     "referrer_reward": {"kind": "coupon", "amount": "2.00"}, "referee_reward": {"kind": "coupon", "amount": "1.00"}},
    {"id": "ms", "type": "milestone", "metric": "joins",
     "tiers": [{"at": 2, "reward": {"kind": "badge", "name": "Host"}},
               {"at": 4, "reward": {"kind": "cashback", "amount": "3.00"}}]},
    {"id": "oc", "type": "order_commission", "percent": "7.5", "hold_days": 3},
    {"id": "lucky", "type": "draw", "entry": {"metric": "joins", "at_least": 2}, "winners": 3, "free_entry": True,
     "prize": {"kind": "free_item", "sku": "ORDER-FREE"}},
]
REFERRERS = [f"r{i}" for i in range(12)]


def stream(codes: list[str], n: int = 700, seed: int = 3) -> list[dict]:
    """Reservations, watched and too-short room visits, orders and refunds, from 150 viewers."""
    rng = random.Random(seed)
    events = []
    for i in range(n):
        user = rng.choice(REFERRERS[:4] + [f"v{rng.randrange(150)}"] * 8)  # referrers act (and self-refer) too
        ref = rng.choice(codes + [None, None])
        kind = rng.choices(["reservation", "visit", "click", "order_paid", "order_refunded"], [4, 5, 2, 2, 1])[0]
        if kind == "reservation" or kind == "click":
            events.append(event(f"e{i}", kind, CID, user, STARTS - timedelta(minutes=rng.randrange(1, 600)), ref))
        elif kind == "visit":
            # min_watch_seconds is 60: a visit counts as a join only if it lasts a minute
            joined = STARTS + timedelta(minutes=rng.randrange(100))
            stayed = timedelta(seconds=rng.choice([20, 45, 90, 600]))
            events.append(event(f"e{i}j", "room_join", CID, user, joined, ref))
            events.append(event(f"e{i}l", "room_leave", CID, user, joined + stayed))
        else:
            order = {"id": f"o{rng.randrange(120)}", "amount": f"{rng.randrange(100, 9000) / 100:.2f}",
                     "currency": "USD"}
            events.append(event(f"e{i}", kind, CID, user, STARTS + timedelta(minutes=rng.randrange(120)), ref,
                                order=order))
    return events


def outcome(server: Server, key: str, users: list[str]) -> dict:
    with server.client(key) as c:
        def read(path: str, **params) -> dict:
            response = c.get(path, params=params)
            assert response.status_code == 200, response.text
            return response.json()

        return {
            "rewards": read(f"/v1/campaigns/{CID}/rewards", limit=10_000)["rewards"],
            "leaderboard": read(f"/v1/campaigns/{CID}/leaderboard", limit=1000),
            "report": read(f"/v1/campaigns/{CID}/report"),
            "draw": read(f"/v1/campaigns/{CID}/draws/lucky"),
            "progress": {user: read(f"/v1/campaigns/{CID}/users/{user}/progress") for user in users},
        }


def test_a_new_process_replays_the_log_to_the_same_answers(new_database, tmp_path):
    url = new_database("replay")
    key = create_tenant(url)
    first = Server(url, log_path=tmp_path / "first.log").start()
    try:
        with first.client(key) as c:
            post_ok(c, "/v1/campaigns", campaign(CID, starts_at=iso(STARTS), ends_at=iso(ENDS), budget="240.00",
                                                 min_watch_seconds=60, rules=RULES, leaderboard={"metric": "joins"}))
            codes = [invite(c, CID, user) for user in REFERRERS]
            events = stream(codes)
            sent = []
            for start in range(0, len(events), 50):
                batch = events[start:start + 50]
                resent = random.Random(start).sample(sent, min(5, len(sent)))  # a client's retries
                answer = post_ok(c, "/v1/events", {"events": batch + resent}, status=200)
                assert (answer["accepted"], answer["duplicates"], answer["rejected"]) == (len(batch), len(resent), [])
                sent += batch
            post_ok(c, f"/v1/campaigns/{CID}/draws/lucky/run", {}, status=200)
        users = sorted({ev["user_id"] for ev in events})
        before = outcome(first, key, users)
    finally:
        first.stop()

    # The stream exercises what a replay must get right: caps, the budget, holds, refunds, the draw.
    ledger = before["rewards"]
    assert {(r["status"], r["reason"]) for r in ledger} >= {
        ("available", None), ("pending", None), ("void", "refund"), ("declined", "cap"), ("declined", "budget")}
    assert {r["role"] for r in ledger} == {"referrer", "referee", "achiever", "winner"}
    assert [r["status"] for r in ledger if r["role"] == "winner"] == ["available"] * 3
    assert len(before["leaderboard"]["entries"]) >= 8 and before["report"]["room"]["watch_seconds"] > 0

    second = Server(url, log_path=tmp_path / "second.log").start()
    try:
        after = outcome(second, key, users)
    finally:
        second.stop()
    assert after["rewards"] == before["rewards"]
    assert after["leaderboard"] == before["leaderboard"]
    assert after["report"] == before["report"]
    assert after["draw"] == before["draw"]
    assert after["progress"] == before["progress"]
