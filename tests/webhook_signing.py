"""Provider notices signed the way the providers document it, written independently of liveloop's code.

- Agora: `Agora-Signature-V2` = hex HMAC-SHA256 of the raw request body, keyed with the
  notification secret (Agora docs, "Verify the signature").
- LiveKit: `Authorization` = a JWT signed HS256 with the API secret: header {"alg":"HS256",
  "typ":"JWT"}, claims `iss` (API key), `nbf`, `exp` (five minutes), `sha256` = standard base64 of
  the SHA-256 of the raw body (livekit/protocol webhook/url_notifier.go, auth/accesstoken.go).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json


def agora_body(notice_id: str, event_type: int, channel: str, *, uid: int | None = None, client_seq: int | None = None,
               ts: int, notify_ms: int | None = None) -> bytes:
    payload: dict = {"channelName": channel, "ts": ts}
    if uid is not None:
        payload.update(uid=uid, platform=7)
    if client_seq is not None:
        payload["clientSeq"] = client_seq
    notice = {"noticeId": notice_id, "productId": 1, "eventType": event_type,
              "notifyMs": notify_ms if notify_ms is not None else ts * 1000 + 1500, "sid": "C866467GVJJ54687",
              "payload": payload}
    return json.dumps(notice, separators=(",", ":")).encode()


def agora_signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def jwt_hs256(claims: dict, secret: str, header: dict | None = None) -> str:
    head = _b64url(json.dumps(header or {"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    mac = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64url(mac)}"


def livekit_token(body: bytes, *, api_key: str, secret: str, now: int, valid_for: int = 300, **claims) -> str:
    """What LiveKit puts in the Authorization header of a webhook whose raw body is `body`."""
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")
    return jwt_hs256({"iss": api_key, "nbf": now, "exp": now + valid_for, "sha256": digest, **claims}, secret)


def livekit_body(event_id: str, event: str, room: str, *, created_at: int, identity: str | None = None) -> bytes:
    """A WebhookEvent as protojson writes it (camelCase, int64 as strings)."""
    data: dict = {"event": event, "room": {"sid": "RM_" + room, "name": room, "creationTime": str(created_at - 60)},
                  "id": event_id, "createdAt": str(created_at)}
    if identity is not None:
        data["participant"] = {"sid": "PA_" + identity, "identity": identity, "state": "ACTIVE",
                               "joinedAt": str(created_at)}
    return json.dumps(data, separators=(",", ":")).encode()
