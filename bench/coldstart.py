"""Cold start (SPEC section 8): a campaign of 1,000,000 logged events, how long after a restart its
first progress read is answered, with and without a snapshot (events/snapshots.py).

The log is written fast and without HTTP: the bench's own event stream (bench/hotpaths.py, the
full rule set), as the rows ingestion writes, in batched inserts. A snapshot is taken after the
first 90 % of the events (`take`, as the background snapshotter does), then the rest is logged:
a restart restores the snapshot and replays a tail of 100,000 events, the most the default
`snapshot_every_events` leaves behind. Each round starts a fresh `liveloop serve`, waits for it to
answer /healthz, and times `GET /v1/campaigns/{id}/users/{user}/progress` (the campaign is loaded
on first use); RSS is read from /proc before and after.

`python -m bench --only coldstart` (SQLite, and PostgreSQL when LIVELOOP_BENCH_DATABASE_URL or
LIVELOOP_TEST_DATABASE_URL names a server the bench may create a database on).
"""

from __future__ import annotations

import http.client
import os
import tempfile
import time
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa

from bench.hotpaths import (
    CURRENCY,
    HOST,
    HOUR_MS,
    INVITES,
    LANDING,
    Service,
    campaign_body,
    create_tenant,
    generate_events,
    machine,
)
from liveloop.campaigns import service as campaigns_service
from liveloop.campaigns.schemas import CampaignCreate
from liveloop.events.models import campaign_snapshots, events
from liveloop.events.snapshotter import take
from liveloop.events.store import EVENT_COLUMNS
from liveloop.invites.models import invites
from liveloop.kit.db.bulk import BulkInsert
from liveloop.kit.db.dialect import create_engine
from liveloop.kit.db.migrate import upgrade

EVENTS = 1_000_000
TAIL = 100_000
TARGET_SECONDS = 10.0
CAMPAIGN = "cold-start"
_START = "<!-- bench:coldstart:start -->"
_END = "<!-- bench:coldstart:end -->"


@dataclass
class Restart:
    snapshot: bool
    ready_seconds: float  # spawn to /healthz answered
    first_read_seconds: float  # the first progress read (the load) after that
    first_read_cpu: float  # CPU seconds the server spent on it (the figure a loaded machine changes least)
    rss_before_mb: float
    rss_after_mb: float


@dataclass
class Backend:
    name: str
    events: int
    participants: int
    write_seconds: float
    snapshot_seconds: float
    snapshot_mb: float
    tail: int
    restarts: list[Restart] = field(default_factory=list)

    def best(self, snapshot: bool) -> Restart:
        return min((r for r in self.restarts if r.snapshot == snapshot), key=lambda r: r.first_read_seconds)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def write_log(url: str, tenant_id: str, *, count: int, tail: int) -> tuple[int, float, float, float]:
    """The campaign, its invite codes and `count` logged events, a snapshot taken `tail` events before
    the end. Returns (participants, seconds writing, seconds taking the snapshot, snapshot MB)."""
    engine = create_engine(url)
    now = int(time.time() * 1000)
    starts_at, ends_at = now - HOUR_MS, now + HOUR_MS
    codes = [f"cold{i:05d}" for i in range(INVITES)]
    with engine.begin() as conn:
        body = CampaignCreate.model_validate(campaign_body(CAMPAIGN, starts_at=starts_at, ends_at=ends_at))
        data = campaigns_service.normalize(body, allowed_hosts=(urlsplit(LANDING).hostname or "",))
        campaigns_service.create(conn, tenant_id=tenant_id, now=now, data=data)
        conn.execute(invites.insert(), [{"code": code, "tenant_id": tenant_id, "campaign_id": CAMPAIGN,
                                         "user_id": f"r{i:05d}", "channel": "", "created_at": now}
                                        for i, code in enumerate(codes)])
    stream = generate_events(count, codes=codes, starts_at=starts_at, now=now)
    participants = len({ev.user_id for ev in stream})
    insert = BulkInsert(engine.dialect.name, events, EVENT_COLUMNS, skip_conflicts=True)

    def rows(part):
        return [(tenant_id, ev.id, CAMPAIGN, ev.type, ev.user_id, ev.at, ev.ref, ev.device_id, ev.ip, ev.order_id,
                 ev.amount, CURRENCY if ev.order_id else None, now, ev.amount, None, None) for ev in part]

    def log(part) -> float:
        started = time.perf_counter()
        for i in range(0, len(part), 50_000):
            with engine.begin() as conn:
                for j in range(i, min(i + 50_000, len(part)), 5_000):
                    insert(conn, rows(part[j:j + 5_000]))
        return time.perf_counter() - started

    seconds = log(stream[:count - tail])
    started = time.perf_counter()
    take(url, tenant_id, CAMPAIGN, min_events=1)
    snapshot_seconds = time.perf_counter() - started
    with engine.connect() as conn:
        size = conn.execute(sa.select(sa.func.length(campaign_snapshots.c.body))).scalar() or 0
    seconds += log(stream[count - tail:])
    engine.dispose()
    return participants, seconds, snapshot_seconds, size / 2**20


