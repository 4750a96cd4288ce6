"""The review queue's and the blocklist's SQL."""

from __future__ import annotations

import base64
import ipaddress
import re

import orjson
import sqlalchemy as sa

from liveloop.fraud.models import fraud_blocklist, fraud_reviews
from liveloop.fraud.signals import Blocklist
from liveloop.kit.db import keyset
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


_QUEUE_ORDER = ((r.risk, True), (r.id, False))  # highest risk first, then by id


def page(conn: sa.Connection, *, tenant_id: str, campaign_id: str, status: str | None, limit: int,
         cursor: str | None, before: str | None = None) -> tuple[list[dict], str | None, str | None]:
    """Reviews by risk, highest first (then id): the first `limit`, those after `cursor`, or those just
    before `before`; with `next_cursor` while more follow and the cursor of the page before, if any."""
    query = sa.select(fraud_reviews).where(r.tenant_id == tenant_id, r.campaign_id == campaign_id)
    if status is not None:
        query = query.where(r.status == status)
    at = _read_cursor(before if before is not None else cursor) if before is not None or cursor is not None \
        else None
    found = keyset.page(conn, query, _QUEUE_ORDER, position_of=lambda row: (row["risk"], row["id"]), limit=limit,
                        at=at, backward=before is not None)
    return (found.rows, _cursor(*found.next) if found.next else None,
            _cursor(*found.previous) if found.previous else None)


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
