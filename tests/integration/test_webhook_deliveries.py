"""Deliveries' bookkeeping on real SQLite and PostgreSQL (webhooks/repository.py, webhooks/worker.py): an
attempt's outcome changes its delivery only under its own lease, a deleted endpoint's pending
deliveries are dropped, and a round claims what is due even while messages keep coming."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from liveloop.kit import clock
from liveloop.kit.db.dialect import create_engine
from liveloop.kit.db.migrate import upgrade
from liveloop.kit.db.writer import WriterFailed
from liveloop.webhooks import repository, worker
from liveloop.webhooks.models import webhook_attempts, webhook_deliveries, webhook_messages

NOW = 1_800_000_000_000
LEASE = 30_000


def setup(new_database, messages: int = 1):
    url = new_database("hooks")
    upgrade(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        repository.create_endpoint(conn, endpoint_id="we_1", tenant_id="t1", url="https://shop.example.com/hook",
                                   events=None, description=None, secret="whsec_x", now=NOW - 1000)
        conn.execute(webhook_messages.insert(), [
            {"id": f"msg_{i}", "tenant_id": "t1", "type": "reward.issued", "body": "{}", "created_at": NOW}
            for i in range(messages)])
    return engine


def delivery(engine) -> sa.Row:
    with engine.connect() as conn:
        return conn.execute(sa.select(webhook_deliveries)).one()


def outcome(claimed: repository.Claimed, at: int, *, succeeded: bool) -> repository.Outcome:
    return repository.Outcome(claimed.delivery_id, at, 200 if succeeded else 500, None if succeeded else "answered 500",
                              10, succeeded, None if succeeded else at + 300_000, claimed.lease_until)


def claim(engine, now: int) -> list[repository.Claimed]:
    with engine.begin() as conn:
        return repository.claim_due(conn, now=now, lease_ms=LEASE, room=10, free=lambda _endpoint: 10)


def test_an_attempt_that_outlived_its_lease_leaves_the_delivery_to_the_one_that_took_over(new_database):
    engine = setup(new_database)
    with engine.begin() as conn:
        assert repository.fan_out(conn, now=NOW) == 1
    [slow] = claim(engine, NOW)
    assert claim(engine, NOW + LEASE - 1) == []  # leased
    [again] = claim(engine, NOW + LEASE)  # the lease ran out: another process takes it
    with engine.begin() as conn:
        repository.record_attempts(conn, outcomes=[outcome(again, NOW + LEASE + 100, succeeded=True)])
    with engine.begin() as conn:  # the slow attempt ends last, failed
        repository.record_attempts(conn, outcomes=[outcome(slow, NOW + LEASE + 200, succeeded=False)])
    row = delivery(engine)
    assert (row.status, row.attempts) == ("succeeded", 2)  # not turned back into a retry
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(webhook_attempts)).scalar_one() == 2


def test_two_attempts_of_one_delivery_recorded_together_are_both_counted_and_the_newer_lease_decides(new_database):
    engine = setup(new_database)
    with engine.begin() as conn:
        repository.fan_out(conn, now=NOW)
    [slow] = claim(engine, NOW)
    [again] = claim(engine, NOW + LEASE)  # this process claimed it again while the first attempt went on
    for first, last in ((slow, again), (again, slow)):  # in either order within one flush
        with engine.begin() as conn:
            conn.execute(webhook_deliveries.update().values(status="pending", next_at=again.lease_until, attempts=0))
            repository.record_attempts(conn, outcomes=[
                outcome(first, NOW + LEASE + 100, succeeded=first is again),
                outcome(last, NOW + LEASE + 100, succeeded=last is again)])
        row = delivery(engine)
        assert (row.status, row.attempts) == ("succeeded", 2)


def test_an_attempt_overtaken_by_a_retry_asked_for_by_hand_leaves_the_retry_due(new_database):
    engine = setup(new_database)
    with engine.begin() as conn:
        repository.fan_out(conn, now=NOW)
    [under_way] = claim(engine, NOW)
    with engine.begin() as conn:
        repository.retry_now(conn, tenant_id="t1", endpoint_id="we_1", message_id="msg_0", now=NOW + 5)
        repository.record_attempts(conn, outcomes=[outcome(under_way, NOW + 10, succeeded=False)])
    row = delivery(engine)
    assert (row.status, row.next_at, row.attempts) == ("pending", NOW + 5, 1)  # still due now, as asked


def test_an_attempt_under_its_lease_sets_the_delivery(new_database):
    engine = setup(new_database)
    with engine.begin() as conn:
        repository.fan_out(conn, now=NOW)
    [attempt] = claim(engine, NOW)
    with engine.begin() as conn:
        repository.record_attempts(conn, outcomes=[outcome(attempt, NOW + 10, succeeded=False)])
    row = delivery(engine)
    assert (row.status, row.next_at, row.attempts) == ("pending", NOW + 10 + 300_000, 1)


def test_deleting_an_endpoint_drops_its_pending_deliveries(new_database):
    engine = setup(new_database)
    with engine.begin() as conn:
        repository.fan_out(conn, now=NOW)
        repository.delete_endpoint(conn, tenant_id="t1", endpoint_id="we_1", now=NOW + 1)
    assert delivery(engine).status == "failed"
    with engine.connect() as conn:
        assert repository.backlog(conn, now=NOW + 2) == {"fan_out": 0, "due": 0, "scheduled": 0}
    assert claim(engine, NOW + 2) == []


class _Direct:
    """The writer's part of a Database, each job in its own transaction at once."""

    def __init__(self, engine) -> None:
        self._engine = engine

    async def write(self, fn, **_options):
        with self._engine.begin() as conn:
            return fn(conn)


class _Everyone:
    def any(self) -> bool:
        return True


def one_round(engine) -> tuple[worker.WebhookWorker, list[repository.Claimed]]:
    """A worker's round on the database, its attempts noted instead of sent."""
    hooks = worker.WebhookWorker(_Direct(engine), _Everyone(), allow_private=True)
    started: list[repository.Claimed] = []

    async def attempt(claimed):
        started.append(claimed)

    hooks._attempt = attempt

    async def run():
        await hooks.round()
        await asyncio.sleep(0)  # the attempts' tasks run

    asyncio.run(run())
    return hooks, started


def test_a_round_claims_what_is_due_however_many_messages_wait_to_be_fanned_out(new_database, monkeypatch):
    # While a live makes messages faster than one write fans them out, a round that fanned out until none
    # was left never reached its claims: nothing was sent until the live calmed down.
    engine = setup(new_database, messages=10)
    monkeypatch.setattr(repository, "FAN_OUT_LIMIT", 2)
    monkeypatch.setattr(worker, "FAN_OUT_WRITES", 3)
    hooks, started = one_round(engine)
    assert len(started) == 6  # 3 writes of 2 messages fanned out, then claimed
    assert hooks._wake.is_set()  # the next round comes at once for the rest
    with engine.connect() as conn:
        assert repository.backlog(conn, now=NOW)["fan_out"] == 4  # for the next rounds


def test_a_fan_out_that_fails_does_not_keep_what_is_due_from_being_sent(new_database, monkeypatch):
    engine = setup(new_database, messages=2)
    with engine.begin() as conn:
        repository.fan_out(conn, now=clock.now_ms() - 10_000)  # due before the failure began

    def failing(conn, **_options):
        raise WriterFailed("the disk is full")

    monkeypatch.setattr(repository, "fan_out", failing)
    _hooks, started = one_round(engine)
    assert len(started) == 2
