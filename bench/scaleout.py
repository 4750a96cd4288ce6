"""`make bench-scaleout`: ingestion on PostgreSQL with one and with two processes, against the
SQLite single process, as events/s and ratios measured in one run (issue: scale-out); and reads
of a 1,000,000-user leaderboard from Redis while another process writes 20,000 entries/s to it.

Needs a PostgreSQL server: LIVELOOP_BENCH_DATABASE_URL (or LIVELOOP_TEST_DATABASE_URL) names a
database on it; the bench creates and drops its own databases beside it. With
LIVELOOP_BENCH_REDIS_URL (or LIVELOOP_TEST_REDIS_URL) the PostgreSQL processes run with Redis, as
deployed, and the Redis leaderboard is measured too.

Setups: one and two processes on one campaign, and one process on two busy campaigns against two
processes with one campaign each. Besides events/s, each run reports the CPU time every process
involved spent (liveloop, PostgreSQL's backends and writers, Redis; from /proc) per event, and the
events per CPU-second of two processes on two campaigns against one process on both.

Knobs: LIVELOOP_BENCH_SCALEOUT_ROUNDS (repeat, report medians and spread), _SECONDS, _EVENTS,
_SETUPS (e.g. 1x1,2x2: processes x campaigns), _BOARD=0 (skip the leaderboard);
LIVELOOP_BENCH_BOARD_READS=N paces the leaderboard's top-50 reads at N a second (default: back to back);
LIVELOOP_BENCH_BASELINE=<checkout> runs that code alternately with this one's in every round, and
LIVELOOP_BENCH_CANDIDATE=<checkout> stands for this one (a fixed commit while the tree changes).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
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
    cpu_seconds,
    create_tenant,
    generate_events,
    post_batches,
    post_request,
    set_up_campaign,
)

EVENTS = int(os.environ.get("LIVELOOP_BENCH_SCALEOUT_EVENTS", "120000"))
SECONDS = float(os.environ.get("LIVELOOP_BENCH_SCALEOUT_SECONDS", "20"))
CLIENTS = 2  # connections per process
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


@dataclass
class Run:
    """One setup's figures: what the clients saw, and the CPU every process involved spent."""

    posted: PostResult
    cpu: dict[str, float]  # seconds by process kind: liveloop, postgres, redis

    @property
    def rate(self) -> float:
        return self.posted.accepted / self.posted.seconds if self.posted.seconds else 0.0

    @property
    def cpu_total(self) -> float:
        return sum(self.cpu.values())

    @property
    def cpu_ms_per_1000(self) -> float:
        return self.cpu_total * 1e6 / self.posted.accepted if self.posted.accepted else float("nan")

    @property
    def per_cpu_second(self) -> float:
        return self.posted.accepted / self.cpu_total if self.cpu_total else 0.0


def _procs() -> list[tuple[int, str, str]]:
    """(pid, comm, cmdline) of every process this user may read."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        out.append((int(entry.name), comm, cmdline))
    return out


def _cpu_or_zero(pid: int) -> float:
    try:
        return cpu_seconds(pid)
    except (OSError, IndexError):
        return 0.0


class CpuMeter:
    """CPU seconds, read from /proc, of the liveloop servers, of PostgreSQL (the backends serving the
    bench's database, plus the server's WAL writer, background writer and checkpointer) and of Redis.

    The server's own background processes and Redis are shared with whatever else runs on the
    machine, so on a busy machine they count a little more than the bench's own share."""

    def __init__(self, url: str, servers: list[Service], redis: bool) -> None:
        self._url = url
        self._servers = servers
        self._redis = redis
        self._before: dict[tuple[str, int], float] = {}

    def _pids(self) -> dict[tuple[str, int], float]:
        found = {("liveloop", s.pid): _cpu_or_zero(s.pid) for s in self._servers}
        if self._url.startswith("postgresql"):
            import psycopg

            name = urlsplit(self._url).path.lstrip("/")
            with psycopg.connect(self._url, autocommit=True) as conn:
                me = conn.info.backend_pid
                rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,)).fetchall()
            for (pid,) in rows:
                if pid != me:
                    found[("postgres", pid)] = _cpu_or_zero(pid)
            for pid, _comm, cmdline in _procs():
                if cmdline.startswith("postgres: ") and any(
                        w in cmdline for w in ("walwriter", "background writer", "checkpointer")):
                    found[("postgres", pid)] = _cpu_or_zero(pid)
        if self._redis:
            for pid, comm, _cmdline in _procs():
                if comm == "redis-server":
                    found[("redis", pid)] = _cpu_or_zero(pid)
        return found

    def start(self) -> None:
        self._before = self._pids()

    def stop(self) -> dict[str, float]:
        totals = {"liveloop": 0.0}
        if self._url.startswith("postgresql"):
            totals["postgres"] = 0.0
        if self._redis:
            totals["redis"] = 0.0
        for key, seconds in self._pids().items():
            # A backend that connected during the run counts whole.
            totals[key[0]] += seconds - self._before.get(key, 0.0)
        return totals


