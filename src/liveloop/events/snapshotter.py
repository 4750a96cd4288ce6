"""Taking snapshots of busy campaigns in the background (events/snapshots.py says what one is).

Every `check_seconds` the snapshotter looks at the campaigns this process has loaded; one whose
log grew by `every_events` since its newest snapshot gets a new one, taken by `take` in a process
of its own: it loads the campaign like a restart would (the newest snapshot and the log after it),
pickles the state and stores it. The event loop only waits for the answer, and the machine's other
core does the work, so ingestion and share links are not paused for it. A fresh process per
snapshot: its memory (a second copy of a big state, for a moment) goes back to the system after.

With several processes each may take a snapshot of a campaign it serves; the table keeps the newest.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from multiprocessing.pool import Pool

import sqlalchemy as sa

from liveloop.events import snapshots
from liveloop.events.live import LiveCampaigns
from liveloop.events.store import last_seq, load
from liveloop.kit import clock
from liveloop.kit.background import cancel_and_wait
from liveloop.kit.db.database import Database
from liveloop.kit.db.dialect import create_engine

log = logging.getLogger("liveloop.snapshots")

_engines: dict[str, sa.Engine] = {}


def take(database_url: str, tenant_id: str, campaign_id: str, *, min_events: int) -> int:
    """Store a snapshot of the campaign if its log grew by `min_events` since the newest one;
    returns the position of the newest snapshot after this call (0: none)."""
    engine = _engines.get(database_url)
    if engine is None:
        engine = _engines[database_url] = create_engine(database_url)
    with engine.connect() as conn:
        # The generation is read before the log: a rewrite in between makes `put` refuse.
        seen = snapshots.stored(conn, tenant_id, campaign_id)
        base = seen.seq if seen is not None and seen.format == snapshots.FORMAT else 0
        if last_seq(conn, tenant_id, campaign_id) - base < min_events:
            return base
        loaded = load(conn, tenant_id, campaign_id)
    if loaded is None:
        return base
    state = loaded[1]
    body = snapshots.encode(state)
    with engine.begin() as conn:
        key = snapshots.secret(conn, create=True)
    with engine.begin() as conn:
        stored = snapshots.put(conn, tenant_id=tenant_id, campaign_id=campaign_id, seen=seen, seq=state.last_seq,
                               body=body, key=key, now=clock.now_ms())
    return state.last_seq if stored else base


class Snapshotter:
    """Snapshots of the loaded campaigns whose logs grow, taken in a child process."""

    def __init__(self, campaigns: LiveCampaigns, db: Database, *, every_events: int,
                 check_seconds: float) -> None:
        self._campaigns = campaigns
        self._db = db
        self._url = db.url
        self._every = every_events
        self._check_seconds = check_seconds
        self._taken: dict[tuple[str, str], int] = {}  # the newest snapshot's position, as last heard
        self._pool: Pool | None = None
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self._every > 0:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        if self._pool is not None:
            # A snapshot cut short stores nothing (its transaction is rolled back): no need to wait.
            self._pool.terminate()
            await asyncio.to_thread(self._pool.join)
            self._pool = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._check_seconds)
            await self.round()

    async def round(self) -> None:
        """Look at every loaded campaign once (and take the snapshots that are due)."""
        keys = self._campaigns.loaded()
        if not keys:
            return
        # Read from the log (one indexed query each): one process alone does not track positions.
        heads = await self._db.read(lambda conn: {key: last_seq(conn, *key) for key in keys})
        for key, head in heads.items():
            taken = self._taken.get(key)
            if taken is not None and head - taken < self._every:
                continue
            started = clock.monotonic()
            try:
                position = await self._take(*key)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a snapshot is an optimisation: the next round tries again
                log.warning("could not take a snapshot of campaign %s", key[1], exc_info=True,
                            extra={"event": "snapshot_failed", "tenant_id": key[0], "campaign_id": key[1]})
                continue
            if position != taken and position > 0:
                log.info("snapshot of campaign %s at log position %d in %.1f s", key[1], position,
                         clock.monotonic() - started,
                         extra={"event": "campaign_snapshot", "tenant_id": key[0], "campaign_id": key[1],
                                "log_position": position, "seconds": round(clock.monotonic() - started, 3)})
            self._taken[key] = position

    async def _take(self, tenant_id: str, campaign_id: str) -> int:
        if self._pool is None:
            # spawn, not fork: the serving process has threads (the writer, the pools) a fork would copy mid-step.
            self._pool = multiprocessing.get_context("spawn").Pool(1, maxtasksperchild=1)
        result = self._pool.apply_async(take, (self._url, tenant_id, campaign_id), {"min_events": self._every})
        while not result.ready():
            await asyncio.sleep(0.2)
        return result.get()
