"""Event ingestion: dedupe, apply to the engine in arrival order, write once, reply when durable."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa

from liveloop.engine.model import Event, NewUser, RewardIssued, RewardStatusChanged
from liveloop.events.live import LiveCampaign, LiveCampaigns, find_codes, last_seq
from liveloop.events.models import events
from liveloop.events.validate import EventIn, parse_event
from liveloop.fx.rates import RateTable
from liveloop.fx.service import TenantRates
from liveloop.kit.db.bulk import BulkInsert, ExistingKeys
from liveloop.kit.db.database import Database
from liveloop.kit.db.writer import WriterFailed
from liveloop.kit.errors import LiveloopError, NotFound, Unavailable
from liveloop.rewards.ledger import LedgerRows, LedgerTables, LedgerWrites
from liveloop.users.models import users

log = logging.getLogger("liveloop.ingest")

# Long enough to cover every batch in flight and any retry racing it; older ids are found in the log.
RECENT_IDS = 200_000


class DuplicateRace(Exception):
    """An event id the engine took as new was already in the log: the state must be rebuilt."""


class RecentIds:
    """Event ids applied lately, per tenant, so concurrent retries are caught before the log."""

    def __init__(self, capacity: int = RECENT_IDS) -> None:
        self._set: set[tuple[str, str]] = set()
        self._order: deque[tuple[str, str]] = deque()
        self._capacity = capacity

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._set

    def add(self, key: tuple[str, str]) -> None:
        self._set.add(key)
        self._order.append(key)
        if len(self._order) > self._capacity:
            self._set.discard(self._order.popleft())

    def discard(self, tenant_id: str, event_ids: list[str]) -> None:
        # Their entries stay in the queue: one popped later at most forgets an id early (the log has it).
        for event_id in event_ids:
            self._set.discard((tenant_id, event_id))


@dataclass(slots=True)
class BatchResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


class Ingestor:
    def __init__(self, db: Database, live: LiveCampaigns, fx: TenantRates, *, future_tolerance_ms: int) -> None:
        self._db = db
        self._fx = fx
        # Called with (tenant_id, [(LiveCampaign, effect), ...]) once those effects are durable:
        # pushes to viewers leave only after commit, so a failed write pushes nothing.
        self.on_committed: Callable[[str, list], None] | None = None
        # Called with (tenant_id, campaign_id) after this process logged events of a campaign
        # that other processes share (PostgreSQL), so they can catch up at once.
        self.on_logged: Callable[[str, str], None] | None = None
        self._live = live
        self._recent = RecentIds()
        self._future_tolerance_ms = future_tolerance_ms
        self._insert_events = BulkInsert(db.dialect, events, EVENT_COLUMNS, skip_conflicts=True)
        self._insert_users = BulkInsert(db.dialect, users, USER_COLUMNS, skip_conflicts=True)
        self._logged_ids = ExistingKeys(db.dialect, events, "tenant_id", "id")
        self._ledger = LedgerTables(db.dialect)
        self._clicks: list[tuple] = []
        self._click_effects: list[tuple] = []
        self._click_flush_scheduled = False
        self._click_writes: set[asyncio.Task] = set()
        self._shared_clicks: dict[tuple[str, str], list[tuple[Event, tuple]]] = {}

    async def ingest(self, tenant_id: str, raw_events: list, *, now: int) -> BatchResult:
        result = BatchResult()
        parsed: list[tuple[int, EventIn, Event]] = []
        for index, raw in enumerate(raw_events):
            try:
                inp, ev = parse_event(raw, now=now, future_tolerance_ms=self._future_tolerance_ms)
            except LiveloopError as exc:
                result.rejected.append({"index": index, "error": exc.body()["error"]})
                continue
            parsed.append((index, inp, ev))

        campaigns: dict[str, LiveCampaign] = {}
        for _index, inp, _ev in parsed:
            if inp.campaign_id not in campaigns:
                try:
                    # Existence only: with several processes, `hold` catches up just before applying.
                    campaigns[inp.campaign_id] = await self._live.get_uncaught(tenant_id, inp.campaign_id)
                except NotFound:
                    campaigns[inp.campaign_id] = None  # type: ignore[assignment]
        known = []
        for index, inp, ev in parsed:
            if campaigns[inp.campaign_id] is None:
                result.rejected.append({"index": index, "error": {
                    "code": "not_found", "message": f"campaign {inp.campaign_id!r} not found",
                    "field": "campaign_id"}})
            else:
                known.append((index, inp, ev))
        result.rejected.sort(key=lambda r: r["index"])
        if not self._db.shared:
            await self._apply_and_log(tenant_id, known, campaigns, result, now=now)
            return result
        # Several processes share the log: each campaign's events are applied under its lock.
        by_campaign: dict[str, list] = {}
        for item in known:
            by_campaign.setdefault(item[1].campaign_id, []).append(item)
        for campaign_id, items in by_campaign.items():
            async with self._live.hold(tenant_id, campaign_id) as live:
                await self._learn_codes(live, [ev.ref for _i, _inp, ev in items])
                await self._apply_and_log(tenant_id, items, {campaign_id: live}, result, now=now)
        return result

    async def _learn_codes(self, live: LiveCampaign, refs: list[str | None]) -> None:
        """Invite codes another process created since this one loaded the campaign."""
        state = live.state
        unknown = {ref for ref in refs if ref and ref not in state.codes}
        if unknown:
            state.codes.update(await self._db.read(lambda conn: find_codes(conn, state, unknown)))

    async def _apply_and_log(self, tenant_id: str, known: list, campaigns: dict[str, LiveCampaign],
                             result: BatchResult, *, now: int) -> None:
        effects: list = []
        foreign = any(ev.type == "order_paid" and ev.currency != campaigns[inp.campaign_id].state.config.currency
                      for _i, inp, ev in known)
        rates = await self._fx.table(tenant_id) if foreign else None
        candidates = [ev.id for _i, _inp, ev in known if (tenant_id, ev.id) not in self._recent]
        logged: set[str] = set()
        if candidates:
            logged = await self._db.read(lambda conn: self._logged_ids(conn, tenant_id, candidates))

        # After a failed commit, the loaded states were dropped while this batch awaited: applying
        # it to a dropped state would leave the rebuilt one without it. The client sends it again.
        for live in campaigns.values():
            if live is not None and self._live.peek(tenant_id, live.state.config.id) is not live:
                raise Unavailable("the campaign's state is being rebuilt; nothing was stored, send the batch again")

        # From here to the write there is no await: events are applied and queued in arrival order.
        rows: list[tuple] = []
        ledger = LedgerWrites(tenant_id)
        new_users: list[tuple] = []
        recent = self._recent
        too_large = False
        for index, inp, ev in known:
            key = (tenant_id, ev.id)
            if key in recent or ev.id in logged:
                result.duplicates += 1
                continue
            live = campaigns[inp.campaign_id]
            state = live.state
            if ev.type == "order_paid":
                try:
                    ev = _valued(ev, state.config.currency, rates)
                except OverflowError:
                    # Its value in the campaign currency would not fit storage: refused before the writer.
                    result.rejected.append({"index": index, "error": _TOO_LARGE})
                    too_large = True
                    continue
            recent.add(key)
            for effect in state.apply(ev, now):
                # Exact types (effects are never subclassed): cheaper than isinstance, per effect.
                kind = type(effect)
                if kind is NewUser:
                    new_users.append(_user_row(tenant_id, live, effect.user_id, now))
                elif kind is RewardIssued or kind is RewardStatusChanged:
                    ledger.add(state.config.id, effect)
                effects.append((live, effect))
            rows.append(_event_row(tenant_id, inp, ev, now))
        result.accepted += len(rows)
        if too_large:
            result.rejected.sort(key=lambda r: r["index"])
        if not rows:
            return
        ledger_rows = ledger.rows()
        # If this write fails, only these campaigns' states are dropped (they hold its events).
        touched = frozenset((tenant_id, cid) for cid, live in campaigns.items() if live is not None)
        if self._db.shared:
            # Under the campaign's lock: the log position after this write is this state's.
            [live] = campaigns.values()
            config = live.state.config

            def write(conn: sa.Connection) -> int:
                self._write(conn, rows, new_users, ledger_rows)
                return last_seq(conn, tenant_id, config.id)

            live.state.last_seq = await self._write_batch(tenant_id, rows, write, touched)
            self._logged(tenant_id, config.id)
        else:
            await self._write_batch(tenant_id, rows, lambda conn: self._write(conn, rows, new_users, ledger_rows),
                                    touched)
        self._committed(tenant_id, effects)

    async def _write_batch(self, tenant_id: str, rows: list[tuple], fn: Callable[[sa.Connection], int | None],
                           campaigns: frozenset[tuple[str, str]]) -> int | None:
        try:
            return await self._db.write(fn, campaigns=campaigns)
        except WriterFailed:
            # Nothing of the batch was stored: sent again, its events must not pass for duplicates.
            self._recent.discard(tenant_id, [row[1] for row in rows])
            raise

    def _logged(self, tenant_id: str, campaign_id: str) -> None:
        if self.on_logged is not None:
            self.on_logged(tenant_id, campaign_id)

    def _committed(self, tenant_id: str, effects: list) -> None:
        if effects and self.on_committed is not None:
            self.on_committed(tenant_id, effects)

    def record_click(self, tenant_id: str, live: LiveCampaign, ev: Event, *, ip: str | None, now: int) -> None:
        """A share-link click: applied now, logged by the next group commit without being awaited.

        The redirect does not wait for the disk: an anonymous click only adds to counters, so its
        place in the log does not change any replayed result, and a click lost to a crash in the
        few milliseconds before its commit was never acknowledged to anybody who could resend it.
        """
        row = (tenant_id, ev.id, live.state.config.id, "click", None, ev.at, ev.ref, None, ip, None, None, None, now,
               None)
        if self._db.shared:
            # Other processes write this campaign too: the click is applied under its lock.
            self._shared_clicks.setdefault((tenant_id, live.state.config.id), []).append((ev, row))
        else:
            self._clicks.append(row)
            self._click_effects.extend((tenant_id, live, effect) for effect in live.state.apply(ev, now))
        if not self._click_flush_scheduled:
            self._click_flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_clicks)

    def _flush_clicks(self) -> None:
        rows, effects, shared = self._clicks, self._click_effects, self._shared_clicks
        self._clicks, self._click_effects, self._shared_clicks = [], [], {}
        self._click_flush_scheduled = False
        writes = [self._write_clicks(rows, effects)] if rows else []
        writes += [self._write_shared_clicks(tenant_id, cid, items) for (tenant_id, cid), items in shared.items()]
        for write in writes:
            task = asyncio.ensure_future(write)
            self._click_writes.add(task)
            task.add_done_callback(self._click_writes.discard)

    async def _write_shared_clicks(self, tenant_id: str, campaign_id: str, items: list[tuple[Event, tuple]]) -> None:
        try:
            async with self._live.hold(tenant_id, campaign_id) as live:
                effects = [(live, effect) for ev, row in items for effect in live.state.apply(ev, row[-2])]
                rows = [row for _ev, row in items]

                def write(conn: sa.Connection) -> int:
                    self._write(conn, rows, [], None)
                    return last_seq(conn, tenant_id, campaign_id)

                live.state.last_seq = await self._db.write(write, campaigns=frozenset({(tenant_id, campaign_id)}))
            self._logged(tenant_id, campaign_id)
        except (WriterFailed, LiveloopError):
            log.warning("%d share-link clicks were not stored", len(items))
            return
        self._committed(tenant_id, effects)

    async def _write_clicks(self, rows: list[tuple], effects: list[tuple]) -> None:
        try:
            await self._db.write(lambda conn: self._write(conn, rows, [], None),
                                 campaigns=frozenset((row[0], row[2]) for row in rows))
        except WriterFailed:
            log.warning("%d share-link clicks were not stored", len(rows))
            return
        by_tenant: dict[str, list] = {}
        for tenant_id, live, effect in effects:
            by_tenant.setdefault(tenant_id, []).append((live, effect))
        for tenant_id, items in by_tenant.items():
            self._committed(tenant_id, items)

    async def drain(self) -> None:
        """Wait until every click recorded so far is committed (at shutdown)."""
        if self._clicks or self._shared_clicks:
            self._flush_clicks()
        while self._click_writes:
            await asyncio.gather(*self._click_writes, return_exceptions=True)

    def _write(self, conn: sa.Connection, rows: list[tuple], new_users: list[tuple], ledger: LedgerRows | None) -> None:
        inserted = self._insert_events(conn, rows)
        if inserted != len(rows) and inserted >= 0:
            raise DuplicateRace(f"{len(rows) - inserted} events were already logged")
        self._insert_users(conn, new_users)
        if ledger is not None:
            self._ledger.write(conn, ledger)


EVENT_COLUMNS = ("tenant_id", "id", "campaign_id", "type", "user_id", "at", "ref", "device_id", "ip", "order_id",
                 "amount", "currency", "received_at", "value")
USER_COLUMNS = ("tenant_id", "user_id", "market", "consents", "created_at", "updated_at")


def _event_row(tenant_id: str, inp: EventIn, ev: Event, now: int) -> tuple:
    return (tenant_id, ev.id, inp.campaign_id, ev.type, ev.user_id, ev.at, ev.ref, inp.device_id, inp.ip,
            ev.order_id, ev.amount, ev.currency, now, ev.value)


_TOO_LARGE = {"code": "invalid", "field": "order.amount",
              "message": "order.amount is worth more in the campaign currency than liveloop can hold"}


def _valued(ev: Event, currency: str, rates: RateTable | None) -> Event:
    """An order with its amount in the campaign currency (None when no rate is known).

    OverflowError when that value would not fit storage (kit/limits.py MAX_MINOR).
    """
    if ev.currency == currency:
        value = ev.amount
    else:
        value = rates.convert(ev.amount, ev.currency, currency, ev.at) if rates and ev.amount is not None else None
    # Made directly: dataclasses.replace inspects the fields on every call (7 times slower).
    return Event(ev.id, ev.type, ev.user_id, ev.at, ev.ref, ev.order_id, ev.amount, ev.currency, value)


def _user_row(tenant_id: str, live: LiveCampaign, user_id: str, now: int) -> tuple:
    # A user first seen in an event is created implicitly, in the campaign's market.
    return (tenant_id, user_id, live.body["market"], "{}", now, now)
