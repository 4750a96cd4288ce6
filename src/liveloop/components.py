"""The running service's components, built once by `build_components` (called by app.create_app).

This is the one place that decides how liveloop is put together: which gate (one process or
several), which presence book and rate limiter (memory or Redis), and who subscribes to committed
effects. Handlers receive the components they need (liveloop/deps.py, constructor arguments); none
receives this whole object.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from liveloop.afterlive import plan
from liveloop.afterlive.jobs import AfterLiveJobs
from liveloop.afterlive.service import SharerReports
from liveloop.circles.service import Circles
from liveloop.draws.notices import DrawNotices
from liveloop.draws.runner import DrawRunner
from liveloop.events.actions import LoggedActions
from liveloop.events.changes import CampaignChanges
from liveloop.events.committed import CommittedEffects
from liveloop.events.gate import CampaignGate, SharedGate, build_gate
from liveloop.events.ingest import Ingestor
from liveloop.events.snapshotter import Snapshotter
from liveloop.events.store import SqlEventStore
from liveloop.flash.jobs import FlashJobs
from liveloop.flash.notices import FlashNotices
from liveloop.flash.service import FlashDeals
from liveloop.fraud.screen import AUTO_APPROVE, FraudChecks
from liveloop.fraud.service import Reviews
from liveloop.fx.service import TenantRates
from liveloop.groups.jobs import GroupJobs
from liveloop.groups.messages import GroupMessages
from liveloop.groups.notices import GroupNotices
from liveloop.groups.service import Groups
from liveloop.integrations.agora import SequenceClock, SharedSequenceClock, sequence_clock
from liveloop.invites.repository import SqlInvites
from liveloop.kit.db.database import Database
from liveloop.kit.db.migrate import SchemaCheck
from liveloop.kit.db.statistics import FirstStatistics
from liveloop.kit.ratelimit import RateLimiter
from liveloop.kit.redis_guard import RedisPing
from liveloop.ops import metrics
from liveloop.ops.readiness import Readiness
from liveloop.privacy.service import Privacy
from liveloop.questions.service import head_reader as question_head
from liveloop.realtime.hub import Hub
from liveloop.realtime.room import RoomHub
from liveloop.rewards.repository import SqlLedger
from liveloop.rooms.directory import Rooms
from liveloop.rooms.presence import PresenceBook
from liveloop.rooms.shared_presence import SharedPresenceBook
from liveloop.scheduler.worker import JobWorker
from liveloop.settings import Settings
from liveloop.sharelink.repository import SqlTargets
from liveloop.sharelink.targets import ShareTargets
from liveloop.tenants.auth import ApiKeys
from liveloop.tenants.signing import Signing
from liveloop.users.repository import SqlNames
from liveloop.webhooks.outbox import Outbox
from liveloop.webhooks.subscriptions import Subscriptions
from liveloop.webhooks.worker import WebhookWorker

# Viewers of a process that stops come back through the load balancer within this, spread out.
RECONNECT_WITHIN_MS = 3000


@dataclass
class Components:
    settings: Settings
    db: Database
    committed: CommittedEffects
    campaigns: CampaignGate
    changes: CampaignChanges  # operators' changes to campaigns, logged like events
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
    limits: RateLimiter
    signing: Signing
    outbox: Outbox
    webhooks: WebhookWorker
    sharer_reports: SharerReports
    jobs: JobWorker  # scheduled work: campaign.ended, sharer.report, reminder.due
    readiness: Readiness
    privacy: Privacy  # erasure, export, and the retention of device ids and IPs
    circles: Circles  # family and friends circles, logged in the campaigns' event logs
    groups: Groups  # group buys, logged likewise; failed by a scheduled job when their window closes
    flash_deals: FlashDeals  # flash deals: their notices, and the ones running for a viewer's widget
    fraud: FraudChecks  # the tenants' fraud signals, judged as referrals are attributed
    reviews: Reviews  # the review queue, its decisions, the blocklist
    snapshotter: Snapshotter  # snapshots of busy campaigns' states, so that a restart replays only the log's tail
    statistics: FirstStatistics  # a new PostgreSQL database's busiest tables analyzed once they hold rows

    def begin_shutdown(self) -> int:
        """SIGTERM: readiness says so, and the open streams end, each told to reconnect (to another
        process) within a few seconds; requests in flight go on. Returns how many streams it ended."""
        self.readiness.stopping()
        return (self.hub.close(reconnect_within_ms=RECONNECT_WITHIN_MS)
                + self.room.close(reconnect_within_ms=RECONNECT_WITHIN_MS))

    def drop_derived_state(self, campaigns: frozenset[tuple[str, str]] | None) -> None:
        """A write failed: the states holding its events (None: all) are rebuilt from the log."""
        self.campaigns.drop(campaigns)


def build_components(settings: Settings) -> Components:
    db = Database(settings.database_url)
    ledger = SqlLedger(db.dialect)
    store = SqlEventStore(db, SqlInvites(db), ledger)
    committed = CommittedEffects()
    campaigns = build_gate(db, store, committed, redis_url=settings.redis_url)
    fx = TenantRates(db)
    names = SqlNames(db)
    hub = Hub(names=names)
    # The room's snapshot shows the host's question queue (its head and length) too.
    room = RoomHub(db, campaigns, names, extras=(question_head(db),))
    campaigns.on_touched(room.touched_elsewhere)  # a question asked on another process: a snapshot here
    signing = Signing(settings.secret_key)
    subscriptions = Subscriptions(db, shared=db.locks is not None)
    outbox = Outbox(db.dialect, subscriptions)
    webhooks = WebhookWorker(db, subscriptions, allow_private=settings.webhooks_allow_private,
                             poll_seconds=settings.webhooks_poll_seconds)
    sharer_reports = SharerReports(db, signing, base_url=settings.base_url)
    actions = LoggedActions(campaigns, store, committed)
    share_targets = ShareTargets(SqlTargets(db))
    groups = Groups(campaigns, actions, share_targets, base_url=settings.base_url)
    flash_deals = FlashDeals(db, campaigns, actions)
    fraud = FraudChecks(db, outbox, shared=db.locks is not None)
    reviews = Reviews(db, campaigns, store, committed, outbox, fraud)
    components = Components(
        settings=settings,
        db=db,
        committed=committed,
        campaigns=campaigns,
        changes=CampaignChanges(campaigns, store, committed, followers=(plan.follow_change,)),
        ingestor=Ingestor(campaigns, store, fx, committed, future_tolerance_ms=settings.future_tolerance_ms,
                          fraud=fraud if settings.fraud_signals else None),
        api_keys=ApiKeys(db),
        share_targets=share_targets,
        fx=fx,
        hub=hub,
        # With Redis, several processes share what a viewer's beats and an Agora user's notices
        # were; alone, a process keeps them in memory.
        presence=SharedPresenceBook(settings.redis_url) if settings.redis_url else PresenceBook(),
        agora_clock=sequence_clock(settings.redis_url),
        room=room,
        draws=DrawRunner(db, campaigns, committed, ledger, names),
        rooms=Rooms.build(db),
        limits=RateLimiter(
            {"share": settings.rate_limit_share_per_minute, "stream": settings.rate_limit_stream_per_minute,
             "presence": settings.rate_limit_presence_per_minute,
             "results_page": settings.rate_limit_results_page_per_minute},
            redis_url=settings.redis_url,
        ),
        signing=signing,
        outbox=outbox,
        webhooks=webhooks,
        sharer_reports=sharer_reports,
        # Scheduled messages are written to the outbox with the job's own update, then delivered.
        jobs=JobWorker(db, outbox, {**AfterLiveJobs(db, campaigns, sharer_reports).handlers(),
                                    **GroupJobs(groups).handlers(), **FlashJobs(flash_deals).handlers(),
                                    AUTO_APPROVE: reviews.auto_approve},
                       poll_seconds=settings.scheduler_poll_seconds, on_messages=webhooks.poke),
        readiness=Readiness({"database": SchemaCheck(db),
                             **({"redis": RedisPing(settings.redis_url)} if settings.redis_url else {})}),
        privacy=Privacy(db, campaigns, shared=isinstance(campaigns, SharedGate), redis_url=settings.redis_url,
                        retention_days=settings.signal_retention_days,
                        sweep_seconds=settings.retention_sweep_seconds),
        circles=Circles(db, campaigns, actions),
        groups=groups,
        flash_deals=flash_deals,
        fraud=fraud,
        reviews=reviews,
        snapshotter=Snapshotter(campaigns, db, every_events=settings.snapshot_every_events,
                                check_seconds=settings.snapshot_check_seconds),
        statistics=FirstStatistics(db),
    )
    # Viewers, rooms and draw notices hear of effects only once they are durable.
    committed.subscribe("viewer streams", hub.on_committed)
    committed.subscribe("room streams", room.on_committed)
    committed.subscribe("draw notices", DrawNotices(hub.publish))
    committed.subscribe("group notices", GroupNotices(hub.publish))
    flash_notices = FlashNotices(flash_deals, db, campaigns, hub.publish, hub.viewers_of)
    committed.subscribe("flash deals", flash_notices)
    hub.opened.append(flash_notices.opened)  # a viewer connecting later hears of a running deal then
    # Webhook messages are written with their cause (the outbox), then delivered by the worker.
    committed.stage_with(components.outbox.stage)
    committed.stage_with(GroupMessages(outbox, base_url=settings.base_url).stage)
    # A referral held for review opens its review (row, `review.opened`, auto-approval job) with its check.
    committed.stage_with(fraud.stage)
    committed.subscribe("webhook delivery", components.webhooks.poke)
    db.writer.on_failure = components.drop_derived_state
    metrics.read_at_scrape(metrics.WRITER_QUEUE, db.writer.depth)
    metrics.read_at_scrape(metrics.CAMPAIGNS_LOADED, campaigns.count)
    return components


@asynccontextmanager
async def running(components: Components, *background) -> AsyncIterator[Components]:
    """Start every component, in order, and stop them in the reverse order, whatever fails."""
    c = components
    async with AsyncExitStack() as stack:
        c.db.writer.start(asyncio.get_running_loop())
        stack.callback(c.db.close)
        stack.push_async_callback(c.readiness.close)
        await c.signing.load(c.db)
        for part in (c.limits, c.presence, c.agora_clock, c.campaigns, c.privacy, c.webhooks.subscriptions):
            await part.start()
            stack.push_async_callback(part.close)
        stack.callback(c.room.close)
        stack.callback(c.hub.close)
        # Clicks recorded but not yet committed are written before the database closes.
        stack.push_async_callback(c.ingestor.drain)
        for task in (c.webhooks, c.jobs, c.snapshotter, c.statistics, *background):
            task.start()
            stack.push_async_callback(task.stop)
        yield c
