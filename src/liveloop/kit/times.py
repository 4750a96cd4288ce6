"""Instants are integer milliseconds since the epoch inside liveloop; ISO 8601 at the edges."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from liveloop.kit.errors import Invalid
from liveloop.kit.limits import MAX_YEAR, MIN_YEAR

# Said by every refusal of an instant outside the years liveloop takes.
YEAR_RULE = f"a date-time must lie in the years {MIN_YEAR} to {MAX_YEAR}"


def year_in_range(moment: date) -> bool:
    """Checked before any arithmetic: year 1 or 9999 with an offset overflows when taken to UTC."""
    return MIN_YEAR <= moment.year <= MAX_YEAR


def parse_iso(value: object, *, field: str) -> int:
    """An ISO 8601 instant with an offset (or Z) to epoch milliseconds."""
    if not isinstance(value, str):
        raise Invalid("expected an ISO 8601 date-time such as 2027-03-01T20:00:00Z", field=field)
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid(f"not an ISO 8601 date-time: {value!r}", field=field) from None
    if parsed.tzinfo is None:
        raise Invalid("date-time needs a UTC offset or Z", field=field)
    if not year_in_range(parsed):
        raise Invalid(YEAR_RULE, field=field)
    return to_ms(parsed)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def iso(ms: int | None) -> str | None:
    """Epoch milliseconds to an ISO 8601 UTC string with millisecond precision."""
    if ms is None:
        return None
    return _iso(ms)


# A committed batch's rewards and messages share a handful of instants (its `now`, its events' times),
# each written many times over: the formatting was 5% of the event loop under a burst of pushes.
@lru_cache(maxsize=4096)
def _iso(ms: int) -> str:
    return from_ms(ms).isoformat(timespec="milliseconds").replace("+00:00", "Z")


DAY_MS = 86_400_000
