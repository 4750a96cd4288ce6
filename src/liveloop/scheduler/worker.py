"""Running scheduled jobs in every process, driven by the due times stored in the database.

Each round (every `poll_seconds`, or at once when poked) the worker claims the due jobs
(scheduler/repository.py) and runs each through the handler of its kind. A handler reads what it
needs and returns an `Outcome`: the outbox messages to write, the users they serve, and when the
job is due again (None: done). The worker writes all of it in one transaction, with the job's own
update, under the job's lease: a job's messages are written once or not at all, whatever restarts or
other processes do. A handler that fails is retried later; nothing is written for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from liveloop.kit import clock
from liveloop.kit.background import cancel_and_wait
from liveloop.kit.db.database import Database
from liveloop.kit.db.writer import WriterFailed
from liveloop.kit.errors import LiveloopError
from liveloop.scheduler import repository
from liveloop.scheduler.repository import Job, LeaseLost
from liveloop.webhooks.outbox import Outbox

log = logging.getLogger("liveloop.scheduler")

# Longer than a run takes (a report of a large campaign is computed in well under a second) with
# room for a slow database; a process killed mid-run leaves the job to others after this.
LEASE_MS = 30_000
CLAIM_BATCH = 16
RETRY_AFTER_MS = (5_000, 30_000, 300_000)  # then every 5 minutes: a message is never given up


@dataclass(slots=True)
class Outcome:
    messages: list[tuple] = field(default_factory=list)  # outbox rows (webhooks/outbox.py message_row)
    recipients: list[str] = field(default_factory=list)  # users served by these messages
    next_at: int | None = None  # due again then; None: the job is done


Handler = Callable[[Job, int], Awaitable[Outcome]]


class JobWorker:
    def __init__(self, db: Database, outbox: Outbox, handlers: Mapping[str, Handler], *, poll_seconds: float = 1.0,
                 on_messages: Callable[[], None] = lambda: None) -> None:
        self._db = db
        self._outbox = outbox
        self._handlers = dict(handlers)
        self._poll_seconds = poll_seconds
        self._on_messages = on_messages  # messages were written: their delivery may start now
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()

    def poke(self) -> None:
        """A job may be due now (e.g. a campaign created with a past window): run a round soon."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self._poll_seconds)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                while await self.round() == CLAIM_BATCH:
                    pass  # more may be due
            except (LiveloopError, WriterFailed) as exc:
                log.warning("scheduler round failed, trying again next round: %s", exc)
            except Exception:
                log.exception("scheduler round failed")

    async def round(self, now: int | None = None) -> int:
        """Claim the jobs due at `now` (the clock by default) and run them; returns how many."""
        now = clock.now_ms() if now is None else now
        claimed = await self._db.write(lambda conn: repository.claim_due(
            conn, now=now, lease_ms=LEASE_MS, limit=CLAIM_BATCH), campaigns=())
        for job in claimed:
            await self._run_job(job, now)
        return len(claimed)

    async def _run_job(self, job: Job, now: int) -> None:
        handler = self._handlers.get(job.kind)
        try:
            if handler is None:
                raise LookupError(f"no handler for jobs of kind {job.kind!r}")
            outcome = await handler(job, now)
        except Exception as exc:  # noqa: BLE001 - recorded on the job and retried
            log.exception("job %s (%s of %s/%s) failed", job.id, job.kind, job.tenant_id, job.campaign_id)
            retry_at = now + RETRY_AFTER_MS[min(job.failures, len(RETRY_AFTER_MS) - 1)]
            error = f"{type(exc).__name__}: {exc}"
            await self._db.write(lambda conn: repository.record_failure(conn, job, error=error, retry_at=retry_at,
                                                                        now=now), campaigns=())
            return
        outbox = self._outbox

        def write(conn) -> None:
            repository.record(conn, job, next_at=outcome.next_at, recipients=outcome.recipients, now=now)
            outbox.write(conn, outcome.messages)

        try:
            await self._db.write(write, isolated=True)
        except LeaseLost as exc:
            log.warning("%s; its run was not recorded", exc)
            return
        if outcome.messages:
            self._on_messages()
