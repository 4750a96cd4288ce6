"""Draws' pure parts: a stored result as the API shows it, and the `draw_win` events a run logs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from liveloop.engine.model import DRAW_WIN, Event
from liveloop.kit.times import iso


@dataclass(frozen=True, slots=True)
class StoredResult:
    rule_id: str
    period: str
    seed: str
    seed_hash: str
    entrants: int
    entrants_hash: str
    entrant_list: str
    winners: tuple[str, ...]
    run_at: int

    def entrant_ids(self) -> list[str]:
        return self.entrant_list.split("\n")[:-1]

    def public(self) -> dict:
        """The result as GET .../draws/{rule_id} shows it for a period."""
        return {"seed": self.seed, "entrants": self.entrants, "entrants_hash": self.entrants_hash,
                "winners": list(self.winners), "run_at": iso(self.run_at)}


def draw_event_id(campaign_id: str, rule_id: str, period: str, user_id: str) -> str:
    """The `draw_win` event's id: deterministic, within the 128-character limit, unlike any id of ours."""
    raw = "\x1f".join((campaign_id, rule_id, period, user_id)).encode()
    return "draw:" + hashlib.sha256(raw).hexdigest()[:40]


def win_events(campaign_id: str, rule_id: str, period: str, winners: list[str], at: int) -> list[Event]:
    return [Event(draw_event_id(campaign_id, rule_id, period, user_id), DRAW_WIN, user_id, at, rule_id, period)
            for user_id in winners]
