"""The long-run soak (`make soak`, or `make bench BENCH_ARGS='--only soak'`): one `liveloop serve` on
SQLite under a steady event load at half its measured capacity, with viewers streaming and share
links clicked, killed with SIGKILL half way and restarted. It reports throughput, p99 and RSS over
time, checks that every acknowledged event is in the log, and that the ledger equals an
uninterrupted run: a fresh process fed the same events in the order the log holds them.

Not part of `make test` (it runs for 30 minutes by default); tests/unit/test_bench_smoke.py runs a
few seconds of it.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson

from bench.hotpaths import (
    CURRENCY,
    HOUR_MS,
    Service,
    create_tenant,
    iso,
    machine,
    percentile,
    set_up_campaign,
)

DAY_MS = 24 * HOUR_MS
BATCH = 500
IN_FLIGHT = 4  # batches posted at once, as a shop back end with a few workers would
RETRY_SECONDS = 0.5
SHARE_WORKERS = 64  # share-link clicks in flight at most
_START = "<!-- bench:soak:start -->"
_END = "<!-- bench:soak:end -->"
# What the soak's server is allowed beyond the defaults: all load comes from one address.
SERVER_ENV = {
    "LIVELOOP_MAX_STREAMS_PER_ADDRESS": "0",
    "LIVELOOP_RATE_LIMIT_STREAM_PER_MINUTE": "1000000000",
    "LIVELOOP_RATE_LIMIT_SHARE_PER_MINUTE": "1000000000",
}


@dataclass(frozen=True)
class SoakPlan:
    seconds: float
    rate: int | None  # events/s; None: half the capacity measured first
    viewers: int
    share_rate: int  # share-link clicks/s
    interval: float  # seconds per reported row
    population: int  # distinct viewers; after their first pass they come and go from the room
    referrers: int
    probe_seconds: float = 10.0


# -- the event stream ---------------------------------------------------------------------------

class Audience:
    """A bounded audience, in turns: each viewer first reserves (before the live, nine in ten
    through a referrer's code), then joins the room and a quarter of them order; afterwards the
    viewers stay in the room and their widgets beat. The engine's state stops growing once everyone
    has had a first turn, so RSS after warm-up should be flat."""

    def __init__(self, population: int, codes: list[str], starts_at: int, seed: int = 17) -> None:
        self._rng = random.Random(seed)
        self._codes = codes
        self._starts_at = starts_at
        self._population = population
        self._turn = [0] * population
        self._next = 0
        self._pending: list[dict] = []
        self._serial = 0

    def take(self, n: int, now: int) -> list[dict]:
        out = self._pending[:n]
        del self._pending[:len(out)]
        while len(out) < n:
            out.extend(self._viewer_turn(now))
        self._pending = out[n:]
        return out[:n]

    def _event(self, kind: str, user: int, at: int, **extra) -> dict:
        self._serial += 1
        ip = f"10.{user >> 16 & 255}.{user >> 8 & 255}.{user & 255}"
        return {"id": f"sk-{self._serial:010d}", "type": kind, "campaign_id": "", "user_id": f"v{user:07d}",
                "at": iso(at), "device_id": f"dev-{user:07d}", "ip": ip, **extra}

    def _viewer_turn(self, now: int) -> list[dict]:
        rng, user = self._rng, self._next
        self._next = (user + 1) % self._population
        turn = self._turn[user]
        self._turn[user] = turn + 1
        if turn == 0:
            extra = {"ref": rng.choice(self._codes)} if rng.random() < 0.9 else {}
            out = [self._event("reservation", user, self._starts_at - rng.randrange(1, 2 * DAY_MS), **extra),
                   self._event("room_join", user, now)]
            if rng.random() < 0.25:
                amount = rng.randrange(500, 25_000)
                out.append(self._event("order_paid", user, now, order={
                    "id": f"ord-{user:07d}", "amount": f"{amount // 100}.{amount % 100:02d}", "currency": CURRENCY}))
            return out
        # Then they stay and their widgets beat: a heartbeat after a heartbeat replaces it in the
        # engine's presence, so the state is bounded. (Each leave and rejoin keeps a mark, by design:
        # late events are placed among them; a run of comings and goings grows the state.)
        return [self._event("room_heartbeat", user, now)]


# -- measurements ---------------------------------------------------------------------------------

@dataclass
class Window:
    """What happened during one reported interval."""
    acked: int = 0
    batch_ms: list[float] = field(default_factory=list)
    share_ms: list[float] = field(default_factory=list)
    share_errors: int = 0
    pushes: int = 0
    failed_posts: int = 0


@dataclass
class Row:
    at: float  # seconds since the start
    events_per_second: float
    batch_p99_ms: float
    share_per_second: float
    share_p99_ms: float
    share_errors: int
    pushes: int
    streams: int
    rss_mb: float
    backlog: int  # events due but not yet acknowledged
    note: str = ""


@dataclass
class SoakResult:
    plan: SoakPlan
    rate: int
    capacity: float | None
    rows: list[Row]
    acked: int
    logged: int
    outage_seconds: float | None
    ledger_rows: int
    ledger_equal: bool
    ledger_digest: tuple[str, str]
    replay_seconds: float
    warm_rss_mb: tuple[float, float]  # RSS at the end of warm-up and at the end


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Load:
    """Events, share-link clicks and viewer streams against one server, from this process (the
    server is another), counted per window."""

    def __init__(self, server: Service, key: str, campaign_id: str, audience: Audience, codes: list[str],
                 tokens: list[str], rate: int, share_rate: int) -> None:
        self.server = server
        self.key = key
        self.cid = campaign_id
        self.audience = audience
        self.codes = codes
        self.tokens = tokens
        self.rate = rate
        self.share_rate = share_rate
        self.window = Window()
        self.acked = 0
        self.due = 0
        self.streams = 0
        self.retry: list[tuple[bytes, int]] = []
        self.generating = True
        self.last_ack = time.monotonic()
        self.killed_at: float | None = None
        self.outage: float | None = None

    async def events(self, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        started = time.monotonic()
        sent = 0
        gate = asyncio.Semaphore(IN_FLIGHT)
        tasks: set[asyncio.Task] = set()

        async def post(body: bytes, n: int) -> None:
            began = time.monotonic()
            try:
                t0 = time.perf_counter()
                r = await client.post("/v1/events", content=body, headers={"Content-Type": "application/json"})
                ms = (time.perf_counter() - t0) * 1000
                if r.status_code != 200:
                    raise httpx.HTTPStatusError(str(r.status_code), request=r.request, response=r)
                reply = r.json()
                if reply.get("rejected"):
                    raise RuntimeError(f"events rejected: {reply['rejected'][:3]}")
                self.acked += n
                self.window.acked += n
                self.window.batch_ms.append(ms)
                self.last_ack = time.monotonic()
                killed = self.killed_at
                if killed is not None and self.outage is None and began > killed:
                    self.outage = self.last_ack - killed  # the first batch sent after the kill is answered
            except (httpx.HTTPError, OSError):
                self.window.failed_posts += 1
                await asyncio.sleep(RETRY_SECONDS)
                self.retry.append((body, n))  # resent until acknowledged: nothing is lost
            finally:
                gate.release()

        while not (stop.is_set() and not self.retry and not tasks):
            if not stop.is_set():
                self.due = int((time.monotonic() - started) * self.rate)
            await gate.acquire()
            if self.retry:
                body, n = self.retry.pop(0)
            elif self.due > sent and not stop.is_set():
                n = min(BATCH, self.due - sent)
                batch = self.audience.take(n, int(time.time() * 1000))
                for ev in batch:
                    ev["campaign_id"] = self.cid
                body = orjson.dumps({"events": batch})
                sent += n
            else:
                gate.release()
                await asyncio.sleep(0.01)
                continue
            task = asyncio.create_task(post(body, n))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        self.due = sent

    async def shares(self, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        """`share_rate` clicks a second, spread over SHARE_WORKERS paced workers, so that a slow
        answer delays only its own worker's next click (one worker alone would click at 1/latency)."""
        if not self.share_rate:
            return
        await asyncio.gather(*(self._share_worker(client, stop, random.Random(5 + i), SHARE_WORKERS / self.share_rate)
                               for i in range(SHARE_WORKERS)))

    async def _share_worker(self, client: httpx.AsyncClient, stop: asyncio.Event, rng: random.Random,
                            interval: float) -> None:
        next_at = time.monotonic() + rng.random() * interval
        while not stop.is_set():
            delay = next_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            next_at += interval
            try:
                t0 = time.perf_counter()
                r = await client.get(f"/s/{rng.choice(self.codes)}", headers={"User-Agent": "Mozilla/5.0 soak"})
                if r.status_code != 302:
                    self.window.share_errors += 1
                else:
                    self.window.share_ms.append((time.perf_counter() - t0) * 1000)
            except (httpx.HTTPError, OSError):
                self.window.share_errors += 1
                next_at = time.monotonic() + 0.2

    async def viewer(self, client: httpx.AsyncClient, token: str, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with client.stream("GET", "/v1/stream", params={"token": token}) as response:
                    if response.status_code != 200:
                        await asyncio.sleep(1)
                        continue
                    self.streams += 1
                    try:
                        async for line in response.aiter_lines():
                            if line.startswith("data:"):
                                self.window.pushes += 1
                            if stop.is_set():
                                break
                    finally:
                        self.streams -= 1
            except (httpx.HTTPError, OSError):
                pass
            await asyncio.sleep(1)  # the widget's reconnect delay, roughly


# -- the run --------------------------------------------------------------------------------------

async def _tokens(server: Service, key: str, cid: str, users: list[str], ttl: int) -> list[str]:
    async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
        out = []
        for user in users:
            r = await c.post(f"/v1/campaigns/{cid}/viewer-tokens", json={"user_id": user, "ttl_seconds": ttl})
            r.raise_for_status()
            out.append(r.json()["token"])
        return out


async def _probe_capacity(server: Service, key: str, cid: str, audience: Audience, seconds: float) -> tuple[float, int]:
    """Events/s the server acknowledges when posted as fast as it answers (IN_FLIGHT at once), and
    how many it acknowledged."""
    done = 0
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
        async def worker() -> None:
            nonlocal done
            while time.monotonic() < deadline:
                batch = audience.take(BATCH, int(time.time() * 1000))
                for ev in batch:
                    ev["campaign_id"] = cid
                r = await c.post("/v1/events", content=orjson.dumps({"events": batch}),
                                 headers={"Content-Type": "application/json"})
                r.raise_for_status()
                done += len(batch)

        start = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
        return done / (time.monotonic() - start), done


async def _soak(server: Service, key: str, cid: str, audience: Audience, codes: list[str], tokens: list[str],
                plan: SoakPlan, rate: int, progress) -> tuple[list[Row], Load]:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=plan.viewers + 64, max_keepalive_connections=plan.viewers + 64)
    timeout = httpx.Timeout(30, read=None)
    load = Load(server, key, cid, audience, codes, tokens, rate, plan.share_rate)
    stop = asyncio.Event()
    rows: list[Row] = []
    async with (httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30) as api,
                httpx.AsyncClient(base_url=server.url, timeout=10,
                                  limits=httpx.Limits(max_connections=SHARE_WORKERS)) as web,
                httpx.AsyncClient(base_url=server.url, timeout=timeout, limits=limits) as streams):
        tasks = [asyncio.create_task(load.events(api, stop)), asyncio.create_task(load.shares(web, stop))]
        tasks += [asyncio.create_task(load.viewer(streams, t, stop)) for t in tokens]
        start = time.monotonic()
        kill_at = plan.seconds / 2
        killed = False
        next_row = plan.interval
        while (elapsed := time.monotonic() - start) < plan.seconds:
            await asyncio.sleep(min(0.2, max(0.0, next_row - elapsed)))
            note = ""
            if not killed and time.monotonic() - start >= kill_at:
                killed = True
                load.killed_at = time.monotonic()
                await asyncio.to_thread(_kill_and_restart, server)
                note = "kill -9 and restart"
            if time.monotonic() - start >= next_row:
                w, load.window = load.window, Window()
                rows.append(Row(
                    at=round(next_row), events_per_second=w.acked / plan.interval,
                    batch_p99_ms=percentile(w.batch_ms, 99) if w.batch_ms else float("nan"),
                    share_per_second=len(w.share_ms) / plan.interval,
                    share_p99_ms=percentile(w.share_ms, 99) if w.share_ms else float("nan"),
                    share_errors=w.share_errors, pushes=w.pushes, streams=load.streams,
                    rss_mb=rss_mb(server.pid) if server.proc else 0.0,
                    backlog=max(0, load.due - load.acked), note=note))
                progress(rows[-1])
                next_row += plan.interval
        stop.set()
        await asyncio.wait_for(tasks[0], timeout=600)  # everything due is acknowledged before we stop
        for task in tasks[1:]:
            task.cancel()
        await asyncio.gather(*tasks[1:], return_exceptions=True)
    return rows, load


