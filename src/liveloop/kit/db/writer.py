"""The single writer: one thread, one connection, group commit.

Callers on the event loop hand it jobs (functions of a Connection) and await the result. The
thread takes every job that is waiting, runs them in one transaction and commits once, so a
thousand concurrent share-link clicks cost one commit, and a reply is only sent once its rows are
durable. If the transaction fails, every job in it fails and nothing of it is kept.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

log = logging.getLogger("liveloop.writer")

MAX_GROUP = 256

# The writer needs the GIL back after each statement (SQLite runs without it). With Python's
# default 5 ms switch interval it waited up to that long behind an event loop busy applying a
# batch, each time, and became the bottleneck of ingestion: measured with 300,000 benchmark
# events, 16,000 events/s at 5 ms, 17,700 at 2 ms, 21,100 at 1 ms, 19,200 at 0.5 ms and 19,000
# at 0.2 ms (shorter intervals cost the loop more switches than they save the writer).
SWITCH_INTERVAL = 0.001


@dataclass(slots=True)
class _Job:
    fn: Callable[[sa.Connection], Any]
    future: asyncio.Future
    isolated: bool  # run in a savepoint so its failure does not sink the group
    epoch: int  # the loop's state generation the job was computed in


class WriterFailed(Exception):
    """The group transaction failed; the in-memory state derived from it must be dropped."""


class Writer:
    def __init__(self, engine: sa.Engine, *, on_failure: Callable[[], None] | None = None) -> None:
        self._engine = engine
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.on_failure = on_failure
        # A failed group bumps `_min_epoch` (writer thread); the loop then drops its derived state
        # and bumps `_epoch` (loop thread). Jobs computed before that drop are refused.
        self._epoch = 0
        self._min_epoch = 0
        self._switch_interval: float | None = None  # the process's own, restored at stop

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(SWITCH_INTERVAL, self._switch_interval))
        self._thread = threading.Thread(target=self._run, name="liveloop-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._thread = None
        if self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)
            self._switch_interval = None

    async def run(self, fn: Callable[[sa.Connection], Any], *, isolated: bool = False) -> Any:
        """Run `fn(conn)` in the next group transaction; return once it is committed."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put(_Job(fn, future, isolated, self._epoch))
        return await future

    # -- the writer thread -------------------------------------------------------------------

    def _run(self) -> None:
        conn = self._engine.connect()
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
            conn.close()

    def _commit_group(self, conn: sa.Connection, group: list[_Job]) -> sa.Connection:
        stale = [job for job in group if job.epoch < self._min_epoch]
        if stale:
            self._settle([(job, None, WriterFailed("state is being reloaded, retry")) for job in stale])
            group = [job for job in group if job.epoch >= self._min_epoch]
            if not group:
                return conn
        outcomes: list[tuple[_Job, Any, BaseException | None]] = []
        try:
            with conn.begin():
                for job in group:
                    if job.isolated:
                        try:
                            with conn.begin_nested():
                                outcomes.append((job, job.fn(conn), None))
                        except Exception as exc:  # noqa: BLE001 - handed to the caller
                            outcomes.append((job, None, exc))
                    else:
                        outcomes.append((job, job.fn(conn), None))
        except Exception as exc:
            log.exception("group commit failed; %d jobs refused", len(group))
            self._min_epoch = max(job.epoch for job in group) + 1
            failure = WriterFailed(str(exc))
            self._settle([(job, None, failure) for job in group])
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - the connection may be gone already
                pass
            conn = self._engine.connect()
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._reset)
            return conn
        self._settle(outcomes)
        return conn

    def _reset(self) -> None:
        # Runs on the event loop: derived state is dropped before any new job is computed.
        if self.on_failure is not None:
            self.on_failure()
        self._epoch = self._min_epoch

    def _settle(self, outcomes: list[tuple[_Job, Any, BaseException | None]]) -> None:
        if not outcomes or self._loop is None:
            return
        self._loop.call_soon_threadsafe(_resolve_all, outcomes)


def _resolve_all(outcomes: list[tuple[_Job, Any, BaseException | None]]) -> None:
    for job, result, exc in outcomes:
        if job.future.done():
            continue
        if exc is not None:
            job.future.set_exception(exc)
        else:
            job.future.set_result(result)
