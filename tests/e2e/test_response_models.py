"""Each route's response model, as OpenAPI names it, states exactly what the route answers.

A body read through its model and written back must come out the same: a key the model does not
declare would be dropped, a key it adds would appear, a number of the wrong kind would change.
The leaderboard, rewards and report are encoded without FastAPI's validation (kit/responses.py),
so this is what keeps their documented shapes true. POST /v1/events, a bare handler, is documented
from the msgspec structs that decode its batches: what the document allows is what it takes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jsonschema_rs
import orjson
import pytest
from pydantic import BaseModel, TypeAdapter

from liveloop.draws.schemas import DrawEntrantsRead, DrawEntryRead, DrawRead, DrawRunRead
from liveloop.engine.model import EVENT_TYPES
from liveloop.fx.schemas import FxRatesRead
from liveloop.integrations.schemas import IntegrationRead
from liveloop.invites.schemas import InviteRead
from liveloop.leaderboards.schemas import LeaderboardRead
from liveloop.markets.schemas import CalendarRead, MarketListRead, MarketRead, ScheduleSuggestionsRead
from liveloop.realtime.room_tokens import RoomTokenRead
from liveloop.realtime.schemas import ViewerTokenRead
from liveloop.reports.schemas import ProgressRead, ReportRead
from liveloop.rewards.schemas import RewardsRead
from liveloop.rooms.schemas import RoomUserRead
from liveloop.users.schemas import UserRead
from tests.e2e.helpers import iso, post_ok, send
from tests.support import create_tenant

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def openapi(server) -> dict:
    return server.client(None).get("/openapi.json").json()


@pytest.fixture(scope="module")
def own_key(server) -> str:
    """A tenant of its own: the FX rates it supplies must not reach other tests' campaigns."""
    return create_tenant(server.database_url, "shapes")


@pytest.fixture
def client(server, own_key):
    with server.client(own_key) as c:
        yield c


def answers(client, openapi: dict, model: type[BaseModel], method: str, path: str, route: str, *,
            status: int = 200, **kwargs) -> dict:
    """Call the route, check that OpenAPI documents `model` for it and that `model` states the body exactly."""
    response = client.request(method, path, **kwargs)
    assert response.status_code == status, response.text
    documented = openapi["paths"][route][method.lower()]["responses"][str(status)]
    assert documented["content"]["application/json"]["schema"] == {"$ref": f"#/components/schemas/{model.__name__}"}
    body = response.json()
    adapter = TypeAdapter(model)
    restated = orjson.loads(adapter.dump_json(adapter.validate_python(body), by_alias=True))
    assert orjson.dumps(restated, option=orjson.OPT_SORT_KEYS) == orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return body


def campaign(cid: str, starts: datetime, ends: datetime, **extra) -> dict:
    return {
        "id": cid, "title": "Shapes", "market": "US", "starts_at": iso(starts), "ends_at": iso(ends),
        "landing_url": "https://shop.example.com/live", "budget": "1000.00",
        "leaderboard": {"metric": "gmv"},
        "rules": [
            {"id": "rr", "type": "reservation_referral", "referrer_reward": {"kind": "coupon", "amount": "5.00"},
             "referee_reward": {"kind": "coupon", "percent_off": "10"}},
            {"id": "ms", "type": "milestone", "metric": "reservations",
             "tiers": [{"at": 2, "reward": {"kind": "points", "points": 50}},
                       {"at": 50, "reward": {"kind": "unlock", "content": "the backstage stream"}}]},
            {"id": "oc", "type": "order_commission", "percent": "10", "hold_days": 30},
            {"id": "dr", "type": "draw", "winners": 2, "free_entry": True, "entry": {"metric": "reservations",
             "at_least": 1}, "prize": {"kind": "free_item", "sku": "MUG-1", "name": "Mug"}},
        ],
        **extra,
    }


