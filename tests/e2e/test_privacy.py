"""Export and erasure through the API (SPEC section 14), on SQLite and on PostgreSQL with Redis:
the user's personal data is gone from every table and from a logical dump of the database, the
user_id is a pseudonym in the log, the ledger and the leaderboards, every other user's metrics,
ranks and rewards and the budget used are unchanged, in this process, after a restart and in
another process."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.e2e.helpers import before_start, campaign, during, event, invite, post_ok, send
from tests.support import Server, create_tenant, eventually, only_tenant, redis_env, redis_leaderboard

REFERRAL = {
    "id": "rr",
    "type": "reservation_referral",
    "referrer_reward": {"kind": "coupon", "amount": "5.00"},
    "referee_reward": {"kind": "coupon", "amount": "2.00"},
}
MILESTONE = {"id": "ms", "type": "milestone", "metric": "reservations",
             "tiers": [{"at": 2, "reward": {"kind": "badge", "name": "Connector"}}]}
NAME, DEVICE, IP = "Siti Rahmawati", "dev-siti-7f3a", "198.51.100.77"
SECRETS = (NAME, DEVICE, IP)


@pytest.fixture
def served(new_database, tmp_path):
    """A server of its own (it is restarted), with Redis on PostgreSQL."""
    url = new_database("privacy")
    env = redis_env() if url.startswith("postgresql") else {}
    key = create_tenant(url, "privacy")
    # Webhook messages are stored too (for an endpoint that never answers: they wait for retries).
    server = Server(url, env={**env, "LIVELOOP_WEBHOOKS_ALLOW_PRIVATE": "true"},
                    log_path=tmp_path / "server.log").start()
    try:
        yield server, key, env
    finally:
        server.stop()


def populate(c, cid: str) -> None:
    post_ok(c, "/v1/webhook-endpoints", {"url": "http://127.0.0.1:9/never"})
    post_ok(c, "/v1/campaigns", campaign(cid, budget="100", rules=[REFERRAL, MILESTONE]))
    for uid, name in (("ana", "Ana Lima"), ("siti", NAME), ("budi", "Budi S"), ("chen", "Chen W")):
        assert c.put(f"/v1/users/{uid}", json={"market": "ID", "display_name": name, "locale": "id",
                                               "consents": {"leaderboard_public": True}}).status_code == 201
    ana, budi = invite(c, cid, "ana"), invite(c, cid, "budi")
    # siti is ana's referee, and a referrer herself (of chen and dina); budi refers eko.
    send(c, [event("s1", "reservation", cid, "siti", before_start(50), ref=ana, device_id=DEVICE, ip=IP)])
    siti = invite(c, cid, "siti")
    send(c, [event("c1", "reservation", cid, "chen", before_start(40), ref=siti, device_id="dev-chen",
                   ip="203.0.113.9"),
             event("d1", "reservation", cid, "dina", before_start(35), ref=siti),
             event("e1", "reservation", cid, "eko", before_start(30), ref=budi),
             event("s2", "room_join", cid, "siti", during(5), device_id=DEVICE, ip=IP),
             event("f1", "click", cid, "fay", during(6), ref=siti)])


def snapshot(c, cid: str) -> dict:
    rewards = c.get(f"/v1/campaigns/{cid}/rewards").json()["rewards"]
    return {"report": c.get(f"/v1/campaigns/{cid}/report").json(),
            "leaderboard": c.get(f"/v1/campaigns/{cid}/leaderboard", params={"limit": 100}).json(),
            "rewards": rewards}


def normalized(snap: dict, old: str, new: str, renamed: set[str] = frozenset()) -> dict:
    """The snapshot with the user renamed, their name gone, lists sorted, and the ids of `renamed`
    rewards left out (a reward's id is derived from its user, and a referral's from its referee)."""
    text = json.dumps(snap).replace(json.dumps(old), json.dumps(new)).replace(json.dumps(NAME), "null")
    data = json.loads(text)
    data["rewards"] = sorted(({k: v for k, v in r.items() if not (k == "id" and r["id"] in renamed)}
                              for r in data["rewards"]), key=json.dumps)
    data["report"]["referrers"] = sorted(data["report"]["referrers"], key=json.dumps)
    for entry in data["leaderboard"]["entries"]:
        if entry["user_id"] == new:
            entry.pop("masked")  # the erased user's consent went with their profile
    return data


def dump(url: str) -> str:
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        conn = sqlite3.connect(path)
        try:
            return "\n".join(conn.iterdump())
        finally:
            conn.close()
    return subprocess.run(["pg_dump", "--data-only", url], capture_output=True, text=True, check=True).stdout


def test_erasure_removes_the_user_and_changes_nobody_else(served, cid, tmp_path):
    server, key, env = served
    with ExitStack() as stack:
        c = stack.enter_context(server.client(key))
        populate(c, cid)
        other = None
        if env:  # on PostgreSQL a second process has the campaign loaded when the erasure happens
            other = stack.enter_context(Server(server.database_url, env=env, log_path=tmp_path / "b.log").start())
            c2 = stack.enter_context(other.client(key))
            assert c2.get(f"/v1/campaigns/{cid}/users/siti/progress").json()["referrer"] == "ana"
        exported = c.get("/v1/users/siti/export")
        assert exported.status_code == 200, exported.text
        body = exported.json()
        assert body["profile"]["display_name"] == NAME
        [mine] = body["campaigns"]
        assert mine["referrer"] == "ana" and {e["device_id"] for e in mine["events"]} == {DEVICE}
        assert len(mine["invites"]) == 1 and {r["role"] for r in mine["rewards"]} == {"referee", "referrer", "achiever"}
        before = snapshot(c, cid)
        assert any(NAME == e["display_name"] for e in before["leaderboard"]["entries"])

        erased = c.delete("/v1/users/siti")
        assert erased.status_code == 202, erased.text
        pseudonym = erased.json()["pseudonym"]
        assert pseudonym.startswith("erased-") and erased.json()["campaigns"] == [cid]

        after = snapshot(c, cid)
        siti_events = {e["id"] for e in mine["events"]}
        # siti's four (referee, referrer of chen and of dina, the tier) and ana's for referring her.
        old_ids = {r["id"] for r in before["rewards"] if r["user_id"] == "siti" or r["cause_event_id"] in siti_events}
        new_ids = {r["id"] for r in after["rewards"]} - {r["id"] for r in before["rewards"]}
        assert len(old_ids) == len(new_ids) == 5
        renamed = old_ids | new_ids
        a, b = normalized(after, pseudonym, pseudonym, renamed), normalized(before, "siti", pseudonym, renamed)
        assert a == b
        others = [r for r in before["rewards"] if r["user_id"] != "siti" and r["cause_event_id"] not in siti_events]
        assert others and all(r in after["rewards"] for r in others)  # untouched, ids included
        assert "siti" not in json.dumps(after) and NAME not in json.dumps(after)
        assert after["report"]["funnel"] == before["report"]["funnel"]
        if other is not None:
            eventually(lambda: snapshot(c2, cid) == after, timeout=2)

        again = c.delete("/v1/users/siti")
        assert again.status_code == 202 and again.json()["pseudonym"] == pseudonym
        assert c.get("/v1/users/siti/export").status_code == 404
        unknown = c.delete("/v1/users/nobody-ever")
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
        assert c.get("/v1/users/nobody-ever/export").status_code == 404
        audit = c.get("/v1/audit").json()["entries"]
        assert audit[0]["action"] == "user.erase" and audit[0]["target"] == f"pseudonym={pseudonym}"
        assert "siti" not in json.dumps(audit)

        text = dump(server.database_url)
        for secret in (*SECRETS, "'siti'", '"siti"'):
            assert secret not in text, f"{secret!r} is still in the database dump"
        if server.database_url.startswith("sqlite"):
            path = Path(server.database_url.removeprefix("sqlite:///"))
            for file in (path, Path(str(path) + "-wal")):
                if file.exists():
                    raw = file.read_bytes()
                    for secret in SECRETS:
                        assert secret.encode() not in raw, f"{secret!r} is still in {file.name}"
        if env:  # Redis's copy of the leaderboard names the pseudonym
            board = redis_leaderboard(env["LIVELOOP_REDIS_URL"], only_tenant(server.database_url), cid)
            members = [user for _rank, user, _score in board]
            assert pseudonym in members and "siti" not in members

        # A later event with the same user_id starts a new user: no referrer, nothing of before.
        send(c, [event("s3", "room_join", cid, "siti", during(20))])
        progress = c.get(f"/v1/campaigns/{cid}/users/siti/progress").json()
        assert progress["referrer"] is None and progress["rewards"] == []
        # A user without rewards (fay only clicked) is erased without re-keying the ledger.
        before_fay = snapshot(c, cid)
        fay = c.delete("/v1/users/fay").json()["pseudonym"]
        after_return = snapshot(c, cid)
        assert after_return == json.loads(json.dumps(before_fay).replace('"fay"', json.dumps(fay)))

    # A process started now (on PostgreSQL, beside the first) and a restart replay the rewritten log alike.
    if env:
        with Server(server.database_url, env=env).start() as third, third.client(key) as c3:
            assert snapshot(c3, cid) == after_return
    server.stop()
    server.start()
    with server.client(key) as c:
        assert snapshot(c, cid) == after_return


def test_erasure_while_the_users_events_are_ingested(served, cid):
    server, key, env = served
    with server.client(key) as c:
        populate(c, cid)
        ana = invite(c, cid, "ana")
        stop = threading.Event()
        sent: list[int] = []

        def ingest() -> None:
            with server.client(key) as w:
                i = 0
                while not stop.is_set():
                    i += 1
                    batch = [event(f"live-s{i}", "share", cid, "siti", during(30), device_id=DEVICE, ip=IP),
                             event(f"live-g{i}", "reservation", cid, f"guest{i}", before_start(20), ref=ana)]
                    assert w.post("/v1/events", json={"events": batch}).status_code == 200
                    sent.append(i)

        worker = threading.Thread(target=ingest)
        worker.start()
        try:
            while len(sent) < 5:
                time.sleep(0.01)
            erased = c.delete("/v1/users/siti")
            assert erased.status_code == 202, erased.text
            during_erasure = len(sent)
            while len(sent) < during_erasure + 5:  # and the user's events go on arriving
                time.sleep(0.01)
        finally:
            stop.set()
            worker.join()
        live = snapshot(c, cid)
        pseudonym = erased.json()["pseudonym"]
        assert any(r["user_id"] == pseudonym for r in live["rewards"])
        # After the erasure the user_id is a new user, without the referrer the erased one had.
        assert c.get(f"/v1/campaigns/{cid}/users/siti/progress").json()["referrer"] is None
    # Whatever this process holds, the log it wrote replays to the same (a restart).
    server.stop()
    server.start()
    with server.client(key) as c:
        assert snapshot(c, cid) == live
        # The guests ana brought while the erasure ran all count for her.
        ranks = {e["user_id"]: e["score"] for e in c.get(f"/v1/campaigns/{cid}/leaderboard",
                                                          params={"limit": 100}).json()["entries"]}
        assert ranks["ana"] == 1 + len(sent)


def test_device_ids_and_ips_are_dropped_after_the_retention(new_database, tmp_path, cid):
    url = new_database("retention")
    env = redis_env() if url.startswith("postgresql") else {}
    key = create_tenant(url, "retention")
    env = {**env, "LIVELOOP_SIGNAL_RETENTION_DAYS": str(3 / 86_400), "LIVELOOP_RETENTION_SWEEP_SECONDS": "0.2"}
    with Server(url, env=env, log_path=tmp_path / "server.log").start() as server, server.client(key) as c:
        post_ok(c, "/v1/campaigns", campaign(cid))
        send(c, [event("old", "click", cid, "lee", during(1), device_id="dev-old", ip="192.0.2.1")])

        def devices() -> dict[str, tuple]:
            [mine] = c.get("/v1/users/lee/export").json()["campaigns"]
            return {e["id"].split("/")[1]: (e["device_id"], e["ip"]) for e in mine["events"]}

        assert devices() == {"old": ("dev-old", "192.0.2.1")}
        eventually(lambda: devices()["old"] == (None, None), timeout=10)
        send(c, [event("new", "click", cid, "lee", during(2), device_id="dev-new", ip="192.0.2.2")])
        assert devices() == {"old": (None, None), "new": ("dev-new", "192.0.2.2")}  # kept until its own time
        eventually(lambda: devices()["new"] == (None, None), timeout=10)
        # The events themselves stay, with what they counted for.
        assert c.get(f"/v1/campaigns/{cid}/report").json()["funnel"]["clicks"] == 2


@pytest.mark.service
def test_without_redis_another_process_learns_of_an_erasure_from_the_database(tmp_path, cid):
    import os

    from tests.support import fresh_postgres_database

    base = os.environ.get("LIVELOOP_TEST_DATABASE_URL")
    if not base:
        pytest.skip("LIVELOOP_TEST_DATABASE_URL is not set")
    with fresh_postgres_database(base) as url:
        key = create_tenant(url, "no redis")
        env = {"LIVELOOP_WEBHOOKS_ALLOW_PRIVATE": "true"}
        with Server(url, env=env, log_path=tmp_path / "a.log").start() as a, \
                Server(url, env=env, log_path=tmp_path / "b.log").start() as b, \
                a.client(key) as ca, b.client(key) as cb:
            populate(ca, cid)
            assert cb.get(f"/v1/campaigns/{cid}/users/siti/progress").json()["referrer"] == "ana"  # loaded in b
            pseudonym = ca.delete("/v1/users/siti").json()["pseudonym"]
            after = snapshot(ca, cid)
            assert pseudonym in json.dumps(after)
            eventually(lambda: snapshot(cb, cid) == after, timeout=5)
