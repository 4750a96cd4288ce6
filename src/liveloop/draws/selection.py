"""Who entered a draw period and who won it (pure: the campaign state, the period and the seed go in).

The algorithm is written down for outsiders in docs/draws.md; `liveloop draw verify`
(draws/verify.py) recomputes it with code of its own, so the two check each other.

Winners: every entrant gets the ticket SHA-256(seed + "\\n" + user_id) (UTF-8); the `winners`
lowest tickets, compared as unsigned big-endian numbers, win, lowest first. Each ticket depends
only on the seed and that entrant's id, so the odds are equal for every entrant however they
entered, adding or removing one entrant cannot reorder the others, and anyone can check one
ticket with `sha256sum`. The seed is committed (its hash is public) before the period opens and
revealed only at the run, after the entrant list is fixed.
"""

from __future__ import annotations

import hashlib
import heapq
from bisect import bisect_left
from collections.abc import Iterable

from liveloop.draws.periods import Period
from liveloop.engine.model import DrawRule
from liveloop.engine.state import CampaignState

ALGORITHM = "sha256-rank-v1"
_FOREVER = -(2**62)


def ordered(user_ids: Iterable[str]) -> list[str]:
    """Entrants in their published order: by the UTF-8 bytes of the user id."""
    return sorted(set(user_ids), key=str.encode)


def entrant_text(entrants: list[str]) -> str:
    """The published entrant list: each user id followed by a newline (ids hold no control characters)."""
    return "".join(f"{user_id}\n" for user_id in entrants)


def entrants_hash(entrants: list[str]) -> str:
    return hashlib.sha256(entrant_text(entrants).encode()).hexdigest()


def ticket(seed: str, user_id: str) -> bytes:
    return hashlib.sha256(f"{seed}\n{user_id}".encode()).digest()


def pick_winners(seed: str, entrants: list[str], count: int) -> list[str]:
    """The `count` entrants with the lowest tickets, lowest first (ties, never seen, by user id bytes)."""
    return heapq.nsmallest(count, entrants, key=lambda user_id: (ticket(seed, user_id), user_id.encode()))


def entrants(state: CampaignState, rule: DrawRule, period: Period, free: Iterable[str] = ()) -> list[str]:
    """Everyone entered in `period`: qualified by metric or share, or by a free entry; fraud excluded.

    - `{"event": "share"}`: a `share` event whose `at` lies in the period.
    - `{"metric": M, "at_least": N}`, period `campaign`: M counted over the qualifying events with
      `at` up to the campaign's end (reservations before the start, joins in the window, orders paid
      by then less refunds) is at least N.
    - the same for an hourly period: M counted over the qualifying events with `at` in that hour.
    """
    found = set(free)
    if rule.entry_event == "share":
        found.update(_sharers(state, period.starts_at, period.ends_at))
    elif rule.entry_metric is not None:
        if period.name == "campaign":
            lo, hi = _FOREVER, state.config.ends_at + 1
        else:
            lo, hi = period.starts_at, period.ends_at
        found.update(_qualified(state, rule.entry_metric, rule.entry_at_least or 1, lo, hi))
    return ordered(found - flagged_for_fraud(state))


def flagged_for_fraud(state: CampaignState) -> set[str]:
    """Users with a reward of the campaign voided or declined for fraud."""
    return {r.user_id for r in state.rewards.values() if r.reason == "fraud" and r.status in ("void", "declined")}


def _sharers(state: CampaignState, lo: int, hi: int) -> list[str]:
    out = []
    for user_id, times in state.share_times.items():
        i = bisect_left(times, lo)
        if i < len(times) and times[i] < hi:
            out.append(user_id)
    return out


def _qualified(state: CampaignState, metric: str, at_least: int, lo: int, hi: int) -> list[str]:
    """Referrers whose metric over qualifying events with `lo <= at < hi` reaches `at_least`."""
    if metric == "gmv":
        totals: dict[str, int] = {}
        for order in state.orders.values():
            if order.referrer and not order.refunded and order.amount is not None and lo <= order.at < hi:
                totals[order.referrer] = totals.get(order.referrer, 0) + order.amount
        return [user_id for user_id, total in totals.items() if total >= at_least]
    out = []
    for user_id, stats in state.referrers.items():
        if metric == "orders":
            times = stats.order_times
            count = bisect_left(times, (hi, "")) - bisect_left(times, (lo, ""))
        else:
            times = stats.reservation_times if metric == "reservations" else stats.join_times
            count = bisect_left(times, hi) - bisect_left(times, lo)
        if count >= at_least:
            out.append(user_id)
    return out
