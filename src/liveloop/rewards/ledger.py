"""Writing the reward ledger: new rewards, their status changes, and the append-only history."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from liveloop.engine.model import Reward, RewardIssued, RewardStatusChanged, StatusChange
from liveloop.kit.db.bulk import BulkInsert
from liveloop.rewards.models import reward_changes, rewards

REWARD_COLUMNS = ("id", "tenant_id", "campaign_id", "rule_id", "user_id", "role", "kind", "amount", "percent_off",
                  "currency", "points", "sku", "name", "content", "status", "reason", "cause_event_id", "created_at",
                  "available_at")
CHANGE_COLUMNS = ("reward_id", "status", "reason", "cause_event_id", "at")


@dataclass(slots=True)
class LedgerRows:
    """Plain rows, taken on the event loop: the writer thread never sees live Reward objects."""

    inserts: list[tuple] = field(default_factory=list)  # rewards as granted
    history: list[tuple] = field(default_factory=list)  # later changes of status


class LedgerTables:
    """The ledger's statements for one dialect, built once."""

    def __init__(self, dialect_name: str) -> None:
        self._insert = BulkInsert(dialect_name, rewards, REWARD_COLUMNS)
        self._history = BulkInsert(dialect_name, reward_changes, CHANGE_COLUMNS)

    def write(self, conn: sa.Connection, rows: LedgerRows) -> None:
        self._insert(conn, rows.inserts)
        self._history(conn, rows.history)


class LedgerWrites:
    """Collects the ledger effects of one batch; `rows()` snapshots them once the batch is applied."""

    def __init__(self, tenant_id: str) -> None:
        self._tenant_id = tenant_id
        self._issued: dict[str, tuple[str, Reward]] = {}
        self._changed: list[tuple[Reward, StatusChange]] = []

    def add(self, campaign_id: str, effect: RewardIssued | RewardStatusChanged) -> None:
        if isinstance(effect, RewardIssued):
            self._issued[effect.reward.id] = (campaign_id, effect.reward)
        elif effect.reward.id not in self._issued:
            # A reward issued in this same batch is written with all its history at once.
            self._changed.append((effect.reward, effect.change))

    def rows(self) -> LedgerRows:
        out = LedgerRows()
        for cid, reward in self._issued.values():
            granted = reward.history[0]
            out.inserts.append(_reward_row(self._tenant_id, cid, reward, granted))
            out.history.extend(_change_row(reward.id, c) for c in reward.history[1:])
        for reward, change in self._changed:
            out.history.append(_change_row(reward.id, change))
        return out


def _reward_row(tenant_id: str, campaign_id: str, r: Reward, granted: StatusChange) -> tuple:
    spec = r.spec
    percent_off = str(spec.percent_off) if spec.percent_off is not None else None
    return (r.id, tenant_id, campaign_id, r.rule_id, r.user_id, r.role, spec.kind, r.amount, percent_off, r.currency,
            spec.points, spec.sku, spec.name, spec.content, granted.status, granted.reason, r.cause_event_id,
            r.created_at, r.available_at)


def _change_row(reward_id: str, c: StatusChange) -> tuple:
    return (reward_id, c.status, c.reason, c.cause_event_id, c.at)


def stored_history(conn: sa.Connection, *, tenant_id: str, campaign_id: str) -> dict[str, list[tuple]]:
    """Each reward's statuses as the database keeps them: the grant, then every change, in order."""
    granted = conn.execute(
        sa.select(rewards.c.id, rewards.c.status, rewards.c.reason, rewards.c.cause_event_id)
        .where(rewards.c.tenant_id == tenant_id, rewards.c.campaign_id == campaign_id)
    ).all()
    out = {rid: [(status, reason, cause)] for rid, status, reason, cause in granted}
    if out:
        changes = conn.execute(
            sa.select(reward_changes.c.reward_id, reward_changes.c.status, reward_changes.c.reason,
                      reward_changes.c.cause_event_id)
            .where(reward_changes.c.reward_id.in_(list(out)))
            .order_by(reward_changes.c.seq)
        ).all()
        for rid, status, reason, cause in changes:
            out[rid].append((status, reason, cause))
    return out
