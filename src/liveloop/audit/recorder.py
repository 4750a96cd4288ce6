"""Records management actions in the audit log, around the management API (not the hot paths).

Which calls are management actions is declared here, by route; a call is recorded once it
succeeded (2xx, or the console's redirect), before its answer leaves, so an answered action is in the log. Its target is
named by ids only: the route's path parameters and the `id` (or an erased user's `pseudonym`) of
the answer, never a body's personal data.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import orjson

from liveloop.audit.service import record
from liveloop.kit import clock
from liveloop.kit.db.database import Database
from liveloop.tenants.auth import ACTOR

log = logging.getLogger("liveloop.audit")

ACTIONS: dict[tuple[str, str], str] = {
    ("POST", "/v1/campaigns"): "campaign.create",
    ("PATCH", "/v1/campaigns/{cid}"): "campaign.update",
    ("POST", "/v1/campaigns/{cid}/cancel"): "campaign.cancel",
    ("POST", "/v1/campaigns/{cid}/draws/{rule_id}/run"): "draw.run",
    ("POST", "/v1/campaigns/{cid}/clips"): "clip.create",
    ("POST", "/v1/campaigns/{cid}/reviews/decisions"): "review.decide",
    ("PUT", "/v1/blocklist"): "blocklist.update",
    ("POST", "/v1/api-keys"): "api_key.create",
    ("DELETE", "/v1/api-keys/{key_id}"): "api_key.revoke",
    ("POST", "/v1/webhook-endpoints"): "webhook_endpoint.create",
    ("DELETE", "/v1/webhook-endpoints/{endpoint_id}"): "webhook_endpoint.delete",
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/rotate"): "webhook_endpoint.rotate",
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/deliveries/{msg_id}/retry"): "webhook_delivery.retry",
    ("POST", "/v1/integrations"): "integration.create",
    ("PUT", "/v1/integrations/{integration_id}"): "integration.update",
    ("PUT", "/v1/fx-rates"): "fx_rates.update",
    ("DELETE", "/v1/users/{uid}"): "user.erase",
    # The console's forms answer a redirect when they succeed; its actor is the operator.
    ("POST", "/console/login"): "console.login",
    ("POST", "/console/campaigns"): "campaign.create",
    ("POST", "/console/campaigns/{cid}/draws/{rule_id}/run"): "draw.run",
    ("POST", "/console/campaigns/{cid}/reviews/decisions"): "review.decide",
}

# Path parameters that name a person: never written to the log (the answer's pseudonym is).
_PERSONAL = {"uid"}


class AuditRecorder:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def __call__(self, app, scope, receive, send) -> None:
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await app(scope, receive, send)
            return
        held: list[dict] = []

        async def hold(message: dict) -> None:
            held.append(message)

        try:
            await app(scope, receive, hold)
            await self._record(scope, held)
        finally:
            for message in held:
                await send(message)

    async def _record(self, scope: dict, held: list[dict]) -> None:
        route = scope.get("route")
        actor = scope.get(ACTOR)
        if route is None or actor is None or not held or held[0].get("type") != "http.response.start":
            return
        action = ACTIONS.get((scope["method"], route.path))
        if action is None or not 200 <= held[0]["status"] < 400:
            return
        tenant_id, key_id = actor
        target = _target(scope.get("path_params") or {}, b"".join(m.get("body", b"") for m in held[1:]))
        if target is None and action == "campaign.create":
            target = _created_by_form(held[0].get("headers") or [])
        now = clock.now_ms()
        try:
            await self._db.write(lambda conn: record(conn, tenant_id=tenant_id, actor=key_id, action=action,
                                                     target=target, now=now))
        except Exception:  # the action is done and answered: a missing entry is logged, not a 503
            log.exception("could not record %s by %s in the audit log", action, key_id)


def _created_by_form(headers: list) -> str | None:
    """The console answers a created campaign with a redirect to the list, `?created=<id>`."""
    for name, value in headers:
        if name.lower() == b"location":
            created = parse_qs(urlsplit(value.decode("latin-1")).query).get("created")
            if created:
                return f"id={created[0]}"
    return None


def _target(path_params: dict, body: bytes) -> str | None:
    parts = [f"{name}={value}" for name, value in path_params.items() if name not in _PERSONAL]
    try:
        answer = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        answer = None
    if isinstance(answer, dict):
        for name in ("pseudonym", "id"):
            value = answer.get(name)
            if isinstance(value, str | int) and value not in path_params.values():
                parts.append(f"{name}={value}")
                break
    return " ".join(parts) or None
