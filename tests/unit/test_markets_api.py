"""The markets router over HTTP, mounted the way app.py mounts it (errors in the SPEC shape)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from liveloop.kit import clock
from liveloop.kit.errors import LiveloopError
from liveloop.markets.api import router


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    app.include_router(router)

    @app.exception_handler(LiveloopError)
    def render(request: Request, exc: LiveloopError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    return TestClient(app)


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


def test_calendar_defaults_to_the_next_30_days_in_the_market(client, monkeypatch):
    # 20:00Z on 24 Dec is already 25 Dec in Jakarta.
    monkeypatch.setattr(clock, "now", lambda: datetime(2027, 12, 24, 20, tzinfo=UTC))
    body = client.get("/v1/markets/ID/calendar").json()
    assert (body["from"], body["to"]) == ("2027-12-25", "2028-01-24")
    assert body["days"][0] == {"date": "2027-12-25", "name": "Christmas Day", "kind": "public"}


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
