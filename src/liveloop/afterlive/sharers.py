"""The sharer report (SPEC 12): what one user's links achieved in a campaign, and a thank-you in
their own words. The same read answers `GET .../sharers/{uid}/report`, is the `sharer.report`
message and fills the sharer's page."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from liveloop.afterlive import texts
from liveloop.engine.state import CampaignState
from liveloop.i18n.stream import viewer_locale
from liveloop.reports.views import Money
from liveloop.rewards.views import reward_read


@dataclass(slots=True)
class Referees:
    """Who each referrer brought and which of those ordered: computed once per read of a campaign."""

    by_referrer: dict[str, list[str]]
    ordered: set[str]

    @classmethod
    def of(cls, state: CampaignState) -> Referees:
        by_referrer: dict[str, list[str]] = {}
        for user_id, person in state.participants.items():  # in the order they first came
            if person.referrer is not None:
                by_referrer.setdefault(person.referrer, []).append(user_id)
        ordered = {order.user_id for order in state.orders.values() if not order.refunded}
        return cls(by_referrer, ordered)

    def of_user(self, user_id: str) -> list[str]:
        return self.by_referrer.get(user_id, [])


def sharers(state: CampaignState) -> list[str]:
    """Users with at least one click on their links (the `sharer.report` recipients), in a stable order."""
    return sorted(user_id for user_id, stats in state.referrers.items() if stats.clicks > 0)


def reader_locale(profile: Mapping, campaign_market: str) -> str:
    """The locale a user reads: their own, else their market's, else the campaign market's."""
    return viewer_locale(profile.get("locale"), profile.get("market") or campaign_market)


def sharer_report(state: CampaignState, user_id: str, *, campaign: dict, people: Mapping[str, Mapping],
                  referees: Referees, page_url: str, now: int) -> dict:
    """The report; `people` holds users/repository.py `profiles` of the sharer and their friends."""
    currency = state.config.currency
    metrics = state.stats(user_id).metrics()
    rank = state.leaderboard.rank(user_id)
    rewards = state.rewards_by_user.get(user_id, ())
    friends = []
    for friend in referees.of_user(user_id):
        profile = people.get(friend, {})
        public = profile.get("consents", {}).get("leaderboard_public") is True
        friends.append({
            "user_id": friend,
            # As on public leaderboards: a friend's name only with that friend's consent.
            "display_name": profile.get("display_name") if public else None,
            "joined": state.participants[friend].join_at is not None,
            "ordered": friend in referees.ordered,
        })
    earned = sum(1 for r in rewards if r.status in ("available", "pending"))
    tag = reader_locale(people.get(user_id, {}), campaign["market"])
    return {
        "user_id": user_id,
        "clicks": metrics["clicks"],
        "reservations": metrics["reservations"],
        "joins": metrics["joins"],
        "orders": metrics["orders"],
        "gmv": Money(currency)(metrics["gmv"]),
        "rank": rank,
        "rewards": [reward_read(r, now) for r in rewards],
        "friends": friends,
        "message": texts.thank_you(tag, title=campaign["title"], metrics=metrics, currency=currency, rank=rank,
                                   rewards=earned),
        "page_url": page_url,
    }


def people_needed(referees: Referees, user_ids: list[str]) -> list[str]:
    """The users whose profiles the reports of `user_ids` read: the sharers and their friends."""
    needed = dict.fromkeys(user_ids)
    for user_id in user_ids:
        needed.update(dict.fromkeys(referees.of_user(user_id)))
    return list(needed)
