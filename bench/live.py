"""`make bench` for the live room (SPEC.md section 8): the leaderboard at a million users, and viewer streams.

- Leaderboard: the engine's `Leaderboard` loaded with 1,000,000 users, then, in one process, ticks
  of 1 ms that each apply 20 score updates (20,000 updates/s) and then time one top-50 read and
  one rank read of a random user. Interleaving them in one thread is what the server does: reads
  and updates share its event loop.
- Viewer streams: one `liveloop serve` on a fresh SQLite file, 18,000 SSE viewer streams (under this
  machine's limit of 20,000 open files) opened from this process, another than the server's, on bare
  asyncio protocols from several loopback source addresses (one per referrer); then reservations by
  new friends, each carrying one referrer's invite code, posted at 5,000 a second in batches of 100
  on ten connections; the time from posting an event to its `friend_reserved` message arriving on
  that referrer's stream, which includes the durable commit the push waits for; the server's memory
  per open stream, its CPU per event, and the machine's load.

Run with `make bench BENCH_ARGS='--only leaderboard'` or `--only streams`; a full `make bench` runs
them after the share-link and ingestion benchmarks. Each writes its own block of docs/benchmarks.md
(between its `bench:leaderboard` or `bench:streams` markers), so running one keeps the other's figures.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import resource
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench import hotpaths
from liveloop.engine.leaderboard import Leaderboard
from liveloop.kit.times import DAY_MS

LEADERBOARD_P99_TARGET_MS = 2.0
STREAM_P99_TARGET_MS = 250.0


@dataclass(frozen=True)
class LivePlan:
    name: str
    users: int
    leaderboard_seconds: float
    updates_per_second: int
    streams: int
    events: int
    batch: int
    batches_per_second: float
    posters: int = 1  # connections posting batches at once, each on its own schedule


# Streams: 18,000 under this machine's limit of 20,000 open files (SPEC 8), while friends' reservations
# arrive at 5,000 a second (the start of a big live) for 12 s.
LIVE_FULL = LivePlan("full", users=1_000_000, leaderboard_seconds=10, updates_per_second=20_000, streams=18_000,
                     events=60_000, batch=100, batches_per_second=50, posters=10)
LIVE_QUICK = LivePlan("quick", users=200_000, leaderboard_seconds=3, updates_per_second=20_000, streams=2_000,
                      events=5_000, batch=50, batches_per_second=20, posters=2)
STREAMS_TARGET = 18_000
STREAM_MEMORY_TARGET_KB = 20.0
STREAM_SOURCES = 4  # loopback source addresses 127.0.0.2-5 the streams come from


def _ms(values_ns: list[int], p: float) -> float:
    if not values_ns:
        return 0.0
    ordered = sorted(values_ns)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] / 1e6


# -- leaderboard -----------------------------------------------------------------------------


@dataclass
class LeaderboardResult:
    users: int
    load_seconds: float
    seconds: float
    updates: int
    top_ns: list[int] = field(default_factory=list)
    rank_ns: list[int] = field(default_factory=list)
    update_ns: list[int] = field(default_factory=list)  # per tick of updates
    late_ticks: int = 0
    ticks: int = 0

    @property
    def update_rate(self) -> float:
        return self.updates / self.seconds if self.seconds else 0.0


def paced_ticks(seconds: float, tick_ns: int = 1_000_000) -> Iterator[bool]:
    """One step per tick of `tick_ns` for `seconds`, busy-waiting (sleeping would add the OS's timer
    slack to every tick); each step says whether its tick started more than a tick late."""
    clock = time.perf_counter_ns
    end = clock() + int(seconds * 1e9)
    next_tick = clock()
    while (now := clock()) < end:
        if now < next_tick:
            continue
        yield now - next_tick > tick_ns
        next_tick += tick_ns


def bench_leaderboard(plan: LivePlan, seed: int = 11) -> LeaderboardResult:
    """Load `plan.users`, then interleave updates at `plan.updates_per_second` with timed reads."""
    rng = random.Random(seed)
    board = Leaderboard()
    ids = [f"user{i:07d}" for i in range(plan.users)]
    scores: dict[str, int] = {}
    started = time.perf_counter()
    for i, user in enumerate(ids):
        # Most referrers bring one or two friends, a few bring hundreds (a long tail), and many tie.
        score = min(500, int(rng.paretovariate(1.3)))
        scores[user] = score
        board.update(user, score, i)
    load = time.perf_counter() - started
    # As `liveloop serve` does: the loaded state is long-lived, the collector leaves it alone.
    gc.collect()
    gc.set_threshold(5_000, 20, 100)
    gc.freeze()

    per_tick = plan.updates_per_second // 1000
    result = LeaderboardResult(plan.users, load, 0.0, 0)
    clock = time.perf_counter_ns
    begin = clock()
    at = plan.users
    for late in paced_ticks(plan.leaderboard_seconds):
        result.late_ticks += late
        result.ticks += 1
        t0 = clock()
        for _ in range(per_tick):
            user = ids[rng.randrange(plan.users)]
            score = scores[user] + 1
            scores[user] = score
            at += 1
            board.update(user, score, at)
        t1 = clock()
        board.top(50)
        t2 = clock()
        board.rank(ids[rng.randrange(plan.users)])
        t3 = clock()
        result.update_ns.append(t1 - t0)
        result.top_ns.append(t2 - t1)
        result.rank_ns.append(t3 - t2)
        result.updates += per_tick
    result.seconds = (clock() - begin) / 1e9
    gc.unfreeze()
    return result


# -- viewer streams --------------------------------------------------------------------------


@dataclass
class StreamsResult:
    streams: int
    open_seconds: float
    events: int
    seconds: float
    latencies_ns: list[int] = field(default_factory=list)
    post_ns: list[int] = field(default_factory=list)
    missing: int = 0
    misrouted: int = 0
    failed_posts: int = 0
    server_rss_mb: float = 0.0  # with the streams open, before the posts
    server_rss_before_mb: float = 0.0  # before the streams opened
    server_rss_after_mb: float = 0.0  # after the posts: the viewers' resume buffers hold their messages
    uptime_before: str = ""
    uptime_after: str = ""
    server_cores: float = 0.0
    client_cores: float = 0.0


def _raise_fd_limit(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _cpu_ms_per_event(streams: StreamsResult) -> float:
    """Server CPU (all threads) per posted event, its pushes included: what the machine's load changes least."""
    return streams.server_cores * streams.seconds * 1000 / streams.events if streams.events else 0.0


