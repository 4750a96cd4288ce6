"""Webhook endpoints and their deliveries as the API and the console change and show them (SPEC 11).

Both `/v1/webhook-endpoints` and the console's webhook pages go through these functions, so a form
refuses what the API refuses and a page shows what the API returns. They take the connection first
and never commit; checking a URL resolves its host, so it is a coroutine of its own (`check_url`),
awaited before the write.
"""

from __future__ import annotations

import secrets

import orjson
import sqlalchemy as sa

from liveloop.kit.errors import Invalid
from liveloop.kit.times import iso
from liveloop.webhooks import repository, signing, urls

ROTATION_OVERLAP_MS = 24 * 3600 * 1000
DELIVERY_STATUSES = ("pending", "succeeded", "failed")


async def check_url(url: str, *, allow_private: bool) -> None:
    """Invalid (field `url`) unless the URL may receive webhooks: https on a public address (SSRF)."""
    await urls.check_field(url, allow_private=allow_private)


def read(endpoint: repository.Endpoint, secret: str | None = None) -> dict:
    """An endpoint as the API shows it; the secret only at creation and rotation."""
    return {"id": endpoint.id, "url": endpoint.url, "events": list(endpoint.events) if endpoint.events else None,
            "description": endpoint.description, "created_at": iso(endpoint.created_at), "secret": secret}


def create_endpoint(conn: sa.Connection, *, tenant_id: str, url: str, events: list[str] | None,
                    description: str | None, now: int) -> dict:
    """A new endpoint (its URL checked before), with its secret: the only time it is shown."""
    secret = signing.new_secret()
    endpoint = repository.create_endpoint(
        conn, endpoint_id="ep_" + secrets.token_hex(12), tenant_id=tenant_id, url=url,
        events=sorted(set(events)) if events else None, description=description, secret=secret, now=now)
    return read(endpoint, secret)


def list_endpoints(conn: sa.Connection, *, tenant_id: str) -> list[dict]:
    return [read(ep) for ep in repository.list_endpoints(conn, tenant_id=tenant_id)]


def get_endpoint(conn: sa.Connection, *, tenant_id: str, endpoint_id: str) -> dict:
    return read(repository.get_endpoint(conn, tenant_id=tenant_id, endpoint_id=endpoint_id))


def delete_endpoint(conn: sa.Connection, *, tenant_id: str, endpoint_id: str, now: int) -> None:
    """Stop sending to the endpoint: it is no longer listed and its pending deliveries are dropped."""
    repository.delete_endpoint(conn, tenant_id=tenant_id, endpoint_id=endpoint_id, now=now)


def rotate(conn: sa.Connection, *, tenant_id: str, endpoint_id: str, now: int) -> dict:
    """A new secret; for 24 hours every delivery is signed with the old one too."""
    secret = signing.new_secret()
    repository.rotate_secret(conn, tenant_id=tenant_id, endpoint_id=endpoint_id, secret=secret,
                             keep_until=now + ROTATION_OVERLAP_MS)
    return {"id": endpoint_id, "secret": secret, "previous_secret_expires_at": iso(now + ROTATION_OVERLAP_MS)}


def _delivery(row: dict) -> dict:
    return {
        "message_id": row["message_id"], "type": row["type"], "status": row["status"],
        "created_at": iso(row["created_at"]),
        "next_attempt_at": iso(row["next_at"]) if row["next_at"] is not None else None,
        "attempts": [{"at": iso(at.at), "status_code": at.status_code, "error": at.error,
                      "duration_ms": at.duration_ms} for at in row["attempts"]],
    }


def deliveries(conn: sa.Connection, *, tenant_id: str, endpoint_id: str, status: str | None, limit: int,
               cursor: str | None) -> dict:
    """`{deliveries, next_cursor}`: the endpoint's messages, newest first, each with its attempts."""
    before = None
    if cursor is not None:
        if not cursor.isdigit() or len(cursor) > 18:
            raise Invalid("cursor is not one this list gave", field="cursor")
        before = int(cursor)
    rows = repository.deliveries(conn, tenant_id=tenant_id, endpoint_id=endpoint_id, status=status,
                                 limit=limit + 1, before=before)
    page = rows[:limit]
    return {"deliveries": [_delivery(row) for row in page],
            "next_cursor": str(page[-1]["id"]) if len(rows) > limit else None}


def delivery(conn: sa.Connection, *, tenant_id: str, endpoint_id: str, message_id: str) -> dict:
    """One message's delivery to the endpoint with its attempts and the body sent (NotFound if none)."""
    row = repository.delivery(conn, tenant_id=tenant_id, endpoint_id=endpoint_id, message_id=message_id)
    return {**_delivery(row), "body": orjson.loads(row["body"])}


def retry(conn: sa.Connection, *, tenant_id: str, endpoint_id: str, message_id: str, now: int) -> dict:
    """Send the message to the endpoint again, now (poke the worker after the commit)."""
    repository.retry_now(conn, tenant_id=tenant_id, endpoint_id=endpoint_id, message_id=message_id, now=now)
    return {"message_id": message_id, "status": "pending"}