def _kill_and_restart(server: Service) -> None:
    assert server.proc is not None
    server.proc.kill()
    server.proc.wait()
    server.proc = None
    server.__enter__()  # the same port and database; answers /healthz once it serves again


def ledger_of(db: Path, cid: str) -> list[tuple]:
    """The campaign's ledger without ids or arrival times (which differ between runs): each reward's
    rule, user, role, value, grant and every later status change, sorted."""
    conn = sqlite3.connect(db, timeout=60)
    try:
        changes: dict[str, list] = {}
        for rid, status, reason, cause in conn.execute(
                "SELECT reward_id, status, reason, cause_event_id FROM reward_changes ORDER BY seq"):
            changes.setdefault(rid, []).append((status, reason, cause))
        rows = conn.execute("SELECT id, rule_id, user_id, role, kind, amount, percent_off, currency, points, sku, "
                            "name, content, status, reason, cause_event_id, available_at FROM rewards "
                            "WHERE campaign_id = ?", (cid,)).fetchall()
    finally:
        conn.close()
    return sorted((*row[1:], tuple(changes.get(row[0], ()))) for row in rows)


def digest(rows: list[tuple]) -> str:
    return hashlib.sha256(orjson.dumps(rows, option=orjson.OPT_PASSTHROUGH_DATACLASS)).hexdigest()[:16]


