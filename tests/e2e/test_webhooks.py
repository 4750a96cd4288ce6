"""Agora and LiveKit webhooks over the real server, signed the way the providers document it.

Each test binds its own campaign to its own channel: all tests share one tenant and one server.
"""

from __future__ import annotations

import base64
import time
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa

from liveloop.events.models import events
from tests.e2e.helpers import STARTS, event, invite, post_ok, send
from tests.e2e.helpers import campaign as campaign_body
from tests.webhook_signing import agora_body, agora_signature, livekit_body, livekit_token

AGORA_SECRET = "agora-notification-secret-1"
LK_SECRET, LK_KEY = "livekit-api-secret-0123456789abcdef", "APIdemo123"
HOSTS = {"id": "hosts", "type": "milestone", "metric": "joins",
         "tiers": [{"at": 1, "reward": {"kind": "badge", "name": "Room host"}}]}


def ts(minutes: float) -> int:
    """Unix seconds, `minutes` into the live."""
    return int((STARTS + timedelta(minutes=minutes)).timestamp())


def live_campaign(client, cid: str, provider: str, *, min_watch: int | None = None) -> str:
    channel = f"ch-{cid}"
    extra = {"min_watch_seconds": min_watch} if min_watch is not None else {}
    post_ok(client, "/v1/campaigns", campaign_body(cid, leaderboard={"metric": "joins"}, rules=[HOSTS],
                                                   room={"provider": provider, "channel": channel}, **extra))
    return channel


def integration(client, provider: str, secret: str, api_key: str | None = None) -> tuple[str, str]:
    body = {"provider": provider, "secret": secret, **({"api_key": api_key} if api_key else {})}
    created = post_ok(client, "/v1/integrations", body)
    return created["id"], created["url"]


def befriend(client, cid: str, referrer: str, *friends: str) -> None:
    """`friends` reserve through `referrer`'s invite code before the live."""
    code = invite(client, cid, referrer)
    send(client, [event(f"res-{f}", "reservation", cid, f, STARTS - timedelta(hours=1), ref=code) for f in friends])


def report(client, cid: str) -> dict:
    response = client.get(f"/v1/campaigns/{cid}/report")
    assert response.status_code == 200, response.text
    return response.json()


