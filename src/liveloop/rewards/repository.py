"""The ledger's SQL: rewards as granted and their append-only history, behind the `Ledger` Protocol.

What a batch grants is collected as plain rows by `rewards/ledger.py`; only this module knows the
tables. `tests/fakes.py` keeps the same Protocol in memory.
"""

from __future__ import annotations

from typing import Protocol

import sqlalchemy as sa

from liveloop.kit.db.bulk import BulkInsert
from liveloop.rewards.ledger import LedgerRows
from liveloop.rewards.models import reward_changes, rewards

# The order of the tuples rewards/ledger.py builds.
REWARD_COLUMNS = ("id", "tenant_id", "campaign_id", "rule_id", "user_id", "role", "kind", "amount", "percent_off",
                  "currency", "points", "sku", "name", "content", "status", "reason", "cause_event_id", "created_at",
                  "available_at")
CHANGE_COLUMNS = ("reward_id", "status", "reason", "cause_event_id", "at")


class Ledger(Protocol):
    """The reward ledger as the writers of a batch (ingestion, changes, draws) need it: append only."""

    def write(self, conn: sa.Connection, rows: LedgerRows) -> None:
        """Append a batch's rewards and status changes inside the caller's transaction."""


class SqlLedger:
    """The ledger's statements for one dialect, built once."""

    def __init__(self, dialect_name: str) -> None:
        self._insert = BulkInsert(dialect_name, rewards, REWARD_COLUMNS)
        self._history = BulkInsert(dialect_name, reward_changes, CHANGE_COLUMNS)

    def write(self, conn: sa.Connection, rows: LedgerRows) -> None:
        self._insert(conn, rows.inserts)
        self._history(conn, rows.history)


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
