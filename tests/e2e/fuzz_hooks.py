"""Schemathesis hooks for test_fuzz.py (loaded by path through SCHEMATHESIS_HOOKS).

Random date-times rarely make a campaign window liveloop takes (years 1970 to 9998, the end after
the start), so most generated campaigns would be refused and the stateful phase would have nothing
to use. A generated window that would be refused becomes a live one (now, for two hours), and a
generated `follow_up_of` (random ids, which name no campaign of the tenant) is left out; every other
field stays as generated, and the other phases still send both.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import schemathesis


def _instant(value: object) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    if moment is None or moment.tzinfo is None or not 1970 <= moment.year <= 9998:
        return None
    return moment


@schemathesis.hook.apply_to(path="/v1/campaigns", method="POST")
def map_body(context, body):
    if not isinstance(body, dict):
        return body
    body = {k: v for k, v in body.items() if k != "follow_up_of"}
    starts, ends = _instant(body.get("starts_at")), _instant(body.get("ends_at"))
    if starts is not None and ends is not None and starts < ends:
        return body
    now = datetime.now(UTC).replace(microsecond=0)
    return {**body, "starts_at": (now - timedelta(minutes=30)).isoformat(),
            "ends_at": (now + timedelta(hours=2)).isoformat()}