def restart(url: str, key: str, work: Path, *, snapshot: bool) -> Restart:
    server = Service.liveloop(url, work / "coldstart-server.log")
    server.extra_env = {"LIVELOOP_SNAPSHOT_EVERY_EVENTS": "0"}  # nothing taken while measuring
    spawned = time.perf_counter()
    with server:
        ready = time.perf_counter() - spawned
        before = rss_mb(server.pid)
        conn = http.client.HTTPConnection(HOST, server.port, timeout=600)
        cpu = server.cpu()
        started = time.perf_counter()
        conn.request("GET", f"/v1/campaigns/{CAMPAIGN}/users/r00001/progress",
                     headers={"Authorization": f"Bearer {key}"})
        response = conn.getresponse()
        body = response.read()
        first = time.perf_counter() - started
        cpu = server.cpu() - cpu
        if response.status != 200:
            raise RuntimeError(f"progress answered {response.status}: {body[:300]!r}")
        after = rss_mb(server.pid)
    return Restart(snapshot, ready, first, cpu, before, after)


def run_backend(name: str, url: str, work: Path, *, count: int, tail: int, rounds: int) -> Backend:
    upgrade(url)
    tenant_id, key = create_tenant(url)
    print(f"coldstart {name}: writing {count:,} events (a snapshot {tail:,} before the end)", flush=True)
    participants, seconds, snap_seconds, snap_mb = write_log(url, tenant_id, count=count, tail=tail)
    result = Backend(name, count, participants, seconds, snap_seconds, snap_mb, tail)
    engine = create_engine(url)
    with engine.connect() as conn:
        saved = conn.execute(sa.select(campaign_snapshots)).all()
    for _ in range(rounds):
        for snapshot in (True, False):
            with engine.begin() as conn:
                conn.execute(campaign_snapshots.delete())
                if snapshot:
                    conn.execute(campaign_snapshots.insert(), [row._asdict() for row in saved])
            r = restart(url, key, work, snapshot=snapshot)
            print(f"  {name} {'snapshot + tail' if snapshot else 'whole log'}: ready {r.ready_seconds:.2f} s, "
                  f"first read {r.first_read_seconds:.2f} s ({r.first_read_cpu:.2f} CPU s), "
                  f"RSS {r.rss_before_mb:.0f} -> {r.rss_after_mb:.0f} MB",
                  flush=True)
            result.restarts.append(r)
    engine.dispose()
    return result


