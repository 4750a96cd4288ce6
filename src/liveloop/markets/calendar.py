"""A market's calendar: public holidays from the `holidays` library plus the catalogue's peaks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

import holidays

from liveloop.kit.errors import Invalid
from liveloop.markets.catalogue import Peak, get_market

MIN_YEAR, MAX_YEAR = 2000, 2100  # the holidays library's Islamic tables end in 2100
MAX_DAYS = 366
_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Day:
    date: date
    name: str
    kind: str  # "public", "commercial" or "religious"

    def to_dict(self) -> dict[str, Any]:
        return {"date": self.date.isoformat(), "name": self.name, "kind": self.kind}


def calendar(code: str, start: date, end: date) -> list[dict[str, Any]]:
    """Holidays and peaks of a market from `start` to `end` inclusive, by date."""
    market = get_market(code)
    check_range(start, end)
    return [day.to_dict() for day in days(market.code, start, end)]


def check_range(start: date, end: date) -> None:
    if not MIN_YEAR <= start.year <= MAX_YEAR:
        raise Invalid(f"the calendar covers {MIN_YEAR}..{MAX_YEAR}", field="from")
    if end.year > MAX_YEAR:
        raise Invalid(f"the calendar covers {MIN_YEAR}..{MAX_YEAR}", field="to")
    if end < start:
        raise Invalid("'to' must not be before 'from'", field="to")
    if (end - start).days > MAX_DAYS:
        raise Invalid(f"a calendar covers at most {MAX_DAYS} days", field="to")


def days(code: str, start: date, end: date) -> list[Day]:
    """Calendar entries of an upper-case market code; the range is not checked."""
    return [day for year in range(start.year, end.year + 1) for day in _year(code, year) if start <= day.date <= end]


def ramadan_days(code: str, start: date, end: date) -> set[date]:
    """The days of Ramadan (1 Ramadan to the eve of Eid al-Fitr) from `start` to `end`."""
    found: set[date] = set()
    # A Ramadan that overlaps January may have begun in the previous Gregorian year.
    for year in range(start.year - 1, end.year + 1):
        for first, _ in islamic_dates(code, "ramadan_beginning", year):
            eids = [
                eid
                for eid_year in (year, year + 1)
                for eid, _ in islamic_dates(code, "eid_al_fitr", eid_year)
                if first < eid <= first + timedelta(days=31)
            ]
            last = (min(eids) if eids else first + timedelta(days=30)) - _DAY
            day = max(first, start)
            while day <= min(last, end):
                found.add(day)
                day += _DAY
    return found


@lru_cache(maxsize=2048)
def islamic_dates(code: str, key: str, year: int) -> tuple[tuple[date, str], ...]:
    """(date, qualifier) of an Islamic-calendar date in a Gregorian year, as the country observes it.

    `key` is one of catalogue.ISLAMIC_DATES. The country's own Islamic calendar in the holidays
    library knows each state's confirmed dates (Umm al-Qura in SA, sighting elsewhere).
    """
    helper = getattr(_islamic_calendar(code), f"{key}_dates", None)
    if helper is not None:
        return tuple(
            sorted({(day, " (estimated)" if estimated else "") for day, estimated in helper(year) if day.year == year})
        )
    # No Islamic calendar for this country in this holidays version: derive from its listed Eids.
    if key == "ramadan_beginning":
        # Ramadan lasts 29 or 30 days, so this is its first day or the day before.
        starts = (
            eid - timedelta(days=30)
            for eid_year in (year, year + 1)
            for eid, _ in islamic_dates(code, "eid_al_fitr", eid_year)
        )
        return tuple((day, " (approximate)") for day in starts if day.year == year)
    name = {"eid_al_fitr": "Eid al-Fitr", "eid_al_adha": "Eid al-Adha"}[key]
    listed = {day for day, holiday in _public_holidays(code, year) if name in holiday and "observed" not in holiday}
    return tuple((day, "") for day in sorted(listed) if day - _DAY not in listed)


@lru_cache(maxsize=64)
def _islamic_calendar(code: str) -> object | None:
    # A private attribute of the library's country classes, hence the fallback in islamic_dates.
    return getattr(holidays.country_holidays(code), "_islamic_calendar", None)


@lru_cache(maxsize=2048)
def _year(code: str, year: int) -> tuple[Day, ...]:
    market = get_market(code)
    renames = dict(market.holiday_names)
    found = [Day(day, renames.get(name, name), "public") for day, name in _public_holidays(code, year)]
    named = {(day.date, day.name.lower()) for day in found}
    for peak in market.peaks:
        # From the previous year too: an offset may carry a late-December peak into January.
        for day, qualifier in [*_peak_dates(code, peak, year - 1), *_peak_dates(code, peak, year)]:
            already = any(d == day and peak.name.lower() in n for d, n in named)
            if day.year == year and not already:
                found.append(Day(day, peak.name + qualifier, peak.kind))
    found.sort(key=lambda d: d.date)  # stable: public holidays first on a shared date
    return tuple(found)


@lru_cache(maxsize=2048)
def _public_holidays(code: str, year: int) -> tuple[tuple[date, str], ...]:
    # Copied into a tuple: a HolidayBase fills in years lazily, which is not thread-safe.
    language = "en_US" if "en_US" in holidays.list_localized_countries().get(code, ()) else None
    table = holidays.country_holidays(code, years=year, language=language)
    return tuple((day, name) for day in sorted(table) for name in table.get_list(day))


def _peak_dates(code: str, peak: Peak, year: int) -> list[tuple[date, str]]:
    if peak.islamic is not None:
        return list(islamic_dates(code, peak.islamic, year))
    assert peak.month is not None  # the catalogue refuses a peak without a rule
    if peak.day is not None:
        base = date(year, peak.month, peak.day)
    else:
        assert peak.weekday is not None and peak.nth is not None
        base = _nth_weekday(year, peak.month, peak.weekday, peak.nth)
    return [(base + timedelta(days=peak.offset_days), "")]


def _nth_weekday(year: int, month: int, weekday: int, nth: int) -> date:
    """The nth given weekday (Monday 0) of a month."""
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))
