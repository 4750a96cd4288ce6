"""Read models over a live campaign: a user's progress and the campaign report."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from liveloop.engine.audiences import KNOWN
from liveloop.engine.model import DrawRule, MilestoneRule
from liveloop.engine.state import CampaignState
from liveloop.kit import clock
from liveloop.kit.money import exponent, to_decimal_str
from liveloop.rewards.views import reward_read, spec_read
from liveloop.rooms.views import room_report
from liveloop.segments.service import segment_report


def progress(state: CampaignState, user_id: str, now: int) -> dict:
    config = state.config
    stats = state.stats(user_id)
    metrics = stats.metrics()
    person = state.participants.get(user_id)
    next_milestone = None
    for rule in config.rules:
        if not isinstance(rule, MilestoneRule):
            continue
        value = metrics[rule.metric]
        for tier in rule.tiers:
            if value < tier.at:
                candidate = {
                    "rule_id": rule.id,
                    "metric": rule.metric,
                    "at": to_decimal_str(tier.at, config.currency) if rule.metric == "gmv" else tier.at,
                    "remaining": (to_decimal_str(tier.at - value, config.currency) if rule.metric == "gmv"
                                  else tier.at - value),
                    "reward": {k: v for k, v in spec_read(tier.reward, config.currency).items() if v is not None},
                }
                if next_milestone is None or (tier.at - value) < next_milestone[0]:
                    next_milestone = (tier.at - value, candidate)
                break
    draws = []
    for rule in config.rules:
        if isinstance(rule, DrawRule):
            if rule.entry_metric is not None:
                eligible = metrics[rule.entry_metric] >= (rule.entry_at_least or 0)
            else:
                eligible = person is not None and person.shares > 0
            draws.append({"rule_id": rule.id, "period": rule.period, "eligible": eligible})
    return {
        "user_id": user_id,
        "referrer": person.referrer if person else None,
        "metrics": {**metrics, "gmv": Money(config.currency)(metrics["gmv"])},
        "score": to_decimal_str(state.score(user_id), config.currency)
        if config.leaderboard_metric == "gmv" else state.score(user_id),
        "rank": state.leaderboard.rank(user_id),
        "rewards": [reward_read(r, now) for r in state.rewards_by_user.get(user_id, ())],
        "next_milestone": next_milestone[1] if next_milestone else None,
        "draws": draws,
    }


class Money:
    """Renders campaign-currency minor units, converted into another currency when asked."""

    def __init__(self, currency: str, into: str | None = None, rate: Decimal | None = None) -> None:
        self.source = currency
        self.currency = into or currency
        self._rate = rate

    def __call__(self, minor: int | None) -> str | None:
        if minor is None or self._rate is None:
            return to_decimal_str(minor, self.currency)
        with localcontext() as context:
            context.prec = 80  # a campaign's sums times a rate can pass the default 28 digits
            major = Decimal(minor).scaleb(-exponent(self.source)) * self._rate
            return str(major.quantize(Decimal(1).scaleb(-exponent(self.currency)), rounding=ROUND_HALF_EVEN))


# The viral coefficient: new users brought in per user who could bring them. "Could" is holding an
# invite link of the campaign, whether or not anyone used it, so sharers whose links went nowhere
# weigh it down, as they should. Said in every report, next to the figure.
K_FACTOR_DEFINITION = ("referred users per user with an invite link (referred.users / inviters): "
                       "the viral coefficient; above 1, each sharer brings in more than one new viewer")


def report(state: CampaignState, *, names: dict[str, str | None], inviters: int, money: Money | None = None,
           now: int | None = None) -> dict:
    """The campaign report; `names` are the referrers' display names, `inviters` who holds an invite link."""
    money = money or Money(state.config.currency)
    referred = state.referred.as_dict()
    organic = state.organic.as_dict()
    funnel = {k: referred[k] + organic[k] for k in referred}
    rewards_by_user = state.rewards_by_user
    referrers = []
    for user_id, stats in state.referrers.items():
        issued = [r for r in rewards_by_user.get(user_id, ()) if r.status in ("available", "pending")]
        metrics = stats.metrics()
        referrers.append({
            "user_id": user_id,
            "display_name": names.get(user_id),
            **metrics,
            "gmv": money(metrics["gmv"]),
            "rewards": len(issued),
            "rank": state.leaderboard.rank(user_id),
        })
    referrers.sort(key=lambda row: (row["rank"] is None, row["rank"] or 0, row["user_id"]))
    return {
        "currency": money.currency,
        "funnel": {**funnel, "gmv": money(funnel["gmv"])},
        "referred": {**referred, "gmv": money(referred["gmv"])},
        "organic": {**organic, "gmv": money(organic["gmv"])},
        "referrers": referrers,
        "inviters": inviters,
        "k_factor": round(referred["users"] / inviters, 4) if inviters else None,
        "k_factor_definition": K_FACTOR_DEFINITION,
        "budget": {"total": money(state.config.budget), "used": money(state.budget_used)},
        "rewards": _reward_counts(state),
        "room": room_report(state, clock.now_ms() if now is None else now),
        "segments": _segments(state, money),
    }


def _segments(state: CampaignState, money: Money) -> dict:
    """Per segment an audience of the campaign's rules names (its latest version named), what its members did."""
    pinned: dict[str, int] = {}
    for _rule, segment_id, version in state.config.audiences:
        pinned[segment_id] = max(version, pinned.get(segment_id, 0))
    members = {sid: KNOWN.members((state.config.tenant_id, sid, version)) for sid, version in sorted(pinned.items())}
    return segment_report(state, members, money)


def _reward_counts(state: CampaignState) -> dict:
    counts: dict[str, int] = {}
    for reward in state.rewards.values():
        counts[reward.status] = counts.get(reward.status, 0) + 1
    return counts