def logged_events(db: Path, cid: str, codes: dict[str, str], chunk: int = 20_000):
    """The campaign's API events in log order, as they were posted, with each invite code replaced by
    `codes[code]` (clicks have no user and are not posted: they change no reward)."""
    conn = sqlite3.connect(db, timeout=60)
    try:
        cursor = conn.execute("SELECT id, type, user_id, at, ref, device_id, ip, order_id, amount FROM events "
                              "WHERE campaign_id = ? AND user_id IS NOT NULL ORDER BY seq", (cid,))
        while rows := cursor.fetchmany(chunk):
            out = []
            for eid, kind, user, at, ref, device, ip, order_id, amount in rows:
                ev = {"id": eid, "type": kind, "campaign_id": cid, "user_id": user, "at": iso(at),
                      "device_id": device, "ip": ip}
                if ref is not None:
                    ev["ref"] = codes[ref]
                if order_id is not None:
                    ev["order"] = {"id": order_id, "amount": f"{amount // 100}.{amount % 100:02d}",
                                   "currency": CURRENCY}
                out.append(ev)
            yield out
    finally:
        conn.close()


async def _feed(server: Service, key: str, batches) -> int:
    """Posts the batches one at a time, so the fresh process sees exactly the log's order."""
    sent = 0
    async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as c:
        for chunk in batches:
            for i in range(0, len(chunk), BATCH):
                batch = chunk[i:i + BATCH]
                r = await c.post("/v1/events", content=orjson.dumps({"events": batch}),
                                 headers={"Content-Type": "application/json"})
                r.raise_for_status()
                if r.json().get("rejected"):
                    raise RuntimeError(f"replayed events rejected: {r.json()['rejected'][:3]}")
                sent += len(batch)
    return sent


