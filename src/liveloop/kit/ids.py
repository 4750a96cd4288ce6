"""Identifiers and secrets."""

from __future__ import annotations

import hashlib
import re
import secrets

# Campaign and rule ids: what POST /v1/campaigns accepts. Anything else cannot exist.
CAMPAIGN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
# Invite codes: generated ones, and the vanity codes POST .../invites accepts. Anything else cannot
# exist, so the share link answers "unknown code" without asking the database.
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{2,31}$"
CODE = re.compile(CODE_PATTERN.replace("$", r"\Z"))

# Text clients name things with (ids, display names, titles): no control characters, C0, DEL or C1
# (U+0080..U+009F, among them U+0085, a line break to some software), which PostgreSQL refuses (NUL),
# HTTP headers cannot carry and no real name or id holds. The patterns are for pydantic, whose `$`
# is the very end of the text.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
# Descriptions and messages may break lines (tab, line feed, carriage return), nothing else.
LINES_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
# Ids the merchant chooses (users, events, orders): any other text.
USER_ID_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]{1,128}$"


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
