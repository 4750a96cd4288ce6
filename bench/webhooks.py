"""Outgoing webhooks under load: ingestion with an endpoint subscribed against ingestion without one,
and the delivery throughput to a receiver on this machine (messages/s).

Each run is a fresh SQLite database and server with the bench's full rule set; "on" subscribes one
endpoint to every type before the events are posted, so its deliveries run while ingestion does.
The two are alternated. "off" makes no message (no endpoint takes one, webhooks/subscriptions.py);
"on" adds making and writing the messages, the fan-out, the attempts and their records.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from bench.hotpaths import (
    BATCH,
    DAY_MS,
    HOUR_MS,
    Plan,
    Service,
    api_event,
    create_tenant,
    free_port,
    generate_events,
    post_batches,
    post_request,
    set_up_campaign,
)

# Smaller than the ingestion benchmark's: every "on" run then waits for all its messages to arrive.
FULL = Plan("full", share_rounds=0, share_seconds=0, warmup_seconds=0, ingest_events=60_000, ingest_max_seconds=15)
QUICK = Plan("quick", share_rounds=0, share_seconds=0, warmup_seconds=0, ingest_events=10_000, ingest_max_seconds=5)

ENV = {"LIVELOOP_WEBHOOKS_ALLOW_PRIVATE": "true", "LIVELOOP_WEBHOOKS_POLL_SECONDS": "0.2"}
HOST = "127.0.0.1"


class Receiver:
    """A minimal HTTP/1.1 keep-alive server in a thread of its own: answers 200, notes when each came."""

    def __init__(self) -> None:
        self.port = free_port()
        self.times: list[float] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, HOST, self.port))
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                self.times.append(time.perf_counter())
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def __enter__(self) -> Receiver:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *_exc) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@dataclass
class Run:
    mode: str  # "off" or "on"
    events_per_second: float
    messages: int = 0  # written to the outbox during the run
    delivered: int = 0
    delivery_seconds: float = 0.0  # from the first message received to the last

    @property
    def messages_per_second(self) -> float:
        return self.delivered / self.delivery_seconds if self.delivery_seconds else 0.0


@dataclass
class WebhookResult:
    runs: list[Run] = field(default_factory=list)

    def best(self, mode: str) -> Run:
        return max((r for r in self.runs if r.mode == mode), key=lambda r: r.events_per_second)

    @property
    def ratio(self) -> float:
        off = self.best("off").events_per_second
        return self.best("on").events_per_second / off if off else 0.0


def _one(work: Path, plan: Plan, mode: str, index: int, receiver: Receiver) -> Run:
    import httpx

    db = work / f"webhooks-{mode}-{index}.db"
    url = f"sqlite:///{db}"
    _tenant, key = create_tenant(url)
    campaign = "bench-webhooks"
    service = Service.liveloop(url, work / f"webhooks-{mode}-{index}.log")
    service.extra_env = ENV
    with service as server:
        if mode == "on":
            answer = httpx.post(f"{server.url}/v1/webhook-endpoints", headers={"Authorization": f"Bearer {key}"},
                                json={"url": f"http://{HOST}:{receiver.port}/hooks"}, timeout=30)
            answer.raise_for_status()
        now = time.time_ns() // 1_000_000
        starts_at = now - 2 * HOUR_MS
        codes = set_up_campaign(server, key, campaign, starts_at=starts_at, ends_at=now + 3650 * DAY_MS)
        stream = generate_events(plan.ingest_events, codes=codes, starts_at=starts_at, now=now)
        requests = [(len(stream[i:i + BATCH]), post_request(server.port, key, orjson.dumps(
            {"events": [api_event(ev, campaign) for ev in stream[i:i + BATCH]]})))
            for i in range(0, len(stream), BATCH)]
        before = len(receiver.times)
        posted = post_batches(server.port, requests, clients=plan.clients, max_seconds=plan.ingest_max_seconds)
        run = Run(mode, posted.accepted / posted.seconds if posted.seconds else 0.0)
        if mode == "on":
            run.messages = _count(db, "SELECT count(*) FROM webhook_messages")
            deadline = time.monotonic() + 300
            while len(receiver.times) - before < run.messages and time.monotonic() < deadline:
                time.sleep(0.2)
            times = receiver.times[before:]
            run.delivered = len(times)
            run.delivery_seconds = times[-1] - times[0] if len(times) > 1 else 0.0
    return run


def _count(db: Path, sql: str) -> int:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def bench_webhooks(work: Path, *, quick: bool, rounds: int = 2) -> WebhookResult:
    plan = QUICK if quick else FULL
    result = WebhookResult()
    with Receiver() as receiver:
        for index in range(rounds):
            for mode in ("off", "on"):
                print(f"webhooks: ingestion with endpoint {mode} (round {index + 1}) ...", flush=True)
                result.runs.append(_one(work, plan, mode, index, receiver))
    return result


def rows_of(result: WebhookResult) -> list[tuple[str, str, str, str, str, str]]:
    on, off = result.best("on"), result.best("off")
    delivery = max((r for r in result.runs if r.mode == "on"), key=lambda r: r.messages_per_second)
    ok = result.ratio >= 0.9
    return [
        ("ingestion with a webhook endpoint: events/s", f"{on.events_per_second:,.0f}",
         f"{off.events_per_second:,.0f} (no endpoint)", f"{result.ratio:.2f}", ">= 0.9",
         "met" if ok else "NOT met"),
        ("webhook delivery to a local receiver: messages/s", f"{delivery.messages_per_second:,.0f}",
         f"{delivery.delivered:,} of {delivery.messages:,} messages", "", "", ""),
    ]


def notes_of(result: WebhookResult) -> list[str]:
    runs = "; ".join(f"{r.mode} {r.events_per_second:,.0f} events/s"
                     + (f", {r.delivered:,} of {r.messages:,} messages delivered in {r.delivery_seconds:.1f} s"
                        if r.mode == "on" else "") for r in result.runs)
    return [f"Webhooks: fresh SQLite database and server per run, the full rule set, alternating no endpoint / one "
            f"endpoint of every type on a receiver on this machine (16 attempts at once per endpoint); the best run "
            f"of each is compared. Runs: {runs}. Delivery throughput is counted from the first message received "
            f"to the last."]
