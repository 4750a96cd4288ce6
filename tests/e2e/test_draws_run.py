"""Running draws over the real server: verifiable winners, prizes in the ledger, free entries, local hours."""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.helpers import invite, iso
from tests.e2e.test_draws_get import _secret_and_tenant
from tests.e2e.test_realtime import Sse, viewer_token
from tests.support import BIN, Server, create_tenant, fresh_postgres_database


def this_hour(now: datetime) -> datetime:
    """The start of the current hour: the campaign's first hourly period is then the open one
    (the test campaigns' time zones are whole hours from UTC)."""
    return now.replace(minute=0, second=0, microsecond=0)


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def winners_by_the_docs(seed: str, entrants: list[str], count: int) -> list[str]:
    """docs/draws.md, written again here: rank by the SHA-256 of seed, newline, user id; lowest first."""
    tickets = {user: hashlib.sha256(f"{seed}\n{user}".encode()).hexdigest() for user in entrants}
    return sorted(entrants, key=lambda user: (int(tickets[user], 16), user.encode()))[:count]


def list_hash_by_the_docs(entrants: list[str]) -> str:
    return hashlib.sha256("".join(f"{u}\n" for u in sorted(entrants, key=str.encode)).encode()).hexdigest()


def make_campaign(client, cid: str, starts: datetime, ends: datetime, rules: list, **extra) -> dict:
    body = {"id": cid, "title": "T", "market": "SG", "starts_at": iso(starts), "ends_at": iso(ends),
            "landing_url": "https://shop.example.com/live", "leaderboard": {"metric": "joins"}, "rules": rules,
            **extra}
    response = client.post("/v1/campaigns", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def send(client, events: list[dict]) -> None:
    response = client.post("/v1/events", json={"events": events})
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == len(events), response.text


def run(client, cid: str, rule: str, period: str | None = None, status: int = 200) -> dict:
    response = client.post(f"/v1/campaigns/{cid}/draws/{rule}/run", json={"period": period} if period else {})
    assert response.status_code == status, response.text
    return response.json()


def entrants_of(client, cid: str, rule: str, period: str) -> list[str]:
    response = client.get(f"/v1/campaigns/{cid}/draws/{rule}/entrants", params={"period": period})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == len(body["entrants"])
    assert body["entrants_hash"] == list_hash_by_the_docs(body["entrants"])
    return body["entrants"]


def check_verifiable(client, cid: str, rule: str, result: dict, winners: int) -> None:
    """Everything a viewer needs to check the draw: the commitment, the entrant list and the winners."""
    committed = {p["period"]: p["seed_hash"] for p in client.get(f"/v1/campaigns/{cid}/draws/{rule}").json()["periods"]}
    assert result["seed_hash"] == committed[result["period"]]
    assert hashlib.sha256(result["seed"].encode()).hexdigest() == result["seed_hash"]
    entrants = entrants_of(client, cid, rule, result["period"])
    assert result["entrants"] == len(entrants)
    assert result["entrants_hash"] == list_hash_by_the_docs(entrants)
    assert result["winners"] == winners_by_the_docs(result["seed"], entrants, winners)


def joins_rule(**extra) -> dict:
    return {"id": "grand", "type": "draw", "entry": {"metric": "joins", "at_least": 2}, "winners": 2,
            "prize": {"kind": "coupon", "amount": "10.00"}, **extra}


def test_campaign_draw_reveals_a_seed_that_recomputes_the_winners_and_pays_them(client, server, api_key, cid):
    now = datetime.now(UTC).replace(microsecond=0)
    starts, ends = now - timedelta(hours=3), now - timedelta(hours=1)
    # A budget for one prize and a half: the second winner's coupon is declined for budget.
    make_campaign(client, cid, starts, ends, [joins_rule()], budget="15.00")
    joins = {"r1": 3, "r2": 2, "r3": 1, "r4": 2, "r5": 4}  # r3 stays under at_least
    events = []
    for referrer, n in joins.items():
        code = invite(client, cid, referrer)
        for i in range(n):
            events.append({"id": f"{cid}-{referrer}-{i}", "type": "room_join", "campaign_id": cid,
                           "user_id": f"{referrer}-friend-{i}", "at": iso(starts + timedelta(minutes=5 + i)),
                           "ref": code})
    send(client, events)
    committed = client.get(f"/v1/campaigns/{cid}/draws/grand").json()["periods"][0]
    assert committed["status"] == "closed" and committed["result"] is None

    streams = {user: Sse(server, viewer_token(client, cid, user)) for user in ("r1", "r2", "r3", "r4", "r5")}
    try:
        result = run(client, cid, "grand")
        assert set(result) >= {"rule_id", "period", "seed_hash", "seed", "entrants", "winners"}
        assert (result["rule_id"], result["period"], result["entrants"]) == ("grand", "campaign", 4)
        assert entrants_of(client, cid, "grand", "campaign") == ["r1", "r2", "r4", "r5"]
        check_verifiable(client, cid, "grand", result, 2)

        # The seed is the one committed to from the start: the documented derivation of the server secret.
        secret, tenant = _secret_and_tenant(server, api_key)
        assert result["seed"] == hmac.new(secret.encode(), f"draw-seed|{tenant}|{cid}|grand|campaign".encode(),
                                          hashlib.sha256).hexdigest()

        first, second = result["winners"]
        for user, stream in streams.items():
            if user in result["winners"]:
                messages = [stream.next() for _ in range(2)]
                won = next(m for m in messages if m["type"] == "draw_won")
                assert (won["rule_id"], won["period"], won["prize"]["kind"]) == ("grand", "campaign", "coupon")
                assert {m["type"] for m in messages} == {"draw_won", "reward"}
            else:
                stream.assert_quiet(0.3)
    finally:
        for stream in streams.values():
            stream.close()

    ledger = {}
    for user in result["winners"]:
        [reward] = [r for r in client.get(f"/v1/campaigns/{cid}/rewards", params={"user_id": user}).json()["rewards"]
                    if r["rule_id"] == "grand"]
        ledger[user] = reward
        assert (reward["role"], reward["kind"], reward["amount"], reward["currency"]) == (
            "winner", "coupon", "10.00", "SGD")
    assert (ledger[first]["status"], ledger[first]["reason"]) == ("available", None)
    assert (ledger[second]["status"], ledger[second]["reason"]) == ("declined", "budget")
    assert [(p["user_id"], p["reward_id"], p["status"]) for p in result["prizes"]] == [
        (u, ledger[u]["id"], ledger[u]["status"]) for u in result["winners"]]

    # Running again returns the same result and grants nothing more.
    assert run(client, cid, "grand") == result
    assert run(client, cid, "grand", "campaign") == result
    shown = client.get(f"/v1/campaigns/{cid}/draws/grand").json()["periods"][0]["result"]
    assert {k: shown[k] for k in ("seed", "entrants", "entrants_hash", "winners")} == {
        k: result[k] for k in ("seed", "entrants", "entrants_hash", "winners")}
    for user in result["winners"]:
        rewards = client.get(f"/v1/campaigns/{cid}/rewards", params={"user_id": user}).json()["rewards"]
        assert [r["id"] for r in rewards if r["rule_id"] == "grand"] == [ledger[user]["id"]]

    # And `liveloop draw verify` agrees, fetching everything from the API.
    out = subprocess.run([str(BIN / "liveloop"), "draw", "verify", "--url", server.url, "--api-key", api_key,
                          "--campaign", cid, "--rule", "grand"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == result["winners"]
    assert out.stderr.count("ok:") == 4 and "MISMATCH" not in out.stderr


def test_a_period_that_has_not_ended_is_not_run(client, cid):
    now = datetime.now(UTC)
    make_campaign(client, cid, this_hour(now), now + timedelta(hours=1),
                  [joins_rule(), {**joins_rule(), "id": "hourly", "period": "hour"}])
    response = client.post(f"/v1/campaigns/{cid}/draws/grand/run")  # no body at all is fine too
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "draw.period_not_ended"
    hourly = client.post(f"/v1/campaigns/{cid}/draws/hourly/run", json={})
    assert hourly.status_code == 409 and hourly.json()["error"]["code"] == "draw.period_not_ended"
    assert client.get(f"/v1/campaigns/{cid}/draws/grand").json()["periods"][0]["result"] is None
    unknown = client.post(f"/v1/campaigns/{cid}/draws/hourly/run", json={"period": "1999-01-01T00"})
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "period"
    assert client.post(f"/v1/campaigns/{cid}/draws/nope/run", json={}).status_code == 404
    for body in ({"period": 5}, {"period": "x" * 40}, {"when": "now"}, []):
        assert client.post(f"/v1/campaigns/{cid}/draws/grand/run", json=body).status_code == 422, body
    not_run = client.get(f"/v1/campaigns/{cid}/draws/grand/entrants")
    assert not_run.status_code == 409 and not_run.json()["error"]["code"] == "draw.not_run"


def test_free_entry_has_the_same_odds_and_is_closed_with_its_period(client, server, cid):
    now = datetime.now(UTC)
    ends = now + timedelta(seconds=5)
    free = {"id": "free", "type": "draw", "entry": {"metric": "joins", "at_least": 5}, "winners": 1,
            "prize": {"kind": "free_item", "sku": "ORDER-FREE"}, "free_entry": True}
    make_campaign(client, cid, now - timedelta(minutes=10), ends, [free, {**free, "id": "paid", "free_entry": False}])
    with Sse(server, viewer_token(client, cid, "f1")) as stream:
        response = client.post(f"/v1/campaigns/{cid}/draws/free/entries", json={"user_id": "f1"})
        assert response.status_code == 201, response.text
        entry = response.json()
        assert (entry["rule_id"], entry["period"], entry["user_id"]) == ("free", "campaign", "f1")
        entered = stream.next()
        assert (entered["type"], entered["rule_id"], entered["period"], entered["via"]) == (
            "draw_entered", "free", "campaign", "free")
        again = client.post(f"/v1/campaigns/{cid}/draws/free/entries", json={"user_id": "f1"})
        assert again.status_code == 200 and again.json() == response.json()
        stream.assert_quiet(0.3)
    assert client.post(f"/v1/campaigns/{cid}/draws/free/entries", json={"user_id": "f2"}).status_code == 201
    refused = client.post(f"/v1/campaigns/{cid}/draws/paid/entries", json={"user_id": "f1"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "draw.no_free_entry"
    bad = client.post(f"/v1/campaigns/{cid}/draws/free/entries", json={"user_id": ""})
    assert bad.status_code == 422

    time.sleep(max(0.0, (ends - datetime.now(UTC)).total_seconds()) + 0.2)
    late = client.post(f"/v1/campaigns/{cid}/draws/free/entries", json={"user_id": "f3"})
    assert late.status_code == 409 and late.json()["error"]["code"] == "draw.period_ended"
    result = run(client, cid, "free")
    assert result["entrants"] == 2 and len(result["winners"]) == 1
    assert entrants_of(client, cid, "free", "campaign") == ["f1", "f2"]
    check_verifiable(client, cid, "free", result, 1)
    [reward] = client.get(f"/v1/campaigns/{cid}/rewards", params={"user_id": result["winners"][0]}).json()["rewards"]
    assert (reward["role"], reward["kind"], reward["sku"], reward["status"]) == (
        "winner", "free_item", "ORDER-FREE", "available")


def share_rule(**extra) -> dict:
    return {"id": "hourly", "type": "draw", "entry": {"event": "share"}, "period": "hour", "winners": 1,
            "prize": {"kind": "points", "points": 100}, "free_entry": True, **extra}


def share(cid: str, user: str, at: str) -> dict:
    return {"id": f"{cid}-share-{user}-{at}", "type": "share", "campaign_id": cid, "user_id": user, "at": at}


def test_hourly_share_draw_follows_local_hours_across_a_daylight_saving_fall_back(client, cid):
    # 2025-11-02 in New York: 02:00 EDT falls back to 01:00 EST; 04:00Z..08:00Z is 00:00 EDT..03:00 EST.
    make_campaign(client, cid, _utc("2025-11-02T04:00:00Z"), _utc("2025-11-02T08:00:00Z"), [share_rule()],
                  market="US")
    send(client, [
        share(cid, "early", "2025-11-02T03:59:00Z"),  # before the window: no period
        share(cid, "edt", "2025-11-02T05:10:00Z"),  # 01:10 EDT
        share(cid, "edt2", "2025-11-02T05:59:59Z"),  # 01:59:59 EDT
        share(cid, "est", "2025-11-02T06:10:00Z"),  # 01:10 EST, the repeated hour
        share(cid, "edt", "2025-11-02T06:20:00Z"),  # shares again in the repeated hour
        share(cid, "two", "2025-11-02T07:00:00Z"),  # 02:00 EST
    ])
    periods = [p["period"] for p in client.get(f"/v1/campaigns/{cid}/draws/hourly").json()["periods"]]
    assert periods == ["2025-11-02T00", "2025-11-02T01", "2025-11-02T01-05:00", "2025-11-02T02"]
    expected = {"2025-11-02T00": [], "2025-11-02T01": ["edt", "edt2"], "2025-11-02T01-05:00": ["edt", "est"],
                "2025-11-02T02": ["two"]}
    for period, entrants in expected.items():
        result = run(client, cid, "hourly", period)
        assert result["period"] == period
        assert entrants_of(client, cid, "hourly", period) == entrants
        check_verifiable(client, cid, "hourly", result, 1)
        assert len(result["winners"]) == min(1, len(entrants))
    seeds = {run(client, cid, "hourly", p)["seed"] for p in expected}
    assert len(seeds) == 4  # each repeated hour has its own commitment
    # The same user can win in both 01:00 hours: each period is a draw of its own, with its own prize.
    winners = [run(client, cid, "hourly", p)["winners"] for p in expected]
    rewards = client.get(f"/v1/campaigns/{cid}/rewards").json()["rewards"]
    assert sorted((r["user_id"], r["role"]) for r in rewards) == sorted((w[0], "winner") for w in winners if w)


def test_hourly_share_draw_uses_the_campaigns_local_day_and_half_hour_offset(client, cid):
    # Asia/Kolkata is UTC+5:30: 17:00Z..20:00Z on March 1st is 22:30 to 01:30 local, into March 2nd.
    make_campaign(client, cid, _utc("2026-03-01T17:00:00Z"), _utc("2026-03-01T20:00:00Z"), [share_rule()],
                  timezone="Asia/Kolkata")
    send(client, [
        share(cid, "a", "2026-03-01T17:29:00Z"),  # 22:59 local, March 1st
        share(cid, "b", "2026-03-01T17:31:00Z"),  # 23:01
        share(cid, "c", "2026-03-01T18:29:59Z"),  # 23:59:59
        share(cid, "d", "2026-03-01T18:30:00Z"),  # 00:00 on March 2nd, still March 1st in UTC
        share(cid, "e", "2026-03-01T19:45:00Z"),  # 01:15 on March 2nd
    ])
    expected = {"2026-03-01T22": ["a"], "2026-03-01T23": ["b", "c"], "2026-03-02T00": ["d"], "2026-03-02T01": ["e"]}
    latest = run(client, cid, "hourly")  # no period named: the latest that has ended
    assert latest["period"] == "2026-03-02T01" and latest["winners"] == ["e"]
    for period, entrants in expected.items():
        result = run(client, cid, "hourly", period)
        assert entrants_of(client, cid, "hourly", period) == entrants
        check_verifiable(client, cid, "hourly", result, 1)
    missing = client.get(f"/v1/campaigns/{cid}/draws/hourly/entrants")
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "period"


def test_results_and_prizes_survive_a_restart(tmp_path):
    url = f"sqlite:///{tmp_path / 'restart.db'}"
    key = create_tenant(url, "restart")
    server = Server(url, log_path=tmp_path / "server.log").start()
    try:
        now = datetime.now(UTC).replace(microsecond=0)
        with server.client(key) as client:
            cid = "restart-draw"
            make_campaign(client, cid, now - timedelta(hours=2), now - timedelta(hours=1), [joins_rule()],
                          budget="100.00")
            events = []
            for referrer in ("p", "q", "r"):
                code = invite(client, cid, referrer)
                events += [{"id": f"{referrer}-{i}", "type": "room_join", "campaign_id": cid,
                            "user_id": f"{referrer}{i}", "at": iso(now - timedelta(minutes=90 - i)), "ref": code}
                           for i in range(2)]
            send(client, events)
            result = run(client, cid, "grand")
            before = client.get(f"/v1/campaigns/{cid}/rewards").json()["rewards"]
            report = client.get(f"/v1/campaigns/{cid}/report").json()
        server.kill9()
        server.start()
        with server.client(key) as client:
            assert run(client, cid, "grand") == result
            after = client.get(f"/v1/campaigns/{cid}/rewards").json()["rewards"]
            assert after == before
            assert sorted(r["user_id"] for r in after if r["role"] == "winner") == sorted(result["winners"])
            assert client.get(f"/v1/campaigns/{cid}/report").json() == report
    finally:
        server.stop()


def test_viewers_hear_when_they_first_enter_by_sharing_or_by_their_metric(client, server, cid):
    now = datetime.now(UTC).replace(microsecond=0)
    make_campaign(client, cid, now - timedelta(minutes=30), now + timedelta(hours=2),
                  [share_rule(), joins_rule(id="grand")], timezone="Asia/Kolkata")
    code = invite(client, cid, "host")
    shared_at = now - timedelta(seconds=5)
    # The hour the share falls in (not the one open when asked: the two differ across an hour's end).
    hour = next(p for p in client.get(f"/v1/campaigns/{cid}/draws/hourly").json()["periods"]
                if datetime.fromisoformat(p["starts_at"]) <= shared_at < datetime.fromisoformat(p["ends_at"]))["period"]
    with (Sse(server, viewer_token(client, cid, "sharer")) as sharer,
          Sse(server, viewer_token(client, cid, "host")) as host):
        send(client, [share(cid, "sharer", iso(shared_at))])
        entered = sharer.next()
        assert (entered["type"], entered["rule_id"], entered["period"], entered["via"]) == (
            "draw_entered", "hourly", hour, "share")
        assert entered["prize"]["points"] == 100
        send(client, [share(cid, "sharer", iso(now - timedelta(seconds=2)))])  # a second share: nothing new
        sharer.assert_quiet(0.5)

        joins = [{"id": f"{cid}-j{i}", "type": "room_join", "campaign_id": cid, "user_id": f"friend{i}",
                  "at": iso(now - timedelta(minutes=10 - i)), "ref": code} for i in range(3)]
        send(client, joins[:1])
        assert "draw_entered" not in {m["type"] for m in host.take(2)}  # friend_joined, rank
        send(client, joins[1:2])
        messages = host.take(3)
        [entered] = [m for m in messages if m["type"] == "draw_entered"]
        assert (entered["rule_id"], entered["period"], entered["via"]) == ("grand", "campaign", "metric")
        send(client, joins[2:])
        assert "draw_entered" not in {m["type"] for m in host.take(2)}
        host.assert_quiet(0.3)


@pytest.mark.service
def test_processes_sharing_a_postgresql_database_agree_on_a_draw_and_its_prizes(tmp_path):
    base = os.environ.get("LIVELOOP_TEST_DATABASE_URL")
    if not base:
        pytest.skip("LIVELOOP_TEST_DATABASE_URL is not set")
    now = datetime.now(UTC).replace(microsecond=0)
    with fresh_postgres_database(base) as url:
        key = create_tenant(url, "two")
        first, second = (Server(url, log_path=tmp_path / f"s{i}.log").start() for i in range(2))
        try:
            with first.client(key) as a, second.client(key) as b:
                make_campaign(a, "shared-draw", now - timedelta(hours=2), now - timedelta(hours=1),
                              [joins_rule(winners=3)], budget="100.00")
                events = []
                for referrer in ("p", "q", "r", "s"):
                    code = invite(a, "shared-draw", referrer)
                    events += [{"id": f"{referrer}-{i}", "type": "room_join", "campaign_id": "shared-draw",
                                "user_id": f"{referrer}{i}", "at": iso(now - timedelta(minutes=90 - i)),
                                "ref": code} for i in range(2)]
                send(b, events[:4])
                send(a, events[4:])
                # Both run it at once: one decides, the other answers the stored result.
                results: list[dict] = []
                threads = [threading.Thread(target=lambda c=c: results.append(run(c, "shared-draw", "grand")))
                           for c in (a, b)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                assert results[0] == results[1] and results[0]["entrants"] == 4
                for client in (a, b):
                    winners = sorted(r["user_id"] for r in client.get("/v1/campaigns/shared-draw/rewards").json()
                                     ["rewards"] if r["role"] == "winner")
                    assert winners == sorted(results[0]["winners"])
        finally:
            first.stop()
            second.stop()
