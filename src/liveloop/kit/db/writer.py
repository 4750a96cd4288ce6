"""The single writer: one thread, one connection, group commit.

Callers on the event loop hand it jobs (functions of a Connection) and await the result. The
thread takes every job that is waiting, runs them in one transaction and commits once, so a
thousand concurrent share-link clicks cost one commit, and a reply is only sent once its rows are
durable.

A job that fails fails alone: when the group's transaction fails, it is run again with each job in
a savepoint, and only the jobs that fail again (with those computed from their state) are refused.
Jobs computed from the in-memory state of campaigns (ingestion) say which (`campaigns`): when such a
job is refused, those campaigns' states hold events that were never stored, so they are dropped and
rebuilt from the log (`on_failure`), and every later job computed from them before that is refused
too. Other campaigns, and other tenants, go on as if nothing happened.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sys
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from liveloop.kit import clock
from liveloop.ops import metrics

log = logging.getLogger("liveloop.writer")

MAX_GROUP = 256
STOP_SECONDS = 30  # how long `stop` waits for the writer thread to commit what was queued before it

# The writer needs the GIL back after each statement (SQLite runs without it). With Python's
# default 5 ms switch interval it waited up to that long behind an event loop busy applying a
# batch, each time, and became the bottleneck of ingestion: measured with 300,000 benchmark
# events, 16,000 events/s at 5 ms, 17,700 at 2 ms, 21,100 at 1 ms, 19,200 at 0.5 ms and 19,000
# at 0.2 ms (shorter intervals cost the loop more switches than they save the writer).
SWITCH_INTERVAL = 0.001


Campaigns = frozenset[tuple[str, str]]  # (tenant_id, campaign_id) pairs


@dataclass(slots=True)
class _Job:
    fn: Callable[[sa.Connection], Any]
    future: asyncio.Future
    isolated: bool  # run in a savepoint so its failure does not sink the group
    # The campaign states the job was computed from: () none, None any (unknown).
    campaigns: Campaigns | None
    epoch: int  # the loop's state generation the job was computed in


@dataclass(slots=True)
class _Taint:
    """Campaign states holding events that will not be stored: `everything`, or those in `keys`."""

    keys: set[tuple[str, str]] = field(default_factory=set)
    everything: bool = False

    def __bool__(self) -> bool:
        return self.everything or bool(self.keys)

    def add(self, campaigns: Campaigns | None) -> None:
        if campaigns is None:
            self.everything = True
        else:
            self.keys.update(campaigns)

    def touches(self, campaigns: Campaigns | None) -> bool:
        if self.everything:
            return campaigns != frozenset()
        return bool(self.keys) if campaigns is None else not self.keys.isdisjoint(campaigns)


class WriterFailed(Exception):
    """The job was not stored; the in-memory state derived from it is dropped and rebuilt."""


class Writer:
    def __init__(self, engine: sa.Engine, *,
                 on_failure: Callable[[Campaigns | None], None] | None = None) -> None:
        self._engine = engine
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Called on the event loop with the campaigns whose states must be dropped (None: all).
        self.on_failure = on_failure
        # Each refusal opens a new generation (writer thread); the loop drops the tainted states, then
        # moves `_epoch` to it. A job computed from a tainted campaign before that carries an older
        # epoch than the campaign's fence (or the fence of everything) and is refused.
        self._epoch = 0
        self._generation = 0
        self._fences: dict[tuple[str, str], int] = {}
        self._fence_all = 0
        self._switch_interval: float | None = None  # the process's own, restored at stop
        self._stopped = False

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._stopped = False
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(SWITCH_INTERVAL, self._switch_interval))
        self._thread = threading.Thread(target=self._run, name="liveloop-writer", daemon=True)
        self._thread.start()

    def depth(self) -> int:
        """Jobs waiting for the next group commit."""
        return self._queue.qsize()

    def stop(self) -> None:
        """Commit what was queued before, then stop; a job queued later, or left behind by a thread that did
        not end in time, is refused (WriterFailed), so that nobody waits for it forever."""
        self._stopped = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=STOP_SECONDS)
            self._thread = None
        if self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)
            self._switch_interval = None
        left: list[tuple[_Job, Any, BaseException | None]] = []
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                left.append((job, None, WriterFailed("the writer stopped before this write; nothing was stored")))
        if left:
            self._resolve(left)

    async def run(self, fn: Callable[[sa.Connection], Any], *, isolated: bool = False,
                  campaigns: Collection[tuple[str, str]] | None = None) -> Any:
        """Run `fn(conn)` in the next group transaction; return once it is committed.

        `campaigns`: the (tenant_id, campaign_id) states `fn`'s rows were computed from, dropped if it
        fails; None when that is not known (all are dropped). An isolated job is computed from none.
        """
        return await self.submit(fn, isolated=isolated, campaigns=campaigns)

    def submit(self, fn: Callable[[sa.Connection], Any], *, isolated: bool = False,
               campaigns: Collection[tuple[str, str]] | None = None) -> asyncio.Future:
        """`run`, queued at once (jobs are committed in the order they are queued): the future of its result."""
        future = asyncio.get_running_loop().create_future()
        if self._stopped:
            future.set_exception(WriterFailed("the writer has stopped (the process is ending); nothing was stored"))
            return future
        derived = frozenset() if isolated else (frozenset(campaigns) if campaigns is not None else None)
        self._queue.put(_Job(fn, future, isolated, derived, self._epoch))
        return future

    # -- the writer thread -------------------------------------------------------------------

    def _run(self) -> None:
        conn: sa.Connection | None = None
        try:
            while True:
                job = self._queue.get()
                if job is None:
                    return
                group = [job]
                stop = False
                while len(group) < MAX_GROUP:
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        stop = True
                        break
                    group.append(nxt)
                conn = self._commit_group(conn, group)
                if stop:
                    return
        finally:
            if conn is not None:
                conn.close()

    def _commit_group(self, conn: sa.Connection | None, group: list[_Job]) -> sa.Connection | None:
        taint = _Taint()
        outcomes: list[tuple[_Job, Any, BaseException | None]] = []
        runnable = []
        for job in group:
            if self._stale(job) or taint.touches(job.campaigns):
                # Computed from a state holding events that were not stored (here or earlier).
                taint.add(job.campaigns)
                outcomes.append((job, None, WriterFailed("state is being reloaded, retry")))
            else:
                runnable.append(job)
        if runnable:
            started = clock.monotonic()
            try:
                conn = conn if conn is not None else self._engine.connect()
                outcomes += self._transaction(conn, runnable, None)
            except Exception as exc:  # noqa: BLE001 - retried job by job below
                log.warning("group commit of %d jobs failed (%s); retrying them one by one", len(runnable), exc,
                            extra={"event": "commit_retried", "jobs": len(runnable)})
                conn = self._usable(conn)
                try:
                    conn = conn if conn is not None else self._engine.connect()
                    outcomes += self._transaction(conn, runnable, taint)
                except Exception as exc:
                    log.exception("group commit failed; %d jobs refused", len(runnable),
                                  extra={"event": "writer_failed", "jobs": len(runnable)})
                    conn = self._usable(conn, discard=True)
                    failure = WriterFailed(str(exc))
                    outcomes += [(job, None, failure) for job in runnable]
                    for job in runnable:
                        taint.add(job.campaigns)
            metrics.WRITER_COMMIT_SECONDS.observe(clock.monotonic() - started)
        if taint:
            self._fence(taint)
        self._settle(outcomes)
        return conn

    def _transaction(self, conn: sa.Connection, jobs: list[_Job],
                     taint: _Taint | None) -> list[tuple[_Job, Any, BaseException | None]]:
        """Run `jobs` in one transaction and commit. With a `taint`, each job runs in a savepoint:
        a job that fails, or was computed from a state a failed job touched, is refused alone."""
        outcomes: list[tuple[_Job, Any, BaseException | None]] = []
        with conn.begin():
            for job in jobs:
                if taint is not None and taint.touches(job.campaigns):
                    taint.add(job.campaigns)
                    outcomes.append((job, None, WriterFailed("computed from a write that failed; retry")))
                elif job.isolated or taint is not None:
                    try:
                        with conn.begin_nested():
                            outcomes.append((job, job.fn(conn), None))
                    except Exception as exc:  # noqa: BLE001 - handed to the caller
                        if job.isolated:
                            outcomes.append((job, None, exc))
                        else:
                            log.warning("a write failed alone and was refused: %s", exc,
                                        extra={"event": "write_refused"})
                            taint.add(job.campaigns)
                            outcomes.append((job, None, WriterFailed(str(exc))))
                else:
                    outcomes.append((job, job.fn(conn), None))
        return outcomes

    def _usable(self, conn: sa.Connection | None, *, discard: bool = False) -> sa.Connection | None:
        """The connection, or None to open a new one: after a lost connection, or when asked."""
        if conn is not None and (discard or conn.invalidated):
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - the connection may be gone already
                pass
            return None
        return conn

    def _stale(self, job: _Job) -> bool:
        """Computed before the loop dropped a state it was computed from."""
        if job.campaigns is None:
            return job.epoch < self._generation  # it may have used any state: any refusal counts
        if not job.campaigns:
            return False
        fences = self._fences
        return job.epoch < self._fence_all or any(job.epoch < fences.get(key, 0) for key in job.campaigns)

    def _fence(self, taint: _Taint) -> None:
        self._generation += 1
        generation = self._generation
        if taint.everything:
            self._fence_all = generation
            log.warning("a write failed: every campaign's state is rebuilt from the log",
                        extra={"event": "state_rebuilt", "campaigns": "all"})
        else:
            for key in taint.keys:
                self._fences[key] = generation
            log.warning("a write failed: the state of %s is rebuilt from the log",
                        ", ".join(f"{t}/{c}" for t, c in sorted(taint.keys)),
                        extra={"event": "state_rebuilt", "campaigns": len(taint.keys)})
        if self._loop is not None:
            keys = None if taint.everything else frozenset(taint.keys)
            self._loop.call_soon_threadsafe(self._reset, keys, generation)

    def _reset(self, campaigns: Campaigns | None, generation: int) -> None:
        # Runs on the event loop: derived state is dropped before any new job is computed.
        if self.on_failure is not None:
            self.on_failure(campaigns)
        self._epoch = max(self._epoch, generation)

    def _settle(self, outcomes: list[tuple[_Job, Any, BaseException | None]]) -> None:
        refused = sum(1 for _job, _result, exc in outcomes if isinstance(exc, WriterFailed))
        if refused:
            metrics.WRITER_REFUSED.inc(refused)
        if outcomes:
            self._resolve(outcomes)

    def _resolve(self, outcomes: list[tuple[_Job, Any, BaseException | None]]) -> None:
        """Hand the jobs' outcomes to their futures, on the event loop's thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # nobody can be waiting
        try:
            here = asyncio.get_running_loop() is loop
        except RuntimeError:
            here = False
        if here:
            _resolve_all(outcomes)
        else:
            loop.call_soon_threadsafe(_resolve_all, outcomes)


def _resolve_all(outcomes: list[tuple[_Job, Any, BaseException | None]]) -> None:
    for job, result, exc in outcomes:
        if job.future.done():
            continue
        if exc is not None:
            job.future.set_exception(exc)
        else:
            job.future.set_result(result)
