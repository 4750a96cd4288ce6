"""A tenant's FX rates in the database (functions of a connection; the caller commits)."""

from __future__ import annotations

import sqlalchemy as sa

from liveloop.fx.models import fx_rates


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
