"""The outbox: webhook messages written in the same transaction as their cause.

`Outbox.stage` is a stager of committed effects (events/committed.py): the engine's effects of a
batch, a click flush or a draw become messages, written with the batch. Other capabilities add
their own messages inside their own writes with `Outbox.write` (e.g. `campaign.ended`). A message
is made only for a tenant with a live endpoint that takes its type (webhooks/subscriptions.py);
a worker then makes its deliveries (webhooks/worker.py), to the endpoints that exist when it does.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable
from typing import Any

import orjson
import sqlalchemy as sa

from liveloop.engine.model import Attributed, RewardIssued, RewardStatusChanged
from liveloop.events.committed import DrawCompleted
from liveloop.kit.db.bulk import BulkInsert
from liveloop.kit.times import iso
from liveloop.rewards.views import reward_read
from liveloop.webhooks.models import webhook_messages
from liveloop.webhooks.subscriptions import Subscriptions

# Every type of SPEC section 11, emitted by the capability that causes it.
TYPES = ("referral.attributed", "reward.issued", "reward.status_changed", "review.opened", "review.decided",
         "draw.completed", "group.completed", "group.failed", "reminder.due", "sharer.report", "campaign.ended")

MESSAGE_COLUMNS = ("id", "tenant_id", "type", "body", "created_at")

# The engine's effects (and a draw's) that are messages, by their type.
_KINDS: dict[type, str] = {Attributed: "referral.attributed", RewardIssued: "reward.issued",
                           RewardStatusChanged: "reward.status_changed", DrawCompleted: "draw.completed"}


# Message ids, 24 hex digits after "msg_": the time in ms (11), this process's start (8 random), a
# counter (5). In time order, each is added at the end of the unique index on `id`: random ids
# spread a commit's writes over the whole index (measured: 15 % of ingestion's throughput).
_ID_PREFIX = secrets.token_hex(4)
_ID_SEQ = itertools.count()


def new_message_id(now: int) -> str:
    return f"msg_{now & 0xFFFFFFFFFFF:011x}{_ID_PREFIX}{next(_ID_SEQ) & 0xFFFFF:05x}"


def message_row(tenant_id: str, kind: str, data: dict, now: int) -> tuple:
    """One outbox row: the body is the exact JSON every attempt sends (and signs)."""
    body = orjson.dumps({"type": kind, "timestamp": iso(now), "data": data}).decode()
    return (new_message_id(now), tenant_id, kind, body, now)


class Outbox:
    def __init__(self, dialect: str, subscriptions: Subscriptions) -> None:
        self._insert = BulkInsert(dialect, webhook_messages, MESSAGE_COLUMNS)
        self._subscriptions = subscriptions

    def write(self, conn: sa.Connection, rows: list[tuple]) -> None:
        """Writes the rows (message_row) that some endpoint of their tenant takes."""
        takes = self._subscriptions.takes
        rows = [row for row in rows if row[2] in takes(row[1])]
        if rows:
            self._insert(conn, rows)

    def stage(self, tenant_id: str, effects: list[tuple[Any, Any]], now: int) -> Callable[[sa.Connection], None] | None:
        """The messages of a write's engine effects that the tenant's endpoints take, to be written
        inside its transaction."""
        takes = self._subscriptions.takes(tenant_id)
        if not takes:
            return None
        rows = []
        for live, effect in effects:
            kind = _KINDS.get(type(effect))
            if kind is None or kind not in takes:
                continue
            if kind == "referral.attributed":
                data = {"campaign_id": live.state.config.id, "referrer": effect.referrer, "referee": effect.referee,
                        "event_id": effect.event_id}
            elif kind == "draw.completed":
                result = effect.result
                # As the run's answer gives it (POST .../draws/{rule_id}/run), without names.
                data = {"campaign_id": live.state.config.id, "rule_id": result.rule_id, "period": result.period,
                        "seed_hash": result.seed_hash, **result.public()}
            else:  # reward.issued, reward.status_changed
                data = {"campaign_id": live.state.config.id, **reward_read(effect.reward, now)}
            rows.append(message_row(tenant_id, kind, data, now))
        if not rows:
            return None
        return lambda conn: self._insert(conn, rows)
