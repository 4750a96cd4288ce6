"""Changes to a campaign (PATCH, cancel), logged in its event log so that every process, and every
replay, applies them at the same place among its events.

A change is decided under the campaign's hold, on its state caught up with the log (another
process may have changed it a moment ago); it is then applied to the state at once (so an event
that follows it in this process is judged by it), and written in one transaction: the campaign's
row and new version (campaigns/service.py) and a `campaign_change` event whose `value` is that
version. Other processes apply it when they catch up with the log (events/gate.py), a restart
when it replays it (events/store.py). Rewards the change grants at once (engine/state.py
`reconfigure`) are written to the ledger with it and reach viewers like any committed effect.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import sqlalchemy as sa

from liveloop.campaigns import service as campaigns_service
from liveloop.engine.model import CAMPAIGN_CHANGE, Event, RewardIssued, RewardStatusChanged
from liveloop.events.committed import CommittedEffects
from liveloop.events.gate import CampaignGate
from liveloop.events.live import LiveCampaign
from liveloop.events.store import BatchWrite, EventRow, EventStore
from liveloop.rewards.ledger import LedgerWrites

# The campaign as it is to be, decided from the live campaign; None when nothing changes.
Decide = Callable[[LiveCampaign], dict | None]
# What else a change writes in its transaction (e.g. scheduled jobs following the new window):
# called with the connection and keyword arguments tenant_id, body (after the change), now.
Follower = Callable[..., None]


class CampaignChanges:
    def __init__(self, gate: CampaignGate, store: EventStore, committed: CommittedEffects, *,
                 followers: tuple[Follower, ...] = ()) -> None:
        self._gate = gate
        self._store = store
        self._committed = committed
        self._followers = followers

    async def change(self, tenant_id: str, campaign_id: str, decide: Decide, *, now: int) -> dict:
        """Apply and log what `decide` makes of the campaign; returns the campaign's body after it."""
        async with self._gate.hold(tenant_id, [campaign_id]) as held:
            live = held[campaign_id]
            body = decide(live)
            if body is None:
                return live.body
            # From here to the write there is no await: nothing is applied between the change and it.
            ev = Event(f"change:{secrets.token_hex(16)}", CAMPAIGN_CHANGE, None, now)
            config = campaigns_service.to_config(tenant_id, body)
            effects = [(live, effect) for effect in live.state.reconfigure(config, ev, now)]
            live.body = body
            ledger = LedgerWrites(tenant_id)
            for _live, effect in effects:
                if type(effect) is RewardIssued or type(effect) is RewardStatusChanged:
                    ledger.add(campaign_id, effect)
            rows = ledger.rows()
            staged = self._committed.staged(tenant_id, effects, now)  # webhooks of rewards it grants
            store, followers = self._store, self._followers

            def write(conn: sa.Connection) -> None:
                version = campaigns_service.save_version(conn, tenant_id=tenant_id, body=body, now=now)
                logged = EventRow(tenant_id, ev.id, campaign_id, CAMPAIGN_CHANGE, None, now, None, None, None, None,
                                  None, None, now, version)
                store.write(conn, BatchWrite([logged], ledger=rows, staged=staged))
                for follow in followers:
                    follow(conn, tenant_id=tenant_id, body=body, now=now)

            await self._gate.commit(tenant_id, held, write)
        self._committed.publish(tenant_id, effects)
        return body
