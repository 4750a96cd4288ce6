"""Actions logged in a campaign's event log by a domain rather than sent as events (a circle made or
joined, a group buy opened or failed), so that every process and every replay applies them at the
same place among the campaign's events.

An action is decided under the campaign's hold, on its state caught up with the log: `decide`
checks it against that state (raising the domain's 4xx) and returns the event to log. The event is
applied at once and written in one transaction with the rewards it grants, the outbox messages of
its effects, and whatever the domain writes with it (`also`); the effects are published after the
commit, like an event batch's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from liveloop.engine.model import Event, RewardIssued, RewardStatusChanged
from liveloop.events.committed import CommittedEffects
from liveloop.events.gate import CampaignGate
from liveloop.events.live import LiveCampaign
from liveloop.events.store import BatchWrite, EventRow, EventStore, UserRow
from liveloop.rewards.ledger import LedgerWrites

Decide = Callable[[LiveCampaign], Event | None]


class LoggedActions:
    def __init__(self, gate: CampaignGate, store: EventStore, committed: CommittedEffects) -> None:
        self._gate = gate
        self._store = store
        self._committed = committed

    async def act(self, tenant_id: str, campaign_id: str, decide: Decide, *, now: int,
                  also: Callable[[sa.Connection], None] | None = None) -> tuple[LiveCampaign, list[tuple[Any, Any]]]:
        """Log and apply the event `decide` makes of the live campaign (nothing when it returns None)."""
        async with self._gate.hold(tenant_id, [campaign_id]) as held:
            live = held[campaign_id]
            ev = decide(live)
            if ev is None:
                return live, []
            # From here to the write there is no await: nothing is applied between the decision and it.
            effects = [(live, effect) for effect in live.state.apply(ev, now)]
            ledger = LedgerWrites(tenant_id)
            for _live, effect in effects:
                if type(effect) is RewardIssued or type(effect) is RewardStatusChanged:
                    ledger.add(campaign_id, effect)
            row = EventRow(tenant_id, ev.id, campaign_id, ev.type, ev.user_id, ev.at, ev.ref, None, None, ev.order_id,
                           None, None, now, None)
            # Who acts is a user of the tenant from now on, like a user first seen in an event.
            users = [UserRow(tenant_id, ev.user_id, live.body["market"], "{}", now, now)] if ev.user_id else []
            batch = BatchWrite([row], users, ledger.rows(), self._committed.staged(tenant_id, effects, now))
            store = self._store

            def write(conn: sa.Connection) -> None:
                store.write(conn, batch)
                if also is not None:
                    also(conn)

            await self._gate.commit(tenant_id, held, write)
        self._committed.publish(tenant_id, effects)
        return live, effects
