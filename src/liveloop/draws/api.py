from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Response

from liveloop.deps import Campaigns, SigningDep, component
from liveloop.draws import periods as draw_periods
from liveloop.draws.notices import draw_rule, rule_periods
from liveloop.draws.runner import DrawRunner, named_period
from liveloop.draws.schemas import (
    DrawEntrantsRead,
    DrawEntryRead,
    DrawRead,
    DrawRun,
    DrawRunRead,
    FreeEntryCreate,
    PeriodName,
)
from liveloop.kit import clock
from liveloop.kit.errors import Conflict, Invalid
from liveloop.kit.times import iso
from liveloop.tenants.auth import current_tenant
from liveloop.tenants.service import Tenant

router = APIRouter(tags=["draws"])
Draws = Annotated[DrawRunner, component("draws")]


@router.get("/v1/campaigns/{cid}/draws/{rule_id}", response_model=DrawRead,
            summary="A draw's periods, each with its committed seed hash, status and, once run, its result")
async def get_draw(
    cid: str, rule_id: str, campaigns: Campaigns, draws: Draws, signing: SigningDep,
    tenant: Annotated[Tenant, Depends(current_tenant)],
) -> dict:
    """`result` is null until the period is run; then `{seed, entrants, entrants_hash, winners, run_at}`.

    The entrant list itself is at `GET .../draws/{rule_id}/entrants?period=`; docs/draws.md says how
    to recompute the winners from it and the seed.
    """
    live = await campaigns.get(tenant.id, cid)
    rule = draw_rule(live, rule_id)
    results = await draws.results(tenant.id, cid, rule.id)
    now = clock.now_ms()
    return {
        "rule_id": rule.id,
        "period": rule.period,
        "timezone": live.body["timezone"],
        "winners": rule.winners,
        "permit": rule.permit,
        "free_entry": rule.free_entry,
        "periods": [
            {
                "period": p.name,
                "starts_at": iso(p.starts_at),
                "ends_at": iso(p.ends_at),
                "status": p.status(now),
                "seed_hash": draw_periods.seed_hash(draw_periods.seed(
                    signing.key, tenant_id=tenant.id, campaign_id=cid, rule_id=rule.id, period=p.name)),
                "result": results[p.name].public() if p.name in results else None,
            }
            for p in rule_periods(live, rule)
        ],
    }


@router.post("/v1/campaigns/{cid}/draws/{rule_id}/run", response_model=DrawRunRead,
             summary="Run a period that has ended: reveal its seed and draw its winners (the same result every time)",
             responses={409: {"description": "the period has not ended (`draw.period_not_ended`)"}})
async def run_draw(
    cid: str, rule_id: str, draws: Draws, signing: SigningDep, tenant: Annotated[Tenant, Depends(current_tenant)],
    body: Annotated[DrawRun | None, Body()] = None,
) -> dict:
    """`{rule_id, period, seed_hash, seed, entrants, winners}`: `entrants` is their count, `winners`
    their user ids in draw order. Also `entrants_hash`, `prizes` (each winner's display name and
    prize in the ledger, role `winner`) and `algorithm`."""
    return await draws.run(tenant.id, cid, rule_id, body.period if body else None, secret=signing.key,
                           now=clock.now_ms())


@router.post("/v1/campaigns/{cid}/draws/{rule_id}/entries", status_code=201, response_model=DrawEntryRead,
             summary="A free alternative entry, with the same odds as any other (rules with free_entry: true)",
             responses={200: {"model": DrawEntryRead, "description": "the user was already entered in that period"},
                        409: {"description": "no free entry for this draw (`draw.no_free_entry`), or the period "
                                             "has ended (`draw.period_ended`)"}})
async def enter_draw(
    cid: str, rule_id: str, body: FreeEntryCreate, draws: Draws, response: Response,
    tenant: Annotated[Tenant, Depends(current_tenant)],
) -> dict:
    entry, created = await draws.enter(tenant.id, cid, rule_id, body.user_id, body.period, now=clock.now_ms())
    if not created:
        response.status_code = 200
    return entry


@router.get("/v1/campaigns/{cid}/draws/{rule_id}/entrants", response_model=DrawEntrantsRead,
            summary="The entrant list of a run period, in the order its hash is taken",
            responses={409: {"description": "the period has not been run yet (`draw.not_run`)"}})
async def draw_entrants(
    cid: str, rule_id: str, campaigns: Campaigns, draws: Draws, tenant: Annotated[Tenant, Depends(current_tenant)],
    period: Annotated[PeriodName | None, Query()] = None,
) -> dict:
    """`entrants`: user ids sorted by their UTF-8 bytes; `entrants_hash` is the SHA-256 of them
    joined as lines (each followed by a newline)."""
    live = await campaigns.get(tenant.id, cid)
    rule = draw_rule(live, rule_id)
    if period is None:
        if rule.period != "campaign":
            raise Invalid("period is required for an hourly draw", field="period")
        period = "campaign"
    named_period(live, rule, period)
    result = await draws.result(tenant.id, cid, rule.id, period)
    if result is None:
        raise Conflict(f"period {period!r} of draw {rule.id!r} has not been run", code="draw.not_run",
                       field="period")
    return {"rule_id": rule.id, "period": period, "count": result.entrants, "entrants_hash": result.entrants_hash,
            "entrants": result.entrant_ids()}
