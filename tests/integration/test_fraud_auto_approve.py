"""An open review is approved automatically `auto_approve_hours` after it opened, by the scheduler
of any process, as a logged decision (`decided_by: "auto"`) that a replay applies again."""

from __future__ import annotations

import asyncio

from liveloop.campaigns import service as campaigns_service
from liveloop.components import build_components
from liveloop.invites.models import invites
from liveloop.kit.db.migrate import upgrade
from liveloop.kit.times import parse_iso
from liveloop.settings import Settings

NOW = parse_iso("2026-12-01T00:00:00Z", field="now")
HOUR = 3_600_000
BODY = {
    "id": "c1", "title": "t", "market": "US", "currency": "USD", "timezone": "America/New_York",
    "starts_at": "2026-12-02T10:00:00.000Z", "ends_at": "2026-12-02T12:00:00.000Z",
    "landing_url": "https://shop.example.com/", "fraud": {"auto_approve_hours": 2},
    "rules": [{"id": "rr", "type": "reservation_referral", "referrer_reward": {"kind": "coupon", "amount": "2.00"}}],
}


def test_an_open_review_is_approved_automatically_after_auto_approve_hours(new_database):
    url = new_database("auto")
    upgrade(url)
    loop = asyncio.new_event_loop()
    runtime = build_components(Settings(database_url=url))
    runtime.db.writer.start(loop)
    try:
        def setup(conn):
            campaigns_service.create(conn, tenant_id="t1", data=BODY, now=NOW)
            conn.execute(invites.insert(), [{"code": "CODE", "tenant_id": "t1", "campaign_id": "c1",
                                             "user_id": "host", "channel": "", "created_at": NOW}])

        loop.run_until_complete(runtime.db.write(setup))
        events = [{"id": "e1", "type": "click", "campaign_id": "c1", "user_id": "host", "at": "2026-12-01T00:00:00Z",
                   "device_id": "phone"},
                  {"id": "e2", "type": "reservation", "campaign_id": "c1", "user_id": "alt", "ref": "CODE",
                   "at": "2026-12-01T00:00:00Z", "device_id": "phone"}]
        loop.run_until_complete(runtime.ingestor.ingest("t1", events, now=NOW))
        state = loop.run_until_complete(runtime.campaigns.get("t1", "c1")).state
        [reward] = state.rewards.values()
        assert (reward.status, reward.reason) == ("pending", "review")

        loop.run_until_complete(runtime.jobs.round(NOW + HOUR))  # not yet due
        assert reward.status == "pending"
        loop.run_until_complete(runtime.jobs.round(NOW + 2 * HOUR))
        assert (reward.status, reward.reason) == ("available", None)
        assert reward.history[-1].fraud == {"decision": "approve", "decided_by": "auto"}
        page = loop.run_until_complete(runtime.reviews.page("t1", "c1", status="approved", limit=10, cursor=None))
        [review] = page["reviews"]
        assert (review["referee"], review["decided_by"]) == ("alt", "auto")
        # Running the job again decides nothing more.
        loop.run_until_complete(runtime.jobs.round(NOW + 3 * HOUR))
        assert len(reward.history) == 2

        runtime.db.close()
        runtime = build_components(Settings(database_url=url))
        runtime.db.writer.start(loop)
        replayed = loop.run_until_complete(runtime.campaigns.get("t1", "c1")).state
        [again] = replayed.rewards.values()
        assert [(c.status, c.reason, c.fraud) for c in again.history] == [
            (c.status, c.reason, c.fraud) for c in reward.history]
    finally:
        runtime.db.close()
        loop.close()