def load_text() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def markdown(results: list[Backend], *, command: str, when: str, load_before: str, load_after: str) -> str:
    info = machine()
    lines = [
        _START,
        f"Measured {when} on {info.get('cpu', '?')} ({info.get('nproc', '?')} cores), "
        f"Python {info.get('python', '?')}; "
        f"load average before {load_before}, after {load_after}. Command: `{command}`.",
        "",
        "| backend | log | participants | restored from | first progress read after restart | server CPU for it | "
        "target | RSS of the campaign | per 1,000,000 participants |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for b in results:
        for snapshot in (True, False):
            r = b.best(snapshot)
            grown = r.rss_after_mb - r.rss_before_mb
            source = f"snapshot + {b.tail:,}-event tail" if snapshot else "the whole log (no snapshot)"
            verdict = "met" if r.first_read_seconds < TARGET_SECONDS else "not met"
            lines.append(f"| {b.name} | {b.events:,} events | {b.participants:,} | {source} | "
                         f"{r.first_read_seconds:.2f} s (server up in {r.ready_seconds:.2f} s before it) | "
                         f"{r.first_read_cpu:.2f} s | "
                         f"< {TARGET_SECONDS:.0f} s: {verdict} | {grown:,.0f} MB (process {r.rss_after_mb:,.0f} MB) | "
                         f"{grown / b.participants * 1_000_000:,.0f} MB |")
    lines.append("")
    for b in results:
        runs = ", ".join(f"{r.first_read_seconds:.2f} ({r.first_read_cpu:.2f} CPU)" for r in b.restarts if r.snapshot)
        full = ", ".join(f"{r.first_read_seconds:.2f} ({r.first_read_cpu:.2f} CPU)" for r in b.restarts
                         if not r.snapshot)
        with_snap, without = b.best(True).first_read_seconds, b.best(False).first_read_seconds
        cpu_ratio = (min(r.first_read_cpu for r in b.restarts if not r.snapshot)
                     / min(r.first_read_cpu for r in b.restarts if r.snapshot))
        lines.append(f"- {b.name}: every round, snapshot + tail {runs} s; whole log {full} s (best of each: "
                     f"{without / with_snap:.1f} times faster with the snapshot, {cpu_ratio:.1f} times less CPU). "
                     f"Writing the log took "
                     f"{b.write_seconds:.0f} s; taking the snapshot {b.snapshot_seconds:.1f} s "
                     f"({b.snapshot_mb:.0f} MB, in `take`, as the background snapshotter does in its own process).")
    lines.append(_END)
    return "\n".join(lines)


def write_markdown(path: Path, block: str) -> None:
    text = path.read_text() if path.exists() else ""
    if _START in text and _END in text:
        head, rest = text.split(_START, 1)
        text = head + block + rest.split(_END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n## Cold start\n\n" + block + "\n"
    path.write_text(text)


def run_coldstart(*, quick: bool, output: Path | None, command: str, keep: bool) -> list[Backend]:
    from bench.scaleout import fresh_database

    count, tail, rounds = (50_000, 5_000, 1) if quick else (EVENTS, TAIL, 2)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load_before = load_text()
    work = Path(tempfile.mkdtemp(prefix="liveloop-coldstart-"))
    results = [run_backend("SQLite", f"sqlite:///{work / 'cold.db'}", work, count=count, tail=tail, rounds=rounds)]
    base = os.environ.get("LIVELOOP_BENCH_DATABASE_URL") or os.environ.get("LIVELOOP_TEST_DATABASE_URL")
    if base:
        with ExitStack() as stack:
            url = stack.enter_context(fresh_database(base) if not keep else nullcontext(base))
            results.append(run_backend("PostgreSQL", url, work, count=count, tail=tail, rounds=rounds))
    else:
        print("coldstart: no PostgreSQL (set LIVELOOP_BENCH_DATABASE_URL to measure it too)", flush=True)
    block = markdown(results, command=command, when=when, load_before=load_before, load_after=load_text())
    print(block, flush=True)
    if output is not None:
        write_markdown(output, block)
    if not keep:
        for path in work.iterdir():
            path.unlink()
        work.rmdir()
    return results
