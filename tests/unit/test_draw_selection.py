"""Draw entrants and winners (pure), the prize as the engine grants it, and the independent verifier."""

from __future__ import annotations

import hashlib
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from liveloop.draws import selection, verify
from liveloop.draws.periods import Period, periods
from liveloop.draws.service import win_events
from liveloop.engine.model import (
    DRAW_WIN,
    CampaignConfig,
    DrawEntered,
    DrawRule,
    Event,
    RewardIssued,
    RewardSpec,
    Shared,
)
from liveloop.engine.state import CampaignState

HOUR = 3_600_000
START, END = 500_000 * HOUR, 500_003 * HOUR  # whole UTC hours
CODES = {"A": "alice", "B": "bob", "C": "carol"}
joins_draw = DrawRule("grand", 2, RewardSpec("coupon", amount=500), entry_metric="joins", entry_at_least=2)
orders_draw = DrawRule("buyers", 1, RewardSpec("points", points=10), entry_metric="orders", entry_at_least=1)
share_draw = DrawRule("hourly", 1, RewardSpec("points", points=5), period="hour", entry_event="share")


def make(*rules: DrawRule, budget: int | None = None) -> CampaignState:
    return CampaignState(CampaignConfig("t1", "c1", "USD", START, END, budget=budget, rules=rules), CODES)


def join(eid: str, user: str, ref: str, at: int = START + 10) -> Event:
    return Event(eid, "room_join", user, at, ref)


def campaign_period() -> Period:
    return Period("campaign", START, END)


# -- entrants ----------------------------------------------------------------------------------


def test_metric_entrants_reach_at_least_and_are_listed_by_utf8_bytes():
    s = make(joins_draw)
    for i, (user, ref) in enumerate([("f1", "A"), ("f2", "A"), ("f3", "B"), ("f4", "C"), ("f5", "C"), ("f6", "C")]):
        s.apply(join(f"e{i}", user, ref), 5)
    assert selection.entrants(s, joins_draw, campaign_period()) == ["alice", "carol"]
    assert selection.entrants(s, joins_draw, campaign_period(), free=["zoë", "bob", "alice"]) == [
        "alice", "bob", "carol", "zoë"]
    assert selection.ordered(["é", "z", "Z", "a"]) == ["Z", "a", "z", "é"]


def test_orders_count_up_to_the_campaign_end_less_refunds():
    s = make(orders_draw)
    paid = [("o1", "f1", "A", START + 5), ("o2", "f2", "B", END + 1), ("o3", "f3", "C", END)]
    for order, user, ref, at in paid:
        s.apply(Event(f"p-{order}", "order_paid", user, at, ref, order, 1000, "USD", 1000), 5)
    s.apply(Event("r-o1", "order_refunded", "f1", END - 5, None, "o1"), 5)
    # alice's order was refunded; bob's was paid after the end; carol's at the very end counts.
    assert selection.entrants(s, orders_draw, campaign_period()) == ["carol"]


def test_hourly_metric_entries_count_the_events_of_that_hour():
    hourly = DrawRule("h", 1, RewardSpec("points", points=1), period="hour", entry_metric="joins", entry_at_least=2)
    s = make(hourly)
    s.apply(join("e1", "f1", "A", START + 10), 5)
    s.apply(join("e2", "f2", "A", START + HOUR - 1), 5)
    s.apply(join("e3", "f3", "B", START + HOUR - 1), 5)
    s.apply(join("e4", "f4", "B", START + HOUR), 5)
    first, second = Period("h1", START, START + HOUR), Period("h2", START + HOUR, START + 2 * HOUR)
    assert selection.entrants(s, hourly, first) == ["alice"]
    assert selection.entrants(s, hourly, second) == []


def test_a_share_enters_the_period_its_time_falls_in():
    s = make(share_draw)
    effects = s.apply(Event("s1", "share", "ann", START + HOUR - 1), 5)
    assert Shared("ann", START + HOUR - 1) in effects
    s.apply(Event("s2", "share", "ben", START + HOUR), 5)
    s.apply(Event("s3", "share", "ann", START + 2 * HOUR + 5), 5)
    s.apply(Event("s4", "share", "cat", START - 1), 5)  # before the window
    hours = periods("hour", START, END, "UTC")
    assert [selection.entrants(s, share_draw, p) for p in hours] == [["ann"], ["ben"], ["ann"]]


