"""Writing the reward ledger: new rewards, their status changes, and the append-only history."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from liveloop.engine.model import Reward, RewardIssued, RewardStatusChanged, StatusChange
from liveloop.rewards.models import reward_changes, rewards

_UPDATE_STATUS = (
    rewards.update()
    .where(rewards.c.id == sa.bindparam("rid"))
    .values(status=sa.bindparam("new_status"), reason=sa.bindparam("new_reason"))
)


@dataclass(slots=True)
class LedgerRows:
    """Plain rows, taken on the event loop: the writer thread never sees live Reward objects."""

    inserts: list[dict] = field(default_factory=list)
    updates: list[dict] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)

    def write(self, conn: sa.Connection) -> None:
        if self.inserts:
            conn.execute(rewards.insert(), self.inserts)
        if self.updates:
            conn.execute(_UPDATE_STATUS, self.updates)
        if self.history:
            conn.execute(reward_changes.insert(), self.history)


class LedgerWrites:
    """Collects the ledger effects of one batch; `rows()` snapshots them once the batch is applied."""

    def __init__(self, tenant_id: str) -> None:
        self._tenant_id = tenant_id
        self._issued: dict[str, tuple[str, Reward]] = {}
        self._changed: list[tuple[Reward, StatusChange]] = []

    def add(self, campaign_id: str, effect: RewardIssued | RewardStatusChanged) -> None:
        if isinstance(effect, RewardIssued):
            self._issued[effect.reward.id] = (campaign_id, effect.reward)
        elif effect.reward.id not in self._issued:
            # A reward issued in this same batch is written whole, its history included.
            self._changed.append((effect.reward, effect.change))

    def rows(self) -> LedgerRows:
        out = LedgerRows()
        for cid, reward in self._issued.values():
            out.inserts.append(_reward_row(self._tenant_id, cid, reward))
            out.history.extend(_change_row(reward.id, c) for c in reward.history)
        for reward, change in self._changed:
            out.updates.append({"rid": reward.id, "new_status": change.status, "new_reason": change.reason})
            out.history.append(_change_row(reward.id, change))
        return out


def _reward_row(tenant_id: str, campaign_id: str, r: Reward) -> dict:
    spec = r.spec
    return {
        "id": r.id, "tenant_id": tenant_id, "campaign_id": campaign_id, "rule_id": r.rule_id,
        "user_id": r.user_id, "role": r.role, "kind": spec.kind, "amount": r.amount,
        "percent_off": str(spec.percent_off) if spec.percent_off is not None else None,
        "currency": r.currency, "points": spec.points, "sku": spec.sku, "name": spec.name,
        "content": spec.content, "status": r.status, "reason": r.reason,
        "cause_event_id": r.cause_event_id, "created_at": r.created_at, "available_at": r.available_at,
    }


def _change_row(reward_id: str, c: StatusChange) -> dict:
    return {"reward_id": reward_id, "status": c.status, "reason": c.reason, "cause_event_id": c.cause_event_id,
            "at": c.at}
