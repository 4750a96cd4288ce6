"""Viewer tokens: a signed, expiring grant to one (tenant, campaign, user)'s stream and presence.

The format is compact enough for a query string: `base64url(json payload) "." base64url(mac)`, the
MAC being HMAC-SHA256 of the encoded payload under the server secret. The payload is only read
after the MAC has been checked in constant time, so a forged token reveals nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass

import orjson

from liveloop.kit.errors import Unauthorized
from liveloop.ops.context import note_tenant

MIN_TTL_SECONDS = 60
MAX_TTL_SECONDS = 86_400
MAX_TOKEN_CHARS = 1024
# The server secret also derives draw seeds: a domain prefix keeps the two MACs apart.
_DOMAIN = b"liveloop-viewer-token|"
# Strict shape before anything else: base64 decoders skip stray characters, which would let one
# token be spelled many ways.
_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}")


@dataclass(frozen=True, slots=True)
class ViewerToken:
    tenant_id: str
    campaign_id: str
    user_id: str
    expires_at: int  # epoch ms

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.tenant_id, self.campaign_id, self.user_id)


def sign(secret: str, *, tenant_id: str, campaign_id: str, user_id: str, ttl_seconds: int,
         now: int) -> tuple[str, int]:
    """A token for one viewer valid for `ttl_seconds` from `now` (epoch ms); returns (token, expires_at)."""
    return sign_claims(secret, _DOMAIN, {"t": tenant_id, "c": campaign_id, "u": user_id},
                       ttl_seconds=ttl_seconds, now=now)


def verify(secret: str, token: str | None, *, now: int) -> ViewerToken:
    """The viewer a token grants, or Unauthorized when it is missing, malformed, forged or expired."""
    claims = verify_claims(secret, _DOMAIN, token, now=now, what="viewer token",
                           expired="viewer token expired; ask the shop for a new one")
    viewer = ViewerToken(claims.get("t"), claims.get("c"), claims.get("u"), claims["x"])
    if not all(isinstance(v, str) for v in viewer.key):
        raise Unauthorized("malformed viewer token", field="token")
    note_tenant(viewer.tenant_id)
    return viewer


def sign_claims(secret: str, domain: bytes, claims: dict, *, ttl_seconds: int, now: int) -> tuple[str, int]:
    """`base64url(claims + expiry).base64url(HMAC-SHA256(secret, domain + body))`; (token, expires_at).

    Every kind of token has its own `domain`, so one kind can never be passed off as another.
    """
    if not MIN_TTL_SECONDS <= ttl_seconds <= MAX_TTL_SECONDS:
        raise ValueError(f"ttl_seconds must lie in {MIN_TTL_SECONDS}..{MAX_TTL_SECONDS}")
    expires_at = now + ttl_seconds * 1000
    return seal(secret, domain, claims, expires_at=expires_at), expires_at


def seal(secret: str, domain: bytes, claims: dict, *, expires_at: int) -> str:
    """A token of `claims` valid until `expires_at` (epoch ms), read back by `verify_claims`."""
    body = _b64encode(orjson.dumps({**claims, "x": expires_at}))
    return f"{body}.{_b64encode(_mac(secret, domain, body))}"


def verify_claims(secret: str, domain: bytes, token: str | None, *, now: int, what: str, expired: str) -> dict:
    """The claims of a token signed by `sign_claims` with the same domain, or Unauthorized."""
    if not token:
        raise Unauthorized(f"missing {what}", field="token")
    if len(token) > MAX_TOKEN_CHARS or _SHAPE.fullmatch(token) is None:
        raise Unauthorized(f"malformed {what}", field="token")
    body, _, mac = token.partition(".")
    if not hmac.compare_digest(mac, _b64encode(_mac(secret, domain, body))):
        raise Unauthorized(f"{what} signature does not match", field="token")
    try:
        claims = orjson.loads(_b64decode(body))
    except ValueError:
        claims = None
    # Only a holder of the secret can get past the signature, so a bad body is a bug, not an
    # attack; still a 401.
    if not isinstance(claims, dict) or type(claims.get("x")) is not int:
        raise Unauthorized(f"malformed {what}", field="token")
    if now >= claims["x"]:
        raise Unauthorized(expired, code="token_expired", field="token")
    return claims


def _mac(secret: str, domain: bytes, body: str) -> bytes:
    return hmac.new(secret.encode(), domain + body.encode("ascii"), hashlib.sha256).digest()


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:
        raise ValueError("not base64url") from exc
