"""Request validation errors said as the API says them (the 422 `invalid` error's field and message).

Shared by the API's error handler (app.py) and the console's forms, which show the API's words.
"""

from __future__ import annotations

from liveloop.campaigns.schemas import LANDING_URL_PATTERN
from liveloop.kit.ids import LINE_PATTERN, LINES_PATTERN, USER_ID_PATTERN
from liveloop.kit.money import AMOUNT_PATTERN, decimal_rule

# What the common patterns ask, said for people rather than as the regular expression.
PATTERN_RULES = {
    LINE_PATTERN: "must not contain control characters",
    LINES_PATTERN: "must not contain control characters other than tabs and line breaks",
    USER_ID_PATTERN: "must be 1 to 128 characters, none of them a control character",
    AMOUNT_PATTERN: f"must be {decimal_rule()}",
    LANDING_URL_PATTERN: "must be an https URL in printable ASCII (percent-encode other characters)",
}

# Discriminated unions add the tag to the location ("rules.0.milestone.tiers"): it is dropped.
_TAGS = ("reservation_referral", "milestone", "order_commission", "draw")


def field_and_message(error: dict) -> tuple[str | None, str]:
    """One pydantic error as (field, message): "rules.0.permit", "must be ..." (no field prefix)."""
    loc = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path", "header")]
    loc = [p for p in loc if p not in _TAGS]
    message = error.get("msg", "invalid").removeprefix("Value error, ")
    if error.get("type") == "string_pattern_mismatch":
        message = PATTERN_RULES.get(error.get("ctx", {}).get("pattern"), message)
    return ".".join(loc) or None, message