def _prepared(server: Service, key: str, campaign_id: str, *, seed: int) -> list[bytes]:
    now = time.time_ns() // 1_000_000
    starts_at = now - 2 * HOUR_MS
    codes = set_up_campaign(server, key, campaign_id, starts_at=starts_at, ends_at=now + 3650 * DAY_MS)
    stream = generate_events(EVENTS, codes=codes, starts_at=starts_at, now=now, seed=seed)
    return [orjson.dumps({"events": [api_event(ev, campaign_id) for ev in stream[i:i + BATCH]]})
            for i in range(0, len(stream), BATCH)]


def run(url: str, processes: int, work: Path, redis_url: str | None = None, *, campaigns: int = 1,
        root: str | None = None) -> Run:
    """`processes` servers on one database. One campaign: its batches spread over all processes. Two
    campaigns (each in its own tenant): with one process it gets both, alternately; with two, each
    process gets one campaign. `root`: another checkout whose code the servers run (the baseline)."""
    keys = [create_tenant(url)[1] for _ in range(campaigns)]  # migrates the database first
    with ExitStack() as stack:
        if redis_url:
            stack.enter_context(_environ("LIVELOOP_REDIS_URL", redis_url))
        servers = []
        for i in range(processes):
            service = Service.liveloop(url, work / f"s{processes}-{campaigns}-{i}.log")
            if root:
                service.extra_env["PYTHONPATH"] = os.pathsep.join((str(Path(root) / "src"), root))
            servers.append(stack.enter_context(service))
        per_campaign = []
        for c, key in enumerate(keys):
            bodies = _prepared(servers[0], key, f"scale{c}", seed=8 + c)
            per_campaign.append([(BATCH, post_request(servers[0].port, key, b)) for b in bodies])
        if campaigns == 1:
            shares = [per_campaign[0][i::processes] for i in range(processes)]
        elif processes == 1:
            shares = [[r for pair in zip(*per_campaign, strict=True) for r in pair]]
        else:
            shares = per_campaign[:processes]
        # post_request names its port only in the Host header: any server takes any share.
        results: list[PostResult] = [PostResult() for _ in servers]

        async def all_at_once() -> None:
            loop = asyncio.get_running_loop()
            await asyncio.gather(*(
                loop.run_in_executor(None, lambda i=i: results.__setitem__(
                    i, post_batches(servers[i].port, shares[i], clients=CLIENTS, max_seconds=SECONDS)))
                for i in range(processes)))

        meter = CpuMeter(url.replace("postgresql+psycopg://", "postgresql://"), servers, bool(redis_url))
        meter.start()
        asyncio.run(all_at_once())
        cpu = meter.stop()
    total = PostResult()
    for r in results:
        total.events += r.events
        total.accepted += r.accepted
        total.failures += r.failures
        total.seconds = max(total.seconds, r.seconds)
    return Run(total, cpu)


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
BOARD_READS_PER_SECOND = float(os.environ.get("LIVELOOP_BENCH_BOARD_READS", "0"))  # 0: back to back
BOARD_P99_MS = 2.0  # SPEC section 8: top-50 p99 while 20,000 updates/s arrive


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


