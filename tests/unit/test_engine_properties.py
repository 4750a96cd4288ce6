"""Properties of the engine over any event stream (hypothesis): the ledger invariants of SPEC 3."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from liveloop.engine.model import (
    CampaignConfig,
    Event,
    MilestoneRule,
    OrderCommissionRule,
    ReservationReferralRule,
    RewardSpec,
    Tier,
)
from liveloop.engine.state import CampaignState

START, END = 10_000, 20_000
USERS = [f"u{i}" for i in range(12)]
CODES = {"C0": "u0", "C1": "u1", "C2": "u2", "C3": "u3"}
RULES = (
    ReservationReferralRule("rr", RewardSpec("coupon", amount=500), RewardSpec("coupon", amount=300),
                            max_per_referrer=2),
    MilestoneRule("ms", "joins", (Tier(1, RewardSpec("cashback", amount=200)), Tier(2, RewardSpec("badge", name="b")))),
    OrderCommissionRule("oc", Decimal("7.5"), hold_days=1),
)

event_st = st.builds(
    lambda i, kind, user, at, ref, order, amount: Event(
        f"e{i}", kind, user, at, ref,
        order if kind in ("order_paid", "order_refunded") else None,
        amount if kind == "order_paid" else None,
        "USD" if kind == "order_paid" else None,
        amount if kind == "order_paid" else None,
    ),
    st.integers(0, 10**9),
    st.sampled_from(["click", "reservation", "room_join", "share", "order_paid", "order_refunded"]),
    st.sampled_from(USERS),
    st.integers(0, 30_000),
    st.sampled_from([None, None, "C0", "C0", "C0", "C1", "C2", "C3", "NOPE"]),  # u0 often reaches its cap
    st.sampled_from(["O1", "O2", "O3", "O4"]),
    st.integers(1, 100_000),
)
streams = st.lists(event_st, max_size=60).map(lambda evs: [e for i, e in enumerate(evs) if e.id not in
                                                             {x.id for x in evs[:i]}])


def run(events, budget):
    state = CampaignState(CampaignConfig("t", "c", "USD", START, END, budget=budget, leaderboard_metric="joins",
                                         rules=RULES), CODES)
    for n, ev in enumerate(events):
        state.apply(ev, 1_000 + n)
    return state


@st.composite
def batches_of(draw, events: list[Event]) -> list[list[Event]]:
    """The events cut into batches anywhere, the batches sent in any order (as clients retrying
    and several senders deliver them)."""
    cuts = sorted(draw(st.sets(st.integers(1, len(events) - 1), max_size=8))) if len(events) > 1 else []
    batches = [events[a:b] for a, b in zip([0, *cuts], [*cuts, len(events)], strict=True)]
    return draw(st.permutations(batches))


def run_batches(batches: list[list[Event]], budget):
    """Each batch applied as ingestion applies it: its events in order, all at the batch's arrival time."""
    state = CampaignState(CampaignConfig("t", "c", "USD", START, END, budget=budget, leaderboard_metric="joins",
                                         rules=RULES), CODES)
    for n, batch in enumerate(batches):
        for ev in batch:
            state.apply(ev, 1_000 + 1_000 * n)
    return state


# Streams for the leaderboard's order: mostly joins, at a few distinct times (the window's edges
# included) so that scores and times tie often, and every event of a user carrying the same ref (or
# none). Who referred whom is then decided the same way whatever the arrival order (SPEC 2: first
# touch), so the leaderboard must be too.
ranking_streams = st.tuples(
    st.lists(st.tuples(st.sampled_from(["room_join", "room_join", "room_join", "reservation", "click"]),
                       st.sampled_from(USERS), st.sampled_from([START - 1, START, START + 7, START + 7, END, END + 1])),
             max_size=60),
    st.fixed_dictionaries({user: st.sampled_from([None, "C0", "C1", "C2", "C3", "NOPE"]) for user in USERS}),
).map(lambda pair: [Event(f"e{i}", kind, user, at, pair[1][user]) for i, (kind, user, at) in enumerate(pair[0])])


