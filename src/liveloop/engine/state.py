"""Campaign state and the one function that advances it: `apply(state, event, now) -> effects`.

Everything here is deterministic: the same events in the same order give the same state and the
same ledger, which is what lets the storage layer rebuild a campaign by replaying its event log.
"""

from __future__ import annotations

import hashlib
from bisect import insort
from dataclasses import dataclass, field

from liveloop.engine.audiences import KNOWN, Audiences
from liveloop.engine.leaderboard import Leaderboard
from liveloop.engine.model import (
    DRAW_WIN,
    FRAUD_CHECK,
    REVIEW_DECISION,
    SOCIAL_EVENTS,
    Attributed,
    CampaignConfig,
    DrawEntered,
    DrawRule,
    Effect,
    Event,
    FriendActivity,
    MilestoneRule,
    NewUser,
    OrderCommissionRule,
    ReservationReferralRule,
    ReviewOpened,
    Reward,
    RewardIssued,
    RewardSpec,
    RewardStatusChanged,
    ScoreChanged,
    Shared,
    StatusChange,
    signal_codes,
)
from liveloop.engine.presence import MARKS, Presence, RoomTotals, Window
from liveloop.engine.social import Social
from liveloop.kit.money import percent_of
from liveloop.kit.times import DAY_MS


@dataclass(slots=True)
class Participant:
    """A user who has had at least one event in the campaign."""

    referrer: str | None = None
    reservation_at: int | None = None  # earliest qualifying reservation
    join_at: int | None = None  # earliest qualifying room join
    room: Presence | None = None  # comings and goings in the room (watch time)
    shares: int = 0


@dataclass(slots=True)
class ReferrerStats:
    """What the referees of one code owner achieved. Time lists stay sorted (tie order)."""

    clicks: int = 0
    referees: int = 0
    reservation_times: list[int] = field(default_factory=list)
    join_times: list[int] = field(default_factory=list)
    order_times: list[tuple[int, str]] = field(default_factory=list)
    gmv_times: list[tuple[int, str]] = field(default_factory=list)
    gmv: int = 0

    def metric(self, name: str) -> int:
        if name == "reservations":
            return len(self.reservation_times)
        if name == "joins":
            return len(self.join_times)
        if name == "orders":
            return len(self.order_times)
        return self.gmv

    def reached_at(self, name: str) -> int:
        """When the current score was reached: the n-th earliest qualifying time."""
        if name == "reservations":
            return self.reservation_times[-1] if self.reservation_times else 0
        if name == "joins":
            return self.join_times[-1] if self.join_times else 0
        if name == "orders":
            return self.order_times[-1][0] if self.order_times else 0
        return self.gmv_times[-1][0] if self.gmv_times else 0

    def metrics(self) -> dict[str, int]:
        return {
            "clicks": self.clicks,
            "referees": self.referees,
            "reservations": len(self.reservation_times),
            "joins": len(self.join_times),
            "orders": len(self.order_times),
            "gmv": self.gmv,
        }


@dataclass(slots=True)
class Referral:
    """A referral the fraud check found risky (SPEC section 10); clear ones are not kept."""

    referrer: str
    status: str  # review, declined (at the check), approved, denied
    risk: int
    signals: tuple[str, ...]
    check_event_id: str
    rewards: list[Reward] = field(default_factory=list)  # both sides of referral rules, commissions

    def outcome(self) -> str | None:
        """How the referral's new rewards are granted: held, declined, or as usual (None)."""
        if self.status == "review":
            return "review"
        if self.status in ("declined", "denied"):
            return "fraud"
        return None

    def detail(self) -> dict:
        return {"risk": self.risk, "signals": list(self.signals)}


@dataclass(slots=True)
class Order:
    user_id: str
    referrer: str | None
    at: int
    amount: int | None  # minor units of the campaign currency; None when not convertible
    refunded: bool = False


@dataclass(slots=True)
class FunnelSide:
    clicks: int = 0
    users: int = 0
    reservations: int = 0
    joins: int = 0
    orders: int = 0
    gmv: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "clicks": self.clicks,
            "users": self.users,
            "reservations": self.reservations,
            "joins": self.joins,
            "orders": self.orders,
            "gmv": self.gmv,
        }


# What moved, for `_metric_changed`: an order moves its referrer's order count and GMV together.
_RESERVATIONS = ("reservations",)
_JOINS = ("joins",)
_ORDERS = ("orders", "gmv")


