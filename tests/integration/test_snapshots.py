"""Snapshots on a real database (SQLite, and PostgreSQL when configured): a load from the newest snapshot
plus the log's tail equals a replay from the start; a snapshot of another code version, a corrupt
one, or one an erasure made stale is ignored and the whole log replayed; the background
snapshotter takes them in a process of its own."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from liveloop.campaigns import service as campaigns_service
from liveloop.components import build_components
from liveloop.events import snapshots
from liveloop.events.models import campaign_snapshots
from liveloop.events.snapshotter import Snapshotter, take
from liveloop.events.store import last_seq, load
from liveloop.invites.models import invites
from liveloop.kit.db.migrate import upgrade
from liveloop.kit.times import parse_iso
from liveloop.settings import Settings
from tests.unit.test_snapshot_properties import plain

TENANT, CID = "t_snap", "spring"
NOW = 1_800_000_000_000
BODY = {
    "id": CID, "title": "t", "market": "US", "currency": "USD", "timezone": "America/New_York",
    "starts_at": "2026-01-01T10:00:00.000Z", "ends_at": "2026-01-01T12:00:00.000Z",
    "landing_url": "https://shop.example.com/", "budget": "40.00", "leaderboard": {"metric": "reservations"},
    "rules": [
        {"id": "rr", "type": "reservation_referral", "referrer_reward": {"kind": "coupon", "amount": "2.00"},
         "referee_reward": {"kind": "points", "points": 10}, "max_per_referrer": 3},
        {"id": "ms", "type": "milestone", "metric": "reservations",
         "tiers": [{"at": 2, "reward": {"kind": "cashback", "amount": "1.50"}}]},
        {"id": "oc", "type": "order_commission", "percent": "10", "hold_days": 2},
    ],
}


def batch(start: int, count: int) -> list[dict]:
    out = []
    for n in range(start, start + count):
        user = f"v{n}"
        out.append({"id": f"r{n}", "type": "reservation", "campaign_id": CID, "user_id": user,
                    "at": "2026-01-01T09:00:00Z", "ref": f"CODE{n % 3}"})
        out.append({"id": f"j{n}", "type": "room_join", "campaign_id": CID, "user_id": user,
                    "at": "2026-01-01T10:30:00Z"})
        if n % 2:
            out.append({"id": f"o{n}", "type": "order_paid", "campaign_id": CID, "user_id": user,
                        "at": "2026-01-01T10:40:00Z", "order": {"id": f"ord{n}", "amount": "30.00", "currency": "USD"}})
    return out


def both_loads(engine: sa.Engine) -> tuple[list, list]:
    with engine.connect() as conn:
        from_snapshot = load(conn, TENANT, CID)
        from_zero = load(conn, TENANT, CID, snapshot=False)
    assert from_snapshot is not None and from_zero is not None
    return plain(from_snapshot[1]), plain(from_zero[1])


def test_a_load_from_a_snapshot_equals_a_replay_and_a_bad_snapshot_is_ignored(new_database):
    url = new_database("snap")
    upgrade(url)
    loop = asyncio.new_event_loop()
    runtime = build_components(Settings(database_url=url, snapshot_every_events=0))
    runtime.db.writer.start(loop)
    try:
        def setup(conn):
            campaigns_service.create(conn, tenant_id=TENANT, data=BODY,
                                     now=parse_iso("2025-12-01T00:00:00Z", field="created_at"))
            conn.execute(invites.insert(), [{"code": f"CODE{i}", "tenant_id": TENANT, "campaign_id": CID,
                                             "user_id": f"owner{i}", "channel": "", "created_at": 0}
                                            for i in range(3)])

        loop.run_until_complete(runtime.db.write(setup))
        loop.run_until_complete(runtime.ingestor.ingest(TENANT, batch(0, 20), now=NOW))
        position = take(url, TENANT, CID, min_events=1)
        assert position > 0
        # Not due again until the log grows by `min_events`.
        assert take(url, TENANT, CID, min_events=1000) == position
        loop.run_until_complete(runtime.ingestor.ingest(TENANT, batch(20, 15), now=NOW))
        engine = runtime.db.engine
        with engine.connect() as conn:
            restored = snapshots.restore(conn, TENANT, CID)
        assert restored is not None and restored.last_seq == position
        with_snapshot, from_zero = both_loads(engine)
        assert with_snapshot == from_zero

        live = loop.run_until_complete(runtime.campaigns.get(TENANT, CID))
        with engine.connect() as conn:
            live.state.last_seq = last_seq(conn, TENANT, CID)  # one process on SQLite does not keep it
        live.state.leaderboard.change_seq = 0  # where the next change is logged (several processes), not a result
        assert plain(live.state) == from_zero  # and both equal the state that ingested the events
        assert live.state.rewards and live.state.leaderboard.top(3)

        s = campaign_snapshots.c
        where = (s.tenant_id == TENANT, s.campaign_id == CID)
        with engine.begin() as conn:
            body = conn.execute(sa.select(s.body).where(*where)).scalar_one()
            flipped = bytes(body[:-10]) + bytes([body[-10] ^ 1]) + bytes(body[-9:])
            conn.execute(campaign_snapshots.update().where(*where).values(body=flipped))
        with engine.connect() as conn:
            assert snapshots.restore(conn, TENANT, CID) is None  # corrupt: its signature does not match
        assert both_loads(engine)[0] == from_zero

        with engine.begin() as conn:
            conn.execute(campaign_snapshots.update().where(*where).values(body=body, format="older"))
        with engine.connect() as conn:
            assert snapshots.restore(conn, TENANT, CID) is None  # another code version
        assert both_loads(engine)[0] == from_zero

        assert take(url, TENANT, CID, min_events=1) > position  # a current one replaces it
        with engine.connect() as conn:
            seen = snapshots.stored(conn, TENANT, CID)
            load_state_before = snapshots.restore(conn, TENANT, CID)
        assert loop.run_until_complete(runtime.privacy.erase(TENANT, "v3")) is not None
        with engine.connect() as conn:
            assert snapshots.restore(conn, TENANT, CID) is None  # the erased id must not come back
        # A snapshot taken from the log as it was before the erasure is refused.
        with engine.begin() as conn:
            assert not snapshots.put(conn, tenant_id=TENANT, campaign_id=CID, seen=seen, seq=10**9, body=b"x",
                                     key="k", now=NOW)
        assert take(url, TENANT, CID, min_events=1) > 0
        with_snapshot, from_zero = both_loads(engine)
        assert with_snapshot == from_zero
        assert "'v3'" not in repr(with_snapshot) and "'v3'" in repr(plain(load_state_before))
    finally:
        runtime.db.close()
        loop.close()


def test_the_snapshotter_takes_them_in_a_process_of_its_own(new_database):
    url = new_database("snapper")
    upgrade(url)
    loop = asyncio.new_event_loop()
    runtime = build_components(Settings(database_url=url, snapshot_every_events=0))
    runtime.db.writer.start(loop)
    snapshotter = Snapshotter(runtime.campaigns, runtime.db, every_events=10, check_seconds=3600)
    try:
        loop.run_until_complete(runtime.db.write(lambda conn: campaigns_service.create(
            conn, tenant_id=TENANT, data=BODY, now=parse_iso("2025-12-01T00:00:00Z", field="created_at"))))
        loop.run_until_complete(runtime.ingestor.ingest(TENANT, batch(0, 8), now=NOW))
        loop.run_until_complete(runtime.campaigns.get(TENANT, CID))
        loop.run_until_complete(snapshotter.round())
        with runtime.db.engine.connect() as conn:
            head = last_seq(conn, TENANT, CID)
            assert snapshots.stored(conn, TENANT, CID).seq == head
        loop.run_until_complete(runtime.ingestor.ingest(TENANT, batch(8, 2), now=NOW))
        loop.run_until_complete(snapshotter.round())  # the log grew by 5 only: not due
        with runtime.db.engine.connect() as conn:
            assert snapshots.stored(conn, TENANT, CID).seq == head
        loop.run_until_complete(runtime.ingestor.ingest(TENANT, batch(10, 4), now=NOW))
        loop.run_until_complete(snapshotter.round())
        with runtime.db.engine.connect() as conn:
            assert snapshots.stored(conn, TENANT, CID).seq == last_seq(conn, TENANT, CID) > head
    finally:
        loop.run_until_complete(snapshotter.stop())
        runtime.db.close()
        loop.close()


def test_on_postgresql_the_body_is_stored_uncompressed_and_read_in_binary(new_database):
    # Migration 0016 and `snapshots._newest`: the body's storage, and the row read by the binary path
    # equal to the one SQLAlchemy reads (the same bytes, the same fields).
    url = new_database("snap_storage")
    upgrade(url)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            body = bytes(range(256)) * 4_000  # every byte value, 1 MB
            conn.execute(campaign_snapshots.insert().values(
                tenant_id=TENANT, campaign_id=CID, generation=1, seq=7, format="f", digest="d", taken_at=NOW,
                body=body))
        with engine.connect() as conn:
            row = snapshots._newest(conn, TENANT, CID)
            assert row == (7, "f", "d", body)
            assert type(row.body) is bytes
            assert snapshots._newest(conn, TENANT, "other") is None
            if conn.dialect.name == "postgresql":
                storage = conn.execute(sa.text(
                    "SELECT attstorage FROM pg_attribute WHERE attrelid = 'campaign_snapshots'::regclass "
                    "AND attname = 'body'")).scalar()
                assert storage == "e"  # EXTERNAL: out of line, never compressed
    finally:
        engine.dispose()
