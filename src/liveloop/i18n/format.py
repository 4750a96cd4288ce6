"""Money, numbers, dates and rewards as a viewer reads them: Babel, in the viewer's locale and time zone.

Each helper takes a locale tag (a user's `locale`, or `Choice.locale` from `negotiate`) and, for
instants, the time zone to show them in: the viewer's when known, else the campaign's.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_skeleton, format_time, get_timezone_name
from babel.numbers import format_currency, format_decimal, format_percent

from liveloop.i18n import choose, translate

Moment = datetime | int  # an aware datetime, or epoch milliseconds


def _locale(tag: str | Locale | None) -> Locale:
    return tag if isinstance(tag, Locale) else choose(tag).locale


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


def _local(moment: Moment, tz: str | ZoneInfo) -> datetime:
    if isinstance(moment, int):
        moment = datetime.fromtimestamp(moment / 1000, UTC)
    return moment.astimezone(_zone(tz))


def number(value: int | Decimal | str, tag: str | Locale | None) -> str:
    return format_decimal(Decimal(str(value)), locale=_locale(tag))


def percent(value: Decimal | str | int, tag: str | Locale | None) -> str:
    """A percentage given as in the API ("20" is 20 %), written the locale's way ("20%", "20 %", "٪20")."""
    return format_percent(Decimal(str(value)) / 100, locale=_locale(tag), decimal_quantization=False)


def money(amount: Decimal | str | int, currency: str, tag: str | Locale | None) -> str:
    """An amount in major units, as the API writes it ("25000", "4.50"), in the locale's currency format.

    Whole amounts are written without a fraction ("Rp25.000", "$5"), as shops advertise them;
    others with the currency's digits ("$4.50").
    """
    value, loc = Decimal(str(amount)), _locale(tag)
    if value != value.to_integral_value():
        return format_currency(value, currency, locale=loc)
    whole = copy.copy(loc.currency_formats["standard"])
    whole.frac_prec = (0, 0)
    return whole.apply(value, loc, currency=currency, currency_digits=False)


def day(value: Moment | date, tz: str | ZoneInfo, tag: str | Locale | None) -> str:
    """The local date, e.g. "Mon, Mar 1, 2027" or "الاثنين، 1 مارس 2027"."""
    local = value if isinstance(value, date) and not isinstance(value, datetime) else _local(value, tz).date()
    return format_skeleton("yMMMEd", local, locale=_locale(tag))


def instant(value: Moment, tz: str | ZoneInfo, tag: str | Locale | None) -> str:
    """The local date and time with the zone's name, e.g. "Mon, Mar 1, 2027, 8:00 AM EST"."""
    loc = _locale(tag)
    local = _local(value, tz)
    when = loc.datetime_formats["medium"].format(
        format_time(local, "short", tzinfo=local.tzinfo, locale=loc),
        format_skeleton("yMMMEd", local, tzinfo=local.tzinfo, locale=loc),
    )
    return f"{when} {zone_name(local, loc)}"


def zone_name(local: datetime, tag: str | Locale | None) -> str:
    """The zone's short name where the locale has a real one ("WIB", "EST", "MEZ"), else its long name."""
    loc = _locale(tag)
    short = get_timezone_name(local, "short", locale=loc)
    if short[:1] in ("+", "-") or (short.startswith("GMT") and short != "GMT"):
        return get_timezone_name(local, "long", locale=loc)
    return short


def reward(item: Mapping[str, Any], tag: str | Locale | None) -> str:
    """A reward (as the rewards API shows it) in words: "a $5.00 coupon", "50 points", "the “VIP” badge"."""
    loc = _locale(tag)
    lang = str(loc)
    kind = item["kind"]
    if kind == "coupon" and item.get("percent_off") is not None:
        return translate(lang, "reward.coupon_percent", percent=percent(item["percent_off"], loc))
    if kind in ("coupon", "cashback"):
        key = "reward.coupon_amount" if kind == "coupon" else "reward.cashback"
        return translate(lang, key, amount=money(item["amount"], item["currency"], loc))
    if kind == "points":
        return translate(lang, "reward.points", count=int(item["points"]))
    if kind in ("badge", "privilege"):
        return translate(lang, f"reward.{kind}", name=item["name"])
    return translate(lang, f"reward.{kind}")
