"""The engine's circles and group buys (engine/social.py), without a database."""

from __future__ import annotations

import itertools

from liveloop.engine.model import (
    CIRCLE_CREATE,
    CIRCLE_JOIN,
    GROUP_CREATE,
    GROUP_FAIL,
    CampaignConfig,
    Event,
    GroupBuyRule,
    MilestoneRule,
    RewardSpec,
    Tier,
)
from liveloop.engine.state import CampaignState

MIN = 60_000
CIRCLE_RULE = MilestoneRule("fam", "joins", (Tier(2, RewardSpec("points", points=10)),), scope="circle")
GROUP_RULE = GroupBuyRule("pt", "SKU", 2, 10 * MIN, RewardSpec("coupon", amount=300))


def config(**extra) -> CampaignConfig:
    return CampaignConfig("t", "c", "USD", 0, 1000 * MIN, leaderboard_metric="joins", leaderboard_by="circle",
                          rules=(CIRCLE_RULE, GROUP_RULE), **extra)


def circles_state(max_size: int = 8) -> CampaignState:
    state = CampaignState(config(max_circle_size=max_size), codes={"A": "a", "B": "b", "C": "c", "D": "d"})
    for n, (kind, user, circle) in enumerate([(CIRCLE_CREATE, "a", "x"), (CIRCLE_JOIN, "b", "x"),
                                              (CIRCLE_CREATE, "c", "y"), (CIRCLE_JOIN, "d", "y")]):
        state.apply(Event(f"s{n}", kind, user, 1, circle), 1)
    return state


def joins(spec: list[tuple[str, str, int]]) -> list[Event]:
    return [Event(f"j-{friend}", "room_join", friend, at * MIN, code) for friend, code, at in spec]


def test_circles_rank_by_summed_score_then_who_reached_it_first_whatever_the_arrival_order():
    stream = joins([("f1", "A", 3), ("f2", "B", 8), ("f3", "C", 1), ("f4", "D", 5), ("f5", "A", 20)])
    boards = set()
    for order in itertools.permutations(stream[:4]):
        state = circles_state()
        for ev in order:
            state.apply(ev, 100 * MIN)
        boards.add(tuple(state.social.circle_board.top(10)))
    # Both have 2; y reached it at minute 5, x at minute 8.
    assert boards == {((1, "y", 2), (2, "x", 2))}
    state = circles_state()
    for ev in stream:
        state.apply(ev, 100 * MIN)
    assert state.social.circle_board.top(10) == [(1, "x", 3), (2, "y", 2)]


def test_a_circle_tier_goes_to_every_member_once_and_joins_past_the_limit_are_ignored():
    state = circles_state(max_size=2)
    assert state.apply(Event("late", CIRCLE_JOIN, "e", 1, "x"), 1) == []  # x is full
    assert state.social.join_refusal("x", "e")[0] == "circle.full"
    assert state.social.join_refusal("y", "a")[0] == "circle.one_per_user"
    for ev in joins([("f1", "A", 3), ("f2", "B", 8), ("f6", "A", 9)]):
        state.apply(ev, 100 * MIN)
    granted = sorted((r.user_id, r.rule_id, r.role) for r in state.rewards.values())
    assert granted == [("a", "fam", "achiever"), ("b", "fam", "achiever")]


def order(eid: str, user: str, at: int, group: str | None, sku: str = "SKU") -> Event:
    return Event(eid, "order_paid", user, at, None, f"o-{eid}", 1000, "USD", 1000, group, sku)


def test_a_group_counts_distinct_payers_of_its_sku_inside_its_window():
    state = CampaignState(config())
    state.apply(Event("g", GROUP_CREATE, "lin", 10 * MIN, "pt", "G"), 10 * MIN)
    state.apply(Event("g2", GROUP_CREATE, "lin", 11 * MIN, "pt", "G2"), 11 * MIN)  # one open group per leader
    assert set(state.social.groups) == {"G"}
    for ev in (order("1", "lin", 11 * MIN, "G"), order("2", "mei", 12 * MIN, "G", sku="OTHER"),
               order("3", "lin", 12 * MIN, "G"), order("4", "tao", 21 * MIN, "G"), order("5", "wu", 9 * MIN, "G")):
        state.apply(ev, 30 * MIN)
    group = state.social.groups["G"]
    assert ([m.user_id for m in group.members], group.status) == (["lin"], "open")
    state.apply(order("6", "mei", 20 * MIN, "G"), 30 * MIN)  # at the window's last minute, arriving late
    assert group.status == "completed" and [r.role for r in state.rewards.values()] == ["member", "member"]
    assert state.apply(Event("fail", GROUP_FAIL, None, 40 * MIN, "pt", "G"), 40 * MIN) == []  # completed stays
    assert state.budget_used == 600
