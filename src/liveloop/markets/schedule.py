"""Suggest start times for a live that reach the chosen markets in their local prime time."""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from liveloop.kit.errors import Invalid, NotFound
from liveloop.markets.calendar import MAX_YEAR, MIN_YEAR, Day, days, ramadan_days
from liveloop.markets.catalogue import Market, get_market

SLOT = timedelta(minutes=30)
MAX_MARKETS = 10
MIN_DURATION, MAX_DURATION = 15, 600
MAX_RANGE = timedelta(days=31)
MAX_LIMIT = 100

Interval = tuple[int, int]  # [start, end) in epoch seconds


def suggest(
    markets: Sequence[str],
    duration_minutes: int,
    start: datetime,
    end: datetime,
    limit: int = 10,
) -> list[dict[str, Any]]:
    """Best start times first, each a distinct choice: another day or another part of the day.

    Every half hour (UTC) from `start` to `end - duration` is a candidate. A start's score is the mean
    over markets of the share of the live that falls in the market's local prime time (its Ramadan
    window on days of Ramadan). Neighbouring starts of equal score are one choice, not several: only
    the best start of each rise of the score is suggested, the earliest of its plateau, with the
    latest start that keeps the same score (`latest_start`). Equal scores go to the earlier start.
    Holidays the live touches are listed, not penalised: a holiday can be a peak or a dead day.
    """
    chosen = _check_markets(markets)
    duration = _check_duration(duration_minutes)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit must be 1..{MAX_LIMIT}", field="limit")
    lo, hi = _check_range(start, end, duration)

    seconds = int(duration.total_seconds())
    first = _ceil_to_slot(lo)
    last = int((hi - duration).timestamp())
    starts = range(int(first.timestamp()), last + 1, int(SLOT.total_seconds()))
    primes = {m.code: _prime_intervals(m, lo, hi) for m in chosen}

    def overlaps(at: int) -> dict[str, int]:
        return {code: _overlap(intervals, at, at + seconds) for code, intervals in primes.items()}

    # Scores share the denominator, so summed overlaps in whole seconds rank exactly.
    totals = [sum(overlaps(at).values()) for at in starts]
    best = heapq.nsmallest(limit, _peaks(starts, totals), key=lambda peak: (-peak[2], peak[0]))
    # A day either side of the range in UTC holds every local date the lives can touch.
    around = (lo - timedelta(days=1)).date(), (hi + timedelta(days=1)).date()
    calendars = {m.code: _by_date(days(m.code, *around)) for m in chosen}
    return [_suggestion(at, latest, seconds, chosen, overlaps(at), calendars) for at, latest, _total in best]


def _peaks(starts: range, totals: list[int]) -> list[tuple[int, int, int]]:
    """(first start, last start, total) of each run of equal totals that no neighbouring start beats."""
    peaks = []
    i, n = 0, len(totals)
    while i < n:
        j = i
        while j + 1 < n and totals[j + 1] == totals[i]:
            j += 1
        if (i == 0 or totals[i - 1] < totals[i]) and (j == n - 1 or totals[j + 1] < totals[i]):
            peaks.append((starts[i], starts[j], totals[i]))
        i = j + 1
    return peaks


def _check_markets(markets: Sequence[str]) -> list[Market]:
    if isinstance(markets, str) or not isinstance(markets, Sequence) or not markets:
        raise Invalid("give 1 to 10 market codes", field="markets")
    chosen: dict[str, Market] = {}
    for code in markets:
        try:
            market = get_market(code)
        except NotFound as exc:
            raise Invalid(exc.message, field="markets") from None
        chosen.setdefault(market.code, market)
    if len(chosen) > MAX_MARKETS:
        raise Invalid(f"give at most {MAX_MARKETS} markets", field="markets")
    return list(chosen.values())


def _check_duration(minutes: int) -> timedelta:
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not MIN_DURATION <= minutes <= MAX_DURATION:
        raise Invalid(f"duration_minutes must be {MIN_DURATION}..{MAX_DURATION}", field="duration_minutes")
    return timedelta(minutes=minutes)


