"""Scheduled jobs on real SQLite and PostgreSQL: claims that never overlap, runs recorded only under the
lease in force, and the after-the-live jobs driven by a clock the test sets (the app runs in this
process; only the scheduler's rounds are given the test's `now`)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest
import sqlalchemy as sa

from liveloop.afterlive import plan
from liveloop.app import create_app
from liveloop.campaigns.models import campaigns as campaigns_table
from liveloop.components import running
from liveloop.kit import clock
from liveloop.kit.db.dialect import create_engine
from liveloop.kit.db.migrate import upgrade
from liveloop.kit.times import iso, to_ms
from liveloop.scheduler import repository
from liveloop.scheduler.models import scheduled_jobs
from liveloop.scheduler.repository import LeaseLost, Planned
from liveloop.settings import Settings
from liveloop.webhooks.models import webhook_messages
from tests.support import create_tenant

NOW = 1_900_000_000_000
HOUR = 3_600_000


@pytest.fixture
def engine(new_database):
    url = new_database("jobs")
    upgrade(url)
    engine = create_engine(url)
    yield engine
    engine.dispose()


def plan_jobs(engine, n: int) -> None:
    with engine.begin() as conn:
        repository.schedule(conn, tenant_id="tn", campaign_id="c1",
                            jobs=[Planned("reminder", str(i), NOW - i) for i in range(n)], now=NOW)


def test_planning_a_job_twice_makes_it_once(engine):
    plan_jobs(engine, 3)
    plan_jobs(engine, 3)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(scheduled_jobs)).scalar() == 3


def test_two_claimers_at_once_take_different_jobs(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("one SQLite file has one process: there is nobody to claim beside it")
    plan_jobs(engine, 10)
    with engine.connect() as first, engine.connect() as second:
        with first.begin():
            mine = repository.claim_due(first, now=NOW, lease_ms=30_000, limit=6)
            # The first claim's transaction is still open: its rows are locked, and skipped.
            with second.begin():
                theirs = repository.claim_due(second, now=NOW, lease_ms=30_000, limit=10)
    assert len(mine) == 6 and len(theirs) == 4
    assert not {j.id for j in mine} & {j.id for j in theirs}


def test_a_run_outlived_by_its_lease_is_not_recorded_and_writes_nothing(engine):
    plan_jobs(engine, 1)
    with engine.begin() as conn:
        [slow] = repository.claim_due(conn, now=NOW, lease_ms=30_000, limit=5)
    with engine.begin() as conn:
        assert repository.claim_due(conn, now=NOW + 29_999, lease_ms=30_000, limit=5) == []  # leased
        [again] = repository.claim_due(conn, now=NOW + 30_000, lease_ms=30_000, limit=5)  # the lease ran out
    assert again.id == slow.id and again.lease != slow.lease
    with pytest.raises(LeaseLost), engine.begin() as conn:
        repository.record(conn, slow, next_at=None, recipients=["u1"], now=NOW + 31_000)
    with engine.begin() as conn:
        assert repository.served(conn, job_id=slow.id) == set()
        repository.record(conn, again, next_at=None, recipients=["u1"], now=NOW + 31_000)
    with engine.connect() as conn:
        assert repository.served(conn, job_id=slow.id) == {"u1"}
        assert conn.execute(sa.select(scheduled_jobs.c.status)).scalar() == "done"


# -- the after-the-live jobs in a running app, on the test's clock -----------------------------------


@pytest.fixture
def app_url(new_database):
    url = new_database("afterlive")
    return url, create_tenant(url, "acme", "shop.example.com")


def local(ms: int, zone: str) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def messages(app, kind: str) -> list[dict]:
    with app.components.db.engine.connect() as conn:
        rows = conn.execute(sa.select(webhook_messages.c.body).where(webhook_messages.c.type == kind)
                            .order_by(webhook_messages.c.seq)).scalars().all()
    return [orjson.loads(body) for body in rows]


async def in_app(url: str, key: str, scenario) -> None:
    # The background rounds wait an hour: only the test's rounds (and a campaign's creation) run jobs.
    settings = Settings(database_url=url, scheduler_poll_seconds=3600, webhooks_poll_seconds=3600,
                        public_url="https://liveloop.example.com", webhooks_allow_private=True)
    app = create_app(settings)
    async with running(app.components):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     headers={"Authorization": f"Bearer {key}"}) as client:
            # The shop takes every message (the outbox makes none for nobody); the tests read the outbox.
            endpoint = await client.post("/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/never"})
            assert endpoint.status_code == 201, endpoint.text
            await scenario(app, client)


def test_a_reminder_reaches_each_user_at_their_own_time_out_of_their_night(app_url):
    url, key = app_url
    jakarta = ZoneInfo("Asia/Jakarta")
    day = (clock.now() + timedelta(days=3)).astimezone(jakarta).date()
    starts = to_ms(datetime(day.year, day.month, day.day, 7, 0, tzinfo=jakarta))  # a 07:00 live in Jakarta
    nominal = starts - HOUR  # its 60-minute reminder would fall at 06:00 there

    async def scenario(app, client):
        body = {"id": "morning", "title": "Morning <live>", "market": "ID", "starts_at": iso(starts),
                "ends_at": iso(starts + HOUR), "landing_url": "https://shop.example.com/live",
                "reminders": [{"before_minutes": 60}]}
        assert (await client.post("/v1/campaigns", json=body)).status_code == 201
        for uid, market, locale in (("budi", "ID", None), ("anna", "DE", "de-DE"), ("joe", "US", None)):
            assert (await client.put(f"/v1/users/{uid}", json={"market": market, **(
                {"locale": locale} if locale else {})})).status_code == 201
        reserved_at = iso(clock.now_ms() - 60_000)
        events = [{"id": f"r-{u}", "type": "reservation", "campaign_id": "morning", "user_id": u, "at": reserved_at}
                  for u in ("budi", "anna", "joe")]
        events.append({"id": "click-cara", "type": "click", "campaign_id": "morning", "user_id": "cara",
                       "at": reserved_at})  # no reservation: no reminder
        assert (await client.post("/v1/events", json={"events": events})).json()["accepted"] == 4

        jobs = app.components.jobs
        sent: list[tuple[str, int]] = []

        async def round_at(now: int) -> list[str]:
            await jobs.round(now=now)
            got = messages(app, "reminder.due")
            new = [(m["data"]["user_id"], now) for m in got[len(sent):]]
            sent.extend(new)
            return [user for user, _at in new]

        budi_time = to_ms(datetime(day.year, day.month, day.day, 21, tzinfo=jakarta) - timedelta(days=1))
        berlin = ZoneInfo("Europe/Berlin")
        anna_day = datetime.fromtimestamp(nominal / 1000, UTC).astimezone(berlin).date() - timedelta(days=1)
        anna_time = to_ms(datetime(anna_day.year, anna_day.month, anna_day.day, 21, tzinfo=berlin))
        assert await round_at(budi_time - 1000) == []
        assert await round_at(budi_time) == ["budi"]  # 21:00 in Jakarta the evening before
        assert await round_at(anna_time - 1000) == []
        assert await round_at(anna_time) == ["anna"]  # 21:00 in Berlin the evening before
        assert await round_at(nominal - 1000) == []
        assert await round_at(nominal) == ["joe"]  # 18:00 in New York: not their night, on time
        assert await round_at(nominal + HOUR // 2) == []  # each once
        assert local(budi_time, "Asia/Jakarta").endswith("21:00") and local(anna_time, "Europe/Berlin").endswith(
            "21:00")

        by_user = {m["data"]["user_id"]: m["data"] for m in messages(app, "reminder.due")}
        assert by_user["budi"]["local_starts_at"] == f"{day.isoformat()}T07:00:00+07:00"
        assert by_user["budi"]["timezone"] == "Asia/Jakarta" and by_user["budi"]["locale"] == "id"
        assert by_user["budi"]["text"].startswith("Pengingat: siaran langsung “Morning <live>” dimulai pada")
        assert "07.00" in by_user["budi"]["text"] or "07:00" in by_user["budi"]["text"]
        assert by_user["anna"]["timezone"] == "Europe/Berlin" and by_user["anna"]["text"].startswith(
            "Erinnerung: „Morning <live>“ geht am")
        assert by_user["anna"]["local_starts_at"].startswith(local(starts, "Europe/Berlin").replace(" ", "T"))
        assert by_user["joe"]["timezone"] == "America/New_York" and by_user["joe"]["locale"] == "en-US"
        assert {d["starts_at"] for d in by_user.values()} == {iso(starts)}
        assert all(d["before_minutes"] == 60 and d["campaign_id"] == "morning" for d in by_user.values())

    asyncio.run(in_app(url, key, scenario))


def test_a_campaign_whose_end_moved_later_reports_at_its_new_end(app_url):
    url, key = app_url
    now = clock.now_ms()

    async def scenario(app, client):
        for cid in ("replanned", "self-moved"):
            body = {"id": cid, "title": "Live", "market": "US", "starts_at": iso(now - HOUR),
                    "ends_at": iso(now + HOUR), "landing_url": "https://shop.example.com/live"}
            assert (await client.post("/v1/campaigns", json=body)).status_code == 201
        moved = iso(now + 3 * HOUR)

        def move(conn, cid: str, *, replan: bool) -> None:
            # What PATCH /v1/campaigns/{cid} does to the window (it calls plan.replan in its transaction).
            stored = orjson.loads(conn.execute(sa.select(campaigns_table.c.body).where(
                campaigns_table.c.id == cid)).scalar())
            stored["ends_at"] = moved
            conn.execute(campaigns_table.update().where(campaigns_table.c.id == cid).values(
                body=orjson.dumps(stored).decode()))
            if replan:
                plan.replan(conn, tenant_id=_tenant(conn), body=stored, now=now)

        await app.components.db.write(lambda conn: move(conn, "replanned", replan=True), isolated=True)
        await app.components.db.write(lambda conn: move(conn, "self-moved", replan=False), isolated=True)
        jobs = app.components.jobs
        await jobs.round(now=now + HOUR + 1000)  # the old end
        assert messages(app, "campaign.ended") == []
        await jobs.round(now=now + 3 * HOUR + 1000)  # the new one
        ended = messages(app, "campaign.ended")
        assert sorted(m["data"]["campaign_id"] for m in ended) == ["replanned", "self-moved"]
        await jobs.round(now=now + 4 * HOUR)
        assert len(messages(app, "campaign.ended")) == 2

    asyncio.run(in_app(url, key, scenario))


def _tenant(conn) -> str:
    return conn.execute(sa.text("SELECT id FROM tenants")).scalar_one()
