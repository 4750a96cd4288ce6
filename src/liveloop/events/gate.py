"""The gate: how a process applies and logs a campaign's events, chosen once at start-up.

Domain code asks the gate for a campaign (`get`), holds campaigns while it applies events to them
(`hold`), and commits what it applied (`commit`); it never asks whether other processes exist.

- `LocalGate`: one process owns the database (SQLite). The event loop's own order serializes each
  campaign, so holding takes no lock and a campaign is always current.
- `SharedGate`: several processes share the log (PostgreSQL). Each campaign is held under its
  PostgreSQL advisory lock, caught up with what the other processes logged before anything is
  applied, and announced after the commit so they catch up at once (events/fanout.py); Redis's copy
  of the leaderboard is written under the lock, so it follows log order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sqlalchemy as sa

from liveloop.events.committed import CommittedEffects
from liveloop.events.live import LiveCampaign, LiveCampaigns
from liveloop.events.store import EventStore, Logged
from liveloop.kit import clock
from liveloop.kit.db.database import Database
from liveloop.kit.db.locks import AdvisoryLocks, lock_key
from liveloop.ops import metrics

if TYPE_CHECKING:
    from liveloop.leaderboards.shared import RedisLeaderboards

Write = Callable[[sa.Connection], None]
# How long a process keeps a campaign's advisory lock for its own next batches before letting the other
# processes have their turn (docs/benchmarks.md, the scale-out section).
TENURE_SECONDS = 0.1
# What a campaign's log held after the position read from (the first item): rows and invite codes.
Pending = tuple[int, tuple[list[Logged], dict[str, str]]]


def _nothing(_conn: sa.Connection) -> None:
    """A write that writes nothing: queued after the others, refused if one it follows failed."""


class _Writes:
    """What both gates do with the writer alone."""

    _db: Database

    async def settled(self, tenant_id: str, lives: dict[str, LiveCampaign]) -> None:
        """Return once every write queued so far from these campaigns' states is committed; WriterFailed if
        one failed (its events are then not in the log: a batch that found them as duplicates says so)."""
        await self._db.write(_nothing, campaigns=[(tenant_id, cid) for cid in lives])


class LocalGate(_Writes, LiveCampaigns):
    """One process, one database: nothing to lock and nothing to catch up."""

    def __init__(self, store: EventStore, db: Database) -> None:
        super().__init__(store)
        self._db = db
        self.boards: RedisLeaderboards | None = None

    async def get(self, tenant_id: str, campaign_id: str) -> LiveCampaign:
        """The live campaign, loaded on first use; NotFound for an unknown (or other tenant's) id."""
        return await self.get_uncaught(tenant_id, campaign_id)

    async def _load(self, tenant_id: str, campaign_id: str):
        """Read once every write queued so far is committed. A state dropped (an erasure, a batch that failed
        half-applied) may have had writes on their way, computed from it and not refused: read before they
        commit, the new state would never see their events, as nothing catches up here."""
        await self._db.write(_nothing, campaigns=())
        return await super()._load(tenant_id, campaign_id)

    async def watch(self, tenant_id: str, campaign_id: str) -> None:
        """A stream opens for the campaign: every event of it passes through this process anyway."""

    async def learn_codes(self, live: LiveCampaign, refs: Iterable[str | None]) -> None:
        """Invite codes are created by this process, which teaches them to their campaign's state at
        once; a follow-up live also takes the codes of the campaigns it follows, created any time:
        those it does not know are looked up, so that a replay of its log finds the same owners."""
        state = live.state
        if state.config.follow_up_of:
            unknown = {ref for ref in refs if ref and ref not in state.codes}
            if unknown:
                state.codes.update(await self._store.find_codes(state, unknown))

    @asynccontextmanager
    async def hold(self, tenant_id: str, campaign_ids: Iterable[str], *,
                   pipelined: bool = False) -> AsyncIterator[dict[str, LiveCampaign]]:
        """The campaigns to apply events to; with no await between the caller's apply and its commit,
        the event loop keeps everything else out (and the next batch applies while this one's write
        is committed: `pipelined` is what the shared gate needs to be told)."""
        yield {cid: await self.get_uncaught(tenant_id, cid) for cid in campaign_ids}

    async def commit(self, tenant_id: str, lives: dict[str, LiveCampaign], write: Write) -> None:
        """Run `write` in the writer's next group commit; return once it is durable. If it fails, the
        writer has the held states dropped: they hold what was never stored."""
        await self._db.write(write, campaigns=[(tenant_id, cid) for cid in lives])

    def touched(self, tenant_id: str, campaign_id: str) -> None:
        """Something a room shows changed outside the log: no other process to tell."""

    def on_touched(self, listener: Callable[[str, str], None]) -> None:
        """Listeners of other processes' `touched`: none here."""

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


@dataclass(eq=False)
class _Tenure:
    """This process's hold on a campaign's advisory lock across its consecutive batches (SharedGate.hold
    with `pipelined`). A batch applies under the campaign's local lock and lets it go once its write is
    queued, so the next batch applies while the writer commits (writes commit in the order queued, and
    the writer refuses those computed from a failed one). Nobody else logs the campaign meanwhile, so no
    batch needs to catch up; Redis's copy is written only when no write of the tenure is in flight. The
    lock is let go with the last batch, or sooner for another holder: the tenure then closes and takes
    no new batch."""

    live: LiveCampaign
    conn: sa.Connection
    token: int
    since: float
    members: int = 1  # batches in it that have not left
    applying: object | None = None  # the member holding the local lock, from its join to its write's queueing
    writes: set[asyncio.Future] = field(default_factory=set)  # queued, not yet settled
    closing: bool = False
    failed: bool = False  # a write failed: the state it was computed from is dropped
    dirty: bool = False  # a member raised between its apply and its write
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    def settled(self, future: asyncio.Future) -> None:
        self.writes.discard(future)
        if future.cancelled() or future.exception() is not None:
            self.failed = self.closing = True


class SharedGate(_Writes, LiveCampaigns):
    """Several processes on one log: advisory locks, catch-up, announcements."""

    def __init__(self, store: EventStore, db: Database, locks: AdvisoryLocks, committed: CommittedEffects, *,
                 boards: RedisLeaderboards | None, redis_url: str | None) -> None:
        from liveloop.events.fanout import LogFanout

        super().__init__(store)
        self._db = db
        self._locks = locks
        self._committed = committed
        self._local_locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._tenures: dict[tuple[str, str], _Tenure] = {}
        self._plain: dict[tuple[str, str], int] = {}  # holders outside tenures, waiting or holding
        # With Redis: the leaderboards' shared copy, written under the lock.
        self.boards = boards
        self.fanout = LogFanout(self, redis_url=redis_url)

    def touched(self, tenant_id: str, campaign_id: str) -> None:
        """Something a room shows changed here outside the log (a question): the other processes hear
        of it on Redis (events/fanout.py)."""
        self.fanout.touched(tenant_id, campaign_id)

    def on_touched(self, listener: Callable[[str, str], None]) -> None:
        """`listener(tenant_id, campaign_id)` when another process says a campaign's room changed."""
        self.fanout.touched_listeners.append(listener)

    async def start(self) -> None:
        await self.fanout.start()

    async def close(self) -> None:
        await self.fanout.close()
        if self.boards is not None:
            await self.boards.close()

    async def get(self, tenant_id: str, campaign_id: str) -> LiveCampaign:
        """The live campaign caught up with what the other processes logged, so every process answers
        with the same state."""
        await self.get_uncaught(tenant_id, campaign_id)
        async with self._local_lock((tenant_id, campaign_id)):
            return await self._catch_up(tenant_id, campaign_id)

    async def watch(self, tenant_id: str, campaign_id: str) -> None:
        """This process hears of the campaign's events (logged by any process) only while it has it loaded."""
        await self.get_uncaught(tenant_id, campaign_id)

    async def learn_codes(self, live: LiveCampaign, refs: Iterable[str | None]) -> None:
        """Invite codes another process created since this one loaded the campaign."""
        state = live.state
        unknown = {ref for ref in refs if ref and ref not in state.codes}
        if unknown:
            state.codes.update(await self._store.find_codes(state, unknown))

    @asynccontextmanager
    async def hold(self, tenant_id: str, campaign_ids: Iterable[str], *,
                   pipelined: bool = False) -> AsyncIterator[dict[str, LiveCampaign]]:
        """Exclusive use of campaigns to apply and log events, each caught up with the log first.

        Locks are taken in one global order (sorted ids), so two holders of overlapping campaigns
        cannot wait for each other.

        `pipelined` (a batch of one campaign that applies, commits once and leaves): the batch joins
        this process's tenure of the campaign's advisory lock (`_Tenure`), so that the next batch
        applies while this one's write is committed, as on SQLite.
        """
        ids = sorted(set(campaign_ids))
        if pipelined and len(ids) == 1:
            key = (tenant_id, ids[0])
            batch = object()  # the member: it holds the local lock while it is `tenure.applying`
            tenure = await self._join_tenure(key, batch)
            if tenure is not None:
                raised = False
                try:
                    yield {ids[0]: tenure.live}
                except BaseException:
                    raised = True
                    raise
                finally:
                    # Shielded: the tenure's bookkeeping and the lock's release are done even if the
                    # batch is cancelled meanwhile.
                    await asyncio.shield(asyncio.ensure_future(self._leave_tenure(key, tenure, batch, raised)))
                return
        keys = [(tenant_id, cid) for cid in ids]
        for key in keys:
            self._plain[key] = self._plain.get(key, 0) + 1
        try:
            held: dict[str, LiveCampaign] = {}
            async with AsyncExitStack() as stack:
                for campaign_id in ids:
                    key = (tenant_id, campaign_id)
                    await self.get_uncaught(tenant_id, campaign_id)
                    lock = self._local_lock(key)
                    while True:  # no tenure of this process may hold the advisory lock meanwhile
                        await self._tenure_ended(key)
                        await lock.acquire()
                        if key not in self._tenures:
                            break
                        lock.release()
                    stack.callback(lock.release)
                    pending = await stack.enter_async_context(self._advisory(tenant_id, campaign_id))
                    held[campaign_id] = await self._catch_up(tenant_id, campaign_id, pending)
                yield held
                if self.boards is not None:
                    # Still under the locks, after the caller's commit: the copy follows log order.
                    for live in held.values():
                        await self.boards.publish(tenant_id, live)
        finally:
            for key in keys:
                left = self._plain[key] - 1
                if left:
                    self._plain[key] = left
                else:
                    del self._plain[key]

    async def commit(self, tenant_id: str, lives: dict[str, LiveCampaign], write: Write) -> None:
        """Write under the held locks; the log positions after it are the held states'."""
        store = self._store

        def run(conn: sa.Connection) -> dict[str, int]:
            write(conn)
            return {cid: store.last_seq(conn, tenant_id, cid) for cid in lives}

        def logged(done: asyncio.Future) -> None:
            # When the write settles, not when the batch resumes: a batch cancelled meanwhile must still
            # move the state's position past its rows, or a later catch-up would apply them again.
            if not done.cancelled() and done.exception() is None:
                self._logged(tenant_id, lives, done.result())

        tenure = None
        if len(lives) == 1:
            ((campaign_id, held),) = lives.items()
            key = (tenant_id, campaign_id)
            tenure = self._tenures.get(key)
        future = self._db.submit(run, campaigns=[(tenant_id, cid) for cid in lives])
        future.add_done_callback(logged)
        if tenure is not None and tenure.applying is not None and tenure.live is held:
            # A batch in a tenure: its write is queued (writes commit in queue order), then the next batch
            # may apply while this one waits for its commit. The tenure keeps the advisory lock until
            # every write queued in it has settled, however its batches end.
            tenure.writes.add(future)
            future.add_done_callback(tenure.settled)
            tenure.applying = None  # the member calling: only the one holding the local lock commits
            self._local_lock(key).release()
            await asyncio.shield(future)
        else:
            # The usual way lets the locks go when the caller leaves `hold`: not before the write has
            # settled, even if the caller is cancelled meanwhile. Let go sooner, another process would
            # catch up without these rows and log its own, and this state's position (the log's head when
            # the write commits) would then pass over rows it never applied.
            await _outlasting_cancellation(future)

    def _logged(self, tenant_id: str, lives: dict[str, LiveCampaign], positions: dict[str, int]) -> None:
        for campaign_id, live in lives.items():
            live.state.last_seq = max(live.state.last_seq, positions[campaign_id])
            self.fanout.logged(tenant_id, campaign_id, positions[campaign_id])

    async def _join_tenure(self, key: tuple[str, str], batch: object) -> _Tenure | None:
        """Take the campaign's local lock and join this process's tenure of it, or start one (its advisory
        lock taken and the state caught up with the log). None, the local lock not held, when a holder
        outside tenures waits for the campaign: the batch then takes the usual way."""
        tenant_id, campaign_id = key
        lock = self._local_lock(key)
        while True:
            live = await self.get_uncaught(tenant_id, campaign_id)
            await lock.acquire()
            if self._plain.get(key):
                lock.release()
                return None
            tenure = self._tenures.get(key)
            if tenure is None:
                break
            if (not tenure.closing and tenure.live is live and self.peek(tenant_id, campaign_id) is live
                    and clock.monotonic() - tenure.since < TENURE_SECONDS):
                tenure.members += 1
                tenure.applying = batch
                # What it applies is logged after the newest committed position: a Redis write since (only
                # made with nothing in flight) did not carry it (as `_catch_up` sets for a new holder).
                live.state.leaderboard.change_seq = live.state.last_seq + 1
                return tenure
            # Too old (other processes get their turn), failed or its state replaced: let it end first.
            tenure.closing = True
            lock.release()
            await tenure.ended.wait()
        token = lock_key(tenant_id, campaign_id)
        try:
            conn, pending = await self._lock_and_read(token, live)
            try:
                live = await self._catch_up(tenant_id, campaign_id, pending)
            except BaseException:
                await self._locks.release(conn, token)
                raise
        except BaseException:
            lock.release()
            raise
        tenure = self._tenures[key] = _Tenure(live, conn, token, clock.monotonic())
        tenure.applying = batch
        return tenure

    async def _leave_tenure(self, key: tuple[str, str], tenure: _Tenure, batch: object, raised: bool) -> None:
        """A batch leaves its tenure: Redis's copy is written if every batch applied is committed, and the
        advisory lock let go with the last member, once every write queued in the tenure is settled."""
        lock = self._local_lock(key)
        if raised and tenure.applying is batch:
            # It may have applied events it never wrote (as on the usual path, they stay in the state until
            # it is reloaded): Redis's copy must not carry them, and no batch joins after it.
            tenure.dirty = tenure.closing = True
        if tenure.applying is batch:  # it queued no write: the local lock is still its own
            tenure.applying = None
        else:
            await lock.acquire()
        try:
            if tenure.writes and tenure.members == 1:
                await asyncio.wait(list(tenure.writes))
            if (self.boards is not None and not tenure.writes and not tenure.failed and not tenure.dirty
                    and self.peek(*key) is tenure.live):
                # Under the local lock with no write in flight: the state is all committed, nothing newer
                # applied (a batch applies under the local lock and queues its write before letting go).
                await self.boards.publish(key[0], tenure.live)
        finally:
            tenure.members -= 1
            if tenure.members == 0:
                if self._tenures.get(key) is tenure:
                    del self._tenures[key]
                try:
                    await self._locks.release(tenure.conn, tenure.token)
                finally:
                    tenure.ended.set()
                    lock.release()
            else:
                lock.release()

    async def _tenure_ended(self, key: tuple[str, str]) -> None:
        """Wait until this process holds no tenure of the campaign (asking the one there is to end)."""
        while (tenure := self._tenures.get(key)) is not None:
            tenure.closing = True
            await tenure.ended.wait()

    async def _lock_and_read(self, token: int, live: LiveCampaign) -> tuple[sa.Connection, Pending]:
        """Take the campaign's advisory lock and read what the other processes logged, in one thread hop."""
        state = live.state
        store = self._store
        asked = clock.monotonic()
        conn, pending = await self._locks.acquire(token, lambda conn: (state.last_seq, store.pending_on(conn, state)))
        metrics.LOCK_WAIT_SECONDS.observe(clock.monotonic() - asked)
        return conn, pending  # type: ignore[return-value]

    @asynccontextmanager
    async def _advisory(self, tenant_id: str, campaign_id: str) -> AsyncIterator[Pending]:
        """Hold the campaign's lock; yields what the other processes logged, read right after taking
        it on the lock's own connection (one thread hop, no round trip of its own)."""
        token = lock_key(tenant_id, campaign_id)
        conn, pending = await self._lock_and_read(token, await self.get_uncaught(tenant_id, campaign_id))
        try:
            yield pending
        finally:
            await self._locks.release(conn, token)

    async def _catch_up(self, tenant_id: str, campaign_id: str, pending: Pending | None = None) -> LiveCampaign:
        live = await self.get_uncaught(tenant_id, campaign_id)
        tenure = self._tenures.get((tenant_id, campaign_id))
        if tenure is not None and tenure.live is live and not tenure.failed:
            # This process holds the campaign's advisory lock: nobody else logs its events, and its own are
            # applied already (read back before `last_seq` moves past them, they would be applied twice).
            return live
        state = live.state
        started = clock.monotonic()
        if pending is not None and pending[0] == state.last_seq:
            rows, codes = pending[1]
        else:  # read again: the state was replaced (reloaded) meanwhile
            rows, codes = await self._store.pending(state)
        if rows:
            state.codes.update(codes)
            board = state.leaderboard
            for row in rows:
                board.change_seq = row.seq
                effects = row.apply_to(state)
                if row.body is not None:
                    live.body = row.body  # another process changed the campaign
                state.last_seq = row.seq
                if effects:
                    # Viewers connected to this process hear of events that another process logged.
                    self._committed.publish(tenant_id, [(live, effect) for effect in effects],
                                            received_at=row.received_at)
            live.caught_up += len(rows)
            metrics.CAUGHT_UP_EVENTS.inc(len(rows))
        metrics.CATCH_UP_SECONDS.observe(clock.monotonic() - started)
        # What is applied next (this process's own events, under the lock) is logged after the head.
        state.leaderboard.change_seq = state.last_seq + 1
        return live

    def _local_lock(self, key: tuple[str, str]) -> asyncio.Lock:
        lock = self._local_locks.get(key)
        if lock is None:
            lock = self._local_locks[key] = asyncio.Lock()
        return lock

    def _adopt(self, key: tuple[str, str], live: LiveCampaign) -> None:
        if self.boards is not None:
            # Redis's copy may lack what changed before now: its first write here checks that.
            live.board_seq = live.state.last_seq
            live.state.leaderboard.track_changes(live.state.last_seq + 1)
        super()._adopt(key, live)

    async def repair_board(self, tenant_id: str, campaign_id: str) -> None:
        """Rewrite Redis's copy of a loaded campaign's board if it stays behind this process's state.

        A process killed between its commit and its Redis write leaves the copy behind the log;
        the processes that catch up its events notice it here and write it again under the lock.
        Called every few seconds: a copy is repaired only if it has not reached, since the previous
        call, the position this process had then (a write on its way is not a reason to take the lock).
        """
        live = self.peek(tenant_id, campaign_id)
        if self.boards is None or live is None:
            return
        position = await self.boards.position(tenant_id, campaign_id)
        if position is None or position >= live.state.last_seq:
            live.board_behind = None
            return
        if live.board_behind is not None and position < live.board_behind:
            async with self.hold(tenant_id, [campaign_id]) as held:
                await self.boards.publish(tenant_id, held[campaign_id], check=True)
            live.board_behind = None
        else:
            live.board_behind = live.state.last_seq


async def _outlasting_cancellation(future: asyncio.Future) -> None:
    """Wait until the writer's `future` is done even if the task is cancelled meanwhile (the cancellation
    is raised then); its outcome otherwise. The writer settles every job it was given, also when it
    stops (kit/db/writer.py `Writer.stop`), so this ends."""
    cancelled: asyncio.CancelledError | None = None
    while not future.done():
        try:
            await asyncio.wait([future])  # unlike awaiting the future, a cancellation leaves it be
        except asyncio.CancelledError as exc:
            cancelled = exc
    if cancelled is not None:
        raise cancelled
    future.result()


CampaignGate = LocalGate | SharedGate


def build_gate(db: Database, store: EventStore, committed: CommittedEffects, *, redis_url: str | None) -> CampaignGate:
    """The one place that decides whether this process shares its database with others."""
    if db.locks is None:
        return LocalGate(store, db)
    boards = None
    if redis_url:
        from liveloop.leaderboards.shared import RedisLeaderboards

        boards = RedisLeaderboards(redis_url)
    return SharedGate(store, db, db.locks, committed, boards=boards, redis_url=redis_url)
