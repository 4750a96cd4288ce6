"""A process's tenure of a campaign's advisory lock (events/gate.py `_Tenure`): on PostgreSQL a batch
applies while the batch before it is being committed, as on SQLite, and nothing else changes: no
other process logs the campaign meanwhile, other holders wait for the tenure to end, and a failed
write ends it. Two processes on one PostgreSQL database, in one event loop."""

from __future__ import annotations

import asyncio
import threading

import pytest

from liveloop.events.models import events
from liveloop.kit.db.writer import WriterFailed
from tests.two_processes import NOW, reservation, two_processes

pytestmark = pytest.mark.service


@pytest.fixture
def processes(monkeypatch):
    # Tenures end by age after 0.1 s in production; here a batch joins whenever the machine lets it.
    monkeypatch.setattr("liveloop.events.gate.TENURE_SECONDS", 60.0)
    with two_processes() as running:
        yield running


def held_writes(runtime, *, fail: bool = False) -> threading.Event:
    """The process's next write waits in the writer until the returned event is set (then fails if asked).
    Caught where every write is queued (`Writer.submit`), whichever way it was made."""
    writer = runtime.db.writer
    submit = writer.submit
    release = threading.Event()

    def first(fn, **options):
        writer.submit = submit

        def slow(conn):
            release.wait(20)
            if fail:
                raise RuntimeError("the disk is full")
            return fn(conn)

        return submit(slow, **options)

    writer.submit = first
    return release


async def applied(runtime, eid: str, user: str) -> asyncio.Task:
    """A batch of one reservation sent to the process, once its state holds it (its write may be held)."""
    batch = asyncio.ensure_future(runtime.ingestor.ingest("t1", [reservation(eid, user)], now=NOW))
    await until(lambda: user in runtime.ingestor._gate.peek("t1", "c1").state.participants)
    return batch


