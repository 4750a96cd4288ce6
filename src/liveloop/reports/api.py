from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from liveloop.deps import Campaigns, Db, Fx
from liveloop.invites.repository import holders
from liveloop.kit import clock
from liveloop.kit.errors import Invalid
from liveloop.kit.ids import USER_ID_PATTERN
from liveloop.kit.money import check_currency
from liveloop.kit.responses import ViewResponse
from liveloop.reports import views
from liveloop.reports.schemas import ProgressRead, ReportRead
from liveloop.tenants.auth import current_tenant
from liveloop.tenants.service import Tenant
from liveloop.users.repository import display_names

router = APIRouter(tags=["reports"])


@router.get("/v1/campaigns/{cid}/users/{uid}/progress", response_model=ProgressRead,
            summary="One user's referral progress")
async def progress(
    cid: str,
    uid: Annotated[str, Path(pattern=USER_ID_PATTERN)],
    campaigns: Campaigns,
    tenant: Annotated[Tenant, Depends(current_tenant)],
) -> dict:
    live = await campaigns.get(tenant.id, cid)
    return views.progress(live.state, uid, clock.now_ms())


@router.get("/v1/campaigns/{cid}/report", response_model=ReportRead,
            summary="Funnel, referred vs organic, per-referrer rows, K-factor",
            description="`k_factor` is the viral coefficient: " + views.K_FACTOR_DEFINITION + ".")
async def report(
    cid: str,
    campaigns: Campaigns,
    db: Db,
    fx: Fx,
    tenant: Annotated[Tenant, Depends(current_tenant)],
    currency: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$",
                                          description="read money in this currency (today's FX rate)")] = None,
) -> ViewResponse:
    live = await campaigns.get(tenant.id, cid)
    own = live.state.config.currency
    money = None
    if currency is not None and currency != own:
        check_currency(currency, field="currency")
        rate = (await fx.table(tenant.id)).rate(own, currency, clock.now_ms())
        if rate is None:
            raise Invalid(f"no FX rate from {own} to {currency}: supply one with PUT /v1/fx-rates", code="fx",
                          field="currency")
        money = views.Money(own, currency, rate)
    referrers = list(live.state.referrers)

    def people(conn) -> tuple[dict[str, str | None], int]:
        return (display_names(conn, tenant_id=tenant.id, user_ids=referrers),
                holders(conn, tenant_id=tenant.id, campaign_id=cid))

    names, inviters = await db.read(people)
    return ViewResponse(views.report(live.state, names=names, inviters=inviters, money=money))
