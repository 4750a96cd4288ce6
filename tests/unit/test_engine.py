"""The pure engine: attribution, metrics, rules, ledger and leaderboard, without any I/O."""

from __future__ import annotations

from decimal import Decimal

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
from liveloop.kit.times import DAY_MS

START, END = 1_000_000, 2_000_000
COUPON_5 = RewardSpec("coupon", amount=500)
COUPON_3 = RewardSpec("coupon", amount=300)


def make(rules=(), budget=None, metric="reservations", codes=None, currency="USD") -> CampaignState:
    config = CampaignConfig("t1", "c1", currency, START, END, budget=budget, leaderboard_metric=metric,
                            rules=tuple(rules))
    return CampaignState(config, codes if codes is not None else {"ALICE": "alice", "BOB": "bob", "CAROL": "carol"})


def feed(state: CampaignState, *events: Event, now: int = 5) -> None:
    for ev in events:
        state.apply(ev, now)


def reserve(eid, user, at=500, ref=None):
    return Event(eid, "reservation", user, at, ref)


def join(eid, user, at=START + 10, ref=None):
    return Event(eid, "room_join", user, at, ref)


def paid(eid, user, order, amount, at=START + 100, currency="USD", ref=None):
    # ingestion converts the amount into the campaign currency; here only USD converts (1:1)
    return Event(eid, "order_paid", user, at, ref, order, amount, currency, amount if currency == "USD" else None)


def refund(eid, user, order, at=START + 200):
    return Event(eid, "order_refunded", user, at, None, order)


def ledger(state: CampaignState) -> list[tuple]:
    return [(r.rule_id, r.user_id, r.role, r.amount, r.status, r.reason) for r in state.rewards.values()]


# -- attribution ------------------------------------------------------------------------------


def test_first_touch_wins_and_never_changes():
    s = make()
    feed(s, Event("e1", "click", "u1", 100, "ALICE"), reserve("e2", "u1", ref="BOB"))
    assert s.participants["u1"].referrer == "alice"
    assert s.stats("alice").metric("reservations") == 1
    assert s.stats("bob").metric("reservations") == 0


def test_ref_after_earlier_events_is_not_attributed():
    s = make()
    feed(s, Event("e1", "share", "u1", 100), reserve("e2", "u1", ref="ALICE"))
    assert s.participants["u1"].referrer is None
    assert s.stats("alice").referees == 0
    assert s.organic.reservations == 1


def test_self_referral_is_accepted_but_attributes_nobody():
    s = make([ReservationReferralRule("rr", COUPON_5, COUPON_3)])
    feed(s, reserve("e1", "alice", ref="ALICE"))
    assert s.participants["alice"].referrer is None
    assert s.rewards == {}
    # and a later, valid ref cannot attribute alice any more: her first event was in the campaign
    feed(s, Event("e2", "room_join", "alice", START + 1, "BOB"))
    assert s.participants["alice"].referrer is None


def test_unknown_code_attributes_nobody():
    s = make()
    feed(s, reserve("e1", "u1", ref="NOPE"))
    assert s.participants["u1"].referrer is None


# -- metrics ----------------------------------------------------------------------------------


def test_reservation_must_be_before_start_and_join_inside_window():
    s = make()
    feed(
        s,
        reserve("e1", "u1", at=START, ref="ALICE"),  # at the start: too late to reserve
        join("e2", "u1", at=START - 1),  # before the live
        join("e3", "u1", at=END + 1),  # after the live
    )
    assert s.stats("alice").metrics()["reservations"] == 0
    assert s.stats("alice").metrics()["joins"] == 0
    feed(s, join("e4", "u1", at=END))
    assert s.stats("alice").metrics()["joins"] == 1


def test_orders_and_gmv_count_paid_less_refunded_distinct_orders():
    s = make()
    feed(
        s,
        reserve("e1", "u1", ref="ALICE"),
        paid("p1", "u1", "O1", 1000),
        paid("p1b", "u1", "O1", 1000),  # the same order paid again under another event id
        paid("p2", "u1", "O2", 250),
        refund("r1", "u1", "O1"),
    )
    m = s.stats("alice").metrics()
    assert (m["orders"], m["gmv"]) == (1, 250)
    assert (s.referred.orders, s.referred.gmv) == (1, 250)


