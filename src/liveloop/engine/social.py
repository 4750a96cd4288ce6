"""Circles (family and friends) and group buys (拼团): the engine's part, deterministic like the rest.

A campaign's `CampaignState` owns one `Social` and calls it at a few delimited places: the logged
events of circles and groups (`apply`), a member's metric moving (`metric_changed`), an order paid
for a group or refunded (`order_paid`, `order_refunded`). Rewards are granted through the state's
own ledger (`grant`), so budgets, reward ids and replays behave as for every other rule. The state
is handed to each call that needs it (`host`) rather than kept: a reference each way would be a
cycle, and a campaign's state must be freed by reference counting alone (kit/gcpause.py).

- A circle's score is the sum of its members' metric; it reached that score at the latest of the
  members' own times (the n-th earliest of the members' qualifying times, all together, is the
  last of them), so circles tie like users do (SPEC section 3). A `scope: "circle"` milestone tier is
  reached once per circle and granted to every member it has then.
- A group completes when `group_size` distinct users paid orders of the rule's `sku` carrying its
  `group_id`, each with `at` inside [created, created + window]; each member's reward is tied to
  that member's order, so a refund after completion voids that reward only. Before completion a
  refund removes the member. A group fails only by a logged `group_fail` event (the window closed
  in wall time, groups/jobs.py): event time decides who is in, the log decides what was first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from liveloop.engine.leaderboard import Leaderboard
from liveloop.engine.model import (
    CIRCLE_CREATE,
    CIRCLE_JOIN,
    FLASH_DEAL,
    GROUP_CREATE,
    GROUP_FAIL,
    CampaignConfig,
    CircleChanged,
    Effect,
    Event,
    FlashDealDue,
    GroupBuyRule,
    GroupChanged,
    MilestoneRule,
)

if TYPE_CHECKING:
    from liveloop.engine.state import CampaignState


@dataclass(slots=True)
class Circle:
    id: str
    owner: str
    created_at: int
    members: list[str] = field(default_factory=list)
    # Per metric the circle counts (its milestones' and its board's): the sum of the members' values,
    # and each member's (value, reached_at) as it was last added in, so a member's move changes the
    # sum by its difference instead of a walk over every member (CircleSums).
    sums: dict[str, CircleSum] = field(default_factory=dict)


@dataclass(slots=True)
class CircleSum:
    """One metric of one circle, kept up to date member by member.

    `reached` is the latest of the members' reached-at times among members with a value: the n-th
    earliest of all their qualifying times together (SPEC section 3's tie rule over the summed
    times). It only moves back when the member holding it drops, and then it is recomputed from the
    members' kept values (at most `max_circle_size`, no state reads).
    """

    total: int = 0
    reached: int = 0
    parts: dict[str, tuple[int, int]] = field(default_factory=dict)

    def set(self, member: str, value: int, at: int) -> None:
        old_value, old_at = self.parts.get(member, (0, 0))
        if value == old_value and at == old_at:
            return
        self.parts[member] = (value, at)
        self.total += value - old_value
        if value and at >= self.reached:
            self.reached = at
        elif old_value and old_at == self.reached:
            self.reached = max((t for v, t in self.parts.values() if v), default=0)


@dataclass(slots=True)
class GroupMember:
    user_id: str
    order_id: str
    at: int


@dataclass(slots=True)
class Group:
    id: str
    rule_id: str
    leader: str
    group_size: int
    created_at: int
    expires_at: int
    status: str = "open"  # open | completed | failed
    members: list[GroupMember] = field(default_factory=list)
    ended_at: int | None = None  # when it completed (the completing order's `at`) or failed


def _changed(kind: str, group: Group) -> GroupChanged:
    return GroupChanged(kind, group, tuple(group.members), group.status)


class Social:
    """Circles and groups of one campaign."""

    def __init__(self) -> None:
        # (deal, phase) whose notice was logged -> the holders of early_notice at that place in the log
        # (a viewer whose stream opens later is told from this, flash/notices.py)
        self.flash_sent: dict[tuple[str, str], frozenset[str]] = {}
        self.circles: dict[str, Circle] = {}
        self.circle_of: dict[str, str] = {}  # user -> circle
        self.circle_board = Leaderboard()
        self.circle_tiers: dict[tuple[str, str], int] = {}  # (rule, circle) -> tiers already granted
        self.groups: dict[str, Group] = {}
        self.open_groups: dict[tuple[str, str], str] = {}  # (rule, leader) -> open group
        self.group_of_order: dict[str, str] = {}

    def configure(self, config: CampaignConfig) -> None:
        self.config = config
        self.circle_rules = [r for r in config.rules if isinstance(r, MilestoneRule) and r.scope == "circle"]
        self.group_rules = {r.id: r for r in config.rules if isinstance(r, GroupBuyRule)}
        self._board_metric = config.leaderboard_metric if config.leaderboard_by == "circle" else None
        # The metrics whose sums circles keep (CircleSum): their milestones' and their board's.
        self._circle_metrics = tuple(dict.fromkeys(
            [r.metric for r in self.circle_rules] + ([self._board_metric] if self._board_metric else [])))

    # -- logged events ---------------------------------------------------------------------

    def apply(self, ev: Event, now: int, host: CampaignState) -> list[Effect]:
        effects: list[Effect] = []
        kind = ev.type
        if kind == CIRCLE_CREATE:
            self._create_circle(ev, now, effects, host)
        elif kind == CIRCLE_JOIN:
            self._join_circle(ev, now, effects, host)
        elif kind == GROUP_CREATE:
            self._create_group(ev, effects)
        elif kind == GROUP_FAIL:
            group = self.groups.get(ev.order_id or "")
            if group is not None and group.status == "open":
                group.status = "failed"
                group.ended_at = ev.at
                self.open_groups.pop((group.rule_id, group.leader), None)
                effects.append(_changed("failed", group))
        elif kind == FLASH_DEAL:
            key = (ev.ref or "", ev.order_id or "")
            if key not in self.flash_sent:
                holders = self.flash_sent[key] = host._holders("early_notice", ev.at)
                effects.append(FlashDealDue(key[0], key[1], holders))
        return effects

    # -- circles ---------------------------------------------------------------------------

    def join_refusal(self, circle_id: str, user_id: str) -> tuple[str, str] | None:
        """(code, message) when `user_id` cannot join the circle now; None when they can."""
        circle = self.circles.get(circle_id)
        if circle is None:
            return "circle.not_found", f"circle {circle_id!r} not found"
        if user_id in circle.members:
            return "circle.already_member", f"user {user_id!r} is already a member of circle {circle_id!r}"
        other = self.circle_of.get(user_id)
        if other is not None:
            return "circle.one_per_user", (f"user {user_id!r} is already a member of circle {other!r}; a user "
                                           "is in at most one circle per campaign")
        if len(circle.members) >= self.config.max_circle_size:
            return "circle.full", (f"circle {circle_id!r} is full: it has its {self.config.max_circle_size} "
                                   "members (max_circle_size)")
        return None

    def _create_circle(self, ev: Event, now: int, effects: list[Effect], host: CampaignState) -> None:
        owner, cid = ev.user_id or "", ev.ref or ""
        if cid in self.circles or owner in self.circle_of:
            return
        circle = self.circles[cid] = Circle(cid, owner, ev.at, [owner])
        self.circle_of[owner] = cid
        effects.append(CircleChanged(cid, tuple(circle.members)))
        self._circle_moved(circle, None, None, ev, now, effects, host)

    def _join_circle(self, ev: Event, now: int, effects: list[Effect], host: CampaignState) -> None:
        user, cid = ev.user_id or "", ev.ref or ""
        if self.join_refusal(cid, user) is not None:
            return
        circle = self.circles[cid]
        circle.members.append(user)
        self.circle_of[user] = cid
        effects.append(CircleChanged(cid, tuple(circle.members)))
        self._circle_moved(circle, user, None, ev, now, effects, host)

    def metric_changed(self, user_id: str, changed: tuple[str, ...], ev: Event, now: int,
                       effects: list[Effect], host: CampaignState) -> None:
        """A referrer's metrics in `changed` may have moved: their circle's milestones and rank follow."""
        cid = self.circle_of.get(user_id)
        if cid is not None:
            self._circle_moved(self.circles[cid], user_id, changed, ev, now, effects, host)

    def circle_score(self, circle: Circle, metric: str, host: CampaignState) -> tuple[int, int]:
        """(the members' metric summed, when that sum was reached), from the members' stats: what
        the kept sums (CircleSum) must equal; the tests compare the two."""
        total = reached = 0
        for member in circle.members:
            value, at = host._metric_of(member, metric)
            if value:
                total += value
                reached = max(reached, at)
        return total, reached

    def _circle_moved(self, circle: Circle, member: str | None, changed: tuple[str, ...] | None, ev: Event,
                      now: int, effects: list[Effect], host: CampaignState) -> None:
        """`member`'s metrics in `changed` moved (None, None: the member joined, every metric counts)."""
        sums = circle.sums
        for metric in self._circle_metrics:
            if changed is None or metric in changed:
                kept = sums.get(metric)
                movers = (member,) if member is not None else circle.members
                if kept is None:  # a metric the circle did not count yet (a changed campaign): every member
                    kept = sums[metric] = CircleSum()
                    movers = circle.members
                for who in movers:
                    kept.set(who, *host._metric_of(who, metric))
        for rule in self.circle_rules:
            if changed is None or rule.metric in changed:
                self._circle_tiers(rule, circle, sums[rule.metric].total, ev, now, effects, host)
        board_metric = self._board_metric
        if board_metric is not None and (changed is None or board_metric in changed):
            kept = sums[board_metric]
            self.circle_board.update(circle.id, kept.total, kept.reached)

    def _circle_tiers(self, rule: MilestoneRule, circle: Circle, value: int, ev: Event, now: int,
                      effects: list[Effect], host: CampaignState) -> None:
        key = (rule.id, circle.id)
        reached = self.circle_tiers.get(key, 0)
        while reached < len(rule.tiers) and value >= rule.tiers[reached].at:
            tier = rule.tiers[reached]
            for member in circle.members:
                host._grant(rule.id, member, "achiever", tier.reward, ev, now, effects,
                            cause=f"circle:{circle.id}:tier:{tier.at}")
            reached += 1
            self.circle_tiers[key] = reached

    # -- group buys --------------------------------------------------------------------------

    def _create_group(self, ev: Event, effects: list[Effect]) -> None:
        rule = self.group_rules.get(ev.ref or "")
        leader, gid = ev.user_id or "", ev.order_id or ""
        if rule is None or gid in self.groups or (rule.id, leader) in self.open_groups:
            return
        group = self.groups[gid] = Group(gid, rule.id, leader, rule.group_size, ev.at, ev.at + rule.window_ms)
        self.open_groups[(rule.id, leader)] = gid
        effects.append(_changed("created", group))

    def order_paid(self, ev: Event, now: int, effects: list[Effect], host: CampaignState) -> None:
        """An order carrying `group_id` (new to the campaign): its payer joins the group if it counts."""
        group = self.groups.get(ev.group_id or "")
        if group is None or group.status != "open":
            return
        rule = self.group_rules.get(group.rule_id)
        if rule is None or ev.sku != rule.sku or not (group.created_at <= ev.at <= group.expires_at):
            return
        user = ev.user_id or ""
        if any(m.user_id == user for m in group.members):
            return
        group.members.append(GroupMember(user, ev.order_id or "", ev.at))
        self.group_of_order[ev.order_id or ""] = group.id
        if len(group.members) < group.group_size:
            effects.append(_changed("progress", group))
            return
        group.status = "completed"
        group.ended_at = ev.at
        self.open_groups.pop((group.rule_id, group.leader), None)
        for member in group.members:
            host._grant(rule.id, member.user_id, "member", rule.reward, ev, now, effects,
                        cause=f"group:{group.id}", order_id=member.order_id)
        effects.append(_changed("completed", group))

    def order_refunded(self, order_id: str, effects: list[Effect]) -> None:
        """Before completion a refund removes the member (after it, the state voids the member's reward)."""
        gid = self.group_of_order.get(order_id)
        if gid is None:
            return
        group = self.groups[gid]
        if group.status != "open":
            return
        group.members = [m for m in group.members if m.order_id != order_id]
        del self.group_of_order[order_id]
        effects.append(_changed("progress", group))
