"""Live campaigns: each campaign's engine state, kept in memory and rebuilt from its event log.

All state is read and advanced on the event loop thread only, so the engine needs no locks; the
database work (loading, writing) happens in threads and is awaited.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from liveloop.campaigns import service as campaigns_service
from liveloop.engine.model import Event
from liveloop.engine.state import CampaignState
from liveloop.events.models import events
from liveloop.invites.models import invites
from liveloop.kit.db.database import Database
from liveloop.kit.db.locks import lock_key
from liveloop.kit.errors import NotFound
from liveloop.kit.ids import CAMPAIGN_ID

if TYPE_CHECKING:
    from liveloop.leaderboards.shared import RedisLeaderboards

REPLAY_CHUNK = 20_000


@dataclass(slots=True)
class LiveCampaign:
    body: dict  # the campaign as the API returns it
    state: CampaignState
    # The log position of this process's last write of the board to Redis (None: rebuild it), and
    # the rebuild being sent aside, if any (leaderboards/shared.py).
    board_seq: int | None = -1
    board_rebuild: asyncio.Task | None = None
    board_behind: int | None = None  # the position seen when the copy was last found behind it


class LiveCampaigns:
    def __init__(self, db: Database, boards: RedisLeaderboards | None = None) -> None:
        self._db = db
        # With several processes and Redis: the leaderboards' shared copy, written under `hold`.
        self.boards = boards if db.shared else None
        self._live: dict[tuple[str, str], LiveCampaign] = {}
        self._bodies: dict[tuple[str, str], dict] = {}
        self._loading: dict[tuple[str, str], asyncio.Future] = {}
        self._local_locks: dict[tuple[str, str], asyncio.Lock] = {}
        # Called with (tenant_id, [(LiveCampaign, effect)]) for events another process logged,
        # once applied here, so that viewers connected to this process hear of them too.
        self.on_caught_up: Callable[[str, list], None] | None = None

    async def get(self, tenant_id: str, campaign_id: str) -> LiveCampaign:
        """The live campaign, loaded on first use; NotFound for an unknown (or other tenant's) id.

        When other processes share the database, the state is first caught up with what they
        logged, so every process answers with the same state.
        """
        live = await self._get(tenant_id, campaign_id)
        if self._db.shared:
            async with self._local_lock((tenant_id, campaign_id)):
                live = await self._catch_up(tenant_id, campaign_id)
        return live

    async def get_uncaught(self, tenant_id: str, campaign_id: str) -> LiveCampaign:
        """The live campaign as this process last saw it: for what does not change (its body)."""
        return await self._get(tenant_id, campaign_id)

    @asynccontextmanager
    async def hold(self, tenant_id: str, campaign_id: str) -> AsyncIterator[LiveCampaign]:
        """Exclusive use of a campaign to apply and log events, caught up with the log first.

        One process alone (SQLite) needs nothing more than the event loop's own order. Several
        processes (PostgreSQL) take the campaign's advisory lock, so that their engines apply the
        campaign's events one batch at a time, in log order, each after all earlier ones.
        """
        live = await self._get(tenant_id, campaign_id)
        if not self._db.shared:
            yield live
            return
        key = (tenant_id, campaign_id)
        async with self._local_lock(key):
            locks = self._db.locks
            token = lock_key(tenant_id, campaign_id)
            conn = await locks.acquire(token)
            try:
                live = await self._catch_up(tenant_id, campaign_id)
                yield live
                if self.boards is not None:
                    # Still under the lock, after the caller's commit: the copy follows log order.
                    await self.boards.publish(tenant_id, live)
            finally:
                await locks.release(conn, token)

    async def _get(self, tenant_id: str, campaign_id: str) -> LiveCampaign:
        key = (tenant_id, campaign_id)
        live = self._live.get(key)
        if live is not None:
            return live
        if not CAMPAIGN_ID.match(campaign_id):
            raise _unknown(campaign_id)
        pending = self._loading.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._db.read(lambda conn: load(conn, tenant_id, campaign_id)))
            self._loading[key] = pending
            try:
                live = await pending
            finally:
                self._loading.pop(key, None)
            if live is not None:
                self._adopt(key, live)
        else:
            live = await asyncio.shield(pending)
            live = self._live.get(key, live)
        if live is None:
            raise _unknown(campaign_id)
        return live

    async def _catch_up(self, tenant_id: str, campaign_id: str) -> LiveCampaign:
        live = await self._get(tenant_id, campaign_id)
        state = live.state
        rows, codes = await self._db.read(lambda conn: pending_events(conn, state))
        if rows:
            state.codes.update(codes)
            board = state.leaderboard
            for seq, received_at, event in rows:
                board.change_seq = seq
                effects = state.apply(event, received_at)
                state.last_seq = seq
                if self.on_caught_up is not None and effects:
                    self.on_caught_up(tenant_id, [(live, effect) for effect in effects])
        # What is applied next (this process's own events, under the lock) is logged after the head.
        state.leaderboard.change_seq = state.last_seq + 1
        return live

    def _local_lock(self, key: tuple[str, str]) -> asyncio.Lock:
        lock = self._local_locks.get(key)
        if lock is None:
            lock = self._local_locks[key] = asyncio.Lock()
        return lock

    def loaded(self) -> list[tuple[str, str]]:
        return list(self._live)

    def peek(self, tenant_id: str, campaign_id: str) -> LiveCampaign | None:
        return self._live.get((tenant_id, campaign_id))

    def add(self, tenant_id: str, live: LiveCampaign) -> None:
        """A campaign just created: kept unless a request already loaded it (with its events)."""
        key = (tenant_id, live.body["id"])
        if key not in self._live:
            self._adopt(key, live)

    def _adopt(self, key: tuple[str, str], live: LiveCampaign) -> None:
        if self.boards is not None:
            # Redis's copy may lack what changed before now: its first write here checks that.
            live.board_seq = live.state.last_seq
            live.state.leaderboard.track_changes(live.state.last_seq + 1)
        self._live[key] = live

    async def body(self, tenant_id: str, campaign_id: str) -> dict:
        """The campaign as the API returns it, without loading its state; NotFound if unknown.

        A campaign does not change once created, so its body is cached for good.
        """
        key = (tenant_id, campaign_id)
        live = self._live.get(key)
        if live is not None:
            return live.body
        body = self._bodies.get(key)
        if body is None:
            if not CAMPAIGN_ID.match(campaign_id):
                raise _unknown(campaign_id)
            body = await self._db.read(
                lambda conn: campaigns_service.get(conn, tenant_id=tenant_id, campaign_id=campaign_id))
            if body is None:
                raise _unknown(campaign_id)
            self._bodies[key] = body
        return body

    async def repair_board(self, tenant_id: str, campaign_id: str) -> None:
        """Rewrite Redis's copy of a loaded campaign's board if it stays behind this process's state.

        A process killed between its commit and its Redis write leaves the copy behind the log;
        the processes that catch up its events notice it here and write it again under the lock.
        Called every few seconds: a copy is repaired only if it has not reached, since the previous
        call, the position this process had then (a write on its way is not a reason to take the lock).
        """
        live = self._live.get((tenant_id, campaign_id))
        if self.boards is None or live is None:
            return
        position = await self.boards.position(tenant_id, campaign_id)
        if position is None or position >= live.state.last_seq:
            live.board_behind = None
            return
        if live.board_behind is not None and position < live.board_behind:
            async with self.hold(tenant_id, campaign_id) as held:
                await self.boards.publish(tenant_id, held, check=True)
            live.board_behind = None
        else:
            live.board_behind = live.state.last_seq

    def drop(self, keys: Iterable[tuple[str, str]] | None) -> None:
        """After a failed write: forget these campaigns' states (None: all); rebuilt from the log on next use."""
        if keys is None:
            self._live.clear()
        for key in keys or ():
            self._live.pop(key, None)


def _unknown(campaign_id: str) -> NotFound:
    return NotFound(f"campaign {campaign_id!r} not found", field="campaign_id")


def load(conn: sa.Connection, tenant_id: str, campaign_id: str) -> LiveCampaign | None:
    """Rebuild a campaign's state by replaying its events in log order."""
    body = campaigns_service.get(conn, tenant_id=tenant_id, campaign_id=campaign_id)
    if body is None:
        return None
    codes = dict(
        conn.execute(
            sa.select(invites.c.code, invites.c.user_id).where(
                invites.c.tenant_id == tenant_id, invites.c.campaign_id == campaign_id
            )
        ).all()
    )
    state = CampaignState(campaigns_service.to_config(tenant_id, body), codes)
    replay(conn, state)
    return LiveCampaign(body, state)


def replay(conn: sa.Connection, state: CampaignState) -> None:
    """Apply the campaign's logged events after `state.last_seq`, each with its own `received_at`."""
    while True:
        rows = _events_after(conn, state, REPLAY_CHUNK)
        for seq, received_at, event in rows:
            state.apply(event, received_at)
            state.last_seq = seq
        if len(rows) < REPLAY_CHUNK:
            return


def pending_events(conn: sa.Connection, state: CampaignState) -> tuple[list, dict[str, str]]:
    """What other processes logged since `state.last_seq`, and the invite codes it may carry."""
    rows = _events_after(conn, state, None)
    refs = {event.ref for _seq, _at, event in rows if event.ref and event.ref not in state.codes}
    return rows, find_codes(conn, state, refs) if refs else {}


def find_codes(conn: sa.Connection, state: CampaignState, codes: set[str]) -> dict[str, str]:
    """Owners of those of `codes` that are invite codes of the campaign."""
    return dict(conn.execute(
        sa.select(invites.c.code, invites.c.user_id).where(
            invites.c.tenant_id == state.config.tenant_id, invites.c.campaign_id == state.config.id,
            invites.c.code.in_(list(codes)))
    ).all())


def _events_after(conn: sa.Connection, state: CampaignState, limit: int | None) -> list:
    cfg = state.config
    cols = events.c
    query = (
        sa.select(cols.seq, cols.id, cols.type, cols.user_id, cols.at, cols.ref, cols.order_id, cols.amount,
                  cols.currency, cols.value, cols.received_at)
        .where(cols.tenant_id == cfg.tenant_id, cols.campaign_id == cfg.id, cols.seq > state.last_seq)
        .order_by(cols.seq)
    )
    if limit is not None:
        query = query.limit(limit)
    return [
        (seq, received_at, Event(eid, kind, uid, at, ref, order_id, amount, currency, value))
        for seq, eid, kind, uid, at, ref, order_id, amount, currency, value, received_at in conn.execute(query)
    ]


def last_seq(conn: sa.Connection, tenant_id: str, campaign_id: str) -> int:
    """The campaign's latest log position (read under its lock, right after writing)."""
    value = conn.execute(
        sa.select(sa.func.max(events.c.seq)).where(events.c.tenant_id == tenant_id, events.c.campaign_id == campaign_id)
    ).scalar()
    return value or 0
