"""GET /v1/campaigns/{cid}/draws/{rule_id}: periods with committed seed hashes, over the real server."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from liveloop.kit.ids import hash_api_key
from liveloop.tenants.models import api_keys, server_secrets
from tests.e2e.helpers import iso


def this_hour(now: datetime) -> datetime:
    """The start of the current hour: the campaign's first hourly period is then the open one
    (the test campaigns' time zones are whole hours from UTC)."""
    return now.replace(minute=0, second=0, microsecond=0)


def _draw(rule_id: str, period: str) -> dict:
    return {"id": rule_id, "type": "draw", "entry": {"metric": "joins", "at_least": 3}, "period": period,
            "winners": 2, "prize": {"kind": "free_item", "sku": "SKU-1"}, "free_entry": True, "permit": "P-1"}


def _campaign(client, cid: str, starts: datetime, ends: datetime, **extra) -> dict:
    body = {"id": cid, "title": "T", "market": "US", "timezone": "America/New_York", "starts_at": iso(starts),
            "ends_at": iso(ends), "landing_url": "https://shop.example.com/live",
            "rules": [_draw("hourly", "hour"), _draw("grand", "campaign"),
                      {"id": "rr", "type": "reservation_referral",
                       "referrer_reward": {"kind": "points", "points": 10}}], **extra}
    response = client.post("/v1/campaigns", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def _fall_back_day() -> datetime:
    """Next year's first Sunday of November: New York repeats 01:00-02:00 local that night."""
    first = datetime(datetime.now(UTC).year + 1, 11, 1, tzinfo=UTC)
    return first + timedelta(days=(6 - first.weekday()) % 7)


def _secret_and_tenant(server, api_key: str) -> tuple[str, str]:
    engine = sa.create_engine(server.database_url)
    with engine.connect() as conn:
        secret = conn.execute(sa.select(server_secrets.c.value).where(server_secrets.c.name == "signing")).scalar_one()
        tenant = conn.execute(sa.select(api_keys.c.tenant_id).where(api_keys.c.key_hash == hash_api_key(api_key))
                              ).scalar_one()
    engine.dispose()
    return secret, tenant


def test_hourly_draw_lists_each_local_hour_with_a_seed_hash_across_a_fall_back(client, server, api_key, cid):
    day = _fall_back_day()
    # 00:00 EDT (04:00Z) to 03:00 EST (08:00Z): five wall-clock hours, 01 twice.
    _campaign(client, cid, day.replace(hour=4), day.replace(hour=8))
    response = client.get(f"/v1/campaigns/{cid}/draws/hourly")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["rule_id"], body["period"], body["timezone"]) == ("hourly", "hour", "America/New_York")
    date = day.strftime("%Y-%m-%d")
    assert [p["period"] for p in body["periods"]] == [
        f"{date}T00", f"{date}T01", f"{date}T01-05:00", f"{date}T02"]
    assert [p["starts_at"][11:16] for p in body["periods"]] == ["04:00", "05:00", "06:00", "07:00"]
    assert {p["status"] for p in body["periods"]} == {"scheduled"}
    hashes = [p["seed_hash"] for p in body["periods"]]
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes) and len(set(hashes)) == 4
    assert all("seed" not in p and p["result"] is None for p in body["periods"])

    # The commitment is the documented derivation, and it does not move between reads.
    secret, tenant = _secret_and_tenant(server, api_key)
    period = body["periods"][2]["period"]
    seed = hmac.new(secret.encode(), f"draw-seed|{tenant}|{cid}|hourly|{period}".encode(), hashlib.sha256).hexdigest()
    assert hashes[2] == hashlib.sha256(seed.encode()).hexdigest()
    assert client.get(f"/v1/campaigns/{cid}/draws/hourly").json() == body


def test_campaign_draw_has_one_period_and_is_open_during_the_live(client, cid):
    now = datetime.now(UTC)
    _campaign(client, cid, this_hour(now), now + timedelta(hours=1))
    body = client.get(f"/v1/campaigns/{cid}/draws/grand").json()
    assert [(p["period"], p["status"]) for p in body["periods"]] == [("campaign", "open")]
    assert (body["winners"], body["permit"], body["free_entry"]) == (2, "P-1", True)
    hourly = client.get(f"/v1/campaigns/{cid}/draws/hourly").json()["periods"]
    assert [p["status"] for p in hourly][:1] == ["open"] and all(p["status"] == "scheduled" for p in hourly[1:])


def test_seed_hashes_differ_between_campaigns_and_rules(client, cid):
    now = datetime.now(UTC)
    _campaign(client, cid, now + timedelta(hours=1), now + timedelta(hours=2))
    _campaign(client, cid + "b", now + timedelta(hours=1), now + timedelta(hours=2))
    grand = client.get(f"/v1/campaigns/{cid}/draws/grand").json()["periods"][0]["seed_hash"]
    other = client.get(f"/v1/campaigns/{cid}b/draws/grand").json()["periods"][0]["seed_hash"]
    assert grand != other


def test_unknown_or_non_draw_rule_is_404(client, server, cid):
    now = datetime.now(UTC)
    _campaign(client, cid, now + timedelta(hours=1), now + timedelta(hours=2))
    for path in (f"/v1/campaigns/{cid}/draws/nope", f"/v1/campaigns/{cid}/draws/rr", "/v1/campaigns/nope/draws/grand"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    with server.client(None) as anonymous:
        assert anonymous.get(f"/v1/campaigns/{cid}/draws/grand").status_code == 401