def _kb_per_stream(streams: StreamsResult) -> tuple[float, float]:
    """Server memory per open stream (KB): with the streams open, and after the posts."""
    if not streams.streams:
        return 0.0, 0.0
    return ((streams.server_rss_mb - streams.server_rss_before_mb) * 1024 / streams.streams,
            (streams.server_rss_after_mb - streams.server_rss_before_mb) * 1024 / streams.streams)


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def bench_streams(work: Path, plan: LivePlan, profile: Path | None = None) -> StreamsResult:
    from liveloop.realtime.tokens import sign

    limit = _raise_fd_limit(plan.streams + 1000)
    if limit < plan.streams + 200:
        raise RuntimeError(f"the open-file limit is {limit}; {plan.streams} streams need more (ulimit -n)")
    db_path = work / "streams.db"
    url = f"sqlite:///{db_path}"
    _tenant, key = hotpaths.create_tenant(url)
    # Every stream comes from this one address: lift the per-address limit out of reach (inherited by the server).
    os.environ["LIVELOOP_RATE_LIMIT_STREAM_PER_MINUTE"] = "1000000000"
    os.environ["LIVELOOP_MAX_STREAMS_PER_ADDRESS"] = "0"
    now = int(time.time() * 1000)
    starts_at = now + DAY_MS
    with hotpaths.Service.liveloop(url, work / "streams-server.log") as server:
        print(f"  {plan.streams:,} referrers with invite codes ...", flush=True)
        codes = hotpaths.set_up_campaign(server, key, "streams", starts_at=starts_at, ends_at=starts_at + DAY_MS,
                                      invites=plan.streams)
        with sqlite3.connect(db_path) as conn:
            secret = conn.execute("SELECT value FROM server_secrets WHERE name = 'signing'").fetchone()[0]
        # Tokens as POST .../viewer-tokens mints them, signed here to keep 10,000 requests out of the setup.
        tenant_id = _tenant
        tokens = [sign(secret, tenant_id=tenant_id, campaign_id="streams", user_id=f"r{i:05d}", ttl_seconds=3600,
                       now=now)[0] for i in range(plan.streams)]
        return asyncio.run(_drive(server, key, codes, tokens, plan, hotpaths.Profiler(profile)))


