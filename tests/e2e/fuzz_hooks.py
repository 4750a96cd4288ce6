"""Schemathesis hooks for test_fuzz.py (loaded by path through SCHEMATHESIS_HOOKS).

Random date-times rarely make a campaign window liveloop takes (years 1970 to 9998, the end after
the start), so most generated campaigns would be refused and the stateful phase would have nothing
to use. A generated window that would be refused becomes a live one (now, for two hours), and a
generated `follow_up_of` (random ids, which name no campaign of the tenant) is left out; every other
field stays as generated, and the other phases still send both.
"""

from __future__ import annotations

import uuid
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


# Schemathesis fills a new campaign's `id` with ids it has seen in answers, mostly of campaigns it
# created already: in the stateful phase such a scenario ends at its first step with a 409. There,
# an id the run has created becomes a fresh one; the other phases still send taken ids.
_CREATED: set[str] = set()


def _creates_campaign(case) -> bool:
    return case.operation.method.upper() == "POST" and case.operation.path == "/v1/campaigns"


@schemathesis.hook
def before_call(context, case, kwargs):
    if (_creates_campaign(case) and case.meta is not None and case.meta.phase.name == "stateful"
            and isinstance(case.body, dict) and case.body.get("id") in _CREATED):
        case.body = {**case.body, "id": f"fz-{uuid.uuid4().hex[:12]}"}


@schemathesis.hook
def after_call(context, case, response):
    if _creates_campaign(case) and response.status_code == 201:
        _CREATED.add(response.json()["id"])
