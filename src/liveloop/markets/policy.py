"""Market policy (SPEC section 6): what a campaign may not do in its market, and what viewers see.

Every decision here reads the market's policy from the catalogue; no market code appears in this
module. Each check answers with findings that carry the rule's code, the field at fault, what to
change, and the rule's basis and source: `law` (the law or regulator the catalogue cites) or
`default` (liveloop's recommendation for the market, which a campaign may waive by naming its code
in `waive`). A refusal lists every rule broken, not only the first.

The functions take a `Market`, not a market code: a tenant's own catalogue (a stricter permit rule,
a lexicon of its own) becomes a `Market` built with `dataclasses.replace(get_market(code), ...)`
and passed in, with nothing here to change.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError

from liveloop.draws import periods as draw_periods
from liveloop.kit.errors import Invalid
from liveloop.kit.money import to_decimal_str, to_minor
from liveloop.kit.times import parse_iso
from liveloop.markets import content
from liveloop.markets.catalogue import DEFAULT, LAW, RULE_CODES, Cite, Market

ERROR, WARNING, WAIVED = "error", "warning", "waived"
PURCHASE_METRICS = frozenset({"orders", "gmv"})
# Rewards that are a discount or a premium (a sales promotion needing a permit where the market says so).
PROMO_KINDS = frozenset({"coupon", "cashback", "free_item"})
MASKING = RULE_CODES["leaderboard_mask_names_without_consent"]
WAIVER_REFUSED = "policy.waiver_refused"
PRIZE_VALUE_UNKNOWN = "policy.prize_value_unknown"
_REWARD_KEYS = ("referrer_reward", "referee_reward", "prize", "reward")  # "reward": a group buy's
_DAY_MS = 86_400_000

# (amount in minor units, from currency, to currency, at epoch ms) -> minor units, or None without a
# rate: a tenant's `RateTable.convert`.
Convert = Callable[[int, str, str, int], int | None]


@dataclass(frozen=True, slots=True)
class Finding:
    """One way a campaign breaks (error) or strains (warning) its market's policy, or a default it waived."""

    code: str  # "policy.permit_required", ...
    severity: str  # ERROR, WARNING or WAIVED
    field: str  # where in the campaign: "rules.2.permit", "title", ...
    message: str  # what to change, ending with the cited source
    source: str
    basis: str  # LAW or DEFAULT
    words: tuple[str, ...] = ()  # content findings: the words found, as written

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "field": self.field, "basis": self.basis,
                "source": self.source, "words": list(self.words)}

    def detail(self) -> dict[str, Any]:
        """The finding as one entry of a refusal's `error.details`."""
        detail = {"code": self.code, "field": self.field, "message": self.message, "basis": self.basis,
                  "source": self.source}
        if self.words:
            detail["words"] = list(self.words)
        return detail


class PolicyViolation(Invalid):
    """A campaign its market's policy refuses: a 422 naming the first rule broken and listing them all."""

    def __init__(self, findings: list[Finding]) -> None:
        first = findings[0]
        super().__init__(first.message, code=first.code, field=first.field)
        self.findings = findings

    def body(self) -> dict:
        body = super().body()
        first = self.findings[0]
        body["error"]["basis"] = first.basis
        body["error"]["source"] = first.source
        if first.words:
            body["error"]["words"] = list(first.words)
        body["error"]["details"] = [finding.detail() for finding in self.findings]
        return body


@dataclass(frozen=True, slots=True)
class _Campaign:
    """What the checks need to know about the campaign beyond one rule."""

    body: Mapping[str, Any]
    market: Market
    currency: str
    timezone: str
    starts_at: int | None  # epoch ms; None when the body's window cannot be read (nothing to check then)
    ends_at: int | None
    convert: Convert | None


