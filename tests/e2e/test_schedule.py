"""POST /v1/schedule/suggest over a real server: the dates /calendar takes, and choices worth choosing between."""

from __future__ import annotations

from datetime import datetime


def suggest(client, body: dict) -> list[dict]:
    response = client.post("/v1/schedule/suggest", json=body)
    assert response.status_code == 200, response.text
    return response.json()["suggestions"]


def test_suggest_takes_the_plain_dates_the_calendar_takes(client):
    calendar = client.get("/v1/markets/ID/calendar", params={"from": "2027-03-01", "to": "2027-03-07"})
    assert calendar.status_code == 200
    # `to` is the last day, as in the calendar: the week of 1 to 7 March, seven evenings.
    by_date = suggest(client, {"markets": ["ID"], "duration_minutes": 90, "from": "2027-03-01", "to": "2027-03-07"})
    by_instant = suggest(client, {"markets": ["ID"], "duration_minutes": 90, "from": "2027-03-01T00:00:00Z",
                                  "to": "2027-03-08T00:00:00Z"})
    assert by_date == by_instant
    assert [s["local"]["ID"] for s in by_date] == [f"2027-03-0{d}T19:00:00+07:00" for d in range(1, 8)]


def test_suggestions_are_distinct_choices_not_one_slot_shifted(client):
    week = suggest(client, {"markets": ["ID", "DE"], "duration_minutes": 60, "from": "2027-03-01",
                            "to": "2027-03-07", "limit": 10})
    assert len(week) >= 5
    starts = sorted(datetime.fromisoformat(s["start"]) for s in week)
    # No two suggestions are the same live moved by half an hour: each is another day or part of the day.
    gaps = [(later - earlier).total_seconds() / 3600 for earlier, later in zip(starts, starts[1:], strict=False)]
    assert min(gaps) >= 2, [s["start"] for s in week]
    # Each says how late it can start for the same coverage.
    for s in week:
        assert s["start"] <= s["latest_start"]


def test_a_malformed_date_is_a_422_on_its_field(client):
    for body, field in (({"from": "2027-02-30", "to": "2027-03-07"}, "from"),
                        ({"from": "2027-03-01", "to": "2027-03-01T00:00:00"}, "to")):
        response = client.post("/v1/schedule/suggest", json={"markets": ["ID"], "duration_minutes": 60, **body})
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] == field
