"""The market catalogue: currency, time zones, locales, prime time and policy per market.

The facts live in catalogue.json so that adding a market or correcting a law is a data change.
The file is validated when it is first loaded, so a typo fails at start-up, not in a request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError

from liveloop.kit.errors import Invalid, NotFound
from liveloop.kit.money import check_currency, to_minor
from liveloop.markets.content import lexicons

REGIONS = ("SEA", "MENA", "EU", "UK", "NA")
PEAK_KINDS = ("commercial", "religious")
# Dates the holidays library's Islamic calendar can give (it has a `<name>_dates(year)` helper).
ISLAMIC_DATES = ("ramadan_beginning", "eid_al_fitr", "eid_al_adha")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
POLICY_FLAGS = (
    "draw_permit_required",
    "promo_permit_required",
    "purchase_linked_draw_forbidden",
    "free_entry_required",
    "sharing_may_be_required",
    "leaderboard_mask_names_without_consent",
    "rtl",
)
# The flags that restrict a campaign, with the value that puts each in force.
RESTRICTING = {
    "draw_permit_required": True,
    "promo_permit_required": True,
    "purchase_linked_draw_forbidden": True,
    "free_entry_required": True,
    "sharing_may_be_required": False,
    "leaderboard_mask_names_without_consent": True,
}
# Every restriction (a flag above, or a policy value that is set) and the code of the rule it
# enforces: the code a refusal carries and a waiver names. A policy cites a basis and a source for
# each restriction in force.
RULE_CODES = {
    "draw_permit_required": "policy.permit_required",
    "promo_permit_required": "policy.promo_permit_required",
    "purchase_linked_draw_forbidden": "policy.purchase_linked_draw",
    "free_entry_required": "policy.free_entry_required",
    "sharing_may_be_required": "policy.sharing_required",
    "leaderboard_mask_names_without_consent": "policy.leaderboard_masking",
    "promo_value_limit": "policy.promo_value_limit",
    "draw_period_max_days": "policy.draw_period_limit",
    "draw_conditions": "policy.draw_conditions",
    "content": "policy.content",
}
CITABLE = tuple(RULE_CODES)
LAW, DEFAULT = "law", "default"
_MARKET_KEYS = frozenset(
    {
        "code",
        "name",
        "region",
        "currency",
        "timezone",
        "timezones",
        "locales",
        "default_locale",
        "prime_time",
        "ramadan_prime_time",
        "payment_methods",
        "policy",
        "peaks",
        "holiday_names",
    }
)
_PEAK_RULES = ({"month", "day"}, {"month", "weekday", "nth"}, {"islamic"})
_REQUIRED_KEYS = _MARKET_KEYS - {"timezones", "ramadan_prime_time", "peaks", "holiday_names"}


class CatalogueError(ValueError):
    """catalogue.json contradicts itself or names a currency, zone or locale that does not exist."""


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A daily local window; one whose end is not after its start ends the next day."""

    start: time
    end: time

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    def to_dict(self) -> dict[str, str]:
        return {"from": self.start.strftime("%H:%M"), "to": self.end.strftime("%H:%M")}


@dataclass(frozen=True, slots=True)
class Peak:
    """A dated moment computed each year: a fixed day, the nth weekday of a month, or an Islamic date."""

    name: str
    kind: str
    month: int | None = None
    day: int | None = None
    weekday: int | None = None  # Monday is 0
    nth: int | None = None  # 1..4
    offset_days: int = 0
    islamic: str | None = None


@dataclass(frozen=True, slots=True)
class PromoValueLimit:
    percent: int
    programme_percent: int | None = None  # the limit inside a state-run promotion programme


@dataclass(frozen=True, slots=True)
class Threshold:
    """An amount in a currency: a permit is needed only when a draw's prizes total more than it."""

    amount: str
    currency: str


@dataclass(frozen=True, slots=True)
class Cite:
    """Why a restriction is in force: a law (`source` is one of the market's sources) or liveloop's default."""

    basis: str  # LAW or DEFAULT
    source: str


