"""The running service's parts, built once by app.create_app and shared by every handler."""

from __future__ import annotations

from dataclasses import dataclass

from liveloop.draws.runner import DrawRunner
from liveloop.events.ingest import Ingestor
from liveloop.events.live import LiveCampaigns
from liveloop.fx.service import TenantRates
from liveloop.integrations.agora import SequenceClock, SharedSequenceClock, sequence_clock
from liveloop.kit.db.database import Database
from liveloop.kit.ratelimit import RateLimiter
from liveloop.leaderboards.shared import RedisLeaderboards
from liveloop.realtime.fanout import LogFanout
from liveloop.realtime.hub import Hub, names_from
from liveloop.realtime.presence import PresenceBook
from liveloop.realtime.room import RoomHub
from liveloop.realtime.shared_presence import SharedPresenceBook
from liveloop.rooms.directory import Rooms
from liveloop.settings import Settings
from liveloop.sharelink.targets import ShareTargets
from liveloop.tenants.auth import ApiKeys


@dataclass
class Runtime:
    settings: Settings
    db: Database
    live: LiveCampaigns
    ingestor: Ingestor
    api_keys: ApiKeys
    share_targets: ShareTargets
    fx: TenantRates
    hub: Hub
    presence: PresenceBook | SharedPresenceBook  # when each widget viewer last beat
    agora_clock: SequenceClock | SharedSequenceClock  # the order of each Agora user's notices
    room: RoomHub
    draws: DrawRunner
    rooms: Rooms
    limits: RateLimiter | None = None
    fanout: LogFanout | None = None  # several processes on one database only
    secret_key: str = ""

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        db = Database(settings.database_url)
        boards = RedisLeaderboards(settings.redis_url) if db.shared and settings.redis_url else None
        live = LiveCampaigns(db, boards)
        fx = TenantRates(db)
        hub = Hub(names=names_from(db))
        runtime = cls(
            settings=settings,
            db=db,
            live=live,
            ingestor=Ingestor(db, live, fx, future_tolerance_ms=settings.future_tolerance_ms),
            fx=fx,
            api_keys=ApiKeys(db),
            share_targets=ShareTargets(db),
            hub=hub,
            # With Redis, several processes share what a viewer's beats and an Agora user's notices
            # were; alone, a process keeps them in memory.
            presence=SharedPresenceBook(settings.redis_url) if settings.redis_url else PresenceBook(),
            agora_clock=sequence_clock(settings.redis_url),
            room=RoomHub(db, live),
            draws=DrawRunner(db, live, hub),
            rooms=Rooms.build(db),
        )
        runtime.limits = RateLimiter(
            {"share": settings.rate_limit_share_per_minute, "stream": settings.rate_limit_stream_per_minute,
             "presence": settings.rate_limit_presence_per_minute},
            redis_url=settings.redis_url,
        )
        # Viewers hear of effects only once they are durable (the ingestor calls this after commit).
        runtime.ingestor.on_committed = runtime.committed
        runtime.live.on_caught_up = runtime.committed
        runtime.draws.on_committed = runtime.committed
        runtime.draws.on_result = runtime.room.draw_result
        runtime.draws.on_won = runtime.room.draw_logged
        if db.shared:
            runtime.fanout = LogFanout(live, redis_url=settings.redis_url)
            runtime.ingestor.on_logged = runtime.fanout.logged
            runtime.draws.on_logged = runtime.fanout.logged
        db.writer.on_failure = runtime.drop_derived_state
        return runtime

    def committed(self, tenant_id: str, effects: list) -> None:
        """Durable effects, (LiveCampaign, effect) pairs: to viewers' streams, room streams and draw entries."""
        self.hub.on_committed(tenant_id, effects)
        self.room.on_committed(tenant_id, effects)
        self.draws.on_effects(tenant_id, effects)

    def drop_derived_state(self, campaigns: frozenset[tuple[str, str]] | None) -> None:
        """A write failed: the states holding its events (None: all) are rebuilt from the log."""
        self.live.drop(campaigns)
