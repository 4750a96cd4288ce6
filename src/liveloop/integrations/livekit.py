"""LiveKit webhooks.

LiveKit POSTs a `WebhookEvent` as JSON (protojson: camelCase names, int64 numbers as strings) with
`Content-Type: application/webhook+json` and an `Authorization` header holding a JWT: HS256-signed
with the API secret of the signing API key, `iss` = that API key, `nbf`/`exp` (valid five minutes),
and a `sha256` claim: the standard base64 of the SHA-256 of the raw body. The event has `event`
(`room_started`, `room_finished`, `participant_joined`, `participant_left`, ...), `id` (unique per
event), `createdAt` (Unix seconds), `room.name` and `participant.identity`.

The token is checked with PyJWT, as LiveKit's own server SDK checks it, the algorithm pinned to
HS256 (`none` and every other one refused).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

import jwt
import orjson

from liveloop.kit.errors import BadRequest, Unauthorized

LEEWAY_SECONDS = 60  # clock skew between LiveKit and liveloop, as LiveKit's own SDKs allow
JOINS = frozenset({"participant_joined"})
# A participant whose connection was aborted never made it in: its presence is closed like a leave.
LEAVES = frozenset({"participant_left", "participant_connection_aborted"})
ROOM_STARTED, ROOM_FINISHED = "room_started", "room_finished"


def verify(authorization: str, body: bytes, *, secret: str, api_key: str | None, now_ms: int) -> dict:
    """The token's claims once it and the body's hash check out; Unauthorized otherwise."""
    token = authorization.strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    if not token:
        raise Unauthorized("missing Authorization token", field="Authorization")
    try:
        claims = _claims(token, secret, api_key, now=now_ms // 1000)
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"webhook token refused: {exc}", field="Authorization") from None
    claimed = claims.get("sha256")
    try:
        digest = base64.b64decode(claimed, validate=True) if isinstance(claimed, str) else b""
    except (binascii.Error, ValueError):
        digest = b""
    if not hmac.compare_digest(digest, hashlib.sha256(body).digest()):
        raise Unauthorized("the token's sha256 claim does not match the body", field="Authorization")
    return claims


def _claims(token: str, secret: str, api_key: str | None, *, now: int) -> dict:
    # PyJWT checks the signature, the pinned algorithm, the issuer and that `exp` is there; the
    # times are checked here against the `now` handed in (only kit/clock.py reads the clock).
    claims = jwt.decode(token, secret, algorithms=["HS256"], issuer=api_key,
                        options={"require": ["exp"], "verify_exp": False, "verify_nbf": False,
                                 "verify_iat": False})
    exp, nbf = claims["exp"], claims.get("nbf")
    if not _number(exp):
        raise jwt.InvalidTokenError("exp is not a number")
    if now > exp + LEEWAY_SECONDS:
        raise jwt.ExpiredSignatureError("token expired")
    if nbf is not None and (not _number(nbf) or now < nbf - LEEWAY_SECONDS):
        raise jwt.ImmatureSignatureError("token not valid yet")
    return claims


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    id: str
    event: str
    room: str | None
    identity: str | None
    created_at_ms: int | None


def parse(body: bytes) -> WebhookEvent:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("a webhook event is a JSON object")
    event_id, event = data.get("id"), data.get("event")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 128:
        raise BadRequest("id must be a string of 1 to 128 characters", field="id")
    if not isinstance(event, str):
        raise BadRequest("event must be a string", field="event")
    room, participant = data.get("room") or {}, data.get("participant") or {}
    if not isinstance(room, dict) or not isinstance(participant, dict):
        raise BadRequest("room and participant must be objects", field="room")
    name, identity = room.get("name"), participant.get("identity")
    if name is not None and not isinstance(name, str):
        raise BadRequest("room.name must be a string", field="room.name")
    if identity is not None and not isinstance(identity, str):
        raise BadRequest("participant.identity must be a string", field="participant.identity")
    return WebhookEvent(event_id, event, name or None, identity or None, _seconds(data.get("createdAt")))


def _seconds(value: object) -> int | None:
    # protojson writes int64 as a decimal string; accept a plain number too.
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
        return int(value) * 1000
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**11:
        return value * 1000
    if value is None:
        return None
    raise BadRequest("createdAt must be Unix seconds", field="createdAt")