def check(campaign: Mapping[str, Any], market: Market, *, convert: Convert | None = None) -> list[Finding]:
    """Every finding of `market`'s policy on a campaign (its API body), in document order.

    Errors of `default` rules the campaign names in `waive` come back with severity WAIVED; a
    waiver of a `law` rule is itself an error (`policy.waiver_refused`). Prize amounts in another
    currency than a threshold's are converted with `convert` (a tenant's rates), when given.
    """
    context = _context(campaign, market, convert)
    findings = [*_content(campaign, market), *_promo_permit(context)]
    for index, rule in enumerate(campaign.get("rules") or ()):
        for rule_check in RULE_CHECKS:
            findings.extend(rule_check(index, rule, context))
    waive = set(campaign.get("waive") or ())
    findings = [dataclasses.replace(f, severity=WAIVED) if _waivable(f, waive) else f for f in findings]
    findings.extend(_refused_waivers(campaign, market))
    return findings


def enforce(campaign: Mapping[str, Any], market: Market, *, convert: Convert | None = None) -> list[Finding]:
    """Raise PolicyViolation listing every error; otherwise return the warnings and the waived findings."""
    findings = check(campaign, market, convert=convert)
    errors = [f for f in findings if f.severity == ERROR]
    if errors:
        raise PolicyViolation(errors)
    return findings


def leaderboard_name(market: Market, display_name: str | None, consents: Mapping[str, Any] | None, *,
                     waive: Collection[str] = ()) -> tuple[str | None, bool]:
    """The name a public leaderboard shows, and whether it was masked.

    Where the market masks names (`leaderboard_mask_names_without_consent`) and the campaign has
    not waived that default (`waive: ["policy.leaderboard_masking"]`), a user who has not consented
    (`consents.leaderboard_public` is not true) is shown by the first letter of the display name
    followed by "***" ("Siti K." -> "S***", "فاطمة" -> "ف***"): enough for friends to spot
    themselves, too little to identify anyone. A user without a display name stays None.
    """
    rule = market.policy.rule(MASKING)
    waived = rule is not None and rule.basis == DEFAULT and MASKING in waive
    if rule is None or waived or (consents or {}).get("leaderboard_public") is True:
        return display_name, False
    return (_initial(display_name) + "***" if display_name and display_name.strip() else None), True


def _initial(name: str) -> str:
    name = unicodedata.normalize("NFC", name.strip())
    end = 1
    while end < len(name) and unicodedata.combining(name[end]):
        end += 1  # keep a letter's accents with it
    return name[:end]


def _context(campaign: Mapping[str, Any], market: Market, convert: Convert | None) -> _Campaign:
    timezone = campaign.get("timezone") or market.timezone
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        timezone = market.timezone  # the API refuses it before; `policy check` reads the file as given
    try:
        starts_at, ends_at = parse_iso(campaign.get("starts_at"), field="starts_at"), parse_iso(
            campaign.get("ends_at"), field="ends_at")
    except Invalid:
        starts_at = ends_at = None
    return _Campaign(campaign, market, campaign.get("currency") or market.currency, timezone, starts_at, ends_at,
                     convert)


def _waivable(finding: Finding, waive: set[str]) -> bool:
    return finding.severity == ERROR and finding.basis == DEFAULT and finding.code in waive


def _refused_waivers(campaign: Mapping[str, Any], market: Market) -> Iterator[Finding]:
    """A waiver of a `law` rule is refused; one naming no rule of the market changes nothing."""
    for index, code in enumerate(campaign.get("waive") or ()):
        rule = market.policy.rule(code)
        if rule is not None and rule.basis == LAW:
            yield Finding(
                WAIVER_REFUSED, ERROR, f"waive.{index}",
                f'"waive" names {code}, which is law in {_in(market)}, not a liveloop default, so it cannot be '
                f'waived: remove it from "waive" and meet the rule. Source: {rule.source}.',
                rule.source, LAW,
            )


# --- rule checks: each is (index, rule, campaign) -> findings, gated by the market's policy -----------


def _draws(rule: Mapping[str, Any]) -> bool:
    return rule.get("type") == "draw"


def _rule_name(rule: Mapping[str, Any]) -> str:
    return f"Rule {rule.get('id')!r}"


def _in(market: Market) -> str:
    return f"the {market.name} market"  # "the United States market": no article rules per country name


