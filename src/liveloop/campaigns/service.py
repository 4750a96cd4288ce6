"""Creating, reading, listing, changing and cancelling campaigns; their engine configuration."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from decimal import Decimal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
import sqlalchemy as sa
from pydantic import ValidationError

from liveloop.campaigns.models import campaign_versions, campaigns
from liveloop.campaigns.schemas import CampaignCreate, CampaignUpdate
from liveloop.engine.model import (
    CampaignConfig,
    DrawRule,
    FraudSettings,
    GroupBuyRule,
    MilestoneRule,
    OrderCommissionRule,
    ReservationReferralRule,
    RewardSpec,
    Rule,
    Tier,
)
from liveloop.kit.errors import Conflict, Invalid, NotFound
from liveloop.kit.ids import CAMPAIGN_ID
from liveloop.kit.money import check_currency, to_decimal_str, to_minor
from liveloop.kit.times import iso, parse_iso, to_ms
from liveloop.markets import policy
from liveloop.markets.catalogue import get_market


def normalize(body: CampaignCreate, *, allowed_hosts: tuple[str, ...], convert: policy.Convert | None = None) -> dict:
    """The campaign as stored and returned: market defaults filled in, money in canonical form.

    The market's policy is enforced last (prizes valued in another currency with `convert`, the
    tenant's rates): its errors are raised together (a 422 `policy.*` listing each in `details`),
    its warnings are kept in the campaign as `warnings`, and the defaults it waives as `waived`.
    """
    try:
        market = get_market(body.market)
    except NotFound:
        raise Invalid(f"unknown market {body.market!r}", field="market") from None
    currency = check_currency(body.currency or market.currency)
    timezone = body.timezone or market.timezone
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"unknown IANA time zone {timezone!r}", field="timezone") from None
    check_landing_url(body.landing_url, allowed_hosts)
    data = body.model_dump(mode="json", exclude_none=True)
    data.update(
        market=market.code,
        currency=currency,
        timezone=timezone,
        starts_at=iso(to_ms(body.starts_at)),
        ends_at=iso(to_ms(body.ends_at)),
    )
    if body.budget is not None:
        data["budget"] = _canonical_money(body.budget, currency, "budget")
    for i, rule in enumerate(data["rules"]):
        for key in ("referrer_reward", "referee_reward", "prize", "reward"):
            if key in rule:
                _canonical_reward(rule[key], currency, f"rules.{i}.{key}")
        for j, tier in enumerate(rule.get("tiers", ())):
            _canonical_reward(tier["reward"], currency, f"rules.{i}.tiers.{j}.reward")
            if rule["metric"] == "gmv":
                tier["at"] = _canonical_money(tier["at"], currency, f"rules.{i}.tiers.{j}.at")
            else:
                tier["at"] = int(Decimal(tier["at"]))
    findings = policy.enforce(data, market, convert=convert)
    data["warnings"] = [f.to_dict() for f in findings if f.severity == policy.WARNING]
    if "waive" in data:
        data["waived"] = [f.to_dict() for f in findings if f.severity == policy.WAIVED]
    return data


def _canonical_money(value: str, currency: str, field: str) -> str:
    return to_decimal_str(to_minor(value, currency, field=field), currency) or "0"


def _canonical_reward(reward: dict, currency: str, field: str) -> None:
    if "amount" in reward:
        reward["amount"] = _canonical_money(reward["amount"], currency, f"{field}.amount")


def check_landing_url(url: str, allowed_hosts: tuple[str, ...], field: str = "landing_url") -> None:
    """Landing URLs (and clip URLs, which share links lead to as well) are https on an allowed host,
    so no share link can become an open redirect."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port  # raises on a malformed port
    except ValueError:
        raise Invalid(f"{field} is not a valid URL", field=field) from None
    del port
    if parts.scheme != "https" or not host:
        raise Invalid(f"{field} must be an https:// URL", field=field)
    if parts.username or parts.password or "\\" in url or any(c.isspace() for c in url):
        raise Invalid(f"{field} must not carry credentials, backslashes or spaces", field=field)
    if allowed_hosts and not any(host == h or host.endswith("." + h) for h in allowed_hosts):
        raise Invalid(
            f"{field} host {host!r} is not among the tenant's allowed hosts ({', '.join(allowed_hosts)})",
            field=field,
        )


