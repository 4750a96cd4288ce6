"""The audit log: management actions recorded, and read a page at a time."""

from __future__ import annotations

import base64

import orjson
import sqlalchemy as sa

from liveloop.audit.models import audit_log
from liveloop.kit.errors import BadRequest
from liveloop.kit.times import iso


def record(conn: sa.Connection, *, tenant_id: str, actor: str, action: str, target: str | None, now: int) -> None:
    conn.execute(audit_log.insert().values(tenant_id=tenant_id, at=now, actor=actor, action=action,
                                           target=target[:300] if target else None))


def page(conn: sa.Connection, *, tenant_id: str, limit: int, cursor: str | None) -> dict:
    """Newest first. The cursor names the last entry shown, so entries recorded meanwhile never shift
    a page (they appear on top of the first)."""
    c = audit_log.c
    query = sa.select(audit_log).where(c.tenant_id == tenant_id)
    if cursor is not None:
        query = query.where(c.seq < _read_cursor(cursor))
    rows = conn.execute(query.order_by(c.seq.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return {"entries": [{"id": r.seq, "at": iso(r.at), "actor": r.actor, "action": r.action, "target": r.target}
                        for r in rows],
            "next_cursor": _cursor(rows[-1].seq) if more else None}


def _cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(["audit", seq])).decode().rstrip("=")


def _read_cursor(cursor: str) -> int:
    try:
        kind, seq = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if kind == "audit" and type(seq) is int and 0 < seq < 2**62:
            return seq
    except (ValueError, TypeError):
        pass
    raise BadRequest("cursor is not one this API returned", field="cursor")
