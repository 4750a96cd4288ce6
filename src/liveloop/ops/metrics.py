"""Prometheus metrics: one registry per process, each process scraped on its own (docs/operations.md).

A counter increment or a histogram observation of prometheus-client costs under a microsecond
(measured here: 0.3 to 0.5 and 0.6 to 0.9 µs): ingestion adds a few per batch, never one per event,
and requests are counted in plain Python and read when scraped (`RequestCounts`), which costs the
share link less (CONVENTIONS.md point 9). Labels take values from small fixed sets (route templates, status
codes, error codes, endpoint names): never a user, a tenant, an address or anything else a client
chooses. Values that describe a moment (queue depth, campaigns loaded) are read when scraped.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from liveloop import __version__

# `_created` series double the output and say nothing a process's start time does not.
disable_created_metrics()

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)  # CPU, memory, open files, start time
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

CONTENT_TYPE = CONTENT_TYPE_LATEST

# From a cached share link (under a millisecond) to a batch waiting for a slow disk.
LATENCY = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Event to push is measured in milliseconds of the wall clock (it may cross processes).
PUSH = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
REPLAY = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

BUILD = Gauge("liveloop_build_info", "Always 1; the running version as a label", ["version"], registry=REGISTRY)
BUILD.labels(__version__).set(1)

# -- requests (ops/requests.py) ------------------------------------------------------------------


class RouteStats:
    """One route's answers: latency buckets (not cumulative), their sum, and a count per status."""

    __slots__ = ("buckets", "sum", "answers")

    def __init__(self) -> None:
        self.buckets = [0] * (len(LATENCY) + 1)  # the last one: over the largest bound
        self.sum = 0.0
        self.answers: dict[int, int] = {}


class RequestCounts(Collector):
    """Every request's latency and status by route template, counted in plain Python on the event loop
    and turned into a histogram and a counter when scraped.

    A prometheus-client Histogram and Counter cost the hot paths about 1.5 µs a request (their locks
    and bucket scan); ops/requests.py counts the requests of the last tenth of a second together, in
    one loop, for less. A scrape first has them counted (`tallied_by`), then copies each route's counts
    in one C-level step (under the GIL): it may see a request in one series and not yet in the other.
    """

    def __init__(self) -> None:
        self.routes: dict[str, RouteStats] = {}
        self._tallies: weakref.WeakSet = weakref.WeakSet()  # the request layers counting into `routes`

    def tallied_by(self, layer) -> None:
        """`layer.tally()` counts what it holds into `routes`: it is run before each scrape."""
        self._tallies.add(layer)

    def collect(self):
        for layer in list(self._tallies):
            try:
                layer.tally()
            except OSError:
                pass  # the lines could not be written (standard error closed); the counts are in
        latency = HistogramMetricFamily(
            "liveloop_request_seconds",
            "From a request's arrival to the end of its answer, by route template; for POST /v1/events that is "
            "until the batch is durable. Streams are left out (open_streams)", labels=["route"])
        answers = CounterMetricFamily("liveloop_responses",
                                      "Answers by route template and HTTP status (499: the client left first)",
                                      labels=["route", "status"])
        for route, stats in list(self.routes.items()):
            buckets, total, by_status = list(stats.buckets), stats.sum, dict(stats.answers)
            if any(buckets):
                cumulative, running = [], 0
                for bound, count in zip((*map(floatToGoString, LATENCY), "+Inf"), buckets, strict=True):
                    running += count
                    cumulative.append((bound, running))
                latency.add_metric([route], cumulative, total)
            for status, count in by_status.items():
                answers.add_metric([route, str(status)], count)
        yield latency
        yield answers


REQUESTS = RequestCounts()
REGISTRY.register(REQUESTS)


class DirectAnswerCount(Collector):
    """Share links the HTTP protocol answered itself (ops/serving.py), counted in plain Python like the
    requests: the rest of `/s/{code}`'s answers went through the app (a code or campaign not in
    memory, a crawler, a HEAD...)."""

    def __init__(self) -> None:
        self.count = 0

    def collect(self):
        yield CounterMetricFamily("liveloop_share_direct_answers",
                                  "Share-link redirects answered by the HTTP protocol, before any ASGI task",
                                  value=self.count)


DIRECT_ANSWERS = DirectAnswerCount()
REGISTRY.register(DIRECT_ANSWERS)

# -- ingestion -------------------------------------------------------------------------------------
EVENTS = Counter(
    "liveloop_events",
    "Events offered to ingestion (API batches, widget beats, video webhooks) by outcome: accepted, "
    "duplicate, or rejected with the error code (`unavailable`: the batch was refused whole, 503)",
    ["outcome", "code"], registry=REGISTRY)
