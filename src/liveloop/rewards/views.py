"""Rewards as the API shows them: one entry per reward, its current status and full history."""

from __future__ import annotations

from liveloop.engine.model import Reward, RewardSpec
from liveloop.kit.money import to_decimal_str
from liveloop.kit.times import iso


def spec_read(spec: RewardSpec, currency: str) -> dict:
    """What a reward grants, with the fields that do not apply to its kind as null."""
    return {
        "kind": spec.kind,
        "amount": to_decimal_str(spec.amount, currency),
        "percent_off": str(spec.percent_off) if spec.percent_off is not None else None,
        "currency": currency if spec.amount is not None else None,
        "points": spec.points,
        "sku": spec.sku,
        "name": spec.name,
        "content": spec.content,
    }


def reward_read(r: Reward, now: int) -> dict:
    status = r.status_at(now)
    history = [
        {"status": c.status, "reason": c.reason, "cause_event_id": c.cause_event_id, "at": iso(c.at), "fraud": c.fraud}
        for c in r.history
    ]
    if status != r.status:
        # The hold ran out: shown as its own step, caused by the hold rather than by an event.
        history.append({"status": status, "reason": "hold_elapsed", "cause_event_id": None,
                        "at": iso(r.available_at), "fraud": None})
    return {
        "id": r.id,
        "rule_id": r.rule_id,
        "user_id": r.user_id,
        "role": r.role,
        **spec_read(r.spec, r.currency),
        "status": status,
        "reason": r.reason,
        "cause_event_id": r.cause_event_id,
        "created_at": iso(r.created_at),
        "available_at": iso(r.available_at),
        "history": history,
    }
