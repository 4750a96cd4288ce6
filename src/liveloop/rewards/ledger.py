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

    inserts: list[tuple] = field(default_factory=list)
    updates: list[tuple] = field(default_factory=list)  # (status, reason, reward id)
    history: list[tuple] = field(default_factory=list)


class LedgerTables:
    """The ledger's statements for one dialect, built once."""

    def __init__(self, dialect_name: str) -> None:
        self._insert = BulkInsert(dialect_name, rewards, REWARD_COLUMNS)
        self._history = BulkInsert(dialect_name, reward_changes, CHANGE_COLUMNS)
        marker = "%s" if dialect_name == "postgresql" else "?"
        self._update = f"UPDATE rewards SET status = {marker}, reason = {marker} WHERE id = {marker}"

    def write(self, conn: sa.Connection, rows: LedgerRows) -> None:
        self._insert(conn, rows.inserts)
        if rows.updates:
            conn.exec_driver_sql(self._update, rows.updates)
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
            # A reward issued in this same batch is written whole, its history included.
            self._changed.append((effect.reward, effect.change))

    def rows(self) -> LedgerRows:
        out = LedgerRows()
        for cid, reward in self._issued.values():
            out.inserts.append(_reward_row(self._tenant_id, cid, reward))
            out.history.extend(_change_row(reward.id, c) for c in reward.history)
        for reward, change in self._changed:
            out.updates.append((change.status, change.reason, reward.id))
            out.history.append(_change_row(reward.id, change))
        return out


def _reward_row(tenant_id: str, campaign_id: str, r: Reward) -> tuple:
    spec = r.spec
    percent_off = str(spec.percent_off) if spec.percent_off is not None else None
    return (r.id, tenant_id, campaign_id, r.rule_id, r.user_id, r.role, spec.kind, r.amount, percent_off, r.currency,
            spec.points, spec.sku, spec.name, spec.content, r.status, r.reason, r.cause_event_id, r.created_at,
            r.available_at)


def _change_row(reward_id: str, c: StatusChange) -> tuple:
    return (reward_id, c.status, c.reason, c.cause_event_id, c.at)
