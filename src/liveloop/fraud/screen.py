"""Fraud checks in the ingestion path: the tenant's signal state, and the `fraud_check` it logs.

The ingestor hands each batch to `prepare` (one await, before the batch is applied: the tenant's
state is loaded once, the blocklist reread every few seconds, the emails of the batch's would-be
referees and their referrers read in one query) and each event to `check` (plain Python, no await):
the event's device and address are recorded, and an event that is about to attribute a referee is
preceded by a `fraud_check` event carrying the risk and the signals. The engine applies that event
like any other (engine/state.py), so the hold or decline it decides is in the log.

`stage` is a stager of committed effects: a referral held for review opens its review row, its
`review.opened` webhook and its automatic approval job in the same transaction as the check.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from typing import Any

import orjson
import sqlalchemy as sa

from liveloop.engine.model import (
    CAMPAIGN_CHANGE,
    DRAW_WIN,
    FRAUD_CHECK,
    REVIEW_DECISION,
    Event,
    ReviewOpened,
)
from liveloop.events.models import events
from liveloop.fraud import repository
from liveloop.fraud.signals import DAY_MS, Signal, TenantSignals, risk_of, to_mask
from liveloop.invites.models import invites
from liveloop.kit.db.bulk import RowsByKeys
from liveloop.kit.db.database import Database
from liveloop.ops import metrics
from liveloop.scheduler import repository as jobs
from liveloop.scheduler.repository import Planned
from liveloop.users.models import users
from liveloop.webhooks.outbox import Outbox, message_row

BLOCKLIST_TTL_MS = 5_000  # a blocklist changed by another process is in force within this
CATCH_UP_MS = 1_000  # with several processes, what the others logged is learnt at most this late
PRUNE_EVERY_MS = 600_000
AUTO_APPROVE = "review.auto_approve"


def review_id(tenant_id: str, campaign_id: str, referee: str) -> str:
    raw = "\x1f".join((tenant_id, campaign_id, referee)).encode()
    return "rv_" + hashlib.sha256(raw).hexdigest()[:24]


class FraudChecks:
    """The signal state of each tenant seen by this process, kept up to date by the ingestor."""

    def __init__(self, db: Database, outbox: Outbox, *, shared: bool) -> None:
        """`shared`: other processes write the same log (decided once, at start-up); their events'
        devices, addresses and referrals are read from it, at most every CATCH_UP_MS."""
        self._db = db
        self._shared = shared
        self._outbox = outbox
        self._tenants: dict[str, TenantSignals] = {}
        self._signals: dict[str, list[Signal]] = {}  # check event id -> its signals, until staged
        self._loading: dict[str, asyncio.Future] = {}  # tenant -> its state being loaded
        self._pruned_at = 0
        # The emails of a batch's would-be referees and referrers (the partial index ix_users_with_email).
        self._emails = RowsByKeys(db.dialect, users, "tenant_id", "user_id", ("user_id", "email_hash", "email_domain"),
                                  where="email_hash IS NOT NULL")

    def signals_of(self, tenant_id: str) -> TenantSignals | None:
        return self._tenants.get(tenant_id)

    def blocklist_changed(self, tenant_id: str) -> None:
        """This process changed the blocklist: the next batch rereads it."""
        signals = self._tenants.get(tenant_id)
        if signals is not None:
            signals.blocklist_read_at = 0

    async def prepare(self, tenant_id: str, known: list, campaigns: dict[str, Any], *, now: int) -> None:
        """Before a batch is applied: the tenant's state loaded, the blocklist and emails fresh."""
        signals = self._tenants.get(tenant_id)
        if signals is None:
            signals = await self._load_once(tenant_id, now)
        elif self._shared and now - signals.caught_up_at > CATCH_UP_MS:
            signals.caught_up_at = now
            since = signals.last_seq
            own = signals.first_touch.own_spans  # kept when shared
            skipped = own.past(since)
            top = await self._db.read(lambda conn: _catch_up(conn, tenant_id, signals, since, skipped))
            if top is not None:
                own.forget_to(top)
        if now - signals.blocklist_read_at > BLOCKLIST_TTL_MS:
            signals.blocklist = await self._db.read(lambda conn: repository.blocklist(conn, tenant_id=tenant_id))
            signals.blocklist_read_at = now
        if now - self._pruned_at > PRUNE_EVERY_MS:
            self._pruned_at = now
            for tenant in self._tenants.values():
                tenant.forget_older(now - 2 * DAY_MS)
        wanted: set[str] = set()
        for _index, _inp, ev in known:
            if ev.ref is None or ev.user_id is None:
                continue
            state = campaigns[_inp.campaign_id].state
            owner = state.codes.get(ev.ref)
            if owner is not None and owner != ev.user_id and ev.user_id not in state.participants:
                wanted.add(ev.user_id)
                wanted.add(owner)
        if wanted:
            emails = self._emails
            found = await self._db.read(lambda conn: {uid: (h, d) for uid, h, d in
                                                      emails.rows(conn, tenant_id, sorted(wanted))})
            for user_id in wanted:
                email = found.get(user_id)
                if email is None:
                    signals.emails.pop(user_id, None)
                else:
                    signals.emails[user_id] = email

    async def _load_once(self, tenant_id: str, now: int) -> TenantSignals:
        """The tenant's state, loaded once however many batches ask at once: a second load finishing
        later would replace the first and lose what batches checked against it meanwhile (their own
        events are not read back). Shielded: a batch given up does not cancel the others' load."""
        loading = self._loading.get(tenant_id)
        if loading is None:
            loading = self._loading[tenant_id] = asyncio.ensure_future(self._read_tenant(tenant_id, now))
        return await asyncio.shield(loading)

    async def _read_tenant(self, tenant_id: str, now: int) -> TenantSignals:
        try:
            signals = await self._db.read(lambda conn: _load(conn, tenant_id, shared=self._shared))
            signals.blocklist_read_at = signals.caught_up_at = now
            self._tenants[tenant_id] = signals
            return signals
        finally:
            del self._loading[tenant_id]

    def check(self, tenant_id: str, state: Any, device_id: str | None, ip: str | None, ev: Event) -> Event | None:
        """Record the event's device and address; if it attributes a referee, the `fraud_check` to log first."""
        signals = self._tenants.get(tenant_id)
        uid = ev.user_id
        if signals is None or uid is None:
            return None
        if device_id is not None or ip is not None:
            signals.observe(uid, device_id, ip, ev.at)
        if ev.ref is None:
            return None
        owner = state.codes.get(ev.ref)
        if owner is None or owner == uid or uid in state.participants:
            return None
        config = state.config
        found = signals.assess(campaign_id=config.id, referee=uid, referrer=owner, at=ev.at,
                               velocity_per_minute=config.fraud.velocity_per_minute)
        if not found:
            # A clear referral needs no check in the log: with none, the engine grants as usual.
            # (Logging one per attribution cost about a fifth of ingestion's throughput.)
            return None
        codes = [s.code for s in found]
        check_id = "fc_" + hashlib.sha256(ev.id.encode()).hexdigest()[:32]
        if risk_of(codes) >= config.fraud.review_at:
            self._signals[check_id] = found
        return Event(check_id, FRAUD_CHECK, uid, ev.at, to_mask(codes) if codes else None, owner, None, None,
                     risk_of(codes))

    def logged(self, tenant_id: str, spans: list[tuple[str, int, int]], rows: list) -> None:
        """This batch is committed: it logged every event of these (campaign, head before, head after)
        spans, under the campaigns' locks, and `check` saw them all, so the catch-up need not read them
        back (without it a process read its own events again every second: as many rows as it
        ingests, issue 18). Their (campaign, user) pairs are noted instead, once committed: a failed
        write must leave no mark."""
        signals = self._tenants.get(tenant_id)
        touch = signals.first_touch if signals is not None else None
        if touch is None:
            return  # one process on its database: nothing is read back
        heads = {}
        for campaign_id, after, up_to in spans:
            touch.own_spans.add(campaign_id, after, up_to)
            heads[campaign_id] = after
        for row in rows:
            if row.user_id is not None and row.type not in _NOT_VIEWERS:
                touch.own(row.campaign_id, row.user_id, heads[row.campaign_id])

    def stage(self, tenant_id: str, effects: list, now: int) -> Callable[[sa.Connection], None] | None:
        """Review rows, `review.opened` messages and auto-approval jobs of the referrals held for review."""
        opened = [(live, effect) for live, effect in effects if type(effect) is ReviewOpened]
        if not opened:
            return None
        reviews, messages, planned = [], [], []
        for live, effect in opened:
            state = live.state
            cid = state.config.id
            found = self._signals.pop(effect.event_id, None) or [Signal(code, "") for code in effect.signals]
            row = {
                "id": review_id(tenant_id, cid, effect.referee), "tenant_id": tenant_id, "campaign_id": cid,
                "referrer": effect.referrer, "referee": effect.referee, "risk": effect.risk,
                "signals": orjson.dumps([{"code": s.code, "detail": s.detail} for s in found]).decode(),
                "status": "open", "opened_at": effect.at, "decided_at": None, "decided_by": None, "note": None,
            }
            reviews.append(row)
            messages.append(message_row(tenant_id, "review.opened",
                                        repository.review_read(row, reward_ids(state, effect.referee)), now))
            hours = state.config.fraud.auto_approve_hours
            planned.append((cid, Planned(AUTO_APPROVE, row["id"], effect.at + hours * 3_600_000)))
        outbox = self._outbox

        def write(conn: sa.Connection) -> None:
            repository.open_reviews(conn, reviews)
            outbox.write(conn, messages)
            for cid, job in planned:
                jobs.schedule(conn, tenant_id=tenant_id, campaign_id=cid, jobs=[job], now=now)

        return write


