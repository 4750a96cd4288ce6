"""What a commit made durable, handed to the subscribers registered at the composition root.

Every write that changes a campaign (an event batch, share-link clicks, another process's events
caught up from the log, a draw run, a free draw entry) ends here, once, after its commit: viewers'
streams, room streams and draw notices are subscribers, and so is each capability that lands later
(fraud, groups). Nothing is pushed for a write that failed, and a subscriber that fails cannot take
the write or the other subscribers with it.

What must not be lost (outgoing webhooks) is staged instead: a stager turns a write's effects into
rows written in the same transaction as their cause (an outbox), so a rollback sends nothing and a
crash loses nothing; it is delivered after the commit by its own worker. Only the process that
writes the cause stages; catching up with another process's events stages nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlalchemy as sa

    from liveloop.draws.service import StoredResult
    from liveloop.events.live import LiveCampaign

log = logging.getLogger("liveloop.committed")


@dataclass(slots=True)
class DrawCompleted:
    """A draw period was run and its result stored (by this process)."""

    result: StoredResult


@dataclass(slots=True)
class FreeEntryAdded:
    """A user took a draw's free alternative entry for a period."""

    user_id: str
    rule_id: str
    period: str


@dataclass(slots=True)
class Committed:
    """One tenant's durable effects, in log order: engine effects and the pipeline's own (above)."""

    tenant_id: str
    effects: list[tuple[LiveCampaign, Any]]
    # When the write's first event was received (epoch ms, by whichever process took it; None when
    # no event caused it): pushes are timed from it (ops/metrics.py PUSH_SECONDS).
    received_at: int | None = None


Subscriber = Callable[[Committed], None]
# (tenant_id, effects, now) -> rows to write with the cause, inside its transaction (None: nothing).
Stager = Callable[[str, list, int], "Callable[[sa.Connection], None] | None"]


class CommittedEffects:
    """The one path from a commit to everything that reacts to it."""

    def __init__(self) -> None:
        self._subscribers: list[tuple[str, Subscriber]] = []
        self._stagers: list[Stager] = []

    def subscribe(self, name: str, subscriber: Subscriber) -> None:
        self._subscribers.append((name, subscriber))

    def stage_with(self, stager: Stager) -> None:
        self._stagers.append(stager)

    def staged(self, tenant_id: str, effects: list[tuple[LiveCampaign, Any]], now: int
               ) -> list[Callable[[sa.Connection], None]]:
        """What the stagers write with these effects (computed now, on the event loop: no await)."""
        writes = []
        for stager in self._stagers:
            write = stager(tenant_id, effects, now)
            if write is not None:
                writes.append(write)
        return writes

    def publish(self, tenant_id: str, effects: list[tuple[LiveCampaign, Any]], *,
                received_at: int | None = None) -> None:
        if not effects:
            return
        committed = Committed(tenant_id, effects, received_at)
        for name, subscriber in self._subscribers:
            try:
                subscriber(committed)
            except Exception:  # noqa: BLE001 - the write is durable and answered whatever a subscriber does
                log.exception("subscriber %s failed on %d committed effects", name, len(effects))
