"""The outbox: webhook messages written in the same transaction as their cause.

`Outbox.stage` is a stager of committed effects (events/committed.py): the engine's effects of a
batch, a click flush or a draw become messages, written with the batch. Other capabilities add
their own messages inside their own writes with `Outbox.write` (e.g. `campaign.ended`). Messages
are kept whether or not the tenant has endpoints yet: a worker makes the deliveries from them
(webhooks/worker.py), to the endpoints that exist when it does.
"""

from __future__ import annotations

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

# Every type of SPEC section 11, emitted by the capability that causes it.
TYPES = ("referral.attributed", "reward.issued", "reward.status_changed", "review.opened", "review.decided",
         "draw.completed", "group.completed", "group.failed", "reminder.due", "sharer.report", "campaign.ended")

MESSAGE_COLUMNS = ("id", "tenant_id", "type", "body", "created_at")


def new_message_id() -> str:
    return "msg_" + secrets.token_hex(12)


def message_row(tenant_id: str, kind: str, data: dict, now: int) -> tuple:
    """One outbox row: the body is the exact JSON every attempt sends (and signs)."""
    body = orjson.dumps({"type": kind, "timestamp": iso(now), "data": data}).decode()
    return (new_message_id(), tenant_id, kind, body, now)


class Outbox:
    def __init__(self, dialect: str) -> None:
        self._insert = BulkInsert(dialect, webhook_messages, MESSAGE_COLUMNS)

    def write(self, conn: sa.Connection, rows: list[tuple]) -> None:
        self._insert(conn, rows)

    def stage(self, tenant_id: str, effects: list[tuple[Any, Any]], now: int) -> Callable[[sa.Connection], None] | None:
        """The messages of a write's engine effects, to be written inside its transaction."""
        rows = []
        for live, effect in effects:
            kind = type(effect)
            if kind is Attributed:
                data = {"campaign_id": live.state.config.id, "referrer": effect.referrer, "referee": effect.referee,
                        "event_id": effect.event_id}
                rows.append(message_row(tenant_id, "referral.attributed", data, now))
            elif kind is RewardIssued:
                data = {"campaign_id": live.state.config.id, **reward_read(effect.reward, now)}
                rows.append(message_row(tenant_id, "reward.issued", data, now))
            elif kind is RewardStatusChanged:
                data = {"campaign_id": live.state.config.id, **reward_read(effect.reward, now)}
                rows.append(message_row(tenant_id, "reward.status_changed", data, now))
            elif kind is DrawCompleted:
                result = effect.result
                # As the run's answer gives it (POST .../draws/{rule_id}/run), without names.
                data = {"campaign_id": live.state.config.id, "rule_id": result.rule_id, "period": result.period,
                        "seed_hash": result.seed_hash, **result.public()}
                rows.append(message_row(tenant_id, "draw.completed", data, now))
        if not rows:
            return None
        return lambda conn: self._insert(conn, rows)
