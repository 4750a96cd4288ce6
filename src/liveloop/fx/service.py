"""Storing and loading a tenant's FX rates."""

from __future__ import annotations

import sqlalchemy as sa

from liveloop.fx.models import fx_rates
from liveloop.fx.rates import RateTable
from liveloop.kit.db.database import Database


def put_rates(conn: sa.Connection, *, tenant_id: str, rates: list[tuple[str, str, int, str]], now: int) -> None:
    for base, quote, valid_from, rate in rates:
        key = (fx_rates.c.tenant_id == tenant_id) & (fx_rates.c.base == base) & (fx_rates.c.quote == quote) & (
            fx_rates.c.valid_from == valid_from)
        if conn.execute(sa.update(fx_rates).where(key).values(rate=rate, created_at=now)).rowcount == 0:
            conn.execute(fx_rates.insert().values(tenant_id=tenant_id, base=base, quote=quote,
                                                  valid_from=valid_from, rate=rate, created_at=now))


def load_rows(conn: sa.Connection, tenant_id: str) -> list[tuple[str, str, int, str]]:
    query = sa.select(fx_rates.c.base, fx_rates.c.quote, fx_rates.c.valid_from, fx_rates.c.rate).where(
        fx_rates.c.tenant_id == tenant_id)
    return [tuple(row) for row in conn.execute(query)]


class TenantRates:
    """Every tenant's rate table, loaded on first use and kept current by PUT /v1/fx-rates."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._tables: dict[str, RateTable] = {}

    async def table(self, tenant_id: str) -> RateTable:
        table = self._tables.get(tenant_id)
        if table is None:
            rows = await self._db.read(lambda conn: load_rows(conn, tenant_id))
            table = self._tables.setdefault(tenant_id, RateTable(rows))
        return table

    def forget(self, tenant_id: str) -> None:
        self._tables.pop(tenant_id, None)
