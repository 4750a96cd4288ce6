"""A snapshot never changes a result: for any event stream, cut anywhere, the state pickled at the cut
(as events/snapshots.py stores it), restored and fed the rest of the stream equals the state fed the
whole stream without a pause, every field of it (leaderboards, ledger with histories, draw entries,
circles and groups, fraud referrals, presences), and the rest of the stream has the same effects."""

from __future__ import annotations

import gc
import pickle
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from sortedcontainers import SortedList

from liveloop.engine.audiences import Audiences
from liveloop.engine.model import (
    CIRCLE_CREATE,
    CIRCLE_JOIN,
    DRAW_WIN,
    FRAUD_CHECK,
    GROUP_CREATE,
    GROUP_FAIL,
    REVIEW_DECISION,
    CampaignConfig,
    DrawRule,
    Event,
    FraudSettings,
    GroupBuyRule,
    MilestoneRule,
    OrderCommissionRule,
    ReservationReferralRule,
    RewardSpec,
    Tier,
)
from liveloop.engine.state import CampaignState
from liveloop.events import snapshots

MIN = 60_000
START, END = 100 * MIN, 200 * MIN
USERS = [f"u{i}" for i in range(8)]
CODES = {"C0": "u0", "C1": "u1", "C2": "u2"}
RULES = (
    ReservationReferralRule("rr", RewardSpec("coupon", amount=500), RewardSpec("points", points=10),
                            max_per_referrer=2),
    MilestoneRule("ms", "reservations", (Tier(1, RewardSpec("cashback", amount=200)),
                                         Tier(2, RewardSpec("privilege", name="early_notice")))),
    MilestoneRule("fam", "joins", (Tier(2, RewardSpec("points", points=10)),), scope="circle"),
    OrderCommissionRule("oc", Decimal("7.5"), hold_days=1),
    DrawRule("dr", 1, RewardSpec("coupon", amount=100), entry_metric="reservations", entry_at_least=1),
    GroupBuyRule("gb", "SKU", 2, 30 * MIN, RewardSpec("coupon", amount=300)),
)
# What a campaign change leads to half way (a tier lowered, a draw's threshold changed).
CHANGED = (RULES[0], MilestoneRule("ms", "reservations", (Tier(1, RewardSpec("cashback", amount=150)),)),
           *RULES[2:4], DrawRule("dr", 1, RewardSpec("coupon", amount=100), entry_metric="joins", entry_at_least=1),
           RULES[5])


def config(rules=RULES, **extra) -> CampaignConfig:
    return CampaignConfig("t", "c", "USD", START, END, budget=5_000, leaderboard_metric="reservations",
                          rules=rules, fraud=FraudSettings(review_at=40, decline_at=90), **extra)


def event(n: int, kind: str, user: str, at: int, ref: str | None, pick: int) -> Event:
    """An event of `kind` with the fields its kind reads, chosen by `pick`."""
    other = USERS[pick % len(USERS)]
    if kind in ("order_paid", "order_refunded"):
        group = f"G{pick % 2}" if pick % 3 == 0 else None
        return Event(f"e{n}", kind, user, at, ref, f"o{pick % 4}", 1000 + pick, "USD", 1000 + pick, group, "SKU")
    if kind == FRAUD_CHECK:
        return Event(f"e{n}", kind, user, at, str(pick % 256), other, value=(pick * 37) % 101)
    if kind == REVIEW_DECISION:
        return Event(f"e{n}", kind, user, at, "ops", "approve" if pick % 2 else "deny")
    if kind in (CIRCLE_CREATE, CIRCLE_JOIN):
        return Event(f"e{n}", kind, user, at, f"k{pick % 2}")
    if kind in (GROUP_CREATE, GROUP_FAIL):
        return Event(f"e{n}", kind, user, at, "gb", f"G{pick % 2}")
    if kind == DRAW_WIN:
        return Event(f"e{n}", kind, user, at, "dr", f"p{pick % 2}")
    return Event(f"e{n}", kind, user, at, ref)


KINDS = ["click", "reservation", "reservation", "room_join", "room_leave", "room_heartbeat", "share", "order_paid",
         "order_refunded", FRAUD_CHECK, REVIEW_DECISION, CIRCLE_CREATE, CIRCLE_JOIN, GROUP_CREATE, GROUP_FAIL,
         DRAW_WIN]
steps = st.lists(st.tuples(st.sampled_from(KINDS), st.sampled_from(USERS), st.integers(0, 300 * MIN),
                           st.sampled_from([None, "C0", "C0", "C1", "C2", "NOPE"]), st.integers(0, 10_000)),
                 max_size=80)


