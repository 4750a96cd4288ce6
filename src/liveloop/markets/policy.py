"""Market policy (SPEC section 6): what a campaign may not do in its market, and what viewers see.

Every decision here reads the market's policy flags from the catalogue; no market code appears in
this module. Each check answers with findings that carry the policy's code, the field at fault,
what to change and the source the catalogue cites for it.

The functions take a `Market`, not a market code: a tenant's own catalogue (a stricter permit rule,
a lexicon of its own) becomes a `Market` built with `dataclasses.replace(get_market(code), ...)`
and passed in, with nothing here to change.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from babel import Locale, UnknownLocaleError

from liveloop.kit.errors import Invalid
from liveloop.markets import content
from liveloop.markets.catalogue import Market

ERROR, WARNING = "error", "warning"
PURCHASE_METRICS = frozenset({"orders", "gmv"})
_REWARD_KEYS = ("referrer_reward", "referee_reward", "prize")


@dataclass(frozen=True, slots=True)
class Finding:
    """One way a campaign breaks (error) or strains (warning) its market's policy."""

    code: str  # "policy.permit_required", ...
    severity: str  # ERROR or WARNING
    field: str  # where in the campaign: "rules.2.permit", "title", ...
    message: str  # what to change, ending with the cited source
    source: str
    words: tuple[str, ...] = ()  # content findings: the words found, as written

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "field": self.field, "source": self.source,
                "words": list(self.words)}


class PolicyViolation(Invalid):
    """A campaign its market's policy refuses: a 422 naming the policy, the field and the source."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message, code=finding.code, field=finding.field)
        self.finding = finding

    def body(self) -> dict:
        body = super().body()
        body["error"]["source"] = self.finding.source
        if self.finding.words:
            body["error"]["words"] = list(self.finding.words)
        return body


def check(campaign: Mapping[str, Any], market: Market) -> list[Finding]:
    """Every finding of `market`'s policy on a campaign (its API body), errors and warnings, in document order."""
    findings = list(_content(campaign, market))
    for index, rule in enumerate(campaign.get("rules") or ()):
        for rule_check in RULE_CHECKS:
            findings.extend(rule_check(index, rule, market))
    return findings


def enforce(campaign: Mapping[str, Any], market: Market) -> list[Finding]:
    """Raise PolicyViolation for the first error; otherwise return the warnings."""
    findings = check(campaign, market)
    for finding in findings:
        if finding.severity == ERROR:
            raise PolicyViolation(finding)
    return findings


def leaderboard_name(market: Market, display_name: str | None, consents: Mapping[str, Any] | None,
                     ) -> tuple[str | None, bool]:
    """The name a public leaderboard shows, and whether it was masked.

    Where the market masks names (`leaderboard_mask_names_without_consent`), a user who has not
    consented (`consents.leaderboard_public` is not true) is shown by the first letter of the
    display name followed by "***" ("Siti K." -> "S***", "فاطمة" -> "ف***"): enough for friends to
    spot themselves, too little to identify anyone. A user without a display name stays None.
    """
    if not market.policy.leaderboard_mask_names_without_consent or (consents or {}).get("leaderboard_public") is True:
        return display_name, False
    return (_initial(display_name) + "***" if display_name and display_name.strip() else None), True


def _initial(name: str) -> str:
    name = unicodedata.normalize("NFC", name.strip())
    end = 1
    while end < len(name) and unicodedata.combining(name[end]):
        end += 1  # keep a letter's accents with it
    return name[:end]


# --- rule checks: each is (index, rule, market) -> findings, gated by a policy flag ------------------


def _draws(rule: Mapping[str, Any]) -> bool:
    return rule.get("type") == "draw"


def _rule_name(rule: Mapping[str, Any]) -> str:
    return f"Rule {rule.get('id')!r}"


def _in(market: Market) -> str:
    return f"the {market.name} market"  # "the United States market": no article rules per country name


def _permit_required(index: int, rule: Mapping[str, Any], market: Market) -> Iterator[Finding]:
    if market.policy.draw_permit_required and _draws(rule) and not str(rule.get("permit") or "").strip():
        source = market.policy.cite("draw_permit_required")
        yield Finding(
            "policy.permit_required", ERROR, f"rules.{index}.permit",
            f"{_rule_name(rule)} is a lucky draw, and lucky draws in {_in(market)} need the authority's permit: "
            f'obtain it and put its reference in "permit" (it is shown in the draw\'s rules). Source: {source}.',
            source,
        )


