"""Running draw periods, free entries, and telling viewers they entered or won.

A run is decided once: the entrants are taken from the campaign state (plus the free entries),
the winners drawn from the period's committed seed, and the result row, one `draw_win` event per
winner and the prizes' ledger rows are written in one transaction. The prizes are granted by the
engine from those events, so they count against the budget in log order, and a restart (or
another process catching up with the log) grants exactly the same rewards. What viewers and rooms
hear of it (draws/notices.py, realtime/room.py) follows from the committed effects.
"""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from liveloop.draws import periods as draw_periods
from liveloop.draws import repository, selection, service
from liveloop.draws.notices import draw_rule, rule_periods
from liveloop.draws.periods import Period
from liveloop.draws.service import StoredResult
from liveloop.engine.model import DrawRule, RewardIssued, RewardStatusChanged
from liveloop.events.committed import CommittedEffects, DrawCompleted, FreeEntryAdded
from liveloop.events.gate import CampaignGate
from liveloop.events.live import LiveCampaign, refuse_cancelled
from liveloop.kit.db.database import Database
from liveloop.kit.errors import Conflict, Invalid
from liveloop.kit.times import iso
from liveloop.rewards.ledger import LedgerWrites
from liveloop.rewards.repository import Ledger
from liveloop.users.repository import NameLookup

Key = tuple[str, str, str, str]  # (tenant, campaign, rule, period)


def named_period(live: LiveCampaign, rule: DrawRule, name: str) -> Period:
    found = next((p for p in rule_periods(live, rule) if p.name == name), None)
    if found is None:
        hint = '"campaign"' if rule.period == "campaign" else "a local hour YYYY-MM-DDTHH of the campaign window"
        raise Invalid(f"draw {rule.id!r} has no period {name!r}; its periods are named {hint}", field="period")
    return found