def test_users_with_a_reward_voided_or_declined_for_fraud_are_not_entered():
    milestone_free = make(joins_draw)
    for i, user in enumerate(["f1", "f2", "f3", "f4"]):
        milestone_free.apply(join(f"e{i}", user, "A" if i < 2 else "B"), 5)
    [alice_reward] = [e.reward for e in milestone_free.apply(
        Event("w", DRAW_WIN, "alice", END + 1, "grand", "campaign"), END + 1) if isinstance(e, RewardIssued)]
    assert selection.entrants(milestone_free, joins_draw, campaign_period()) == ["alice", "bob"]
    alice_reward.status, alice_reward.reason = "void", "refund"
    assert selection.entrants(milestone_free, joins_draw, campaign_period()) == ["alice", "bob"]
    alice_reward.reason = "fraud"
    assert selection.entrants(milestone_free, joins_draw, campaign_period(), free=["alice"]) == ["bob"]


# -- winners -----------------------------------------------------------------------------------


def test_winners_are_the_lowest_tickets_and_match_a_hand_computation():
    seed = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    entrants = ["alice", "bob", "carol", "dan", "eve"]
    tickets = {u: hashlib.sha256(f"{seed}\n{u}".encode()).hexdigest() for u in entrants}
    assert selection.pick_winners(seed, entrants, 2) == sorted(entrants, key=tickets.__getitem__)[:2]
    assert selection.pick_winners(seed, entrants, 10) == sorted(entrants, key=tickets.__getitem__)
    assert selection.pick_winners(seed, [], 3) == []


def test_adding_an_entrant_never_reorders_the_others():
    seed = "s"
    entrants = [f"u{i}" for i in range(50)]
    full = selection.pick_winners(seed, entrants, 50)
    fewer = selection.pick_winners(seed, entrants[:-1], 49)
    assert [u for u in full if u != entrants[-1]] == fewer


ids = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\n\r\x1f\x7f"),
              min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(seed=st.text(max_size=70), entrants=st.lists(ids, max_size=40, unique=True), count=st.integers(0, 45))
def test_the_independent_verifier_agrees_with_the_server(seed, entrants, count):
    assert verify.recompute_winners(seed, entrants, count) == selection.pick_winners(seed, entrants, count)
    assert verify.list_hash(entrants) == selection.entrants_hash(selection.ordered(entrants))


def test_the_verifier_reads_json_lists_and_lines():
    assert verify.read_entrants(json.dumps(["a b", "c"])) == ["a b", "c"]
    assert verify.read_entrants(json.dumps({"count": 1, "entrants": ["x"]})) == ["x"]
    assert verify.read_entrants("alice\r\nbob\n\ncarol") == ["alice", "bob", "carol"]
    assert verify.commitment("x") == hashlib.sha256(b"x").hexdigest()


# -- the prize, as the engine grants it --------------------------------------------------------


def test_a_draw_win_grants_the_prize_once_as_a_winner_and_counts_against_the_budget():
    s = make(joins_draw, budget=700)
    wins = win_events("c1", "grand", "campaign", ["alice", "bob"], END + 10)
    granted = [e.reward for ev in wins for e in s.apply(ev, END + 10) if isinstance(e, RewardIssued)]
    assert [(r.user_id, r.role, r.rule_id, r.amount, r.status, r.reason) for r in granted] == [
        ("alice", "winner", "grand", 500, "available", None), ("bob", "winner", "grand", 500, "declined", "budget")]
    assert s.budget_used == 500
    assert all(s.apply(ev, END + 20) == [] for ev in wins)  # applied again (a replay): nothing more
    # A winner who never had an event is not counted as a campaign participant.
    assert "alice" not in s.participants and s.organic.users == 0


def test_crossing_at_least_tells_the_user_once():
    s = make(joins_draw)
    assert not any(isinstance(e, DrawEntered) for e in s.apply(join("e1", "f1", "A"), 5))
    assert DrawEntered("grand", "alice") in s.apply(join("e2", "f2", "A"), 5)
    assert not any(isinstance(e, DrawEntered) for e in s.apply(join("e3", "f3", "A"), 5))
