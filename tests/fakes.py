"""In-memory stand-ins for the storage Protocols, for fast unit tests of the pipeline.

They keep what the SQL store keeps (campaign bodies, the event log in order, invite codes, the
ledger's rows) in plain lists and dicts, and follow the same rules: an event id is logged once per
tenant, and a write is all or nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from liveloop.campaigns import service as campaigns_service
from liveloop.campaigns.schemas import CampaignCreate
from liveloop.engine.model import Event
from liveloop.engine.state import CampaignState
from liveloop.events.store import BatchWrite, DuplicateRace, EventRow, Logged, code_campaigns
from liveloop.kit.db.writer import WriterFailed
from liveloop.rewards.ledger import LedgerRows
from liveloop.sharelink.repository import CodeTarget


class FakeLedger:
    """The reward ledger in memory: rewards as granted and their later changes, appended in order."""

    def __init__(self) -> None:
        self.rewards: list[tuple] = []  # in rewards/repository.py REWARD_COLUMNS order
        self.history: list[tuple] = []  # in CHANGE_COLUMNS order

    def write(self, conn: Any, rows: LedgerRows) -> None:
        self.rewards.extend(rows.inserts)
        self.history.extend(rows.history)

    def granted(self) -> list[tuple[str, str, str]]:
        """(rule, user, role) of each reward, in the order granted."""
        return [(row[3], row[4], row[5]) for row in self.rewards]


class FakeInvites:
    """Invite codes in memory: the invite lookup of ingestion and the share link's target lookup."""

    def __init__(self) -> None:
        self.targets: dict[str, CodeTarget] = {}
        self.lookups = 0  # how often the share link's cache missed

    def add(self, tenant_id: str, campaign_id: str, code: str, user_id: str, landing: str | None = None) -> None:
        self.targets[code] = CodeTarget(tenant_id, campaign_id, user_id, landing)

    async def owners(self, tenant_id: str, campaign_ids: list[str], codes: Collection[str]) -> dict[str, str]:
        return {code: owner for code, owner in self.all_owners(tenant_id, campaign_ids).items() if code in codes}

    def all_owners(self, tenant_id: str, campaign_ids: list[str]) -> dict[str, str]:
        return {code: t.owner for code, t in self.targets.items()
                if t.tenant_id == tenant_id and t.campaign_id in campaign_ids}

    async def target(self, code: str) -> CodeTarget | None:
        self.lookups += 1
        return self.targets.get(code)


