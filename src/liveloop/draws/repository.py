"""Draw results and free entries in the database (functions of a connection; the caller commits)."""

from __future__ import annotations

import orjson
import sqlalchemy as sa

from liveloop.draws.models import draw_entries, draw_results
from liveloop.draws.service import StoredResult
from liveloop.engine.model import Event
from liveloop.events.models import events
from liveloop.kit.db.dialect import insert_ignore
from liveloop.users import service as users_service


def save_result(conn: sa.Connection, *, tenant_id: str, campaign_id: str, result: StoredResult,
                wins: list[Event], now: int) -> None:
    """The result row and the winners' `draw_win` events, in the caller's transaction."""
    conn.execute(draw_results.insert().values(
        tenant_id=tenant_id, campaign_id=campaign_id, rule_id=result.rule_id, period=result.period,
        seed=result.seed, seed_hash=result.seed_hash, entrants=result.entrants, entrants_hash=result.entrants_hash,
        entrant_list=result.entrant_list, winners=orjson.dumps(list(result.winners)).decode(), run_at=result.run_at))
    if wins:
        conn.execute(events.insert(), [
            {"tenant_id": tenant_id, "id": ev.id, "campaign_id": campaign_id, "type": ev.type, "user_id": ev.user_id,
             "at": ev.at, "ref": ev.ref, "order_id": ev.order_id, "received_at": now}
            for ev in wins])


def stored_results(conn: sa.Connection, *, tenant_id: str, campaign_id: str, rule_id: str,
                   period: str | None = None) -> dict[str, StoredResult]:
    """The rule's run periods (or only `period`), by period name."""
    c = draw_results.c
    query = sa.select(draw_results).where(c.tenant_id == tenant_id, c.campaign_id == campaign_id, c.rule_id == rule_id)
    if period is not None:
        query = query.where(c.period == period)
    return {row.period: _stored(row) for row in conn.execute(query)}


def recent_results(conn: sa.Connection, *, tenant_id: str, campaign_id: str, limit: int) -> list[StoredResult]:
    """The campaign's latest results of every draw rule, oldest first."""
    c = draw_results.c
    rows = conn.execute(sa.select(draw_results).where(c.tenant_id == tenant_id, c.campaign_id == campaign_id)
                        .order_by(c.run_at.desc()).limit(limit)).all()
    return [_stored(row) for row in reversed(rows)]



def _stored(row) -> StoredResult:
    return StoredResult(row.rule_id, row.period, row.seed, row.seed_hash, row.entrants, row.entrants_hash,
                        row.entrant_list, tuple(orjson.loads(row.winners)), row.run_at)


def add_free_entry(conn: sa.Connection, *, tenant_id: str, campaign_id: str, rule_id: str, period: str,
                   user_id: str, market: str, now: int) -> tuple[int, bool]:
    """Enter a user for free (once per period); returns (entered_at, created)."""
    users_service.ensure(conn, tenant_id=tenant_id, user_id=user_id, market=market, now=now)
    created = conn.execute(insert_ignore(conn.dialect.name, draw_entries).values(
        tenant_id=tenant_id, campaign_id=campaign_id, rule_id=rule_id, period=period, user_id=user_id,
        created_at=now).returning(draw_entries.c.user_id)).first() is not None
    c = draw_entries.c
    entered_at = conn.execute(sa.select(c.created_at).where(
        c.tenant_id == tenant_id, c.campaign_id == campaign_id, c.rule_id == rule_id, c.period == period,
        c.user_id == user_id)).scalar_one()
    return entered_at, created


def free_entries(conn: sa.Connection, *, tenant_id: str, campaign_id: str, rule_id: str, period: str) -> list[str]:
    c = draw_entries.c
    return list(conn.execute(sa.select(c.user_id).where(
        c.tenant_id == tenant_id, c.campaign_id == campaign_id, c.rule_id == rule_id, c.period == period)).scalars())