def logged(server, prefix: str) -> list[tuple[str, str, str, int]]:
    engine = sa.create_engine(server.database_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(events.c.id, events.c.type, events.c.user_id, events.c.at)
                            .where(events.c.id.like(prefix + "%")).order_by(events.c.seq)).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def agora_post(url: str, body: bytes, signature: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Agora-Signature-V2"] = signature
    return httpx.post(url, content=body, headers=headers, timeout=10)


def agora_send(url: str, notice_id: str, event_type: int, channel: str, uid: int, seq: int, at: int,
               secret: str = AGORA_SECRET) -> httpx.Response:
    body = agora_body(notice_id, event_type, channel, uid=uid, client_seq=seq, ts=at)
    return agora_post(url, body, agora_signature(secret, body))


def livekit_post(url: str, body: bytes, token: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/webhook+json"}
    if token is not None:
        headers["Authorization"] = token
    return httpx.post(url, content=body, headers=headers, timeout=10)


def livekit_send(url: str, event_id: str, event: str, room: str, created_at: int, identity: str | None = None,
                 *, secret: str = LK_SECRET, api_key: str = LK_KEY) -> httpx.Response:
    body = livekit_body(event_id, event, room, created_at=created_at, identity=identity)
    return livekit_post(url, body, livekit_token(body, api_key=api_key, secret=secret, now=int(time.time())))


# -- Agora ---------------------------------------------------------------------------------------


def test_agora_joins_count_for_the_referrer_and_a_retried_notice_changes_nothing(client, server, cid):
    channel = live_campaign(client, cid, "agora")
    int_id, url = integration(client, "agora", AGORA_SECRET)
    befriend(client, cid, "alice", "42")

    first = agora_send(url, f"{cid}:1:105", 105, channel, 42, 1, ts(5))
    assert first.status_code == 200, first.text
    assert first.json() == {"ok": True, "accepted": 1, "duplicates": 0}
    # Agora retries with the same noticeId and a new notifyMs: a new body, still the same notice.
    body = agora_body(f"{cid}:1:105", 105, channel, uid=42, client_seq=1, ts=ts(5), notify_ms=int(time.time() * 1000))
    retried = agora_post(url, body, agora_signature(AGORA_SECRET, body))
    assert retried.status_code == 200 and retried.json()["duplicates"] == 1

    data = report(client, cid)
    assert data["funnel"]["joins"] == 1 and data["referred"]["joins"] == 1
    assert data["room"]["present"] == 1 and data["room"]["viewers"] == 1
    alice = client.get(f"/v1/campaigns/{cid}/users/alice/progress").json()
    assert alice["metrics"]["joins"] == 1 and [r["name"] for r in alice["rewards"]] == ["Room host"]
    rows = logged(server, f"agora:{int_id}:{cid}:")
    assert [(r[1], r[2]) for r in rows] == [("room_join", "42")]
    assert ts(5) * 1000 <= rows[0][3] < ts(5) * 1000 + 1000  # timed by payload.ts, not by delivery

    # Host joins (103) count too; a leave (106) closes the presence.
    assert agora_send(url, f"{cid}:2:103", 103, channel, 9, 1, ts(1)).json()["accepted"] == 1
    assert agora_send(url, f"{cid}:3:106", 106, channel, 42, 2, ts(20)).json()["accepted"] == 1
    data = report(client, cid)
    assert data["funnel"]["joins"] == 2 and data["room"]["present"] == 1
    assert data["room"]["watch_seconds"] == 15 * 60  # 42 watched 15 minutes; the host's stay is still open


def test_agora_bad_signatures_are_refused_and_nothing_is_stored(client, server, cid):
    channel = live_campaign(client, cid, "agora")
    int_id, url = integration(client, "agora", AGORA_SECRET)
    body = agora_body(f"{cid}:1", 105, channel, uid=7, client_seq=1, ts=ts(3))
    good = agora_signature(AGORA_SECRET, body)
    flipped = bytearray(body)
    flipped[body.index(b'"uid":7') + 6] = ord("8")  # uid 7 -> 8, the signature kept
    cases = {
        "flipped byte": (bytes(flipped), good),
        "wrong secret": (body, agora_signature("not-the-notification-secret", body)),
        "missing header": (body, None),
        "sha1 in the v2 header": (body, "5a3bb6a6d9fad2ea9ae3fb707a14c9d7f3136df1"),
    }
    for name, (raw, signature) in cases.items():
        response = agora_post(url, raw, signature)
        assert response.status_code == 401, name
        assert response.json()["error"]["code"] == "unauthorized", name
    assert logged(server, f"agora:{int_id}:") == []
    assert report(client, cid)["room"]["viewers"] == 0
    assert agora_post(url, body, good).status_code == 200  # the genuine notice still goes through


def test_agora_out_of_order_clientseq_keeps_the_newest_presence(client, server, cid):
    channel = live_campaign(client, cid, "agora")
    int_id, url = integration(client, "agora", AGORA_SECRET)
    # uid 1: joined, left, joined again; Agora delivers the three notices backwards.
    for seq, kind, minute in ((3, 105, 30), (2, 106, 20), (1, 105, 10)):
        assert agora_send(url, f"{cid}:u1:{seq}", kind, channel, 1, seq, ts(minute)).status_code == 200
    # uid 2: joined and left within one second; the leave arrives first.
    assert agora_send(url, f"{cid}:u2:2", 106, channel, 2, 2, ts(40)).status_code == 200
    assert agora_send(url, f"{cid}:u2:1", 105, channel, 2, 1, ts(40)).status_code == 200
    # uid 3: left and re-joined within one second; the join arrives first.
    assert agora_send(url, f"{cid}:u3:1", 105, channel, 3, 1, ts(50)).status_code == 200
    assert agora_send(url, f"{cid}:u3:3", 105, channel, 3, 3, ts(55)).status_code == 200
    assert agora_send(url, f"{cid}:u3:2", 106, channel, 3, 2, ts(55)).status_code == 200

    data = report(client, cid)
    assert data["room"]["present"] == 2  # uid 1 and uid 3 are in the room, uid 2 is not
    assert data["funnel"]["joins"] == 3  # every join that happened counts, however late it came
    assert len(logged(server, f"agora:{int_id}:{cid}:")) == 8  # every authentic notice is kept
    # An older notice never overrides a newer one: uid 1 is still in after its old leave arrived.
    assert agora_send(url, f"{cid}:u1:2", 106, channel, 1, 2, ts(20)).json()["duplicates"] == 1
    assert report(client, cid)["room"]["present"] == 2


def test_agora_min_watch_seconds_decides_which_friends_count(client, server, cid):
    channel = live_campaign(client, cid, "agora", min_watch=60)
    _int_id, url = integration(client, "agora", AGORA_SECRET)
    befriend(client, cid, "alice", "11", "12")
    # 11 leaves after 20 s: no join; 12 stays 90 s: a join, reached at its 60th second. 11's notices
    # are of the last minute: between its join and its leave the room sweeper may look at it, and a
    # presence begun longer than min_watch_seconds ago (a late, backfilled join) would be credited.
    recent = int(time.time()) - 40
    for notice, kind, uid, seq, at in ((f"{cid}:a", 105, 11, 1, recent), (f"{cid}:b", 106, 11, 2, recent + 20),
                                       (f"{cid}:c", 106, 12, 2, ts(6) + 90), (f"{cid}:d", 105, 12, 1, ts(6))):
        assert agora_send(url, notice, kind, channel, uid, seq, at).status_code == 200
    data = report(client, cid)
    assert data["funnel"]["joins"] == 1 and data["room"]["min_watch_seconds"] == 60
    assert data["room"]["watch_seconds"] == 110
    alice = client.get(f"/v1/campaigns/{cid}/users/alice/progress").json()
    assert alice["metrics"]["joins"] == 1 and len(alice["rewards"]) == 1


def test_agora_channel_destroyed_closes_presences_whose_leave_was_dropped(client, server, cid):
    channel = live_campaign(client, cid, "agora")
    _int_id, url = integration(client, "agora", AGORA_SECRET)
    assert agora_send(url, f"{cid}:1", 105, channel, 1, 1, ts(1)).status_code == 200
    assert agora_send(url, f"{cid}:2", 105, channel, 2, 1, ts(2)).status_code == 200
    body = agora_body(f"{cid}:3", 102, channel, ts=ts(12))  # 102: channel destroyed (no uid)
    destroyed = agora_post(url, body, agora_signature(AGORA_SECRET, body))
    assert destroyed.status_code == 200 and destroyed.json()["accepted"] == 2
    room = report(client, cid)["room"]
    assert room["present"] == 0 and room["closed_without_leave"]["room_end"] == 2
    assert abs(room["watch_seconds"] - (11 * 60 + 10 * 60)) <= 1  # Agora times are whole seconds


def test_a_provider_user_is_mapped_to_the_shops_user(client, server, cid):
    channel = live_campaign(client, cid, "agora")
    _int_id, url = integration(client, "agora", AGORA_SECRET)
    befriend(client, cid, "alice", "siti")
    mapped = client.put(f"/v1/campaigns/{cid}/room-users/77", json={"user_id": "siti"})
    assert mapped.status_code == 200 and mapped.json() == {"campaign_id": cid, "provider_uid": "77", "user_id": "siti"}
    assert client.get(f"/v1/campaigns/{cid}/room-users/77").json()["user_id"] == "siti"
    assert client.get(f"/v1/campaigns/{cid}/room-users/78").status_code == 404
    assert client.put(f"/v1/campaigns/{cid}-nope/room-users/77", json={"user_id": "siti"}).status_code == 404
    assert client.put(f"/v1/campaigns/{cid}/room-users/77", json={"user": "siti"}).status_code == 422

    assert agora_send(url, f"{cid}:1", 105, channel, 77, 1, ts(2)).status_code == 200
    assert client.get(f"/v1/campaigns/{cid}/users/alice/progress").json()["metrics"]["joins"] == 1
    assert report(client, cid)["referred"]["joins"] == 1


def test_notices_for_channels_no_campaign_binds_are_acknowledged_and_ignored(client, server, cid):
    channel = live_campaign(client, cid, "agora")
    int_id, url = integration(client, "agora", AGORA_SECRET)
    elsewhere = agora_send(url, f"{cid}:x", 105, channel + "-other", 5, 1, ts(2))
    assert elsewhere.status_code == 200 and "ignored" in elsewhere.json()
    long_before = agora_send(url, f"{cid}:y", 105, channel, 5, 1, ts(-24 * 60))  # a day before the live
    assert long_before.status_code == 200 and "ignored" in long_before.json()
    other_type = agora_send(url, f"{cid}:z", 111, channel, 5, 2, ts(2))  # a role switch: no presence change
    assert other_type.status_code == 200 and "ignored" in other_type.json()
    assert logged(server, f"agora:{int_id}:") == []


def test_a_replaced_secret_takes_effect_at_once(client, server, cid):
    from tests.support import create_tenant

    channel = live_campaign(client, cid, "agora")
    old = "placeholder-until-agora-shows-it"
    int_id, url = integration(client, "agora", old)
    assert agora_send(url, f"{cid}:0", 105, channel, 1, 1, ts(1), secret=old).status_code == 200
    replaced = client.put(f"/v1/integrations/{int_id}", json={"secret": AGORA_SECRET})
    assert replaced.status_code == 200 and replaced.json() == {"id": int_id, "provider": "agora", "url": url}
    time.sleep(1.1)  # the endpoint re-reads a secret at most once a second
    assert agora_send(url, f"{cid}:1", 106, channel, 1, 2, ts(2)).status_code == 200
    assert agora_send(url, f"{cid}:2", 105, channel, 1, 3, ts(3), secret=old).status_code == 401
    with server.client(create_tenant(server.database_url, "other")) as other:
        assert other.put(f"/v1/integrations/{int_id}", json={"secret": "x" * 16}).status_code == 404
    assert client.put("/v1/integrations/int_nope", json={"secret": "x" * 16}).status_code == 404
    assert client.put(f"/v1/integrations/{int_id}", json={"secret": "short"}).status_code == 422


def test_unknown_integrations_and_wrong_methods(client, server):
    int_id, url = integration(client, "agora", AGORA_SECRET)
    body = agora_body("n", 105, "c", uid=1, client_seq=1, ts=ts(1))
    signature = agora_signature(AGORA_SECRET, body)
    assert agora_post(f"{server.url}/v1/integrations/agora/int_nope", body, signature).status_code == 404
    assert agora_post(f"{server.url}/v1/integrations/livekit/{int_id}", body, signature).status_code == 404
    assert httpx.get(url, timeout=10).status_code == 405
    assert agora_post(url, b"{not json", agora_signature(AGORA_SECRET, b"{not json")).status_code == 400


# -- LiveKit -------------------------------------------------------------------------------------


def test_livekit_participants_join_and_leave_and_a_replay_is_ignored(client, server, cid):
    room = live_campaign(client, cid, "livekit")
    int_id, url = integration(client, "livekit", LK_SECRET, LK_KEY)
    befriend(client, cid, "alice", "budi")

    joined = livekit_send(url, f"EV_{cid}_1", "participant_joined", room, ts(3), "budi")
    assert joined.status_code == 200, joined.text
    assert joined.json() == {"ok": True, "accepted": 1, "duplicates": 0}
    assert livekit_send(url, f"EV_{cid}_1", "participant_joined", room, ts(3), "budi").json()["duplicates"] == 1
    assert livekit_send(url, f"EV_{cid}_2", "participant_left", room, ts(13), "budi").json()["accepted"] == 1
    assert livekit_send(url, f"EV_{cid}_3", "track_published", room, ts(4), "budi").json()["ok"] is True
    assert livekit_send(url, f"EV_{cid}_4", "room_started", room, ts(0)).json()["ok"] is True

    data = report(client, cid)
    assert data["funnel"]["joins"] == 1 and data["room"]["present"] == 0
    assert data["room"]["watch_seconds"] == 600
    rows = logged(server, f"livekit:{int_id}:{cid}:")
    assert [(r[1], r[2], r[3]) for r in rows] == [("room_join", "budi", ts(3) * 1000),
                                                   ("room_leave", "budi", ts(13) * 1000)]
    assert client.get(f"/v1/campaigns/{cid}/users/alice/progress").json()["metrics"]["joins"] == 1


def unsigned(token: str) -> str:
    """The token's claims under an `alg: none` header and no signature."""
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    return f"{header}.{token.split('.')[1]}."


def test_livekit_refuses_tampered_or_foreign_webhooks_and_stores_nothing(client, server, cid):
    room = live_campaign(client, cid, "livekit")
    int_id, url = integration(client, "livekit", LK_SECRET, LK_KEY)
    now = int(time.time())
    body = livekit_body(f"EV_{cid}", "participant_joined", room, created_at=ts(3), identity="budi")
    good = livekit_token(body, api_key=LK_KEY, secret=LK_SECRET, now=now)
    flipped = body.replace(b'"identity":"budi"', b'"identity":"budj"')
    cases = {
        "flipped byte": (flipped, good),
        "wrong secret": (body, livekit_token(body, api_key=LK_KEY, secret="another-secret-0123456789", now=now)),
        "another api key": (body, livekit_token(body, api_key="APIother", secret=LK_SECRET, now=now)),
        "expired": (body, livekit_token(body, api_key=LK_KEY, secret=LK_SECRET, now=now - 3600)),
        "alg none": (body, unsigned(good)),
        "no token": (body, None),
    }
    for name, (raw, token) in cases.items():
        response = livekit_post(url, raw, token)
        assert response.status_code == 401, name
        assert response.json()["error"]["code"] == "unauthorized", name
    assert logged(server, f"livekit:{int_id}:") == []
    assert report(client, cid)["room"]["viewers"] == 0
    assert livekit_post(url, body, good).status_code == 200


def test_livekit_room_finished_closes_every_presence_whose_leave_never_came(client, server, cid):
    room = live_campaign(client, cid, "livekit")
    _int_id, url = integration(client, "livekit", LK_SECRET, LK_KEY)
    for i, who in enumerate(("a", "b", "c")):
        assert livekit_send(url, f"EV_{cid}_j{i}", "participant_joined", room, ts(1), who).status_code == 200
    assert livekit_send(url, f"EV_{cid}_l", "participant_left", room, ts(5), "c").status_code == 200
    assert report(client, cid)["room"]["present"] == 2

    finished = livekit_send(url, f"EV_{cid}_f", "room_finished", room, ts(30))
    assert finished.status_code == 200 and finished.json()["accepted"] == 2
    replayed = livekit_send(url, f"EV_{cid}_f", "room_finished", room, ts(30))
    assert replayed.status_code == 200 and replayed.json()["accepted"] == 0  # nobody left to close
    room_data = report(client, cid)["room"]
    assert room_data["present"] == 0
    assert room_data["closed_without_leave"] == {"timeout": 0, "room_end": 2, "total": 2}
    assert room_data["watch_seconds"] == 2 * 29 * 60 + 4 * 60


def test_a_provider_presence_without_leave_counts_once_it_has_watched_long_enough(client, server, cid):
    room = live_campaign(client, cid, "livekit", min_watch=60)
    _int_id, url = integration(client, "livekit", LK_SECRET, LK_KEY)
    befriend(client, cid, "alice", "dewi")
    joined_at = int(time.time()) - 120  # two minutes ago, still in the room: nobody will say more
    assert livekit_send(url, f"EV_{cid}_j", "participant_joined", room, joined_at, "dewi").status_code == 200
    assert report(client, cid)["funnel"]["joins"] == 0
    deadline = time.monotonic() + 20  # the sweeper looks every few seconds
    while report(client, cid)["funnel"]["joins"] == 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert report(client, cid)["funnel"]["joins"] == 1
    progress = client.get(f"/v1/campaigns/{cid}/users/alice/progress").json()
    assert progress["metrics"]["joins"] == 1


@pytest.mark.parametrize("provider", ["agora", "livekit"])
def test_webhook_bodies_that_are_signed_but_not_notices_are_refused(client, server, provider):
    int_id, url = integration(client, provider, LK_SECRET, LK_KEY if provider == "livekit" else None)
    body = b'{"hello": "world"}'
    if provider == "agora":
        response = agora_post(url, body, agora_signature(LK_SECRET, body))
    else:
        response = livekit_post(url, body, livekit_token(body, api_key=LK_KEY, secret=LK_SECRET,
                                                         now=int(time.time())))
    assert response.status_code == 400
