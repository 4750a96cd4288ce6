"""Sharer reports of a campaign, read from its live state and the users table, with their page links."""

from __future__ import annotations

from liveloop.afterlive.sharers import Referees, people_needed, sharer_report
from liveloop.afterlive.tokens import page_token
from liveloop.engine.state import CampaignState
from liveloop.kit.db.database import Database
from liveloop.tenants.signing import Signing
from liveloop.users.repository import profiles


class SharerReports:
    def __init__(self, db: Database, signing: Signing, *, base_url: str) -> None:
        self._db = db
        self._signing = signing
        self._base_url = base_url

    def page_url(self, state: CampaignState, user_id: str, *, now: int) -> str:
        config = state.config
        token = page_token(self._signing.key, tenant_id=config.tenant_id, campaign_id=config.id, user_id=user_id,
                           ends_at=config.ends_at, now=now)
        return f"{self._base_url}/t/{token}"

    async def reports(self, state: CampaignState, campaign: dict, user_ids: list[str], *, now: int) -> list[dict]:
        """The reports of `user_ids` (one read of the users table for all of them)."""
        referees = Referees.of(state)
        wanted = people_needed(referees, user_ids)
        tenant_id = state.config.tenant_id
        people = await self._db.read(lambda conn: profiles(conn, tenant_id=tenant_id, user_ids=wanted))
        return [sharer_report(state, user_id, campaign=campaign, people=people, referees=referees,
                              page_url=self.page_url(state, user_id, now=now), now=now) for user_id in user_ids]