@dataclass(frozen=True, slots=True)
class Rule:
    """A restriction in force in a market, as the API and docs/markets.md list it."""

    code: str
    restriction: str
    basis: str
    source: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "restriction": self.restriction, "basis": self.basis, "source": self.source}


@dataclass(frozen=True, slots=True)
class ContentPolicy:
    """Lexicon categories (markets/lexicons/*.json) that refuse a campaign, and those that only warn."""

    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, list[str]]:
        return {"errors": list(self.errors), "warnings": list(self.warnings)}


@dataclass(frozen=True, slots=True)
class MarketPolicy:
    draw_permit_required: bool
    purchase_linked_draw_forbidden: bool
    free_entry_required: bool
    sharing_may_be_required: bool
    leaderboard_mask_names_without_consent: bool
    promo_value_limit: PromoValueLimit | None
    rtl: bool
    sources: tuple[str, ...]
    content: ContentPolicy = ContentPolicy()
    cites: tuple[tuple[str, Cite], ...] = ()  # restriction (a CITABLE name) -> its basis and source
    promo_permit_required: bool = False  # discounts and premiums need a permit for the whole campaign
    draw_permit_above: Threshold | None = None  # draws need their permit only when their prizes total more
    permit_authority: str | None = None  # what a required permit is and who grants it
    draw_period_max_days: int | None = None
    draw_conditions: str | None = None  # conditions on draws liveloop cannot check: a warning on each draw

    def cite(self, restriction: str) -> Cite:
        """The basis and source of a restriction in force (the catalogue guarantees there is one)."""
        return dict(self.cites)[restriction]

    def in_force(self) -> list[str]:
        """The restrictions in force, in CITABLE order."""
        active = {flag for flag, value in RESTRICTING.items() if getattr(self, flag) is value}
        for name in ("promo_value_limit", "draw_period_max_days", "draw_conditions"):
            if getattr(self, name) is not None:
                active.add(name)
        if self.content.errors or self.content.warnings:
            active.add("content")
        return [name for name in CITABLE if name in active]

    def rules(self) -> tuple[Rule, ...]:
        """Every rule in force, with its code, basis and source."""
        cites = dict(self.cites)
        return tuple(Rule(RULE_CODES[name], name, cites[name].basis, cites[name].source) for name in self.in_force())

    def rule(self, code: str) -> Rule | None:
        """The rule in force here with this code, if there is one."""
        return next((rule for rule in self.rules() if rule.code == code), None)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {flag: getattr(self, flag) for flag in POLICY_FLAGS}
        limit = self.promo_value_limit
        body["promo_value_limit"] = None if limit is None else {
            "percent": limit.percent, "programme_percent": limit.programme_percent,
            "source": self.cite("promo_value_limit").source}
        above = self.draw_permit_above
        body["draw_permit_above"] = None if above is None else {"amount": above.amount, "currency": above.currency}
        body["permit_authority"] = self.permit_authority
        body["draw_period_max_days"] = self.draw_period_max_days
        body["draw_conditions"] = self.draw_conditions
        body["content"] = self.content.to_dict()
        body["cites"] = {name: cite.source for name, cite in self.cites}
        body["rules"] = [rule.to_dict() for rule in self.rules()]
        body["sources"] = list(self.sources)
        return body


@dataclass(frozen=True, slots=True)
class Market:
    code: str
    name: str
    region: str
    currency: str
    timezone: str  # the primary zone: local times and prime time are computed in it
    timezones: tuple[str, ...]
    locales: tuple[str, ...]
    default_locale: str
    prime_time: tuple[TimeWindow, ...]
    ramadan_prime_time: tuple[TimeWindow, ...]  # replaces prime_time on days of Ramadan
    payment_methods: tuple[str, ...]
    policy: MarketPolicy
    peaks: tuple[Peak, ...]
    holiday_names: tuple[tuple[str, str], ...]  # the holidays library's name -> the local name

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "region": self.region,
            "currency": self.currency,
            "timezone": self.timezone,
            "timezones": list(self.timezones),
            "locales": list(self.locales),
            "default_locale": self.default_locale,
            "prime_time": [w.to_dict() for w in self.prime_time],
            "ramadan_prime_time": [w.to_dict() for w in self.ramadan_prime_time],
            "payment_methods": list(self.payment_methods),
            "policy": self.policy.to_dict(),
        }