def _write_board(redis_url: str, tenant: str, live, rng, seconds: float, begun, done) -> None:
    """Another process ingesting: 500 changed users per write, one write every 25 ms (20,000 entries
    a second), for `seconds` from its first write. Puts the time of that first write in `begun` (the
    readers start then: reads while nothing is written yet would say nothing about a read under
    writes) and the entries written to Redis within the window in `done`: a writer that keeps to
    its schedule writes exactly `seconds` x 20,000; one that falls behind catches up without pausing,
    and whatever it could not write by the end is missing from the count.

    The users' new scores are applied to the board before the clock starts, and each write then
    sends its users' entries as `publish` does after a batch. Computing the scores is the engine's
    work (the ingestion benchmarks measure it) and in a deployment runs in the ingesting processes:
    done here, during the reads, it took about 6 ms of CPU per write, more than the write itself,
    on the same two cores as Redis and the reader, and the writer fell behind 20,000 a second.
    """
    from liveloop.leaderboards.shared import RedisLeaderboards

    board = live.state.leaderboard
    writes = []
    # Enough for the whole window even when the writer has to catch up.
    for _ in range(int(seconds * BOARD_WRITES_PER_SECOND / BOARD_WRITE_BATCH) + 10):
        users = [f"u{rng.randrange(BOARD_USERS):07d}" for _ in range(BOARD_WRITE_BATCH)]
        for user in users:
            board.update(user, board.score(user) + 1, rng.randrange(10**9))
        writes.append(users)
    board.changed = {}

    async def run() -> int:
        boards = RedisLeaderboards(redis_url)
        written = sent = 0
        started = time.monotonic()
        begun.put(started)
        stop_at = started + seconds
        for users in writes:
            if time.monotonic() >= stop_at:
                break
            live.state.last_seq += BOARD_WRITE_BATCH
            # Added to what a failed write left, as ingestion does (`publish` puts them back).
            board.changed.update(dict.fromkeys(users, live.state.last_seq))
            await boards.publish(tenant, live)
            sent += len(users)
            if live.board_seq == live.state.last_seq:  # written (not skipped, failed or left to a rebuild)
                written += len(users)
            ahead = started + sent / BOARD_WRITES_PER_SECOND - time.monotonic()
            if ahead > 0:
                await asyncio.sleep(ahead)
        await boards.close()
        return written

    done.put(asyncio.run(run()))


