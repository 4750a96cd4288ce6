"""Nothing lost, nothing doubled (SPEC 9): kill -9 mid-stream, resend the unacknowledged batches,
and the ledger, leaderboard and report equal those of an uninterrupted run."""

from __future__ import annotations

import random
import threading

import httpx

from tests.e2e.helpers import before_start, campaign, during, event, invite, post_ok
from tests.support import Server, create_tenant

RULES = [
    {"id": "rr", "type": "reservation_referral", "referrer_reward": {"kind": "coupon", "amount": "2.00"},
     "referee_reward": {"kind": "coupon", "amount": "1.00"}, "max_per_referrer": 4},
    {"id": "ms", "type": "milestone", "metric": "joins",
     "tiers": [{"at": 2, "reward": {"kind": "badge", "name": "Host"}}, {"at": 5, "reward": {"kind": "cashback",
                                                                                           "amount": "3.00"}}]},
    {"id": "oc", "type": "order_commission", "percent": "7.5", "hold_days": 3},
]
CID = "durable"


def stream(codes: list[str], n: int = 2400, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    events = []
    for i in range(n):
        user = f"v{rng.randrange(600)}"
        kind = rng.choices(["reservation", "room_join", "click", "order_paid", "order_refunded"],
                           [4, 4, 2, 2, 1])[0]
        at = before_start(rng.randrange(1, 600)) if kind in ("reservation", "click") else during(rng.randrange(55))
        extra = {}
        if kind in ("order_paid", "order_refunded"):
            extra["order"] = {"id": f"o{rng.randrange(300)}", "amount": f"{rng.randrange(100, 9000) / 100:.2f}",
                              "currency": "USD"}
        events.append(event(f"e{i}", kind, CID, user, at, ref=rng.choice(codes + [None, None]), **extra))
    return events


def batches(events: list[dict], size: int = 60) -> list[list[dict]]:
    return [events[i:i + size] for i in range(0, len(events), size)]


def setup(server: Server, key: str) -> list[str]:
    with server.client(key) as c:
        post_ok(c, "/v1/campaigns", campaign(CID, budget="400.00", rules=RULES,
                                             leaderboard={"metric": "joins"}))
        # vanity codes, so that both servers' streams carry the same refs
        return [invite(c, CID, f"v{i}", code=f"code-v{i}") for i in range(0, 40)]


def outcome(server: Server, key: str) -> dict:
    with server.client(key) as c:
        ledger = c.get(f"/v1/campaigns/{CID}/rewards").json()["rewards"]
        return {
            "ledger": [(r["id"], r["rule_id"], r["user_id"], r["role"], r["amount"], r["status"], r["reason"],
                        r["cause_event_id"], [(h["status"], h["cause_event_id"]) for h in r["history"]])
                       for r in ledger],
            "leaderboard": c.get(f"/v1/campaigns/{CID}/leaderboard", params={"limit": 1000}).json(),
            "report": c.get(f"/v1/campaigns/{CID}/report").json(),
        }


def test_kill9_and_resend_gives_the_same_ledger(new_database):
    # the reference: one uninterrupted run
    ref_url = new_database("ref")
    ref_key = create_tenant(ref_url)
    ref = Server(ref_url).start()
    try:
        codes = setup(ref, ref_key)
        events = stream(codes)
        with ref.client(ref_key) as c:
            for batch in batches(events):
                assert c.post("/v1/events", json={"events": batch}).status_code == 200
        expected = outcome(ref, ref_key)
    finally:
        ref.stop()
    assert len(expected["ledger"]) > 50  # the stream exercises the rules
    assert {r[5] for r in expected["ledger"]} >= {"available", "pending", "declined"}

    # the same stream into a server that is killed with SIGKILL in the middle of it
    url = new_database("killed")
    key = create_tenant(url)
    srv = Server(url).start()
    assert setup(srv, key) == codes
    pending = batches(events)
    acknowledged = 0
    killer = threading.Timer(0.004, srv.kill9)
    with srv.client(key) as c:
        for batch in pending:
            try:
                if c.post("/v1/events", json={"events": batch}).status_code != 200:
                    break
            except httpx.HTTPError:
                break
            acknowledged += 1
            if acknowledged == 15:
                killer.start()  # lands while one of the next batches is in flight
    killer.join()
    assert 0 < acknowledged < len(pending), "the kill should land mid-stream"
    srv.start()
    try:
        with srv.client(key) as c:
            # resend everything not acknowledged, and the last acknowledged batch too (a client's retry)
            for batch in pending[acknowledged - 1:]:
                result = c.post("/v1/events", json={"events": batch}).json()
                assert not result["rejected"]
        got = outcome(srv, key)
    finally:
        srv.stop()
    assert got["leaderboard"] == expected["leaderboard"]
    assert got["report"] == expected["report"]
    assert [r[1:] for r in got["ledger"]] == [r[1:] for r in expected["ledger"]]

