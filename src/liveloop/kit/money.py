"""Money as integer minor units plus an ISO 4217 code; decimal strings at the edges."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import cache, lru_cache

from babel.numbers import get_currency_precision, list_currencies

from liveloop.kit.errors import Invalid


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


def to_minor(value: object, currency: str, *, field: str = "amount") -> int:
    """Parse a decimal string (or int) into minor units, rounding half to even."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise Invalid("money must be a decimal string such as \"12.50\"", field=field)
    try:
        amount = Decimal(value) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        raise Invalid(f"not a decimal amount: {value!r}", field=field) from None
    if not amount.is_finite():
        raise Invalid(f"not a finite amount: {value!r}", field=field)
    if amount < 0:
        raise Invalid("amount must not be negative", field=field)
    scaled = amount.scaleb(exponent(currency)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    if scaled > 10**15:
        raise Invalid("amount is too large", field=field)
    return int(scaled)


def to_decimal_str(minor: int | None, currency: str) -> str | None:
    if minor is None:
        return None
    exp = exponent(currency)
    if exp == 0:
        return str(minor)
    return str(Decimal(minor).scaleb(-exp).quantize(Decimal(1).scaleb(-exp)))


def percent_of(minor: int, percent: Decimal) -> int:
    """`percent` % of an amount in minor units, rounded half to even at the minor unit."""
    return int((Decimal(minor) * percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