@lru_cache(maxsize=1)
def load_catalogue() -> Mapping[str, Market]:
    """All markets by code, in catalogue order; read and validated once."""
    text = resources.files("liveloop.markets").joinpath("catalogue.json").read_text("utf-8")
    return parse_catalogue(json.loads(text))


def get_market(code: str) -> Market:
    market = load_catalogue().get(code.strip().upper()) if isinstance(code, str) else None
    if market is None:
        raise NotFound(f"unknown market {code}")
    return market


def parse_catalogue(raw: Mapping[str, Any]) -> Mapping[str, Market]:
    """Build and validate the catalogue from its JSON document; CatalogueError names the culprit."""
    profiles = raw.get("profiles", {})
    unknown_regions = set(profiles) - set(REGIONS)
    if unknown_regions:
        raise CatalogueError(f"profiles for unknown regions {sorted(unknown_regions)}")
    markets: dict[str, Market] = {}
    for entry in raw["markets"]:
        code = entry.get("code", "?")
        try:
            market = _parse_market(entry, profiles)
        except CatalogueError as exc:
            raise CatalogueError(f"market {code}: {exc}") from None
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise CatalogueError(f"market {code}: malformed entry ({exc!r})") from None
        if market.code in markets:
            raise CatalogueError(f"market {code} is listed twice")
        markets[market.code] = market
    return MappingProxyType(markets)


def _parse_market(entry: Mapping[str, Any], profiles: Mapping[str, Any]) -> Market:
    profile = profiles.get(entry.get("region"), {})
    profile_policy, own_policy = profile.get("policy", {}), entry.get("policy", {})
    cites = {**profile_policy.get("cites", {}), **own_policy.get("cites", {})}
    policy = {**profile_policy, **own_policy, "cites": cites}
    merged = {**profile, **entry, "policy": policy}
    unknown = set(merged) - _MARKET_KEYS
    missing = _REQUIRED_KEYS - set(merged)
    if unknown or missing:
        raise CatalogueError(f"unknown keys {sorted(unknown)}, missing keys {sorted(missing)}")

    code = merged["code"]
    if not (isinstance(code, str) and len(code) == 2 and code.isascii() and code.isupper()):
        raise CatalogueError("code must be an upper-case ISO 3166 alpha-2 code")
    if merged["region"] not in REGIONS:
        raise CatalogueError(f"region must be one of {REGIONS}")
    try:
        check_currency(merged["currency"])
    except Invalid as exc:
        raise CatalogueError(exc.message) from None

    timezone = merged["timezone"]
    timezones = tuple(merged.get("timezones", [timezone]))
    if timezone not in timezones:
        raise CatalogueError("the primary timezone must be listed in timezones")
    for zone in timezones:
        _check_zone(zone)

    locales = tuple(merged["locales"])
    for tag in locales:
        _check_locale(tag)
    default_locale = merged["default_locale"]
    if default_locale not in locales:
        raise CatalogueError("default_locale must be one of locales")

    policy = _parse_policy(merged["policy"])
    # The rtl flag drives the widget's layout, so it must agree with the language's script.
    script_rtl = Locale.parse(default_locale, sep="-").character_order == "right-to-left"
    if policy.rtl != script_rtl:
        raise CatalogueError(f"policy.rtl is {policy.rtl} but {default_locale} is not")

    prime_time = _parse_windows(merged["prime_time"], "prime_time")
    if not prime_time:
        raise CatalogueError("prime_time needs at least one window")
    return Market(
        code=code,
        name=_text(merged["name"], "name"),
        region=merged["region"],
        currency=merged["currency"],
        timezone=timezone,
        timezones=timezones,
        locales=locales,
        default_locale=default_locale,
        prime_time=prime_time,
        ramadan_prime_time=_parse_windows(merged.get("ramadan_prime_time", []), "ramadan_prime_time"),
        payment_methods=tuple(_text(m, "payment_methods") for m in merged["payment_methods"]),
        policy=policy,
        peaks=tuple(_parse_peak(p) for p in merged.get("peaks", [])),
        holiday_names=tuple(
            (_text(k, "holiday_names"), _text(v, "holiday_names")) for k, v in merged.get("holiday_names", {}).items()
        ),
    )