def create(conn: sa.Connection, *, tenant_id: str, data: dict, now: int) -> dict:
    exists = conn.execute(
        sa.select(campaigns.c.id).where(campaigns.c.tenant_id == tenant_id, campaigns.c.id == data["id"])
    ).first()
    if exists is not None:
        raise Conflict(f"campaign {data['id']!r} already exists", field="id")
    stored = dict(data, created_at=iso(now))
    body = orjson.dumps(stored).decode()
    conn.execute(campaigns.insert().values(tenant_id=tenant_id, id=data["id"], body=body, created_at=now, version=1,
                                           starts_at=_ms(stored["starts_at"]), ends_at=_ms(stored["ends_at"]),
                                           updated_at=now))
    conn.execute(campaign_versions.insert().values(tenant_id=tenant_id, campaign_id=data["id"], version=1, body=body,
                                                   created_at=now))
    return stored


def get(conn: sa.Connection, *, tenant_id: str, campaign_id: str) -> dict | None:
    body = conn.execute(
        sa.select(campaigns.c.body).where(campaigns.c.tenant_id == tenant_id, campaigns.c.id == campaign_id)
    ).scalar()
    return orjson.loads(body) if body is not None else None


def versions(conn: sa.Connection, *, tenant_id: str, campaign_id: str, numbers: Iterable[int]) -> dict[int, dict]:
    """Bodies of some versions of a campaign, by number (1: as it was created)."""
    c = campaign_versions.c
    rows = conn.execute(sa.select(c.version, c.body).where(
        c.tenant_id == tenant_id, c.campaign_id == campaign_id, c.version.in_(list(numbers))))
    return {version: orjson.loads(body) for version, body in rows}


def save_version(conn: sa.Connection, *, tenant_id: str, body: dict, now: int) -> int:
    """Store a changed campaign as its next version (the caller logs it); returns the version's number."""
    campaign_id = body["id"]
    key = (campaigns.c.tenant_id == tenant_id, campaigns.c.id == campaign_id)
    version = conn.execute(sa.select(campaigns.c.version).where(*key)).scalar_one() + 1
    text = orjson.dumps(body).decode()
    cancelled = body.get("cancelled_at")
    conn.execute(campaigns.update().where(*key).values(
        body=text, version=version, starts_at=_ms(body["starts_at"]), ends_at=_ms(body["ends_at"]),
        cancelled_at=_ms(cancelled) if cancelled else None, updated_at=now))
    conn.execute(campaign_versions.insert().values(tenant_id=tenant_id, campaign_id=campaign_id, version=version,
                                                   body=text, created_at=now))
    return version


# -- status, listing -------------------------------------------------------------------------

STATUSES = ("scheduled", "live", "ended", "cancelled")


def status(body: dict, now: int) -> str:
    """`scheduled` before `starts_at`, `live` until `ends_at`, then `ended`; or `cancelled`."""
    if "cancelled_at" in body:
        return "cancelled"
    if now < _ms(body["starts_at"]):
        return "scheduled"
    if now < _ms(body["ends_at"]):
        return "live"
    return "ended"


def read(body: dict, now: int) -> dict:
    """The campaign as the API returns it: its stored body and its status now."""
    return dict(body, status=status(body, now))