def test_campaign_reads_are_stated_exactly_by_their_models(client, openapi, cid):
    starts, ends = NOW - timedelta(hours=5), NOW - timedelta(hours=1)
    post_ok(client, "/v1/campaigns", campaign(cid, starts, ends))
    base = f"/v1/campaigns/{cid}"
    invite = answers(client, openapi, InviteRead, "POST", f"{base}/invites", "/v1/campaigns/{cid}/invites",
                     status=201, json={"user_id": "ana", "channel": "wa"})
    other = post_ok(client, f"{base}/invites", {"user_id": "budi"})["code"]
    before, at = starts - timedelta(minutes=10), starts + timedelta(minutes=10)
    events = [{"id": f"{cid}/r{i}", "type": "reservation", "campaign_id": cid, "user_id": f"friend{i}",
               "at": iso(before), "ref": invite["code"] if i < 3 else other} for i in range(4)]
    events += [{"id": f"{cid}/j0", "type": "room_join", "campaign_id": cid, "user_id": "friend0", "at": iso(at)},
               {"id": f"{cid}/o0", "type": "order_paid", "campaign_id": cid, "user_id": "friend0", "at": iso(at),
                "order": {"id": "o0", "amount": "80.00", "currency": "USD"}}]
    assert send(client, events)["accepted"] == len(events)
    answers(client, openapi, UserRead, "PUT", "/v1/users/ana", "/v1/users/{uid}",
            json={"display_name": "Ana P.", "consents": {"leaderboard_public": True}})
    answers(client, openapi, UserRead, "PUT", f"/v1/users/{cid}-new", "/v1/users/{uid}", status=201,
            json={"market": "ID"})

    rewards = answers(client, openapi, RewardsRead, "GET", f"{base}/rewards", "/v1/campaigns/{cid}/rewards")
    assert {r["kind"] for r in rewards["rewards"]} >= {"coupon", "points"}
    assert any(r["status"] == "pending" and r["available_at"] for r in rewards["rewards"])
    board = answers(client, openapi, LeaderboardRead, "GET", f"{base}/leaderboard", "/v1/campaigns/{cid}/leaderboard")
    assert board["metric"] == "gmv" and board["entries"]
    progress = answers(client, openapi, ProgressRead, "GET", f"{base}/users/ana/progress",
                       "/v1/campaigns/{cid}/users/{uid}/progress")
    assert progress["next_milestone"]["reward"] == {"kind": "unlock", "content": "the backstage stream"}
    answers(client, openapi, ProgressRead, "GET", f"{base}/users/nobody/progress",
            "/v1/campaigns/{cid}/users/{uid}/progress")
    report = answers(client, openapi, ReportRead, "GET", f"{base}/report", "/v1/campaigns/{cid}/report")
    assert report["referrers"] and report["k_factor"] is not None

    answers(client, openapi, DrawRead, "GET", f"{base}/draws/dr", "/v1/campaigns/{cid}/draws/{rule_id}")
    run = answers(client, openapi, DrawRunRead, "POST", f"{base}/draws/dr/run",
                  "/v1/campaigns/{cid}/draws/{rule_id}/run")
    assert run["prizes"]
    answers(client, openapi, DrawRead, "GET", f"{base}/draws/dr", "/v1/campaigns/{cid}/draws/{rule_id}")
    answers(client, openapi, DrawEntrantsRead, "GET", f"{base}/draws/dr/entrants",
            "/v1/campaigns/{cid}/draws/{rule_id}/entrants")

    answers(client, openapi, FxRatesRead, "PUT", "/v1/fx-rates", "/v1/fx-rates",
            json={"rates": [{"from": "USD", "to": "EUR", "rate": "0.9", "valid_from": "2020-01-01"}]})
    answers(client, openapi, FxRatesRead, "GET", "/v1/fx-rates", "/v1/fx-rates")
    answers(client, openapi, ReportRead, "GET", f"{base}/report?currency=EUR", "/v1/campaigns/{cid}/report")