def run(stream, change_at: int | None, by: str, *, cut: int | None = None):
    """Apply the stream (the campaign changed before event `change_at`); with `cut`, the state is
    snapshotted and restored before event `cut`. Returns the state and each event's effects (plain)."""
    state = CampaignState(config(leaderboard_by=by), CODES)
    effects = []
    for n, (kind, user, at, ref, pick) in enumerate(stream):
        if n == cut:
            state = pickle.loads(snapshots.encode(state))
        now = 1_000 + n * MIN
        if n == change_at:
            change = Event(f"x{n}", "campaign_change", None, now, value=2)
            effects.append(plain(state.reconfigure(config(CHANGED, leaderboard_by=by), change, now)))
        # As they were when produced (a group's effects name the group, which changes on).
        effects.append(plain(state.apply(event(n, kind, user, at, ref, pick), now)))
        state.last_seq = n + 1
    if cut is not None and cut >= len(stream):
        state = pickle.loads(snapshots.encode(state))
    return state, effects


def plain(value):
    """Every field of an object graph as comparable values (methods and the process's shared cache aside)."""
    if value is None or isinstance(value, (bool, int, float, str, bytes, Decimal)):
        return value
    if isinstance(value, (list, tuple, SortedList)):
        return [type(value).__name__, [plain(v) for v in value]]
    if isinstance(value, dict):
        return ["dict", [(plain(k), plain(v)) for k, v in value.items()]]  # insertion order too
    if isinstance(value, (set, frozenset)):
        return ["set", sorted(repr(plain(v)) for v in value)]
    if isinstance(value, Audiences) or callable(value):
        return type(value).__name__
    names = [name for cls in type(value).__mro__ for name in getattr(cls, "__slots__", ())]
    names += sorted(getattr(value, "__dict__", {}))
    return [type(value).__name__, [(name, plain(getattr(value, name))) for name in names if hasattr(value, name)]]


@settings(max_examples=150, deadline=None)
@given(steps, st.data())
def test_a_state_restored_from_a_snapshot_anywhere_goes_on_like_the_uninterrupted_one(stream, data):
    cut = data.draw(st.integers(0, len(stream)), label="cut")
    change_at = data.draw(st.one_of(st.none(), st.integers(0, max(len(stream) - 1, 0))), label="change_at")
    by = data.draw(st.sampled_from(["user", "circle"]), label="leaderboard_by")
    whole, whole_effects = run(stream, change_at, by)
    restored, restored_effects = run(stream, change_at, by, cut=cut)
    assert plain(restored) == plain(whole)
    assert restored_effects == whole_effects
    assert restored.leaderboard.top(50) == whole.leaderboard.top(50)
    assert restored.social.circle_board.top(50) == whole.social.circle_board.top(50)


@settings(max_examples=100, deadline=None)
@given(steps, st.data())
def test_a_state_restored_or_not_is_freed_by_reference_counting_alone(stream, data):
    """A loaded state is frozen out of the garbage collector's reach (kit/gcpause.py): it must hold no
    reference cycle, or dropping it would keep all of it for good."""
    cut = data.draw(st.one_of(st.none(), st.integers(0, len(stream))), label="cut")
    change_at = data.draw(st.one_of(st.none(), st.integers(0, max(len(stream) - 1, 0))), label="change_at")
    by = data.draw(st.sampled_from(["user", "circle"]), label="leaderboard_by")
    gc.disable()
    # What exists now (garbage included) is moved out of the collector's sight, so the collection below
    # looks only at what `run` made: as strict as collecting before, without two passes over the whole
    # test process per example (a minute of the suite).
    gc.freeze()
    try:
        state, _effects = run(stream, change_at, by, cut=cut)
        del state
        assert gc.collect() == 0  # nothing the engine made was left for the collector
    finally:
        gc.unfreeze()
        gc.enable()


def test_rewards_indexed_in_several_places_stay_one_object_after_a_restore():
    state = CampaignState(config(), CODES)
    state.apply(Event("r1", "reservation", "f1", START - MIN, "C0"), 1)
    restored = pickle.loads(snapshots.encode(state))
    for user, rewards in restored.rewards_by_user.items():
        for reward in rewards:
            assert restored.rewards[reward.id] is reward, user
    assert restored.rewards and len(restored.rewards) == sum(len(r) for r in restored.rewards_by_user.values())
