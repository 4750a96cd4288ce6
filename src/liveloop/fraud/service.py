"""Review decisions (operators' and automatic) and the blocklist.

A decision is taken under the campaign's hold, on its state caught up with the log, and written in
one transaction: a `review_decision` event (which the engine applies: rewards released, or voided
with the referral's metrics), the ledger changes, the review row, the webhooks.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from liveloop.engine.model import REVIEW_DECISION, Event, RewardIssued, RewardStatusChanged
from liveloop.events.committed import CommittedEffects
from liveloop.events.gate import CampaignGate
from liveloop.events.store import BatchWrite, EventRow, EventStore
from liveloop.fraud import repository
from liveloop.fraud.screen import FraudChecks, reward_ids
from liveloop.kit.db.database import Database
from liveloop.kit.errors import Conflict, Invalid, LiveloopError
from liveloop.rewards.ledger import LedgerWrites
from liveloop.scheduler.repository import Job
from liveloop.scheduler.worker import Outcome
from liveloop.webhooks.outbox import Outbox, message_row

_STATUS = {"approve": "approved", "deny": "denied"}
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


@dataclass(slots=True)
class Decision:
    index: int
    id: str
    decision: str  # approve, deny


class Reviews:
    def __init__(self, db: Database, gate: CampaignGate, store: EventStore, committed: CommittedEffects,
                 outbox: Outbox, checks: FraudChecks) -> None:
        self._db = db
        self._gate = gate
        self._store = store
        self._committed = committed
        self._outbox = outbox
        self._checks = checks

    async def page(self, tenant_id: str, campaign_id: str, *, status: str | None, limit: int,
                   cursor: str | None, before: str | None = None) -> dict:
        """A page of the queue (after `cursor`, or just before `before`); `previous_cursor` reads the page
        before it with `before` (the console's; the API pages forward only)."""
        live = await self._gate.get(tenant_id, campaign_id)  # NotFound for another tenant's campaign
        rows, next_cursor, previous_cursor = await self._db.read(lambda conn: repository.page(
            conn, tenant_id=tenant_id, campaign_id=campaign_id, status=status, limit=limit, cursor=cursor,
            before=before))
        return {"reviews": [repository.review_read(row, reward_ids(live.state, row["referee"])) for row in rows],
                "next_cursor": next_cursor, "previous_cursor": previous_cursor}

    async def decide(self, tenant_id: str, campaign_id: str, decisions: list[Decision], *, note: str | None,
                     decided_by: str, now: int) -> dict:
        """Apply the decisions; each unknown (or another campaign's) review is rejected alone."""
        await self._gate.get(tenant_id, campaign_id)
        rows = await self._db.read(lambda conn: repository.by_ids(conn, tenant_id=tenant_id,
                                                                  ids=[d.id for d in decisions]))
        rejected = []
        valid: list[tuple[Decision, dict]] = []
        for d in decisions:
            row = rows.get(d.id)
            if row is None or row["campaign_id"] != campaign_id:
                rejected.append({"index": d.index, "error": {
                    "code": "not_found", "message": f"review {d.id!r} not found in campaign {campaign_id!r}",
                    "field": f"decisions.{d.index}.id"}})
            else:
                valid.append((d, row))
        decided = 0
        if valid:
            decided = await self._apply(tenant_id, campaign_id, valid, note=note, decided_by=decided_by, now=now)
        return {"decided": decided, "rejected": rejected}

    async def _apply(self, tenant_id: str, campaign_id: str, valid: list[tuple[Decision, dict]], *,
                     note: str | None, decided_by: str, now: int) -> int:
        async with self._gate.hold(tenant_id, [campaign_id]) as held:
            live = held[campaign_id]
            state = live.state
            todo: list[tuple[Decision, dict]] = []
            seen: dict[str, str] = {}
            for d, row in valid:
                referral = state.referrals.get(row["referee"])
                current = referral.status if referral is not None else "approved"
                wanted = _STATUS[d.decision]
                earlier = seen.get(d.id)
                if current == "review" and earlier is None:
                    seen[d.id] = wanted
                    todo.append((d, row))
                elif (earlier or current) != wanted:
                    raise Conflict(f"review {d.id!r} was already {earlier or current}",
                                   code="review.decided", field=f"decisions.{d.index}.decision")
            if not todo:
                return 0
            # From here to the write there is no await: the decisions are applied and logged in order.
            effects, logged, messages, updates = [], [], [], []
            for d, row in todo:
                ev = Event(f"rd_{secrets.token_hex(16)}", REVIEW_DECISION, row["referee"], now, decided_by[:64],
                           d.decision)
                effects.extend((live, effect) for effect in state.apply(ev, now))
                logged.append(EventRow(tenant_id, ev.id, campaign_id, REVIEW_DECISION, row["referee"], now, ev.ref,
                                       None, None, d.decision, None, None, now, None))
                decided_row = {**row, "status": _STATUS[d.decision], "decided_at": now, "decided_by": decided_by,
                               "note": note}
                updates.append(decided_row)
                messages.append(message_row(tenant_id, "review.decided",
                                            repository.review_read(decided_row, reward_ids(state, row["referee"])),
                                            now))
            ledger = LedgerWrites(tenant_id)
            for _live, effect in effects:
                if type(effect) is RewardIssued or type(effect) is RewardStatusChanged:
                    ledger.add(campaign_id, effect)
            batch = BatchWrite(logged, ledger=ledger.rows(), staged=self._committed.staged(tenant_id, effects, now))
            store, outbox = self._store, self._outbox

            def write(conn: sa.Connection) -> None:
                store.write(conn, batch)
                for row in updates:
                    repository.decide(conn, review_id=row["id"], status=row["status"], decided_by=decided_by,
                                      note=note, now=now)
                outbox.write(conn, messages)

            await self._gate.commit(tenant_id, held, write)
        self._committed.publish(tenant_id, effects)
        return len(todo)

    async def auto_approve(self, job: Job, now: int) -> Outcome:
        """A review still open `auto_approve_hours` after it opened is approved (`decided_by: "auto"`)."""
        try:
            await self.decide(job.tenant_id, job.campaign_id, [Decision(0, job.slot, "approve")], note=None,
                              decided_by="auto", now=now)
        except Conflict:
            pass  # decided by an operator meanwhile
        except LiveloopError as exc:
            if exc.status != 404:
                raise
        return Outcome()

    async def blocklist(self, tenant_id: str) -> dict:
        return await self._db.read(lambda conn: repository.blocklist_entries(conn, tenant_id=tenant_id))

    async def put_blocklist(self, tenant_id: str, body: dict, *, now: int) -> dict:
        entries = normalized_blocklist(body)
        await self._db.write(lambda conn: repository.replace_blocklist(conn, tenant_id=tenant_id, entries=entries,
                                                                       now=now))
        self._checks.blocklist_changed(tenant_id)
        return await self.blocklist(tenant_id)


def normalized_blocklist(body: dict) -> dict[str, list[str]]:
    """Networks in CIDR form and domains in lower case; 422 naming the first malformed entry."""
    networks = []
    for i, text in enumerate(body.get("networks") or []):
        try:
            networks.append(str(ipaddress.ip_network(text, strict=False)))
        except ValueError:
            raise Invalid(f"{text!r} is not an IP network in CIDR form", field=f"networks.{i}") from None
    domains = []
    for i, text in enumerate(body.get("email_domains") or []):
        domain = text.strip().lower().rstrip(".")
        if not _DOMAIN.match(domain):
            raise Invalid(f"{text!r} is not a mail domain", field=f"email_domains.{i}")
        domains.append(domain)
    return {"devices": list(body.get("devices") or []), "networks": networks, "email_domains": domains}