async def until(condition, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


def logged(loop, runtime) -> list[str]:
    return loop.run_until_complete(runtime.db.read(
        lambda conn: [row.id for row in conn.execute(events.select().order_by(events.c.seq))]))


def test_the_next_batch_applies_while_the_one_before_is_committed_and_nobody_else_logs_meanwhile(processes):
    loop, a, b = processes
    gate = a.ingestor._gate
    release = held_writes(a)

    async def scenario():
        first = await applied(a, "e1", "u1")
        # The second batch is applied while the first one's write waits in the writer.
        second = await applied(a, "e2", "u2")
        state = gate.peek("t1", "c1").state
        assert not first.done() and not second.done()
        # Another process cannot log the campaign during the tenure, nor can a holder outside it here.
        other = asyncio.ensure_future(b.ingestor.ingest("t1", [reservation("e3", "u3")], now=NOW))

        async def plain_hold():
            async with gate.hold("t1", ["c1"]) as held:
                return held["c1"].state.last_seq

        plain = asyncio.ensure_future(plain_hold())
        await asyncio.sleep(0.3)
        assert not other.done() and not plain.done()
        release.set()
        results = await asyncio.gather(first, second, other)
        assert [r.accepted for r in results] == [1, 1, 1]
        return await plain, state.last_seq

    plain_seq, last_seq = loop.run_until_complete(scenario())
    ids = logged(loop, a)
    assert ids.index("e1") < ids.index("e2") < ids.index("e3")  # the tenure's batches in order, b's after
    assert plain_seq >= last_seq  # the plain holder came after the tenure, caught up with all of it
    assert gate._tenures == {}  # ended with its last batch: the advisory lock is let go
    # Both, caught up with the log, hold the same state at the same position.
    a_state, b_state = (loop.run_until_complete(p.ingestor._gate.get("t1", "c1")).state for p in (a, b))
    head = loop.run_until_complete(a.db.read(
        lambda conn: conn.execute(events.select().order_by(events.c.seq.desc()).limit(1)).one()))
    assert b_state.last_seq == a_state.last_seq == head.seq
    assert b_state.participants.keys() == a_state.participants.keys()
    assert b_state.organic.as_dict() == a_state.organic.as_dict()


def test_a_failed_write_refuses_the_batches_applied_after_it_and_ends_the_tenure(processes):
    loop, a, b = processes
    gate = a.ingestor._gate
    release = held_writes(a, fail=True)

    async def scenario():
        first = await applied(a, "e1", "u1")
        second = await applied(a, "e2", "u2")
        release.set()
        outcomes = await asyncio.gather(first, second, return_exceptions=True)
        assert all(isinstance(outcome, WriterFailed) for outcome in outcomes), outcomes
        await until(lambda: not gate._tenures)
        # Sent again, both are logged; the other process is not kept out.
        again = await a.ingestor.ingest("t1", [reservation("e1", "u1"), reservation("e2", "u2")], now=NOW)
        other = await b.ingestor.ingest("t1", [reservation("e3", "u3")], now=NOW)
        return again, other

    again, other = loop.run_until_complete(scenario())
    assert (again.accepted, other.accepted) == (2, 1)
    ids = logged(loop, a)
    assert [i for i in ids if i.startswith("e")] == ["e1", "e2", "e3"]
    state = loop.run_until_complete(gate.get("t1", "c1")).state
    assert {"u1", "u2", "u3"} <= state.participants.keys()


def test_a_batch_cancelled_while_its_write_is_committed_still_moves_the_state_past_its_rows(processes):
    # Otherwise the next catch-up would read the batch's own rows as another process's and apply them twice.
    loop, a, _b = processes
    gate = a.ingestor._gate
    release = held_writes(a)

    async def scenario():
        batch = await applied(a, "e1", "u1")
        batch.cancel()
        await asyncio.sleep(0.05)
        release.set()
        await until(lambda: not gate._tenures)  # ended once the write settled
        caught_up = gate.peek("t1", "c1").caught_up
        live = await gate.get("t1", "c1")  # catches up with the log
        return live, caught_up

    live, caught_up_before = loop.run_until_complete(scenario())
    head = loop.run_until_complete(a.db.read(
        lambda conn: conn.execute(events.select().order_by(events.c.seq.desc()).limit(1)).one()))
    assert head.id == "e1" and live.state.last_seq == head.seq
    assert live.caught_up == caught_up_before  # nothing read back


def test_a_batch_cancelled_on_the_usual_way_keeps_the_lock_until_its_write_settles(processes, monkeypatch):
    # The way every holder outside tenures takes (draws, reviews, batches while one of those waits). Had it
    # let the lock go at the cancellation, b would log e3 before a's e1 was committed, and a's position
    # (the log's head when e1 commits) would pass over e3, which a never applied.
    loop, a, b = processes
    gate = a.ingestor._gate

    async def no_tenure(key, batch):
        return None

    monkeypatch.setattr(gate, "_join_tenure", no_tenure)
    release = held_writes(a)

    async def scenario():
        batch = await applied(a, "e1", "u1")
        batch.cancel()
        other = asyncio.ensure_future(b.ingestor.ingest("t1", [reservation("e3", "u3")], now=NOW))
        await asyncio.sleep(0.3)
        assert not other.done()  # a still holds the lock
        release.set()
        assert (await other).accepted == 1
        with pytest.raises(asyncio.CancelledError):
            await batch
        return await gate.get("t1", "c1")  # catches up with the log

    live = loop.run_until_complete(scenario())
    ids = logged(loop, a)
    assert ids.index("e1") < ids.index("e3")
    assert {"u1", "u3"} <= live.state.participants.keys()
    b_state = loop.run_until_complete(b.ingestor._gate.get("t1", "c1")).state
    assert live.state.last_seq == b_state.last_seq
    assert live.state.organic.as_dict() == b_state.organic.as_dict()
    assert live.state.participants.keys() == b_state.participants.keys()


def test_a_retry_of_an_event_still_being_written_is_answered_once_that_write_has_settled(processes):
    # Found a duplicate of its own event, the retry must not be acknowledged before the write it duplicates:
    # when that write fails, the retry fails too and is sent again, and the event is logged once.
    loop, a, _b = processes
    release = held_writes(a, fail=True)

    async def scenario():
        first = await applied(a, "e1", "u1")
        retry = asyncio.ensure_future(a.ingestor.ingest("t1", [reservation("e1", "u1")], now=NOW))
        await asyncio.sleep(0.3)
        assert not retry.done()  # waits for the first write instead of answering "duplicate"
        release.set()
        outcomes = await asyncio.gather(first, retry, return_exceptions=True)
        assert all(isinstance(outcome, WriterFailed) for outcome in outcomes), outcomes
        return await a.ingestor.ingest("t1", [reservation("e1", "u1")], now=NOW)

    again = loop.run_until_complete(scenario())
    assert (again.accepted, again.duplicates) == (1, 0)
    assert logged(loop, a).count("e1") == 1