def _source(market: Market, cite: Cite, code: str) -> str:
    """How a message ends: the law it enforces, or that it is liveloop's default and how to waive it."""
    if cite.basis == LAW:
        return f"Source: {cite.source}."
    return (f"This is liveloop's default for {_in(market)}, not a legal requirement: to go without it, add "
            f'"{code}" to the campaign\'s "waive". Source: {cite.source}.')


def _finding(market: Market, restriction: str, severity: str, field: str, message: str) -> Finding:
    cite = market.policy.cite(restriction)
    code = RULE_CODES[restriction]
    return Finding(code, severity, field, f"{message} {_source(market, cite, code)}", cite.source, cite.basis)


_PERMIT_NOT_CHECKED = "liveloop checks that a reference is given, not the permit itself"


def _permit_required(index: int, rule: Mapping[str, Any], campaign: _Campaign) -> Iterator[Finding]:
    market = campaign.market
    policy = market.policy
    if not (policy.draw_permit_required and _draws(rule)) or str(rule.get("permit") or "").strip():
        return
    obtain = (f'obtain it and put its reference in "permit" (it is shown in the draw\'s rules; '
              f"{_PERMIT_NOT_CHECKED}).")
    if policy.draw_permit_above is None:
        yield _finding(market, "draw_permit_required", ERROR, f"rules.{index}.permit",
                       f"{_rule_name(rule)} is a lucky draw, and lucky draws in {_in(market)} need "
                       f"{policy.permit_authority}: {obtain}")
        return
    threshold = policy.draw_permit_above
    total, how = _prize_total(rule, campaign, threshold.currency)
    limit = f"{threshold.currency} {threshold.amount}"
    if total is None:
        cite = policy.cite("draw_permit_required")
        yield Finding(
            PRIZE_VALUE_UNKNOWN, WARNING, f"rules.{index}.prize",
            f"{_rule_name(rule)} is a lucky draw whose prizes liveloop cannot value ({how}); in {_in(market)} a "
            f"draw whose prizes total more than {limit} needs {policy.permit_authority}. If they do, "
            f"{obtain} {_source(market, cite, 'policy.permit_required')}",
            cite.source, cite.basis,
        )
    elif total > to_minor(threshold.amount, threshold.currency):
        yield _finding(market, "draw_permit_required", ERROR, f"rules.{index}.permit",
                       f"{_rule_name(rule)} gives prizes worth {how}, more than {limit}, and such draws in "
                       f"{_in(market)} need {policy.permit_authority}: {obtain}")


def _prize_total(rule: Mapping[str, Any], campaign: _Campaign, currency: str) -> tuple[int | None, str]:
    """A draw's prizes over all its periods in `currency`'s minor units, and how they add up (or why not)."""
    prize = rule.get("prize") or {}
    if prize.get("amount") is None:
        return None, f"a {prize.get('kind', 'prize')} prize has no amount"
    if campaign.starts_at is None or campaign.ends_at is None:
        return None, "the campaign's window cannot be read"
    try:
        each = to_minor(prize["amount"], campaign.currency)
    except Invalid:
        return None, f"its amount {prize['amount']!r} is not an amount of {campaign.currency}"
    periods = len(draw_periods.periods(rule.get("period", "campaign"), campaign.starts_at, campaign.ends_at,
                                       campaign.timezone))
    winners = int(rule.get("winners") or 1)
    total = each * winners * periods
    if campaign.currency == currency:
        converted: int | None = total
    elif campaign.convert is None:
        converted = None
    else:
        converted = campaign.convert(total, campaign.currency, currency, campaign.starts_at)
    if converted is None:
        return None, f"no {campaign.currency} to {currency} rate at the campaign's start (PUT /v1/fx-rates)"
    how = (f"{currency} {to_decimal_str(converted, currency)} in all ({winners} winner(s) x "
           f"{campaign.currency} {to_decimal_str(each, campaign.currency)} x {periods} period(s))")
    return converted, how


