"""Flash deals (SPEC section 13, privileges that act) through the real HTTP API and real viewer
streams: a holder of `early_notice` hears of the deal `early_minutes` before everyone else, each
viewer once; across a restart; and with two processes, each viewer once whichever process they are on."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.helpers import campaign, during, event, invite, iso, post_ok, send
from tests.e2e.test_group_buys import FAST, served  # noqa: F401 - the module's server fixture
from tests.sse import SseStream
from tests.support import Server, create_tenant, fresh_postgres_database, redis_env

EARLY = {"id": "insider", "type": "milestone", "metric": "joins",
         "tiers": [{"at": 1, "reward": {"kind": "privilege", "name": "early_notice"}}]}


@pytest.fixture
def client(served):  # noqa: F811
    server, key = served
    with server.client(key) as c:
        yield c


def viewer(server, client, cid: str, user: str) -> SseStream:
    token = post_ok(client, f"/v1/campaigns/{cid}/viewer-tokens", {"user_id": user, "ttl_seconds": 600})["token"]
    return SseStream(server, "/v1/stream", params={"token": token})


def deals_heard(sse: SseStream, seconds: float) -> list[tuple[float, dict]]:
    return [(at, m) for at, m in sse.drain(seconds) if m["type"] == "flash_deal"]


def privileged_campaign(client, cid: str) -> None:
    post_ok(client, "/v1/campaigns", campaign(cid, leaderboard={"metric": "joins"}, rules=[EARLY]))
    code = invite(client, cid, "ana")
    send(client, [event("f1", "room_join", cid, "friend1", during(3), ref=code)])  # ana earns early_notice


def test_a_flash_deal_reaches_the_privileged_viewer_before_the_others(served, client):  # noqa: F811
    server = served[0]
    cid = "fd-" + uuid.uuid4().hex[:8]
    privileged_campaign(client, cid)
    with viewer(server, client, cid, "ana") as ana, viewer(server, client, cid, "budi") as budi:
        starts = datetime.now(UTC) + timedelta(seconds=4)
        made = post_ok(client, f"/v1/campaigns/{cid}/flash-deals",
                       {"id": "wok-50", "title": "Wok at half price", "starts_at": iso(starts), "early_minutes": 0.05})
        assert (made["id"], made["early_minutes"]) == ("wok-50", 0.05)
        sent = time.monotonic()
        heard_ana = deals_heard(ana, 6.5)
        heard_budi = deals_heard(budi, 0.5)
    assert [(m["phase"], m["id"], m["title"]) for _at, m in heard_ana] == [("early", "wok-50", "Wok at half price")]
    assert [(m["phase"], m["id"]) for _at, m in heard_budi] == [("start", "wok-50")]
    ana_at, budi_at = heard_ana[0][0] - sent, heard_budi[0][0] - sent
    assert ana_at < 2.5 and budi_at > 3.0 and budi_at - ana_at > 2.0, (ana_at, budi_at)
    listed = client.get(f"/v1/campaigns/{cid}/flash-deals").json()["flash_deals"]
    assert [d["id"] for d in listed] == ["wok-50"]
    again = client.post(f"/v1/campaigns/{cid}/flash-deals",
                        json={"id": "wok-50", "title": "x", "starts_at": iso(starts), "early_minutes": 1})
    assert again.status_code == 409


def test_a_deals_end_is_kept_told_on_the_stream_and_must_come_after_its_start(served, client):  # noqa: F811
    server = served[0]
    cid = "fd-" + uuid.uuid4().hex[:8]
    privileged_campaign(client, cid)
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    ends = starts + timedelta(minutes=15)
    for bad in (starts, starts - timedelta(seconds=1)):
        refused = client.post(f"/v1/campaigns/{cid}/flash-deals", json={
            "id": "pan", "title": "Pan", "starts_at": iso(starts), "early_minutes": 0, "ends_at": iso(bad)})
        assert refused.status_code == 422 and refused.json()["error"]["field"] == "ends_at", refused.text
    with viewer(server, client, cid, "budi") as budi:
        made = post_ok(client, f"/v1/campaigns/{cid}/flash-deals", {
            "id": "pan", "title": "Pan", "starts_at": iso(starts), "early_minutes": 0, "ends_at": iso(ends)})
        said = iso(ends).replace("Z", ".000Z")  # the API's times carry milliseconds
        assert made["ends_at"] == said
        open_ended = post_ok(client, f"/v1/campaigns/{cid}/flash-deals", {
            "id": "lid", "title": "Lid", "starts_at": iso(starts), "early_minutes": 0})
        assert open_ended["ends_at"] is None
        heard = {m["id"]: m["ends_at"] for _at, m in deals_heard(budi, 4.0)}
    assert heard == {"pan": said, "lid": None}
    listed = client.get(f"/v1/campaigns/{cid}/flash-deals").json()["flash_deals"]
    assert {d["id"]: d["ends_at"] for d in listed} == heard


def test_the_notice_due_after_a_restart_is_sent_by_the_new_process_once(new_database, tmp_path):
    url = new_database("flash")
    key = create_tenant(url)
    cid = "flashy"
    with Server(url, log_path=tmp_path / "first.log", env=FAST).start() as first, first.client(key) as c:
        privileged_campaign(c, cid)
        starts = datetime.now(UTC) + timedelta(seconds=20)
        with viewer(first, c, cid, "ana") as ana:
            post_ok(c, f"/v1/campaigns/{cid}/flash-deals",
                    {"id": "late", "title": "Late deal", "starts_at": iso(starts), "early_minutes": 10})
            assert [m["phase"] for _at, m in deals_heard(ana, 1.5)] == ["early"]  # due at once
    # The process stops before the start; the next one sends it, from the stored job.
    with Server(url, log_path=tmp_path / "second.log", env=FAST).start() as second, second.client(key) as c:
        with viewer(second, c, cid, "budi") as budi, viewer(second, c, cid, "ana") as ana:
            # Sent at the start, or when budi's stream opened if this process came up after it.
            wait = max(0.0, (starts - datetime.now(UTC)).total_seconds())
            heard = deals_heard(budi, wait + 2.0)
            assert [(m["phase"], m["id"]) for _at, m in heard] == [("start", "late")]
            assert deals_heard(ana, 0.2) == []  # told early already
    with Server(url, log_path=tmp_path / "third.log", env=FAST).start() as third, third.client(key) as c:
        with viewer(third, c, cid, "budi") as budi:
            assert deals_heard(budi, 1.5) == []  # nothing is sent twice after another restart


@pytest.mark.service
def test_each_viewer_hears_once_whichever_process_they_are_on(tmp_path):
    base = os.environ.get("LIVELOOP_TEST_DATABASE_URL")
    if not base:
        pytest.skip("LIVELOOP_TEST_DATABASE_URL is not set")
    env = {**FAST, **redis_env()}
    cid = "flash-many"
    with fresh_postgres_database(base) as url:
        key = create_tenant(url)
        one, two = (Server(url, log_path=tmp_path / f"p{i}.log", env=env).start() for i in (1, 2))
        try:
            with one.client(key) as a, two.client(key) as b:
                privileged_campaign(a, cid)
                b.get(f"/v1/campaigns/{cid}")  # process two has the campaign loaded
                with viewer(one, a, cid, "ana") as ana, viewer(two, b, cid, "budi") as budi, \
                        viewer(two, b, cid, "chen") as chen, viewer(one, a, cid, "dewi") as dewi:
                    starts = datetime.now(UTC) + timedelta(seconds=3)
                    post_ok(b, f"/v1/campaigns/{cid}/flash-deals",
                            {"id": "duo", "title": "Two of a kind", "starts_at": iso(starts), "early_minutes": 0.03})
                    heard = {name: [m["phase"] for _at, m in deals_heard(sse, 5.0 if name == "ana" else 0.5)]
                             for name, sse in (("ana", ana), ("budi", budi), ("chen", chen), ("dewi", dewi))}
            assert heard == {"ana": ["early"], "budi": ["start"], "chen": ["start"], "dewi": ["start"]}
        finally:
            one.stop()
            two.stop()


def test_a_viewer_who_connects_while_the_deal_runs_hears_of_it_then_once(served, client):  # noqa: F811
    server = served[0]
    cid = "fd-" + uuid.uuid4().hex[:8]
    privileged_campaign(client, cid)
    starts = datetime.now(UTC) + timedelta(seconds=3)
    post_ok(client, f"/v1/campaigns/{cid}/flash-deals",
            {"id": "pan", "title": "Pan for one", "starts_at": iso(starts), "early_minutes": 0.04})
    # Nobody is connected when the early notice goes out; ana (early_notice) connects before the start.
    time.sleep(0.8)
    with viewer(server, client, cid, "ana") as ana:
        assert [(m["phase"], m["id"]) for _at, m in deals_heard(ana, 1.5)] == [("early", "pan")]
    time.sleep(max(0.0, (starts - datetime.now(UTC)).total_seconds()) + 1.0)
    # After the start: budi, never connected, hears of it when his stream opens; ana does not again.
    with viewer(server, client, cid, "budi") as budi, viewer(server, client, cid, "ana") as ana:
        assert [(m["phase"], m["id"], m["title"]) for _at, m in deals_heard(budi, 1.5)] == [
            ("start", "pan", "Pan for one")]
        assert deals_heard(ana, 0.2) == []
    with viewer(server, client, cid, "budi") as budi:  # a new stream of the same viewer: told already
        assert deals_heard(budi, 1.0) == []


@pytest.mark.service
def test_a_viewer_connecting_later_hears_once_whichever_process_they_are_on(tmp_path):
    base = os.environ.get("LIVELOOP_TEST_DATABASE_URL")
    if not base:
        pytest.skip("LIVELOOP_TEST_DATABASE_URL is not set")
    env = {**FAST, **redis_env()}
    cid = "flash-later"
    with fresh_postgres_database(base) as url:
        key = create_tenant(url)
        one, two = (Server(url, log_path=tmp_path / f"p{i}.log", env=env).start() for i in (1, 2))
        try:
            with one.client(key) as a, two.client(key) as b:
                privileged_campaign(a, cid)
                starts = datetime.now(UTC) + timedelta(seconds=2)
                post_ok(a, f"/v1/campaigns/{cid}/flash-deals",
                        {"id": "trio", "title": "Three for two", "starts_at": iso(starts), "early_minutes": 0.01})
                time.sleep(max(0.0, (starts - datetime.now(UTC)).total_seconds()) + 1.0)
                # Both notices were sent while nobody was connected; the deal runs.
                with viewer(two, b, cid, "budi") as budi, viewer(one, a, cid, "ana") as ana:
                    assert [m["phase"] for _at, m in deals_heard(budi, 1.5)] == ["start"]
                    assert [m["phase"] for _at, m in deals_heard(ana, 0.5)] == ["start"]
                # Again on the other process, and both at once on both: nobody hears of it twice.
                with viewer(one, a, cid, "budi") as budi1, viewer(two, b, cid, "budi") as budi2, \
                        viewer(two, b, cid, "ana") as ana2:
                    assert deals_heard(budi1, 1.0) + deals_heard(budi2, 0.2) + deals_heard(ana2, 0.2) == []
                # Two streams of a new viewer opening at once on two processes: one of them is told.
                with viewer(one, a, cid, "chen") as chen1, viewer(two, b, cid, "chen") as chen2:
                    heard = deals_heard(chen1, 1.5) + deals_heard(chen2, 0.5)
                assert [m["phase"] for _at, m in heard] == ["start"]
        finally:
            one.stop()
            two.stop()
