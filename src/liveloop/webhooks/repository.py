"""The SQL of outgoing webhooks: endpoints, fan-out of the outbox, claiming due deliveries, attempts.

Claims lock rows with `FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite is one process's own and renders
no lock) and move the claimed deliveries' `next_at` to the end of a lease inside the same
transaction: several processes never send the same attempt, and a process killed mid-attempt leaves
deliveries that another takes up once the lease has passed (at least once, never lost).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import orjson
import sqlalchemy as sa

from liveloop.kit.db.bulk import BulkInsert
from liveloop.kit.errors import NotFound
from liveloop.webhooks.models import webhook_attempts, webhook_deliveries, webhook_endpoints, webhook_messages

e, m, d, a = webhook_endpoints.c, webhook_messages.c, webhook_deliveries.c, webhook_attempts.c


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: str
    tenant_id: str
    url: str
    events: tuple[str, ...] | None
    description: str | None
    created_at: int
    previous_until: int | None


@dataclass(frozen=True, slots=True)
class Claimed:
    """One attempt to make: what to send, where, and with which secrets."""

    delivery_id: int
    endpoint_id: str
    url: str
    secrets: tuple[str, ...]
    message_id: str
    body: str
    attempts: int  # made before this one
    # The lease's end, written as the delivery's `next_at` when it was claimed: its outcome changes the
    # delivery only if `next_at` still says so (nobody claimed it again, nobody asked for a retry).
    lease_until: int


def _endpoint(row) -> Endpoint:
    events = tuple(orjson.loads(row.events)) if row.events is not None else None
    return Endpoint(row.id, row.tenant_id, row.url, events, row.description, row.created_at, row.previous_until)


# -- endpoints ---------------------------------------------------------------------------------


def create_endpoint(conn: sa.Connection, *, endpoint_id: str, tenant_id: str, url: str, events: list[str] | None,
                    description: str | None, secret: str, now: int) -> Endpoint:
    conn.execute(webhook_endpoints.insert().values(
        id=endpoint_id, tenant_id=tenant_id, url=url, events=orjson.dumps(events).decode() if events else None,
        description=description, secret=secret, created_at=now))
    return get_endpoint(conn, tenant_id=tenant_id, endpoint_id=endpoint_id)


def get_endpoint(conn: sa.Connection, *, tenant_id: str, endpoint_id: str) -> Endpoint:
    row = conn.execute(sa.select(webhook_endpoints).where(
        e.tenant_id == tenant_id, e.id == endpoint_id, e.deleted_at.is_(None))).first()
    if row is None:
        raise NotFound(f"webhook endpoint {endpoint_id!r} not found", field="endpoint_id")
    return _endpoint(row)


def list_endpoints(conn: sa.Connection, *, tenant_id: str) -> list[Endpoint]:
    rows = conn.execute(sa.select(webhook_endpoints).where(e.tenant_id == tenant_id, e.deleted_at.is_(None))
                        .order_by(e.created_at, e.id))
    return [_endpoint(row) for row in rows]


def live_endpoint_types(conn: sa.Connection) -> list[tuple[str, tuple[str, ...] | None]]:
    """(tenant, types taken; None: every type) of every live endpoint, of every tenant."""
    return [(tenant_id, tuple(orjson.loads(events)) if events is not None else None)
            for tenant_id, events in conn.execute(sa.select(e.tenant_id, e.events).where(e.deleted_at.is_(None)))]


def endpoints_signature(conn: sa.Connection) -> tuple[int, int]:
    """Changes with every creation (the count grows) and deletion (the sum of deletion times grows)."""
    count, deleted = conn.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(e.deleted_at), 0))
                                  .select_from(webhook_endpoints)).one()
    return count, deleted


def delete_endpoint(conn: sa.Connection, *, tenant_id: str, endpoint_id: str, now: int) -> None:
    """The endpoint deleted, and its pending deliveries dropped: failed, never to be sent (an attempt under
    way when it is deleted still ends, and is logged, but no longer changes its delivery)."""
    get_endpoint(conn, tenant_id=tenant_id, endpoint_id=endpoint_id)
    conn.execute(webhook_endpoints.update().where(e.id == endpoint_id).values(deleted_at=now))
    conn.execute(webhook_deliveries.update().where(d.endpoint_id == endpoint_id, d.status == "pending")
                 .values(status="failed", updated_at=now))


def rotate_secret(conn: sa.Connection, *, tenant_id: str, endpoint_id: str, secret: str, keep_until: int) -> None:
    get_endpoint(conn, tenant_id=tenant_id, endpoint_id=endpoint_id)
    conn.execute(webhook_endpoints.update().where(e.id == endpoint_id).values(
        previous_secret=e.secret, previous_until=keep_until, secret=secret))


# -- fan-out and claims ------------------------------------------------------------------------


FAN_OUT_LIMIT = 500  # messages per fan-out write


def fan_out(conn: sa.Connection, *, now: int, limit: int = FAN_OUT_LIMIT) -> int:
    """Deliveries for the oldest messages not fanned out yet: one per endpoint of the tenant that
    existed when the message was written and takes its type. Returns how many messages were done."""
    messages = conn.execute(
        sa.select(m.seq, m.tenant_id, m.type, m.created_at).where(m.fanned_out.is_(False))
        .order_by(m.seq).limit(limit).with_for_update(skip_locked=True)
    ).all()
    if not messages:
        return 0
    tenants = sorted({row.tenant_id for row in messages})
    endpoints: dict[str, list[Endpoint]] = {}
    for row in conn.execute(sa.select(webhook_endpoints).where(e.tenant_id.in_(tenants), e.deleted_at.is_(None))):
        endpoints.setdefault(row.tenant_id, []).append(_endpoint(row))
    deliveries = [
        (msg.seq, ep.id, msg.tenant_id, "pending", 0, now, now)
        for msg in messages for ep in endpoints.get(msg.tenant_id, ())
        if ep.created_at <= msg.created_at and (ep.events is None or msg.type in ep.events)
    ]
    # The fan-out runs in the writer, grouped with ingestion's writes: rows one by one through the
    # driver's executemany would take the GIL back per row and hold the group's commit (measured on
    # SQLite: ingestion with an endpoint at 0.78 of without, the fan-out a tenth of the writer's time).
    _delivery_insert(conn.dialect.name)(conn, deliveries)
    seqs = [row.seq for row in messages]
    if conn.dialect.name == "postgresql":
        # One array, one statement text: an IN list of up to 500 values is a new query for the
        # driver to convert each time (measured: 15% of the profile samples of a process ingesting on PostgreSQL).
        conn.exec_driver_sql("UPDATE webhook_messages SET fanned_out = true WHERE seq = ANY(%b::bigint[])", (seqs,))
    else:  # SQLite, the other dialect liveloop runs on (kit/db/dialect.py): the same, from one JSON array
        conn.exec_driver_sql("UPDATE webhook_messages SET fanned_out = 1 WHERE seq IN (SELECT value FROM json_each(?))",
                             (orjson.dumps(seqs).decode(),))
    return len(messages)


_DELIVERY_COLUMNS = ("message_seq", "endpoint_id", "tenant_id", "status", "attempts", "next_at", "updated_at")


@cache
def _delivery_insert(dialect_name: str) -> BulkInsert:
    return BulkInsert(dialect_name, webhook_deliveries, _DELIVERY_COLUMNS)


def claim_due(conn: sa.Connection, *, now: int, lease_ms: int, room: int, free: Callable[[str], int]) -> list[Claimed]:
    """Due deliveries of live endpoints, oldest first, leased to this process until `now + lease_ms`:
    at most `room` in all and `free(endpoint_id)` per endpoint (what that endpoint has room for here)."""
    endpoints = conn.execute(
        sa.select(d.endpoint_id).join(webhook_endpoints, e.id == d.endpoint_id)
        .where(d.status == "pending", d.next_at <= now, e.deleted_at.is_(None))
        .group_by(d.endpoint_id).order_by(sa.func.min(d.next_at)).limit(200)
    ).scalars().all()
    claimed: list[Claimed] = []
    for endpoint_id in endpoints:
        take = min(free(endpoint_id), room - len(claimed))
        if take > 0:
            claimed += _claim(conn, endpoint_id=endpoint_id, now=now, lease_ms=lease_ms, limit=take)
    return claimed


def _claim(conn: sa.Connection, *, endpoint_id: str, now: int, lease_ms: int, limit: int) -> list[Claimed]:
    rows = conn.execute(
        sa.select(d.id, d.endpoint_id, d.attempts, e.url, e.secret, e.previous_secret, e.previous_until,
                  m.id.label("message_id"), m.body)
        .join(webhook_endpoints, e.id == d.endpoint_id)
        .join(webhook_messages, m.seq == d.message_seq)
        .where(d.endpoint_id == endpoint_id, d.status == "pending", d.next_at <= now)
        .order_by(d.next_at, d.id).limit(limit)
        .with_for_update(skip_locked=True, of=webhook_deliveries)
    ).all()
    if not rows:
        return []
    lease_until = now + lease_ms
    conn.execute(webhook_deliveries.update().where(d.id.in_([row.id for row in rows]))
                 .values(next_at=lease_until, updated_at=now))
    claimed = []
    for row in rows:
        keys = (row.secret,)
        if row.previous_secret and row.previous_until is not None and now < row.previous_until:
            keys = (row.secret, row.previous_secret)
        claimed.append(Claimed(row.id, row.endpoint_id, row.url, keys, row.message_id, row.body, row.attempts,
                               lease_until))
    return claimed


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an attempt ended; `next_at` None after a failure means no attempt is left (failed)."""

    delivery_id: int
    at: int
    status_code: int | None
    error: str | None
    duration_ms: int
    succeeded: bool
    next_at: int | None
    lease_until: int  # the claim's (Claimed.lease_until)

    @property
    def status(self) -> str:
        return "succeeded" if self.succeeded else ("pending" if self.next_at is not None else "failed")


