"""When a reminder reaches a user: `before_minutes` before the start, out of the night.

A reminder whose time falls between 22:00 and 08:00 in the user's market time zone is sent at the
21:00 before it instead (so a reminder an hour before a 07:00 live arrives the evening before, not
at 06:00). These functions are pure: instants in epoch milliseconds, zones by IANA name.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from liveloop.kit.times import from_ms, to_ms
from liveloop.markets.catalogue import load_catalogue

QUIET_FROM = 22  # local hour at which quiet hours start
QUIET_UNTIL = 8  # local hour at which they end
EVENING = 21  # local hour a reminder that would fall in them is sent at instead
MINUTE_MS = 60_000


def quiet(moment: int, tz: str) -> bool:
    """Whether `moment` lies in the quiet hours [22:00, 08:00) of `tz`."""
    hour = from_ms(moment).astimezone(ZoneInfo(tz)).hour
    return hour >= QUIET_FROM or hour < QUIET_UNTIL


def due_at(nominal: int, tz: str) -> int:
    """When a reminder meant for `nominal` is sent to a user in `tz`."""
    zone = ZoneInfo(tz)
    local = from_ms(nominal).astimezone(zone)
    if QUIET_UNTIL <= local.hour < QUIET_FROM:
        return nominal
    evening_of = local.date() if local.hour >= QUIET_FROM else local.date() - timedelta(days=1)
    return to_ms(datetime.combine(evening_of, time(EVENING), tzinfo=zone))


@lru_cache(maxsize=1)
def market_zones() -> tuple[str, ...]:
    """Every market's time zone: a reminder's possible times are taken over all of them."""
    return tuple(sorted({market.timezone for market in load_catalogue().values()}))


def reminder_times(starts_at: int, before_minutes: int) -> list[int]:
    """Every time a reminder may be due for some market, earliest first (the nominal time last)."""
    nominal = starts_at - before_minutes * MINUTE_MS
    return sorted({due_at(nominal, tz) for tz in market_zones()} | {nominal})
