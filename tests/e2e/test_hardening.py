"""Hostile input over the real HTTP API: every number, string and body is bounded at the edge.

Each case answers a 4xx naming the field (a bad event is rejected alone in its batch), at once,
on SQLite and on PostgreSQL; none is a 5xx, stalls the server or is stored to fail a write later.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import httpx
import pytest

from tests.e2e.helpers import campaign, during, event, invite, post_ok, send
from tests.support import create_tenant

# A request a server answers at once; a stalled event loop makes it time out instead.
PROMPTLY = 5.0

BADGE = {"kind": "badge", "name": "Host"}


def milestone(metric: str, at: object) -> dict:
    return {"id": "m", "type": "milestone", "metric": metric, "tiers": [{"at": at, "reward": BADGE}]}


def refused(client, body: dict, field: str) -> dict:
    response = client.post("/v1/campaigns", json=body, timeout=PROMPTLY)
    assert response.status_code == 422, (body, response.text)
    error = response.json()["error"]
    assert error["field"] == field, error
    assert error["message"]
    return error


def rejected_alone(client, cid: str, bad: dict) -> dict:
    """Send `bad` between two good events: it alone is rejected, and its error is returned."""
    batch = [event(f"ok-a-{id(bad)}", "click", cid, "u1", during(1)), bad,
             event(f"ok-b-{id(bad)}", "share", cid, "u1", during(2))]
    response = client.post("/v1/events", json={"events": batch}, timeout=PROMPTLY)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["accepted"] + result["duplicates"] == 2, result
    [rejection] = result["rejected"]
    assert rejection["index"] == 1
    return rejection["error"]


def order(cid: str, eid: str, amount: object, currency: str = "USD") -> dict:
    return event(eid, "order_paid", cid, "buyer", during(5), order={"id": eid, "amount": amount, "currency": currency})


# -- 1 and 3: numbers are bounded before any arithmetic ------------------------------------------


@pytest.mark.parametrize("at", ["1e999999", "1E+30", "9" * 40, 10**30, "-5", "0x10", "Infinity"])
def test_a_milestone_tier_out_of_bounds_is_refused_at_once(client, cid, at):
    for metric in ("joins", "gmv"):
        refused(client, campaign(cid, rules=[milestone(metric, at)]), "rules.0.tiers.0.at")


def test_counts_a_campaign_names_are_bounded(client, cid):
    huge = 10**30
    refused(client, campaign(cid, rules=[{"id": "rr", "type": "reservation_referral", "max_per_referrer": huge,
                                          "referrer_reward": BADGE}]), "rules.0.max_per_referrer")
    refused(client, campaign(cid, rules=[{"id": "d", "type": "draw", "entry": {"metric": "joins", "at_least": huge},
                                          "winners": 1, "prize": BADGE, "free_entry": True}]),
            "rules.0.entry.at_least")
    refused(client, campaign(cid, rules=[milestone("joins", 10**9 + 1)]), "rules.0")
    refused(client, campaign(cid, rules=[{"id": "p", "type": "milestone", "metric": "joins", "tiers": [
        {"at": 1, "reward": {"kind": "points", "points": huge}}]}]), "rules.0.tiers.0.reward.points")
    # Within the bounds, the same shapes are taken.
    created = post_ok(client, "/v1/campaigns", campaign(cid, rules=[milestone("gmv", "9999999999999.99")]))
    assert created["rules"][0]["tiers"][0]["at"] == "9999999999999.99"


@pytest.mark.parametrize("amount", ["1e100", "1E+30", "1" * 40, 10**19, 10**30, "1e999999999", "9999999999999.9999999",
                                    "-1", "NaN", "Infinity", 1.5, True])
def test_an_order_amount_out_of_bounds_is_rejected_alone(client, cid, amount):
    post_ok(client, "/v1/campaigns", campaign(cid))
    error = rejected_alone(client, cid, order(cid, "bad", amount))
    assert error["field"] == "order.amount", error


def test_the_largest_amounts_and_integers_are_taken(client, cid):
    post_ok(client, "/v1/campaigns", campaign(cid, leaderboard={"metric": "gmv"}))
    result = send(client, [order(cid, "big", "9999999999999.99"), order(cid, "int", 10**13 - 1)])
    assert result == {"accepted": 2, "duplicates": 0, "rejected": []}
    report = client.get(f"/v1/campaigns/{cid}/report").json()
    assert report["funnel"]["gmv"] == "19999999999998.99"


# -- 2: nothing accepted fails to fit storage later ----------------------------------------------


@pytest.fixture(scope="module")
def own_tenant(server):
    """A tenant of its own, for FX rates (a tenant's rates apply to all of its campaigns)."""
    with server.client(create_tenant(server.database_url, "fx-bounds")) as c:
        yield c


def test_a_converted_order_that_would_not_fit_is_rejected_alone(own_tenant, cid):
    client = own_tenant
    response = client.put("/v1/fx-rates", json={"rates": [
        {"from": "USD", "to": "IDR", "rate": "999999999", "valid_from": "2020-01-01"}]})
    assert response.status_code == 200, response.text
    post_ok(client, "/v1/campaigns", campaign(cid, market="ID", currency="IDR", leaderboard={"metric": "gmv"},
                                              rules=[{"id": "c", "type": "order_commission", "percent": "5"}]))
    error = rejected_alone(client, cid, order(cid, "huge", "9999999999999", "USD"))
    assert error["field"] == "order.amount"
    # A realistic order in the same currency is converted and rewarded as usual.
    assert send(client, [order(cid, "fine", "10.00", "USD")])["accepted"] == 1
    report = client.get(f"/v1/campaigns/{cid}/report").json()
    assert report["funnel"]["gmv"] == "9999999990.00"


def test_a_percent_that_would_not_fit_is_refused_at_creation(client, cid):
    coupon = {"kind": "coupon", "percent_off": "12.3456789012345678"}
    refused(client, campaign(cid, rules=[{"id": "rr", "type": "reservation_referral", "referrer_reward": coupon}]),
            "rules.0.referrer_reward.percent_off")
    refused(client, campaign(cid, rules=[{"id": "c", "type": "order_commission", "percent": "1e-30"}]),
            "rules.0.percent")
    # A percentage in plain decimals, as text or number, is taken and shown as it was given.
    created = post_ok(client, "/v1/campaigns", campaign(cid, rules=[
        {"id": "rr", "type": "reservation_referral", "referrer_reward": {"kind": "coupon", "percent_off": 12.5}},
        {"id": "c", "type": "order_commission", "percent": "2.125"}]))
    assert created["rules"][0]["referrer_reward"]["percent_off"] == "12.5"
    assert created["rules"][1]["percent"] == "2.125"


@pytest.mark.parametrize("rate", ["1e9", "1000000000", "0.0000000000001", "-1", "١٢"])
def test_fx_rates_out_of_bounds_are_refused(client, rate):
    response = client.put("/v1/fx-rates", json={"rates": [{"from": "USD", "to": "EUR", "rate": rate,
                                                           "valid_from": "2026-01-01"}]})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "rates.0.rate"


def test_an_fx_rate_is_kept_in_plain_digits(own_tenant):
    response = own_tenant.put("/v1/fx-rates", json={"rates": [{"from": "IDR", "to": "KWD", "rate": "0.000000000001",
                                                               "valid_from": "2026-01-01"}]})
    assert response.status_code == 200, response.text
    rates = {(r["from"], r["to"]): r["rate"] for r in response.json()["rates"]}
    assert rates[("IDR", "KWD")] == "0.000000000001"


# -- 4: deep nesting ------------------------------------------------------------------------------


def test_a_deeply_nested_body_is_a_400(client, cid):
    post_ok(client, "/v1/campaigns", campaign(cid))
    deep = '{"a":' * 1000 + "1" + "}" * 1000
    bodies = [
        '{"events": [{"id": "x", "order": ' + deep + "}]}",
        '{"events": [' + "[" * 1000 + "]" * 1000 + "]}",
        '{"events": ' + deep + "}",
    ]
    for body in bodies:
        response = client.post("/v1/events", content=body, timeout=PROMPTLY)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "bad_request"
    response = client.put("/v1/users/u1", content='{"consents": ' + deep + "}",
                          headers={"content-type": "application/json"}, timeout=PROMPTLY)
    assert response.status_code in (400, 422), response.text


# -- 5: bodies and fields are limited ------------------------------------------------------------


@pytest.mark.parametrize("method,path", [("PUT", "/v1/users/u1"), ("PUT", "/v1/fx-rates"), ("POST", "/v1/campaigns"),
                                         ("POST", "/v1/events")])
def test_every_body_over_one_mebibyte_is_a_413(client, method, path):
    body = b'{"display_name": "' + b"x" * (1024 * 1024) + b'"}'
    response = client.request(method, path, content=body, headers={"content-type": "application/json"},
                              timeout=PROMPTLY)
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "too_large"


def test_a_chunked_body_is_cut_at_the_limit(client):
    def chunks():
        for _ in range(2 * 16):  # 2 MiB, with no Content-Length
            yield b" " * 65536

    response = client.put("/v1/fx-rates", content=chunks(), headers={"content-type": "application/json"},
                          timeout=PROMPTLY)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


def test_user_fields_are_limited(client):
    cases = [
        ({"market": "US", "display_name": "x" * 201}, "display_name"),
        ({"market": "US", "consents": {"k" * 65: True}}, "consents."),
        ({"market": "US", "consents": {f"c{i}": True for i in range(33)}}, "consents"),
        ({"market": "US", "locale": "en\u0000"}, "locale"),
    ]
    for body, field in cases:
        response = client.put("/v1/users/limits", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["field"].startswith(field)
    # Consents merge over several requests, up to the same limit.
    ok = client.put("/v1/users/limits", json={"market": "US", "consents": {f"a{i}": True for i in range(30)}})
    assert ok.status_code in (200, 201), ok.text
    more = client.put("/v1/users/limits", json={"consents": {f"b{i}": True for i in range(3)}})
    assert more.status_code == 422 and more.json()["error"]["field"] == "consents"


# -- 6: control characters, NUL bytes and out-of-range dates -------------------------------------


def test_nul_bytes_are_refused_where_they_arrive(server, client):
    share = httpx.get(f"{server.url}/s/abc%00def", timeout=PROMPTLY)
    assert share.status_code == 404 and share.headers["content-type"].startswith("text/html")
    integration = client.put("/v1/integrations/int%00x", json={"secret": "abcdefghij"})
    assert integration.status_code == 422 and integration.json()["error"]["field"] == "integration_id"
    user = client.put("/v1/users/u1", json={"market": "US", "display_name": "Siti\u0000"})
    assert user.status_code == 422 and user.json()["error"]["field"] == "display_name"
    assert "control characters" in user.json()["error"]["message"]


@pytest.mark.parametrize("field,value", [("starts_at", "0001-01-01T00:00:00+01:00"),
                                         ("ends_at", "9999-12-31T23:59:59-01:00"),
                                         ("starts_at", "1969-12-31T23:00:00Z"),
                                         ("starts_at", 1700000000)])
def test_campaign_instants_out_of_range_are_a_422(client, cid, field, value):
    refused(client, campaign(cid, **{field: value}), field)


def test_an_hourly_draw_window_is_bounded(client, cid):
    draw = {"id": "d", "type": "draw", "period": "hour", "entry": {"event": "share"}, "winners": 1, "prize": BADGE,
            "free_entry": True}
    refused(client, campaign(cid, starts_at="2027-01-01T00:00:00Z", ends_at="2027-03-01T00:00:00Z", rules=[draw]), None)


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00", "1960-01-01T00:00:00Z"])
def test_event_instants_out_of_range_are_rejected_alone(client, cid, at):
    post_ok(client, "/v1/campaigns", campaign(cid))
    error = rejected_alone(client, cid, event("bad", "click", cid, "u1", during(1)) | {"at": at})
    assert error["field"] == "at"


@pytest.mark.parametrize("url", ["https://shop.example.com/x\u0001y", "https://shop.example.com/x\ty",
                                 "https://shop.example.com/caf\u00e9"])
def test_landing_urls_are_printable_ascii(client, cid, url):
    refused(client, campaign(cid, landing_url=url), "landing_url")


def test_a_share_link_with_a_percent_encoded_landing_url_redirects(client, cid):
    post_ok(client, "/v1/campaigns", campaign(cid, landing_url="https://shop.example.com/caf%C3%A9?q=a%20b"))
    code = invite(client, cid, "alice")
    response = client.get(f"/s/{code}")
    assert response.status_code == 302
    assert response.headers["location"] == f"https://shop.example.com/caf%C3%A9?q=a+b&ll_ref={code}"


# -- 8: exactly the documented formats -----------------------------------------------------------


@pytest.mark.parametrize("amount", ["\u0661\u0662\u0663", "1_000", " 12 ", "12\n", "+12", "12.", ".5", "1,000"])
def test_lenient_amounts_are_rejected(client, cid, amount):
    post_ok(client, "/v1/campaigns", campaign(cid))
    assert rejected_alone(client, cid, order(cid, "bad", amount))["field"] == "order.amount"
    refused(client, campaign(cid + "-b", budget=amount), "budget")


@pytest.mark.parametrize("user", ["u\u0085", "u\u009f", "u\u0000", "u\n"])
def test_control_characters_in_user_ids_are_rejected(client, cid, user):
    post_ok(client, "/v1/campaigns", campaign(cid))
    # Escaped ("\u0085") and raw (C1 characters may be sent as plain UTF-8): the same answer.
    for ascii_only in (True, False):
        bad = event(f"bad-{ascii_only}", "click", cid, user, during(1))
        body = json.dumps({"events": [bad]}, ensure_ascii=ascii_only).encode()
        result = client.post("/v1/events", content=body, timeout=PROMPTLY).json()
        assert result["accepted"] == 0 and result["rejected"][0]["error"]["field"] == "user_id", result
    assert rejected_alone(client, cid, event("bad", "click", cid, user, during(1)))["field"] == "user_id"
    path = client.put(f"/v1/users/{quote(user)}", json={"market": "US"})
    assert path.status_code == 422 and path.json()["error"]["field"] == "uid", path.text


def test_accepted_text_keeps_its_characters(client, cid):
    post_ok(client, "/v1/campaigns", campaign(cid))
    name = "Siti \u00a3 \u00e9\u00e8 \u0627\u0644\u0639\u0631\u0628\u064a\u0629 \U0001f600"
    result = send(client, [event("n1", "click", cid, name, during(1))])
    assert result["accepted"] == 1, result
    user = client.put("/v1/users/plain", json={"market": "US", "display_name": name})
    assert user.status_code in (200, 201) and user.json()["display_name"] == name