def reward_id(config: CampaignConfig, rule_id: str, user_id: str, cause: str, received: int) -> str:
    """Deterministic: the same (campaign, rule, user, cause) is always the same reward.

    The id starts with `received`, the time the cause event was received (kept in the log and
    replayed unchanged, like the reward's `created_at`). It grows with the log, so new rewards
    land at the end of the ledger's primary key: keyed by the cause's own `at` (any order, e.g.
    backfills) or at random, each insert touched another page and SQLite's commit wrote
    thousands of pages per batch (measured: the ledger's write cost halved). The hash after it
    is what makes the id unique.
    """
    raw = "\x1f".join((config.tenant_id, config.id, rule_id, user_id, cause)).encode()
    return f"rw_{max(received, 0):011x}{hashlib.sha256(raw).hexdigest()[:18]}"


class CampaignState:
    """Everything the engine knows about one campaign, rebuilt from its event log on load."""

    def __init__(self, config: CampaignConfig, codes: dict[str, str] | None = None,
                 audiences: Audiences = KNOWN) -> None:
        self._audiences = audiences  # segments' members, for rules with an `audience` (engine/audiences.py)
        self.codes: dict[str, str] = dict(codes or {})
        self.participants: dict[str, Participant] = {}
        self.referrers: dict[str, ReferrerStats] = {}
        self.orders: dict[str, Order] = {}
        self.rewards: dict[str, Reward] = {}
        self.reward_keys: set[tuple[str, str, str]] = set()  # (rule, user, cause) already rewarded
        self.rewards_by_user: dict[str, list[Reward]] = {}
        self.rewards_by_order: dict[str, list[Reward]] = {}
        self.cap_used: dict[tuple[str, str], int] = {}
        self.tiers_reached: dict[tuple[str, str], int] = {}  # (rule, user) -> tiers already granted
        self.budget_used = 0
        self.referred = FunnelSide()
        self.organic = FunnelSide()
        self.leaderboard = Leaderboard()
        self.last_seq = 0  # highest event-log sequence applied (set by the storage layer)
        self.present: set[str] = set()  # users whose presence in the room is open
        self.room_totals = RoomTotals()
        self.share_times: dict[str, list[int]] = {}  # each user's share times, sorted (share-to-enter draws)
        self.draw_entered: set[tuple[str, str]] = set()  # (rule, user) past a campaign draw's at_least
        self.rules_fired: set[str] = set()  # rules with a reward in the ledger (granted or declined)
        # Circles and group buys (engine/social.py): called at the places marked "social".
        self.social = Social()
        self.referrals: dict[str, Referral] = {}  # risky referrals by referee (fraud checks)
        self.tier_rewards: dict[tuple[str, str, int], Reward] = {}  # (rule, user, tier index) -> its reward
        self._configure(config)

    # A snapshot (events/snapshots.py) pickles the state; the segments' members it reads from are
    # the process's shared cache (KNOWN), not part of one campaign, so they are left out and the
    # restored state reads from the restoring process's cache (the rules' members themselves,
    # `_audience`, are kept: a segment version never changes).
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        if state["_audiences"] is KNOWN:
            state["_audiences"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self._audiences is None:
            self._audiences = KNOWN

    def _configure(self, config: CampaignConfig) -> None:
        self.config: CampaignConfig = config
        self.window = Window(config.starts_at, config.ends_at, config.min_watch_ms)
        self._reservation_rules = [r for r in config.rules if isinstance(r, ReservationReferralRule)]
        self._milestone_rules = [r for r in config.rules if isinstance(r, MilestoneRule) and r.scope == "user"]
        self._commission_rules = [r for r in config.rules if isinstance(r, OrderCommissionRule)]
        self._metric_draws = [r for r in config.rules
                              if isinstance(r, DrawRule) and r.entry_metric is not None and r.period == "campaign"]
        self.social.configure(config)  # social
        self._audience = {rule_id: self._audiences.members((config.tenant_id, sid, version))
                          for rule_id, sid, version in config.audiences}

    # -- reads ---------------------------------------------------------------------------

    def stats(self, user_id: str) -> ReferrerStats:
        return self.referrers.get(user_id) or ReferrerStats()

    def score(self, user_id: str) -> int:
        return self.stats(user_id).metric(self.config.leaderboard_metric)

    def _metric_of(self, user_id: str, metric: str) -> tuple[int, int]:
        stats = self.referrers.get(user_id)
        return (stats.metric(metric), stats.reached_at(metric)) if stats is not None else (0, 0)

    def _holders(self, privilege: str, at: int) -> frozenset[str]:
        """Users holding an available `privilege` reward of that name at `at` (flash deals' early notice)."""
        return frozenset(r.user_id for r in self.rewards.values()
                         if r.spec.kind == "privilege" and r.spec.name == privilege and r.status_at(at) == "available")

    def presence_of(self, user_id: str) -> Presence | None:
        person = self.participants.get(user_id)
        return person.room if person is not None else None

    def watch_due(self, user_id: str) -> int | None:
        """When an open presence reaches `min_watch_seconds` if it lasts, while its join does not count yet."""
        presence = self.presence_of(user_id)
        return presence.due(self.window) if presence is not None else None

    # -- the engine ----------------------------------------------------------------------

    def apply(self, ev: Event, now: int) -> list[Effect]:
        """Advance the state by one accepted, non-duplicate event; return what happened."""
        effects: list[Effect] = []
        if ev.type == DRAW_WIN:
            return self.grant_draw_prize(ev, now)
        if ev.type in SOCIAL_EVENTS:
            return self.social.apply(ev, now, self)  # social
        if ev.type == FRAUD_CHECK:
            return self._on_fraud_check(ev, now)
        if ev.type == REVIEW_DECISION:
            return self._on_review_decision(ev, now)
        owner = self.codes.get(ev.ref) if ev.ref else None
        uid = ev.user_id
        if uid is None:
            # An anonymous click on a share link: it counts for the link's owner only.
            self._count_click(owner, effects)
            return effects

        person = self.participants.get(uid)
        if person is None:
            person = Participant()
            self.participants[uid] = person
            effects.append(NewUser(uid))
            # First touch: only the user's first event in the campaign can attribute them.
            if owner is not None and owner != uid:
                person.referrer = owner
                self._referrer(owner).referees += 1
                effects.append(Attributed(uid, owner, ev.id))
            (self.referred if person.referrer else self.organic).users += 1

        kind = ev.type
        if kind == "click":
            self._count_click(owner if owner != uid else None, effects, friend=uid)
        elif kind == "reservation":
            self._on_reservation(person, ev, now, effects)
        elif kind in MARKS:
            self._on_room(person, ev, now, effects)
        elif kind == "order_paid":
            self._on_order_paid(person, ev, now, effects)
        elif kind == "order_refunded":
            self._on_order_refunded(ev, now, effects)
        elif kind == "share":
            person.shares += 1
            self._on_share(uid, ev.at, effects)
        return effects

    def reconfigure(self, config: CampaignConfig, ev: Event, now: int) -> list[Effect]:
        """The campaign was changed (a `campaign_change` event, `ev`): `config` decides what follows.

        What was decided before stays: events already applied keep the effect they had, and the
        ledger is append-only. Milestones and campaign draws the change adds or alters are checked
        at once against every referrer's metrics, in user order: a tier lowered to a count someone
        already has is granted now, caused by the change, like any tier reached by an event.
        """
        before = {rule.id: rule for rule in self.config.rules}
        unchanged = {rule.id for rule in config.rules if before.get(rule.id) == rule}
        self._configure(config)
        self.draw_entered = {key for key in self.draw_entered if key[0] in unchanged}
        effects: list[Effect] = []
        if config.cancelled:
            return effects
        milestones = [rule for rule in self._milestone_rules if rule.id not in unchanged]
        draws = any(rule.id not in unchanged for rule in self._metric_draws)
        if milestones or draws:
            for user_id in sorted(self.referrers):
                stats = self.referrers[user_id]
                for rule in milestones:
                    self._reach_tiers(rule, user_id, stats, ev, now, effects)
                if draws:
                    self._check_draw_entry(user_id, stats, effects)
        return effects

    def _referrer(self, user_id: str) -> ReferrerStats:
        stats = self.referrers.get(user_id)
        if stats is None:
            stats = self.referrers[user_id] = ReferrerStats()
        return stats

    def _count_click(self, owner: str | None, effects: list[Effect], friend: str | None = None) -> None:
        if owner is None:
            self.organic.clicks += 1
            return
        self.referred.clicks += 1
        self._referrer(owner).clicks += 1
        effects.append(FriendActivity(owner, friend, "clicked"))

    def _on_reservation(self, person: Participant, ev: Event, now: int, effects: list[Effect]) -> None:
        if ev.at >= self.config.starts_at:
            return
        previous = person.reservation_at
        if previous is not None and ev.at >= previous:
            return
        person.reservation_at = ev.at
        referrer = person.referrer
        if previous is None:
            (self.referred if referrer else self.organic).reservations += 1
        if referrer is None:
            return
        if self.referrals and self._excluded(ev.user_id):
            # A declined or denied referral counts for nothing; its rewards are declined (fraud).
            if previous is None:
                for rule in self._reservation_rules:
                    self._fire_reservation_referral(rule, referrer, ev, now, effects)
            return
        stats = self._referrer(referrer)
        if previous is not None:
            stats.reservation_times.remove(previous)
        insort(stats.reservation_times, ev.at)
        if previous is None:
            effects.append(FriendActivity(referrer, ev.user_id, "reserved"))
            for rule in self._reservation_rules:
                self._fire_reservation_referral(rule, referrer, ev, now, effects)
        self._metric_changed(referrer, stats, _RESERVATIONS, ev, now, effects)

    def _on_room(self, person: Participant, ev: Event, now: int, effects: list[Effect]) -> None:
        presence = person.room
        if presence is None:
            presence = person.room = Presence()
            self.room_totals.viewers += 1
        self.room_totals.remove(presence)
        presence.add(MARKS[ev.type], ev.at, self.window)
        self.room_totals.add(presence)
        if presence.open:
            self.present.add(ev.user_id or "")
        else:
            self.present.discard(ev.user_id or "")
        # Once counted, a join stays counted: a leave that arrives late takes no reward back.
        at = presence.qualified_at(self.window)
        if at is not None:
            self._on_join(person, ev, at, now, effects)

    def _on_join(self, person: Participant, ev: Event, at: int, now: int, effects: list[Effect]) -> None:
        previous = person.join_at
        if previous is not None and at >= previous:
            return
        person.join_at = at
        referrer = person.referrer
        if previous is None:
            (self.referred if referrer else self.organic).joins += 1
        if referrer is None or (self.referrals and self._excluded(ev.user_id)):
            return
        stats = self._referrer(referrer)
        if previous is not None:
            stats.join_times.remove(previous)
        insort(stats.join_times, at)
        if previous is None:
            effects.append(FriendActivity(referrer, ev.user_id, "joined"))
        self._metric_changed(referrer, stats, _JOINS, ev, now, effects)

    def _on_order_paid(self, person: Participant, ev: Event, now: int, effects: list[Effect]) -> None:
        order_id = ev.order_id
        if order_id is None or order_id in self.orders:
            return  # the same order paid twice under two event ids counts once
        amount = ev.value
        referrer = person.referrer
        if ev.group_id is not None:
            self.social.order_paid(ev, now, effects, self)  # social
        side = self.referred if referrer else self.organic
        side.orders += 1
        side.gmv += amount or 0
        if referrer is not None and self.referrals and self._excluded(ev.user_id):
            # Not in the referrer's metrics; its commission is declined (fraud).
            self.orders[order_id] = Order(ev.user_id or "", None, ev.at, amount)
            for rule in self._commission_rules:
                self._fire_commission(rule, referrer, order_id, amount, ev, now, effects)
            return
        order = Order(ev.user_id or "", referrer, ev.at, amount)
        self.orders[order_id] = order
        if referrer is None:
            return
        stats = self._referrer(referrer)
        insort(stats.order_times, (ev.at, order_id))
        if amount is not None:
            insort(stats.gmv_times, (ev.at, order_id))
            stats.gmv += amount
        for rule in self._commission_rules:
            self._fire_commission(rule, referrer, order_id, amount, ev, now, effects)
        self._metric_changed(referrer, stats, _ORDERS, ev, now, effects)

    def _on_order_refunded(self, ev: Event, now: int, effects: list[Effect]) -> None:
        order_id = ev.order_id or ""
        order = self.orders.get(order_id)
        if order is None or order.refunded:
            return
        order.refunded = True
        self.social.order_refunded(order_id, effects)  # social
        referrer = order.referrer
        side = self.referred if referrer else self.organic
        side.orders -= 1
        side.gmv -= order.amount or 0
        for reward in self.rewards_by_order.get(order_id, ()):
            if reward.status in ("available", "pending"):
                self._change_status(reward, "void", "refund", ev, now, effects)
        if referrer is None:
            return
        stats = self._referrer(referrer)
        stats.order_times.remove((order.at, order_id))
        if order.amount is not None:
            stats.gmv_times.remove((order.at, order_id))
            stats.gmv -= order.amount
        self._metric_changed(referrer, stats, _ORDERS, ev, now, effects)

    # -- rules ---------------------------------------------------------------------------

    def _fire_reservation_referral(
        self, rule: ReservationReferralRule, referrer: str, ev: Event, now: int, effects: list[Effect]
    ) -> None:
        referee = ev.user_id or ""
        cap_key = (rule.id, referrer)
        fraud = self._outcome(referee)
        capped = rule.max_per_referrer is not None and self.cap_used.get(cap_key, 0) >= rule.max_per_referrer
        declined = "fraud" if fraud == "fraud" else "cap" if capped else None
        granted = self._grant(
            rule.id, referrer, "referrer", rule.referrer_reward, ev, now, effects,
            cause=f"referee:{referee}", declined=declined, fraud=fraud, referee=referee,
        )
        if granted is not None and granted.status != "declined":
            self.cap_used[cap_key] = self.cap_used.get(cap_key, 0) + 1
        if rule.referee_reward is not None:
            self._grant(rule.id, referee, "referee", rule.referee_reward, ev, now, effects, cause="reservation",
                        declined="fraud" if fraud == "fraud" else None, fraud=fraud, referee=referee)

    def _fire_commission(
        self,
        rule: OrderCommissionRule,
        referrer: str,
        order_id: str,
        amount: int | None,
        ev: Event,
        now: int,
        effects: list[Effect],
    ) -> None:
        config = self.config
        if not (config.starts_at <= ev.at <= config.ends_at + rule.attribution_days * DAY_MS):
            return
        referee = ev.user_id or ""
        fraud = self._outcome(referee)
        if fraud == "fraud":
            spec = RewardSpec(kind="cashback", amount=percent_of(amount, rule.percent) if amount is not None else None)
            self._grant(rule.id, referrer, "referrer", spec, ev, now, effects, cause=f"order:{order_id}",
                        declined="fraud", order_id=order_id, fraud=fraud, referee=referee)
            return
        if amount is None:
            # An order in another currency than the campaign's, with no rate to convert it: what
            # the cashback would have been in the campaign currency cannot be said either.
            spec = RewardSpec(kind="cashback")
            self._grant(rule.id, referrer, "referrer", spec, ev, now, effects,
                        cause=f"order:{order_id}", declined="fx", order_id=order_id)
            return
        cashback = percent_of(amount, rule.percent)
        if cashback <= 0:
            return
        spec = RewardSpec(kind="cashback", amount=cashback)
        hold = rule.hold_days * DAY_MS
        self._grant(
            rule.id, referrer, "referrer", spec, ev, now, effects, cause=f"order:{order_id}",
            available_at=ev.at + hold if hold else None, order_id=order_id, fraud=fraud, referee=referee,
        )

    def _metric_changed(self, user_id: str, stats: ReferrerStats, changed: tuple[str, ...], ev: Event, now: int,
                        effects: list[Effect]) -> None:
        """`changed` names the metrics that may have moved. A milestone on another metric cannot
        fire now (each of its changes was checked when it happened), and the leaderboard's key only
        moves with its own metric: skipping them saves a SortedList remove and add per event."""
        for rule in self._milestone_rules:
            if rule.metric in changed:
                self._reach_tiers(rule, user_id, stats, ev, now, effects)
        metric = self.config.leaderboard_metric
        if metric in changed:
            score = stats.metric(metric)
            before = self.leaderboard.update(user_id, score, stats.reached_at(metric))
            if score != before:
                effects.append(ScoreChanged(user_id, score))
        if self._metric_draws:
            self._check_draw_entry(user_id, stats, effects)
        self.social.metric_changed(user_id, changed, ev, now, effects, self)  # social

    def _reach_tiers(self, rule: MilestoneRule, user_id: str, stats: ReferrerStats, ev: Event, now: int,
                     effects: list[Effect]) -> None:
        value = stats.metric(rule.metric)
        key = (rule.id, user_id)
        reached = self.tiers_reached.get(key, 0)
        # Tiers are increasing: only those past the last one granted can fire, each once.
        while reached < len(rule.tiers) and value >= rule.tiers[reached].at:
            tier = rule.tiers[reached]
            granted = self._grant(rule.id, user_id, "achiever", tier.reward, ev, now, effects, cause=f"tier:{tier.at}")
            if granted is not None:
                self.tier_rewards[(rule.id, user_id, reached)] = granted
            reached += 1
            self.tiers_reached[key] = reached

    # -- draws ---------------------------------------------------------------------------

    def grant_draw_prize(self, ev: Event, now: int) -> list[Effect]:
        """A `draw_win` event: its user gets the prize of the draw rule `ev.ref` for period `ev.order_id`."""
        effects: list[Effect] = []
        rule = next((r for r in self.config.rules if isinstance(r, DrawRule) and r.id == ev.ref), None)
        if rule is None or ev.user_id is None or ev.order_id is None:
            return effects
        self._grant(rule.id, ev.user_id, "winner", rule.prize, ev, now, effects, cause=f"period:{ev.order_id}")
        return effects

    def _on_share(self, user_id: str, at: int, effects: list[Effect]) -> None:
        insort(self.share_times.setdefault(user_id, []), at)
        effects.append(Shared(user_id, at))

    def _check_draw_entry(self, user_id: str, stats: ReferrerStats, effects: list[Effect]) -> None:
        for rule in self._metric_draws:
            key = (rule.id, user_id)
            if key not in self.draw_entered and stats.metric(rule.entry_metric or "") >= (rule.entry_at_least or 0):
                self.draw_entered.add(key)
                effects.append(DrawEntered(rule.id, user_id))

    # -- the ledger ----------------------------------------------------------------------

    def _grant(
        self,
        rule_id: str,
        user_id: str,
        role: str,
        spec: RewardSpec,
        ev: Event,
        now: int,
        effects: list[Effect],
        *,
        cause: str,
        declined: str | None = None,
        available_at: int | None = None,
        order_id: str | None = None,
        fraud: str | None = None,
        referee: str | None = None,
    ) -> Reward | None:
        """`fraud` ("review" or "fraud") holds or declines a risky referral's reward; `referee` names
        the referral it belongs to (both sides of a referral rule, commissions on its orders)."""
        key = (rule_id, user_id, cause)
        if key in self.reward_keys:
            return None  # rewarded exactly once
        audience = self._audience.get(rule_id) if self._audience else None
        if audience is not None and user_id not in audience:
            return None  # an exclusive rule: only its segment's members earn from it
        rid = reward_id(self.config, rule_id, user_id, cause, now if self.config.reward_ids_by_arrival else ev.at)
        self.reward_keys.add(key)
        reason = declined
        if reason is None and spec.monetary and self.config.budget is not None:
            if self.budget_used + (spec.amount or 0) > self.config.budget:
                reason = "budget"
        if reason is not None:
            status = "declined"
        elif fraud == "review":
            status, reason = "pending", "review"
        elif available_at is not None and available_at > ev.at:
            status = "pending"
        else:
            status = "available"
            available_at = None
        reward = Reward(
            id=rid, rule_id=rule_id, user_id=user_id, role=role, spec=spec, amount=spec.amount,
            currency=self.config.currency, status=status, reason=reason, cause_event_id=ev.id,
            created_at=now, available_at=available_at if status == "pending" else None,
            order_id=order_id,
        )
        referral = self.referrals.get(referee) if referee is not None and fraud is not None else None
        if referral is not None:
            # The grant's change says why the reward is held or declined: kept as it is.
            reward.changes = [StatusChange(status, reason, ev.id, now, referral.detail())]
            referral.rewards.append(reward)
        if reward.counts_against_budget():
            self.budget_used += reward.amount or 0
        self.rewards[rid] = reward
        self.rules_fired.add(rule_id)
        self.rewards_by_user.setdefault(user_id, []).append(reward)
        if order_id is not None:
            self.rewards_by_order.setdefault(order_id, []).append(reward)
        effects.append(RewardIssued(reward))
        return reward

    def _change_status(
        self, reward: Reward, status: str, reason: str | None, ev: Event, now: int, effects: list[Effect],
        fraud: dict | None = None,
    ) -> None:
        if reward.counts_against_budget():
            self.budget_used -= reward.amount or 0
        change = StatusChange(status, reason, ev.id, now, fraud)
        reward.move(change)
        if reward.counts_against_budget():
            self.budget_used += reward.amount or 0
        effects.append(RewardStatusChanged(reward, change))

    # -- fraud checks and reviews (SPEC section 10) ----------------------------------------
    # The check is computed outside the engine (fraud/), across the tenant's campaigns, and logged as
    # a `fraud_check` event just before the event it judges; decisions are logged `review_decision`
    # events. The engine only applies them, so a replay holds and voids the same rewards.

    def _outcome(self, referee: str) -> str | None:
        referral = self.referrals.get(referee) if self.referrals else None
        return referral.outcome() if referral is not None else None

    def _excluded(self, referee: str | None) -> bool:
        referral = self.referrals.get(referee or "")
        return referral is not None and referral.status in ("declined", "denied")

    def _on_fraud_check(self, ev: Event, now: int) -> list[Effect]:
        referee, referrer = ev.user_id, ev.order_id
        if referee is None or referrer is None or referee in self.referrals or referee in self.participants:
            return []  # a referee is checked once, before its first event
        risk = ev.value or 0
        settings = self.config.fraud
        if risk >= settings.decline_at:
            status = "declined"
        elif risk >= settings.review_at:
            status = "review"
        else:
            return []
        signals = signal_codes(ev.ref)
        self.referrals[referee] = Referral(referrer, status, risk, signals, ev.id)
        if status == "review":
            return [ReviewOpened(referee, referrer, risk, signals, ev.id, now)]
        return []

    def _on_review_decision(self, ev: Event, now: int) -> list[Effect]:
        referral = self.referrals.get(ev.user_id or "")
        if referral is None or referral.status != "review":
            return []  # decided already: the same decision again changes nothing
        effects: list[Effect] = []
        detail = {"decision": ev.order_id, "decided_by": ev.ref}
        if ev.order_id == "approve":
            referral.status = "approved"
            for reward in referral.rewards:
                if reward.status == "pending" and reward.reason == "review":
                    # Its own hold (a commission's hold_days) still applies.
                    held = reward.available_at is not None and reward.available_at > now
                    self._change_status(reward, "pending" if held else "available", None, ev, now, effects, detail)
            return effects
        referral.status = "denied"
        for reward in referral.rewards:
            if reward.status in ("available", "pending"):
                if reward.role == "referrer" and reward.order_id is None:
                    key = (reward.rule_id, reward.user_id)
                    self.cap_used[key] = self.cap_used.get(key, 1) - 1
                self._change_status(reward, "void", "fraud", ev, now, effects, detail)
        self._uncount(ev.user_id or "", referral.referrer, ev, now, effects, detail)
        return effects

    def _uncount(self, referee: str, referrer: str, ev: Event, now: int, effects: list[Effect], detail: dict) -> None:
        """A denied referral stops counting: its referrer's metrics, score and rank drop, and the
        milestone tiers no longer reached are voided (a voided tier is not granted again)."""
        person = self.participants.get(referee)
        stats = self.referrers.get(referrer)
        if person is None or stats is None:
            return
        stats.referees -= 1
        if person.reservation_at is not None and person.reservation_at in stats.reservation_times:
            stats.reservation_times.remove(person.reservation_at)
        if person.join_at is not None and person.join_at in stats.join_times:
            stats.join_times.remove(person.join_at)
        for order_id, order in self.orders.items():
            if order.user_id == referee and order.referrer == referrer and not order.refunded:
                stats.order_times.remove((order.at, order_id))
                if order.amount is not None:
                    stats.gmv_times.remove((order.at, order_id))
                    stats.gmv -= order.amount
                order.referrer = None
        for rule in self._milestone_rules:
            key = (rule.id, referrer)
            reached = self.tiers_reached.get(key, 0)
            value = stats.metric(rule.metric)
            while reached > 0 and value < rule.tiers[reached - 1].at:
                reached -= 1
                reward = self.tier_rewards.get((rule.id, referrer, reached))
                if reward is not None and reward.status in ("available", "pending"):
                    self._change_status(reward, "void", "fraud", ev, now, effects, detail)
            self.tiers_reached[key] = reached
        self._metric_changed(referrer, stats, ("reservations", "joins", "orders", "gmv"), ev, now, effects)