def _parse_policy(raw: Mapping[str, Any]) -> MarketPolicy:
    unknown = set(raw) - {*POLICY_FLAGS, *_POLICY_VALUES, "sources", "content", "cites"}
    if unknown:
        raise CatalogueError(f"unknown policy keys {sorted(unknown)}")
    for flag in POLICY_FLAGS:
        if not isinstance(raw.get(flag), bool):
            raise CatalogueError(f"policy.{flag} must be true or false")
    sources = tuple(_text(s, "policy.sources") for s in raw.get("sources", []))
    if not sources:
        raise CatalogueError("policy.sources must cite at least one law or regulator")
    policy = MarketPolicy(
        **{flag: raw[flag] for flag in POLICY_FLAGS},
        promo_value_limit=_parse_limit(raw.get("promo_value_limit")),
        sources=sources,
        content=_parse_content(raw.get("content", {})),
        cites=tuple(sorted(_parse_cites(raw.get("cites", {})).items())),
        draw_permit_above=_parse_threshold(raw.get("draw_permit_above")),
        permit_authority=None if raw.get("permit_authority") is None else _text(raw["permit_authority"],
                                                                                  "policy.permit_authority"),
        draw_period_max_days=_parse_days(raw.get("draw_period_max_days")),
        draw_conditions=None if raw.get("draw_conditions") is None else _text(raw["draw_conditions"],
                                                                                "policy.draw_conditions"),
    )
    if (policy.draw_permit_required or policy.promo_permit_required) != (policy.permit_authority is not None):
        raise CatalogueError("policy.permit_authority says what a required permit is, and only where one is required")
    if policy.draw_permit_above is not None and not policy.draw_permit_required:
        raise CatalogueError("policy.draw_permit_above needs draw_permit_required")
    _check_cites(policy)
    return policy


_POLICY_VALUES = ("promo_value_limit", "draw_permit_above", "permit_authority", "draw_period_max_days",
                  "draw_conditions")