def reward_ids(state: Any, referee: str) -> list[str]:
    referral = state.referrals.get(referee)
    return [reward.id for reward in referral.rewards] if referral is not None else []


def _load(conn: sa.Connection, tenant_id: str, *, shared: bool) -> TenantSignals:
    """A tenant's signal state from its log: devices and addresses of users, the referral graph.

    `shared`: the first-touch bookkeeping is kept, to follow the referrals other processes log."""
    signals = TenantSignals()
    c = events.c
    signals.last_seq = conn.execute(sa.select(sa.func.max(c.seq))).scalar() or 0
    seen = _FirstTouch(dict(conn.execute(sa.select(invites.c.code, invites.c.user_id)
                                         .where(invites.c.tenant_id == tenant_id)).all()))
    rows = conn.execute(
        sa.select(c.seq, c.campaign_id, c.type, c.user_id, c.ref, c.device_id, c.ip, c.at)
        .where(c.tenant_id == tenant_id, c.seq <= signals.last_seq, c.user_id.is_not(None))
        .order_by(c.seq))
    edges = seen.scan(signals, rows)
    emails = dict(conn.execute(sa.select(users.c.user_id, users.c.email_hash)
                               .where(users.c.tenant_id == tenant_id, users.c.email_hash.is_not(None))).all())
    for referee, referrer in edges:
        email_hash = emails.get(referee)
        if email_hash is not None:
            signals.referee_emails.setdefault(referrer, set()).add(email_hash)
    signals.blocklist = repository.blocklist(conn, tenant_id=tenant_id)
    signals.first_touch = seen if shared else None
    return signals


