"""Event ingestion: dedupe, apply to the engine in arrival order, write once, reply when durable."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol, TypedDict

from liveloop.engine.model import Event, NewUser, RewardIssued, RewardStatusChanged
from liveloop.events.committed import CommittedEffects
from liveloop.events.gate import CampaignGate
from liveloop.events.live import LiveCampaign
from liveloop.events.store import BatchWrite, EventRow, EventStore, UserRow
from liveloop.events.validate import EventFields, parse_event
from liveloop.fx.rates import RateTable
from liveloop.fx.service import TenantRates
from liveloop.kit import clock
from liveloop.kit.db.writer import WriterFailed
from liveloop.kit.errors import LiveloopError, NotFound, Unavailable
from liveloop.ops import metrics
from liveloop.rewards.ledger import LedgerWrites

log = logging.getLogger("liveloop.ingest")

# Long enough to cover every batch in flight and any retry racing it; older ids are found in the log.
RECENT_IDS = 200_000


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


class FraudScreen(Protocol):
    """Fraud checks (fraud/screen.py): a `fraud_check` event logged before each attributing event."""

    async def prepare(self, tenant_id: str, known: list, campaigns: dict[str, Any], *, now: int) -> None: ...

    def check(self, tenant_id: str, state: Any, device_id: str | None, ip: str | None, ev: Event) -> Event | None: ...

    def logged(self, tenant_id: str, spans: list[tuple[str, int, int]], rows: list) -> None: ...


class RejectedEvent(TypedDict):
    index: int
    error: dict


@dataclass(slots=True)
class BatchResult:
    """Events accepted, duplicates (already in the log), and each rejected event's index and error."""

    accepted: int
    duplicates: int
    rejected: list[RejectedEvent]

    def as_dict(self) -> dict:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


