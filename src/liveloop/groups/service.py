"""Group buys (拼团): opening a group, reading it, and failing it when its window has closed.

A group is opened by a `group_create` event logged under the campaign's hold (events/actions.py),
after checking the rule and that the leader has no open group of it; written with it: the group's
share link (an invite code of the leader whose code is the group's id, so the link attributes like
the leader's invite) and the scheduled job that fails the group when its window closes in wall
time (groups/jobs.py). Members join and the group completes in the engine, from paid orders
carrying its `group_id` (engine/social.py).
"""

from __future__ import annotations

from liveloop.engine.model import GROUP_CREATE, GROUP_FAIL, Event, GroupBuyRule
from liveloop.engine.social import Group
from liveloop.events.actions import LoggedActions
from liveloop.events.gate import CampaignGate
from liveloop.events.live import LiveCampaign, refuse_cancelled
from liveloop.groups.views import GROUP_EXPIRY, group_channel, group_read
from liveloop.invites import service as invites_service
from liveloop.kit.errors import Conflict, Invalid, NotFound
from liveloop.kit.ids import new_invite_code
from liveloop.kit.times import iso
from liveloop.scheduler import repository as jobs
from liveloop.scheduler.repository import Planned
from liveloop.sharelink.targets import ShareTarget, ShareTargets


def group_rule(live: LiveCampaign, rule_id: str) -> GroupBuyRule:
    rule = next((r for r in live.state.config.rules if r.id == rule_id), None)
    if rule is None:
        raise Invalid(f"campaign {live.state.config.id!r} has no rule {rule_id!r}", code="group.unknown_rule",
                      field="rule_id")
    if not isinstance(rule, GroupBuyRule):
        raise Invalid(f"rule {rule_id!r} is not a group buy (its groups need a rule of type \"group_buy\")",
                      code="group.not_a_group_buy", field="rule_id")
    return rule


class Groups:
    def __init__(self, gate: CampaignGate, actions: LoggedActions, share_targets: ShareTargets, *,
                 base_url: str) -> None:
        self._gate = gate
        self._actions = actions
        self._share_targets = share_targets
        self._base_url = base_url

    def read(self, live: LiveCampaign, group: Group) -> dict:
        return group_read(group, campaign_id=live.state.config.id, base_url=self._base_url)

    async def open(self, tenant_id: str, campaign_id: str, *, rule_id: str, user_id: str, now: int) -> dict:
        """A new open group led by `user_id`; 409 while the leader has an open group of the rule."""
        group_id = "g" + new_invite_code(11)
        decided: dict = {}  # what the write needs of the decision: the market, when the window closes

        def decide(live: LiveCampaign) -> Event:
            refuse_cancelled(live)
            rule = group_rule(live, rule_id)
            config = live.state.config
            if now > config.ends_at:
                raise Conflict(f"campaign {config.id!r} ended at {iso(config.ends_at)}: no new groups",
                               code="group.campaign_ended")
            open_id = live.state.social.open_groups.get((rule.id, user_id))
            if open_id is not None:
                raise Conflict(f"user {user_id!r} already leads the open group {open_id!r} of rule {rule.id!r}; "
                               "a user leads at most one open group per rule", code="group.already_open",
                               field="user_id")
            decided.update(market=live.body["market"], expires_at=now + rule.window_ms)
            return Event(f"group:{group_id}", GROUP_CREATE, user_id, now, rule.id, group_id)

        def also(conn) -> None:
            invites_service.create(conn, tenant_id=tenant_id, campaign_id=campaign_id, market=decided["market"],
                                   user_id=user_id, channel=group_channel(group_id), code=group_id, now=now)
            jobs.schedule(conn, tenant_id=tenant_id, campaign_id=campaign_id,
                          jobs=[Planned(GROUP_EXPIRY, group_id, decided["expires_at"])], now=now)

        live, _effects = await self._actions.act(tenant_id, campaign_id, decide, now=now, also=also)
        # The code is durable now: teach the engine and the share link about it.
        live.state.codes[group_id] = user_id
        self._share_targets.remember(ShareTarget(group_id, tenant_id, campaign_id, user_id))
        return self.read(live, live.state.social.groups[group_id])

    async def get(self, tenant_id: str, campaign_id: str, group_id: str) -> dict:
        live = await self._gate.get(tenant_id, campaign_id)
        group = live.state.social.groups.get(group_id)
        if group is None:
            raise NotFound(f"group {group_id!r} not found", code="group.not_found")
        return self.read(live, group)

    async def all(self, tenant_id: str, campaign_id: str) -> list[dict]:
        """Every group buy of the campaign, the newest first (the console's groups page)."""
        live = await self._gate.get(tenant_id, campaign_id)
        groups = sorted(live.state.social.groups.values(), key=lambda g: (-g.created_at, g.id))
        return [self.read(live, group) for group in groups]

    async def fail_if_expired(self, tenant_id: str, campaign_id: str, group_id: str, *, now: int) -> int | None:
        """Fail the group if it is open and its window has closed; returns when to look again (None: done)."""
        live = await self._gate.get(tenant_id, campaign_id)
        group = live.state.social.groups.get(group_id)
        if group is None or group.status != "open":
            return None
        if now < group.expires_at:
            return group.expires_at

        def decide(held: LiveCampaign) -> Event | None:
            found = held.state.social.groups.get(group_id)
            if found is None or found.status != "open":
                return None  # completed (or failed by another process) meanwhile
            return Event(f"group_fail:{group_id}", GROUP_FAIL, None, now, found.rule_id, group_id)

        await self._actions.act(tenant_id, campaign_id, decide, now=now)
        return None