_NOT_VIEWERS = frozenset((FRAUD_CHECK, REVIEW_DECISION, DRAW_WIN, CAMPAIGN_CHANGE))


class _FirstTouch:
    """Which (campaign, user) pairs have had an event, and the owners of invite codes: a user's first
    event in a campaign, through another's code, attributes it (SPEC section 2). Kept with several
    processes only, as are the spans of the log this process wrote itself (not read back)."""

    def __init__(self, owners: dict[str, str]) -> None:
        self.owners = owners
        # (campaign, user) -> the log position after which the pair has had an event: 0 once its first
        # event was read from the log; for this process's own events, which are not read back, the
        # campaign's head before the batch that held it: an event another process logged at or before
        # that position came first, one logged after it did not.
        self.seen: dict[tuple[str, str], int] = {}
        self.own_spans = OwnSpans()

    def own(self, campaign_id: str, user_id: str, head: int) -> None:
        """This process is logging an event of the user's in the campaign, after position `head`."""
        self.seen.setdefault((campaign_id, user_id), head)

    def scan(self, signals: TenantSignals, rows) -> list[tuple[str, str]]:
        """Observe logged viewer events in log order; returns the referrals (referee, referrer) they made."""
        edges = []
        seen = self.seen
        for seq, campaign_id, kind, user_id, ref, device_id, ip, at in rows:
            if kind in _NOT_VIEWERS:
                continue
            if device_id is not None or ip is not None:
                signals.observe(user_id, device_id, ip, at)
            key = (campaign_id, user_id)
            after = seen.get(key)
            if after is None or seq <= after:
                seen[key] = 0
                owner = self.owners.get(ref) if ref is not None else None
                if owner is not None and owner != user_id:
                    edges.append((user_id, owner))
                    signals.add_referral(user_id, owner)
        return edges


