"""`group.completed` and `group.failed` webhooks, written to the outbox with their cause.

A stager of committed effects (events/committed.py): a group completes inside the event batch
whose order completes it, and fails by the job that logs its `group_fail`; either way the message is
written in the same transaction. `group.failed` lists the members and their orders, so the shop can
refund them or charge the solo price.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from liveloop.engine.model import GroupChanged
from liveloop.groups.views import group_read
from liveloop.webhooks.outbox import Outbox, message_row


class GroupMessages:
    def __init__(self, outbox: Outbox, *, base_url: str) -> None:
        self._outbox = outbox
        self._base_url = base_url

    def stage(self, tenant_id: str, effects: list[tuple[Any, Any]], now: int) -> Callable[[sa.Connection], None] | None:
        rows = []
        for live, effect in effects:
            if type(effect) is GroupChanged and effect.kind in ("completed", "failed"):
                data = group_read(effect.group, campaign_id=live.state.config.id, base_url=self._base_url,
                                  members=effect.members, status=effect.status)
                rows.append(message_row(tenant_id, f"group.{effect.kind}", data, now))
        if not rows:
            return None
        outbox = self._outbox
        return lambda conn: outbox.write(conn, rows)