class _StreamClient(asyncio.Protocol):
    """One viewer's stream on a bare protocol (the load generator holds 18,000 of them: no task each)."""

    __slots__ = ("waiting", "result", "head", "opened", "transport")

    def __init__(self, waiting: list[int], result: StreamsResult, opened: asyncio.Future) -> None:
        self.waiting = waiting
        self.result = result
        self.head = b""
        self.opened: asyncio.Future | None = opened
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        arrived = time.perf_counter_ns()
        if self.opened is not None:
            self.head += data
            if b"\r\n\r\n" not in self.head:
                return
            opened, self.opened = self.opened, None
            if b" 200 " not in self.head.split(b"\r\n", 1)[0]:
                opened.set_exception(RuntimeError(f"a stream answered {self.head[:200]!r}"))
                return
            opened.set_result(None)
            data, self.head = self.head, b""
        for _ in range(data.count(_MARKER)):
            if self.waiting:
                self.result.latencies_ns.append(arrived - self.waiting.pop(0))
            else:
                self.result.misrouted += 1

    def connection_lost(self, exc) -> None:
        if self.opened is not None and not self.opened.done():
            self.opened.set_exception(RuntimeError(f"a stream closed before its answer: {exc}"))


_MARKER = b'"type":"friend_reserved"'


