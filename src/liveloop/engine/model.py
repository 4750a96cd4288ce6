"""Value types of the engine: campaign configuration, events, rewards and effects.

Events, status changes and effects are made several times per ingested event, so they are not
`frozen`: a frozen dataclass sets each field through `object.__setattr__`, which makes its
constructor 2.5 to 5 times slower (measured: 2.1 against 0.4 µs for Event). Nothing changes
them after they are made; the configuration, made once per campaign, stays frozen.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

EVENT_TYPES = (
    "click",
    "reservation",
    "room_join",
    "room_leave",
    "room_heartbeat",  # the user was seen in the room at `at` (proves an open presence goes on)
    "room_timeout",  # the presence was closed at `at` because the widget fell silent
    "room_end",  # the presence was closed at `at` because the room finished before the leave came
    "share",
    "order_paid",
    "order_refunded",
)


@dataclass(frozen=True, slots=True)
class RewardSpec:
    """What a rule grants; `amount` is in minor units of the campaign currency."""

    kind: str
    amount: int | None = None
    percent_off: Decimal | None = None
    points: int | None = None
    sku: str | None = None
    name: str | None = None
    content: str | None = None

    @property
    def monetary(self) -> bool:
        """Coupons with an amount and cashback count against the campaign budget."""
        return self.amount is not None and self.kind in ("coupon", "cashback")


@dataclass(frozen=True, slots=True)
class ReservationReferralRule:
    id: str
    referrer_reward: RewardSpec
    referee_reward: RewardSpec | None = None
    max_per_referrer: int | None = None


@dataclass(frozen=True, slots=True)
class Tier:
    at: int  # a count, or minor units for gmv
    reward: RewardSpec


@dataclass(frozen=True, slots=True)
class MilestoneRule:
    id: str
    metric: str
    tiers: tuple[Tier, ...]
    scope: str = "user"  # "circle": the members' metric summed, each tier granted to every member


@dataclass(frozen=True, slots=True)
class OrderCommissionRule:
    id: str
    percent: Decimal
    hold_days: int = 0
    attribution_days: int = 0


@dataclass(frozen=True, slots=True)
class DrawRule:
    """Validated and stored; running draws is outside the per-event engine."""

    id: str
    winners: int
    prize: RewardSpec
    period: str = "campaign"
    entry_metric: str | None = None
    entry_at_least: int | None = None
    entry_event: str | None = None
    permit: str | None = None
    free_entry: bool = False


@dataclass(frozen=True, slots=True)
class GroupBuyRule:
    """A group buy (拼团): `group_size` distinct paying users within `window_ms` of the group's creation."""

    id: str
    sku: str
    group_size: int
    window_ms: int
    reward: RewardSpec


Rule = ReservationReferralRule | MilestoneRule | OrderCommissionRule | DrawRule | GroupBuyRule


@dataclass(frozen=True, slots=True)
class FraudSettings:
    """A campaign's `fraud` settings (SPEC section 10): what a referral's risk leads to."""

    review_at: int = 50
    decline_at: int = 90
    auto_approve_hours: int = 72
    velocity_per_minute: int = 10


@dataclass(frozen=True, slots=True)
class CampaignConfig:
    tenant_id: str
    id: str
    currency: str
    starts_at: int  # epoch ms
    ends_at: int  # epoch ms
    budget: int | None = None  # minor units
    leaderboard_metric: str = "joins"
    rules: tuple[Rule, ...] = ()
    min_watch_ms: int = 0  # watch time inside the window before a join counts for `joins`
    # Reward ids start with the cause's arrival time; campaigns stored before that change keep
    # ids that start with the cause's `at`, so their replayed ledger matches the stored one.
    reward_ids_by_arrival: bool = True
    cancelled: bool = False  # nothing more is applied to a cancelled campaign
    # Earlier campaigns whose invite codes are valid `ref`s here too (follow-up lives): the storage
    # layer hands the engine their codes with the campaign's own.
    follow_up_of: tuple[str, ...] = ()
    leaderboard_by: str = "user"  # "circle": circles ranked by their members' summed metric
    max_circle_size: int = 8
    # Rules with an `audience`: (rule_id, segment_id, version); only that version's members earn from them.
    audiences: tuple[tuple[str, str, int], ...] = ()
    fraud: FraudSettings = FraudSettings()


@dataclass(slots=True)
class Event:
    """An accepted, validated event; `user_id` is None for an anonymous share-link click."""

    id: str
    type: str
    user_id: str | None
    at: int
    ref: str | None = None
    order_id: str | None = None
    amount: int | None = None  # minor units of `currency`
    currency: str | None = None
    # The order's amount in the campaign currency (minor units), converted at ingestion with the
    # tenant's rate of the order's day; None when no rate was known. Kept in the log, so a replay
    # gives the same result whatever rates are supplied later.
    value: int | None = None
    # An order's group buy and product (`order.group_id`, `order.sku`), kept in the log.
    group_id: str | None = None
    sku: str | None = None


@dataclass(slots=True)
class StatusChange:
    status: str
    reason: str | None
    cause_event_id: str
    at: int
    # Why, when a fraud check or a review decided it: {"risk", "signals"} or {"decision", "decided_by"}.
    fraud: dict | None = None


