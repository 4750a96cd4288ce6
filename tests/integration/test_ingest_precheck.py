"""A batch's event ids are checked against the log before the campaign's lock is taken
(events/ingest.py), so that the lock is held for less. An event that another process logs between
that check and the lock must still be found a duplicate: two processes on one PostgreSQL database,
in one event loop, the second logging the first's event at exactly that moment."""

from __future__ import annotations

import asyncio
import os

import pytest

from liveloop.campaigns import service as campaigns_service
from liveloop.components import build_components
from liveloop.events.models import events
from liveloop.kit.db.migrate import upgrade
from liveloop.settings import Settings
from tests.support import fresh_postgres_database

pytestmark = pytest.mark.service
NOW = 1_800_000_000_000
BODY = {"id": "c1", "title": "t", "market": "US", "currency": "USD", "timezone": "America/New_York",
        "starts_at": "2027-01-01T10:00:00.000Z", "ends_at": "2027-01-01T12:00:00.000Z",
        "landing_url": "https://shop.example.com/", "leaderboard": {"metric": "reservations"},
        "rules": [{"id": "rr", "type": "reservation_referral",
                   "referrer_reward": {"kind": "coupon", "amount": "2.00"}}]}


def reservation(eid: str, user: str) -> dict:
    return {"id": eid, "type": "reservation", "campaign_id": "c1", "user_id": user, "at": "2026-12-31T10:00:00Z"}


def test_an_event_logged_by_another_process_after_the_check_is_a_duplicate_under_the_lock():
    base = os.environ.get("LIVELOOP_TEST_DATABASE_URL")
    if not base:
        pytest.skip("LIVELOOP_TEST_DATABASE_URL is not set")
    with fresh_postgres_database(base) as url:
        upgrade(url)
        loop = asyncio.new_event_loop()
        a, b = (build_components(Settings(database_url=url, fraud_signals=False)) for _ in range(2))
        try:
            for runtime in (a, b):
                runtime.db.writer.start(loop)
            loop.run_until_complete(a.db.write(
                lambda conn: campaigns_service.create(conn, tenant_id="t1", data=BODY, now=NOW)))
            # Both processes have the campaign loaded before the race.
            for runtime, eid in ((a, "warm-a"), (b, "warm-b")):
                loop.run_until_complete(runtime.ingestor.ingest("t1", [reservation(eid, eid)], now=NOW))

            checked = a.ingestor._store.logged_ids
            asked = []

            async def check_then_let_b_log_it(tenant_id, ids):
                found = await checked(tenant_id, ids)
                if not asked:  # the check before the lock: b logs the same event right after it
                    result = await b.ingestor.ingest("t1", [reservation("e1", "budi")], now=NOW)
                    assert result.accepted == 1
                asked.append(list(ids))
                return found

            a.ingestor._store.logged_ids = check_then_let_b_log_it
            result = loop.run_until_complete(a.ingestor.ingest("t1", [reservation("e1", "budi"),
                                                                      reservation("e2", "ani")], now=NOW))
            assert (result.accepted, result.duplicates, result.rejected) == (1, 1, [])
            assert len(asked) == 2  # asked again under the lock: the campaign had caught up with b's event
            ids = loop.run_until_complete(a.db.read(
                lambda conn: [row.id for row in conn.execute(events.select().order_by(events.c.seq))]))
            assert ids.count("e1") == 1 and "e2" in ids
        finally:
            for runtime in (a, b):
                runtime.db.close()
            loop.close()
