from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from liveloop.afterlive import plan
from liveloop.campaigns import follow_ups, service
from liveloop.campaigns.schemas import CampaignCreate, CampaignUpdate
from liveloop.deps import Campaigns, Db, Fx, component
from liveloop.engine.audiences import KNOWN
from liveloop.engine.state import CampaignState
from liveloop.events.changes import CampaignChanges
from liveloop.events.live import LiveCampaign
from liveloop.kit import clock
from liveloop.scheduler.worker import JobWorker
from liveloop.segments import service as segments
from liveloop.tenants.auth import current_tenant
from liveloop.tenants.service import Tenant

router = APIRouter(tags=["campaigns"])
Changes = Annotated[CampaignChanges, component("changes")]
Jobs = Annotated[JobWorker, component("jobs")]
TenantDep = Annotated[Tenant, Depends(current_tenant)]

_LOCKED = {409: {"description": "what can no longer change (`campaign.locked`, naming the field), or the campaign "
                                "is cancelled (`campaign.cancelled`)"}}


@router.post("/v1/campaigns", status_code=201, summary="Create a campaign (the referral programme of one live)")
async def create_campaign(body: CampaignCreate, db: Db, campaigns: Campaigns, fx: Fx, jobs: Jobs,
                          tenant: TenantDep) -> dict:
    rates = await fx.table(tenant.id)
    data = service.normalize(body, allowed_hosts=tenant.allowed_hosts, convert=rates.convert)
    if segments.audience_segments(data["rules"]):
        # Rules for a segment's members use its current version, whose members the engine then knows.
        await db.read(lambda conn: segments.pin_and_warm(conn, KNOWN, tenant_id=tenant.id, rules=data["rules"]))
    config = service.to_config(tenant.id, data)
    now = clock.now_ms()

    def create(conn) -> dict:
        stored = service.create(conn, tenant_id=tenant.id, data=data, now=now)
        follow_ups.link(conn, tenant_id=tenant.id, body=stored)
        plan.schedule(conn, tenant_id=tenant.id, body=stored, now=now)
        return stored

    stored = await db.write(create, isolated=True)
    campaigns.add(tenant.id, LiveCampaign(stored, CampaignState(config)))
    jobs.poke()  # a campaign created for a past window has jobs due now
    return service.read(stored, now)


@router.get("/v1/campaigns", summary="The tenant's campaigns, newest starts_at first, a page at a time")
async def list_campaigns(
    db: Db,
    tenant: TenantDep,
    status: Annotated[Literal[service.STATUSES] | None, Query()] = None,  # type: ignore[valid-type]
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200, description="`next_cursor` of the page before")] = None,
) -> dict:
    """`{campaigns, next_cursor}`: each campaign as `GET /v1/campaigns/{cid}` shows it, with its
    `status` now; `next_cursor` is null on the last page. Pages do not shift when campaigns are
    created meanwhile."""
    now = clock.now_ms()
    return await db.read(lambda conn: service.page(conn, tenant_id=tenant.id, status_is=status, limit=limit,
                                                   cursor=cursor, now=now))


@router.get("/v1/campaigns/{cid}", summary="A campaign, with its status")
async def get_campaign(cid: str, campaigns: Campaigns, tenant: TenantDep) -> dict:
    live = await campaigns.get(tenant.id, cid)
    return service.read(live.body, clock.now_ms())


@router.patch("/v1/campaigns/{cid}", summary="Change a campaign: before its start, or its budget upwards once live",
              responses=_LOCKED)
async def update_campaign(cid: str, body: CampaignUpdate, changes: Changes, fx: Fx, db: Db,
                          tenant: TenantDep) -> dict:
    """Before `starts_at`: `title`, `description`, `share_text`, `landing_url` (on the tenant's
    hosts), `starts_at`/`ends_at`, `budget`, `rules` (a rule that has granted a reward stays as it
    is), `permit`, `promotion_programme`, `waive`. Once live: `budget`, upwards only. The result is
    checked by the market's policy again (422 `policy.*` with `details`, as at creation).

    A change takes effect from its place among the campaign's events: what happened before keeps
    the effect it had, and a milestone tier it lowers to a count someone already has is granted
    at once. The answer is the campaign after the change (unchanged: nothing is logged)."""
    rates = await fx.table(tenant.id)
    now = clock.now_ms()
    if body.rules and any(rule.audience is not None for rule in body.rules):
        rules = [rule.model_dump(mode="json") for rule in body.rules]
        await db.read(lambda conn: segments.pin_and_warm(conn, KNOWN, tenant_id=tenant.id, rules=rules))
        for rule, pinned in zip(body.rules, rules, strict=True):
            if rule.audience is not None:
                rule.audience.version = pinned["audience"]["version"]

    def decide(live: LiveCampaign) -> dict | None:
        return service.edit(live.body, body, fired=live.state.rules_fired, budget_used=live.state.budget_used,
                            allowed_hosts=tenant.allowed_hosts, convert=rates.convert, now=now)

    return service.read(await changes.change(tenant.id, cid, decide, now=now), now)


@router.post("/v1/campaigns/{cid}/cancel", summary="Cancel a scheduled campaign",
             responses={409: {"description": "the campaign is live or ended (`campaign.not_scheduled`)"}})
async def cancel_campaign(cid: str, changes: Changes, tenant: TenantDep) -> dict:
    """Status `cancelled`: its share links still lead to the landing URL, without `ll_ref` and
    without counting the click; its events are rejected (`campaign.cancelled`), so nothing more is
    rewarded; invites and draws are refused. Rewards granted before stay in the ledger. Cancelling
    a cancelled campaign again answers it unchanged."""
    now = clock.now_ms()
    return service.read(await changes.change(tenant.id, cid, lambda live: service.cancel(live.body, now=now),
                                             now=now), now)
