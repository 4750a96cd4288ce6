"""Two `liveloop serve` processes on PostgreSQL and Redis, no sticky routing: widget presence and
draw results are the same whichever process a viewer's requests reach.

- beats that alternate between the processes make one `room_join` and the watch time they prove;
- a viewer that falls silent is timed out once, even when the process that took its beats is
  killed with SIGKILL;
- a draw run on one process reaches the winners' streams on both, as one `draw_won` each, and
  the room streams on both as one `draw` message;
- Agora notices of one user within one second, delivered to different processes in any order,
  keep the order of their clientSeq.

The processes run with a three-second presence timeout and a fast sweeper, so that "three missed
beats" takes seconds instead of minutes.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa

from tests.e2e.helpers import invite
from tests.e2e.test_draws_run import joins_rule, make_campaign, run, send
from tests.e2e.test_presence_watch import HOSTS, TIMEOUT_SECONDS, beat
from tests.e2e.test_realtime import Sse, create_campaign, viewer_token
from tests.e2e.test_room_stream import Room
from tests.e2e.test_webhooks import AGORA_SECRET, agora_send, integration, live_campaign, ts
from tests.support import Server, create_tenant, fresh_postgres_database, redis_env

pytestmark = pytest.mark.service


@pytest.fixture
def deployment(tmp_path):
    """Two processes on a fresh PostgreSQL database and the test Redis; (servers, API key, database URL)."""
    base = os.environ.get("LIVELOOP_TEST_DATABASE_URL")
    if not base:
        pytest.skip("LIVELOOP_TEST_DATABASE_URL is not set")
    env = {**redis_env(), "LIVELOOP_PRESENCE_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
           "LIVELOOP_PRESENCE_SWEEP_SECONDS": "0.2"}
    with fresh_postgres_database(base) as url:
        key = create_tenant(url)
        servers = [Server(url, log_path=tmp_path / f"p{i}.log", env=env).start() for i in range(2)]
        try:
            yield servers, key, url
        finally:
            for srv in servers:
                srv.stop()


def room_events(url: str, cid: str, user: str) -> list[tuple[str, int]]:
    """(type, at in ms) of the user's logged events, in log order."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT type, at FROM events WHERE campaign_id = :c AND user_id = :u ORDER BY seq"),
                            {"c": cid, "u": user}).all()
    engine.dispose()
    return [(kind, at) for kind, at in rows]