def test_live_campaign_reads_are_stated_exactly_by_their_models(client, openapi, cid):
    post_ok(client, "/v1/campaigns", campaign(cid, NOW - timedelta(minutes=10), NOW + timedelta(hours=2),
                                              budget=None))
    base = f"/v1/campaigns/{cid}"
    route = "/v1/campaigns/{cid}/draws/{rule_id}/entries"
    for status in (201, 200):  # entered, then already entered
        answers(client, openapi, DrawEntryRead, "POST", f"{base}/draws/dr/entries", route, status=status,
                json={"user_id": "ana"})
    answers(client, openapi, DrawRead, "GET", f"{base}/draws/dr", "/v1/campaigns/{cid}/draws/{rule_id}")
    report = answers(client, openapi, ReportRead, "GET", f"{base}/report", "/v1/campaigns/{cid}/report")
    assert report["budget"]["total"] is None and report["k_factor"] is None
    answers(client, openapi, ViewerTokenRead, "POST", f"{base}/viewer-tokens", "/v1/campaigns/{cid}/viewer-tokens",
            status=201, json={"user_id": "ana"})
    answers(client, openapi, RoomTokenRead, "POST", f"{base}/room-tokens", "/v1/campaigns/{cid}/room-tokens",
            status=201, json={})
    answers(client, openapi, RoomUserRead, "PUT", f"{base}/room-users/42",
            "/v1/campaigns/{cid}/room-users/{provider_uid}", json={"user_id": "ana"})
    integration = answers(client, openapi, IntegrationRead, "POST", "/v1/integrations", "/v1/integrations",
                          status=201, json={"provider": "agora", "secret": "s3cret-s3cret"})
    answers(client, openapi, IntegrationRead, "PUT", f"/v1/integrations/{integration['id']}",
            "/v1/integrations/{integration_id}", json={"secret": "an0ther-s3cret"})


def test_market_reads_are_stated_exactly_by_their_models(client, openapi):
    markets = answers(client, openapi, MarketListRead, "GET", "/v1/markets", "/v1/markets")
    assert any(m["policy"]["promo_value_limit"] for m in markets["markets"])
    assert any(m["policy"]["draw_permit_above"] for m in markets["markets"])
    answers(client, openapi, MarketRead, "GET", "/v1/markets/de", "/v1/markets/{code}")
    answers(client, openapi, CalendarRead, "GET", "/v1/markets/ID/calendar?from=2027-01-01&to=2027-12-31",
            "/v1/markets/{code}/calendar")
    suggestions = answers(client, openapi, ScheduleSuggestionsRead, "POST", "/v1/schedule/suggest",
                          "/v1/schedule/suggest", json={"markets": ["ID", "SA", "DE"], "duration_minutes": 90,
                                                        "from": "2027-03-01", "to": "2027-03-31"})
    assert any(s["holidays"] for s in suggestions["suggestions"])


def schema_of(openapi: dict, name: str):
    return jsonschema_rs.validator_for({"components": openapi["components"], "$ref": f"#/components/schemas/{name}"})


def test_the_event_batch_is_documented_as_it_is_taken_and_answered(client, openapi, cid):
    post_ok(client, "/v1/campaigns", campaign(cid, NOW - timedelta(minutes=10), NOW + timedelta(hours=2)))
    at = iso(NOW - timedelta(minutes=1))
    good = [{"id": f"{cid}/{kind}", "type": kind, "campaign_id": cid, "user_id": "ana", "at": at}
            for kind in ("reservation", "room_join", "share")]
    good.append({"id": f"{cid}/paid", "type": "order_paid", "campaign_id": cid, "user_id": "ana", "at": at,
                 "device_id": "d1", "ip": "203.0.113.9", "order": {"id": "o1", "amount": 1250, "currency": "USD"}})
    refused = [{**good[0], "id": f"{cid}/bad-type", "type": "purchase"},
               {**good[0], "id": "x" * 129},
               {**good[3], "id": f"{cid}/bad-amount", "order": {"id": "o2", "amount": "12,50", "currency": "USD"}}]
    batch, answer = schema_of(openapi, "EventBatch"), schema_of(openapi, "BatchResult")

    assert batch.is_valid({"events": good})
    assert [batch.is_valid({"events": [event]}) for event in refused] == [False, False, False]
    path = openapi["paths"]["/v1/events"]["post"]
    assert path["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/EventBatch"}
    assert path["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/BatchResult"}
    assert set(openapi["components"]["schemas"]["EventIn"]["properties"]["type"]["enum"]) == set(EVENT_TYPES)

    response = client.post("/v1/events", json={"events": good + refused})
    assert response.status_code == 200, response.text
    body = response.json()
    answer.validate(body)
    assert set(body) == set(openapi["components"]["schemas"]["BatchResult"]["required"])
    assert body["accepted"] == len(good) and [r["index"] for r in body["rejected"]] == [4, 5, 6]
