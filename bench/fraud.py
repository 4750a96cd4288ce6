"""Ingestion with fraud signals on against off (LIVELOOP_FRAUD_SIGNALS=false): the cost of keeping
the tenant's signal state, judging every attribution and logging its `fraud_check` (docs/fraud.md).

Each run is a fresh SQLite database and server with the bench's full rule set and event stream
(every event carries a device and an address; nine in ten reservations come through a code, so
about a third of the events attribute a referee and are judged; only referrals with a signal log
a check, and this stream has none, as most honest traffic). The modes alternate
and the best run of each is compared.
"""

from __future__ import annotations

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
    generate_events,
    post_batches,
    post_request,
    set_up_campaign,
)

FULL = Plan("full", share_rounds=0, share_seconds=0, warmup_seconds=0, ingest_events=120_000, ingest_max_seconds=20)
QUICK = Plan("quick", share_rounds=0, share_seconds=0, warmup_seconds=0, ingest_events=20_000, ingest_max_seconds=5)
TARGET = 0.85  # fraud signals on: within 15 % of off


@dataclass
class Run:
    mode: str  # "off" or "on"
    events_per_second: float
    accepted: int


@dataclass
class FraudResult:
    runs: list[Run] = field(default_factory=list)

    def best(self, mode: str) -> Run:
        return max((r for r in self.runs if r.mode == mode), key=lambda r: r.events_per_second)

    @property
    def ratio(self) -> float:
        off = self.best("off").events_per_second
        return self.best("on").events_per_second / off if off else 0.0


def _one(work: Path, plan: Plan, mode: str, index: int) -> Run:
    url = f"sqlite:///{work / f'fraud-{mode}-{index}.db'}"
    _tenant, key = create_tenant(url)
    campaign = "bench-fraud"
    service = Service.liveloop(url, work / f"fraud-{mode}-{index}.log")
    service.extra_env = {"LIVELOOP_FRAUD_SIGNALS": "true" if mode == "on" else "false"}
    with service as server:
        now = time.time_ns() // 1_000_000
        starts_at = now - 2 * HOUR_MS
        codes = set_up_campaign(server, key, campaign, starts_at=starts_at, ends_at=now + 3650 * DAY_MS)
        stream = generate_events(plan.ingest_events, codes=codes, starts_at=starts_at, now=now)
        requests = [(len(stream[i:i + BATCH]), post_request(server.port, key, orjson.dumps(
            {"events": [api_event(ev, campaign) for ev in stream[i:i + BATCH]]})))
            for i in range(0, len(stream), BATCH)]
        posted = post_batches(server.port, requests, clients=plan.clients, max_seconds=plan.ingest_max_seconds)
    return Run(mode, posted.accepted / posted.seconds if posted.seconds else 0.0, posted.accepted)


def bench_fraud(work: Path, *, quick: bool, rounds: int = 2) -> FraudResult:
    plan = QUICK if quick else FULL
    result = FraudResult()
    for index in range(rounds):
        for mode in ("off", "on"):
            print(f"fraud signals: ingestion with signals {mode} (round {index + 1}) ...", flush=True)
            result.runs.append(_one(work, plan, mode, index))
    return result


def rows_of(result: FraudResult) -> list[tuple[str, str, str, str, str, str]]:
    on, off = result.best("on"), result.best("off")
    return [("ingestion with fraud signals: events/s", f"{on.events_per_second:,.0f}",
             f"{off.events_per_second:,.0f} (signals off)", f"{result.ratio:.2f}", f">= {TARGET}",
             "met" if result.ratio >= TARGET else "NOT met")]


def notes_of(result: FraudResult) -> list[str]:
    runs = "; ".join(f"{r.mode} {r.events_per_second:,.0f} events/s ({r.accepted:,} accepted)" for r in result.runs)
    return [f"Fraud signals: fresh SQLite database and server per run, the full rule set, alternating "
            f"LIVELOOP_FRAUD_SIGNALS=false / true; every event carries a device and an address and about a third "
            f"attribute a referee, each judged (none has a signal, so no check is logged); the best run of each "
            f"is compared. Runs: {runs}."]