def _percent(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 100:
        raise CatalogueError(f"{field} must be 1..100")
    return value


def _parse_limit(raw: Mapping[str, Any] | None) -> PromoValueLimit | None:
    if raw is None:
        return None
    if set(raw) - {"percent", "programme_percent"}:
        raise CatalogueError('policy.promo_value_limit looks like {"percent": 50, "programme_percent": 100}')
    percent = _percent(raw.get("percent"), "policy.promo_value_limit.percent")
    programme = raw.get("programme_percent")
    if programme is not None and _percent(programme, "policy.promo_value_limit.programme_percent") < percent:
        raise CatalogueError("policy.promo_value_limit.programme_percent must not be below percent")
    return PromoValueLimit(percent=percent, programme_percent=programme)


def _parse_threshold(raw: Mapping[str, Any] | None) -> Threshold | None:
    if raw is None:
        return None
    if set(raw) != {"amount", "currency"}:
        raise CatalogueError('policy.draw_permit_above looks like {"amount": "5000", "currency": "USD"}')
    try:
        to_minor(raw["amount"], check_currency(raw["currency"]))
    except Invalid as exc:
        raise CatalogueError(f"policy.draw_permit_above: {exc.message}") from None
    return Threshold(amount=raw["amount"], currency=raw["currency"])


def _parse_days(raw: object) -> int | None:
    if raw is not None and (isinstance(raw, bool) or not isinstance(raw, int) or raw < 1):
        raise CatalogueError("policy.draw_period_max_days must be a whole number of days, at least 1")
    return raw


def _parse_cites(raw: Mapping[str, Any]) -> dict[str, Cite]:
    cites = {}
    for restriction, cite in raw.items():
        if not isinstance(cite, Mapping) or set(cite) != {"basis", "source"} or cite["basis"] not in (LAW, DEFAULT):
            raise CatalogueError(f'policy.cites.{restriction} looks like {{"basis": "law" or "default", '
                                 f'"source": "..."}}')
        cites[restriction] = Cite(basis=cite["basis"], source=_text(cite["source"], f"policy.cites.{restriction}"))
    return cites


def _parse_content(raw: Mapping[str, Any]) -> ContentPolicy:
    if set(raw) - {"errors", "warnings"}:
        raise CatalogueError('policy.content looks like {"errors": [category, ...], "warnings": [...]}')
    errors, warnings = tuple(raw.get("errors", [])), tuple(raw.get("warnings", []))
    unknown = set(errors + warnings) - set(lexicons())
    if unknown:
        raise CatalogueError(f"policy.content names categories without a lexicon: {sorted(unknown)}")
    if set(errors) & set(warnings):
        raise CatalogueError("policy.content lists a category both as an error and as a warning")
    return ContentPolicy(errors=errors, warnings=warnings)


def _check_cites(policy: MarketPolicy) -> None:
    """Every restriction in force has a basis and a source; a law is one of the market's sources."""
    cites = dict(policy.cites)
    unknown = set(cites) - set(CITABLE)
    if unknown:
        raise CatalogueError(f"policy.cites names unknown restrictions {sorted(unknown)}")
    for restriction, cite in cites.items():
        if cite.basis == LAW and cite.source not in policy.sources:
            raise CatalogueError(f"policy.cites.{restriction} cites {cite.source!r}, which is not in policy.sources")
    uncited = [r for r in policy.in_force() if r not in cites]
    if uncited:
        raise CatalogueError(f"policy.cites must name the source of {uncited}")


def _parse_windows(raw: list[Mapping[str, str]], field: str) -> tuple[TimeWindow, ...]:
    windows = []
    for item in raw:
        try:
            window = TimeWindow(time.fromisoformat(item["from"]), time.fromisoformat(item["to"]))
        except (KeyError, TypeError, ValueError):
            raise CatalogueError(f'{field} windows look like {{"from": "19:00", "to": "23:00"}}') from None
        if window.start == window.end:
            raise CatalogueError(f"{field} window {item} is empty")
        windows.append(window)
    return tuple(windows)


def _parse_peak(raw: Mapping[str, Any]) -> Peak:
    name = _text(raw.get("name"), "peaks.name")
    rule = set(raw) - {"name", "kind", "offset_days"}
    if rule not in _PEAK_RULES:
        raise CatalogueError(f"peak {name}: give month and day, or month, weekday and nth, or islamic")
    weekday = raw.get("weekday")
    peak = Peak(
        name=name,
        kind=raw.get("kind", ""),
        month=raw.get("month"),
        day=raw.get("day"),
        weekday=None if weekday is None else WEEKDAYS.index(weekday),
        nth=raw.get("nth"),
        offset_days=raw.get("offset_days", 0),
        islamic=raw.get("islamic"),
    )
    if peak.kind not in PEAK_KINDS:
        raise CatalogueError(f"peak {name}: kind must be one of {PEAK_KINDS}")
    if isinstance(peak.offset_days, bool) or not isinstance(peak.offset_days, int):
        raise CatalogueError(f"peak {name}: offset_days must be a whole number")
    if peak.month is not None and peak.day is not None:
        date(2001, peak.month, peak.day)  # a non-leap year, so 29 February is refused
    if peak.weekday is not None and (peak.month not in range(1, 13) or peak.nth not in (1, 2, 3, 4)):
        raise CatalogueError(f"peak {name}: month must be 1..12 and nth 1..4")
    if peak.islamic is not None and peak.islamic not in ISLAMIC_DATES:
        raise CatalogueError(f"peak {name}: islamic must be one of {ISLAMIC_DATES}")
    return peak


def _check_zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (KeyError, ValueError):
        raise CatalogueError(f"unknown IANA time zone {name!r}") from None


def _check_locale(tag: str) -> None:
    try:
        Locale.parse(tag, sep="-")
    except (UnknownLocaleError, ValueError, TypeError):
        raise CatalogueError(f"unknown locale {tag!r}") from None


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CatalogueError(f"{field} must be a non-empty string")
    return value
