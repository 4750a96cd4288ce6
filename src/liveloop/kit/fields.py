"""Field types for the management API's schemas: the formats and bounds of kit/limits.py, for pydantic.

A value that breaks them is a 422 naming the field, raised while the body is validated: nothing
unbounded reaches arithmetic, and nothing that cannot be stored reaches the writer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

from liveloop.kit.ids import LINE_PATTERN, LINES_PATTERN
from liveloop.kit.limits import (
    AMOUNT_FRAC_DIGITS,
    AMOUNT_INT_DIGITS,
    MAX_COUNT,
    PERCENT_FRAC_DIGITS,
    RATE_FRAC_DIGITS,
    RATE_INT_DIGITS,
)
from liveloop.kit.money import AMOUNT_PATTERN, decimal_or_none, decimal_rule
from liveloop.kit.times import YEAR_RULE, year_in_range


def Line(max_length: int, *, min_length: int = 1, **extra: Any) -> Any:
    """One line of text: `min_length` to `max_length` characters, no control characters."""
    return Annotated[str, Field(min_length=min_length, max_length=max_length, pattern=LINE_PATTERN, **extra)]


def Lines(max_length: int, **extra: Any) -> Any:
    """Text that may break lines (tab, line feed, carriage return), no other control characters."""
    return Annotated[str, Field(max_length=max_length, pattern=LINES_PATTERN, **extra)]


# Money as the campaign's own currency writes it: decimal text only ("5.00").
Money = Annotated[str, Field(pattern=AMOUNT_PATTERN, examples=["5.00"])]

Count = Annotated[int, Field(ge=1, le=MAX_COUNT)]


def _decimal(int_digits: int, frac_digits: int) -> Callable[[object], Decimal]:
    rule = decimal_rule(int_digits, frac_digits)

    def parse(value: object) -> Decimal:
        if isinstance(value, float):
            value = repr(value)  # a JSON number with a fraction: judged by its plain text
        parsed = decimal_or_none(value, int_digits, frac_digits)
        if parsed is None:
            raise ValueError(f"must be {rule}")
        return parsed

    return parse


def _number_schema(int_digits: int, frac_digits: int, **bounds: object) -> WithJsonSchema:
    text = {"type": "string", "pattern": rf"^[0-9]{{1,{int_digits}}}(\.[0-9]{{1,{frac_digits}}})?$"}
    return WithJsonSchema({"anyOf": [text, {"type": "number", **bounds}]})


# A count, or an amount (milestone tiers: counts for most metrics, money for gmv).
Quantity = Annotated[Decimal, BeforeValidator(_decimal(AMOUNT_INT_DIGITS, AMOUNT_FRAC_DIGITS)),
                     _number_schema(AMOUNT_INT_DIGITS, AMOUNT_FRAC_DIGITS, exclusiveMinimum=0,
                                    maximum=10**AMOUNT_INT_DIGITS - 1)]
Percent = Annotated[Decimal, BeforeValidator(_decimal(3, PERCENT_FRAC_DIGITS)), Field(gt=0, le=100),
                    _number_schema(3, PERCENT_FRAC_DIGITS, exclusiveMinimum=0, maximum=100)]
Rate = Annotated[Decimal, BeforeValidator(_decimal(RATE_INT_DIGITS, RATE_FRAC_DIGITS)), Field(gt=0),
                 _number_schema(RATE_INT_DIGITS, RATE_FRAC_DIGITS, exclusiveMinimum=0,
                                exclusiveMaximum=10**RATE_INT_DIGITS)]


def _instant(value: object) -> datetime:
    # The same parser as events' `at`; pydantic's own would also take numbers as Unix times.
    if not isinstance(value, str) or len(value) > 64:
        raise ValueError("must be an ISO 8601 date-time such as 2027-03-01T20:00:00Z")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be an ISO 8601 date-time such as 2027-03-01T20:00:00Z") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("needs a UTC offset or Z")
    if not year_in_range(moment):
        raise ValueError(YEAR_RULE)
    return moment


def _day(value: date) -> date:
    if not year_in_range(value):
        raise ValueError(YEAR_RULE)
    return value


# An instant with an offset, in the years liveloop takes.
Instant = Annotated[datetime, BeforeValidator(_instant),
                    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2027-03-01T13:00:00Z"]})]
Day = Annotated[date, AfterValidator(_day)]