class FakeEventStore:
    def __init__(self, invites: FakeInvites | None = None, ledger: FakeLedger | None = None) -> None:
        self.bodies: dict[tuple[str, str], dict] = {}
        self.log: list[EventRow] = []
        self.invites = invites if invites is not None else FakeInvites()
        self.users: list[tuple] = []
        self.ledger = ledger if ledger is not None else FakeLedger()
        self.fail_next_write: Exception | None = None

    def add_campaign(self, tenant_id: str, body: dict) -> dict:
        data = campaigns_service.normalize(CampaignCreate.model_validate(body), allowed_hosts=("shop.example.com",))
        self.bodies[(tenant_id, data["id"])] = data
        return data

    async def load(self, tenant_id: str, campaign_id: str) -> tuple[dict, CampaignState] | None:
        body = self.bodies.get((tenant_id, campaign_id))
        if body is None:
            return None
        config = campaigns_service.to_config(tenant_id, body)
        state = CampaignState(config, self.invites.all_owners(tenant_id, code_campaigns(config)))
        for row in self._after(tenant_id, campaign_id, 0):
            row.apply_to(state)
            state.last_seq = row.seq
        return body, state

    async def body(self, tenant_id: str, campaign_id: str) -> dict | None:
        return self.bodies.get((tenant_id, campaign_id))

    async def logged_ids(self, tenant_id: str, ids: list[str]) -> set[str]:
        wanted = set(ids)
        return {row.id for row in self.log if row.tenant_id == tenant_id and row.id in wanted}

    async def pending(self, state: CampaignState) -> tuple[list[Logged], dict[str, str]]:
        cfg = state.config
        return self._after(cfg.tenant_id, cfg.id, state.last_seq), {}

    async def find_codes(self, state: CampaignState, codes: set[str]) -> dict[str, str]:
        cfg = state.config
        return await self.invites.owners(cfg.tenant_id, code_campaigns(cfg), codes)

    def write(self, conn: Any, batch: BatchWrite) -> None:
        if self.fail_next_write is not None:
            failure, self.fail_next_write = self.fail_next_write, None
            raise failure
        logged = {(row.tenant_id, row.id) for row in self.log}
        if any((row.tenant_id, row.id) in logged for row in batch.events):
            raise DuplicateRace("an event was already logged")
        self.log.extend(batch.events)
        self.users.extend(batch.users)
        if batch.ledger is not None:
            self.ledger.write(conn, batch.ledger)
        for write in batch.staged:
            write(conn)

    def last_seq(self, conn: Any, tenant_id: str, campaign_id: str) -> int:
        return max((i + 1 for i, row in enumerate(self.log)
                    if row.tenant_id == tenant_id and row.campaign_id == campaign_id), default=0)

    def _after(self, tenant_id: str, campaign_id: str, seq: int) -> list[Logged]:
        return [Logged(i + 1, row.received_at, Event(row.id, row.type, row.user_id, row.at, row.ref, row.order_id,
                                                     row.amount, row.currency, row.value))
                for i, row in enumerate(self.log)
                if i + 1 > seq and row.tenant_id == tenant_id and row.campaign_id == campaign_id]


class FakeDatabase:
    """The writer's contract without a thread: a write runs at once, in the caller's order; a write
    that raises is a WriterFailed, and the states it was computed from go to `on_failure`."""

    dialect = "fake"
    locks = None

    def __init__(self) -> None:
        self.on_failure: Callable[[frozenset | None], None] | None = None

    async def write(self, fn: Callable[[Any], Any], *, isolated: bool = False, campaigns: Any = None) -> Any:
        try:
            return fn(None)
        except Exception as exc:
            if self.on_failure is not None and not isolated:
                self.on_failure(frozenset(campaigns) if campaigns is not None else None)
            raise WriterFailed(str(exc)) from exc

    async def read(self, fn: Callable[[Any], Any]) -> Any:
        return fn(None)


class FakeRates:
    """A tenant without FX rates."""

    async def table(self, tenant_id: str) -> None:
        return None


class FakeNames:
    """The users table's names, locales and consents in memory (the NameLookup Protocol)."""

    def __init__(self) -> None:
        self.people: dict[tuple[str, str], tuple[str | None, str | None, dict]] = {}
        self.asked: list[list[str]] = []  # the ids of each lookup, in order

    def add(self, tenant_id: str, user_id: str, name: str | None, *, locale: str | None = None,
            consents: dict | None = None) -> None:
        self.people[(tenant_id, user_id)] = (name, locale, consents or {})

    def _known(self, tenant_id: str, user_ids: list[str]) -> dict[str, tuple[str | None, str | None, dict]]:
        self.asked.append(list(user_ids))
        return {uid: self.people[(tenant_id, uid)] for uid in user_ids if (tenant_id, uid) in self.people}

    async def display_names(self, tenant_id: str, user_ids: list[str]) -> dict[str, str | None]:
        return {uid: name for uid, (name, _locale, _consents) in self._known(tenant_id, user_ids).items()}

    async def names_and_consents(self, tenant_id: str, user_ids: list[str]) -> dict[str, tuple[str | None, dict]]:
        return {uid: (name, consents) for uid, (name, _locale, consents) in self._known(tenant_id, user_ids).items()}

    async def names_and_locales(self, tenant_id: str,
                                user_ids: list[str]) -> dict[str, tuple[str | None, str | None]]:
        return {uid: (name, locale) for uid, (name, locale, _consents) in self._known(tenant_id, user_ids).items()}
