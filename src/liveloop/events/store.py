"""The campaign store: the SQL of the event log (and what a batch writes with it), behind a small Protocol.

Everything that decides (the engine, the ingestor, the gates) sees typed rows and these methods;
only this module knows the tables. `tests/fakes.py` keeps the same Protocol in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import sqlalchemy as sa

from liveloop.campaigns import service as campaigns_service
from liveloop.engine.audiences import KNOWN
from liveloop.engine.model import CAMPAIGN_CHANGE, CampaignConfig, Effect, Event
from liveloop.engine.state import CampaignState
from liveloop.events import snapshots
from liveloop.events.models import events
from liveloop.invites import repository as invites_repository
from liveloop.invites.repository import InviteLookup
from liveloop.kit import gcpause
from liveloop.kit.db.bulk import BulkInsert, ExistingKeys
from liveloop.kit.db.database import Database
from liveloop.rewards.ledger import LedgerRows
from liveloop.rewards.repository import Ledger
from liveloop.segments import service as segments_service
from liveloop.users.models import users

REPLAY_CHUNK = 20_000


class EventRow(NamedTuple):
    """One row of the event log, as written; its fields are the log's columns, in one place."""

    tenant_id: str
    id: str
    campaign_id: str
    type: str
    user_id: str | None
    at: int
    ref: str | None
    device_id: str | None
    ip: str | None
    order_id: str | None
    amount: int | None
    currency: str | None
    received_at: int
    value: int | None
    group_id: str | None = None  # an order's group buy
    sku: str | None = None  # an order's product (group buys)


EVENT_COLUMNS = EventRow._fields


class UserRow(NamedTuple):
    """A user first seen in an event: created implicitly, in the campaign's market."""

    tenant_id: str
    user_id: str
    market: str
    consents: str
    created_at: int
    updated_at: int


USER_COLUMNS = UserRow._fields


@dataclass(slots=True)
class BatchWrite:
    """What applying one batch produced, written in one transaction: the log, new users, the ledger."""

    events: list[EventRow] = field(default_factory=list)
    users: list[UserRow] = field(default_factory=list)
    ledger: LedgerRows | None = None
    # What the stagers of committed effects write with the batch (events/committed.py: the outbox).
    staged: list[Callable[[sa.Connection], None]] = field(default_factory=list)


class DuplicateRace(Exception):
    """An event id the engine took as new was already in the log: the state must be rebuilt."""


@dataclass(slots=True)
class Logged:
    """An event read back from the log, with its position and the time it was first applied."""

    seq: int
    received_at: int
    event: Event
    body: dict | None = None  # a `campaign_change`: the campaign as it is from here on

    def apply_to(self, state: CampaignState) -> list[Effect]:
        """Apply this logged event (or change) to the state, as when it was first applied."""
        if self.body is not None:
            config = campaigns_service.to_config(state.config.tenant_id, self.body)
            return state.reconfigure(config, self.event, self.received_at)
        return state.apply(self.event, self.received_at)


class EventStore(Protocol):
    """The event log as the ingestion pipeline needs it."""

    async def load(self, tenant_id: str, campaign_id: str) -> tuple[dict, CampaignState] | None:
        """A campaign's body and its state replayed from the log; None if unknown."""

    async def body(self, tenant_id: str, campaign_id: str) -> dict | None:
        """A campaign's body, without its state."""

    async def logged_ids(self, tenant_id: str, ids: list[str]) -> set[str]:
        """Those of `ids` already in the tenant's log."""

    async def pending(self, state: CampaignState) -> tuple[list[Logged], dict[str, str]]:
        """What was logged after `state.last_seq`, and the invite codes it carries that the state lacks."""

    def pending_on(self, conn: sa.Connection, state: CampaignState) -> tuple[list[Logged], dict[str, str]]:
        """`pending`, on the caller's connection (the one holding the campaign's lock)."""

    async def find_codes(self, state: CampaignState, codes: set[str]) -> dict[str, str]:
        """Owners of those of `codes` that are invite codes of the campaign."""

    def write(self, conn: sa.Connection, batch: BatchWrite) -> None:
        """Write a batch inside the caller's transaction; DuplicateRace if an event was logged meanwhile."""

    def last_seq(self, conn: sa.Connection, tenant_id: str, campaign_id: str) -> int:
        """The campaign's latest log position (read under its lock, right after writing)."""