ACCEPTED = EVENTS.labels("accepted", "")
DUPLICATE = EVENTS.labels("duplicate", "")
CLICKS = Counter("liveloop_share_clicks",
                 "Share-link clicks written to the log (stored) or lost with a failed commit (unstored)",
                 ["outcome"], registry=REGISTRY)
RATE_LIMITED = Counter("liveloop_rate_limited", "Requests over a per-address rate limit, by endpoint",
                       ["endpoint"], registry=REGISTRY)

# -- the writer (kit/db/writer.py) -----------------------------------------------------------------
WRITER_COMMIT_SECONDS = Histogram("liveloop_writer_commit_seconds",
                                  "One group commit: its jobs' statements and the commit", buckets=LATENCY,
                                  registry=REGISTRY)
WRITER_REFUSED = Counter("liveloop_writer_refused_jobs",
                         "Writes refused (their requests answered 503, their campaigns rebuilt from the log)",
                         registry=REGISTRY)
WRITER_QUEUE = Gauge("liveloop_writer_queue_depth", "Writes waiting for the next group commit", registry=REGISTRY)

# -- campaigns and other processes (events/live.py, events/gate.py) ------------------------------
CAMPAIGNS_LOADED = Gauge("liveloop_campaigns_loaded", "Campaigns whose state this process holds in memory",
                         registry=REGISTRY)
REPLAY_SECONDS = Histogram("liveloop_campaign_replay_seconds",
                           "Loading a campaign: its state rebuilt from the event log", buckets=REPLAY,
                           registry=REGISTRY)
LOCK_WAIT_SECONDS = Histogram("liveloop_campaign_lock_wait_seconds",
                              "PostgreSQL: waiting for a campaign's advisory lock", buckets=LATENCY,
                              registry=REGISTRY)
CATCH_UP_SECONDS = Histogram("liveloop_catch_up_seconds",
                             "PostgreSQL: reading and applying what other processes logged for a campaign",
                             buckets=LATENCY, registry=REGISTRY)
CAUGHT_UP_EVENTS = Counter("liveloop_caught_up_events", "Events logged by other processes and applied here",
                           registry=REGISTRY)
FRAUD_CAUGHT_UP_EVENTS = Counter(
    "liveloop_fraud_caught_up_events",
    "PostgreSQL: events logged by other processes that the fraud screen read (their devices, addresses and "
    "referrals); this process's own are not read back", registry=REGISTRY)

# -- streams (realtime/) --------------------------------------------------------------------------
OPEN_STREAMS = Gauge("liveloop_open_streams", "Open server-sent event streams, by kind (viewer, room)",
                     ["kind"], registry=REGISTRY)
PUSH_SECONDS = Histogram(
    "liveloop_push_delay_seconds",
    "From receiving an event (in any process) to queueing its messages on viewers' streams here, once per "
    "committed write that has messages", buckets=PUSH, registry=REGISTRY)

# -- outgoing webhooks (webhooks/worker.py) --------------------------------------------------------
WEBHOOK_ATTEMPTS = Counter(
    "liveloop_webhook_attempts",
    "Delivery attempts by outcome: delivered, retry (failed, tried again later), failed (no attempt left)",
    ["outcome"], registry=REGISTRY)
WEBHOOK_BACKLOG = Gauge(
    "liveloop_webhook_backlog",
    "Outbox work left, all processes together: messages not fanned out yet (fan_out), deliveries due now "
    "(due), deliveries scheduled later: retries and attempts under way (scheduled); counted every 5 s",
    ["stage"], registry=REGISTRY)

# -- shared services ------------------------------------------------------------------------------
REDIS_UP = Gauge("liveloop_redis_up",
                 "1 while Redis answers this use of it, 0 while the process falls back to its own memory",
                 ["use"], registry=REGISTRY)
DATABASE_UP = Gauge("liveloop_database_up", "0 from a request finding the database unreachable until one reaches it",
                    registry=REGISTRY)
DATABASE_UP.set(1)


def rejected(code: str) -> Counter:
    return EVENTS.labels("rejected", code)


def count_events(accepted: int, duplicates: int, rejected_codes: list[str]) -> None:
    """One ingestion batch's outcome (a few increments per batch, one per rejected event)."""
    if accepted:
        ACCEPTED.inc(accepted)
    if duplicates:
        DUPLICATE.inc(duplicates)
    for code in rejected_codes:
        rejected(code).inc()


def read_at_scrape(gauge: Gauge, read: Callable[[], float]) -> None:
    """`gauge` takes the value of `read()` when scraped (from the scraping thread: read atomically)."""
    gauge.set_function(read)


def render() -> bytes:
    return generate_latest(REGISTRY)
