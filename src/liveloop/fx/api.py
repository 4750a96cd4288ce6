from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends

from liveloop.deps import Db, Fx
from liveloop.fx import repository
from liveloop.fx.schemas import FxRatesRead, RatesUpdate
from liveloop.kit import clock
from liveloop.kit.money import check_currency
from liveloop.kit.times import iso, to_ms
from liveloop.tenants.auth import current_tenant
from liveloop.tenants.service import Tenant

router = APIRouter(tags=["fx"])


def _day_ms(day: date) -> int:
    return to_ms(datetime(day.year, day.month, day.day, tzinfo=UTC))


@router.put("/v1/fx-rates", response_model=FxRatesRead,
            summary="Supply dated FX rates (1 `from` = `rate` `to`, from `valid_from` on)")
async def put_rates(body: RatesUpdate, db: Db, fx: Fx, tenant: Annotated[Tenant, Depends(current_tenant)]) -> dict:
    rows = []
    for i, r in enumerate(body.rates):
        check_currency(r.base, field=f"rates.{i}.from")
        check_currency(r.quote, field=f"rates.{i}.to")
        rows.append((r.base, r.quote, _day_ms(r.valid_from), f"{r.rate:f}"))  # plain digits, never "1E-12"
    now = clock.now_ms()
    await db.write(lambda conn: repository.put_rates(conn, tenant_id=tenant.id, rates=rows, now=now), isolated=True)
    fx.forget(tenant.id)
    return await get_rates(db, tenant)


@router.get("/v1/fx-rates", response_model=FxRatesRead, summary="The FX rates the tenant supplied")
async def get_rates(db: Db, tenant: Annotated[Tenant, Depends(current_tenant)]) -> dict:
    rows = await db.read(lambda conn: repository.load_rows(conn, tenant.id))
    return {"rates": [{"from": b, "to": q, "rate": r, "valid_from": iso(v)[:10]}
                      for b, q, v, r in sorted(rows, key=lambda x: (x[0], x[1], x[2]))]}