def backlog(conn: sa.Connection, *, now: int) -> dict[str, int]:
    """The outbox's work left (all processes): messages to fan out, deliveries due, deliveries scheduled later
    (retries, and attempts under way whose lease has not run out)."""
    fan = conn.execute(sa.select(sa.func.count()).where(m.fanned_out.is_(False))).scalar_one()
    # Of live endpoints only: a database from before deletions dropped their deliveries may still hold
    # deleted endpoints' pending ones, which nobody will ever send.
    due, scheduled = conn.execute(
        sa.select(sa.func.count(sa.case((d.next_at <= now, 1))), sa.func.count(sa.case((d.next_at > now, 1))))
        .select_from(webhook_deliveries.join(webhook_endpoints, e.id == d.endpoint_id))
        .where(d.status == "pending", e.deleted_at.is_(None))).one()
    return {"fan_out": fan, "due": due, "scheduled": scheduled}


def record_attempts(conn: sa.Connection, *, outcomes: list[Outcome]) -> None:
    """Attempts' outcomes, each in the log of attempts and as its delivery's new status: two statements
    whatever their number (one round trip each on PostgreSQL; on SQLite no return to the interpreter per
    row), since outcomes are recorded by the writer while ingestion's batches wait for its commits.

    Every attempt made is logged and counted; its outcome becomes the delivery's status only while the
    delivery is still under this attempt's lease (`next_at` = `lease_until`, pending). An attempt that
    outlived its lease (the delivery claimed again by a process meanwhile) or was overtaken by a retry
    asked for by hand leaves the status to the attempt that took over: otherwise the later of the two
    records would win, and a success could be turned back into a retry or a failure."""
    _attempt_insert(conn.dialect.name)(conn, [
        (o.delivery_id, o.at, o.status_code, o.error[:500] if o.error else None, o.duration_ms) for o in outcomes])
    # One row per delivery (an UPDATE ... FROM applies one of several matching rows, any one): two
    # attempts of one delivery can end together when one outlived its lease and the delivery was claimed
    # again here. Both are counted; the newer lease's outcome is the one that may set the status.
    latest: dict[int, Outcome] = {}
    made: dict[int, int] = {}
    for o in outcomes:
        made[o.delivery_id] = made.get(o.delivery_id, 0) + 1
        kept = latest.get(o.delivery_id)
        if kept is None or o.lease_until > kept.lease_until:
            latest[o.delivery_id] = o
    changes = [(o.delivery_id, o.status, o.next_at if o.next_at is not None else o.at, o.at, o.lease_until,
                made[o.delivery_id]) for o in latest.values()]
    # Every SET expression reads the row as it was before the update (PostgreSQL and SQLite alike).
    if conn.dialect.name == "postgresql":
        leased = "d.status = 'pending' AND d.next_at = u.lease_until"
        conn.exec_driver_sql(
            f"UPDATE webhook_deliveries AS d SET attempts = d.attempts + u.made,"
            f" status = CASE WHEN {leased} THEN u.status ELSE d.status END,"
            f" next_at = CASE WHEN {leased} THEN u.next_at ELSE d.next_at END,"
            f" updated_at = CASE WHEN {leased} THEN u.at ELSE d.updated_at END"
            " FROM unnest(%b::bigint[], %b::text[], %b::bigint[], %b::bigint[], %b::bigint[], %b::integer[])"
            " AS u(id, status, next_at, at, lease_until, made) WHERE d.id = u.id",
            tuple(list(column) for column in zip(*changes, strict=True)))
    else:  # SQLite (kit/db/dialect.py): the same from one JSON array of rows
        leased = "status = 'pending' AND next_at = json_extract(u.value, '$[4]')"
        conn.exec_driver_sql(
            f"UPDATE webhook_deliveries SET attempts = attempts + json_extract(u.value, '$[5]'),"
            f" status = CASE WHEN {leased} THEN json_extract(u.value, '$[1]') ELSE status END,"
            f" next_at = CASE WHEN {leased} THEN json_extract(u.value, '$[2]') ELSE next_at END,"
            f" updated_at = CASE WHEN {leased} THEN json_extract(u.value, '$[3]') ELSE updated_at END"
            " FROM json_each(?) AS u WHERE webhook_deliveries.id = json_extract(u.value, '$[0]')",
            (orjson.dumps(changes).decode(),))


