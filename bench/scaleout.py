"""`make bench-scaleout`: ingestion on PostgreSQL with one and with two processes, against the
SQLite single process, as events/s and ratios measured in one run (issue: scale-out); and reads
of a 1,000,000-user leaderboard from Redis while another process writes 20,000 entries/s to it.

Needs a PostgreSQL server: LIVELOOP_BENCH_DATABASE_URL (or LIVELOOP_TEST_DATABASE_URL) names a
database on it; the bench creates and drops its own databases beside it. With
LIVELOOP_BENCH_REDIS_URL (or LIVELOOP_TEST_REDIS_URL) the PostgreSQL processes run with Redis, as
deployed, and the Redis leaderboard is measured too.
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

from bench.hotpaths import (
    BATCH,
    DAY_MS,
    HOUR_MS,
    ROOT,
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


def run(url: str, processes: int, work: Path, redis_url: str | None = None) -> PostResult:
    """Events/s of `processes` servers on one database, one campaign, batches spread over all."""
    _tenant, key = create_tenant(url)
    with ExitStack() as stack:
        if redis_url:
            stack.enter_context(_environ("LIVELOOP_REDIS_URL", redis_url))
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


@contextmanager
def _environ(name: str, value: str):
    """The services started inside inherit the variable."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


BOARD_USERS = 1_000_000
BOARD_WRITES_PER_SECOND = 20_000
BOARD_WRITE_BATCH = 500  # users changed per write: one ingestion batch's worth
BOARD_SECONDS = 10.0


def _board(seed: int):
    """A campaign's derived state as a process holds it, with 1M users on its leaderboard."""
    import random
    from types import SimpleNamespace

    from liveloop.engine.leaderboard import Leaderboard

    rng = random.Random(seed)
    board = Leaderboard()
    for i in range(BOARD_USERS):
        board.update(f"u{i:07d}", rng.randint(1, 60), rng.randrange(10**9))
    board.track_changes(BOARD_USERS + 1)
    state = SimpleNamespace(leaderboard=board, last_seq=BOARD_USERS, config=SimpleNamespace(id="bench-board"))
    return SimpleNamespace(state=state, board_seq=-1, board_rebuild=None), rng


def _write_board(redis_url: str, tenant: str, live, rng, stop_at: float, done) -> None:
    """Another process ingesting: 500 changed users per write, paced to 20,000 a second."""
    from liveloop.leaderboards.shared import RedisLeaderboards

    async def writes() -> int:
        boards = RedisLeaderboards(redis_url)
        written, started = 0, time.monotonic()
        while time.monotonic() < stop_at:
            live.state.leaderboard.change_seq = live.state.last_seq + 1
            for _ in range(BOARD_WRITE_BATCH):
                user = f"u{rng.randrange(BOARD_USERS):07d}"
                score = live.state.leaderboard.score(user)
                live.state.leaderboard.update(user, score + 1, rng.randrange(10**9))
            live.state.last_seq += BOARD_WRITE_BATCH
            await boards.publish(tenant, live)
            written += BOARD_WRITE_BATCH
            ahead = started + written / BOARD_WRITES_PER_SECOND - time.monotonic()
            if ahead > 0:
                await asyncio.sleep(ahead)
        await boards.close()
        return written

    done.put((asyncio.run(writes()), time.monotonic()))


def redis_board(redis_url: str) -> dict:
    """Top-50 reads of a 1M-user leaderboard from Redis while another process writes to it."""
    import multiprocessing

    from liveloop.leaderboards.shared import Keys, RedisLeaderboards

    tenant = f"tn_bench_{uuid.uuid4().hex[:8]}"
    live, rng = _board(7)

    async def rebuild() -> float:
        boards = RedisLeaderboards(redis_url)
        started = time.perf_counter()
        await boards.publish(tenant, live)  # no copy yet: the whole board, sent aside
        await live.board_rebuild
        took = time.perf_counter() - started
        await boards.close()
        return took

    rebuild_seconds = asyncio.run(rebuild())
    ctx = multiprocessing.get_context("fork")  # the writer starts from this process's board
    done = ctx.Queue()
    began = time.monotonic()
    stop_at = began + BOARD_SECONDS
    writer = ctx.Process(target=_write_board, args=(redis_url, tenant, live, rng, stop_at, done))
    writer.start()

    unanswered = 0

    async def reads() -> list[float]:
        nonlocal unanswered
        boards = RedisLeaderboards(redis_url)
        samples = []
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            top = await boards.top(tenant, "bench-board", 50)
            samples.append(time.perf_counter() - started)
            if top is None or len(top) != 50:  # Redis timed out: a server would rank from its own state
                unanswered += 1
        await boards.close()
        return samples

    samples = sorted(asyncio.run(reads()))
    written, ended = done.get(timeout=60)
    writer.join()
    import redis

    with redis.Redis.from_url(redis_url) as client:
        keys = Keys(tenant, "bench-board")
        client.unlink(keys.z, keys.m, keys.seq)
    return {
        "rebuild_seconds": rebuild_seconds,
        "reads": len(samples),
        "p50_ms": samples[len(samples) // 2] * 1000,
        "p99_ms": samples[int(len(samples) * 0.99)] * 1000,
        "writes_per_second": written / (ended - began),
        "unanswered": unanswered,
    }


def main() -> int:
    base = os.environ.get("LIVELOOP_BENCH_DATABASE_URL") or os.environ.get("LIVELOOP_TEST_DATABASE_URL")
    redis_url = os.environ.get("LIVELOOP_BENCH_REDIS_URL") or os.environ.get("LIVELOOP_TEST_REDIS_URL")
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
        services = "PostgreSQL + Redis" if redis_url else "PostgreSQL"
        for n in (1, 2):
            name = f"{services}, {n} process{'es' if n > 1 else ''}"
            print(f"{name} ...", flush=True)
            with fresh_database(base) as url:
                rows.append((name, run(url, n, work, redis_url)))
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
    if redis_url:
        print("Redis leaderboard, 1,000,000 users ...", flush=True)
        board = redis_board(redis_url)
        lines += [
            "",
            f"Leaderboard in Redis, {BOARD_USERS:,} users: rebuilt from a process's state in "
            f"{board['rebuild_seconds']:.1f} s; while another process wrote "
            f"{board['writes_per_second']:,.0f} changed entries/s (writes of {BOARD_WRITE_BATCH}), "
            f"{board['reads']:,} top-50 reads took p50 {board['p50_ms']:.2f} ms, p99 {board['p99_ms']:.2f} ms "
            f"(target: under 2 ms p99); {board['unanswered']} were not answered by Redis in time.",
        ]
    text = "\n".join(lines)
    print(text)
    doc = ROOT / "docs" / "benchmarks.md"
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