async def _drive(server, key: str, codes: list[str], tokens: list[str], plan: LivePlan,
                 profiler: hotpaths.Profiler) -> StreamsResult:
    import orjson

    host, port = hotpaths.HOST, server.port
    loop = asyncio.get_running_loop()
    pending: list[list[int]] = [[] for _ in tokens]  # per viewer: send times of events not yet pushed
    result = StreamsResult(len(tokens), 0.0, 0, 0.0)
    clients: list[_StreamClient] = []

    async def open_stream(i: int) -> None:
        opened = loop.create_future()
        client = _StreamClient(pending[i], result, opened)
        # Spread over several loopback source addresses: one address has about 28,000 ports.
        source = f"127.0.0.{2 + i % STREAM_SOURCES}"
        await loop.create_connection(lambda: client, host, port, local_addr=(source, 0))
        assert client.transport is not None
        client.transport.write(f"GET /v1/stream?token={tokens[i]} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        await opened
        clients.append(client)

    await asyncio.sleep(1.0)
    result.server_rss_before_mb = _rss_mb(server.pid)
    started = time.perf_counter()
    for wave in range(0, len(tokens), 250):
        await asyncio.gather(*(open_stream(i) for i in range(wave, min(len(tokens), wave + 250))))
    result.open_seconds = time.perf_counter() - started
    print(f"  {len(clients):,} streams open in {result.open_seconds:.1f} s; posting {plan.events:,} events at "
          f"{plan.batch * plan.batches_per_second:,.0f}/s ...", flush=True)
    await asyncio.sleep(2.0)
    result.server_rss_mb = _rss_mb(server.pid)
    result.uptime_before = _uptime()

    rng = random.Random(7)
    at = hotpaths.iso(int(time.time() * 1000))
    batches = plan.events // plan.batch
    interval = plan.posters / plan.batches_per_second  # each poster sends every `interval` seconds
    begin = time.perf_counter()
    server_cpu, client_cpu = server.cpu(), time.process_time()

    async def poster(n: int) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        next_at = begin + n * interval / plan.posters
        for b in range(n, batches, plan.posters):
            delay = next_at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            next_at += interval
            first = b * plan.batch
            viewers = rng.sample(range(len(tokens)), plan.batch)
            events = [{"id": f"bench-{first + j}", "type": "reservation", "campaign_id": "streams",
                       "user_id": f"friend{first + j}", "at": at, "ref": codes[v]} for j, v in enumerate(viewers)]
            request = hotpaths.post_request(port, key, orjson.dumps({"events": events}))
            t0 = time.perf_counter_ns()
            for v in viewers:
                pending[v].append(t0)
            writer.write(request)
            status, _body = await hotpaths._read_response(reader)
            result.post_ns.append(time.perf_counter_ns() - t0)
            if status != 200:
                result.failed_posts += 1
            result.events += len(events)
        writer.close()

    # --profile: py-spy samples the server while it posts (it waits for py-spy afterwards: figures of a
    # profiled run are not the measurement).
    with profiler.attach(server.pid, "streams", plan.events / (plan.batch * plan.batches_per_second)):
        await asyncio.gather(*(poster(n) for n in range(plan.posters)))
    result.seconds = time.perf_counter() - begin
    result.server_cores = (server.cpu() - server_cpu) / result.seconds
    result.client_cores = (time.process_time() - client_cpu) / result.seconds
    result.uptime_after = _uptime()
    await asyncio.sleep(3.0)  # let the last pushes arrive
    result.server_rss_after_mb = _rss_mb(server.pid)
    result.missing = sum(len(w) for w in pending)
    for client in clients:
        if client.transport is not None:
            client.transport.close()
    return result


def _uptime() -> str:
    """The machine's load averages (1, 5, 15 min), as `uptime` says them: others share this machine."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# -- report ----------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def live_rows(board: LeaderboardResult | None, streams: StreamsResult | None) -> list[tuple[str, ...]]:
    """(figure, measured, target, verdict) rows."""
    rows = []
    if board is not None:
        top99, rank99 = _ms(board.top_ns, 99), _ms(board.rank_ns, 99)
        rows += [
            (f"leaderboard: top 50 p50 / p99 / max, {board.users:,} users",
             f"{_ms(board.top_ns, 50):.3f} / {top99:.3f} / {_ms(board.top_ns, 100):.3f} ms",
             f"p99 < {LEADERBOARD_P99_TARGET_MS:g} ms", _verdict(top99 < LEADERBOARD_P99_TARGET_MS)),
            ("leaderboard: one user's rank p50 / p99 / max",
             f"{_ms(board.rank_ns, 50):.3f} / {rank99:.3f} / {_ms(board.rank_ns, 100):.3f} ms",
             f"p99 < {LEADERBOARD_P99_TARGET_MS:g} ms", _verdict(rank99 < LEADERBOARD_P99_TARGET_MS)),
            ("leaderboard: updates applied meanwhile", f"{board.update_rate:,.0f} /s",
             ">= 20,000 /s", _verdict(board.update_rate >= 19_500)),
        ]
    if streams is not None:
        p99 = _ms(streams.latencies_ns, 99)
        delivered = len(streams.latencies_ns)
        per_stream, per_stream_after = _kb_per_stream(streams)
        rate = streams.events / streams.seconds if streams.seconds else 0.0
        rows += [
            ("viewer streams: open SSE streams in one process", f"{streams.streams:,}", f">= {STREAMS_TARGET:,}",
             _verdict(streams.streams >= STREAMS_TARGET)),
            ("viewer streams: server memory per open stream (after the posts)",
             f"{per_stream:.1f} KB ({per_stream_after:.1f} KB)", f"< {STREAM_MEMORY_TARGET_KB:g} KB",
             _verdict(0 < per_stream < STREAM_MEMORY_TARGET_KB)),
            ("viewer streams: friends' reservations posted meanwhile", f"{rate:,.0f} /s", ">= 5,000 /s",
             _verdict(rate >= 4_900)),
            ("viewer streams: event to push p50 / p99 / max",
             f"{_ms(streams.latencies_ns, 50):.1f} / {p99:.1f} / {_ms(streams.latencies_ns, 100):.1f} ms",
             f"p99 < {STREAM_P99_TARGET_MS:g} ms", _verdict(p99 < STREAM_P99_TARGET_MS and delivered > 0)),
            ("viewer streams: pushes on the right stream", f"{delivered:,} of {streams.events:,}",
             "all, none misrouted",
             _verdict(streams.missing == 0 and streams.misrouted == 0 and streams.failed_posts == 0)),
        ]
    return rows


def live_notes(board: LeaderboardResult | None, streams: StreamsResult | None, plan: LivePlan) -> list[str]:
    notes = []
    if board is not None:
        notes.append(
            f"Leaderboard: `engine/leaderboard.py` (a `SortedList` of (-score, reached_at, user_id)) loaded with "
            f"{board.users:,} users (Pareto scores, many ties) in {board.load_seconds:.1f} s, then "
            f"{board.seconds:.1f} s of 1 ms ticks in one thread: {plan.updates_per_second // 1000} updates (a "
            f"random user's score + 1), then one `top(50)` and one `rank(random user)`, each timed with "
            f"`perf_counter_ns`; {board.ticks:,} ticks, {board.late_ticks:,} started more than a tick late; the "
            f"20 updates of a tick took {statistics.median(board.update_ns) / 1e3:.0f} µs (median), "
            f"{_ms(board.update_ns, 99) * 1e3:.0f} µs (p99). GC as `liveloop serve` sets it (threshold 5,000, "
            f"the loaded state frozen). This is the structure alone: in the server a read also waits for "
            f"whatever the event loop is doing, e.g. applying a 500-event batch (about 20 ms, see ingestion).")
    if streams is not None:
        per_stream, per_stream_after = _kb_per_stream(streams)
        notes.append(
            f"Viewer streams: one `liveloop serve` (SQLite), {streams.streams:,} SSE streams `GET /v1/stream` "
            f"opened by the bench's own process (the load generator) on bare asyncio protocols from "
            f"{STREAM_SOURCES} loopback source addresses in {streams.open_seconds:.1f} s (one viewer each, every "
            f"viewer a referrer with an invite code); then {streams.events:,} reservations by new friends in "
            f"batches of {plan.batch} ({plan.batch * plan.batches_per_second:,.0f} events/s on {plan.posters} "
            f"keep-alive connections, each event for a random viewer) over {streams.seconds:.1f} s. Each "
            f"reservation pushes `friend_reserved`, `reward` and `rank` messages to its referrer. Latency: from "
            f"writing the POST to reading that viewer's `friend_reserved` frame; it includes the durable group "
            f"commit the push waits for. POST reply p50 / p99: {_ms(streams.post_ns, 50):.1f} / "
            f"{_ms(streams.post_ns, 99):.1f} ms. Missing pushes: {streams.missing}, misrouted: "
            f"{streams.misrouted}, failed posts: {streams.failed_posts}. Server RSS before the streams "
            f"{streams.server_rss_before_mb:,.0f} MB, with them open {streams.server_rss_mb:,.0f} MB "
            f"({per_stream:.1f} KB a stream), after the posts {streams.server_rss_after_mb:,.0f} MB "
            f"({per_stream_after:.1f} KB a stream, which also holds the new friends' state and rewards and the "
            f"viewers' resume buffers). CPU in cores while posting: server {streams.server_cores:.2f} "
            f"({_cpu_ms_per_event(streams):.2f} ms of CPU an event with its pushes), load generator "
            f"{streams.client_cores:.2f} (same machine). Machine load (1/5/15 min) before / after posting: "
            f"{streams.uptime_before} / {streams.uptime_after}.")
    return notes


def live_markdown(name: str, title: str, rows, notes, plan: LivePlan, command: str, when: str,
                  source: str = "bench/live.py") -> str:
    info = hotpaths.machine()
    start, end = _markers(name)
    return "\n".join([
        start,
        f"<!-- written by `make bench` ({source}); everything between these markers is replaced "
        "when this benchmark runs again -->",
        "",
        f"### {title}",
        "",
        f"Measured {when} with `{command}` ({plan.name} run) on {info['nproc']} x {info['cpu']}, {info['python']}.",
        "",
        "| figure | measured | target | verdict |",
        "|---|---|---|---|",
        *(f"| {' | '.join(cell or ' ' for cell in row)} |" for row in rows),
        "",
        *(f"- {note}" for note in notes),
        end,
    ])


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"


def write_live_markdown(path: Path, name: str, block: str) -> None:
    """Replace this benchmark's block of `path`, or add it after the other results; keep everything else."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    start, end = _markers(name)
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        anchors = [a for a in (_markers("streams")[1], _markers("leaderboard")[1], "<!-- bench:results:end -->")
                   if a in text]
        if anchors:
            anchor = max(anchors, key=text.index)
            head, tail = text.split(anchor, 1)
            text = head + anchor + "\n\n" + block + tail
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def run_live(which: str | None, *, quick: bool, output: Path | None, command: str, when: str,
             keep: bool = False, profile: Path | None = None) -> list[tuple[str, ...]]:
    """Run the leaderboard and/or streams benchmarks (`which`: None for both); write their blocks to `output`."""
    plan = LIVE_QUICK if quick else LIVE_FULL
    rows: list[tuple[str, ...]] = []
    if which in (None, "streams"):
        print(f"viewer streams: {plan.streams:,} SSE streams on one liveloop serve ...", flush=True)
        work = Path(tempfile.mkdtemp(prefix="liveloop-bench-live-"))
        try:
            streams = bench_streams(work, plan, profile)
        except BaseException:
            print(f"bench failed; database and server log kept in {work}", flush=True)
            raise
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
        rows += _report("streams", "Viewer streams", live_rows(None, streams), live_notes(None, streams, plan),
                        plan, output, command, when)
    if which in (None, "leaderboard"):
        print(f"leaderboard: {plan.users:,} users, reads while {plan.updates_per_second:,} updates/s ...", flush=True)
        board = bench_leaderboard(plan)
        rows += _report("leaderboard", "Leaderboard of a million users", live_rows(board, None),
                        live_notes(board, None, plan), plan, output, command, when)
    return rows


def _report(name: str, title: str, rows, notes, plan: LivePlan, output: Path | None, command: str,
            when: str) -> list[tuple[str, ...]]:
    print_live(rows, notes)
    if output is not None:
        write_live_markdown(output, name, live_markdown(name, title, rows, notes, plan, command, when))
        print(f"wrote {output}")
    return rows


def print_live(rows, notes) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="liveloop bench: live room")
    for name in ("figure", "measured", "target", "verdict"):
        table.add_column(name)
    for row in rows:
        style = "red" if row[3] == "NOT met" else "green"
        table.add_row(*row[:3], f"[{style}]{row[3]}[/]")
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    console.print(table)
    for note in notes:
        console.print(f"- {note}", highlight=False)