_ATTEMPT_COLUMNS = ("delivery_id", "at", "status_code", "error", "duration_ms")


@cache
def _attempt_insert(dialect_name: str) -> BulkInsert:
    return BulkInsert(dialect_name, webhook_attempts, _ATTEMPT_COLUMNS)


def retry_now(conn: sa.Connection, *, tenant_id: str, endpoint_id: str, message_id: str, now: int) -> None:
    get_endpoint(conn, tenant_id=tenant_id, endpoint_id=endpoint_id)
    found = conn.execute(
        sa.select(d.id).join(webhook_messages, m.seq == d.message_seq)
        .where(d.endpoint_id == endpoint_id, m.id == message_id)
    ).scalar()
    if found is None:
        raise NotFound(f"no delivery of message {message_id!r} to this endpoint", field="msg_id")
    conn.execute(webhook_deliveries.update().where(d.id == found).values(status="pending", next_at=now,
                                                                          updated_at=now))


# -- reading deliveries -------------------------------------------------------------------------


def deliveries(conn: sa.Connection, *, tenant_id: str, endpoint_id: str, status: str | None, limit: int,
               before: int | None) -> list[dict]:
    """Deliveries of an endpoint, newest first, each with its attempts; `before` is a delivery id (cursor)."""
    get_endpoint(conn, tenant_id=tenant_id, endpoint_id=endpoint_id)
    query = (sa.select(d.id, d.status, d.attempts, d.next_at, m.id.label("message_id"), m.type, m.created_at)
             .join(webhook_messages, m.seq == d.message_seq)
             .where(d.endpoint_id == endpoint_id).order_by(d.id.desc()).limit(limit))
    if status is not None:
        query = query.where(d.status == status)
    if before is not None:
        query = query.where(d.id < before)
    rows = conn.execute(query).all()
    attempts: dict[int, list] = {}
    if rows:
        for row in conn.execute(sa.select(a.delivery_id, a.at, a.status_code, a.error, a.duration_ms)
                                .where(a.delivery_id.in_([r.id for r in rows])).order_by(a.seq)):
            attempts.setdefault(row.delivery_id, []).append(row)
    return [{"id": row.id, "message_id": row.message_id, "type": row.type, "status": row.status,
             "created_at": row.created_at, "next_at": row.next_at if row.status == "pending" else None,
             "attempts": attempts.get(row.id, [])} for row in rows]


def delivery(conn: sa.Connection, *, tenant_id: str, endpoint_id: str, message_id: str) -> dict:
    """One message's delivery to an endpoint, with its attempts and the message's body."""
    get_endpoint(conn, tenant_id=tenant_id, endpoint_id=endpoint_id)
    row = conn.execute(
        sa.select(d.id, d.status, d.next_at, m.id.label("message_id"), m.type, m.created_at, m.body)
        .join(webhook_messages, m.seq == d.message_seq)
        .where(d.endpoint_id == endpoint_id, m.id == message_id)).first()
    if row is None:
        raise NotFound(f"no delivery of message {message_id!r} to this endpoint", field="msg_id")
    attempts = conn.execute(sa.select(a.delivery_id, a.at, a.status_code, a.error, a.duration_ms)
                            .where(a.delivery_id == row.id).order_by(a.seq)).all()
    return {"id": row.id, "message_id": row.message_id, "type": row.type, "status": row.status,
            "created_at": row.created_at, "next_at": row.next_at if row.status == "pending" else None,
            "attempts": attempts, "body": row.body}
