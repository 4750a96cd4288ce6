"""Money as integer minor units plus an ISO 4217 code; decimal strings at the edges."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache, lru_cache

from babel.numbers import get_currency_precision, list_currencies

from liveloop.kit.errors import Invalid
from liveloop.kit.limits import AMOUNT_FRAC_DIGITS, AMOUNT_INT_DIGITS

# ASCII digits only: Decimal() itself also takes "1e999999" (whose int() takes the loop for minutes),
# "1_000", " 12 " and other scripts' digits. \Z, not $: "$" also matches before a final newline.
_DECIMAL = re.compile(r"([0-9]+)(?:\.([0-9]+))?\Z")
# The same, for pydantic fields and the OpenAPI document (their regular expressions' $ is the very end).
AMOUNT_PATTERN = rf"^[0-9]{{1,{AMOUNT_INT_DIGITS}}}(\.[0-9]{{1,{AMOUNT_FRAC_DIGITS}}})?$"


@cache
def known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


@lru_cache(maxsize=512)
def exponent(currency: str) -> int:
    """ISO 4217 minor-unit exponent (JPY 0, USD 2, ...), from Babel's CLDR data."""
    return get_currency_precision(currency)


def check_currency(currency: object, *, field: str = "currency") -> str:
    if not isinstance(currency, str) or currency not in known_currencies():
        raise Invalid(f"unknown ISO 4217 currency {currency!r}", field=field)
    return currency


def decimal_or_none(value: object, int_digits: int = AMOUNT_INT_DIGITS,
                    frac_digits: int = AMOUNT_FRAC_DIGITS) -> Decimal | None:
    """A non-negative decimal in exactly the documented form, or None.

    Text of ASCII digits with an optional fraction ("1234.50"), at most `int_digits` before the
    point and `frac_digits` after, or an integer below 10^int_digits. Its size is known before any
    arithmetic is done with it.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value) if 0 <= value < 10**int_digits else None
    if not isinstance(value, str) or len(value) > int_digits + frac_digits + 1:
        return None
    match = _DECIMAL.match(value)
    if match is None or len(match.group(1)) > int_digits or len(match.group(2) or "") > frac_digits:
        return None
    return Decimal(value)


def decimal_rule(int_digits: int = AMOUNT_INT_DIGITS, frac_digits: int = AMOUNT_FRAC_DIGITS) -> str:
    """What `decimal_or_none` accepts, said for an error message."""
    return (f"a decimal such as \"12.50\": digits 0-9, at most {int_digits} before the point and "
            f"{frac_digits} after, no sign, exponent or spaces")


def to_minor(value: object, currency: str, *, field: str = "amount") -> int:
    """Parse a decimal string (or an integer) into minor units, rounding half to even."""
    amount = decimal_or_none(value)
    if amount is None:
        raise Invalid(f"{field} must be {decimal_rule()}", field=field)
    return int(amount.scaleb(exponent(currency)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def to_decimal_str(minor: int | None, currency: str) -> str | None:
    if minor is None:
        return None
    exp = exponent(currency)
    if exp == 0:
        return str(minor)
    # Integer arithmetic: exact for sums of any size (Decimal's quantize fails past 28 digits).
    whole, cents = divmod(abs(minor), 10**exp)
    return f"{'-' if minor < 0 else ''}{whole}.{cents:0{exp}d}"


def percent_of(minor: int, percent: Decimal) -> int:
    """`percent` % of an amount in minor units, rounded half to even at the minor unit."""
    return int((Decimal(minor) * percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
