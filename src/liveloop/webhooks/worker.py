"""Delivering the outbox: fan-out, claims, attempts and retries, in every process, driven by the database.

Each round (every `poll_seconds`, or at once after a commit that may have staged messages) the worker
fans new messages out into deliveries, claims the due ones (webhooks/repository.py) and sends each
in a task of its own, so a slow or dead endpoint holds only its own deliveries: at most
`per_endpoint` (16) attempts run at once per endpoint, `concurrency` in all. A 2xx within 15 s is
success; anything else (a redirect included: none is followed) is retried after 5 s, 5 min,
30 min, 2 h, 5 h, 10 h and 10 h, then the delivery is failed. Due times live in the database, so a
restart loses and doubles nothing; a process killed during an attempt leaves it to be taken up
again when its lease has passed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from functools import partial
from typing import TYPE_CHECKING

from liveloop.kit import clock
from liveloop.kit.background import cancel_and_wait
from liveloop.kit.db.database import Database
from liveloop.kit.db.writer import WriterFailed
from liveloop.kit.errors import LiveloopError
from liveloop.ops import metrics
from liveloop.webhooks import repository, signing, urls
from liveloop.webhooks.subscriptions import Subscriptions

if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger("liveloop.webhooks")

RETRY_AFTER_MS = (5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000)
TIMEOUT_SECONDS = 15.0
MIN_ROUND_SECONDS = 0.01
LEASE_MS = 30_000  # longer than an attempt can take (15 s), with room for a slow database
# Fan-out writes per round before the round claims what is due: while a live makes messages faster than
# one write fans out (every ingestion batch makes some), an unbounded fan-out never reached the claims and
# nothing was sent until the live calmed down. The rest is fanned out by the next rounds.
FAN_OUT_WRITES = 10
BACKLOG_EVERY_MS = 5_000  # how often the outbox's backlog is counted for the metrics


def next_attempt_at(attempts_made: int, now: int) -> int | None:
    """When to try again after `attempts_made` failed attempts (None: no attempt is left)."""
    if attempts_made > len(RETRY_AFTER_MS):
        return None
    return now + RETRY_AFTER_MS[attempts_made - 1]


class WebhookWorker:
    def __init__(self, db: Database, subscriptions: Subscriptions, *, allow_private: bool,
                 poll_seconds: float = 1.0, concurrency: int = 64, per_endpoint: int = 16) -> None:
        self._db = db
        self.subscriptions = subscriptions
        self._allow_private = allow_private
        self._poll_seconds = poll_seconds
        self._concurrency = concurrency
        self._per_endpoint = per_endpoint
        self._client: aiohttp.ClientSession | None = None
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._running: dict[str, int] = {}  # endpoint id -> attempts under way here
        self._sending: set[asyncio.Task] = set()
        self._outcomes: list[repository.Outcome] = []  # attempts ended, not yet recorded
        self._flushing: asyncio.Task | None = None
        self._backlog_at = 0  # when the backlog is next counted

    def poke(self, _committed: object = None) -> None:
        """A commit may have staged messages: run a round now rather than at the next poll."""
        self._wake.set()

    async def endpoint_created(self) -> None:
        """An endpoint's creation committed: every cause committed once this returns has its messages
        (with several processes it waits until each knows, webhooks/subscriptions.py)."""
        await self.subscriptions.endpoint_created()
        self.poke()

    async def endpoint_deleted(self) -> None:
        await self.subscriptions.reload()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        # Attempts under way are given up: their leases expire and another round sends them again.
        for task in list(self._sending):
            task.cancel()
        await asyncio.gather(*self._sending, return_exceptions=True)
        if self._flushing is not None:
            await asyncio.gather(self._flushing, return_exceptions=True)
        if self._client is not None:
            await self._client.close()

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self._poll_seconds)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.round()
                await self._count_backlog()
            except (LiveloopError, WriterFailed) as exc:
                log.warning("webhook round failed, trying again next round: %s", exc)
            except Exception:
                log.exception("webhook round failed")
            # Rounds woken by every ending attempt would each claim one delivery: let a few gather.
            await asyncio.sleep(MIN_ROUND_SECONDS)

    async def _count_backlog(self) -> None:
        now = clock.now_ms()
        if now < self._backlog_at:
            return
        self._backlog_at = now + BACKLOG_EVERY_MS
        for stage, count in (await self._db.read(lambda conn: repository.backlog(conn, now=now))).items():
            metrics.WEBHOOK_BACKLOG.labels(stage).set(count)

    async def round(self) -> None:
        """Fan out what is new, then start the attempts that are due and have room."""
        if not self.subscriptions.any():
            return  # no endpoint anywhere: no message is made and no delivery is due
        try:
            for _ in range(FAN_OUT_WRITES):
                fanned = await self._db.write(lambda conn: repository.fan_out(conn, now=clock.now_ms(),
                                                                              limit=repository.FAN_OUT_LIMIT),
                                              campaigns=())
                if fanned < repository.FAN_OUT_LIMIT:
                    break  # none left
            else:
                self._wake.set()  # more are waiting: the next round comes at once, not at the next poll
        except (LiveloopError, WriterFailed) as exc:
            # What was fanned out before is still due: a fan-out that fails must not keep it from being sent.
            log.warning("webhook fan-out failed, trying again next round: %s", exc)
        room = self._concurrency - len(self._sending)
        if room <= 0:
            return
        # A copy: the writer thread reads it while attempts end on the loop.
        busy = dict(self._running)
        # The time read when the claim runs in the writer, not when it was asked for: a lease counted from
        # an earlier time could end before its attempt has even started.
        claimed = await self._db.write(lambda conn: repository.claim_due(
            conn, now=clock.now_ms(), lease_ms=LEASE_MS, room=room,
            free=lambda endpoint_id: self._per_endpoint - busy.get(endpoint_id, 0)), campaigns=())
        for attempt in claimed:
            self._running[attempt.endpoint_id] = self._running.get(attempt.endpoint_id, 0) + 1
            task = asyncio.get_running_loop().create_task(self._attempt(attempt))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _attempt(self, attempt: repository.Claimed) -> None:
        # Imported here, not with this module: a process that never sends a webhook never imports aiohttp
        # (a fifth of a second of every start, with the TLS contexts it makes).
        from liveloop.webhooks import client

        started = time.monotonic()
        status_code: int | None = None
        error: str | None = None
        try:
            await urls.check(attempt.url, allow_private=self._allow_private)
            body = attempt.body.encode()
            timestamp = clock.now_ms() // 1000
            headers = signing.headers(list(attempt.secrets), attempt.message_id, timestamp, body)
            if self._client is None:  # made at the first attempt, with the import above
                self._client = client.new_session(allow_private=self._allow_private, concurrency=self._concurrency,
                                                  timeout_seconds=TIMEOUT_SECONDS)
            status_code = await client.post(self._client, attempt.url, body, headers)
            if 300 <= status_code < 400:
                error = f"answered {status_code} (redirects are not followed)"
            elif not 200 <= status_code < 300:
                error = f"answered {status_code}"
        except urls.Refused as exc:
            error = f"url {exc}"
        except TimeoutError:  # aiohttp's timeouts are TimeoutErrors too
            error = f"no answer within {TIMEOUT_SECONDS:.0f} s"
        except client.ClientError as exc:
            error = f"{type(exc).__name__}: {exc}"
        finally:
            self._running[attempt.endpoint_id] -= 1
            if not self._running[attempt.endpoint_id]:
                del self._running[attempt.endpoint_id]
        await self._record(attempt, status_code, error, int((time.monotonic() - started) * 1000))

    async def _record(self, attempt: repository.Claimed, status_code: int | None, error: str | None,
                      duration_ms: int) -> None:
        now = clock.now_ms()
        succeeded = error is None
        retry_at = None if succeeded else next_attempt_at(attempt.attempts + 1, now)
        self._outcomes.append(repository.Outcome(attempt.delivery_id, now, status_code, error, duration_ms,
                                                 succeeded, retry_at, attempt.lease_until))
        if self._flushing is None:
            # Outcomes that end together are recorded in one write.
            self._flushing = asyncio.get_running_loop().create_task(self._flush())
        metrics.WEBHOOK_ATTEMPTS.labels("delivered" if succeeded else "retry" if retry_at is not None
                                        else "failed").inc()
        if not succeeded:
            log.info("webhook %s to endpoint %s failed: %s", attempt.message_id, attempt.endpoint_id, error)

    async def _flush(self) -> None:
        try:
            while self._outcomes:
                outcomes, self._outcomes = self._outcomes, []
                try:
                    await self._db.write(partial(repository.record_attempts, outcomes=outcomes), campaigns=())
                except (LiveloopError, WriterFailed):
                    # Unrecorded: their leases run out and the messages are sent again (at least once).
                    log.warning("could not record %d webhook attempts", len(outcomes))
        finally:
            self._flushing = None
        self._wake.set()  # their endpoints have room again
