"""Circles (family and friends): made and joined through the campaign's event log.

Whether a circle can be made or joined is decided on the campaign's state under its hold
(events/actions.py), so two requests racing for a circle's last place, on one process or several,
get one member and one 409; the circle's name is written with its `circle_create` event.
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa

from liveloop.circles.models import circles
from liveloop.engine.model import CIRCLE_CREATE, CIRCLE_JOIN, Event
from liveloop.engine.social import Circle
from liveloop.engine.state import CampaignState
from liveloop.events.actions import LoggedActions
from liveloop.events.gate import CampaignGate
from liveloop.events.live import LiveCampaign
from liveloop.kit.db.database import Database
from liveloop.kit.errors import Conflict, NotFound
from liveloop.kit.money import to_decimal_str
from liveloop.kit.times import iso


def refuse_closed(live: LiveCampaign, now: int) -> None:
    """Circles of a cancelled or ended campaign are closed: nobody makes or joins one."""
    config = live.state.config
    if config.cancelled:
        raise Conflict(f"campaign {config.id!r} was cancelled: its circles are closed", code="circle.closed")
    if now > config.ends_at:
        raise Conflict(f"campaign {config.id!r} has ended at {iso(config.ends_at)}: its circles are closed",
                       code="circle.closed")


def score_text(state: CampaignState, value: int) -> int | str:
    return to_decimal_str(value, state.config.currency) if state.config.leaderboard_metric == "gmv" else value


class Circles:
    def __init__(self, db: Database, gate: CampaignGate, actions: LoggedActions) -> None:
        self._db = db
        self._gate = gate
        self._actions = actions

    async def create(self, tenant_id: str, campaign_id: str, *, circle_id: str, owner: str, name: str,
                     now: int) -> dict:
        def decide(live: LiveCampaign) -> Event:
            refuse_closed(live, now)
            social = live.state.social
            if circle_id in social.circles:
                raise Conflict(f"circle {circle_id!r} already exists", code="circle.exists", field="id")
            other = social.circle_of.get(owner)
            if other is not None:
                raise Conflict(f"user {owner!r} is already a member of circle {other!r}; a user is in at most one "
                               "circle per campaign", code="circle.one_per_user", field="owner")
            return Event(f"circle:{secrets.token_hex(16)}", CIRCLE_CREATE, owner, now, circle_id)

        def also(conn: sa.Connection) -> None:
            conn.execute(circles.insert().values(tenant_id=tenant_id, campaign_id=campaign_id, id=circle_id,
                                                 owner=owner, name=name, created_at=now))

        live, _effects = await self._actions.act(tenant_id, campaign_id, decide, now=now, also=also)
        return self.read(live, live.state.social.circles[circle_id], name)

    async def join(self, tenant_id: str, campaign_id: str, circle_id: str, *, user_id: str,
                   now: int) -> tuple[dict, bool]:
        """Add a member; returns (the circle, whether the user joined now). Joining again is a no-op."""
        joined = False

        def decide(live: LiveCampaign) -> Event | None:
            nonlocal joined
            social = live.state.social
            circle = social.circles.get(circle_id)
            if circle is None:
                raise NotFound(f"circle {circle_id!r} not found", code="circle.not_found")
            if user_id in circle.members:
                return None
            refuse_closed(live, now)
            refusal = social.join_refusal(circle_id, user_id)
            if refusal is not None:
                raise Conflict(refusal[1], code=refusal[0], field="user_id")
            joined = True
            return Event(f"circle:{secrets.token_hex(16)}", CIRCLE_JOIN, user_id, now, circle_id)

        live, _effects = await self._actions.act(tenant_id, campaign_id, decide, now=now)
        circle = live.state.social.circles[circle_id]
        return self.read(live, circle, await self._name(tenant_id, campaign_id, circle_id)), joined

    async def get(self, tenant_id: str, campaign_id: str, circle_id: str) -> dict:
        live = await self._gate.get(tenant_id, campaign_id)
        circle = live.state.social.circles.get(circle_id)
        if circle is None:
            raise NotFound(f"circle {circle_id!r} not found", code="circle.not_found")
        return self.read(live, circle, await self._name(tenant_id, campaign_id, circle_id))

    async def all(self, tenant_id: str, campaign_id: str) -> list[dict]:
        """Every circle of the campaign, the highest score first (the console's circles page)."""
        live = await self._gate.get(tenant_id, campaign_id)
        state = live.state
        metric = state.config.leaderboard_metric
        found = sorted(state.social.circles.values(),
                       key=lambda c: (-state.social.circle_score(c, metric, state)[0], c.created_at, c.id))
        names = await self.names(tenant_id, campaign_id, [c.id for c in found])
        return [self.read(live, circle, names.get(circle.id, "")) for circle in found]

    async def names(self, tenant_id: str, campaign_id: str, circle_ids: list[str]) -> dict[str, str]:
        if not circle_ids:
            return {}
        return await self._db.read(lambda conn: dict(conn.execute(sa.select(circles.c.id, circles.c.name).where(
            circles.c.tenant_id == tenant_id, circles.c.campaign_id == campaign_id,
            circles.c.id.in_(circle_ids))).all()))

    async def _name(self, tenant_id: str, campaign_id: str, circle_id: str) -> str:
        return (await self.names(tenant_id, campaign_id, [circle_id])).get(circle_id, "")

    @staticmethod
    def read(live: LiveCampaign, circle: Circle, name: str) -> dict:
        state = live.state
        social = state.social
        score, _reached = social.circle_score(circle, state.config.leaderboard_metric, state)
        ranked = state.config.leaderboard_by == "circle"
        return {
            "id": circle.id,
            "owner": circle.owner,
            "name": name,
            "members": list(circle.members),
            "max_circle_size": state.config.max_circle_size,
            "metric": state.config.leaderboard_metric,
            "score": score_text(state, score),
            "rank": social.circle_board.rank(circle.id) if ranked else None,
            "created_at": iso(circle.created_at),
        }

    async def board(self, tenant_id: str, campaign_id: str, after: tuple[int, int, str] | None, limit: int) -> dict:
        """A page of the circle leaderboard (`leaderboard.by: "circle"`): circles ranked like users,
        after the entry `after` = (score, reached_at, circle_id); `keys` holds each entry's."""
        live = await self._gate.get(tenant_id, campaign_id)
        state = live.state
        page = state.social.circle_board.page_after(after, limit)
        names = await self.names(tenant_id, campaign_id, [cid for _r, cid, _s, _at in page])
        entries = [{"rank": rank, "circle_id": cid, "name": names.get(cid, ""),
                    "members": list(state.social.circles[cid].members), "score": score_text(state, score)}
                   for rank, cid, score, _at in page]
        keys = [(score, at, cid) for _r, cid, score, at in page]
        return {"metric": state.config.leaderboard_metric, "by": "circle", "entries": entries, "keys": keys}