class DrawRunner:
    def __init__(self, db: Database, gate: CampaignGate, committed: CommittedEffects, ledger: Ledger,
                 names: NameLookup) -> None:
        self._db = db
        self._names = names
        self._live = gate
        self._committed = committed
        self._ledger = ledger
        self._results: dict[Key, StoredResult] = {}
        self._locks: dict[Key, asyncio.Lock] = {}

    # -- running ---------------------------------------------------------------------------

    async def run(self, tenant_id: str, campaign_id: str, rule_id: str, period_name: str | None, *,
                  secret: str, now: int) -> dict:
        """Run a period that has ended (the latest ended one when not named); the same result every time."""
        live = await self._live.get(tenant_id, campaign_id)
        refuse_cancelled(live)
        rule = draw_rule(live, rule_id)
        period = self._period_to_run(live, rule, period_name, now)
        key = (tenant_id, campaign_id, rule.id, period.name)
        result = self._results.get(key)
        if result is None:
            async with self._lock(key):
                result = self._results.get(key) or await self._run(live, rule, period, secret=secret, now=now)
                self._results[key] = result
        return await self.result_read(tenant_id, campaign_id, rule, result)

    def _period_to_run(self, live: LiveCampaign, rule: DrawRule, name: str | None, now: int) -> Period:
        if name is not None:
            period = named_period(live, rule, name)
        else:
            ended = [p for p in rule_periods(live, rule) if p.ends_at <= now]
            period = ended[-1] if ended else rule_periods(live, rule)[0]
        if now < period.ends_at:
            raise Conflict(f"period {period.name!r} of draw {rule.id!r} ends at {iso(period.ends_at)}; "
                           "a draw is run once its period has ended", code="draw.period_not_ended", field="period")
        return period

    async def _run(self, live: LiveCampaign, rule: DrawRule, period: Period, *, secret: str, now: int) -> StoredResult:
        config = live.state.config
        tenant_id, campaign_id = config.tenant_id, config.id
        found = await self._stored(tenant_id, campaign_id, rule.id, period.name)
        if found is not None:
            return found
        # Through the writer's queue, so that every free entry accepted before now is included.
        free = await self._db.write(lambda conn: repository.free_entries(
            conn, tenant_id=tenant_id, campaign_id=campaign_id, rule_id=rule.id, period=period.name), campaigns=())
        async with self._live.hold(tenant_id, [campaign_id]) as held:
            live = held[campaign_id]
            # Another process may have run it while this one waited for the campaign's lock.
            found = await self._stored(tenant_id, campaign_id, rule.id, period.name)
            if found is not None:
                return found
            # From here to the write there is no await: the state does not move under the draw.
            seed = draw_periods.seed(secret, tenant_id=tenant_id, campaign_id=campaign_id, rule_id=rule.id,
                                     period=period.name)
            entrants = selection.entrants(live.state, rule, period, free)
            winners = selection.pick_winners(seed, entrants, rule.winners)
            result = StoredResult(rule.id, period.name, seed, draw_periods.seed_hash(seed), len(entrants),
                                  selection.entrants_hash(entrants), selection.entrant_text(entrants),
                                  tuple(winners), now)
            wins = service.win_events(campaign_id, rule.id, period.name, winners, now)
            ledger = LedgerWrites(tenant_id)
            # The result first: this process's room then has it before the prizes announce it again.
            effects: list = [(live, DrawCompleted(result))]
            for ev in wins:
                for effect in live.state.apply(ev, now):
                    if isinstance(effect, (RewardIssued, RewardStatusChanged)):
                        ledger.add(campaign_id, effect)
                    effects.append((live, effect))
            rows = ledger.rows()
            staged = self._committed.staged(tenant_id, effects, now)

            def write(conn: sa.Connection) -> None:
                repository.save_result(conn, tenant_id=tenant_id, campaign_id=campaign_id, result=result, wins=wins,
                                    now=now)
                self._ledger.write(conn, rows)
                for also in staged:
                    also(conn)

            await self._live.commit(tenant_id, held, write)
        self._committed.publish(tenant_id, effects)
        return result

    async def _stored(self, tenant_id: str, campaign_id: str, rule_id: str, period: str) -> StoredResult | None:
        found = await self._db.read(lambda conn: repository.stored_results(
            conn, tenant_id=tenant_id, campaign_id=campaign_id, rule_id=rule_id, period=period))
        return found.get(period)

    def _lock(self, key: Key) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    # -- reading ---------------------------------------------------------------------------

    async def results(self, tenant_id: str, campaign_id: str, rule_id: str) -> dict[str, StoredResult]:
        found = await self._db.read(lambda conn: repository.stored_results(
            conn, tenant_id=tenant_id, campaign_id=campaign_id, rule_id=rule_id))
        for name, result in found.items():
            self._results[(tenant_id, campaign_id, rule_id, name)] = result
        return found

    async def result(self, tenant_id: str, campaign_id: str, rule_id: str, period: str) -> StoredResult | None:
        key = (tenant_id, campaign_id, rule_id, period)
        found = self._results.get(key) or await self._stored(tenant_id, campaign_id, rule_id, period)
        if found is not None:
            self._results[key] = found
        return found

    async def result_read(self, tenant_id: str, campaign_id: str, rule: DrawRule, result: StoredResult) -> dict:
        """The run's answer: SPEC's fields, the entrant list's hash, and each winner's name and prize."""
        live = await self._live.get(tenant_id, campaign_id)
        names = await self._names.display_names(tenant_id, list(result.winners))
        prizes = []
        for user_id in result.winners:
            event_id = service.draw_event_id(campaign_id, rule.id, result.period, user_id)
            reward = next((r for r in live.state.rewards_by_user.get(user_id, ())
                           if r.rule_id == rule.id and r.cause_event_id == event_id), None)
            prizes.append({"user_id": user_id, "display_name": names.get(user_id),
                           "reward_id": reward.id if reward else None,
                           "status": reward.status if reward else None,
                           "reason": reward.reason if reward else None})
        return {
            "rule_id": rule.id,
            "period": result.period,
            "seed_hash": result.seed_hash,
            "seed": result.seed,
            "entrants": result.entrants,
            "entrants_hash": result.entrants_hash,
            "winners": list(result.winners),
            "prizes": prizes,
            "algorithm": selection.ALGORITHM,
            "run_at": iso(result.run_at),
        }

    # -- free entries ----------------------------------------------------------------------

    async def enter(self, tenant_id: str, campaign_id: str, rule_id: str, user_id: str, period_name: str | None,
                    *, now: int) -> tuple[dict, bool]:
        """A free alternative entry (rules with `free_entry: true`); returns (entry, created)."""
        live = await self._live.get(tenant_id, campaign_id)
        refuse_cancelled(live)
        rule = draw_rule(live, rule_id)
        if not rule.free_entry:
            raise Conflict(f"draw {rule.id!r} has no free alternative entry (free_entry is not true)",
                           code="draw.no_free_entry", field="rule_id")
        if period_name is not None:
            period = named_period(live, rule, period_name)
        else:
            period = next((p for p in rule_periods(live, rule) if now < p.ends_at), None)
            if period is None:
                raise Conflict(f"every period of draw {rule.id!r} has ended", code="draw.period_ended",
                               field="period")
        if now >= period.ends_at:
            raise Conflict(f"period {period.name!r} of draw {rule.id!r} ended at {iso(period.ends_at)}",
                           code="draw.period_ended", field="period")
        market = live.body["market"]
        entered_at, created = await self._db.write(lambda conn: repository.add_free_entry(
            conn, tenant_id=tenant_id, campaign_id=campaign_id, rule_id=rule.id, period=period.name, user_id=user_id,
            market=market, now=now), isolated=True)
        if created:
            self._committed.publish(tenant_id, [(live, FreeEntryAdded(user_id, rule.id, period.name))])
        return {"rule_id": rule.id, "period": period.name, "user_id": user_id, "entered_at": iso(entered_at)}, created