class SqlEventStore:
    """The event log in SQL, on SQLite or PostgreSQL (statements built once per dialect); a batch's
ledger rows go to `ledger` in the same transaction, and codes seen in events are looked up in `invites`."""

    def __init__(self, db: Database, invites: InviteLookup, ledger: Ledger) -> None:
        self._db = db
        self._invites = invites
        self._insert_events = BulkInsert(db.dialect, events, EVENT_COLUMNS, skip_conflicts=True)
        self._insert_users = BulkInsert(db.dialect, users, USER_COLUMNS, skip_conflicts=True)
        self._logged_ids = ExistingKeys(db.dialect, events, "tenant_id", "id")
        self._ledger = ledger

    async def load(self, tenant_id: str, campaign_id: str) -> tuple[dict, CampaignState] | None:
        return await self._db.read(lambda conn: load(conn, tenant_id, campaign_id))

    async def body(self, tenant_id: str, campaign_id: str) -> dict | None:
        return await self._db.read(
            lambda conn: campaigns_service.get(conn, tenant_id=tenant_id, campaign_id=campaign_id))

    async def logged_ids(self, tenant_id: str, ids: list[str]) -> set[str]:
        return await self._db.read(lambda conn: self._logged_ids(conn, tenant_id, ids))

    async def pending(self, state: CampaignState) -> tuple[list[Logged], dict[str, str]]:
        return await self._db.read(lambda conn: _pending(conn, state))

    def pending_on(self, conn: sa.Connection, state: CampaignState) -> tuple[list[Logged], dict[str, str]]:
        return _pending(conn, state)

    async def find_codes(self, state: CampaignState, codes: set[str]) -> dict[str, str]:
        return await self._invites.owners(state.config.tenant_id, code_campaigns(state.config), codes)

    def write(self, conn: sa.Connection, batch: BatchWrite) -> None:
        inserted = self._insert_events(conn, batch.events)
        if inserted != len(batch.events) and inserted >= 0:
            raise DuplicateRace(f"{len(batch.events) - inserted} events were already logged")
        self._insert_users(conn, batch.users)
        if batch.ledger is not None:
            self._ledger.write(conn, batch.ledger)
        for write in batch.staged:
            write(conn)

    def last_seq(self, conn: sa.Connection, tenant_id: str, campaign_id: str) -> int:
        return last_seq(conn, tenant_id, campaign_id)


def load(conn: sa.Connection, tenant_id: str, campaign_id: str, *,
         snapshot: bool = True) -> tuple[dict, CampaignState] | None:
    """Rebuild a campaign's state by replaying its events in log order, from the campaign as it was
    created: each change logged since takes effect at its place. The replay starts from the newest
    usable snapshot (events/snapshots.py) when there is one (unless `snapshot` is False), or from
    the start of the log; both give the same state."""
    body = campaigns_service.get(conn, tenant_id=tenant_id, campaign_id=campaign_id)
    if body is None:
        return None
    first = campaigns_service.versions(conn, tenant_id=tenant_id, campaign_id=campaign_id, numbers=[1])[1]
    config = campaigns_service.to_config(tenant_id, first)
    codes = invites_repository.owners(conn, tenant_id=tenant_id, campaign_ids=code_campaigns(config))
    with gcpause.paused():
        state = snapshots.restore(conn, tenant_id, campaign_id) if snapshot else None
        if state is None:
            segments_service.warm(conn, KNOWN, tenant_id=tenant_id, bodies=[first])
            state = CampaignState(config, codes)
        else:
            # Codes are only ever added (an erasure, which renames owners, invalidates snapshots):
            # the snapshot's and today's together are what a replay from the start is handed.
            state.codes.update(codes)
        replay(conn, state)
    return body, state


def replay(conn: sa.Connection, state: CampaignState) -> None:
    """Apply the campaign's logged events after `state.last_seq`, each with its own `received_at`."""
    while True:
        rows = events_after(conn, state, REPLAY_CHUNK)
        for row in rows:
            row.apply_to(state)
            state.last_seq = row.seq
        if len(rows) < REPLAY_CHUNK:
            return


def _pending(conn: sa.Connection, state: CampaignState) -> tuple[list[Logged], dict[str, str]]:
    rows = events_after(conn, state, None)
    refs = {row.event.ref for row in rows if row.event.ref and row.event.ref not in state.codes}
    cfg = state.config
    found = invites_repository.owners(conn, tenant_id=cfg.tenant_id, campaign_ids=code_campaigns(cfg),
                                      codes=refs) if refs else {}
    return rows, found


def code_campaigns(config: CampaignConfig) -> list[str]:
    """The campaigns whose invite codes are valid `ref`s in this one: itself and those it follows up."""
    return [config.id, *config.follow_up_of]


def events_after(conn: sa.Connection, state: CampaignState, limit: int | None) -> list[Logged]:
    cfg = state.config
    cols = events.c
    query = (
        sa.select(cols.seq, cols.id, cols.type, cols.user_id, cols.at, cols.ref, cols.order_id, cols.amount,
                  cols.currency, cols.value, cols.received_at, cols.group_id, cols.sku)
        .where(cols.tenant_id == cfg.tenant_id, cols.campaign_id == cfg.id, cols.seq > state.last_seq)
        .order_by(cols.seq)
    )
    if limit is not None:
        query = query.limit(limit)
    rows = [
        Logged(seq, received_at, Event(eid, kind, uid, at, ref, order_id, amount, currency, value, group_id, sku))
        for seq, eid, kind, uid, at, ref, order_id, amount, currency, value, received_at, group_id, sku
        in conn.execute(query)
    ]
    changes = [row for row in rows if row.event.type == CAMPAIGN_CHANGE]
    if changes:
        bodies = campaigns_service.versions(conn, tenant_id=cfg.tenant_id, campaign_id=cfg.id,
                                            numbers={row.event.value for row in changes})
        for row in changes:
            row.body = bodies[row.event.value]
        segments_service.warm(conn, KNOWN, tenant_id=cfg.tenant_id, bodies=bodies.values())
    return rows


def last_seq(conn: sa.Connection, tenant_id: str, campaign_id: str) -> int:
    # The newest row by the campaign's index, not max(seq): PostgreSQL planned max() as a walk over
    # every row of the campaign when the table had no statistics yet (a new database; autovacuum
    # analyzes it only later): 9 to 17 ms after every batch, inside the campaign's lock, against 0.05.
    value = conn.execute(
        sa.select(events.c.seq).where(events.c.tenant_id == tenant_id, events.c.campaign_id == campaign_id)
        .order_by(events.c.seq.desc()).limit(1)
    ).scalar()
    return value or 0