class OwnSpans:
    """The parts of a tenant's log this process wrote itself: per campaign, spans (after, up_to] of `seq`
    in which every event of the campaign is this process's (it held the campaign's lock). A process
    that keeps a campaign writes one span after the other (or overlapping), merged into one."""

    MAX_SKIPPED = 32  # spans left out of one catch-up read (the widest): each is a condition of its query

    def __init__(self) -> None:
        self._spans: dict[str, list[list[int]]] = {}

    def add(self, campaign_id: str, after: int, up_to: int) -> None:
        if up_to <= after:
            return
        spans = self._spans.get(campaign_id)
        if spans is None:
            self._spans[campaign_id] = [[after, up_to]]
        elif spans[-1][0] <= after <= spans[-1][1]:
            # Follows the newest span, or overlaps it: a batch applied before the one before it was committed,
            # under the same hold of the lock (events/gate.py, tenures), takes its head from before that one.
            spans[-1][1] = max(spans[-1][1], up_to)
        else:
            spans.append([after, up_to])

    def past(self, known: int) -> list[tuple[str, int, int]]:
        """The spans with events after `known`, the widest first (at most MAX_SKIPPED)."""
        found = [(campaign_id, after, up_to) for campaign_id, spans in self._spans.items()
                 for after, up_to in spans if up_to > known]
        if len(found) > self.MAX_SKIPPED:
            found.sort(key=lambda span: span[1] - span[2])  # widest first; the rest is read back, harmlessly
            del found[self.MAX_SKIPPED:]
        return found

    def forget_to(self, top: int) -> None:
        """A catch-up read the log up to `top`: spans ending there or before are of no more use."""
        for campaign_id in list(self._spans):
            kept = [span for span in self._spans[campaign_id] if span[1] > top]
            if kept:
                self._spans[campaign_id] = kept
            else:
                del self._spans[campaign_id]


def _catch_up(conn: sa.Connection, tenant_id: str, signals: TenantSignals, known: int,
              skipped: list[tuple[str, int, int]]) -> int | None:
    """What the log holds past `known`, but for the `skipped` spans (this process's own events, whose
    devices, addresses and referrals `check` recorded): other processes' events. Returns the position
    read up to (None: nothing new).

    `seq` is the log's primary key: the range past `known` is read from its index, however large the log."""
    c = events.c
    top = conn.execute(sa.select(sa.func.max(c.seq)).where(c.seq > known)).scalar()
    if top is None:
        return None
    where = [c.seq > known, c.seq <= top, c.tenant_id == tenant_id, c.user_id.is_not(None)]
    where += [sa.not_(sa.and_(c.campaign_id == campaign_id, c.seq > after, c.seq <= up_to))
              for campaign_id, after, up_to in skipped]
    rows = conn.execute(
        sa.select(c.seq, c.campaign_id, c.type, c.user_id, c.ref, c.device_id, c.ip, c.at)
        .where(*where).order_by(c.seq)).all()
    metrics.FRAUD_CAUGHT_UP_EVENTS.inc(len(rows))
    seen = signals.first_touch
    if seen is not None:
        unknown = {row[4] for row in rows if row[4] is not None and row[4] not in seen.owners}
        if unknown:
            seen.owners.update(conn.execute(sa.select(invites.c.code, invites.c.user_id).where(
                invites.c.tenant_id == tenant_id, invites.c.code.in_(sorted(unknown)))).all())
        seen.scan(signals, rows)
    signals.last_seq = top
    return top
