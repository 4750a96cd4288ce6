"""Viewer streams, tokens, presence beats and the widget, over the real server."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import sqlalchemy as sa

from liveloop.integrations.models import integrations
from liveloop.kit.ratelimit import RateLimiter
from liveloop.kit.times import to_ms
from liveloop.realtime.hub import Hub
from liveloop.realtime.stream import ViewerStream
from liveloop.realtime.tokens import sign
from liveloop.tenants.models import server_secrets
from liveloop.tenants.signing import Signing
from tests.e2e.helpers import invite, iso
from tests.sse import SseStream

# -- helpers ---------------------------------------------------------------------------------


def create_campaign(client: httpx.Client, cid: str, *, starts_in: timedelta, length: timedelta = timedelta(hours=2),
                    metric: str = "reservations", rules: list | None = None) -> dict:
    starts = datetime.now(UTC) + starts_in
    body = {
        "id": cid, "title": "T", "market": "ID", "starts_at": iso(starts), "ends_at": iso(starts + length),
        "landing_url": "https://shop.example.com/live", "leaderboard": {"metric": metric},
        "rules": rules if rules is not None else [{
            "id": "rr", "type": "reservation_referral",
            "referrer_reward": {"kind": "coupon", "amount": "5.00"},
        }],
    }
    response = client.post("/v1/campaigns", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def viewer_token(client: httpx.Client, cid: str, user_id: str, ttl: int = 600) -> str:
    response = client.post(f"/v1/campaigns/{cid}/viewer-tokens", json={"user_id": user_id, "ttl_seconds": ttl})
    assert response.status_code == 201, response.text
    return response.json()["token"]


def reserve(client: httpx.Client, cid: str, user_id: str, ref: str | None) -> None:
    event = {"id": f"{cid}-res-{user_id}", "type": "reservation", "campaign_id": cid, "user_id": user_id,
             "at": iso(datetime.now(UTC))}
    if ref:
        event["ref"] = ref
    response = client.post("/v1/events", json={"events": [event]})
    assert response.status_code == 200 and response.json()["accepted"] == 1, response.text


def signing_secret(server) -> str:
    engine = sa.create_engine(server.database_url)
    with engine.connect() as conn:
        value = conn.execute(sa.select(server_secrets.c.value).where(server_secrets.c.name == "signing")).scalar_one()
    engine.dispose()
    return value


class Sse(SseStream):
    """A viewer's open stream."""

    def __init__(self, server, token: str, last_event_id: str | None = None) -> None:
        headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
        super().__init__(server, "/v1/stream", params={"token": token}, headers=headers)


# -- viewer tokens ---------------------------------------------------------------------------


def test_viewer_token_is_minted_for_an_existing_campaign_only(client, server, cid):
    create_campaign(client, cid, starts_in=timedelta(hours=1))
    before = to_ms(datetime.now(UTC))
    response = client.post(f"/v1/campaigns/{cid}/viewer-tokens", json={"user_id": "u1", "ttl_seconds": 120})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"token", "expires_at"}
    expires = to_ms(datetime.fromisoformat(body["expires_at"]))
    assert before + 119_000 <= expires <= before + 125_000

    missing = client.post("/v1/campaigns/nope/viewer-tokens", json={"user_id": "u1", "ttl_seconds": 120})
    assert missing.status_code == 404
    for ttl in (59, 86_401):
        bad = client.post(f"/v1/campaigns/{cid}/viewer-tokens", json={"user_id": "u1", "ttl_seconds": ttl})
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "ttl_seconds"
    with server.client(None) as anonymous:
        assert anonymous.post(f"/v1/campaigns/{cid}/viewer-tokens",
                              json={"user_id": "u1", "ttl_seconds": 120}).status_code == 401


def test_another_tenants_key_cannot_mint_tokens_for_my_campaign(client, server, cid):
    from tests.support import create_tenant

    create_campaign(client, cid, starts_in=timedelta(hours=1))
    with server.client(create_tenant(server.database_url, "other")) as other:
        response = other.post(f"/v1/campaigns/{cid}/viewer-tokens", json={"user_id": "u1", "ttl_seconds": 120})
    assert response.status_code == 404


# -- streams -----------------------------------------------------------------------------------


