"""The markets routes over the real server: errors in the SPEC shape, rendered by the app's own handlers."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest


def test_markets_need_an_api_key(server):
    with server.client(None) as anonymous:
        response = anonymous.get("/v1/markets")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_lists_the_catalogue(client):
    response = client.get("/v1/markets")
    assert response.status_code == 200
    codes = [m["code"] for m in response.json()["markets"]]
    assert {"ID", "SA", "DE", "GB", "US", "CA"} <= set(codes)


def test_reads_one_market_case_insensitively(client):
    body = client.get("/v1/markets/sa").json()
    assert body["code"] == "SA"
    assert body["currency"] == "SAR"
    assert body["policy"]["rtl"] is True
    assert body["policy"]["purchase_linked_draw_forbidden"] is True


def test_a_markets_rules_come_with_their_basis_and_source(client):
    rules = {r["code"]: r for r in client.get("/v1/markets/DE").json()["policy"]["rules"]}
    assert rules["policy.free_entry_required"]["basis"] == "default"
    assert rules["policy.leaderboard_masking"]["source"].startswith("liveloop recommendation")
    [permit] = client.get("/v1/markets/TH").json()["policy"]["rules"]
    assert (permit["code"], permit["basis"]) == ("policy.permit_required", "law")
    assert permit["source"].startswith("TH Gambling Act B.E. 2478 s.8")


def test_unknown_market_is_404(client):
    response = client.get("/v1/markets/XX")
    assert response.status_code == 404
    assert response.json()["error"] == {"code": "not_found", "message": "unknown market XX", "field": None}
    assert client.get("/v1/markets/XX/calendar").status_code == 404


def test_calendar_between_dates(client):
    response = client.get("/v1/markets/SA/calendar", params={"from": "2027-03-01", "to": "2027-03-31"})
    assert response.status_code == 200
    body = response.json()
    assert (body["market"], body["from"], body["to"]) == ("SA", "2027-03-01", "2027-03-31")
    assert {"date": "2027-03-09", "name": "Eid al-Fitr Holiday", "kind": "public"} in body["days"]


def test_calendar_defaults_to_the_next_30_days_in_the_market(client):
    def expected() -> tuple[str, str]:
        today = datetime.now(ZoneInfo("Asia/Jakarta")).date()
        return today.isoformat(), (today + timedelta(days=30)).isoformat()

    before = expected()
    body = client.get("/v1/markets/ID/calendar").json()
    assert (body["from"], body["to"]) in {before, expected()}  # the day may turn during the request


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2027-01-01", "to": "2028-06-01"}, "to"),
        ({"from": "2027-02-01", "to": "2027-01-01"}, "to"),
        ({"from": "9999-12-31"}, "from"),
        ({"from": "2100-12-31", "to": "2101-01-01"}, "to"),
        ({"from": "0001-01-01"}, "from"),
    ],
)
def test_calendar_range_errors_are_422_with_the_field(client, params, field):
    response = client.get("/v1/markets/DE/calendar", params=params)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field


def test_suggest_takes_from_and_to(client):
    response = client.post(
        "/v1/schedule/suggest",
        json={"markets": ["ID"], "duration_minutes": 60, "from": "2027-03-01T00:00:00Z", "to": "2027-03-04T00:00:00Z"},
    )
    assert response.status_code == 200
    [first, *rest] = response.json()["suggestions"]
    assert first["start"] == "2027-03-01T12:00:00Z"
    assert first["local"] == {"ID": "2027-03-01T19:00:00+07:00"}
    assert first["prime_time_coverage"] == {"ID": 1.0}
    assert [s["start"] for s in rest] == ["2027-03-02T12:00:00Z", "2027-03-03T12:00:00Z"]


def test_suggest_refuses_an_unknown_market_on_the_markets_field(client):
    response = client.post(
        "/v1/schedule/suggest",
        json={"markets": ["XX"], "duration_minutes": 60, "from": "2027-03-01T00:00:00Z", "to": "2027-03-02T00:00:00Z"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "markets"


@pytest.mark.parametrize(
    "body",
    [
        {"markets": ["ID"], "duration_minutes": 60, "to": "2027-03-02T00:00:00Z"},
        {"markets": ["ID"], "duration_minutes": 60, "from": "2027-03-01T00:00:00", "to": "2027-03-02T00:00:00Z"},
        {"markets": ["ID"], "duration_minutes": 5, "from": "2027-03-01T00:00:00Z", "to": "2027-03-02T00:00:00Z"},
    ],
)
def test_suggest_rejects_malformed_bodies(client, body):
    assert client.post("/v1/schedule/suggest", json=body).status_code == 422
