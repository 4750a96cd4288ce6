"""In-memory directories of room bindings and provider user mappings, refreshed from the database.

A webhook must be answered fast, so the common path reads only memory; the database is asked
when a directory is older than a few seconds (other processes may have created a campaign or a
mapping) or when a notice names a channel that no known campaign binds.
"""

from __future__ import annotations

from dataclasses import dataclass

from liveloop.kit.db.database import Database
from liveloop.rooms import repository
from liveloop.rooms.repository import Binding, Version

# A notice is routed to the campaigns binding its channel whose window, widened by this much,
# contains the notice's time: presences opened just before the live or closed just after it
# are kept, a channel reused for next week's live is not mixed in.
ROUTE_MARGIN_MS = 3_600_000
BINDINGS_FRESH_MS = 2_000
USERS_FRESH_MS = 5_000


@dataclass(slots=True)
class _TenantRooms:
    version: Version | None
    by_channel: dict[tuple[str, str], list[Binding]]
    checked_at: int

    def around(self, provider: str, channel: str, at: int) -> list[Binding]:
        return [b for b in self.by_channel.get((provider, channel), ())
                if b.starts_at - ROUTE_MARGIN_MS <= at <= b.ends_at + ROUTE_MARGIN_MS]


class RoomDirectory:
    """Which campaigns of a tenant bind a provider's channel."""

    def __init__(self, db: Database, *, fresh_ms: int = BINDINGS_FRESH_MS) -> None:
        self._db = db
        self._fresh_ms = fresh_ms
        self._tenants: dict[str, _TenantRooms] = {}

    async def bound(self, tenant_id: str, provider: str, channel: str, at: int, now: int) -> list[Binding]:
        """The campaigns a notice of `channel` at `at` belongs to (empty when none)."""
        rooms = self._tenants.get(tenant_id)
        checked = False
        if rooms is None or now - rooms.checked_at > self._fresh_ms:
            rooms = await self._check(tenant_id, rooms, now)
            checked = True
        found = rooms.around(provider, channel, at)
        if not found and not checked:
            # Perhaps a campaign created a moment ago, possibly by another process.
            found = (await self._check(tenant_id, rooms, now)).around(provider, channel, at)
        return found

    async def _check(self, tenant_id: str, rooms: _TenantRooms | None, now: int) -> _TenantRooms:
        known = rooms.version if rooms is not None else None
        loaded = await self._db.read(lambda conn: repository.bindings(conn, tenant_id=tenant_id, known=known))
        if loaded is None and rooms is not None:
            rooms.checked_at = now
            return rooms
        version, found = loaded if loaded is not None else (None, [])
        by_channel: dict[tuple[str, str], list[Binding]] = {}
        for binding in found:
            by_channel.setdefault((binding.provider, binding.channel), []).append(binding)
        fresh = _TenantRooms(version, by_channel, now)
        self._tenants[tenant_id] = fresh
        return fresh


class RoomUsers:
    """Provider user id -> the shop's user id, per campaign; the provider's id when unmapped."""

    def __init__(self, db: Database, *, fresh_ms: int = USERS_FRESH_MS) -> None:
        self._db = db
        self._fresh_ms = fresh_ms
        self._maps: dict[tuple[str, str], tuple[int, dict[str, str]]] = {}

    async def load(self, tenant_id: str, campaign_ids: list[str], now: int) -> None:
        """Make sure the mappings of these campaigns are at most a few seconds old."""
        stale = [cid for cid in campaign_ids
                 if (entry := self._maps.get((tenant_id, cid))) is None or now - entry[0] > self._fresh_ms]
        if not stale:
            return
        found = await self._db.read(lambda conn: repository.users_of(conn, tenant_id=tenant_id, campaign_ids=stale))
        for cid, mapping in found.items():
            self._maps[(tenant_id, cid)] = (now, mapping)

    def resolve(self, tenant_id: str, campaign_id: str, provider_uid: str) -> str:
        entry = self._maps.get((tenant_id, campaign_id))
        return entry[1].get(provider_uid, provider_uid) if entry is not None else provider_uid

    def remember(self, tenant_id: str, campaign_id: str, provider_uid: str, user_id: str) -> None:
        """A mapping this process just stored is used at once."""
        entry = self._maps.get((tenant_id, campaign_id))
        if entry is not None:
            entry[1][provider_uid] = user_id


@dataclass(slots=True)
class Rooms:
    directory: RoomDirectory
    users: RoomUsers

    @classmethod
    def build(cls, db: Database) -> Rooms:
        return cls(RoomDirectory(db), RoomUsers(db))