# -- reservation_referral ----------------------------------------------------------------------


def test_double_sided_referral_grants_both_once():
    s = make([ReservationReferralRule("rr", COUPON_5, COUPON_3)])
    feed(s, reserve("e1", "u1", ref="ALICE"), reserve("e2", "u1", at=400))
    assert ledger(s) == [("rr", "alice", "referrer", 500, "available", None),
                         ("rr", "u1", "referee", 300, "available", None)]
    assert all(r.cause_event_id == "e1" for r in s.rewards.values())


def test_cap_declines_the_referrer_side_but_grants_the_referee():
    s = make([ReservationReferralRule("rr", COUPON_5, COUPON_3, max_per_referrer=1)])
    feed(s, reserve("e1", "u1", ref="ALICE"), reserve("e2", "u2", ref="ALICE"))
    assert ledger(s)[2:] == [("rr", "alice", "referrer", 500, "declined", "cap"),
                             ("rr", "u2", "referee", 300, "available", None)]
    assert s.budget_used == 500 + 300 + 300


def test_budget_exhaustion_on_both_sides():
    s = make([ReservationReferralRule("rr", COUPON_5, COUPON_3)], budget=1000)
    feed(s, reserve("e1", "u1", ref="ALICE"), reserve("e2", "u2", ref="ALICE"))
    # 500 + 300 = 800 granted; the next referrer coupon (500) would pass 1000: declined,
    # and then the referee coupon (300) would pass it too: declined as well.
    assert [r[4:] for r in ledger(s)] == [("available", None), ("available", None),
                                          ("declined", "budget"), ("declined", "budget")]
    assert s.budget_used == 800


def test_budget_can_decline_referrer_and_still_fit_referee():
    s = make([ReservationReferralRule("rr", COUPON_5, COUPON_3)], budget=1100)
    feed(s, reserve("e1", "u1", ref="ALICE"), reserve("e2", "u2", ref="ALICE"))
    assert [r[4:] for r in ledger(s)][2:] == [("declined", "budget"), ("available", None)]
    assert s.budget_used == 1100


def test_non_monetary_rewards_ignore_the_budget():
    badge = RewardSpec("badge", name="Connector")
    s = make([ReservationReferralRule("rr", badge, RewardSpec("coupon", percent_off=Decimal("10")))], budget=0)
    feed(s, reserve("e1", "u1", ref="ALICE"))
    assert [r.status for r in s.rewards.values()] == ["available", "available"]


# -- milestone ---------------------------------------------------------------------------------


def test_milestone_tiers_fire_once_per_tier_and_user():
    rule = MilestoneRule("ms", "joins", (Tier(1, RewardSpec("badge", name="b1")), Tier(2, COUPON_5)))
    s = make([rule])
    feed(s, join("e1", "u1", ref="ALICE"), join("e2", "u1", at=START + 1), join("e3", "u2", ref="ALICE"),
         join("e4", "u3", ref="ALICE"))
    assert [(r.user_id, r.role, r.spec.kind) for r in s.rewards.values()] == [
        ("alice", "achiever", "badge"), ("alice", "achiever", "coupon")]


def test_gmv_milestone_stays_after_a_refund_and_is_not_granted_twice():
    rule = MilestoneRule("ms", "gmv", (Tier(1000, RewardSpec("points", points=50)),))
    s = make([rule])
    feed(s, reserve("e1", "u1", ref="ALICE"), paid("p1", "u1", "O1", 1200), refund("r1", "u1", "O1"),
         paid("p2", "u1", "O2", 1500))
    assert len(s.rewards) == 1
    assert next(iter(s.rewards.values())).status == "available"


# -- order_commission --------------------------------------------------------------------------


def test_commission_rounds_half_to_even_and_is_pending_for_the_hold():
    s = make([OrderCommissionRule("oc", Decimal("5"), hold_days=7)])
    feed(s, reserve("e1", "u1", ref="ALICE"), paid("p1", "u1", "O1", 50), paid("p2", "u1", "O2", 70))
    rewards = list(s.rewards.values())
    # 5% of 0.50 = 0.025 -> 0.02 (half to even); 5% of 0.70 = 0.035 -> 0.04
    assert [r.amount for r in rewards] == [2, 4]
    assert all(r.status == "pending" for r in rewards)
    assert rewards[0].available_at == START + 100 + 7 * DAY_MS
    assert rewards[0].status_at(START + 100 + 7 * DAY_MS) == "available"


