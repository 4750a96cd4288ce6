"""Draw periods and their committed seeds (pure: secret, window, time zone and `now` go in).

A seed is derived, not stored: HMAC-SHA256 of the server secret over (tenant, campaign, rule,
period). It is therefore fixed from the moment the campaign exists, long before its period opens,
every process computes the same one, and publishing its SHA-256 commits to it without revealing it.
"""

from __future__ import annotations

import hashlib
import hmac
from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from liveloop.kit.times import from_ms

# Every UTC offset in use today is a multiple of 15 minutes, so every local hour starts on this grid.
_GRID_MS = 15 * 60_000


@dataclass(frozen=True, slots=True)
class Period:
    name: str
    starts_at: int  # epoch ms, inclusive
    ends_at: int  # epoch ms, exclusive

    def status(self, now: int) -> str:
        """`scheduled` before it opens, `open` while it runs, `closed` after it ends."""
        if now < self.starts_at:
            return "scheduled"
        if now < self.ends_at:
            return "open"
        return "closed"


def seed(secret: str, *, tenant_id: str, campaign_id: str, rule_id: str, period: str) -> str:
    """The period's seed, as hex; revealed only when the period is run."""
    message = f"draw-seed|{tenant_id}|{campaign_id}|{rule_id}|{period}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def seed_hash(seed_text: str) -> str:
    """The public commitment: hex SHA-256 of the seed's UTF-8 text."""
    return hashlib.sha256(seed_text.encode()).hexdigest()


def periods(kind: str, starts_at: int, ends_at: int, timezone: str) -> tuple[Period, ...]:
    """A draw's periods: the whole window (`campaign`), or each local hour of it (`hour`).

    Hourly periods are named by their local start hour in `timezone`, `YYYY-MM-DDTHH`, and clipped
    to the campaign window. Across a daylight-saving change they follow the wall clock: an hour
    skipped when clocks spring forward has no period, and an hour that repeats when clocks fall
    back gives two periods, the second named with its UTC offset appended
    (`2027-11-07T01` then `2027-11-07T01-05:00` in America/New_York) so every name is distinct
    and the first keeps the plain name people expect.
    """
    if kind == "campaign":
        return (Period("campaign", starts_at, ends_at),)
    return _hours(starts_at, ends_at, timezone)


def named(kind: str, starts_at: int, ends_at: int, timezone: str, name: str) -> Period | None:
    """The period called `name`, or None when the draw has no such period."""
    return next((p for p in periods(kind, starts_at, ends_at, timezone) if p.name == name), None)


def containing(kind: str, starts_at: int, ends_at: int, timezone: str, at: int) -> Period | None:
    """The period an instant falls in, or None outside the campaign window."""
    found = periods(kind, starts_at, ends_at, timezone)
    i = bisect_right(_starts(found), at) - 1
    if i < 0 or at >= found[i].ends_at:
        return None
    return found[i]


@lru_cache(maxsize=1024)
def _starts(found: tuple[Period, ...]) -> list[int]:
    return [p.starts_at for p in found]


@lru_cache(maxsize=1024)
def _hours(starts_at: int, ends_at: int, timezone: str) -> tuple[Period, ...]:
    zone = ZoneInfo(timezone)
    out: list[Period] = []
    start = starts_at
    label = _local_hour(starts_at, zone)
    grid = (starts_at // _GRID_MS + 1) * _GRID_MS
    for t in range(grid, ends_at, _GRID_MS):
        here = _local_hour(t, zone)
        if here != label:
            out.append(Period(_name(label), start, t))
            start, label = t, here
    if start < ends_at:
        out.append(Period(_name(label), start, ends_at))
    return tuple(out)


def _local_hour(ms: int, zone: ZoneInfo) -> tuple[datetime, int, int]:
    """The local wall-clock hour of an instant, its UTC offset in seconds, and its fold.

    `fold` is 1 only for the second pass through wall-clock times that a fall-back change repeats.
    """
    local = from_ms(ms).astimezone(zone)
    offset = local.utcoffset()
    hour = local.replace(minute=0, second=0, microsecond=0, tzinfo=None, fold=0)
    return hour, int(offset.total_seconds()) if offset is not None else 0, local.fold


def _name(label: tuple[datetime, int, int]) -> str:
    hour, offset, fold = label
    name = hour.strftime("%Y-%m-%dT%H")
    if fold:
        sign = "-" if offset < 0 else "+"
        minutes = abs(offset) // 60
        name += f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    return name