def test_each_viewer_sees_exactly_its_own_messages(client, server, cid):
    create_campaign(client, cid, starts_in=timedelta(hours=1))
    code_a, code_b = invite(client, cid, "alice"), invite(client, cid, "bob")
    assert client.put("/v1/users/fina", json={"market": "ID", "display_name": "Fina"}).status_code in (200, 201)
    with Sse(server, viewer_token(client, cid, "alice")) as alice, Sse(server, viewer_token(client, cid, "bob")) as bob:
        assert alice.response.status_code == 200
        assert alice.response.headers["content-type"].startswith("text/event-stream")

        reserve(client, cid, "fina", code_a)
        friend, reward, rank = alice.take(3)
        assert friend["type"] == "friend_reserved"
        assert friend["friend"] == {"user_id": "fina", "display_name": "Fina"}
        assert reward["type"] == "reward"
        assert {k: reward["reward"][k] for k in ("rule_id", "user_id", "role", "kind", "amount", "status")} == {
            "rule_id": "rr", "user_id": "alice", "role": "referrer", "kind": "coupon", "amount": "5.00",
            "status": "available"}
        assert (rank["type"], rank["score"], rank["rank"]) == ("rank", 1, 1)
        assert int(friend["id"]) < int(reward["id"]) < int(rank["id"])

        # Bob's first message is about his own friend: nothing of Alice's was ever queued for him.
        reserve(client, cid, "gus", code_b)
        assert bob.next()["friend"] == {"user_id": "gus", "display_name": None}
        assert [m["type"] for m in bob.take(2)] == ["reward", "rank"]
        alice.assert_quiet()
        bob.assert_quiet(0.1)


def test_a_click_on_my_share_link_is_pushed_without_a_friend(client, server, cid):
    create_campaign(client, cid, starts_in=timedelta(hours=1))
    code = invite(client, cid, "alice")
    with Sse(server, viewer_token(client, cid, "alice")) as alice:
        assert client.get(f"/s/{code}").status_code == 302
        assert alice.next() | {"id": None, "at": None, "text": None} == {
            "type": "friend_clicked", "friend": None, "id": None, "at": None, "text": None}


def test_a_token_reads_only_its_own_campaign(client, server, cid):
    create_campaign(client, cid, starts_in=timedelta(hours=1))
    other = cid + "-2"
    create_campaign(client, other, starts_in=timedelta(hours=1))
    code, code_other = invite(client, cid, "alice"), invite(client, other, "alice")
    with Sse(server, viewer_token(client, cid, "alice")) as alice:
        reserve(client, other, "fina", code_other)  # alice's friend, in the other campaign: not for this token
        reserve(client, cid, "gus", code)  # and one in the token's campaign: the first message it gets
        friend = alice.next()
        assert (friend["type"], friend["friend"]["user_id"]) == ("friend_reserved", "gus")
        assert [m["type"] for m in alice.take(2)] == ["reward", "rank"]
        alice.assert_quiet()


def test_resume_with_last_event_id_loses_nothing(client, server, cid):
    create_campaign(client, cid, starts_in=timedelta(hours=1))
    code = invite(client, cid, "alice")
    token = viewer_token(client, cid, "alice")
    with Sse(server, token) as first:
        reserve(client, cid, "f1", code)
        seen = first.next()
        assert seen["type"] == "friend_reserved"
    # Disconnected after one message: the rest of f1's messages and all of f2's happen meanwhile.
    reserve(client, cid, "f2", code)
    time.sleep(0.3)
    with Sse(server, token, last_event_id=seen["id"]) as resumed:
        got = resumed.take(5)
        assert [(m["type"], m.get("friend") and m["friend"]["user_id"]) for m in got] == [
            ("reward", None), ("rank", None), ("friend_reserved", "f2"), ("reward", None), ("rank", None)]
        assert [m["rank"] for m in got if m["type"] == "rank"] == [1, 1]
        assert [m["score"] for m in got if m["type"] == "rank"] == [1, 2]
        ids = [int(m["id"]) for m in got]
        assert ids == sorted(ids) and int(seen["id"]) < ids[0] and len(set(ids)) == 5
        # Then live messages follow, with no repeats.
        reserve(client, cid, "f3", code)
        live = resumed.take(3)
        assert live[0]["friend"]["user_id"] == "f3" and int(live[0]["id"]) > ids[-1]
        resumed.assert_quiet(0.3)
    # A new connection without Last-Event-ID starts from now.
    with Sse(server, token) as fresh:
        fresh.assert_quiet(0.3)


