"""Currency conversion with the rates a tenant supplies, dated; pure lookups over a loaded table."""

from __future__ import annotations

from bisect import bisect_right
from decimal import ROUND_HALF_EVEN, Decimal

from liveloop.kit.limits import MAX_MINOR
from liveloop.kit.money import exponent


class RateTable:
    """One tenant's rates: for each (base, quote), the rates sorted by the day they apply from."""

    def __init__(self, rows: list[tuple[str, str, int, str]] = ()) -> None:
        self._dates: dict[tuple[str, str], list[int]] = {}
        self._rates: dict[tuple[str, str], list[Decimal]] = {}
        for base, quote, valid_from, rate in sorted(rows, key=lambda r: r[2]):
            self.add(base, quote, valid_from, Decimal(rate))

    def add(self, base: str, quote: str, valid_from: int, rate: Decimal) -> None:
        dates = self._dates.setdefault((base, quote), [])
        rates = self._rates.setdefault((base, quote), [])
        i = bisect_right(dates, valid_from)
        if i and dates[i - 1] == valid_from:
            rates[i - 1] = rate  # a day's rate supplied again replaces it
            return
        dates.insert(i, valid_from)
        rates.insert(i, rate)

    def rate(self, base: str, quote: str, at: int) -> Decimal | None:
        """The rate in force at `at` (the latest dated on or before it); the inverse pair serves too."""
        direct = self._lookup(base, quote, at)
        if direct is not None:
            return direct
        inverse = self._lookup(quote, base, at)
        return 1 / inverse if inverse else None

    def _lookup(self, base: str, quote: str, at: int) -> Decimal | None:
        dates = self._dates.get((base, quote))
        if not dates:
            return None
        i = bisect_right(dates, at)
        return self._rates[(base, quote)][i - 1] if i else None

    def convert(self, minor: int, base: str, quote: str, at: int) -> int | None:
        """`minor` units of `base` in minor units of `quote`, half to even; None without a rate.

        Raises OverflowError when the result passes MAX_MINOR: it could not be stored.
        """
        if base == quote:
            return minor
        rate = self.rate(base, quote, at)
        if rate is None:
            return None
        value = (Decimal(minor).scaleb(-exponent(base)) * rate).scaleb(exponent(quote))
        if value > MAX_MINOR:  # checked before quantize, which fails past 28 digits
            raise OverflowError(f"{minor} {base} minor units are more than {MAX_MINOR} {quote} minor units")
        return int(value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
