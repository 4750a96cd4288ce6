"""GET /v1/campaigns/{cid}/room-stream: the room's server-sent events, a bare ASGI handler.

It accepts the tenant's API key (`Authorization: Bearer`, for the console and for overlays rendered
server-side) or a room token (`?token=`, realtime/room_tokens.py). What it streams comes from the
room hub (realtime/room.py).
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

from liveloop.events.gate import CampaignGate
from liveloop.kit import clock
from liveloop.kit.asgi import header, send_error
from liveloop.kit.errors import LiveloopError, MethodNotAllowed, NotFound, Unauthorized
from liveloop.ops import metrics
from liveloop.realtime.room import RoomHub
from liveloop.realtime.room_tokens import verify_room_token
from liveloop.realtime.stream import CORS, SSE_HEADERS, close_on_disconnect, pump_frames
from liveloop.tenants.auth import ApiKeys
from liveloop.tenants.scopes import READ
from liveloop.tenants.signing import Signing

_PREFIX = "/v1/campaigns/"
_OPEN = metrics.OPEN_STREAMS.labels("room")
_SUFFIX = "/room-stream"


def is_room_stream(path: str) -> bool:
    return path.startswith(_PREFIX) and path.endswith(_SUFFIX)


class RoomStream:
    def __init__(self, room: RoomHub, campaigns: CampaignGate, api_keys: ApiKeys, signing: Signing) -> None:
        self._room = room
        self._campaigns = campaigns
        self._api_keys = api_keys
        self._signing = signing

    async def __call__(self, scope, receive, send) -> None:
        hub = self._room
        try:
            if scope["method"] != "GET":
                raise MethodNotAllowed("use GET")
            campaign_id = scope["path"][len(_PREFIX):-len(_SUFFIX)]
            if not campaign_id or "/" in campaign_id:
                raise NotFound("no such room stream")
            now = clock.now_ms()
            tenant_id, expires_at = await self._authenticate(scope, campaign_id, now)
            await self._campaigns.get(tenant_id, campaign_id)
            sub, first = await hub.subscribe((tenant_id, campaign_id))
        except LiveloopError as exc:
            await send_error(send, exc, CORS)
            return
        watcher = asyncio.ensure_future(close_on_disconnect(receive, sub))
        _OPEN.inc()
        try:
            lifetime = hub.max_lifetime_seconds
            if expires_at is not None:
                lifetime = min(lifetime, (expires_at - now) / 1000)
            await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
            await send({"type": "http.response.body", "body": b"retry: 2000\n\n" + first, "more_body": True})
            await pump_frames(send, sub, hub.heartbeat_seconds, clock.monotonic() + lifetime)
        finally:
            _OPEN.dec()
            hub.unsubscribe(sub)
            watcher.cancel()

    async def _authenticate(self, scope, campaign_id: str, now: int) -> tuple[str, int | None]:
        """(tenant, token expiry): a room token from `?token=`, else the tenant's API key."""
        query = scope.get("query_string", b"")
        token = (parse_qs(query.decode("latin-1")).get("token") or [None])[0] if query else None
        if token:
            room = verify_room_token(self._signing.key, token, now=now)
            if room.campaign_id != campaign_id:
                raise Unauthorized("this room token is for another campaign", field="token")
            return room.tenant_id, room.expires_at
        tenant = await self._api_keys.tenant(header(scope, b"authorization") or None, need=READ)
        return tenant.id, None


def add_room_stream_docs(api) -> None:
    """The room stream in the OpenAPI document (a bare handler, which FastAPI cannot see)."""
    build = api.openapi
    path = "/v1/campaigns/{cid}/room-stream"

    def openapi() -> dict:
        schema = build()
        if path not in schema["paths"]:
            error = {"description": "error", "content": {"application/json": {"schema": {"type": "object"}}}}
            schema["paths"][path] = {"get": {
                "tags": ["realtime"],
                "summary": "The room's server-sent events for the host's overlay and the console: top 10, counters "
                           "and draw results, at most one snapshot every 250 ms",
                "parameters": [
                    {"name": "cid", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "token", "in": "query", "required": False, "schema": {"type": "string"},
                     "description": "a room token from POST /v1/campaigns/{cid}/room-tokens, instead of the API key"},
                ],
                "responses": {"200": {"description": "text/event-stream", "content": {"text/event-stream": {}}},
                              "401": error, "404": error, "429": error},
            }}
        return schema

    api.openapi = openapi  # type: ignore[method-assign]
