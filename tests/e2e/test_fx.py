"""Orders in another currency: converted with the tenant's dated rates, or declined with `fx`."""

from __future__ import annotations

from tests.e2e.helpers import campaign, during, event, invite, post_ok, send

RULE = {"id": "oc", "type": "order_commission", "percent": "10"}


def test_orders_convert_with_dated_rates_or_are_declined_fx(client, cid):
    post_ok(client, "/v1/campaigns", campaign(cid, rules=[RULE]))
    code = invite(client, cid, "alice")
    today = during(0).date().isoformat()
    send(client, [
        event("j1", "room_join", cid, "bob", during(1), ref=code),
        event("p1", "order_paid", cid, "bob", during(2), order={"id": "EU-1", "amount": "50.00", "currency": "EUR"}),
    ])
    [declined] = client.get(f"/v1/campaigns/{cid}/rewards", params={"user_id": "alice"}).json()["rewards"]
    assert (declined["status"], declined["reason"]) == ("declined", "fx")

    rates = client.put("/v1/fx-rates", json={"rates": [
        {"from": "EUR", "to": "USD", "rate": "1.10", "valid_from": "2020-01-01"},
        {"from": "EUR", "to": "USD", "rate": "1.0833", "valid_from": today},
        {"from": "USD", "to": "JPY", "rate": "150", "valid_from": "2020-01-01"},
    ]})
    assert rates.status_code == 200, rates.text
    assert {"from": "EUR", "to": "USD", "rate": "1.0833", "valid_from": today} in rates.json()["rates"]
    send(client, [
        event("p2", "order_paid", cid, "bob", during(3), order={"id": "EU-2", "amount": "50.00", "currency": "EUR"}),
        # a rate supplied later does not rewrite what was already decided
        event("p1", "order_paid", cid, "bob", during(2), order={"id": "EU-1", "amount": "50.00", "currency": "EUR"}),
    ])
    rewards = client.get(f"/v1/campaigns/{cid}/rewards", params={"user_id": "alice"}).json()["rewards"]
    # 50.00 EUR x 1.0833 = 54.165 -> 54.16 USD (half to even); 10% -> 5.416 -> 5.42
    assert [(r["cause_event_id"], r["status"], r["reason"]) for r in rewards] == [
        (f"{cid}/p1", "declined", "fx"), (f"{cid}/p2", "available", None)]
    assert rewards[1]["amount"] == "5.42"
    report = client.get(f"/v1/campaigns/{cid}/report").json()
    assert report["funnel"]["orders"] == 2 and report["funnel"]["gmv"] == "54.16"
    in_yen = client.get(f"/v1/campaigns/{cid}/report", params={"currency": "JPY"}).json()
    assert in_yen["currency"] == "JPY" and in_yen["funnel"]["gmv"] == "8124"
    missing = client.get(f"/v1/campaigns/{cid}/report", params={"currency": "THB"})
    assert missing.status_code == 422 and missing.json()["error"]["code"] == "fx"
    bad = client.put("/v1/fx-rates", json={"rates": [{"from": "XXX1", "to": "USD", "rate": "1", "valid_from": today}]})
    assert bad.status_code == 422