def test_commission_is_void_on_refund_and_frees_the_budget():
    s = make([OrderCommissionRule("oc", Decimal("10"), hold_days=7)], budget=10_000)
    feed(s, reserve("e1", "u1", ref="ALICE"), paid("p1", "u1", "O1", 1000))
    assert s.budget_used == 100
    feed(s, refund("r1", "u1", "O1"))
    reward = next(iter(s.rewards.values()))
    assert (reward.status, reward.reason) == ("void", "refund")
    assert [c.status for c in reward.history] == ["pending", "void"]
    assert reward.history[1].cause_event_id == "r1"
    assert s.budget_used == 0


def test_a_reward_keeps_no_list_until_its_status_moves_and_then_its_grant_as_it_was():
    s = make([OrderCommissionRule("oc", Decimal("10"), hold_days=7)])
    feed(s, reserve("e1", "u1", ref="ALICE"), paid("p1", "u1", "O1", 1000), now=7)
    reward = next(iter(s.rewards.values()))
    assert reward.changes is None  # the grant's change is the reward as it stands
    assert [(c.status, c.reason, c.cause_event_id, c.at) for c in reward.history] == [("pending", None, "p1", 7)]
    feed(s, refund("r1", "u1", "O1"), now=9)
    assert reward.changes is reward.history
    assert [(c.status, c.reason, c.cause_event_id, c.at) for c in reward.history] == [
        ("pending", None, "p1", 7), ("void", "refund", "r1", 9)]


def test_commission_window_includes_attribution_days_only():
    s = make([OrderCommissionRule("oc", Decimal("10"), attribution_days=2)])
    feed(s, reserve("e1", "u1", ref="ALICE"),
         paid("p0", "u1", "O0", 1000, at=START - 1),
         paid("p1", "u1", "O1", 1000, at=END + 2 * DAY_MS),
         paid("p2", "u1", "O2", 1000, at=END + 2 * DAY_MS + 1))
    assert [r.order_id for r in s.rewards.values()] == ["O1"]


def test_commission_in_another_currency_is_declined_fx():
    s = make([OrderCommissionRule("oc", Decimal("10"))])
    feed(s, reserve("e1", "u1", ref="ALICE"), paid("p1", "u1", "O1", 1000, currency="EUR"))
    reward = next(iter(s.rewards.values()))
    assert (reward.status, reward.reason) == ("declined", "fx")
    assert s.stats("alice").metrics()["orders"] == 1
    assert s.stats("alice").metrics()["gmv"] == 0


def test_organic_orders_earn_nothing():
    s = make([OrderCommissionRule("oc", Decimal("10"))])
    feed(s, paid("p1", "u1", "O1", 1000))
    assert s.rewards == {}
    assert (s.organic.orders, s.organic.gmv) == (1, 1000)


# -- leaderboard -------------------------------------------------------------------------------


def test_leaderboard_ties_go_to_who_reached_the_score_first_then_user_id():
    s = make(metric="reservations", codes={"A": "alice", "B": "bob", "C": "carol", "D": "dave"})
    feed(
        s,
        reserve("e1", "u1", at=300, ref="B"),
        reserve("e2", "u2", at=100, ref="A"),
        reserve("e3", "u3", at=300, ref="C"),
        reserve("e4", "u4", at=200, ref="D"),
        reserve("e5", "u5", at=400, ref="D"),
    )
    assert s.leaderboard.top(10) == [(1, "dave", 2), (2, "alice", 1), (3, "bob", 1), (4, "carol", 1)]
    assert s.leaderboard.rank("carol") == 4
    assert s.leaderboard.rank("u1") is None  # score 0 is not listed


def test_leaderboard_uses_event_times_not_arrival_order():
    def board(order):
        s = make(metric="reservations", codes={"A": "alice", "B": "bob"})
        events = {"a": reserve("ea", "ua", at=200, ref="A"), "b": reserve("eb", "ub", at=100, ref="B")}
        feed(s, *(events[k] for k in order))
        return s.leaderboard.top(10)

    assert board("ab") == board("ba") == [(1, "bob", 1), (2, "alice", 1)]