def test_stream_refuses_missing_forged_and_expired_tokens(client, server, cid):
    create_campaign(client, cid, starts_in=timedelta(hours=1))
    token = viewer_token(client, cid, "alice")
    secret = signing_secret(server)
    now = to_ms(datetime.now(UTC))
    expired, _ = sign(secret, tenant_id=_tenant_of(token), campaign_id=cid, user_id="alice", ttl_seconds=60,
                      now=now - 61_000)
    foreign, _ = sign("not-the-server-secret", tenant_id=_tenant_of(token), campaign_id=cid, user_id="alice",
                      ttl_seconds=600, now=now)
    body, _, mac = token.partition(".")
    bob_token = viewer_token(client, cid, "bob")
    swapped = f"{bob_token.partition('.')[0]}.{mac}"  # bob's claims under alice's signature
    with httpx.Client(base_url=server.url, timeout=10) as anonymous:
        cases = {"missing": {}, "empty": {"token": ""}, "expired": {"token": expired},
                 "foreign": {"token": foreign}, "swapped": {"token": swapped}, "garbage": {"token": "x.y"}}
        for name, params in cases.items():
            response = anonymous.get("/v1/stream", params=params)
            assert response.status_code == 401, name
            assert response.headers["content-type"] == "application/json"
            error = response.json()["error"]
            assert error["code"] == ("token_expired" if name == "expired" else "unauthorized"), name
        assert anonymous.post("/v1/stream", params={"token": token}).status_code == 405


def _tenant_of(token: str) -> str:
    import base64

    body = token.partition(".")[0]
    return orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["t"]


# -- presence ----------------------------------------------------------------------------------


def test_presence_makes_one_join_for_a_viewer_in_the_window(client, server, cid):
    create_campaign(client, cid, starts_in=timedelta(minutes=-1), metric="joins", rules=[])
    code = invite(client, cid, "rita")
    token = viewer_token(client, cid, "pat")
    with Sse(server, viewer_token(client, cid, "rita")) as rita, \
            httpx.Client(base_url=server.url, timeout=10) as browser:
        first = browser.post("/v1/presence", content=orjson.dumps({"token": token, "ref": code}),
                             headers={"content-type": "text/plain"})
        assert first.status_code == 200, first.text
        assert first.json() == {"ok": True, "next_beat_seconds": 30}
        assert first.headers["access-control-allow-origin"] == "*"
        again = browser.post("/v1/presence", headers={"authorization": f"Bearer {token}"})
        assert again.status_code == 200 and browser.post("/v1/presence", json={"token": token}).status_code == 200

        joined, rank = rita.take(2)
        assert (joined["type"], joined["friend"]["user_id"]) == ("friend_joined", "pat")
        assert (rank["type"], rank["score"], rank["rank"]) == ("rank", 1, 1)
        rita.assert_quiet()

        report = client.get(f"/v1/campaigns/{cid}/report").json()
        assert report["funnel"]["joins"] == 1 and report["referred"]["joins"] == 1

        preflight = browser.options("/v1/presence", headers={"origin": "https://shop.example.com",
                                                             "access-control-request-method": "POST"})
        assert preflight.status_code == 204 and "POST" in preflight.headers["access-control-allow-methods"]
        assert browser.post("/v1/presence", json={"token": token + "x"}).status_code == 401
        assert browser.post("/v1/presence", json={}).status_code == 401
        assert browser.post("/v1/presence", content=b"{nope").status_code == 400
        assert browser.post("/v1/presence", json={"token": token, "ref": 7}).status_code == 422


def test_presence_before_the_window_counts_no_join(client, server, cid):
    create_campaign(client, cid, starts_in=timedelta(hours=1), metric="joins", rules=[])
    token = viewer_token(client, cid, "pat")
    with httpx.Client(base_url=server.url, timeout=10) as browser:
        assert browser.post("/v1/presence", json={"token": token}).status_code == 200
    assert client.get(f"/v1/campaigns/{cid}/report").json()["funnel"]["joins"] == 0


# -- the widget ----------------------------------------------------------------------------------


def test_widget_script_is_served_cacheable(server):
    with httpx.Client(base_url=server.url, timeout=10) as browser:
        response = browser.get("/widget/liveloop.js")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/javascript")
        assert "max-age" in response.headers["cache-control"]
        assert "/v1/presence" in response.text and "/v1/stream" in response.text
        cached = browser.get("/widget/liveloop.js", headers={"if-none-match": response.headers["etag"]})
        assert cached.status_code == 304 and cached.content == b""


# -- the stream handler in process: heartbeats, lifetime, slow readers ----------------------------


class _OneProcess:
    """The gate of a single process: a stream needs no campaign loaded to hear of its events."""

    async def watch(self, tenant_id: str, campaign_id: str) -> None:
        return None


def _viewer_stream(hub: Hub) -> ViewerStream:
    return ViewerStream(hub, _OneProcess(), RateLimiter({"stream": 1000}), Signing("k"), max_per_address=20)