@dataclass(slots=True)
class Reward:
    id: str
    rule_id: str
    user_id: str
    role: str
    spec: RewardSpec
    amount: int | None
    currency: str
    status: str
    reason: str | None
    cause_event_id: str
    created_at: int
    available_at: int | None
    order_id: str | None = None
    # Every status change, the grant's first; None while the grant's is the only one and holds nothing
    # the reward does not (`history` builds it then). Most rewards never change: a reward, its list and
    # its one change were three objects, a third of a large campaign's state to load (docs/benchmarks.md,
    # "Cold start").
    changes: list[StatusChange] | None = None

    @property
    def history(self) -> list[StatusChange]:
        """Every status change, the grant's first (to read: a new list while only the grant happened)."""
        if self.changes is not None:
            return self.changes
        return [StatusChange(self.status, self.reason, self.cause_event_id, self.created_at)]

    def move(self, change: StatusChange) -> None:
        """The reward's status and reason become the change's, recorded after those before it."""
        if self.changes is None:
            self.changes = self.history  # the grant's change, read from the reward before it moves
        self.changes.append(change)
        self.status = change.status
        self.reason = change.reason

    def counts_against_budget(self) -> bool:
        return self.spec.kind in ("coupon", "cashback") and self.amount is not None and (
            self.status in ("available", "pending")
        )

    def status_at(self, now: int) -> str:
        """A pending reward becomes available once its hold has passed (not while held for review)."""
        if (self.status == "pending" and self.available_at is not None and now >= self.available_at
                and self.reason != "review"):
            return "available"
        return self.status


@dataclass(slots=True)
class NewUser:
    user_id: str


@dataclass(slots=True)
class Attributed:
    referee: str
    referrer: str
    event_id: str


@dataclass(slots=True)
class RewardIssued:
    reward: Reward


@dataclass(slots=True)
class RewardStatusChanged:
    reward: Reward
    change: StatusChange


@dataclass(slots=True)
class FriendActivity:
    """A referee did something its referrer wants to hear about (for the viewer stream)."""

    referrer: str
    friend: str | None
    kind: str  # clicked | reserved | joined


@dataclass(slots=True)
class ScoreChanged:
    user_id: str
    score: int


@dataclass(slots=True)
class Shared:
    """A user shared at `at` (share-to-enter draws are decided by the local hour of `at`)."""

    user_id: str
    at: int


@dataclass(slots=True)
class DrawEntered:
    """A user's metric first reached a campaign-period draw's `at_least` (for the viewer stream)."""

    rule_id: str
    user_id: str


# Written to the event log by the draws domain when a period is run, one per winner, and never
# accepted from the API: `ref` names the draw rule and `order_id` the period. Replaying it grants
# the prize again at the same place in the log, so budgets and restarts give the same ledger.
DRAW_WIN = "draw_win"

# Written to the event log when an operator changes or cancels the campaign (events/changes.py),
# never accepted from the API: `value` is the campaign's new version, whose configuration decides
# every event logged after it. Replaying the log changes the configuration at the same place.
CAMPAIGN_CHANGE = "campaign_change"

# Circles and group buys (engine/social.py), written to the log by their domains (circles/,
# groups/) and never accepted from the API. `ref` names the circle or the group buy rule,
# `order_id` the group, `user_id` who acted.
CIRCLE_CREATE = "circle_create"
CIRCLE_JOIN = "circle_join"
GROUP_CREATE = "group_create"
GROUP_FAIL = "group_fail"  # the group's window closed (wall time) before it completed
# A flash deal's notice is due (flash/jobs.py): `ref` names the deal, `order_id` the phase ("early"
# for holders of the `early_notice` privilege, "start" for everyone else).
FLASH_DEAL = "flash_deal"
SOCIAL_EVENTS = frozenset((CIRCLE_CREATE, CIRCLE_JOIN, GROUP_CREATE, GROUP_FAIL, FLASH_DEAL))


@dataclass(slots=True)
class CircleChanged:
    """A circle was created or gained a member."""

    circle_id: str
    members: tuple[str, ...]


@dataclass(slots=True)
class GroupChanged:
    """A group buy was created, gained or lost a member, completed or failed (`kind`). The group
    changes on; `members` and `status` are as they were at this change."""

    kind: str  # created | progress | completed | failed
    group: Any  # engine.social.Group
    members: tuple = ()  # engine.social.GroupMember, in order of payment
    status: str = "open"


@dataclass(slots=True)
class FlashDealDue:
    """A flash deal's notice is due for `phase`; `holders` held `early_notice` at that place in the log."""

    deal_id: str
    phase: str  # early | start
    holders: frozenset



# Fraud checks and review decisions (SPEC section 10), written to the log by liveloop itself and never
# accepted from the API, so that a replay holds, declines, approves and denies the same referrals.
# `fraud_check`: logged just before the event that attributes referee `user_id` to referrer
# `order_id`; `value` is the risk (0..100), `ref` the signal codes as a bit mask (FRAUD_SIGNALS).
# `review_decision`: `user_id` is the referee, `order_id` the decision (approve, deny), `ref` who
# decided (an API key's name, or "auto").
FRAUD_CHECK = "fraud_check"
REVIEW_DECISION = "review_decision"
# The signal codes, in the order of the bit mask a `fraud_check` carries in `ref` (a list of
# names would not fit the column); new codes are only ever appended.
FRAUD_SIGNALS = ("blocklist", "same_device", "email_alias", "ring", "device_farm", "velocity", "disposable_email",
                 "same_ip")


def signal_codes(mask: str | None) -> tuple[str, ...]:
    bits = int(mask) if mask else 0
    return tuple(code for i, code in enumerate(FRAUD_SIGNALS) if bits & (1 << i))


@dataclass(slots=True)
class ReviewOpened:
    """A referral's risk reached the campaign's `review_at`: its rewards are held for a human."""

    referee: str
    referrer: str
    risk: int
    signals: tuple[str, ...]
    event_id: str
    at: int


Effect = (NewUser | Attributed | RewardIssued | RewardStatusChanged | FriendActivity | ScoreChanged | Shared
          | DrawEntered | CircleChanged | GroupChanged | FlashDealDue | ReviewOpened)
