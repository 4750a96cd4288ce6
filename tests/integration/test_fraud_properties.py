"""Fraud checks and review decisions through the real ingestion path (SQLite, and PostgreSQL when
configured): whatever events, decisions and their interleaving, held rewards approved or denied
concurrently keep the budget exact and never over it, the database's ledger is the engine's, and
a restart (a replay of the log, decisions included) gives the same ledger."""

from __future__ import annotations

import asyncio
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liveloop.campaigns import service as campaigns_service
from liveloop.components import Components, build_components
from liveloop.engine.state import CampaignState
from liveloop.fraud.service import Decision
from liveloop.invites.models import invites
from liveloop.kit.db.migrate import upgrade
from liveloop.kit.times import parse_iso
from liveloop.rewards.repository import stored_history
from liveloop.settings import Settings

CREATED = parse_iso("2026-12-01T00:00:00Z", field="created_at")
NOW = 1_800_000_000_000
BODY = {
    "id": "", "title": "t", "market": "US", "currency": "USD", "timezone": "America/New_York",
    "starts_at": "2026-01-01T10:00:00.000Z", "ends_at": "2026-01-01T12:00:00.000Z",
    "landing_url": "https://shop.example.com/", "budget": "12.00", "leaderboard": {"metric": "reservations"},
    "fraud": {"review_at": 50, "decline_at": 95},
    "rules": [
        {"id": "rr", "type": "reservation_referral", "referrer_reward": {"kind": "coupon", "amount": "2.00"},
         "referee_reward": {"kind": "coupon", "amount": "1.00"}},
        {"id": "ms", "type": "milestone", "metric": "reservations",
         "tiers": [{"at": 2, "reward": {"kind": "cashback", "amount": "1.50"}},
                   {"at": 4, "reward": {"kind": "cashback", "amount": "2.50"}}]},
        {"id": "oc", "type": "order_commission", "percent": "10", "hold_days": 2},
    ],
}
CODES = {"A": "u0", "B": "u1"}
USERS = [f"u{i}" for i in range(10)]
TIMES = ["2026-01-01T09:00:00Z", "2026-01-01T09:00:30Z", "2026-01-01T09:30:00Z", "2026-01-01T10:30:00Z"]
counter = itertools.count()

raw_event = st.fixed_dictionaries({
    "type": st.sampled_from(["reservation", "reservation", "click", "order_paid", "room_join"]),
    "user_id": st.sampled_from(USERS),
    "at": st.sampled_from(TIMES),
    "ref": st.sampled_from([None, "A", "B"]),
    "device": st.sampled_from([None, "d1", "d2", "d3"]),  # few devices: same_device and device_farm fire
    "ip": st.sampled_from([None, "198.51.100.7", "100.64.0.9"]),
    "order": st.sampled_from(["o1", "o2", "o3"]),
})


def to_api(cid: str, n: int, raw: dict) -> dict:
    ev = {"id": f"{cid}-{n}", "type": raw["type"], "campaign_id": cid, "user_id": raw["user_id"], "at": raw["at"]}
    if raw["ref"]:
        ev["ref"] = raw["ref"] + cid
    if raw["device"]:
        ev["device_id"] = raw["device"]
    if raw["ip"]:
        ev["ip"] = raw["ip"]
    if raw["type"] == "order_paid":
        ev["order"] = {"id": raw["order"], "amount": "30.00", "currency": "USD"}
    return ev


def ledger(state: CampaignState) -> list[tuple]:
    return [(r.id, r.user_id, r.role, r.amount, r.status, r.reason, r.cause_event_id,
             [(c.status, c.reason, c.cause_event_id, c.fraud) for c in r.history]) for r in state.rewards.values()]


def budget_of(state: CampaignState) -> int:
    return sum(r.amount or 0 for r in state.rewards.values() if r.counts_against_budget())