def _purchase_linked_draw(index: int, rule: Mapping[str, Any], market: Market) -> Iterator[Finding]:
    metric = (rule.get("entry") or {}).get("metric")
    if market.policy.purchase_linked_draw_forbidden and _draws(rule) and metric in PURCHASE_METRICS:
        source = market.policy.cite("purchase_linked_draw_forbidden")
        yield Finding(
            "policy.purchase_linked_draw", ERROR, f"rules.{index}.entry",
            f"{_rule_name(rule)} is entered by {metric}, but in {_in(market)} a prize draw must not be tied to a "
            'purchase: enter it by reservations or joins (e.g. {"metric": "joins", "at_least": 3}) or by '
            f'sharing ({{"event": "share"}}). Source: {source}.',
            source,
        )


def _sharing_required(index: int, rule: Mapping[str, Any], market: Market) -> Iterator[Finding]:
    entry = rule.get("entry") or {}
    if (not market.policy.sharing_may_be_required and _draws(rule) and entry.get("event") == "share"
            and rule.get("free_entry") is not True):
        source = market.policy.cite("sharing_may_be_required")
        yield Finding(
            "policy.sharing_required", ERROR, f"rules.{index}.entry",
            f"{_rule_name(rule)} can only be entered by sharing, and in {_in(market)} sharing may not be a condition "
            f'of taking part: add "free_entry": true so anyone can enter free with equal odds, or enter it by '
            f"another metric. Source: {source}.",
            source,
        )


def _free_entry_required(index: int, rule: Mapping[str, Any], market: Market) -> Iterator[Finding]:
    if market.policy.free_entry_required and _draws(rule) and rule.get("free_entry") is not True:
        source = market.policy.cite("free_entry_required")
        yield Finding(
            "policy.free_entry_required", ERROR, f"rules.{index}.free_entry",
            f"{_rule_name(rule)} is a draw, and every draw in {_in(market)} needs a free alternative entry with "
            f'equal odds: add "free_entry": true (viewers then enter with POST '
            f"/v1/campaigns/{{cid}}/draws/{rule.get('id')}/entries). Source: {source}.",
            source,
        )


def _promo_value_limit(index: int, rule: Mapping[str, Any], market: Market) -> Iterator[Finding]:
    limit = market.policy.promo_value_limit
    if limit is None:
        return
    for path, reward in _rewards(rule):
        percent = _decimal(reward.get("percent_off"))
        if percent is not None and percent > limit.percent:
            yield Finding(
                "policy.promo_value_limit", ERROR, f"rules.{index}.{path}.percent_off",
                f"{_rule_name(rule)} gives {percent.normalize():f}% off, above the {limit.percent}% of the price that "
                f"a promotion may be worth in {_in(market)}: lower percent_off to {limit.percent} or less. "
                f"Source: {limit.source}.",
                limit.source,
            )


RULE_CHECKS: tuple[Callable[[int, Mapping[str, Any], Market], Iterable[Finding]], ...] = (
    _permit_required,
    _purchase_linked_draw,
    _sharing_required,  # before free_entry_required: for a share-to-enter draw it is the sharper reason
    _free_entry_required,
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
    source = market.policy.cite("content")
    texts = {field: campaign.get(field) for field in content.FIELDS if isinstance(campaign.get(field), str)}
    hits = content.scan(texts, policy.errors + policy.warnings, languages(market))
    for field in content.FIELDS:
        for severity, categories in ((ERROR, policy.errors), (WARNING, policy.warnings)):
            found = [h for h in hits if h.field == field and h.category in categories]
            if found:
                yield _content_finding(market, field, severity, found, source)


def _content_finding(market: Market, field: str, severity: str, hits: list[content.Hit], source: str) -> Finding:
    words = tuple(dict.fromkeys(h.word for h in hits))
    kinds = " and ".join(dict.fromkeys(h.category for h in hits))
    quoted = ", ".join(f"«{w}»" for w in words)
    what = field.replace("_", " ")
    if severity == ERROR:
        message = (f"the {what} names {kinds}, which campaigns in {_in(market)} may not advertise: {quoted}. "
                   f"Remove or reword them. Source: {source}.")
    else:
        message = (f"the {what} names {kinds}, which viewers in {_in(market)} may find offensive and which may "
                   f"limit where the live can be promoted: {quoted}. Consider rewording. Source: {source}.")
    return Finding("policy.content", severity, field, message[0].upper() + message[1:], source, words)
