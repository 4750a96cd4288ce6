"""Creating and reading campaigns; turning their stored form into the engine's configuration."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
import sqlalchemy as sa

from liveloop.campaigns.models import campaigns
from liveloop.campaigns.schemas import CampaignCreate
from liveloop.engine.model import (
    CampaignConfig,
    DrawRule,
    MilestoneRule,
    OrderCommissionRule,
    ReservationReferralRule,
    RewardSpec,
    Rule,
    Tier,
)
from liveloop.kit.errors import Conflict, Invalid, NotFound
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
        for key in ("referrer_reward", "referee_reward", "prize"):
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
    conn.execute(campaigns.insert().values(tenant_id=tenant_id, id=data["id"], body=orjson.dumps(stored).decode(),
                                           created_at=now))
    return stored


def get(conn: sa.Connection, *, tenant_id: str, campaign_id: str) -> dict | None:
    body = conn.execute(
        sa.select(campaigns.c.body).where(campaigns.c.tenant_id == tenant_id, campaigns.c.id == campaign_id)
    ).scalar()
    return orjson.loads(body) if body is not None else None


# When reward ids began to start with the cause's arrival time (engine/state.py `reward_id`).
REWARD_IDS_BY_ARRIVAL_SINCE = parse_iso("2026-11-25T01:30:00Z", field="time")


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
        follow_up_of=tuple(data.get("follow_up_of") or ()),
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
        )
    if kind == "order_commission":
        return OrderCommissionRule(
            id=r["id"],
            percent=Decimal(str(r["percent"])),
            hold_days=r.get("hold_days", 0),
            attribution_days=r.get("attribution_days", 0),
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