def test_replay_with_decisions_and_concurrent_decisions_keep_the_ledger_and_the_budget(new_database):
    url = new_database("fraud")
    upgrade(url)
    loop = asyncio.new_event_loop()

    def start() -> Components:
        runtime = build_components(Settings(database_url=url))
        runtime.db.writer.start(loop)
        return runtime

    runtime = start()
    ledgers: dict[tuple[str, str], list[tuple]] = {}
    held_any = []
    decided: list[str] = []

    # Derandomized: the guard below (both kinds of decision applied) must not depend on the run.
    @settings(max_examples=60, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(st.lists(raw_event, min_size=1, max_size=8), min_size=1, max_size=5), st.data())
    def check(batches, data):
        n = next(counter)
        tenant, cid = f"t{n}", f"c{n}"  # a tenant of its own: signals are tenant-wide

        def setup(conn):
            campaigns_service.create(conn, tenant_id=tenant, data=dict(BODY, id=cid), now=CREATED)
            conn.execute(invites.insert(), [{"code": code + cid, "tenant_id": tenant, "campaign_id": cid,
                                             "user_id": user, "channel": "", "created_at": 0}
                                            for code, user in CODES.items()])

        loop.run_until_complete(runtime.db.write(setup))
        reviews = runtime.reviews
        seq = itertools.count()
        # The code owners were seen on their own devices: referees on them are held (same_device).
        owners = [{"id": f"{cid}-own{i}", "type": "click", "campaign_id": cid, "user_id": user, "at": TIMES[0],
                   "device_id": f"d{i + 1}"} for i, user in enumerate(CODES.values())]
        loop.run_until_complete(runtime.ingestor.ingest(tenant, owners, now=NOW))
        for raws in batches:
            events = [to_api(cid, next(seq), raw) for raw in raws]
            page = loop.run_until_complete(reviews.page(tenant, cid, status="open", limit=100, cursor=None))
            open_ids = [r["id"] for r in page["reviews"]]
            held_any.extend(open_ids)
            # Decisions race the next batch and each other: each is its own request.
            chosen = data.draw(st.lists(st.tuples(st.sampled_from(open_ids), st.sampled_from(["approve", "deny"])),
                                        max_size=4)) if open_ids else []

            async def decide(review_id: str, decision: str):
                try:
                    return await reviews.decide(tenant, cid, [Decision(0, review_id, decision)], note=None,
                                                decided_by="api", now=NOW)
                except Exception as exc:  # noqa: BLE001 - a 409 for a different decision is expected
                    assert getattr(exc, "status", None) == 409, exc
                    return None

            async def together(events: list[dict], chosen: list[tuple[str, str]]):
                return await asyncio.gather(runtime.ingestor.ingest(tenant, events, now=NOW),
                                            *(decide(rid, d) for rid, d in chosen))

            result, *answers = loop.run_until_complete(together(events, chosen))
            decided.extend(d for (_rid, d), answer in zip(chosen, answers, strict=True) if answer and answer["decided"])
            assert result.accepted == len(events) and not result.rejected
        live = loop.run_until_complete(runtime.campaigns.get(tenant, cid))
        state = live.state
        config_budget = state.config.budget
        assert state.budget_used == budget_of(state) <= config_budget
        stored = loop.run_until_complete(runtime.db.read(
            lambda conn: stored_history(conn, tenant_id=tenant, campaign_id=cid)))
        assert stored == {r.id: [(c.status, c.reason, c.cause_event_id) for c in r.history]
                          for r in state.rewards.values()}
        ledgers[(tenant, cid)] = ledger(state)

    try:
        check()
        assert held_any, "no example held a referral for review: the test would prove nothing"
        assert {"approve", "deny"} <= set(decided), "no decision of each kind was applied"
        runtime.db.close()
        runtime = start()  # a new process: every campaign replayed from its log, decisions included
        for (tenant, cid), rows in ledgers.items():
            state = loop.run_until_complete(runtime.campaigns.get(tenant, cid)).state
            assert ledger(state) == rows
            assert state.budget_used == budget_of(state)
    finally:
        runtime.db.close()
        loop.close()