def wait_until(check, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail("condition not reached in time")
        time.sleep(0.1)


def report(client: httpx.Client, cid: str) -> dict:
    response = client.get(f"/v1/campaigns/{cid}/report")
    assert response.status_code == 200, response.text
    return response.json()


def test_beats_alternating_between_processes_make_one_join_and_their_watch_time(deployment):
    (one, two), key, url = deployment
    with one.client(key) as c1, two.client(key) as c2:
        create_campaign(c1, "hop", starts_in=timedelta(minutes=-5), metric="joins", rules=HOSTS)
        token = viewer_token(c1, "hop", "vi")
        # Process one hears nothing from the viewer for five seconds (more than the timeout) while
        # process two takes its beats: one must not take it for silent.
        route = [one, two, two, two, two, one, two]
        first = last = None
        for i, srv in enumerate(route):
            if i:
                time.sleep(1.0)
            sent = int(time.time() * 1000)
            assert beat(srv, token).status_code == 200
            first = first if first is not None else sent
            last = sent
        assert [kind for kind, _at in room_events(url, "hop", "vi")] == ["room_join"]
        assert report(c1, "hop")["room"]["present"] == 1 and report(c2, "hop")["room"]["present"] == 1

        # Then the viewer falls silent: one timeout, at the last beat plus the timeout (the sweep's moment).
        wait_until(lambda: report(c2, "hop")["room"]["present"] == 0)
        time.sleep(1.0)  # any second timeout would be logged by now
        logged = room_events(url, "hop", "vi")
        assert [kind for kind, _at in logged] == ["room_join", "room_timeout"]
        (_join, joined_at), (_timeout, left_at) = logged
        assert abs(joined_at - first) < 1000
        assert last + TIMEOUT_SECONDS * 1000 <= left_at <= last + (TIMEOUT_SECONDS + 2) * 1000
        for client in (c1, c2):
            data = report(client, "hop")
            assert data["room"]["watch_seconds"] == (left_at - joined_at) // 1000
            assert data["room"]["closed_without_leave"]["timeout"] == 1
            assert data["funnel"]["joins"] == 1


def test_a_silent_viewer_is_timed_out_once_when_the_process_that_took_its_beats_is_killed(deployment):
    (one, two), key, url = deployment
    with one.client(key) as c1, two.client(key) as c2:
        create_campaign(c1, "gone", starts_in=timedelta(minutes=-5), metric="joins", rules=HOSTS)
        token = viewer_token(c1, "gone", "vi")
        for _ in range(3):
            assert beat(one, token).status_code == 200
            time.sleep(0.5)
        last = int(time.time() * 1000) - 500
        one.kill9()  # its memory goes with it; the beats it took are in Redis

        wait_until(lambda: [kind for kind, _at in room_events(url, "gone", "vi")] == ["room_join", "room_timeout"])
        time.sleep(1.0)
        logged = room_events(url, "gone", "vi")
        assert [kind for kind, _at in logged] == ["room_join", "room_timeout"]
        # Process two never loaded the campaign: it takes over viewers silent for twice the timeout
        # (rooms/sweeper.py), and with this test's short timeout the leave is the moment it decides.
        assert last + TIMEOUT_SECONDS * 1000 - 1000 <= logged[1][1] <= last + (2 * TIMEOUT_SECONDS + 3) * 1000
        data = report(c2, "gone")
        assert data["room"]["present"] == 0 and data["room"]["closed_without_leave"]["timeout"] == 1


def test_a_draw_run_on_one_process_reaches_winners_on_both_as_one_draw_won_each(deployment):
    (one, two), key, _url = deployment
    now = datetime.now(UTC).replace(microsecond=0)
    starts, ends = now - timedelta(hours=3), now - timedelta(hours=1)
    with one.client(key) as c1:
        make_campaign(c1, "lucky", starts, ends, [joins_rule()])
        events = []
        for referrer, n in {"r1": 3, "r2": 2, "r3": 1}.items():  # r3 stays under at_least: no entry
            code = invite(c1, "lucky", referrer)
            events += [{"id": f"lucky-{referrer}-{i}", "type": "room_join", "campaign_id": "lucky",
                        "user_id": f"{referrer}-friend-{i}", "at": (starts + timedelta(minutes=5 + i)).isoformat(),
                        "ref": code} for i in range(n)]
        send(c1, events)
        # Winners connected to process two, which has not served this campaign before, and to process one.
        far = {user: Sse(two, viewer_token(c1, "lucky", user)) for user in ("r1", "r2", "r3")}
        near = {user: Sse(one, viewer_token(c1, "lucky", user)) for user in ("r1", "r2")}
        rooms = [Room(server, api_key=key, cid="lucky") for server in (one, two)]  # the host's overlay
        for room in rooms:
            assert room.next()["draws"] == []
        try:
            sent = time.monotonic()
            result = run(c1, "lucky", "grand")
            assert sorted(result["winners"]) == ["r1", "r2"]
            for user in ("r1", "r2"):
                arrived = far[user].drain(2.0)
                won = [(at, m) for at, m in arrived if m["type"] == "draw_won"]
                assert len(won) == 1, arrived
                at, message = won[0]
                assert at - sent < 1.0, f"draw_won reached process two after {at - sent:.2f} s"
                assert (message["rule_id"], message["period"], message["prize"]["kind"]) == \
                    ("grand", "campaign", "coupon")
                assert message["status"] == "available" and message["reward_id"]
                assert {m["type"] for _at, m in arrived} == {"draw_won", "reward"}

                mine = [m for _at, m in near[user].drain(1.0)]
                assert [m["type"] for m in mine].count("draw_won") == 1, mine
                assert next(m for m in mine if m["type"] == "draw_won")["reward_id"] == message["reward_id"]
            far["r3"].assert_quiet()
            # the room streams on both processes show the result once, the other's within a second
            for room in rooms:
                arrived = [(at, m) for at, m in room.drain(1.0) if m["type"] == "draw"]
                assert len(arrived) == 1, arrived
                at, draw = arrived[0]
                assert at - sent < 1.0 and (draw["rule_id"], draw["period"], draw["seed"]) == \
                    ("grand", "campaign", result["seed"])
                assert sorted(w["user_id"] for w in draw["winners"]) == ["r1", "r2"]
        finally:
            for stream in (*far.values(), *near.values(), *rooms):
                stream.close()


def test_agora_notices_of_one_second_on_different_processes_follow_clientseq(deployment):
    (one, two), key, url = deployment
    with one.client(key) as c1:
        channel = live_campaign(c1, "ago", "agora")
        _id, hook = integration(c1, "agora", AGORA_SECRET)
        hooks = {one.port: hook, two.port: hook.replace(one.url, two.url)}
        assert hooks[two.port] != hook

        def send_to(srv: Server, uid: int, seq: int, kind: int, second: int) -> None:
            response = agora_send(hooks[srv.port], f"ago:u{uid}:{seq}", kind, channel, uid, seq, second)
            assert response.status_code == 200 and response.json().get("accepted") == 1, response.text

        # uid 2 joined and left within one second; the leave reaches process two first.
        send_to(two, 2, 2, 106, ts(40))
        send_to(one, 2, 1, 105, ts(40))
        assert report(c1, "ago")["room"]["present"] == 0
        # uid 3 left and joined again within one second; the re-join reaches process two first.
        send_to(one, 3, 1, 105, ts(50))
        send_to(two, 3, 3, 105, ts(55))
        send_to(one, 3, 2, 106, ts(55))
        data = report(c1, "ago")
        assert data["room"]["present"] == 1  # uid 3 is in the room, uid 2 is not
        assert data["funnel"]["joins"] == 2
        for uid, kinds in ((2, ["room_leave", "room_join"]), (3, ["room_join", "room_join", "room_leave"])):
            assert [kind for kind, _at in room_events(url, "ago", str(uid))] == kinds  # every notice kept
