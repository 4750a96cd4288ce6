"""Builders for API payloads used across the end-to-end tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

NOW = datetime.now(UTC).replace(microsecond=0)
STARTS = NOW - timedelta(hours=1)
ENDS = NOW + timedelta(hours=2)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def campaign(cid: str, **overrides) -> dict:
    body = {
        "id": cid,
        "title": "Spring live",
        "market": "US",
        "starts_at": iso(STARTS),
        "ends_at": iso(ENDS),
        "landing_url": "https://shop.example.com/live?src=ig",
        "leaderboard": {"metric": "reservations"},
        "rules": [],
    }
    body.update(overrides)
    return body


def event(eid: str, kind: str, cid: str, user: str, at: datetime, ref: str | None = None, **extra) -> dict:
    """An event whose id is unique to the campaign (event ids are unique per tenant, tests share one)."""
    ev = {"id": f"{cid}/{eid}", "type": kind, "campaign_id": cid, "user_id": user, "at": iso(at)}
    if ref:
        ev["ref"] = ref
    ev.update(extra)
    return ev


def before_start(minutes: int) -> datetime:
    return STARTS - timedelta(minutes=minutes)


def during(minutes: int) -> datetime:
    return STARTS + timedelta(minutes=minutes)


def post_ok(client, path: str, body: dict, status: int = 201) -> dict:
    response = client.post(path, json=body)
    assert response.status_code == status, response.text
    return response.json()


def invite(client, cid: str, user: str, **extra) -> str:
    return post_ok(client, f"/v1/campaigns/{cid}/invites", {"user_id": user, **extra})["code"]


def send(client, events: list[dict]) -> dict:
    response = client.post("/v1/events", json={"events": events})
    assert response.status_code == 200, response.text
    return response.json()