def run_soak(plan: SoakPlan, work: Path, progress=print) -> SoakResult:
    now = int(time.time() * 1000)
    starts_at = now - 10 * 60_000
    ends_at = now + int(plan.seconds * 1000) + 6 * HOUR_MS
    cid = "soak"
    db = work / "soak.db"
    url = f"sqlite:///{db}"
    _tenant, key = create_tenant(url)
    server = Service.liveloop(url, work / "soak.log")
    server.extra_env = dict(SERVER_ENV)
    with server:
        codes = set_up_campaign(server, key, cid, starts_at=starts_at, ends_at=ends_at, invites=plan.referrers)
        audience = Audience(plan.population, codes, starts_at)
        referrers = [f"r{i:05d}" for i in range(min(plan.viewers, plan.referrers))]
        ttl = min(86_400, int(plan.seconds) + 3600)
        tokens = asyncio.run(_tokens(server, key, cid, referrers, ttl))
        capacity = None
        probed = 0
        rate = plan.rate
        if rate is None:
            progress(f"measuring capacity for {plan.probe_seconds:.0f} s ...")
            capacity, probed = asyncio.run(_probe_capacity(server, key, cid, audience, plan.probe_seconds))
            rate = max(1, int(capacity / 2))
            progress(f"capacity {capacity:,.0f} events/s; soaking at {rate:,} events/s for {plan.seconds:.0f} s")
        rows, load = asyncio.run(_soak(server, key, cid, audience, codes, tokens, plan, rate, progress))
    conn = sqlite3.connect(db, timeout=60)
    try:
        logged = conn.execute("SELECT count(*) FROM events WHERE campaign_id = ? AND id LIKE 'sk-%'",
                              (cid,)).fetchone()[0]
    finally:
        conn.close()
    soaked = ledger_of(db, cid)

    progress("the uninterrupted run: a fresh process fed the logged events in log order ...")
    db2 = work / "uninterrupted.db"
    url2 = f"sqlite:///{db2}"
    _t2, key2 = create_tenant(url2)
    fresh = Service.liveloop(url2, work / "uninterrupted.log")
    fresh.extra_env = dict(SERVER_ENV)
    t0 = time.monotonic()
    with fresh:
        codes2 = set_up_campaign(fresh, key2, cid, starts_at=starts_at, ends_at=ends_at, invites=plan.referrers)
        # Invite codes are random per tenant: the same referrer's code in the fresh process stands in.
        asyncio.run(_feed(fresh, key2, logged_events(db, cid, dict(zip(codes, codes2, strict=True)))))
    replay_seconds = time.monotonic() - t0
    uninterrupted = ledger_of(db2, cid)
    # Growth after warm-up: RSS over the last third of the run (a restart, half way, warms up again).
    warm = [r.rss_mb for r in rows if r.at >= plan.seconds * 2 / 3 and r.rss_mb and not r.note]
    return SoakResult(
        plan=plan, rate=rate, capacity=capacity, rows=rows, acked=probed + load.acked, logged=logged,
        outage_seconds=load.outage, ledger_rows=len(soaked), ledger_equal=soaked == uninterrupted,
        ledger_digest=(digest(soaked), digest(uninterrupted)), replay_seconds=replay_seconds,
        warm_rss_mb=(warm[0], warm[-1]) if warm else (0.0, 0.0))


