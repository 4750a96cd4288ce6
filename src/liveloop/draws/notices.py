"""Telling viewers they entered or won a draw: a subscriber of committed effects.

Every process sees a draw's committed effects exactly once per logged event: the one that ran the
draw when it applies the `draw_win` events, every other one when it catches up with the log. So
each process tells the viewers connected to it, once.
"""

from __future__ import annotations

from collections.abc import Callable

from liveloop.draws import periods as draw_periods
from liveloop.draws import service
from liveloop.draws.periods import Period
from liveloop.engine.model import DrawEntered, DrawRule, Reward, RewardIssued, Shared
from liveloop.events.committed import Committed, FreeEntryAdded
from liveloop.events.live import LiveCampaign
from liveloop.kit import clock
from liveloop.kit.errors import NotFound
from liveloop.kit.times import iso
from liveloop.rewards.views import spec_read

# Queues a message on one viewer's streams: (tenant_id, campaign_id, user_id), payload.
ViewerPublish = Callable[[tuple[str, str, str], dict], None]


def draw_rule(live: LiveCampaign, rule_id: str) -> DrawRule:
    rule = next((r for r in live.state.config.rules if r.id == rule_id), None)
    if not isinstance(rule, DrawRule):
        raise NotFound(f"draw {rule_id!r} not found in campaign {live.state.config.id!r}", field="rule_id")
    return rule


def rule_periods(live: LiveCampaign, rule: DrawRule) -> tuple[Period, ...]:
    config = live.state.config
    return draw_periods.periods(rule.period, config.starts_at, config.ends_at, live.body["timezone"])


def won_period(live: LiveCampaign, reward: Reward) -> tuple[DrawRule, str] | None:
    """The draw and period a winner's prize was drawn in (its cause, `draw_win`, is named after the period)."""
    config = live.state.config
    rule = draw_rule(live, reward.rule_id)
    period = next((p.name for p in rule_periods(live, rule)
                   if service.draw_event_id(config.id, rule.id, p.name, reward.user_id) == reward.cause_event_id),
                  None)
    return None if period is None else (rule, period)


class DrawNotices:
    """`draw_entered` (a first share in a period, a metric past `at_least`, a free entry) and `draw_won`."""

    def __init__(self, publish: ViewerPublish) -> None:
        self._publish = publish

    def __call__(self, committed: Committed) -> None:
        for live, effect in committed.effects:
            cls = type(effect)
            if cls is Shared:
                self._shared(live, effect)
            elif cls is DrawEntered:
                self._entered(live, effect.user_id, draw_rule(live, effect.rule_id), "campaign", "metric")
            elif cls is FreeEntryAdded:
                self._entered(live, effect.user_id, draw_rule(live, effect.rule_id), effect.period, "free")
            elif cls is RewardIssued and effect.reward.role == "winner":
                self._won(live, effect.reward)

    def _won(self, live: LiveCampaign, reward: Reward) -> None:
        found = won_period(live, reward)
        if found is None:
            return
        rule, period = found
        config = live.state.config
        self._publish((config.tenant_id, config.id, reward.user_id), {
            "type": "draw_won", "rule_id": rule.id, "period": period,
            "prize": spec_read(rule.prize, config.currency), "reward_id": reward.id, "status": reward.status,
            "at": iso(reward.created_at)})

    def _shared(self, live: LiveCampaign, effect: Shared) -> None:
        config = live.state.config
        times = live.state.share_times.get(effect.user_id, ())
        for rule in config.rules:
            if not isinstance(rule, DrawRule) or rule.entry_event != "share":
                continue
            period = draw_periods.containing(rule.period, config.starts_at, config.ends_at, live.body["timezone"],
                                             effect.at)
            if period is None:
                continue
            # The user's earliest share in the period is the one that entered them.
            first = next((t for t in times if t >= period.starts_at), None)
            if first == effect.at:
                self._entered(live, effect.user_id, rule, period.name, "share")

    def _entered(self, live: LiveCampaign, user_id: str, rule: DrawRule, period: str, via: str) -> None:
        config = live.state.config
        self._publish((config.tenant_id, config.id, user_id), {
            "type": "draw_entered", "rule_id": rule.id, "period": period, "via": via,
            "prize": spec_read(rule.prize, config.currency), "at": iso(clock.now_ms())})