def _purchase_linked_draw(index: int, rule: Mapping[str, Any], campaign: _Campaign) -> Iterator[Finding]:
    market = campaign.market
    metric = (rule.get("entry") or {}).get("metric")
    if market.policy.purchase_linked_draw_forbidden and _draws(rule) and metric in PURCHASE_METRICS:
        yield _finding(market, "purchase_linked_draw_forbidden", ERROR, f"rules.{index}.entry",
                       f"{_rule_name(rule)} is entered by {metric}, but in {_in(market)} a prize draw must not be "
                       'tied to a purchase: enter it by reservations or joins (e.g. {"metric": "joins", '
                       '"at_least": 3}) or by sharing ({"event": "share"}).')


def _sharing_required(index: int, rule: Mapping[str, Any], campaign: _Campaign) -> Iterator[Finding]:
    market = campaign.market
    entry = rule.get("entry") or {}
    if (not market.policy.sharing_may_be_required and _draws(rule) and entry.get("event") == "share"
            and rule.get("free_entry") is not True):
        yield _finding(market, "sharing_may_be_required", ERROR, f"rules.{index}.entry",
                       f"{_rule_name(rule)} can only be entered by sharing, and in {_in(market)} sharing should "
                       'not be a condition of taking part: add "free_entry": true so anyone can enter free with '
                       "equal odds, or enter it by another metric.")


def _free_entry_required(index: int, rule: Mapping[str, Any], campaign: _Campaign) -> Iterator[Finding]:
    market = campaign.market
    if not (market.policy.free_entry_required and _draws(rule) and rule.get("free_entry") is not True):
        return
    how = (f'add "free_entry": true (viewers then enter with POST /v1/campaigns/{{cid}}/draws/{rule.get("id")}'
           "/entries).")
    if market.policy.cite("free_entry_required").basis == LAW:
        why = f"every draw in {_in(market)} needs a free alternative entry with equal odds (no purchase necessary)"
    else:
        why = (f"in {_in(market)} liveloop gives a draw entered by sharing or inviting, as all its draws are, a "
               "free alternative entry with equal odds")
    yield _finding(market, "free_entry_required", ERROR, f"rules.{index}.free_entry",
                   f"{_rule_name(rule)} is a draw, and {why}: {how}")


def _draw_period_limit(index: int, rule: Mapping[str, Any], campaign: _Campaign) -> Iterator[Finding]:
    market = campaign.market
    days = market.policy.draw_period_max_days
    if (days is None or not _draws(rule) or rule.get("period", "campaign") != "campaign"
            or campaign.starts_at is None or campaign.ends_at is None):
        return
    length = campaign.ends_at - campaign.starts_at
    if length > days * _DAY_MS:
        yield _finding(market, "draw_period_max_days", ERROR, f"rules.{index}.period",
                       f"{_rule_name(rule)} draws once over the whole campaign, {_days(length)} long, and a draw "
                       f"period in {_in(market)} lasts at most {days} days: end the campaign within {days} days "
                       "of its start.")


def _days(ms: int) -> str:
    return f"{Decimal(ms) / _DAY_MS:.1f} days".replace(".0 days", " days")


def _draw_conditions(index: int, rule: Mapping[str, Any], campaign: _Campaign) -> Iterator[Finding]:
    market = campaign.market
    if market.policy.draw_conditions is not None and _draws(rule):
        yield _finding(market, "draw_conditions", WARNING, f"rules.{index}",
                       f"{_rule_name(rule)} is a lucky draw: in {_in(market)}, {market.policy.draw_conditions}. "
                       "liveloop cannot check this from the campaign.")


def _promo_value_limit(index: int, rule: Mapping[str, Any], campaign: _Campaign) -> Iterator[Finding]:
    market = campaign.market
    limit = market.policy.promo_value_limit
    if limit is None:
        return
    in_programme = limit.programme_percent is not None and bool(str(campaign.body.get("promotion_programme")
                                                                    or "").strip())
    percent_max = limit.programme_percent if in_programme else limit.percent
    exception = ""
    if limit.programme_percent is not None and not in_programme:
        exception = (f' (up to {limit.programme_percent}% in a state-run concentrated promotion programme: then '
                     'give its reference in "promotion_programme")')
    for path, reward in _rewards(rule):
        percent = _decimal(reward.get("percent_off"))
        if percent is not None and percent > percent_max:
            yield _finding(market, "promo_value_limit", ERROR, f"rules.{index}.{path}.percent_off",
                           f"{_rule_name(rule)} gives {percent.normalize():f}% off, above the {percent_max}% of the "
                           f"price that a discount may be worth in {_in(market)}: lower percent_off to {percent_max} "
                           f"or less{exception}.")


