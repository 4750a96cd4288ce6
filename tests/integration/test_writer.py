"""The single writer on real SQLite and PostgreSQL: a job that fails in a group commit fails alone."""

from __future__ import annotations

import asyncio
import threading

import pytest
import sqlalchemy as sa

from liveloop.kit.db.dialect import create_engine
from liveloop.kit.db.writer import Writer, WriterFailed

items = sa.Table("items", sa.MetaData(), sa.Column("k", sa.String(16), primary_key=True))


def insert(key: str):
    return lambda conn: conn.execute(items.insert().values(k=key))


@pytest.fixture
def engine(new_database):
    engine = create_engine(new_database("writer"))
    items.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(items.insert().values(k="taken"))
    yield engine
    engine.dispose()


def stored(engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(sa.select(items.c.k)).scalars())


async def one_group(writer: Writer, jobs: dict) -> dict:
    """Run `jobs` (name -> (fn, options)) as one group: queued while the writer is held by another job."""
    gate = threading.Event()
    held = asyncio.ensure_future(writer.run(lambda conn: gate.wait(10), campaigns=()))
    await asyncio.sleep(0.1)  # the writer thread took the holding job and waits in it
    tasks = {name: asyncio.ensure_future(writer.run(fn, **options)) for name, (fn, options) in jobs.items()}
    await asyncio.sleep(0)  # every job is in the queue
    gate.set()
    await held
    results = await asyncio.gather(*tasks.values(), return_exceptions=True)
    await asyncio.sleep(0.05)  # the loop ran the writer's reset, if any
    return dict(zip(tasks, results, strict=True))


def test_a_failing_job_fails_alone_and_only_its_campaigns_are_rebuilt(engine):
    dropped: list = []
    writer = Writer(engine, on_failure=dropped.append)
    poisoned, healthy, other = ("t2", "p"), ("t1", "h"), ("t1", "o")

    async def scenario() -> dict:
        writer.start(asyncio.get_running_loop())
        try:
            return await one_group(writer, {
                "healthy": (insert("a"), {"campaigns": [healthy]}),
                "poisoned": (insert("taken"), {"campaigns": [poisoned]}),  # the primary key is taken: refused
                "other": (insert("b"), {"campaigns": [other]}),
                # computed after the poisoned job from the same state, which held its events: refused too
                "after": (insert("c"), {"campaigns": [poisoned]}),
                "isolated conflict": (insert("taken"), {"isolated": True}),
                "isolated": (insert("d"), {"isolated": True}),
                "both": (insert("e"), {"campaigns": [healthy, other]}),
            })
        finally:
            writer.stop()

    results = asyncio.run(scenario())
    assert isinstance(results["poisoned"], WriterFailed)
    assert isinstance(results["after"], WriterFailed)
    assert isinstance(results["isolated conflict"], sa.exc.IntegrityError)  # its own error, to its caller
    assert not any(isinstance(results[name], BaseException) for name in ("healthy", "other", "isolated", "both"))
    assert stored(engine) == {"taken", "a", "b", "d", "e"}
    assert dropped == [frozenset({poisoned})]


def test_after_a_failure_new_jobs_of_that_campaign_are_taken(engine):
    dropped: list = []
    writer = Writer(engine, on_failure=dropped.append)
    campaign = ("t", "c")

    async def scenario() -> tuple:
        writer.start(asyncio.get_running_loop())
        try:
            first = await one_group(writer, {"bad": (insert("taken"), {"campaigns": [campaign]})})
            again = await writer.run(insert("x"), campaigns=[campaign])  # computed after the state was dropped
            return first, again
        finally:
            writer.stop()

    first, _ = asyncio.run(scenario())
    assert isinstance(first["bad"], WriterFailed)
    assert stored(engine) == {"taken", "x"}
    assert dropped == [frozenset({campaign})]


def test_a_job_of_unknown_origin_that_fails_drops_every_state(engine):
    dropped: list = []
    writer = Writer(engine, on_failure=dropped.append)

    async def scenario() -> dict:
        writer.start(asyncio.get_running_loop())
        try:
            return await one_group(writer, {
                "unknown": (insert("taken"), {}),
                "later": (insert("y"), {"campaigns": [("t", "c")]}),  # may have used what the unknown job did
                "isolated": (insert("z"), {"isolated": True}),
            })
        finally:
            writer.stop()

    results = asyncio.run(scenario())
    assert isinstance(results["unknown"], WriterFailed) and isinstance(results["later"], WriterFailed)
    assert stored(engine) == {"taken", "z"}
    assert dropped == [None]


def test_a_stopped_writer_commits_what_was_queued_before_and_refuses_the_rest(engine, monkeypatch):
    # Nobody may wait for a write forever: a batch waiting for its write keeps its campaign's lock
    # until the write settles (events/gate.py), even when it is cancelled at the end of the process.
    writer = Writer(engine)
    monkeypatch.setattr("liveloop.kit.db.writer.STOP_SECONDS", 0.2)

    async def scenario() -> tuple:
        writer.start(asyncio.get_running_loop())
        before = writer.submit(insert("before"), campaigns=())
        writer.stop()  # the thread commits `before`, then ends
        after = writer.submit(insert("after"), campaigns=())
        assert after.done()  # refused at once, not left waiting
        # A thread still busy when the stop gave up waiting: what is still queued behind it is refused.
        release = threading.Event()
        writer.start(asyncio.get_running_loop())
        busy = writer.submit(lambda conn: release.wait(10), campaigns=())
        await asyncio.sleep(0.1)  # the thread took it
        behind = writer.submit(insert("behind"), campaigns=())
        writer.stop()
        release.set()
        outcomes = await asyncio.gather(before, after, behind, return_exceptions=True)
        await busy
        writer._queue.put(None)  # the thread that outlived its stop ends too (its queue was emptied)
        return outcomes

    before, after, behind = asyncio.run(scenario())
    assert not isinstance(before, BaseException)
    assert isinstance(after, WriterFailed) and isinstance(behind, WriterFailed)
    assert stored(engine) == {"taken", "before"}
