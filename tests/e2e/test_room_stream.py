"""The room stream for the host's overlay and the console, over the real server."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.e2e.helpers import invite, iso
from tests.sse import SseStream
from tests.support import create_tenant


class Room(SseStream):
    """An open room stream, by API key or room token."""

    def __init__(self, server, *, api_key: str | None = None, token: str | None = None, cid: str) -> None:
        super().__init__(server, f"/v1/campaigns/{cid}/room-stream",
                         headers={"Authorization": f"Bearer {api_key}"} if api_key else {},
                         params={"token": token} if token else {})


def make_campaign(client, cid: str, **extra) -> datetime:
    starts = datetime.now(UTC) - timedelta(minutes=30)
    body = {"id": cid, "title": "T", "market": "SG", "starts_at": iso(starts),
            "ends_at": iso(starts + timedelta(hours=2)), "landing_url": "https://shop.example.com/live",
            "leaderboard": {"metric": "joins"}, "rules": [], **extra}
    response = client.post("/v1/campaigns", json=body)
    assert response.status_code == 201, response.text
    return starts


def test_many_events_become_a_few_snapshots_with_the_right_top_10(client, server, api_key, cid):
    starts = make_campaign(client, cid)
    referrers = [f"host{i:02d}" for i in range(15)]
    codes = {user: invite(client, cid, user) for user in referrers}
    assert client.put("/v1/users/host00", json={"market": "SG", "display_name": "Host Zero"}).status_code in (200, 201)

    with Room(server, api_key=api_key, cid=cid) as room:
        assert room.response.status_code == 200
        assert room.response.headers["content-type"].startswith("text/event-stream")
        first = room.next()
        assert (first["type"], first["top"], first["counters"]["joins"]) == ("room", [], 0)

        # 60 batches as fast as the server takes them: each referrer i brings i+1 friends, plus organic joins.
        sent = 0
        started = time.monotonic()
        for batch in range(60):
            events = []
            for i, user in enumerate(referrers):
                if batch <= i:
                    events.append({"id": f"{cid}-{user}-{batch}", "type": "room_join", "campaign_id": cid,
                                   "user_id": f"{user}-f{batch}", "ref": codes[user],
                                   "at": iso(starts + timedelta(minutes=1, seconds=batch))})
            events.append({"id": f"{cid}-organic-{batch}", "type": "room_join", "campaign_id": cid,
                           "user_id": f"organic{batch}", "at": iso(starts + timedelta(minutes=2))})
            response = client.post("/v1/events", json={"events": events})
            assert response.status_code == 200 and not response.json()["rejected"]
            sent += len(events)
        elapsed = time.monotonic() - started
        received = room.drain(1.0)

    snapshots = [m for _t, m in received if m["type"] == "room"]
    # 60 batches, a few snapshots: at most one per 250 ms, by the server's own clock.
    built = [datetime.fromisoformat(m["at"]).timestamp() for m in snapshots]
    gaps = [b - a for a, b in zip(built, built[1:], strict=False)]
    assert all(gap >= 0.249 for gap in gaps), gaps
    assert 1 <= len(snapshots) <= elapsed / 0.25 + 2 and len(snapshots) < 30, (len(snapshots), elapsed)
    last = snapshots[-1]
    board = client.get(f"/v1/campaigns/{cid}/leaderboard", params={"limit": 10}).json()["entries"]
    assert [(e["rank"], e["user_id"], e["score"]) for e in last["top"]] == [
        (e["rank"], e["user_id"], e["score"]) for e in board]
    assert [e["user_id"] for e in last["top"]] == [f"host{i:02d}" for i in range(14, 4, -1)]
    assert last["top"][0]["score"] == 15
    counters = last["counters"]
    assert counters["joins"] == sent == counters["referred_joins"] + 60
    assert (counters["orders"], counters["gmv"]) == (0, "0.00")


def test_a_quiet_room_sends_its_first_change_at_once(client, server, api_key, cid):
    starts = make_campaign(client, cid)
    code = invite(client, cid, "solo")
    assert client.put("/v1/users/solo", json={"market": "SG", "display_name": "Solo"}).status_code in (200, 201)
    with Room(server, api_key=api_key, cid=cid) as room:
        room.next()
        time.sleep(0.3)
        sent = time.monotonic()
        response = client.post("/v1/events", json={"events": [{
            "id": f"{cid}-one", "type": "room_join", "campaign_id": cid, "user_id": "friend", "ref": code,
            "at": iso(starts + timedelta(minutes=1))}]})
        assert response.status_code == 200
        arrived, message = room.messages.get(timeout=5)
    # Not held back for a coalescing window: the room was quiet (generous bound for a busy test machine).
    assert arrived - sent < 0.5
    assert message["top"] == [{"rank": 1, "user_id": "solo", "display_name": "Solo", "masked": False, "score": 1}]
    assert message["counters"]["referred_joins"] == 1


def test_room_tokens_read_one_campaign_and_keys_read_their_own_tenant(client, server, api_key, cid):
    make_campaign(client, cid)
    make_campaign(client, cid + "-b")
    minted = client.post(f"/v1/campaigns/{cid}/room-tokens", json={"ttl_seconds": 120})
    assert minted.status_code == 201, minted.text
    token = minted.json()["token"]
    with Room(server, token=token, cid=cid) as room:
        assert room.response.status_code == 200
        assert room.response.headers["access-control-allow-origin"] == "*"
        assert room.next()["campaign_id"] == cid

    with httpx.Client(base_url=server.url, timeout=10) as anonymous:
        def status(path: str, **kwargs) -> int:
            with anonymous.stream("GET", path, **kwargs) as response:
                return response.status_code

        assert status(f"/v1/campaigns/{cid}-b/room-stream", params={"token": token}) == 401
        # a room token is no viewer token, and a viewer token of the same campaign no room token
        assert status("/v1/stream", params={"token": token}) == 401
        viewer = client.post(f"/v1/campaigns/{cid}/viewer-tokens", json={"user_id": "u1", "ttl_seconds": 120})
        assert status("/v1/stream", params={"token": viewer.json()["token"]}) == 200
        assert status(f"/v1/campaigns/{cid}/room-stream", params={"token": viewer.json()["token"]}) == 401
        assert status(f"/v1/campaigns/{cid}/room-stream", params={"token": token[:-2] + "xx"}) == 401
        assert status(f"/v1/campaigns/{cid}/room-stream") == 401
        assert status(f"/v1/campaigns/{cid}/room-stream", headers={"Authorization": "Bearer ll_nope"}) == 401
        other = create_tenant(server.database_url, "other-room")
        assert status(f"/v1/campaigns/{cid}/room-stream", headers={"Authorization": f"Bearer {other}"}) == 404
        assert status("/v1/campaigns/nope/room-stream", headers={"Authorization": f"Bearer {api_key}"}) == 404
    assert client.post("/v1/campaigns/nope/room-tokens", json={}).status_code == 404
    bad = client.post(f"/v1/campaigns/{cid}/room-tokens", json={"ttl_seconds": 5})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "ttl_seconds"


def test_a_draw_result_reaches_the_room_at_once(client, server, api_key, cid):
    now = datetime.now(UTC).replace(microsecond=0)
    body = {"id": cid, "title": "T", "market": "SG", "starts_at": iso(now - timedelta(hours=2)),
            "ends_at": iso(now - timedelta(hours=1)), "landing_url": "https://shop.example.com/live",
            "rules": [{"id": "lucky", "type": "draw", "entry": {"event": "share"}, "winners": 1,
                       "prize": {"kind": "points", "points": 5}}]}
    assert client.post("/v1/campaigns", json=body).status_code == 201
    share = {"id": f"{cid}-s", "type": "share", "campaign_id": cid, "user_id": "sharer",
             "at": iso(now - timedelta(minutes=90))}
    assert client.post("/v1/events", json={"events": [share]}).status_code == 200
    with Room(server, api_key=api_key, cid=cid) as room:
        assert room.next()["draws"] == []
        result = client.post(f"/v1/campaigns/{cid}/draws/lucky/run", json={}).json()
        messages = [m for _t, m in room.drain(1.0)]
    [draw] = [m for m in messages if m["type"] == "draw"]
    assert (draw["rule_id"], draw["period"], draw["seed"], draw["entrants"]) == (
        "lucky", "campaign", result["seed"], 1)
    assert draw["winners"] == [{"user_id": "sharer", "display_name": None, "masked": False}]
    # Every snapshot after the draw message lists it among the recent draws.
    after = [m for m in messages[messages.index(draw):] if m["type"] == "room"]
    assert after and all([d["seed"] for d in m["draws"]] == [result["seed"]] for m in after)


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_room_stream_is_read_only(server, api_key, cid, method):
    with httpx.Client(base_url=server.url, timeout=10) as c:
        response = c.request(method, f"/v1/campaigns/{cid}/room-stream", headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code == 405