def test_a_backfilled_earlier_reservation_moves_the_reached_time():
    s = make(metric="reservations", codes={"A": "alice", "B": "bob"})
    feed(s, reserve("e1", "ua", at=300, ref="A"), reserve("e2", "ub", at=200, ref="B"))
    assert s.leaderboard.top(2)[0][1] == "bob"
    feed(s, reserve("e3", "ua", at=100))  # ua's earlier reservation arrives late
    assert s.leaderboard.top(2)[0][1] == "alice"


def test_reward_ids_start_with_the_causes_arrival_except_for_campaigns_stored_before_that_change():
    from dataclasses import replace

    from liveloop.campaigns.service import REWARD_IDS_BY_ARRIVAL_SINCE, to_config
    from liveloop.kit.times import iso

    body = {"id": "c1", "currency": "USD", "starts_at": iso(START), "ends_at": iso(END), "rules": []}
    assert to_config("t1", dict(body, created_at=iso(REWARD_IDS_BY_ARRIVAL_SINCE))).reward_ids_by_arrival
    assert not to_config("t1", dict(body, created_at=iso(REWARD_IDS_BY_ARRIVAL_SINCE - 1))).reward_ids_by_arrival
    rule = ReservationReferralRule("rr", referrer_reward=COUPON_5)
    for by_arrival, prefix in ((True, 0x77777), (False, 500)):
        s = make([rule])
        s.config = replace(s.config, reward_ids_by_arrival=by_arrival)
        feed(s, reserve("r1", "dave", at=500, ref="ALICE"), now=0x77777)
        [reward] = s.rewards.values()
        assert reward.id.startswith(f"rw_{prefix:011x}")


# -- campaign changes -----------------------------------------------------------------------------


def change(eid: str = "chg") -> Event:
    return Event(eid, "campaign_change", None, 50)


def test_a_change_decides_what_follows_and_leaves_what_came_before():
    rule = ReservationReferralRule("rr", COUPON_5)
    s = make([rule], budget=500)
    feed(s, reserve("e1", "bob", ref="ALICE"), reserve("e2", "carol", ref="ALICE"))
    assert [r[4:] for r in ledger(s)] == [("available", None), ("declined", "budget")]
    later = CampaignConfig("t1", "c1", "USD", 400, END, budget=1500, rules=(rule,))
    assert s.reconfigure(later, change(), 60) == []
    # The declined reward stays declined; a reservation at 450 is now after the start.
    feed(s, reserve("e3", "dave", at=450, ref="ALICE"), reserve("e4", "erin", at=300, ref="ALICE"))
    assert [(r[1], r[4]) for r in ledger(s)] == [("alice", "available"), ("alice", "declined"), ("alice", "available")]
    assert s.rules_fired == {"rr"}


def test_a_milestone_the_change_lowers_is_granted_at_once_to_whoever_reached_it():
    tiers = (Tier(3, RewardSpec("badge", name="Host")),)
    s = make([MilestoneRule("ms", "reservations", tiers)])
    feed(s, reserve("e1", "bob", ref="ALICE"), reserve("e2", "carol", ref="ALICE"), reserve("e3", "dan", ref="BOB"))
    assert s.rewards == {} and s.rules_fired == set()
    lowered = CampaignConfig("t1", "c1", "USD", START, END, leaderboard_metric="reservations",
                             rules=(MilestoneRule("ms", "reservations", (Tier(2, RewardSpec("badge", name="Host")),)),))
    effects = s.reconfigure(lowered, change(), 60)
    [granted] = [r for r in s.rewards.values()]
    assert (granted.user_id, granted.cause_event_id, granted.created_at) == ("alice", "chg", 60)
    assert len(effects) == 1 and s.rules_fired == {"ms"}
    assert s.reconfigure(lowered, change("again"), 70) == []  # the same rule again grants nothing more


def test_a_cancelled_configuration_grants_nothing_at_the_change():
    s = make([MilestoneRule("ms", "reservations", (Tier(3, COUPON_3),))])
    feed(s, reserve("e1", "bob", ref="ALICE"))
    cancelled = CampaignConfig("t1", "c1", "USD", START, END, rules=(MilestoneRule("ms", "reservations",
                                                                                    (Tier(1, COUPON_3),)),),
                               cancelled=True)
    assert s.reconfigure(cancelled, change(), 60) == [] and s.rewards == {}
    assert s.config.cancelled