def _run_stream(hub: Hub, token: str, *, publish=None, disconnect_after: float | None = None) -> list[dict]:
    sent: list[dict] = []

    async def main() -> None:
        gone = asyncio.Event()

        async def receive() -> dict:
            if not receive.first_done:
                receive.first_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        receive.first_done = False

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": "/v1/stream", "headers": [],
                 "query_string": f"token={token}".encode()}
        task = asyncio.ensure_future(_viewer_stream(hub)(scope, receive, send))
        await asyncio.sleep(0.02)
        if publish:
            publish()
        if disconnect_after is not None:
            await asyncio.sleep(disconnect_after)
            gone.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(main())
    return sent


def _token(now_ms: int, ttl: int = 600) -> str:
    return sign("k", tenant_id="t", campaign_id="c", user_id="u", ttl_seconds=ttl, now=now_ms)[0]


def test_stream_pings_then_asks_to_reconnect_at_its_lifetime():
    hub = Hub(heartbeat_seconds=0.05, max_lifetime_seconds=0.3)
    sent = _run_stream(hub, _token(to_ms(datetime.now(UTC))))
    assert sent[0]["status"] == 200
    bodies = [m["body"] for m in sent[1:]]
    assert bodies.count(b": ping\n\n") >= 3
    assert bodies[-1] == b'data: {"type":"reconnect"}\n\n' and sent[-1]["more_body"] is False


def test_stream_never_outlives_its_token():
    hub = Hub(heartbeat_seconds=10, max_lifetime_seconds=60)
    started = time.monotonic()
    sent = _run_stream(hub, _token(to_ms(datetime.now(UTC)) - 59_700, ttl=60))
    assert time.monotonic() - started < 3
    assert sent[-1]["body"] == b'data: {"type":"reconnect"}\n\n'


def test_stream_ends_when_the_client_goes_away_and_the_viewer_is_unsubscribed():
    hub = Hub(heartbeat_seconds=10, max_lifetime_seconds=60)
    key = ("t", "c", "u")
    sent = _run_stream(hub, _token(to_ms(datetime.now(UTC))), publish=lambda: hub.publish(key, {"type": "rank"}),
                       disconnect_after=0.05)
    assert any(b'"type":"rank"' in m.get("body", b"") for m in sent)
    sub, replay = hub.subscribe(key, 0)
    assert len(replay) == 1  # the buffer outlives the connection, for resume
    hub.unsubscribe(sub)


def test_slow_reader_keeps_the_newest_messages_and_buffers_are_bounded():
    hub = Hub(buffer_size=5, queue_size=3)
    key = ("t", "c", "u")
    sub, _ = hub.subscribe(key)
    for i in range(10):
        hub.publish(key, {"type": "rank", "rank": i})
    assert [orjson.loads(f.split(b"data: ")[1])["rank"] for f in sub.frames] == [7, 8, 9]
    _, replay = hub.subscribe(key, 0)
    assert len(replay) == 5
    hub.publish(("t", "c", "never-connected"), {"type": "rank"})  # nobody to keep it for
    assert hub.subscribe(("t", "c", "never-connected"), 0)[1] == []


# -- streaming-provider integrations ------------------------------------------------------------


def test_integration_gives_a_webhook_url_and_keeps_the_secret(client, server):
    response = client.post("/v1/integrations", json={"provider": "livekit", "secret": "s" * 32, "api_key": "APIabc"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["provider"] == "livekit"
    assert body["url"] == f"{server.url}/v1/integrations/livekit/{body['id']}"
    assert "secret" not in body
    engine = sa.create_engine(server.database_url)
    with engine.connect() as conn:
        row = conn.execute(sa.select(integrations).where(integrations.c.id == body["id"])).mappings().one()
    engine.dispose()
    assert (row["provider"], row["secret"], row["api_key"]) == ("livekit", "s" * 32, "APIabc")

    agora = client.post("/v1/integrations", json={"provider": "agora", "secret": "a" * 32})
    assert agora.status_code == 201 and agora.json()["id"] != body["id"]
    for bad, field in (({"provider": "zoom", "secret": "s" * 32}, "provider"), ({"provider": "agora"}, "secret"),
                       ({"provider": "agora", "secret": "short"}, "secret")):
        refused = client.post("/v1/integrations", json=bad)
        assert refused.status_code == 422 and refused.json()["error"]["field"] == field, refused.text
    with server.client(None) as anonymous:
        assert anonymous.post("/v1/integrations", json={"provider": "agora", "secret": "a" * 32}).status_code == 401
