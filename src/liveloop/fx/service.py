"""A tenant's FX rates as ingestion uses them: loaded once per tenant, forgotten when replaced."""

from __future__ import annotations

from liveloop.fx.rates import RateTable
from liveloop.fx.repository import load_rows
from liveloop.kit.db.database import Database


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
