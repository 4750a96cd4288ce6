"""GET /v1/stream?token=: a viewer's server-sent events. A bare ASGI handler (hot path).

The browser's EventSource reconnects by itself and sends the id of the last message it saw as
`Last-Event-ID`; the hub's per-viewer buffer fills the gap. A connection lives at most the hub's
`max_lifetime_seconds` (and never past its token's expiry): it then says `{"type": "reconnect"}` and
closes, so load balancers can rebalance and expired tokens stop reading.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

import orjson

from liveloop.kit import clock
from liveloop.kit.asgi import header, send_error, send_response
from liveloop.kit.errors import LiveloopError, MethodNotAllowed, TooManyRequests
from liveloop.ops import metrics
from liveloop.realtime.hub import Subscriber, TooManyStreams
from liveloop.realtime.tokens import verify

if TYPE_CHECKING:
    from liveloop.events.gate import CampaignGate
    from liveloop.kit.ratelimit import RateLimiter
    from liveloop.realtime.hub import Hub
    from liveloop.tenants.signing import Signing

# Viewer endpoints are called from the shop's pages on another origin; tokens, not cookies,
# authenticate them, so any origin may read the answers (a 429's Retry-After included).
CORS = [(b"access-control-allow-origin", b"*"), (b"access-control-expose-headers", b"retry-after")]
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),  # nginx: pass each message through at once
    *CORS,
]
_PING = b": ping\n\n"
_OPEN = metrics.OPEN_STREAMS.labels("viewer")
_RECONNECT = b"data: " + orjson.dumps({"type": "reconnect"}) + b"\n\n"


def viewer_token(scope: dict) -> str | None:
    """The token from `?token=` (EventSource cannot set headers) or `Authorization: Bearer`."""
    query = scope.get("query_string", b"")
    if query:
        values = parse_qs(query.decode("latin-1")).get("token")
        if values:
            return values[0]
    scheme, _, value = header(scope, b"authorization").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


class ViewerStream:
    """The viewer stream endpoint, with its limits per client address: new connections per minute
    (the rate limiter) and streams open at once in this process (`max_per_address`, 0: none), since
    a stream lives up to 30 minutes and the rate alone would let one address hold thousands."""

    def __init__(self, hub: Hub, campaigns: CampaignGate, limits: RateLimiter, signing: Signing, *,
                 max_per_address: int) -> None:
        self._hub = hub
        self._campaigns = campaigns
        self._limits = limits
        self._signing = signing
        self._max_per_address = max_per_address
        self._open: dict[str, int] = {}  # client address -> streams open now

    async def __call__(self, scope, receive, send) -> None:
        hub = self._hub
        try:
            if scope["method"] != "GET":
                raise MethodNotAllowed("use GET")
            now = clock.now_ms()
            client = scope.get("client")
            if client and not self._limits.allow("stream", client[0], now):
                raise TooManyRequests("too many new stream connections from this address",
                                      retry_after=self._limits.retry_after(now))
            viewer = verify(self._signing.key, viewer_token(scope), now=now)
            await self._campaigns.watch(viewer.tenant_id, viewer.campaign_id)
            address = client[0] if client else ""
            if self._max_per_address and self._open.get(address, 0) >= self._max_per_address:
                raise TooManyStreams(f"at most {self._max_per_address} open streams from one address")
            last_id = header(scope, b"last-event-id").strip()
            sub, replay = hub.subscribe(viewer.key, int(last_id) if last_id.isdigit() else None)
        except LiveloopError as exc:
            await send_error(send, exc, CORS)
            return
        self._open[address] = self._open.get(address, 0) + 1
        watcher = asyncio.ensure_future(close_on_disconnect(receive, sub))
        _OPEN.inc()
        try:
            lifetime = min(hub.max_lifetime_seconds, (viewer.expires_at - now) / 1000)
            await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
            await send({"type": "http.response.body", "body": b"retry: 2000\n\n" + b"".join(replay),
                        "more_body": True})
            await pump_frames(send, sub, hub.heartbeat_seconds, clock.monotonic() + lifetime)
        finally:
            _OPEN.dec()
            hub.unsubscribe(sub)
            watcher.cancel()
            left = self._open.pop(address) - 1
            if left:
                self._open[address] = left


async def pump_frames(send, sub: Subscriber, heartbeat: float, deadline: float) -> None:
    """Send a subscriber's frames as they come, a ping when quiet, and `reconnect` at the end.

    The frames queued while this waited to run go out in one write."""
    sub.start(heartbeat, deadline)
    try:
        while True:
            await sub.woken()
            if sub.closed:
                # The client went away (nothing to say), or the server is shutting down: what was queued
                # goes out, and when to reconnect (to another process, through the load balancer).
                hint = b"retry: %d\n" % sub.retry_ms if sub.retry_ms is not None else b""
                await send({"type": "http.response.body", "body": b"".join(sub.frames) + hint + _RECONNECT,
                            "more_body": False})
                return
            now = clock.monotonic()
            if now >= deadline:
                await send({"type": "http.response.body", "body": _RECONNECT, "more_body": False})
                return
            if sub.frames:
                body = b"".join(sub.frames)
                sub.frames.clear()
            elif sub.due:
                body = _PING
            else:
                continue
            await send({"type": "http.response.body", "body": body, "more_body": True})
            sub.sent(now)
    finally:
        sub.stop()


async def close_on_disconnect(receive, sub: Subscriber) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    sub.close()


async def send_json_cors(send, status: int, payload: object) -> None:
    """A viewer endpoint's answer, readable by the shop's pages (errors: kit/asgi.py send_error with CORS)."""
    await send_response(send, status, orjson.dumps(payload), b"application/json", CORS)
