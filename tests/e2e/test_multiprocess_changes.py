"""A change to a campaign made through one `liveloop serve` process is what every other process
answers with: its GET at once (it catches up with the log under the campaign's lock), its share
links within moments (the fan-out catches loaded campaigns up), and its events are judged by it.
A process started afterwards replays the same ledger."""

from __future__ import annotations

import os
import time

import pytest

from tests.e2e.helpers import post_ok, send
from tests.e2e.test_campaign_changes import RR, event, invite, landing, ledger, milestone, patch, reserved, scheduled
from tests.support import Server, create_tenant, fresh_postgres_database, redis_env

pytestmark = pytest.mark.service

CID = "moving"


@pytest.fixture
def pg_base():
    base = os.environ.get("LIVELOOP_TEST_DATABASE_URL")
    if not base:
        pytest.skip("LIVELOOP_TEST_DATABASE_URL is not set")
    return base


def within(seconds: float, check) -> float:
    """How long `check()` took to hold; fails if it did not within `seconds`."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, f"not within {seconds} s"
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.mark.parametrize("with_redis", [True, False], ids=["redis", "postgresql-only"])
def test_a_change_made_on_one_process_is_what_the_other_answers(pg_base, tmp_path, with_redis):
    env = redis_env() if with_redis else {}
    with fresh_postgres_database(pg_base) as url:
        key = create_tenant(url)
        one, two = (Server(url, log_path=tmp_path / f"p{i}.log", env=env).start() for i in (1, 2))
        try:
            with one.client(key) as a, two.client(key) as b:
                post_ok(a, "/v1/campaigns", scheduled(CID, budget="10.00", rules=[RR, milestone(3)]))
                code = invite(a, CID, "alice")
                # Process two loads the campaign: it applies events and serves the link from memory.
                send(b, [event("b", "reservation", CID, "bob", reserved(10), ref=code),
                         event("c", "reservation", CID, "carol", reserved(9), ref=code)])
                assert landing(two, code) == ("https://shop.example.com/live", {"src": ["ig"], "ll_ref": [code]})

                patch(a, CID, {"title": "Moved", "landing_url": "https://shop.example.com/moved",
                               "rules": [RR, milestone(2)]})
                assert b.get(f"/v1/campaigns/{CID}").json()["title"] == "Moved"
                assert [x["title"] for x in b.get("/v1/campaigns").json()["campaigns"]] == ["Moved"]
                within(2.0, lambda: landing(two, code)[0] == "https://shop.example.com/moved")
                # The tier the change lowered was granted once, by process one, and two knows it.
                assert ledger(b, CID, "alice") == ledger(a, CID, "alice") == [
                    ("alice", "rr", "available", None)] * 2 + [("alice", "ms", "available", None)]
                # A locked rule is locked on both processes.
                error = b.patch(f"/v1/campaigns/{CID}", json={"rules": [milestone(2)]}).json()["error"]
                assert error["code"] == "campaign.locked"

                assert a.post(f"/v1/campaigns/{CID}/cancel").json()["status"] == "cancelled"
                result = send(b, [event("d", "reservation", CID, "dave", reserved(5), ref=code)])
                assert [r["error"]["code"] for r in result["rejected"]] == ["campaign.cancelled"]
                within(2.0, lambda: landing(two, code) == ("https://shop.example.com/moved", {}))
                assert b.get(f"/v1/campaigns/{CID}").json()["status"] == "cancelled"
                rewards = b.get(f"/v1/campaigns/{CID}/rewards").json()
        finally:
            two.stop()
        # A process that replays the log from the start ends with the same ledger.
        three = Server(url, log_path=tmp_path / "p3.log", env=env).start()
        try:
            with three.client(key) as c:
                assert c.get(f"/v1/campaigns/{CID}/rewards").json() == rewards
                assert c.get(f"/v1/campaigns/{CID}").json()["title"] == "Moved"
        finally:
            three.stop()
            one.stop()