class Ingestor:
    """The pipeline: parse -> gate -> engine -> store -> commit -> committed effects to subscribers."""

    def __init__(self, gate: CampaignGate, store: EventStore, fx: TenantRates, committed: CommittedEffects, *,
                 future_tolerance_ms: int, fraud: FraudScreen | None = None) -> None:
        self._gate = gate
        self._fraud = fraud
        self._store = store
        self._fx = fx
        self._committed = committed
        self._recent = RecentIds()
        self._future_tolerance_ms = future_tolerance_ms
        self._clicks: dict[tuple[str, str], list[tuple[Event, EventRow]]] = {}
        self._click_flush_scheduled = False
        self._click_writes: set[asyncio.Task] = set()
        # Tenants with a click write in flight: their next write takes every click that came meanwhile,
        # so a slow commit (a shared database) makes bigger writes rather than a queue of small ones.
        self._writing_clicks: set[str] = set()

    async def ingest(self, tenant_id: str, raw_events: list, *, now: int) -> BatchResult:
        try:
            result = await self._ingest(tenant_id, raw_events, now=now)
        except (WriterFailed, Unavailable):
            metrics.rejected("unavailable").inc(len(raw_events))  # answered 503: nothing of it was stored
            raise
        metrics.count_events(result.accepted, result.duplicates, [r["error"]["code"] for r in result.rejected])
        return result

    async def _ingest(self, tenant_id: str, raw_events: list, *, now: int) -> BatchResult:
        result = BatchResult(0, 0, [])
        parsed: list[tuple[int, EventFields, Event]] = []
        for index, raw in enumerate(raw_events):
            try:
                inp, ev = parse_event(raw, now=now, future_tolerance_ms=self._future_tolerance_ms)
            except LiveloopError as exc:
                result.rejected.append({"index": index, "error": exc.body()["error"]})
                continue
            parsed.append((index, inp, ev))

        known_campaigns: set[str] = set()
        unknown: set[str] = set()
        for _index, inp, _ev in parsed:
            cid = inp.campaign_id
            if cid not in known_campaigns and cid not in unknown:
                try:
                    # Existence only: the gate catches the state up when it is held.
                    await self._gate.get_uncaught(tenant_id, cid)
                    known_campaigns.add(cid)
                except NotFound:
                    unknown.add(cid)
        known = []
        for index, inp, ev in parsed:
            if inp.campaign_id in unknown:
                result.rejected.append({"index": index, "error": {
                    "code": "not_found", "message": f"campaign {inp.campaign_id!r} not found",
                    "field": "campaign_id"}})
            else:
                known.append((index, inp, ev))
        result.rejected.sort(key=lambda r: r["index"])
        if not known:
            return result
        # Which events the log already holds, asked before the campaigns' locks: the lock is held for
        # less (other batches of the campaign wait for it). Events that reach the log meanwhile are
        # this process's (its `_recent` ids, checked under the lock) or another's, caught up when the
        # lock is taken: then the question is asked again. (An id another process logs meanwhile in a
        # campaign this batch does not hold is refused by the log's unique key: the batch fails and
        # its resending finds it.)
        candidates = [ev.id for _i, _inp, ev in known if (tenant_id, ev.id) not in self._recent]
        watched = {cid: self._gate.peek(tenant_id, cid) for cid in known_campaigns}
        marks = {cid: live.caught_up for cid, live in watched.items() if live is not None}
        logged = await self._store.logged_ids(tenant_id, candidates) if candidates else set()
        async with self._gate.hold(tenant_id, known_campaigns, pipelined=True) as campaigns:
            if candidates and any(live is not watched[cid] or live.caught_up != marks.get(cid)
                                  for cid, live in campaigns.items()):
                logged = await self._store.logged_ids(tenant_id, candidates)
            for live in campaigns.values():
                await self._gate.learn_codes(live, [ev.ref for _i, inp, ev in known
                                                    if inp.campaign_id == live.state.config.id])
            await self._apply_and_log(tenant_id, known, campaigns, logged, result, now=now)
        return result

    async def _apply_and_log(self, tenant_id: str, known: list, campaigns: dict[str, LiveCampaign],
                             logged: set[str], result: BatchResult, *, now: int) -> None:
        """`logged`: those of the batch's event ids that the log held when the locks were taken."""
        effects: list = []
        foreign = any(ev.type == "order_paid" and ev.currency != campaigns[inp.campaign_id].state.config.currency
                      for _i, inp, ev in known)
        rates = await self._fx.table(tenant_id) if foreign else None
        fraud = self._fraud
        if fraud is not None:
            await fraud.prepare(tenant_id, known, campaigns, now=now)

        # After a failed commit, the loaded states were dropped while this batch awaited: applying
        # it to a dropped state would leave the rebuilt one without it. The client sends it again.
        for live in campaigns.values():
            if self._gate.peek(tenant_id, live.state.config.id) is not live:
                raise Unavailable("the campaign's state is being rebuilt; nothing was stored, send the batch again")

        # From here to the write there is no await: events are applied and queued in arrival order.
        fresh: list[str] = []  # ids of this batch's events applied here (in `recent` since)
        try:
            batch = BatchWrite()
            rows, new_users = batch.events, batch.users
            ledger = LedgerWrites(tenant_id)
            recent = self._recent
            refused = False
            checks = 0
            unsettled = False  # a duplicate of this process's own recent events: its write may still be on its way
            for index, inp, ev in known:
                key = (tenant_id, ev.id)
                if key in recent or ev.id in logged:
                    result.duplicates += 1
                    unsettled = unsettled or ev.id not in logged
                    continue
                live = campaigns[inp.campaign_id]
                state = live.state
                if state.config.cancelled:
                    # Decided on the state caught up with the log: no event is applied after a cancel.
                    result.rejected.append({"index": index, "error": _cancelled_error(inp.campaign_id)})
                    refused = True
                    continue
                if ev.type == "order_paid":
                    try:
                        ev = _valued(ev, state.config.currency, rates)
                    except OverflowError:
                        # Its value in the campaign currency would not fit storage: refused before the writer.
                        result.rejected.append({"index": index, "error": _TOO_LARGE})
                        refused = True
                        continue
                recent.add(key)
                fresh.append(ev.id)
                if fraud is not None:
                    check = fraud.check(tenant_id, state, inp.device_id, inp.ip, ev)
                    if check is not None:
                        # Logged just before the event it judges: a replay holds or declines the same rewards.
                        checks += 1
                        for effect in state.apply(check, now):
                            effects.append((live, effect))
                        rows.append(EventRow(tenant_id, check.id, inp.campaign_id, check.type, check.user_id, check.at,
                                             check.ref, None, None, check.order_id, None, None, now, check.value))
                for effect in state.apply(ev, now):
                    # Exact types (effects are never subclassed): cheaper than isinstance, per effect.
                    kind = type(effect)
                    if kind is NewUser:
                        new_users.append(UserRow(tenant_id, effect.user_id, live.body["market"], "{}", now, now))
                    elif kind is RewardIssued or kind is RewardStatusChanged:
                        ledger.add(state.config.id, effect)
                    effects.append((live, effect))
                rows.append(EventRow(tenant_id, ev.id, inp.campaign_id, ev.type, ev.user_id, ev.at, ev.ref,
                                     inp.device_id, inp.ip, ev.order_id, ev.amount, ev.currency, now, ev.value,
                                     ev.group_id, ev.sku))
            result.accepted += len(rows) - checks
            if refused:
                result.rejected.sort(key=lambda r: r["index"])
            if not rows:
                if unsettled:
                    # Acknowledged only once the events it duplicates are durable: if their write fails, the client
                    # hears so and sends them again (a batch with rows of its own is refused by the writer then).
                    await self._gate.settled(tenant_id, campaigns)
                return
            batch.ledger = ledger.rows()
            batch.staged = self._committed.staged(tenant_id, effects, now)
        except BaseException:
            # Raised after some events were applied and before the batch's write was queued (a bug): the states
            # hold events that will never be stored. They are rebuilt from the log, and the events are not taken
            # for duplicates when the batch is sent again (acknowledged then, they would never be stored).
            if fresh:
                self._recent.discard(tenant_id, fresh)
                self._gate.drop([(tenant_id, cid) for cid in campaigns])
            raise
        store = self._store
        heads = {cid: live.state.last_seq for cid, live in campaigns.items()}
        try:
            await self._gate.commit(tenant_id, campaigns, lambda conn: store.write(conn, batch))
        except WriterFailed:
            # Nothing of the batch was stored: sent again, its events must not pass for duplicates.
            self._recent.discard(tenant_id, [row.id for row in rows])
            raise
        if fraud is not None:
            # Under the campaigns' locks, every event logged in (head before, head after] is this batch's.
            fraud.logged(tenant_id, [(cid, head, campaigns[cid].state.last_seq) for cid, head in heads.items()], rows)
        self._committed.publish(tenant_id, effects, received_at=now)

    def record_click(self, tenant_id: str, live: LiveCampaign, ev: Event, *, ip: str | None, now: int) -> None:
        """A share-link click: applied and logged by the next group commit, without being awaited.

        The redirect does not wait for the disk: an anonymous click only adds to counters, so its
        place in the log does not change any replayed result, and a click lost to a crash in the
        few milliseconds before its commit was never acknowledged to anybody who could resend it.
        """
        campaign_id = live.state.config.id
        row = EventRow(tenant_id, ev.id, campaign_id, "click", None, ev.at, ev.ref, None, ip, None, None, None, now,
                       None)
        self._clicks.setdefault((tenant_id, campaign_id), []).append((ev, row))
        if not self._click_flush_scheduled:
            self._click_flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_clicks)

    def _flush_clicks(self) -> None:
        self._click_flush_scheduled = False
        by_tenant: dict[str, dict[str, list[tuple[Event, EventRow]]]] = {}
        waiting: dict[tuple[str, str], list[tuple[Event, EventRow]]] = {}
        for (tenant_id, campaign_id), items in self._clicks.items():
            if tenant_id in self._writing_clicks:
                waiting[(tenant_id, campaign_id)] = items
            else:
                by_tenant.setdefault(tenant_id, {})[campaign_id] = items
        self._clicks = waiting
        for tenant_id, clicks in by_tenant.items():
            self._writing_clicks.add(tenant_id)
            task = asyncio.ensure_future(self._write_clicks(tenant_id, clicks))
            self._click_writes.add(task)
            task.add_done_callback(functools.partial(self._clicks_written, tenant_id))

    def _clicks_written(self, tenant_id: str, task: asyncio.Task) -> None:
        self._click_writes.discard(task)
        self._writing_clicks.discard(tenant_id)
        if self._clicks and not self._click_flush_scheduled:  # the clicks that waited for this write
            self._click_flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_clicks)

    async def _write_clicks(self, tenant_id: str, clicks: dict[str, list[tuple[Event, EventRow]]]) -> None:
        received_at = min(items[0][1].received_at for items in clicks.values())
        try:
            async with self._gate.hold(tenant_id, clicks, pipelined=True) as campaigns:
                # A click that raced its campaign's cancellation is not counted, like the ones after it.
                clicks = {cid: items for cid, items in clicks.items() if not campaigns[cid].state.config.cancelled}
                effects = [(campaigns[cid], effect) for cid, items in clicks.items() for ev, row in items
                           for effect in campaigns[cid].state.apply(ev, row.received_at)]
                batch = BatchWrite([row for items in clicks.values() for _ev, row in items])
                if not batch.events:
                    return
                batch.staged = self._committed.staged(tenant_id, effects, clock.now_ms())
                store = self._store
                await self._gate.commit(tenant_id, campaigns, lambda conn: store.write(conn, batch))
        except (WriterFailed, LiveloopError):
            lost = sum(len(items) for items in clicks.values())
            metrics.CLICKS.labels("unstored").inc(lost)
            log.warning("%d share-link clicks were not stored", lost, extra={"event": "clicks_unstored"})
            return
        metrics.CLICKS.labels("stored").inc(len(batch.events))
        self._committed.publish(tenant_id, effects, received_at=received_at)

    async def drain(self) -> None:
        """Wait until every click recorded so far is committed (at shutdown)."""
        while self._clicks or self._click_writes:
            if self._clicks:
                self._flush_clicks()
            if self._click_writes:
                await asyncio.gather(*self._click_writes, return_exceptions=True)


def _cancelled_error(campaign_id: str) -> dict:
    return {"code": "campaign.cancelled", "field": "campaign_id",
            "message": f"campaign {campaign_id!r} was cancelled: its events change nothing and are not kept"}


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
    return Event(ev.id, ev.type, ev.user_id, ev.at, ev.ref, ev.order_id, ev.amount, ev.currency, value, ev.group_id,
                 ev.sku)
