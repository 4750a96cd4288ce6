"""Which messages the outbox makes: only those a live endpoint of their tenant takes, known to each
process from the database (webhooks/subscriptions.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from types import SimpleNamespace

import sqlalchemy as sa

from liveloop.engine.model import Attributed
from liveloop.kit.db.database import Database
from liveloop.kit.db.migrate import upgrade
from liveloop.webhooks import repository, subscriptions
from liveloop.webhooks.models import webhook_messages
from liveloop.webhooks.outbox import Outbox, message_row, new_message_id
from liveloop.webhooks.subscriptions import Subscriptions

NOW = 1_900_000_000_000
LIVE = SimpleNamespace(state=SimpleNamespace(config=SimpleNamespace(id="c1")))


def add_endpoint(db: Database, tenant_id: str, endpoint_id: str, events: list[str] | None) -> None:
    with db.engine.begin() as conn:
        repository.create_endpoint(conn, endpoint_id=endpoint_id, tenant_id=tenant_id, url="https://shop.example",
                                   events=events, description=None, secret="whsec_x", now=NOW)


def delete_endpoint(db: Database, tenant_id: str, endpoint_id: str, at: int = NOW) -> None:
    with db.engine.begin() as conn:
        repository.delete_endpoint(conn, tenant_id=tenant_id, endpoint_id=endpoint_id, now=at)


def stored_types(db: Database) -> list[tuple[str, str]]:
    with db.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(
            sa.select(webhook_messages.c.tenant_id, webhook_messages.c.type).order_by(webhook_messages.c.seq))]


async def until(condition) -> None:
    """Waits up to 2 s for `condition()` (what another process changed is followed, not pushed)."""
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not followed")


def follow(db: Database, subs: Subscriptions, steps) -> None:
    """Runs `await steps()` while `subs` follows the database (started before, closed after), then
    closes the database."""
    async def scenario() -> None:
        await subs.start()
        try:
            await steps()
        finally:
            await subs.close()

    try:
        asyncio.run(scenario())
    finally:
        db.close()


def database(new_database) -> Database:
    url = new_database("subscriptions")
    upgrade(url)
    return Database(url)


def test_messages_are_made_only_for_endpoints_that_take_them(new_database):
    db = database(new_database)
    subs = Subscriptions(db, shared=False)
    outbox = Outbox(db.dialect, subs)
    effects = [(LIVE, Attributed("bob", "ana", "e1"))]
    try:
        assert "referral.attributed" in subs.takes("t1") and subs.any()  # not read yet: everything is taken

        asyncio.run(subs.start())
        assert not subs.takes("t1") and not subs.any()
        assert outbox.stage("t1", effects, NOW) is None

        add_endpoint(db, "t1", "ep_a", ["reward.issued"])
        asyncio.run(subs.reload())
        assert "reward.issued" in subs.takes("t1") and "referral.attributed" not in subs.takes("t1")
        assert not subs.takes("t2") and subs.any()
        assert outbox.stage("t1", effects, NOW) is None  # a type the endpoint does not take

        add_endpoint(db, "t1", "ep_b", None)  # every type
        asyncio.run(subs.reload())
        write = outbox.stage("t1", effects, NOW)
        assert write is not None
        with db.engine.begin() as conn:
            write(conn)
            outbox.write(conn, [message_row(tenant, "campaign.ended", {}, NOW) for tenant in ("t1", "t2")])
        assert stored_types(db) == [("t1", "referral.attributed"), ("t1", "campaign.ended")]

        delete_endpoint(db, "t1", "ep_b")
        asyncio.run(subs.reload())
        assert set(subs.takes("t1")) == {"reward.issued"}
        delete_endpoint(db, "t1", "ep_a")
        asyncio.run(subs.reload())
        assert not subs.takes("t1") and not subs.any()
    finally:
        db.close()


def test_another_process_endpoints_are_followed(new_database, monkeypatch):
    """What another process changes (here: written straight to the database) is known within moments."""
    monkeypatch.setattr(subscriptions, "REFRESH_SECONDS", 0.02)
    db = database(new_database)
    subs = Subscriptions(db, shared=True)

    async def steps() -> None:
        assert not subs.any()
        add_endpoint(db, "t1", "ep_a", ["group.completed", "group.failed"])
        await until(lambda: "group.failed" in subs.takes("t1"))
        add_endpoint(db, "t1", "ep_b", ["reward.issued"])
        await until(lambda: "reward.issued" in subs.takes("t1"))
        # Two deletions in the same millisecond are both seen.
        delete_endpoint(db, "t1", "ep_a")
        delete_endpoint(db, "t1", "ep_b")
        await until(lambda: not subs.any())

    follow(db, subs, steps)


def test_message_ids_are_in_time_order_and_unique():
    ids = [new_message_id(NOW + i // 3) for i in range(3000)]
    assert all(re.fullmatch(r"msg_[0-9a-f]{24}", i) for i in ids)  # the API's pattern for a message id
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)  # one process, time moving on: each id after the last


def test_a_process_that_cannot_read_yet_takes_everything_and_tries_again(new_database, monkeypatch):
    """A schema behind its migrations does not stop the start (readiness reports it): until the
    endpoints can be read every message is made, then only the ones some endpoint takes."""
    monkeypatch.setattr(subscriptions, "REFRESH_SECONDS", 0.02)
    url = new_database("unmigrated")
    db = Database(url)
    subs = Subscriptions(db, shared=False)

    async def steps() -> None:
        assert "reward.issued" in subs.takes("t1") and subs.any()
        await asyncio.to_thread(upgrade, url)
        await until(lambda: not subs.any())
        assert not subs.takes("t1")

    follow(db, subs, steps)