# -- the report -----------------------------------------------------------------------------------

def _fmt(v: float) -> str:
    return "-" if v != v else f"{v:,.1f}"  # NaN: nothing measured in that window


def table(result: SoakResult) -> list[str]:
    lines = ["| t (s) | events/s | batch p99 (ms) | clicks/s | click p99 (ms) | click errors | pushes | streams "
             "| RSS (MB) | backlog | |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in result.rows:
        lines.append(f"| {r.at} | {r.events_per_second:,.0f} | {_fmt(r.batch_p99_ms)} | {r.share_per_second:,.0f} "
                     f"| {_fmt(r.share_p99_ms)} | {r.share_errors} | {r.pushes:,} | {r.streams} | {r.rss_mb:,.0f} "
                     f"| {r.backlog:,} | {r.note} |")
    return lines


def summary(result: SoakResult) -> list[str]:
    p = result.plan
    capacity = f"half the measured capacity of {result.capacity:,.0f} events/s" if result.capacity else "as asked"
    outage = f"{result.outage_seconds:.1f} s" if result.outage_seconds is not None else "not measured"
    first, last = result.warm_rss_mb
    return [
        f"- Load: {result.rate:,} events/s ({capacity}) in batches of {BATCH}, {IN_FLIGHT} in flight; "
        f"{p.share_rate} share-link clicks/s; {p.viewers} viewer streams; {p.population:,} viewers in the audience.",
        f"- kill -9 at {p.seconds / 2:.0f} s; from the kill to the first acknowledged batch: {outage} "
        "(the restart replays the whole log: see the cold-start row of SPEC 8).",
        f"- Acknowledged events: {result.acked:,}; in the log: {result.logged:,} "
        f"({'every acknowledged event kept' if result.logged == result.acked else 'MISMATCH'}).",
        f"- Ledger: {result.ledger_rows:,} rewards; equal to the uninterrupted run's: "
        f"{'yes' if result.ledger_equal else 'NO'} (digests {result.ledger_digest[0]} / {result.ledger_digest[1]}; "
        f"the uninterrupted run took {result.replay_seconds:.0f} s).",
        f"- RSS over the last third of the run (after the restart's warm-up): {first:,.0f} MB -> {last:,.0f} MB "
        f"({(last - first) / first * 100 if first else 0:+.1f}%).",
    ]


def write_report(path: Path, result: SoakResult, command: str, when: str) -> None:
    info = machine()
    block = "\n".join([_START, f"### Soak ({when}, `{command}`)", "",
                       f"Machine: {info.get('cpu', '?')}, {info.get('nproc', '?')} cores, "
                       f"{info.get('python', '?')}, SQLite {info.get('sqlite', '?')}.", "",
                       *summary(result), "", *table(result), _END])
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if _START in text and _END in text:
        head, rest = text.split(_START, 1)
        text = head + block + rest.split(_END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n## Long-run soak\n\n" + block + "\n"
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=int, help="events/s (default: half the capacity measured first)")
    parser.add_argument("--viewers", type=int, default=500, help="viewer streams held open")
    parser.add_argument("--share-rate", type=int, default=200, help="share-link clicks/s")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds per reported row")
    parser.add_argument("--population", type=int, default=200_000)
    parser.add_argument("--output", type=Path, help="markdown file to write the results block to "
                        "(default: docs/benchmarks.md for a run of 30 minutes or more)")
    parser.add_argument("--keep", action="store_true", help="keep the databases and logs")
    parser.add_argument("--strict", action="store_true", help="exit 1 if an event was lost or the ledgers differ")
    args = parser.parse_args(argv)
    plan = SoakPlan(seconds=args.minutes * 60, rate=args.rate, viewers=args.viewers, share_rate=args.share_rate,
                    interval=args.interval, population=args.population, referrers=max(args.viewers, 100),
                    probe_seconds=min(10.0, args.minutes * 6))
    work = Path(tempfile.mkdtemp(prefix="liveloop-soak-"))
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"liveloop soak: {args.minutes:g} min; databases and logs in {work}", flush=True)

    def progress(item) -> None:
        if isinstance(item, Row):
            print(f"  t={item.at:>5}s  {item.events_per_second:>9,.0f} ev/s  "
                  f"batch p99 {_fmt(item.batch_p99_ms):>8} ms  "
                  f"clicks {item.share_per_second:>5,.0f}/s p99 {_fmt(item.share_p99_ms):>7} ms  "
                  f"pushes {item.pushes:>7,}  streams {item.streams:>4}  "
                  f"RSS {item.rss_mb:>6,.0f} MB  backlog {item.backlog:>7,}  {item.note}", flush=True)
        else:
            print(item, flush=True)

    try:
        result = run_soak(plan, work, progress)
    except BaseException:
        print(f"soak failed; databases and logs kept in {work}", file=sys.stderr, flush=True)
        raise
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print("\n".join(summary(result)))
    output = args.output or (Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
                             if args.minutes >= 30 else None)
    if output is not None:
        command = "make soak" + (f" SOAK_ARGS='{' '.join(argv if argv is not None else sys.argv[1:])}'"
                                 if (argv if argv is not None else sys.argv[1:]) else "")
        write_report(output, result, command, when)
        print(f"wrote {output}")
    ok = result.ledger_equal and result.logged == result.acked
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