def redis_board(redis_url: str) -> dict:
    """Top-50 reads of a 1M-user leaderboard from Redis while another process writes to it."""
    import multiprocessing

    import redis

    from liveloop.leaderboards.shared import Keys, RedisLeaderboards

    tenant = f"tn_bench_{uuid.uuid4().hex[:8]}"
    keys = Keys(tenant, "bench-board")
    live, rng = _board(7)

    async def rebuild() -> float:
        boards = RedisLeaderboards(redis_url)
        started = time.perf_counter()
        await boards.publish(tenant, live)  # no copy yet: the whole board (a large one sent aside)
        if live.board_rebuild is not None:
            await live.board_rebuild
        took = time.perf_counter() - started
        await boards.close()
        return took

    unanswered = 0

    async def reads(stop_at: float) -> list[float]:
        nonlocal unanswered
        boards = RedisLeaderboards(redis_url)
        samples = []
        first = time.monotonic()
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            top = await boards.top(tenant, "bench-board", 50)
            samples.append(time.perf_counter() - started)
            if top is None or len(top) != 50:  # Redis timed out: a server would rank from its own state
                unanswered += 1
            if BOARD_READS_PER_SECOND:
                ahead = first + len(samples) / BOARD_READS_PER_SECOND - time.monotonic()
                if ahead > 0:
                    await asyncio.sleep(ahead)
        await boards.close()
        return samples

    ctx = multiprocessing.get_context("fork")  # the writer starts from this process's board
    begun, done = ctx.Queue(), ctx.Queue()
    writer = ctx.Process(target=_write_board, args=(redis_url, tenant, live, rng, BOARD_SECONDS, begun, done))
    try:
        rebuild_seconds = asyncio.run(rebuild())
        writer.start()
        # Reads run while the writer writes (CLOCK_MONOTONIC is the same clock in both processes).
        samples = sorted(asyncio.run(reads(begun.get(timeout=60) + BOARD_SECONDS)))
        written = done.get(timeout=60)
        writer.join()
    finally:
        if writer.is_alive():
            writer.terminate()
            writer.join()
        with redis.Redis.from_url(redis_url) as client:
            client.unlink(keys.z, keys.m, keys.seq)
    return {
        "rebuild_seconds": rebuild_seconds,
        "reads": len(samples),
        "p50_ms": samples[len(samples) // 2] * 1000,
        "p99_ms": samples[int(len(samples) * 0.99)] * 1000,
        "writes_per_second": written / BOARD_SECONDS,
        "unanswered": unanswered,
    }


# (processes, campaigns); LIVELOOP_BENCH_SCALEOUT_SETUPS=1x1,2x2 runs a few.
SETUPS = tuple(tuple(int(n) for n in setup.split("x")) for setup in
               os.environ.get("LIVELOOP_BENCH_SCALEOUT_SETUPS", "1x1,2x1,1x2,2x2").split(","))


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _figure(values: list[float], fmt: str) -> str:
    """The median, with the spread when there were several rounds."""
    text = format(_median(values), fmt)
    if len(values) > 1:
        text += f" ({format(min(values), fmt)}-{format(max(values), fmt)})"
    return text


def main() -> int:
    base = os.environ.get("LIVELOOP_BENCH_DATABASE_URL") or os.environ.get("LIVELOOP_TEST_DATABASE_URL")
    redis_url = os.environ.get("LIVELOOP_BENCH_REDIS_URL") or os.environ.get("LIVELOOP_TEST_REDIS_URL")
    # Another checkout (e.g. `git worktree add /tmp/base main`): its code runs alternately with this
    # one's in every round, so both see the same machine.
    baseline = os.environ.get("LIVELOOP_BENCH_BASELINE")
    rounds = int(os.environ.get("LIVELOOP_BENCH_SCALEOUT_ROUNDS", "1"))
    if not base:
        print("set LIVELOOP_BENCH_DATABASE_URL=postgresql://user@host/db (a server the bench may create "
              "databases on)", file=sys.stderr)
        return 2
    services = "PostgreSQL + Redis" if redis_url else "PostgreSQL"
    # LIVELOOP_BENCH_CANDIDATE: a checkout whose code stands for this one's (a commit under test).
    candidate = os.environ.get("LIVELOOP_BENCH_CANDIDATE")
    codes = [("", candidate)] + ([("baseline ", baseline)] if baseline else [])
    sqlite_runs: list[Run] = []
    runs: dict[tuple[str, int, int], list[Run]] = {}
    with tempfile.TemporaryDirectory(prefix="liveloop-scaleout-") as tmp:
        work = Path(tmp)
        for round_no in range(rounds):
            print(f"round {round_no + 1}: SQLite, one process ...", flush=True)
            sqlite_runs.append(run(f"sqlite:///{work / f'ref{round_no}.db'}", 1, work, root=candidate))
            for processes, campaigns in SETUPS:
                for label, root in codes:
                    print(f"round {round_no + 1}: {label}{services}, {processes} process(es), "
                          f"{campaigns} campaign(s) ...", flush=True)
                    with fresh_database(base) as url:
                        result = run(url, processes, work, redis_url, campaigns=campaigns, root=root)
                    runs.setdefault((label, processes, campaigns), []).append(result)
    sqlite_rates = [r.rate for r in sqlite_runs]
    sqlite_cpu = [r.cpu_ms_per_1000 for r in sqlite_runs]
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `make bench-scaleout` on {os.cpu_count()} CPUs "
        f"(load average {os.getloadavg()[0]:.1f}); batches of {BATCH} with the full rule set, {CLIENTS} client "
        f"connections per process, at most {SECONDS:g} s per run, {rounds} round(s): medians, with the "
        "spread (min-max) over rounds. Ratios are taken within each round, SQLite's run beside the others. "
        "CPU is user + system time from /proc of the liveloop processes, of PostgreSQL (the backends of "
        "the bench's database, the WAL writer, background writer and checkpointer) and of Redis."
        + (" `baseline` rows run the code of another checkout, alternately with this one's." if baseline else ""),
        "",
        "| setup | events/s | ratio to SQLite, 1 process | CPU ms per 1,000 events | CPU ratio to SQLite "
        "| events per CPU-second | failed batches |",
        "|---|---|---|---|---|---|---|",
        f"| SQLite, 1 process, 1 campaign | {_figure(sqlite_rates, ',.0f')} | 1.00 | {_figure(sqlite_cpu, '.0f')} "
        f"| 1.00 | {_figure([r.per_cpu_second for r in sqlite_runs], ',.0f')} "
        f"| {sum(len(r.posted.failures) for r in sqlite_runs)} |",
    ]
    for (label, processes, campaigns), results in runs.items():
        name = (f"{label}{services}, {processes} process{'es' if processes > 1 else ''}, "
                f"{campaigns} campaign{'s' if campaigns > 1 else ''}")
        lines.append(
            f"| {name} | {_figure([r.rate for r in results], ',.0f')} "
            f"| {_figure([r.rate / s for r, s in zip(results, sqlite_rates, strict=True)], '.2f')} "
            f"| {_figure([r.cpu_ms_per_1000 for r in results], '.0f')} "
            f"| {_figure([r.cpu_ms_per_1000 / s for r, s in zip(results, sqlite_cpu, strict=True)], '.2f')} "
            f"| {_figure([r.per_cpu_second for r in results], ',.0f')} "
            f"| {sum(len(r.posted.failures) for r in results)} |")
    lines.append("")
    for label, _root in codes:
        one, two = runs.get((label, 1, 2)), runs.get((label, 2, 2))
        if one and two:
            ratios = [b.per_cpu_second / a.per_cpu_second for a, b in zip(one, two, strict=True)]
            lines.append(f"- {label}two processes on two busy campaigns: {_figure(ratios, '.2f')} of the events per "
                         "CPU-second of one process on both (target: at least 0.8).")
    breakdown = runs.get(("", 1, 1))
    if breakdown:
        parts = ", ".join(f"{kind} {_figure([r.cpu[kind] * 1e6 / r.posted.accepted for r in breakdown], '.0f')}"
                          for kind in breakdown[0].cpu)
        lines.append(f"- CPU ms per 1,000 events of {services}, 1 process, 1 campaign, by process: {parts}; "
                     f"SQLite's liveloop process: {_figure(sqlite_cpu, '.0f')}.")
    if redis_url and os.environ.get("LIVELOOP_BENCH_SCALEOUT_BOARD", "1") != "0":
        print("Redis leaderboard, 1,000,000 users ...", flush=True)
        board = redis_board(redis_url)
        met = (board["p99_ms"] < BOARD_P99_MS and board["writes_per_second"] >= BOARD_WRITES_PER_SECOND
               and not board["unanswered"])
        reads = (f"paced at {BOARD_READS_PER_SECOND:,.0f}/s" if BOARD_READS_PER_SECOND else "back to back")
        lines += [
            "",
            f"Leaderboard in Redis, {BOARD_USERS:,} users: rebuilt from a process's state in "
            f"{board['rebuild_seconds']:.1f} s; while another process wrote "
            f"{board['writes_per_second']:,.0f} changed entries/s (writes of {BOARD_WRITE_BATCH}, their scores "
            f"computed before the clock started), {board['reads']:,} top-50 reads ({reads}) took p50 "
            f"{board['p50_ms']:.2f} ms, p99 {board['p99_ms']:.2f} ms; {board['unanswered']} were not answered by "
            f"Redis in time. Target: p99 under {BOARD_P99_MS:g} ms while {BOARD_WRITES_PER_SECOND:,} entries/s "
            f"arrive, all read: {'met' if met else 'NOT met'}.",
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
