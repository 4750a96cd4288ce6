"""Questions to the host (SPEC section 13, privileges that act) through the real HTTP API, on SQLite
and PostgreSQL + Redis: asked with a viewer token or the API key, `priority_question` holders first
in the host's queue, answering, the queue's head on the room stream, and the 4xx for bad text."""

from __future__ import annotations

import os
import time

import pytest

from tests.e2e.helpers import campaign, during, event, invite, post_ok, send
from tests.e2e.test_room_stream import Room
from tests.support import Server, create_tenant, fresh_postgres_database, redis_env

PRIORITY = {"id": "vip", "type": "milestone", "metric": "joins",
            "tiers": [{"at": 1, "reward": {"kind": "privilege", "name": "priority_question"}}]}


def token(client, cid: str, user: str) -> str:
    return post_ok(client, f"/v1/campaigns/{cid}/viewer-tokens", {"user_id": user, "ttl_seconds": 600})["token"]


def queue(client, cid: str, status: str = "open") -> list[tuple[str, str, bool]]:
    found = client.get(f"/v1/campaigns/{cid}/questions", params={"status": status}).json()["questions"]
    return [(q["user_id"], q["text"], q["priority"]) for q in found]


def head_of(room: Room, text: str | None, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        message = room.next(timeout=max(0.1, deadline - time.monotonic()))
        if message.get("type") == "room" and (message.get("question") or {}).get("text") == text:
            return message
        if text is None and message.get("type") == "room" and message.get("question") is None:
            return message
        assert time.monotonic() < deadline, f"the room never showed {text!r} at the queue's head"


def test_priority_holders_come_first_and_the_room_shows_the_head(client, server, api_key, cid):
    post_ok(client, "/v1/campaigns", campaign(cid, leaderboard={"metric": "joins"}, rules=[PRIORITY]))
    code = invite(client, cid, "ana")
    send(client, [event("f1", "room_join", cid, "friend1", during(3), ref=code)])  # ana earns priority_question

    with Room(server, api_key=api_key, cid=cid) as room:
        first = post_ok(client, f"/v1/campaigns/{cid}/questions", {"user_id": "budi", "text": "Is it dishwasher safe?"})
        assert (first["status"], first["priority"]) == ("open", False)
        head_of(room, "Is it dishwasher safe?")
        asked = client.post("/v1/questions", json={"token": token(client, cid, "ana"), "text": "Which sizes?"})
        assert asked.status_code == 201 and asked.json()["priority"] is True
        post_ok(client, "/v1/questions", {"token": token(client, cid, "chen"), "text": "Ship to Penang?"})
        assert queue(client, cid) == [("ana", "Which sizes?", True), ("budi", "Is it dishwasher safe?", False),
                                      ("chen", "Ship to Penang?", False)]
        shown = head_of(room, "Which sizes?")
        assert shown["question"]["user_id"] == "ana" and shown["open_questions"] == 3

        answered = post_ok(client, f"/v1/campaigns/{cid}/questions/{asked.json()['id']}/answer", {}, status=200)
        assert answered["status"] == "answered" and answered["answered_at"]
        head_of(room, "Is it dishwasher safe?")
    again = client.post(f"/v1/campaigns/{cid}/questions/{asked.json()['id']}/answer")
    assert again.status_code == 409 and again.json()["error"]["code"] == "question.answered"
    assert queue(client, cid, "answered") == [("ana", "Which sizes?", True)]
    assert [u for u, _t, _p in queue(client, cid)] == ["budi", "chen"]


def test_bad_questions_are_refused_naming_the_problem(client, cid):
    post_ok(client, "/v1/campaigns", campaign(cid))
    viewer = token(client, cid, "ana")
    for text in ("", "   ", "x" * 2000, "x" * 5000):
        refused = client.post("/v1/questions", json={"token": viewer, "text": text})
        assert refused.status_code == 422 and refused.json()["error"]["field"] == "text", (len(text), refused.text)
        refused = client.post(f"/v1/campaigns/{cid}/questions", json={"user_id": "ana", "text": text})
        assert refused.status_code == 422 and refused.json()["error"]["field"] == "text"
    assert client.post("/v1/questions", json={"token": viewer, "text": "x" * 1999}).status_code == 201
    forged = client.post("/v1/questions", json={"token": viewer[:-2] + "xx", "text": "Hello?"})
    assert forged.status_code == 401
    assert client.post(f"/v1/campaigns/{cid}/questions/q_nope/answer").status_code == 404
    assert client.get("/v1/campaigns/no-such-campaign/questions").status_code == 404


@pytest.mark.service
def test_a_question_asked_on_one_process_reaches_the_room_stream_on_another(tmp_path):
    # Questions are rows, not logged events: the process that took one says so on Redis, and the
    # room streams of the others take a new snapshot (events/fanout.py `liveloop:touched`).
    base = os.environ.get("LIVELOOP_TEST_DATABASE_URL")
    if not base:
        pytest.skip("LIVELOOP_TEST_DATABASE_URL is not set")
    cid = "asked-elsewhere"
    with fresh_postgres_database(base) as url:
        key = create_tenant(url)
        one, two = (Server(url, log_path=tmp_path / f"p{i}.log", env=redis_env()).start() for i in (1, 2))
        try:
            with one.client(key) as a, two.client(key) as b:
                post_ok(a, "/v1/campaigns", campaign(cid, leaderboard={"metric": "joins"}, rules=[PRIORITY]))
                with Room(two, api_key=key, cid=cid) as room:
                    head_of(room, None)  # the first snapshot: no question yet
                    asked = post_ok(a, f"/v1/campaigns/{cid}/questions", {"user_id": "budi", "text": "Gift wrap?"})
                    shown = head_of(room, "Gift wrap?", timeout=3.0)
                    assert shown["open_questions"] == 1
                    post_ok(a, f"/v1/campaigns/{cid}/questions/{asked['id']}/answer", {}, status=200)
                    head_of(room, None, timeout=3.0)
                    assert b.get(f"/v1/campaigns/{cid}/questions").json()["questions"] == []
        finally:
            one.stop()
            two.stop()
