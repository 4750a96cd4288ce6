"""The console's "create a campaign" form: the form's fields as a POST /v1/campaigns body, the same
creation as the API's, and the API's refusals placed on the fields they are about."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from liveloop.campaigns import service
from liveloop.campaigns.schemas import CampaignCreate
from liveloop.engine.state import CampaignState
from liveloop.events.gate import CampaignGate
from liveloop.events.live import LiveCampaign
from liveloop.fx.service import TenantRates
from liveloop.kit import clock
from liveloop.kit.db.database import Database
from liveloop.kit.errors import LiveloopError, NotFound
from liveloop.markets.catalogue import get_market, load_catalogue
from liveloop.markets.policy import PolicyViolation
from liveloop.tenants.service import Tenant
from liveloop.validation_messages import field_and_message

FIELDS = ("id", "title", "market", "starts_at", "ends_at", "landing_url", "share_text", "referral_amount", "draw",
          "draw_winners", "draw_prize", "draw_permit", "draw_free_entry")
_DIRECT = {"id", "title", "market", "starts_at", "ends_at", "landing_url", "share_text"}
_DRAW_FIELDS = {"winners": "draw_winners", "prize": "draw_prize", "permit": "draw_permit",
                "free_entry": "draw_free_entry"}


class Refused(Exception):
    """The API refused the campaign: messages by form field, and those about no one field."""

    def __init__(self, by_field: dict[str, list[str]], general: list[str]) -> None:
        super().__init__("campaign refused")
        self.by_field = by_field
        self.general = general


def markets() -> list[tuple[str, str]]:
    return [(code, market.name) for code, market in load_catalogue().items()]


def body_from_form(form: dict[str, str]) -> tuple[dict, list[str]]:
    """The POST /v1/campaigns body, and which form field each of its rules came from."""
    market = form.get("market", "")
    body: dict = {"id": form.get("id", "").strip(), "title": form.get("title", "").strip(), "market": market,
                  "starts_at": _instant(form.get("starts_at", ""), market),
                  "ends_at": _instant(form.get("ends_at", ""), market),
                  "landing_url": form.get("landing_url", "").strip(), "rules": []}
    if form.get("share_text", "").strip():
        body["share_text"] = form["share_text"].strip()
    kinds: list[str] = []
    if form.get("referral_amount", "").strip():
        body["rules"].append({"id": "referral", "type": "reservation_referral",
                              "referrer_reward": {"kind": "coupon", "amount": form["referral_amount"].strip()}})
        kinds.append("referral")
    if form.get("draw"):
        rule: dict = {"id": "draw", "type": "draw", "entry": {"metric": "reservations", "at_least": 1},
                      "winners": form.get("draw_winners", "").strip() or "1",
                      "prize": {"kind": "coupon", "amount": form.get("draw_prize", "").strip()},
                      "free_entry": bool(form.get("draw_free_entry"))}
        if form.get("draw_permit", "").strip():
            rule["permit"] = form["draw_permit"].strip()
        body["rules"].append(rule)
        kinds.append("draw")
    return body, kinds


def _instant(value: str, market: str) -> str:
    """A datetime-local value read in the market's time zone (left as typed when it cannot be)."""
    try:
        zone = ZoneInfo(get_market(market).timezone)
        return datetime.fromisoformat(value).replace(tzinfo=zone).isoformat()
    except (NotFound, ValueError):
        return value


async def create(db: Database, campaigns: CampaignGate, fx: TenantRates, tenant: Tenant, form: dict[str, str]) -> dict:
    """Validate and create the campaign as POST /v1/campaigns does; Refused names what is wrong."""
    body, kinds = body_from_form(form)
    try:
        parsed = CampaignCreate.model_validate(body)
    except ValidationError as exc:
        raise _refused(kinds, [field_and_message(e) for e in exc.errors()]) from None
    try:
        rates = await fx.table(tenant.id)
        data = service.normalize(parsed, allowed_hosts=tenant.allowed_hosts, convert=rates.convert)
        config = service.to_config(tenant.id, data)
        now = clock.now_ms()
        stored = await db.write(lambda conn: service.create(conn, tenant_id=tenant.id, data=data, now=now),
                                isolated=True)
    except PolicyViolation as exc:
        raise _refused(kinds, [(f.field, f.message) for f in exc.findings]) from None
    except LiveloopError as exc:
        if exc.status >= 500:
            raise
        raise _refused(kinds, [(exc.field, exc.message)]) from None
    campaigns.add(tenant.id, LiveCampaign(stored, CampaignState(config)))
    return stored


def _refused(kinds: list[str], problems: list[tuple[str | None, str]]) -> Refused:
    by_field: dict[str, list[str]] = {}
    general: list[str] = []
    for api_field, message in problems:
        name = form_field(api_field, kinds)
        if name is None:
            general.append(message)
        else:
            by_field.setdefault(name, []).append(message)
    return Refused(by_field, general)


def form_field(api_field: str | None, kinds: list[str]) -> str | None:
    """The form field an API error's `field` is about ("rules.1.permit" -> "draw_permit"), if any."""
    if not api_field:
        return None
    head = api_field.split(".")[0]
    if head in _DIRECT:
        return head
    found = re.match(r"rules\.(\d+)(?:\.(\w+))?", api_field)
    if found is None or int(found[1]) >= len(kinds):
        return None
    if kinds[int(found[1])] == "referral":
        return "referral_amount"
    return _DRAW_FIELDS.get(found[2] or "", "draw")
