from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from liveloop.draws import periods as draw_periods
from liveloop.engine.model import DrawRule
from liveloop.kit import clock
from liveloop.kit.errors import NotFound
from liveloop.kit.times import iso
from liveloop.tenants.auth import current_tenant
from liveloop.tenants.service import Tenant

router = APIRouter(tags=["draws"])


@router.get("/v1/campaigns/{cid}/draws/{rule_id}",
            summary="A draw's periods, each with its committed seed hash and status")
async def get_draw(
    cid: str, rule_id: str, request: Request, tenant: Annotated[Tenant, Depends(current_tenant)]
) -> dict:
    rt = request.app.state.runtime
    live = await rt.live.get(tenant.id, cid)
    config = live.state.config
    rule = next((r for r in config.rules if r.id == rule_id), None)
    if not isinstance(rule, DrawRule):
        raise NotFound(f"draw {rule_id!r} not found in campaign {cid!r}", field="rule_id")
    timezone = live.body["timezone"]
    now = clock.now_ms()
    return {
        "rule_id": rule.id,
        "period": rule.period,
        "timezone": timezone,
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
                    rt.secret_key, tenant_id=tenant.id, campaign_id=cid, rule_id=rule.id, period=p.name)),
                "result": None,
            }
            for p in draw_periods.periods(rule.period, config.starts_at, config.ends_at, timezone)
        ],
    }