def check_ledger_invariants(state, events, budget) -> None:
    ids = {e.id for e in events}
    counted = sum(r.amount or 0 for r in state.rewards.values() if r.counts_against_budget())
    # the budget is never exceeded, and the running total is exactly what counts against it
    assert state.budget_used == counted
    if budget is not None:
        assert counted <= budget
    for r in state.rewards.values():
        # every reward, and every change of its status, has a cause that happened
        assert r.cause_event_id in ids
        assert all(c.cause_event_id in ids for c in r.history)
        assert r.history[-1].status == r.status
        if r.status == "declined":
            assert r.reason in ("cap", "budget", "fx")
    # no reward twice: one per (rule, user, cause) by construction of the deterministic ids
    keys = [(r.rule_id, r.user_id, r.role, r.order_id, r.cause_event_id if r.rule_id != "ms" else r.spec.kind)
            for r in state.rewards.values()]
    assert len(keys) == len(set(keys))
    # the cap holds: at most max_per_referrer granted referrer rewards per referrer
    for user in USERS:
        granted = [r for r in state.rewards.values()
                   if r.rule_id == "rr" and r.role == "referrer" and r.user_id == user and r.status != "declined"]
        assert len(granted) <= 2


@settings(max_examples=300, deadline=None)
@given(streams, st.one_of(st.none(), st.integers(0, 3000)), st.data())
def test_ledger_invariants_hold_for_any_batching_and_batch_order(events, budget, data):
    """SPEC 3's ledger invariants, whatever the batches and their order (one batch in order included)."""
    state = run_batches(data.draw(batches_of(events)), budget)
    check_ledger_invariants(state, events, budget)


@settings(max_examples=300, deadline=None)
@given(ranking_streams, st.data())
def test_leaderboard_does_not_depend_on_batching_or_batch_order(events, data):
    """SPEC 3, leaderboard: a score of n is reached at the n-th earliest qualifying time, "so the
    order does not depend on the order in which events arrive"."""
    in_order = run(events, None)
    shuffled = run_batches(data.draw(batches_of(events)), None)
    assert shuffled.leaderboard.top(100) == in_order.leaderboard.top(100)
    # and each score was reached at the same time, so any later tie is broken the same way
    assert sorted(shuffled.leaderboard.entries()) == sorted(in_order.leaderboard.entries())
    for referrer in set(CODES.values()):
        assert shuffled.stats(referrer).metric("joins") == in_order.stats(referrer).metric("joins")
        assert shuffled.stats(referrer).metric("reservations") == in_order.stats(referrer).metric("reservations")


@settings(max_examples=300, deadline=None)
@given(streams)
def test_metrics_match_the_spec_definitions(events):
    """Recompute SPEC 2's metrics naively from the stream and compare with the incremental engine."""
    state = run(events, None)
    referrer_of: dict[str, str | None] = {}
    for ev in events:
        if ev.user_id not in referrer_of:
            owner = CODES.get(ev.ref or "")
            referrer_of[ev.user_id] = owner if owner != ev.user_id else None
    paid: dict[str, tuple[str, int]] = {}
    refunded: set[str] = set()
    for ev in events:
        if ev.type == "order_paid" and ev.order_id not in paid:
            paid[ev.order_id] = (ev.user_id, ev.amount)
        elif ev.type == "order_refunded" and ev.order_id in paid:
            refunded.add(ev.order_id)
    for referrer in set(CODES.values()):
        referees = {u for u, r in referrer_of.items() if r == referrer}
        reservations = {e.user_id for e in events if e.user_id in referees and e.type == "reservation"
                        and e.at < START}
        joins = {e.user_id for e in events if e.user_id in referees and e.type == "room_join"
                 and START <= e.at <= END}
        orders = {o for o, (u, _a) in paid.items() if u in referees and o not in refunded}
        gmv = sum(paid[o][1] for o in orders)
        m = state.stats(referrer).metrics()
        assert (m["reservations"], m["joins"], m["orders"], m["gmv"]) == (len(reservations), len(joins),
                                                                         len(orders), gmv)


@settings(max_examples=300, deadline=None)
@given(streams)
def test_leaderboard_equals_a_full_sort(events):
    state = run(events, None)
    rows = []
    for user, stats in state.referrers.items():
        # each referee counts from its earliest qualifying join; score n is reached at the n-th time
        first_join: dict[str, int] = {}
        for e in events:
            person = state.participants.get(e.user_id)
            if e.type == "room_join" and START <= e.at <= END and person and person.referrer == user:
                first_join[e.user_id] = min(e.at, first_join.get(e.user_id, e.at))
        times = sorted(first_join.values())
        score = stats.metric("joins")
        if score:
            rows.append((-score, times[score - 1], user))
    expected = [(i + 1, user, -neg) for i, (neg, _t, user) in enumerate(sorted(rows))]
    assert state.leaderboard.top(100) == expected
