"""The review queue's and the blocklist's SQL."""

from __future__ import annotations

import base64
import ipaddress
import re

import orjson
import sqlalchemy as sa

from liveloop.fraud.models import fraud_blocklist, fraud_reviews
from liveloop.fraud.signals import Blocklist
from liveloop.kit.errors import Invalid
from liveloop.kit.times import iso

r = fraud_reviews.c
REVIEW_ID = re.compile(r"^rv_[0-9a-f]{24}$")


def review_read(row: dict, reward_ids: list[str]) -> dict:
    """A review as the API and the `review.*` webhooks show it."""
    return {
        "id": row["id"],
        "campaign_id": row["campaign_id"],
        "referrer": row["referrer"],
        "referee": row["referee"],
        "risk": row["risk"],
        "signals": orjson.loads(row["signals"]),
        "reward_ids": reward_ids,
        "status": row["status"],
        "opened_at": iso(row["opened_at"]),
        "decided_at": iso(row["decided_at"]) if row["decided_at"] is not None else None,
        "decided_by": row["decided_by"],
        "note": row["note"],
    }


def open_reviews(conn: sa.Connection, rows: list[dict]) -> None:
    if rows:
        conn.execute(fraud_reviews.insert(), rows)


def page(conn: sa.Connection, *, tenant_id: str, campaign_id: str, status: str | None, limit: int,
         cursor: str | None) -> tuple[list[dict], str | None]:
    """Reviews by risk, highest first (then id); `next_cursor` while more follow."""
    query = sa.select(fraud_reviews).where(r.tenant_id == tenant_id, r.campaign_id == campaign_id)
    if status is not None:
        query = query.where(r.status == status)
    if cursor is not None:
        risk, last_id = _read_cursor(cursor)
        query = query.where(sa.or_(r.risk < risk, sa.and_(r.risk == risk, r.id > last_id)))
    rows = [dict(row) for row in conn.execute(query.order_by(r.risk.desc(), r.id).limit(limit + 1)).mappings()]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, _cursor(rows[-1]["risk"], rows[-1]["id"]) if more else None


def by_ids(conn: sa.Connection, *, tenant_id: str, ids: list[str]) -> dict[str, dict]:
    wanted = [i for i in ids if REVIEW_ID.match(i)]
    if not wanted:
        return {}
    rows = conn.execute(sa.select(fraud_reviews).where(r.tenant_id == tenant_id, r.id.in_(wanted))).mappings()
    return {row["id"]: dict(row) for row in rows}


def decide(conn: sa.Connection, *, review_id: str, status: str, decided_by: str, note: str | None, now: int) -> None:
    conn.execute(fraud_reviews.update().where(r.id == review_id, r.status == "open")
                 .values(status=status, decided_at=now, decided_by=decided_by, note=note))


def blocklist(conn: sa.Connection, *, tenant_id: str) -> Blocklist:
    entries = blocklist_entries(conn, tenant_id=tenant_id)
    return Blocklist(frozenset(entries["devices"]),
                     tuple(ipaddress.ip_network(n) for n in entries["networks"]),
                     frozenset(entries["email_domains"]))


_KINDS = {"device": "devices", "network": "networks", "email_domain": "email_domains"}


def blocklist_entries(conn: sa.Connection, *, tenant_id: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {name: [] for name in _KINDS.values()}
    b = fraud_blocklist.c
    for kind, value in conn.execute(sa.select(b.kind, b.value).where(b.tenant_id == tenant_id)
                                    .order_by(b.kind, b.value)):
        out[_KINDS[kind]].append(value)
    return out


def replace_blocklist(conn: sa.Connection, *, tenant_id: str, entries: dict[str, list[str]], now: int) -> None:
    """The tenant's blocklist becomes `entries` (already validated and normalized)."""
    conn.execute(fraud_blocklist.delete().where(fraud_blocklist.c.tenant_id == tenant_id))
    rows = [{"tenant_id": tenant_id, "kind": kind, "value": value, "created_at": now}
            for kind, name in _KINDS.items() for value in sorted(set(entries[name]))]
    if rows:
        conn.execute(fraud_blocklist.insert(), rows)


def _cursor(risk: int, review_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([risk, review_id])).decode().rstrip("=")


def _read_cursor(cursor: str) -> tuple[int, str]:
    try:
        risk, review_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if type(risk) is int and 0 <= risk <= 100 and isinstance(review_id, str) and REVIEW_ID.match(review_id):
            return risk, review_id
    except (ValueError, TypeError):
        pass
    raise Invalid("cursor is not one this API returned", field="cursor")
