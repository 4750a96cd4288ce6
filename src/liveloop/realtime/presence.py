"""POST /v1/presence: the widget's heartbeat, which covers viewers that no streaming provider reports.

A viewer's first beat inside the campaign window becomes a `room_join` event through the normal
ingestion path, under a deterministic id, so a join is counted once however many beats, tabs,
processes or restarts there are. Later beats only refresh when the viewer was last seen.
"""

from __future__ import annotations

import hashlib

import orjson

from liveloop.kit import clock
from liveloop.kit.asgi import read_body, send_response
from liveloop.kit.db.writer import WriterFailed
from liveloop.kit.errors import BadRequest, Invalid, LiveloopError, MethodNotAllowed, Unavailable
from liveloop.kit.times import iso
from liveloop.realtime.stream import CORS, send_json_cors, viewer_token
from liveloop.realtime.tokens import ViewerToken, verify

NEXT_BEAT_SECONDS = 30
MAX_BODY = 4096
_PREFLIGHT = [
    *CORS,
    (b"access-control-allow-methods", b"POST, OPTIONS"),
    (b"access-control-allow-headers", b"authorization, content-type"),
    (b"access-control-max-age", b"86400"),
]

Key = tuple[str, str, str]


class PresenceBook:
    """When each viewer was last seen, and which viewers' joins are known to be logged (in memory)."""

    def __init__(self, *, capacity: int = 200_000, forget_after_ms: int = 10 * 60_000) -> None:
        self._seen: dict[Key, int] = {}
        self._joined: set[Key] = set()
        self._capacity = capacity
        self._forget_after_ms = forget_after_ms

    def beat(self, key: Key, now: int) -> None:
        if key not in self._seen and len(self._seen) >= self._capacity:
            self._forget(now)
        self._seen[key] = now

    def last_seen(self, key: Key) -> int | None:
        return self._seen.get(key)

    def joined(self, key: Key) -> bool:
        return key in self._joined

    def mark_joined(self, key: Key) -> None:
        self._joined.add(key)

    def _forget(self, now: int) -> None:
        # Forgetting a join only costs a duplicate event later, which ingestion recognises.
        gone = [k for k, seen in self._seen.items() if now - seen > self._forget_after_ms]
        if not gone:
            gone = list(self._seen)[: len(self._seen) // 10]
        for key in gone:
            del self._seen[key]
            self._joined.discard(key)


def join_event_id(user_id: str, window_start: int) -> str:
    """The presence join's event id: one per viewer and campaign window, within the 128-char limit."""
    event_id = f"presence:{user_id}:{window_start}"
    if len(event_id) <= 128:
        return event_id
    return f"presence:sha256:{hashlib.sha256(user_id.encode()).hexdigest()}:{window_start}"


class PresenceEndpoint:
    def __init__(self, runtime) -> None:
        self._rt = runtime

    async def __call__(self, scope, receive, send) -> None:
        if scope["method"] == "OPTIONS":
            await send_response(send, 204, b"", b"text/plain", _PREFLIGHT)
            return
        try:
            if scope["method"] != "POST":
                raise MethodNotAllowed("use POST")
            reply = await self._beat(scope, receive)
        except LiveloopError as exc:
            await send_json_cors(send, exc.status, exc.body())
            return
        except WriterFailed:
            exc = Unavailable("the beat was not stored; send it again")
            await send_json_cors(send, exc.status, exc.body())
            return
        await send_json_cors(send, 200, reply)

    async def _beat(self, scope, receive) -> dict:
        rt = self._rt
        # Any content type: the widget sends text/plain so browsers skip the CORS preflight.
        body = await read_body(scope, receive, MAX_BODY)
        payload: object = {}
        if body.strip():
            try:
                payload = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise BadRequest("body is not valid JSON") from None
        if not isinstance(payload, dict):
            raise BadRequest('body must be {"token": "..."}')
        token = payload.get("token")
        if token is not None and not isinstance(token, str):
            raise Invalid("token must be a string", field="token")
        ref = payload.get("ref")
        if ref is not None and not (isinstance(ref, str) and 0 < len(ref) <= 64):
            raise Invalid("ref must be an invite code of 1 to 64 characters", field="ref")
        now = clock.now_ms()
        viewer = verify(rt.secret_key, token or viewer_token(scope), now=now)
        live = await rt.live.get(viewer.tenant_id, viewer.campaign_id)
        config = live.state.config
        book: PresenceBook = rt.presence
        book.beat(viewer.key, now)
        if config.starts_at <= now <= config.ends_at and not book.joined(viewer.key):
            await self._join(viewer, config.starts_at, ref, now)
            book.mark_joined(viewer.key)
        return {"ok": True, "next_beat_seconds": NEXT_BEAT_SECONDS}

    async def _join(self, viewer: ViewerToken, window_start: int, ref: str | None, now: int) -> None:
        event = {"id": join_event_id(viewer.user_id, window_start), "type": "room_join",
                 "campaign_id": viewer.campaign_id, "user_id": viewer.user_id, "at": iso(now)}
        if ref is not None:
            event["ref"] = ref
        result = await self._rt.ingestor.ingest(viewer.tenant_id, [event], now=now)
        if result.rejected:
            error = result.rejected[0]["error"]
            raise Invalid(error["message"], code=error["code"], field=error.get("field"))
