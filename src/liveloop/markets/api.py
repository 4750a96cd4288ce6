"""HTTP routes of the market catalogue, calendars and schedule suggestions (SPEC section 4)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from liveloop.kit import clock
from liveloop.markets import schedule
from liveloop.markets.calendar import MAX_YEAR, calendar, check_range
from liveloop.markets.catalogue import get_market, load_catalogue
from liveloop.markets.schemas import CalendarRead, MarketListRead, MarketRead, ScheduleSuggestionsRead

router = APIRouter(tags=["markets"])

DEFAULT_CALENDAR_DAYS = 30


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _day_as_instant(*, end: bool) -> Callable[[Any], Any]:
    """A plain date, as /calendar takes it, read in UTC: `from` at the day's start, `to` at its end."""

    def parse(value: Any) -> Any:
        if not (isinstance(value, str) and _DAY.match(value)):
            return value
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return value  # the date-time parser says what is wrong with it
        if end and day < date.max:
            day += timedelta(days=1)
        return datetime.combine(day, time(), UTC)

    return parse


def _date_or_instant(description: str) -> WithJsonSchema:
    return WithJsonSchema({
        "anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "format": "date"}],
        "description": f"an instant with a UTC offset, or a date (YYYY-MM-DD) read in UTC: {description}",
    })


RangeStart = Annotated[AwareDatetime, BeforeValidator(_day_as_instant(end=False)),
                       _date_or_instant("the first day, from its start")]
RangeEnd = Annotated[AwareDatetime, BeforeValidator(_day_as_instant(end=True)),
                     _date_or_instant("the last day, to its end (inclusive, as in /calendar)")]


class ScheduleSuggestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    markets: list[str] = Field(min_length=1, max_length=schedule.MAX_MARKETS, examples=[["ID", "SA", "DE"]])
    duration_minutes: int = Field(ge=schedule.MIN_DURATION, le=schedule.MAX_DURATION, examples=[90])
    from_: RangeStart = Field(alias="from", examples=["2027-03-01"])
    to: RangeEnd = Field(examples=["2027-03-07"])
    limit: int = Field(default=10, ge=1, le=schedule.MAX_LIMIT)


@router.get("/v1/markets", response_model=MarketListRead)
def list_markets() -> dict[str, Any]:
    return {"markets": [market.to_dict() for market in load_catalogue().values()]}


@router.get("/v1/markets/{code}", response_model=MarketRead)
def read_market(code: str) -> dict[str, Any]:
    return get_market(code).to_dict()


@router.get("/v1/markets/{code}/calendar", response_model=CalendarRead)
def read_calendar(
    code: str,
    from_: date | None = Query(default=None, alias="from", description="first day, default today in the market"),
    to: date | None = Query(default=None, description=f"last day, default {DEFAULT_CALENDAR_DAYS} days after from"),
) -> dict[str, Any]:
    market = get_market(code)
    start = from_ or clock.now().astimezone(market.zone).date()
    check_range(start, to or start)  # before the default is added to a date that may be far out
    end = to or min(start + timedelta(days=DEFAULT_CALENDAR_DAYS), date(MAX_YEAR, 12, 31))
    return {
        "market": market.code,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "days": calendar(market.code, start, end),
    }


@router.post("/v1/schedule/suggest", response_model=ScheduleSuggestionsRead)
def suggest_schedule(body: ScheduleSuggestCreate) -> dict[str, Any]:
    suggestions = schedule.suggest(body.markets, body.duration_minutes, body.from_, body.to, limit=body.limit)
    return {"suggestions": suggestions}
