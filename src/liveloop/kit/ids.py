"""Identifiers and secrets."""

from __future__ import annotations

import hashlib
import re
import secrets

# Campaign and rule ids: what POST /v1/campaigns accepts. Anything else cannot exist.
CAMPAIGN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Ids the merchant chooses (users, events, orders): any printable text, no control characters,
# which PostgreSQL refuses (NUL) and which no real id carries.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


USER_ID_PATTERN = r"^[^\x00-\x1f\x7f]{1,128}$"


def printable(value: str) -> bool:
    return _CONTROL.search(value) is None


_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: codes get read aloud in lives


def new_api_key() -> str:
    return "ll_" + secrets.token_urlsafe(30)


def hash_api_key(key: str) -> str:
    """API keys are long random strings, so one SHA-256 is enough to store them safely."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_invite_code(length: int = 8) -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(length))


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"
