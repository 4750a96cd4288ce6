"""Two liveloop processes' components on one fresh PostgreSQL database, driven from one event loop,
with campaign c1 of tenant t1 created and loaded in both: for tests of what one process sees of the
other's writes at a chosen moment (events/gate.py)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from liveloop.campaigns import service as campaigns_service
from liveloop.components import build_components
from liveloop.kit.db.migrate import upgrade
from liveloop.settings import Settings
from tests.support import fresh_postgres_database

NOW = 1_800_000_000_000
BODY = {"id": "c1", "title": "t", "market": "US", "currency": "USD", "timezone": "America/New_York",
        "starts_at": "2027-01-01T10:00:00.000Z", "ends_at": "2027-01-01T12:00:00.000Z",
        "landing_url": "https://shop.example.com/", "leaderboard": {"metric": "reservations"},
        "rules": [{"id": "rr", "type": "reservation_referral",
                   "referrer_reward": {"kind": "coupon", "amount": "2.00"}}]}


def reservation(eid: str, user: str) -> dict:
    return {"id": eid, "type": "reservation", "campaign_id": "c1", "user_id": user, "at": "2026-12-31T10:00:00Z"}


@contextmanager
def two_processes() -> Iterator[tuple[asyncio.AbstractEventLoop, object, object]]:
    """(loop, a, b): each process's components, their writers running on the loop."""
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
            for runtime, eid in ((a, "warm-a"), (b, "warm-b")):  # both have the campaign loaded
                loop.run_until_complete(runtime.ingestor.ingest("t1", [reservation(eid, eid)], now=NOW))
            yield loop, a, b
        finally:
            for runtime in (a, b):
                runtime.db.close()
            loop.close()