def _check_range(start: datetime, end: datetime, duration: timedelta) -> tuple[datetime, datetime]:
    for value, field in ((start, "from"), (end, "to")):
        if value.tzinfo is None or value.utcoffset() is None:
            raise Invalid("date-time needs a UTC offset or Z", field=field)
        if not MIN_YEAR <= value.year <= MAX_YEAR:
            raise Invalid(f"date-time must lie in {MIN_YEAR}..{MAX_YEAR}", field=field)
    lo, hi = start.astimezone(UTC), end.astimezone(UTC)
    if hi - lo > MAX_RANGE:
        raise Invalid(f"the range covers at most {MAX_RANGE.days} days", field="to")
    if hi <= lo:
        raise Invalid("'to' must be after 'from'", field="to")
    if _ceil_to_slot(lo) + duration > hi:
        raise Invalid("the range must hold the live from a whole or half hour on", field="to")
    return lo, hi


def _ceil_to_slot(moment: datetime) -> datetime:
    floor = moment.replace(minute=moment.minute - moment.minute % 30, second=0, microsecond=0)
    return floor if floor == moment else floor + SLOT


def _prime_intervals(market: Market, lo: datetime, hi: datetime) -> list[Interval]:
    """The market's prime time from `lo` to `hi` as sorted, disjoint UTC intervals.

    Each local date's windows are placed on that date's wall clock, so a DST change moves them
    in UTC (and a window that spans the change is an hour shorter or longer).
    """
    zone = market.zone
    first = lo.astimezone(zone).date() - timedelta(days=1)  # yesterday's window may run past midnight
    last = hi.astimezone(zone).date()
    ramadan = ramadan_days(market.code, first, last) if market.ramadan_prime_time else set()
    raw: list[Interval] = []
    day = first
    while day <= last:
        for window in market.ramadan_prime_time if day in ramadan else market.prime_time:
            begin = datetime.combine(day, window.start, zone)
            finish = datetime.combine(day + timedelta(days=window.crosses_midnight), window.end, zone)
            raw.append((int(begin.timestamp()), int(finish.timestamp())))
        day += timedelta(days=1)
    merged: list[Interval] = []
    for begin, finish in sorted(raw):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], finish))
        elif finish > begin:
            merged.append((begin, finish))
    return merged


def _overlap(intervals: list[Interval], begin: int, finish: int) -> int:
    total = 0
    index = max(bisect_right(intervals, (begin, begin)) - 1, 0)  # the interval that may hold `begin`
    while index < len(intervals) and intervals[index][0] < finish:
        lo, hi = intervals[index]
        total += max(0, min(hi, finish) - max(lo, begin))
        index += 1
    return total


def _by_date(entries: list[Day]) -> dict[date, list[Day]]:
    grouped: dict[date, list[Day]] = {}
    for entry in entries:
        grouped.setdefault(entry.date, []).append(entry)
    return grouped


def _suggestion(
    at: int,
    latest: int,
    seconds: int,
    markets: list[Market],
    overlaps: dict[str, int],
    calendars: dict[str, dict[date, list[Day]]],
) -> dict[str, Any]:
    begin = datetime.fromtimestamp(at, UTC)
    finish = begin + timedelta(seconds=seconds)
    touched = []
    for market in markets:
        local_first = begin.astimezone(market.zone).date()
        local_last = (finish - timedelta(microseconds=1)).astimezone(market.zone).date()
        day = local_first
        while day <= local_last:
            for entry in calendars[market.code].get(day, []):
                touched.append({"market": market.code, **entry.to_dict()})
            day += timedelta(days=1)
    return {
        "start": _iso_utc(begin),
        "end": _iso_utc(finish),
        "latest_start": _iso_utc(datetime.fromtimestamp(latest, UTC)),
        "local": {m.code: begin.astimezone(m.zone).isoformat() for m in markets},
        "prime_time_coverage": {m.code: round(overlaps[m.code] / seconds, 3) for m in markets},
        "score": round(sum(overlaps.values()) / (seconds * len(markets)), 3),
        "holidays": touched,
    }


def _iso_utc(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