def page(conn: sa.Connection, *, tenant_id: str, status_is: str | None, limit: int, cursor: str | None,
         now: int) -> dict:
    """The tenant's campaigns, newest `starts_at` first (then by id, descending), one page.

    The cursor names the last campaign of the page before (its `starts_at` and id), so campaigns
    created meanwhile never shift a page: each one is listed once, where its `starts_at` puts it.
    """
    c = campaigns.c
    query = sa.select(c.body, c.starts_at, c.id).where(c.tenant_id == tenant_id)
    if status_is == "cancelled":
        query = query.where(c.cancelled_at.is_not(None))
    elif status_is is not None:
        query = query.where(c.cancelled_at.is_(None))
        if status_is == "scheduled":
            query = query.where(c.starts_at > now)
        elif status_is == "live":
            query = query.where(c.starts_at <= now, c.ends_at > now)
        else:
            query = query.where(c.ends_at <= now)
    if cursor is not None:
        after_starts, after_id = _read_cursor(cursor)
        query = query.where(sa.or_(c.starts_at < after_starts, sa.and_(c.starts_at == after_starts, c.id < after_id)))
    rows = conn.execute(query.order_by(c.starts_at.desc(), c.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return {"campaigns": [read(orjson.loads(body), now) for body, _s, _i in rows],
            "next_cursor": _cursor(rows[-1].starts_at, rows[-1].id) if more else None}


def _cursor(starts_at: int, campaign_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([starts_at, campaign_id])).decode().rstrip("=")


def _read_cursor(cursor: str) -> tuple[int, str]:
    try:
        starts_at, campaign_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        # Only what a cursor of ours holds reaches the database (no NUL, no number past 64 bits).
        if type(starts_at) is int and abs(starts_at) < 2**62 and isinstance(campaign_id, str) and \
                CAMPAIGN_ID.match(campaign_id):
            return starts_at, campaign_id
    except (ValueError, TypeError):
        pass
    raise Invalid("cursor is not one this API returned", field="cursor")


# -- changes ---------------------------------------------------------------------------------

# What may change before the start; once live, only the budget, upwards (SPEC section 4).
_BEFORE_START = ("title", "description", "share_text", "landing_url", "starts_at", "ends_at", "budget", "rules",
                 "permit", "promotion_programme", "waive")


def edit(current: dict, update: CampaignUpdate, *, fired: set[str], budget_used: int,
         allowed_hosts: tuple[str, ...], convert: policy.Convert | None, now: int) -> dict | None:
    """The campaign with `update` applied and checked again like a new one, or None when nothing changes.

    Refused with a 409 `campaign.locked` naming the field for what can no longer change: anything
    but the budget once the campaign is live, the budget downwards then, and a rule that has
    already granted a reward (it stays as it is, in the list).
    """
    _refuse_cancelled(current)
    merged = {key: value for key, value in current.items() if key in CampaignCreate.model_fields}
    for key, value in update.model_dump(mode="json", exclude_unset=True).items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    try:
        candidate = CampaignCreate.model_validate(merged)
    except ValidationError as exc:
        raise _invalid(exc) from None
    data = normalize(candidate, allowed_hosts=allowed_hosts, convert=convert)
    changed = [key for key in _BEFORE_START if data.get(key) != current.get(key)]
    if not changed:
        return None
    started = now >= _ms(current["starts_at"])
    for key in changed:
        if key == "budget":
            _check_budget(current, data, started=started, used=budget_used)
        elif started:
            raise Conflict(f"{key} can no longer change: the campaign started at {current['starts_at']} (once live, "
                           "only the budget may change, upwards)", code="campaign.locked", field=key)
        elif key == "rules":
            _check_fired_rules(current["rules"], data["rules"], fired)
    return dict(data, created_at=current["created_at"], updated_at=iso(now))


def cancel(current: dict, *, now: int) -> dict | None:
    """The campaign cancelled, or None if it already is (cancelling again changes nothing)."""
    if "cancelled_at" in current:
        return None
    state = status(current, now)
    if state != "scheduled":
        raise Conflict(f"only a scheduled campaign can be cancelled; campaign {current['id']!r} is {state}",
                       code="campaign.not_scheduled")
    return dict(current, cancelled_at=iso(now), updated_at=iso(now))


def _refuse_cancelled(current: dict) -> None:
    if "cancelled_at" in current:
        raise Conflict(f"campaign {current['id']!r} was cancelled at {current['cancelled_at']}; it no longer changes",
                       code="campaign.cancelled")


def _check_budget(current: dict, data: dict, *, started: bool, used: int) -> None:
    currency = current["currency"]
    before = to_minor(current["budget"], currency) if current.get("budget") is not None else None
    after = to_minor(data["budget"], currency) if data.get("budget") is not None else None
    if started and after is not None and (before is None or after < before):
        raise Conflict(f"the budget can only be raised once the campaign is live (it is {current.get('budget')})"
                       if before is not None else "a live campaign without a budget cannot be given one",
                       code="campaign.locked", field="budget")
    if after is not None and after < used:
        raise Conflict(f"budget {data['budget']} is below the {to_decimal_str(used, currency)} already granted",
                       code="campaign.locked", field="budget")


def _check_fired_rules(before: list[dict], after: list[dict], fired: set[str]) -> None:
    kept = {rule["id"]: (index, rule) for index, rule in enumerate(after)}
    for rule in before:
        if rule["id"] not in fired:
            continue
        index, now_rule = kept.get(rule["id"], (None, None))
        if now_rule != rule:
            raise Conflict(f"rule {rule['id']!r} has granted rewards: it can no longer be changed or removed",
                           code="campaign.locked", field="rules" if index is None else f"rules.{index}")


def _invalid(exc: ValidationError) -> Invalid:
    """A combination of fields that fails the campaign's own checks, said like a refused body."""
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first.get("loc", ())) or None
    message = first.get("msg", "invalid").removeprefix("Value error, ")
    return Invalid(f"{field}: {message}" if field else message, field=field)


# When reward ids began to start with the cause's arrival time (engine/state.py `reward_id`).
REWARD_IDS_BY_ARRIVAL_SINCE = parse_iso("2026-11-25T01:30:00Z", field="time")


DEFAULT_MAX_CIRCLE_SIZE = 8


def leaderboard_metric(data: dict) -> str:
    return data.get("leaderboard", {}).get("metric", "joins")


def to_config(tenant_id: str, data: dict) -> CampaignConfig:
    """The engine's view of a stored campaign: instants in epoch ms, money in minor units."""
    currency = data["currency"]
    return CampaignConfig(
        tenant_id=tenant_id,
        id=data["id"],
        currency=currency,
        starts_at=_ms(data["starts_at"]),
        ends_at=_ms(data["ends_at"]),
        budget=to_minor(data["budget"], currency) if data.get("budget") is not None else None,
        leaderboard_metric=leaderboard_metric(data),
        rules=tuple(_rule(r, currency) for r in data.get("rules", ())),
        min_watch_ms=(data.get("min_watch_seconds") or 0) * 1000,
        reward_ids_by_arrival=_ms(data["created_at"]) >= REWARD_IDS_BY_ARRIVAL_SINCE if "created_at" in data else True,
        cancelled="cancelled_at" in data,
        follow_up_of=tuple(data.get("follow_up_of") or ()),
        leaderboard_by=data.get("leaderboard", {}).get("by") or "user",
        max_circle_size=data.get("max_circle_size") or DEFAULT_MAX_CIRCLE_SIZE,
        audiences=tuple((r["id"], r["audience"]["segment"], r["audience"]["version"])
                        for r in data.get("rules", ()) if r.get("audience")),
        fraud=FraudSettings(**data["fraud"]) if data.get("fraud") else FraudSettings(),
    )


def _ms(text: str) -> int:
    return parse_iso(text, field="time")


def _reward(r: dict, currency: str) -> RewardSpec:
    return RewardSpec(
        kind=r["kind"],
        amount=to_minor(r["amount"], currency) if r.get("amount") is not None else None,
        percent_off=Decimal(str(r["percent_off"])) if r.get("percent_off") is not None else None,
        points=r.get("points"),
        sku=r.get("sku"),
        name=r.get("name"),
        content=r.get("content"),
    )


def _rule(r: dict, currency: str) -> Rule:
    kind = r["type"]
    if kind == "reservation_referral":
        return ReservationReferralRule(
            id=r["id"],
            referrer_reward=_reward(r["referrer_reward"], currency),
            referee_reward=_reward(r["referee_reward"], currency) if r.get("referee_reward") else None,
            max_per_referrer=r.get("max_per_referrer"),
        )
    if kind == "milestone":
        gmv = r["metric"] == "gmv"
        return MilestoneRule(
            id=r["id"],
            metric=r["metric"],
            tiers=tuple(
                Tier(to_minor(t["at"], currency) if gmv else int(t["at"]), _reward(t["reward"], currency))
                for t in r["tiers"]
            ),
            scope=r.get("scope") or "user",
        )
    if kind == "order_commission":
        return OrderCommissionRule(
            id=r["id"],
            percent=Decimal(str(r["percent"])),
            hold_days=r.get("hold_days", 0),
            attribution_days=r.get("attribution_days", 0),
        )
    if kind == "group_buy":
        return GroupBuyRule(
            id=r["id"],
            sku=r["sku"],
            group_size=r["group_size"],
            window_ms=round(Decimal(str(r["window_minutes"])) * 60_000),
            reward=_reward(r["reward"], currency),
        )
    entry = r["entry"]
    return DrawRule(
        id=r["id"],
        winners=r["winners"],
        prize=_reward(r["prize"], currency),
        period=r.get("period", "campaign"),
        entry_metric=entry.get("metric"),
        entry_at_least=entry.get("at_least"),
        entry_event=entry.get("event"),
        permit=r.get("permit"),
        free_entry=r.get("free_entry", False),
    )
