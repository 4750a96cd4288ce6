"""`make bench-scaleout`: ingestion on PostgreSQL with one and with two processes, against the
SQLite single process, as events/s and ratios measured in one run (issue: scale-out).

Needs a PostgreSQL server: LIVELOOP_BENCH_DATABASE_URL (or LIVELOOP_TEST_DATABASE_URL) names a
database on it; the bench creates and drops its own databases beside it.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import orjson

from liveloop.bench import (
    BATCH,
    DAY_MS,
    HOUR_MS,
    PostResult,
    Service,
    api_event,
    create_tenant,
    generate_events,
    post_batches,
    post_request,
    set_up_campaign,
)

EVENTS = 120_000
SECONDS = 20.0
_START = "<!-- bench:scaleout:start -->"
_END = "<!-- bench:scaleout:end -->"


@contextmanager
def fresh_database(base_url: str):
    import psycopg

    parts = urlsplit(base_url.replace("postgresql+psycopg://", "postgresql://"))
    name = f"liveloop_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(urlunsplit(parts), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path="/" + name))
    finally:
        with psycopg.connect(urlunsplit(parts), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(url: str, processes: int, work: Path) -> PostResult:
    """Events/s of `processes` servers on one database, one campaign, batches spread over all."""
    _tenant, key = create_tenant(url)
    with ExitStack() as stack:
        servers = [stack.enter_context(Service.liveloop(url, work / f"s{processes}-{i}.log"))
                   for i in range(processes)]
        now = time.time_ns() // 1_000_000
        starts_at = now - 2 * HOUR_MS
        codes = set_up_campaign(servers[0], key, "scale", starts_at=starts_at, ends_at=now + 3650 * DAY_MS)
        stream = generate_events(EVENTS, codes=codes, starts_at=starts_at, now=now)
        bodies = [orjson.dumps({"events": [api_event(ev, "scale") for ev in stream[i:i + BATCH]]})
                  for i in range(0, len(stream), BATCH)]
        shares = [[(BATCH, post_request(s.port, key, b)) for b in bodies[i::processes]]
                  for i, s in enumerate(servers)]
        results: list[PostResult] = [PostResult() for _ in servers]

        async def all_at_once() -> None:
            loop = asyncio.get_running_loop()
            await asyncio.gather(*(
                loop.run_in_executor(None, lambda i=i: results.__setitem__(
                    i, post_batches(servers[i].port, shares[i], clients=2, max_seconds=SECONDS)))
                for i in range(processes)))

        asyncio.run(all_at_once())
    total = PostResult()
    for r in results:
        total.events += r.events
        total.accepted += r.accepted
        total.failures += r.failures
        total.seconds = max(total.seconds, r.seconds)
    return total


def main() -> int:
    base = os.environ.get("LIVELOOP_BENCH_DATABASE_URL") or os.environ.get("LIVELOOP_TEST_DATABASE_URL")
    if not base:
        print("set LIVELOOP_BENCH_DATABASE_URL=postgresql://user@host/db (a server the bench may create "
              "databases on)", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory(prefix="liveloop-scaleout-") as tmp:
        work = Path(tmp)
        print("SQLite, one process ...", flush=True)
        sqlite = run(f"sqlite:///{work / 'ref.db'}", 1, work)
        rows.append(("SQLite, 1 process", sqlite))
        for n in (1, 2):
            print(f"PostgreSQL, {n} process{'es' if n > 1 else ''} ...", flush=True)
            with fresh_database(base) as url:
                rows.append((f"PostgreSQL, {n} process{'es' if n > 1 else ''}", run(url, n, work)))
    reference = sqlite.accepted / sqlite.seconds
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `make bench-scaleout` on {os.cpu_count()} CPUs; "
        f"one campaign, batches of {BATCH} with the full rule set, 2 client connections per process, "
        f"at most {SECONDS:g} s per run.",
        "",
        "| setup | events/s | ratio to SQLite, 1 process | failed batches |",
        "|---|---|---|---|",
    ]
    for name, r in rows:
        rate = r.accepted / r.seconds if r.seconds else 0
        lines.append(f"| {name} | {rate:,.0f} | {rate / reference:.2f} | {len(r.failures)} |")
    text = "\n".join(lines)
    print(text)
    doc = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"
    if doc.exists():
        current = doc.read_text()
        block = f"{_START}\n{text}\n{_END}"
        if _START in current:
            head, rest = current.split(_START, 1)
            current = head + block + rest.split(_END, 1)[1]
        else:
            current += f"\n## Scale-out: PostgreSQL, one and two processes\n\n{block}\n"
        doc.write_text(current)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