def _promo_permit(campaign: _Campaign) -> Iterator[Finding]:
    """Discounts and premiums need one permit for the campaign where the market says so (draws have their own)."""
    market = campaign.market
    if not market.policy.promo_permit_required or str(campaign.body.get("permit") or "").strip():
        return
    promos = [rule for rule in campaign.body.get("rules") or () if not _draws(rule) and (
        rule.get("type") == "order_commission" or any(r.get("kind") in PROMO_KINDS for _p, r in _rewards(rule)))]
    if promos:
        names = ", ".join(repr(rule.get("id")) for rule in promos)
        yield _finding(market, "promo_permit_required", ERROR, "permit",
                       f"Rules {names} give discounts or premiums (coupons, cashback, free items, commissions), and "
                       f"such promotions in {_in(market)} need {market.policy.permit_authority}: obtain it and put "
                       f'its reference in the campaign\'s "permit" ({_PERMIT_NOT_CHECKED}).')


RULE_CHECKS: tuple[Callable[[int, Mapping[str, Any], _Campaign], Iterable[Finding]], ...] = (
    _permit_required,
    _purchase_linked_draw,
    _sharing_required,  # before free_entry_required: for a share-to-enter draw it is the sharper reason
    _free_entry_required,
    _draw_period_limit,
    _draw_conditions,
    _promo_value_limit,
)


def _rewards(rule: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for key in _REWARD_KEYS:
        if isinstance(rule.get(key), Mapping):
            yield key, rule[key]
    for j, tier in enumerate(rule.get("tiers") or ()):
        if isinstance(tier, Mapping) and isinstance(tier.get("reward"), Mapping):
            yield f"tiers.{j}.reward", tier["reward"]


def _decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


# --- content -----------------------------------------------------------------------------------------


def languages(market: Market) -> tuple[str, ...]:
    """The languages of a market's locales ("ar-SA" -> "ar"), in catalogue order."""
    seen: dict[str, None] = {}
    for tag in market.locales:
        try:
            seen[Locale.parse(tag, sep="-").language] = None
        except (UnknownLocaleError, ValueError):
            seen[tag.split("-")[0].lower()] = None
    return tuple(seen)


def _content(campaign: Mapping[str, Any], market: Market) -> Iterator[Finding]:
    policy = market.policy.content
    if not (policy.errors or policy.warnings):
        return
    cite = market.policy.cite("content")
    texts = {field: campaign.get(field) for field in content.FIELDS if isinstance(campaign.get(field), str)}
    hits = content.scan(texts, policy.errors + policy.warnings, languages(market))
    for field in content.FIELDS:
        for severity, categories in ((ERROR, policy.errors), (WARNING, policy.warnings)):
            found = [h for h in hits if h.field == field and h.category in categories]
            if found:
                yield _content_finding(market, field, severity, found, cite)


def _content_finding(market: Market, field: str, severity: str, hits: list[content.Hit], cite: Cite) -> Finding:
    words = tuple(dict.fromkeys(h.word for h in hits))
    kinds = " and ".join(dict.fromkeys(h.category for h in hits))
    quoted = ", ".join(f"«{w}»" for w in words)
    what = field.replace("_", " ")
    if severity == ERROR:
        message = (f"the {what} names {kinds}, which campaigns in {_in(market)} may not advertise: {quoted}. "
                   f"Remove or reword them. Source: {cite.source}.")
    else:
        message = (f"the {what} names {kinds}, which viewers in {_in(market)} may find offensive and which may "
                   f"limit where the live can be promoted: {quoted}. Consider rewording. Source: {cite.source}.")
    return Finding("policy.content", severity, field, message[0].upper() + message[1:], cite.source, cite.basis,
                   words)
