"""The reward ledger's rows: new rewards, their status changes, and the append-only history, as plain
tuples in the column order of rewards/repository.py (which writes them)."""

from __future__ import annotations

from dataclasses import dataclass, field

from liveloop.engine.model import Reward, RewardIssued, RewardStatusChanged, StatusChange


@dataclass(slots=True)
class LedgerRows:
    """Plain rows, taken on the event loop: the writer thread never sees live Reward objects."""

    inserts: list[tuple] = field(default_factory=list)  # rewards as granted
    history: list[tuple] = field(default_factory=list)  # later changes of status


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
            # A reward issued in this same batch is written with all its history at once.
            self._changed.append((effect.reward, effect.change))

    def rows(self) -> LedgerRows:
        out = LedgerRows()
        for cid, reward in self._issued.values():
            granted, *later = reward.history  # built from the reward while it never changed: read once
            out.inserts.append(_reward_row(self._tenant_id, cid, reward, granted))
            out.history.extend(_change_row(reward.id, c) for c in later)
        for reward, change in self._changed:
            out.history.append(_change_row(reward.id, change))
        return out


def _reward_row(tenant_id: str, campaign_id: str, r: Reward, granted: StatusChange) -> tuple:
    spec = r.spec
    percent_off = str(spec.percent_off) if spec.percent_off is not None else None
    return (r.id, tenant_id, campaign_id, r.rule_id, r.user_id, r.role, spec.kind, r.amount, percent_off, r.currency,
            spec.points, spec.sku, spec.name, spec.content, granted.status, granted.reason, r.cause_event_id,
            r.created_at, r.available_at)


def _change_row(reward_id: str, c: StatusChange) -> tuple:
    return (reward_id, c.status, c.reason, c.cause_event_id, c.at)

