"""Widget presence over a real server: expired tokens, watch time from beats, silence that closes a presence.

The timing tests run their own server with a three-second presence timeout and a fast sweeper,
so that "three missed beats" takes seconds instead of minutes.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa

from liveloop.events.models import events
from liveloop.kit.times import to_ms
from liveloop.realtime.tokens import sign
from tests.e2e.helpers import invite, iso
from tests.e2e.test_realtime import _tenant_of, create_campaign, signing_secret, viewer_token
from tests.support import Server, create_tenant

TIMEOUT_SECONDS = 3
HOSTS = [{"id": "hosts", "type": "milestone", "metric": "joins",
          "tiers": [{"at": 1, "reward": {"kind": "badge", "name": "Room host"}}]}]


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """A server whose widget viewers time out after three seconds of silence."""
    url = f"sqlite:///{tmp_path_factory.mktemp('quick') / 'liveloop.db'}"
    key = create_tenant(url, "quick")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LIVELOOP_PRESENCE_TIMEOUT_SECONDS", str(TIMEOUT_SECONDS))
        env.setenv("LIVELOOP_PRESENCE_SWEEP_SECONDS", "0.2")
        srv = Server(url, log_path=tmp_path_factory.mktemp("quick-log") / "server.log").start()
    try:
        with srv.client(key) as client:
            yield srv, client
    finally:
        srv.stop()


def live(client: httpx.Client, cid: str) -> None:
    create_campaign(client, cid, starts_in=timedelta(minutes=-5), metric="joins", rules=HOSTS)


def live_with_min_watch(client: httpx.Client, cid: str, min_watch: int) -> None:
    starts = datetime.now(UTC) - timedelta(minutes=5)
    body = {"id": cid, "title": "T", "market": "ID", "starts_at": iso(starts),
            "ends_at": iso(starts + timedelta(hours=2)), "landing_url": "https://shop.example.com/live",
            "leaderboard": {"metric": "joins"}, "rules": HOSTS, "min_watch_seconds": min_watch}
    response = client.post("/v1/campaigns", json=body)
    assert response.status_code == 201, response.text


def beat(server: Server, token: str) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/presence", json={"token": token}, timeout=10)


def reserve(client: httpx.Client, cid: str, user: str, code: str) -> None:
    ev = {"id": f"{cid}-res-{user}", "type": "reservation", "campaign_id": cid, "user_id": user,
          "at": iso(datetime.now(UTC) - timedelta(hours=1)), "ref": code}
    assert client.post("/v1/events", json={"events": [ev]}).json()["accepted"] == 1


def room_report(client: httpx.Client, cid: str) -> dict:
    return client.get(f"/v1/campaigns/{cid}/report").json()


def logged_types(server: Server, cid: str, user: str) -> list[str]:
    engine = sa.create_engine(server.database_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(events.c.type).where(events.c.campaign_id == cid, events.c.user_id == user)
                            .order_by(events.c.seq)).scalars().all()
    engine.dispose()
    return list(rows)


def wait_for(check, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail("condition not reached in time")
        time.sleep(0.1)


def test_beats_from_an_expired_or_forged_token_are_refused_and_log_nothing(client, server, cid):
    live(client, cid)
    token = viewer_token(client, cid, "pat")
    now = to_ms(datetime.now(UTC))
    expired, _ = sign(signing_secret(server), tenant_id=_tenant_of(token), campaign_id=cid, user_id="pat",
                      ttl_seconds=60, now=now - 61_000)
    refused = beat(server, expired)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "token_expired"
    assert refused.headers["access-control-allow-origin"] == "*"
    forged, _ = sign("not-the-server-secret", tenant_id=_tenant_of(token), campaign_id=cid, user_id="pat",
                     ttl_seconds=600, now=now)
    assert beat(server, forged).status_code == 401
    assert room_report(client, cid)["room"]["viewers"] == 0
    assert logged_types(server, cid, "pat") == []
    assert beat(server, token).status_code == 200  # the same viewer with a valid token joins
    assert logged_types(server, cid, "pat") == ["room_join"]


def test_two_campaigns_with_one_viewer_each_get_their_own_join(client, server, cid):
    live(client, cid)
    live(client, cid + "-b")
    for campaign_id in (cid, cid + "-b"):
        assert beat(server, viewer_token(client, campaign_id, "pat")).status_code == 200
        assert room_report(client, campaign_id)["funnel"]["joins"] == 1


def test_watch_time_from_beats_makes_the_join_count_at_the_minimum(quick, cid):
    server, client = quick
    live_with_min_watch(client, cid, min_watch=4)
    reserve(client, cid, "fina", invite(client, cid, "alice"))
    token = viewer_token(client, cid, "fina")
    started = time.monotonic()
    assert beat(server, token).status_code == 200
    assert room_report(client, cid)["funnel"]["joins"] == 0  # in the room, not long enough yet
    while time.monotonic() - started < 4.3:
        time.sleep(1.4)  # a fast widget: well inside the three-second timeout
        assert beat(server, token).status_code == 200
    data = room_report(client, cid)
    assert data["funnel"]["joins"] == 1 and data["room"]["present"] == 1
    assert logged_types(server, cid, "fina") == ["reservation", "room_join", "room_heartbeat"]
    progress = client.get(f"/v1/campaigns/{cid}/users/alice/progress").json()
    assert progress["metrics"]["joins"] == 1 and [r["name"] for r in progress["rewards"]] == ["Room host"]


def test_silence_past_the_timeout_closes_the_presence_and_the_report_says_so(quick, cid):
    server, client = quick
    live_with_min_watch(client, cid, min_watch=10)
    reserve(client, cid, "gus", invite(client, cid, "alice"))
    token = viewer_token(client, cid, "gus")
    assert beat(server, token).status_code == 200
    assert room_report(client, cid)["room"]["present"] == 1
    wait_for(lambda: room_report(client, cid)["room"]["present"] == 0)  # three silent seconds, then the sweeper
    data = room_report(client, cid)
    assert data["room"]["closed_without_leave"] == {"timeout": 1, "room_end": 0, "total": 1}
    assert data["funnel"]["joins"] == 0  # a few seconds are not the ten the campaign asks for
    assert data["room"]["watch_seconds"] <= TIMEOUT_SECONDS + 1
    assert logged_types(server, cid, "gus") == ["reservation", "room_join", "room_timeout"]

    # The viewer comes back: a new presence opens.
    assert beat(server, token).status_code == 200
    assert room_report(client, cid)["room"]["present"] == 1
    assert logged_types(server, cid, "gus")[-1] == "room_join"


def test_viewers_still_in_the_room_when_it_ended_are_credited_until_the_end(client, cid):
    ends = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    starts = ends - timedelta(hours=1)
    body = {"id": cid, "title": "T", "market": "ID", "starts_at": iso(starts), "ends_at": iso(ends),
            "landing_url": "https://shop.example.com/live", "leaderboard": {"metric": "joins"}, "rules": []}
    assert client.post("/v1/campaigns", json=body).status_code == 201

    def room(eid: str, kind: str, user: str, minutes: int) -> dict:
        return {"id": f"{cid}-{eid}", "type": kind, "campaign_id": cid, "user_id": user,
                "at": iso(starts + timedelta(minutes=minutes))}

    batch = [room("a", "room_join", "stayed", 10),  # never left: in the room until it ended
             room("b1", "room_join", "left", 20), room("b2", "room_leave", "left", 50),
             room("c", "room_join", "early", -5)]  # came before the start and stayed: the whole live
    assert client.post("/v1/events", json={"events": batch}).json()["accepted"] == 4

    data = room_report(client, cid)["room"]
    assert data["present"] == 0 and data["closed_without_leave"]["room_end"] == 2
    assert data["watch_seconds"] == (50 + 30 + 60) * 60
