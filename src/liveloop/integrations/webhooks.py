"""POST /v1/integrations/{agora|livekit}/{id}: streaming-provider webhooks, a bare ASGI handler.

The signature is checked on the raw body before anything else is read or stored: a notice that
fails it is a 401 and leaves no trace. Authentic notices become room events through ingestion,
in one await; providers wait seconds at most and retry on anything but a 2xx.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from liveloop.integrations import agora, livekit
from liveloop.integrations import repository as integrations_repository
from liveloop.kit import clock
from liveloop.kit.asgi import header, read_body, send_error, send_json
from liveloop.kit.db.writer import WriterFailed
from liveloop.kit.errors import BadRequest, LiveloopError, MethodNotAllowed, NotFound, Unauthorized, Unavailable
from liveloop.ops.context import note_tenant
from liveloop.rooms.receiver import RoomReceiver, Source

if TYPE_CHECKING:
    from liveloop.integrations.agora import SequenceClock, SharedSequenceClock
    from liveloop.kit.db.database import Database

PREFIXES = ("/v1/integrations/agora/", "/v1/integrations/livekit/")
MAX_BODY = 256 * 1024
_PATH = re.compile(r"/v1/integrations/(agora|livekit)/([A-Za-z0-9_]{1,40})")


class Integrations:
    """Integration rows by id, cached. A secret may be replaced (PUT /v1/integrations/{id}), maybe
    by another process: a notice that fails the cached secret re-reads the row, at most once a second."""

    RELOAD_AFTER_MS = 1000

    def __init__(self, db) -> None:
        self._db = db
        self._known: dict[str, tuple[int, dict]] = {}

    async def get(self, integration_id: str, now: int) -> dict | None:
        found = self._known.get(integration_id)
        return found[1] if found is not None else await self._load(integration_id, now)

    async def newer(self, integration: dict, now: int) -> dict | None:
        """The row again if its credentials changed since `integration` was read, else None."""
        loaded_at, _ = self._known.get(integration["id"], (0, integration))
        if now - loaded_at < self.RELOAD_AFTER_MS:
            return None
        fresh = await self._load(integration["id"], now)
        if fresh is None or (fresh["secret"], fresh["api_key"]) == (integration["secret"], integration["api_key"]):
            return None
        return fresh

    async def _load(self, integration_id: str, now: int) -> dict | None:
        found = await self._db.read(lambda conn: integrations_repository.get(conn, integration_id=integration_id))
        if found is not None:
            self._known[integration_id] = (now, found)
        return found


class WebhookEndpoint:
    def __init__(self, db: Database, receiver: RoomReceiver, agora_clock: SequenceClock | SharedSequenceClock) -> None:
        self._integrations = Integrations(db)
        self._receiver = receiver
        self._agora_clock = agora_clock

    @staticmethod
    def handles(path: str) -> bool:
        return path.startswith(PREFIXES)

    async def __call__(self, scope, receive, send) -> None:
        try:
            match = _PATH.fullmatch(scope["path"])
            if match is None:
                raise NotFound("no such integration endpoint")
            if scope["method"] != "POST":
                raise MethodNotAllowed("use POST")
            provider, integration_id = match.groups()
            integration = await self._integrations.get(integration_id, clock.now_ms())
            if integration is None or integration["provider"] != provider:
                raise NotFound(f"integration {integration_id!r} not found")
            body = await read_body(scope, receive, MAX_BODY)
            try:
                reply = await self._handle(provider, integration, scope, body)
            except Unauthorized:
                # Nothing was stored: the signature is checked first. Perhaps the secret was replaced.
                fresh = await self._integrations.newer(integration, clock.now_ms())
                if fresh is None:
                    raise
                reply = await self._handle(provider, fresh, scope, body)
        except LiveloopError as exc:
            await send_error(send, exc)
            return
        except WriterFailed:
            await send_error(send, Unavailable("the notice was not stored; send it again"))
            return
        await send_json(send, 200, reply)

    async def _handle(self, provider: str, integration: dict, scope, body: bytes) -> dict:
        source = Source(integration["tenant_id"], provider, integration["id"])
        note_tenant(source.tenant_id)
        if provider == "agora":
            return await self._agora(source, integration, scope, body)
        return await self._livekit(source, integration, scope, body)

    async def _agora(self, source: Source, integration: dict, scope, body: bytes) -> dict:
        signature = header(scope, agora.SIGNATURE_HEADER)
        if not signature:
            raise Unauthorized("missing Agora-Signature-V2 header", field="Agora-Signature-V2")
        if not agora.verify(integration["secret"], body, signature):
            raise Unauthorized("Agora-Signature-V2 does not match the body", field="Agora-Signature-V2")
        notice = agora.parse(body)
        now = clock.now_ms()
        kind = ("room_join" if notice.event_type in agora.JOINS else
                "room_leave" if notice.event_type in agora.LEAVES else
                "room_end" if notice.event_type == agora.CHANNEL_DESTROYED else None)
        if kind is None:
            return {"ok": True, "ignored": f"event type {notice.event_type} is not a join or leave"}
        if notice.channel is None or notice.ts_ms is None or (kind != "room_end" and notice.uid is None):
            raise BadRequest("a channel event needs payload.channelName, payload.uid and payload.ts",
                             field="payload")
        if kind == "room_end":
            # At the end of its second: whatever users did in that second happened before the channel closed.
            return await self._receiver.room_finished(source, channel=notice.channel, key=notice.notice_id,
                                                      at=notice.ts_ms + 999, now=now)
        at = await self._agora_clock.order((source.integration_id, notice.channel, notice.uid), notice.client_seq,
                                              notice.ts_ms)
        return await self._receiver.notice(source, channel=notice.channel, key=notice.notice_id, kind=kind,
                                           provider_uid=notice.uid, at=at, now=now)

    async def _livekit(self, source: Source, integration: dict, scope, body: bytes) -> dict:
        now = clock.now_ms()
        livekit.verify(header(scope, b"authorization"), body, secret=integration["secret"],
                       api_key=integration["api_key"], now_ms=now)
        event = livekit.parse(body)
        if event.event not in livekit.JOINS | livekit.LEAVES | {livekit.ROOM_STARTED, livekit.ROOM_FINISHED}:
            return {"ok": True, "ignored": f"event {event.event!r} says nothing about presence"}
        if event.event == livekit.ROOM_STARTED:
            # Presences open with participants' own joins; the start itself changes nobody's.
            return {"ok": True, "ignored": "room_started opens no presence by itself"}
        if event.room is None or event.created_at_ms is None:
            raise BadRequest("a room event needs room.name and createdAt", field="room")
        if event.event == livekit.ROOM_FINISHED:
            return await self._receiver.room_finished(source, channel=event.room, key=event.id,
                                                      at=event.created_at_ms, now=now)
        if event.identity is None:
            raise BadRequest("a participant event needs participant.identity", field="participant.identity")
        kind = "room_join" if event.event in livekit.JOINS else "room_leave"
        return await self._receiver.notice(source, channel=event.room, key=event.id, kind=kind,
                                           provider_uid=event.identity, at=event.created_at_ms, now=now)
