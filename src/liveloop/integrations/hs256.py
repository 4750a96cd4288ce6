"""JSON Web Tokens signed with HMAC-SHA256 (RFC 7519 / RFC 7515), verified with the standard library.

Only what a webhook receiver needs: the MAC is checked in constant time before the claims are
read, `alg` must be HS256 (never `none`), and `exp` / `nbf` are checked with a leeway.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

import orjson

MAX_TOKEN_CHARS = 8192
_SEGMENT = r"[A-Za-z0-9_-]+"
# Strict shape first: base64 decoders skip stray characters, which would let one token be spelled many ways.
_SHAPE = re.compile(rf"{_SEGMENT}\.{_SEGMENT}\.[A-Za-z0-9_-]{{43}}")


class InvalidToken(ValueError):
    """The token is malformed, forged, expired or not meant for this receiver."""


def decode(token: str, key: bytes, *, now: int, leeway: int, issuer: str | None = None) -> dict:
    """The verified claims of an HS256 token; `now` and `leeway` are in seconds."""
    if len(token) > MAX_TOKEN_CHARS or _SHAPE.fullmatch(token) is None:
        raise InvalidToken("not a JWT")
    signing_input, _, signature = token.rpartition(".")
    expected = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    if not hmac.compare_digest(b64url_decode(signature), expected):
        raise InvalidToken("signature does not match")
    encoded_header, _, encoded_claims = signing_input.partition(".")
    try:
        header = orjson.loads(b64url_decode(encoded_header))
        claims = orjson.loads(b64url_decode(encoded_claims))
    except (orjson.JSONDecodeError, ValueError):
        raise InvalidToken("header or claims are not base64url JSON") from None
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise InvalidToken("alg must be HS256")
    if not isinstance(claims, dict):
        raise InvalidToken("claims are not a JSON object")
    exp = claims.get("exp")
    if not _number(exp):
        raise InvalidToken("exp is missing")
    if now > exp + leeway:
        raise InvalidToken("token expired")
    nbf = claims.get("nbf")
    if nbf is not None and (not _number(nbf) or now < nbf - leeway):
        raise InvalidToken("token not valid yet")
    if issuer is not None and claims.get("iss") != issuer:
        raise InvalidToken("iss is not the configured API key")
    return claims


def b64url_decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:
        raise ValueError("not base64url") from exc


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
