"""`make bench`'s share-link and ingestion benchmarks (SPEC.md section 8), each against a baseline in the same run.

- Share link: `GET /s/{code}` on a real `liveloop serve` (every click recorded in the event log)
  against a bare ASGI app that answers every request with a 302, served by uvicorn with the same
  loop and HTTP settings; both loaded by wrk with the same script, connections and duration.
- Ingestion: `POST /v1/events` in batches of 500 on a campaign with the full rule set, each reply
  sent once the batch is durable, against raw sqlite3 `executemany` of the same rows into the same
  table (made by the project's migration) with the same pragmas.

Figures are ratios against those baselines because absolute numbers say more about the machine
than about liveloop. Run them with `make bench` (`BENCH_ARGS=--quick` for a short smoke run); bench/__main__.py
runs them and then bench/live.py's.
"""

from __future__ import annotations

import asyncio
import os
import platform
import random
import re
import resource
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from liveloop.events.store import EVENT_COLUMNS  # the columns liveloop writes per event
from liveloop.kit.times import DAY_MS

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]  # the checkout: `bench` is run from it, not installed
HOST = "127.0.0.1"
BATCH = 500
INVITES = 1000
CONNECTIONS = 50
HOUR_MS = 3_600_000
CURRENCY = "SGD"  # the campaign's market (SG) currency; two decimals
LANDING = "https://shop.example.com/live/spring-drop"

# SPEC.md section 8.
SHARE_RATIO_TARGET = 0.6
SHARE_P99_TARGET_MS = 10.0
INGEST_RATIO_TARGET = 0.3
INGEST_RATE_TARGET = 50_000


_RESULTS_START = "<!-- bench:results:start -->"
_RESULTS_END = "<!-- bench:results:end -->"


@dataclass(frozen=True)
class Plan:
    name: str
    share_rounds: int  # alternating bare / liveloop runs of share_seconds each
    share_seconds: int
    warmup_seconds: int
    ingest_events: int  # generated and offered; the run stops earlier at ingest_max_seconds
    ingest_max_seconds: float
    clients: int = 4


FULL = Plan("full", share_rounds=2, share_seconds=5, warmup_seconds=2, ingest_events=300_000, ingest_max_seconds=30)
QUICK = Plan("quick", share_rounds=2, share_seconds=2, warmup_seconds=1, ingest_events=30_000, ingest_max_seconds=5)


# -- the baseline app ------------------------------------------------------------------------

_BARE_HEADERS = [
    (b"content-type", b"text/plain"),
    (b"content-length", b"0"),
    (b"location", LANDING.encode() + b"?ll_ref=bench"),
    (b"cache-control", b"no-store"),
    (b"referrer-policy", b"no-referrer"),
]


async def bare_app(scope, receive, send) -> None:
    """The baseline: a bare ASGI app that answers every request with the same 302 liveloop sends."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 302, "headers": _BARE_HEADERS})
    await send({"type": "http.response.body", "body": b""})


def serve_bare(port: int) -> None:
    import uvicorn

    # The same settings as `liveloop serve` (cli.serve): uvloop + httptools when present, no access log.
    uvicorn.run(bare_app, host=HOST, port=port, access_log=False, loop="auto", http="auto", log_level="warning")


# -- the event stream ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class GenEvent:
    id: str
    type: str
    user_id: str
    at: int  # epoch ms
    ref: str | None
    device_id: str
    ip: str
    order_id: str | None = None
    amount: int | None = None  # minor units of CURRENCY


def generate_events(count: int, *, codes: list[str], starts_at: int, now: int, seed: int = 8) -> list[GenEvent]:
    """`count` events of a live: viewers reserve (nine in ten through a friend's code) in the two
    days before it, three in four join the room, a quarter of those order. Deterministic."""
    rng = random.Random(seed)
    out: list[GenEvent] = []
    during = max(1, now - 10 * 60_000 - starts_at)
    viewer = 0
    while len(out) < count:
        uid = f"v{viewer:07d}"
        device = f"dev-{viewer:07d}"
        ip = f"10.{viewer >> 16 & 255}.{viewer >> 8 & 255}.{viewer & 255}"
        ref = rng.choice(codes) if codes and rng.random() < 0.9 else None
        out.append(GenEvent(f"ev-{viewer:07d}-r", "reservation", uid, starts_at - rng.randrange(1, 2 * DAY_MS),
                            ref, device, ip))
        if rng.random() < 0.75:
            joined = starts_at + rng.randrange(during)
            out.append(GenEvent(f"ev-{viewer:07d}-j", "room_join", uid, joined, None, device, ip))
            if rng.random() < 0.25:
                out.append(GenEvent(f"ev-{viewer:07d}-o", "order_paid", uid, joined + rng.randrange(1, 300_000),
                                    None, device, ip, f"ord-{viewer:07d}", rng.randrange(500, 25_000)))
        viewer += 1
    return out[:count]


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def api_event(ev: GenEvent, campaign_id: str) -> dict:
    """The event as a shop back end posts it to /v1/events."""
    body: dict = {"id": ev.id, "type": ev.type, "campaign_id": campaign_id, "user_id": ev.user_id, "at": iso(ev.at),
                  "device_id": ev.device_id, "ip": ev.ip}
    if ev.ref is not None:
        body["ref"] = ev.ref
    if ev.order_id is not None:
        body["order"] = {"id": ev.order_id, "amount": f"{ev.amount // 100}.{ev.amount % 100:02d}",
                         "currency": CURRENCY}
    return body


def event_row(ev: GenEvent, *, tenant_id: str, campaign_id: str, received_at: int) -> dict:
    """The row liveloop writes to the events table for this event."""
    return {
        "tenant_id": tenant_id, "id": ev.id, "campaign_id": campaign_id, "type": ev.type, "user_id": ev.user_id,
        "at": ev.at, "ref": ev.ref, "device_id": ev.device_id, "ip": ev.ip, "order_id": ev.order_id,
        "amount": ev.amount, "currency": CURRENCY if ev.order_id is not None else None, "received_at": received_at,
        "value": ev.amount,  # orders are in the campaign currency: their value is their amount
        "group_id": None, "sku": None,  # no group buys in the stream
    }


# -- the ingestion baseline ------------------------------------------------------------------

@dataclass
class Rate:
    count: int
    seconds: float
    detail: dict = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0


def raw_sqlite_inserts(path: Path, rows: list[dict], *, batch: int = BATCH) -> Rate:
    """Raw sqlite3 on a fresh file: liveloop's schema (its Alembic migration) and connection pragmas,
    then `executemany` of `batch` rows per transaction, committed each batch."""
    from liveloop.kit.db.dialect import create_engine
    from liveloop.kit.db.migrate import upgrade

    url = f"sqlite:///{path}"
    upgrade(url)
    engine = create_engine(url)  # its connect hook sets the pragmas the server runs with
    pooled = engine.raw_connection()
    try:
        conn: sqlite3.Connection = pooled.driver_connection
        conn.isolation_level = None  # explicit BEGIN/COMMIT: exactly one transaction per batch
        pragmas = {name: conn.execute(f"PRAGMA {name}").fetchone()[0] for name in ("journal_mode", "synchronous")}
        sql = f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(EVENT_COLUMNS))})"
        params = [tuple(row[c] for c in EVENT_COLUMNS) for row in rows]
        start = time.perf_counter()
        for i in range(0, len(params), batch):
            conn.execute("BEGIN")
            conn.executemany(sql, params[i:i + batch])
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - start
        stored = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        pooled.close()
        engine.dispose()
    if stored != len(rows):
        raise RuntimeError(f"raw baseline stored {stored} rows of {len(rows)}")
    return Rate(len(rows), elapsed, {"pragmas": pragmas})


# -- processes -------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Service:
    """A server process on a free port, its output in a log file."""

    def __init__(self, argv: list[str], port: int, log: Path, ready_path: str) -> None:
        self.argv = argv
        self.port = port
        self.log = log
        self.ready_path = ready_path
        self.proc: subprocess.Popen | None = None
        self.extra_env: dict[str, str] = {}
        # How long it may take to answer `ready_path`, and to exit once asked (longer under valgrind).
        self.start_seconds = 60.0
        self.stop_seconds = 30.0

    @classmethod
    def liveloop(cls, database_url: str, log: Path) -> Service:
        port = free_port()
        argv = [str(BIN / "liveloop"), "serve", "--database-url", database_url, "--port", str(port), "--no-migrate"]
        return cls(argv, port, log, "/healthz")

    @classmethod
    def bare(cls, log: Path) -> Service:
        port = free_port()
        return cls([sys.executable, "-m", "bench", "--serve-bare", str(port)], port, log, "/")

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def __enter__(self) -> Service:
        import http.client

        # The load comes from one address: the limit is set out of reach, so its cost is measured
        # while every click is still recorded. Request logs are off unless LIVELOOP_LOG_LEVEL asks for
        # them (LIVELOOP_LOG_LEVEL=info LIVELOOP_LOG_FORMAT=json measures their cost).
        env = {**os.environ, "LIVELOOP_LOG_LEVEL": os.environ.get("LIVELOOP_LOG_LEVEL", "warning"),
               "LIVELOOP_RATE_LIMIT_SHARE_PER_MINUTE": "1000000000",
               "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))),
               **self.extra_env}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.argv, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + self.start_seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.argv[0]} exited with {self.proc.returncode}; see {self.log}")
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
                conn.request("GET", self.ready_path)
                conn.getresponse().read()
                conn.close()
                return self
            except OSError:
                time.sleep(0.1)
        self.__exit__()
        raise RuntimeError(f"server did not start; see {self.log}")

    def __exit__(self, *_exc) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=self.stop_seconds)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def create_tenant(database_url: str) -> tuple[str, str]:
    """(tenant id, API key) from `liveloop tenant create`; the key is the last line it prints."""
    out = subprocess.run([str(BIN / "liveloop"), "tenant", "create", "bench", "--database-url", database_url],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    match = re.search(r"tenant (\S+)", out)
    if match is None:
        raise RuntimeError(f"unexpected output of liveloop tenant create: {out!r}")
    return match.group(1), out.strip().splitlines()[-1]


def campaign_body(campaign_id: str, *, starts_at: int, ends_at: int) -> dict:
    """A campaign with the full rule set: double-sided reservation referral (capped), milestones on
    reservations and joins, order commission with a hold, under a budget."""
    return {
        "id": campaign_id, "title": "Spring drop live", "market": "SG", "landing_url": LANDING,
        "starts_at": iso(starts_at), "ends_at": iso(ends_at), "budget": "10000000.00",
        "leaderboard": {"metric": "reservations"},
        "rules": [
            {"id": "invite", "type": "reservation_referral",
             "referrer_reward": {"kind": "coupon", "amount": "2.00"},
             "referee_reward": {"kind": "points", "points": 100}, "max_per_referrer": 50},
            {"id": "ladder", "type": "milestone", "metric": "reservations", "tiers": [
                {"at": 1, "reward": {"kind": "badge", "name": "First friend"}},
                {"at": 3, "reward": {"kind": "coupon", "percent_off": "10"}},
                {"at": 10, "reward": {"kind": "cashback", "amount": "5.00"}},
                {"at": 50, "reward": {"kind": "privilege", "name": "Priority question"}},
                {"at": 200, "reward": {"kind": "free_item", "sku": "SKU-GIFT-1"}}]},
            {"id": "room", "type": "milestone", "metric": "joins", "tiers": [
                {"at": 5, "reward": {"kind": "points", "points": 500}},
                {"at": 25, "reward": {"kind": "unlock", "content": "Backstage clip"}}]},
            {"id": "commission", "type": "order_commission", "percent": "5", "hold_days": 7},
        ],
    }


def set_up_campaign(server: Service, key: str, campaign_id: str, *, starts_at: int, ends_at: int,
                    invites: int = INVITES) -> list[str]:
    """Create the campaign and `invites` invite codes (one per referrer) over the HTTP API."""
    import httpx

    def check(r: httpx.Response) -> httpx.Response:
        if r.is_error:
            raise RuntimeError(f"{r.request.method} {r.request.url.path} answered {r.status_code}: {r.text[:500]} "
                               f"(server log: {server.log})")
        return r

    async def run() -> list[str]:
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=60) as client:
            check(await client.post("/v1/campaigns", json=campaign_body(campaign_id, starts_at=starts_at,
                                                                         ends_at=ends_at)))
            gate = asyncio.Semaphore(16)

            async def invite(i: int) -> str:
                async with gate:
                    r = await client.post(f"/v1/campaigns/{campaign_id}/invites", json={"user_id": f"r{i:05d}"})
                    return check(r).json()["code"]

            return list(await asyncio.gather(*(invite(i) for i in range(invites))))

    return asyncio.run(run())


def count_rows(db: Path, sql: str) -> int:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


# -- wrk -------------------------------------------------------------------------------------

def ensure_wrk() -> str:
    """wrk's path. When it is missing: installed with apt-get if we run as root, else an error."""
    path = shutil.which("wrk")
    if path:
        return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is not installed; running as root, so installing it: apt-get install -y wrk", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.run(["apt-get", "install", "-y", "wrk"], env=env).returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, check=False)
            subprocess.run(["apt-get", "install", "-y", "wrk"], env=env, check=False)
        path = shutil.which("wrk")
        if path:
            return path
    raise SystemExit("make bench needs wrk (the HTTP load generator). Install it with:\n"
                     "    sudo apt-get install wrk        (Debian, Ubuntu)\n"
                     "    brew install wrk                (macOS)")


_WRK_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "status_errors": %d, "timeouts": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


# What viewers' phones send: a click carries its browser's (or in-app browser's) User-Agent, which
# the share link checks against the link-preview crawlers (sharelink/pages.py).
AGENTS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 "
    "Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 Instagram 327.0.3.32.105 (iPhone15,3; iOS 17_4; en_US; en; scale=3.00; 1290x2796; 593237432)",
    "Mozilla/5.0 (Linux; Android 13; 2201117TY Build/TKQ1.221114.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/123.0.6312.118 Mobile Safari/537.36 Line/14.5.1/IAB",
    "Mozilla/5.0 (Linux; Android 12; CPH2343) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.230 "
    "Mobile Safari/537.36 Zalo android/12100731 ZaloTheme/light ZaloLanguage/vi",
)


def share_script(codes: list[str]) -> str:
    """A wrk script that cycles through the share codes, each request with one of the phones' User-Agents
    (requests formatted once, at start)."""
    quoted = ", ".join(f'"{c}"' for c in codes)
    agents = ", ".join(f'"{a}"' for a in AGENTS)
    return (f"local codes = {{{quoted}}}\n"
            f"local agents = {{{agents}}}\n"
            "local reqs = {}\n"
            'for i, c in ipairs(codes) do reqs[i] = wrk.format("GET", "/s/" .. c, '
            '{["User-Agent"] = agents[i % #agents + 1]}) end\n'
            "local n, i = #reqs, 0\n"
            "request = function()\n  i = i + 1\n  if i > n then i = 1 end\n  return reqs[i]\nend\n"
            + _WRK_DONE)


@dataclass
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: dict
    cpu_seconds: float  # wrk's own CPU time

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def run_wrk(wrk: str, url: str, script: Path, *, connections: int, seconds: int, log: Path) -> WrkResult:
    import json

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s",
                           "-s", str(script), url], capture_output=True, text=True, timeout=seconds + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(log, "a") as out:
        out.write(f"$ wrk -t1 -c{connections} -d{seconds}s --latency -s {script} {url}\n{proc.stdout}{proc.stderr}\n")
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr or proc.stdout}")
    data = json.loads(line.removeprefix("WRKJSON "))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return WrkResult(
        requests=data["requests"], seconds=data["duration_us"] / 1e6, p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000, p99_ms=data["p99_us"] / 1000, max_ms=data["max_us"] / 1000,
        errors={k: data[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")},
        cpu_seconds=cpu,
    )


# -- profiling (optional) --------------------------------------------------------------------

class Profiler:
    """`--profile DIR`: py-spy samples the server during each measured run (collapsed stacks, per thread)."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.py_spy = shutil.which("py-spy") or (str(BIN / "py-spy") if (BIN / "py-spy").exists() else None)
        if directory is not None:
            if self.py_spy is None:
                raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
            directory.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def attach(self, pid: int, name: str, seconds: float, *, enabled: bool = True) -> Iterator[None]:
        if self.directory is None or not enabled:
            yield
            return
        out = self.directory / f"{name}.txt"
        proc = subprocess.Popen([self.py_spy, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))),
                                 "--rate", "250", "--threads", "--nonblocking", "--format", "raw", "-o", str(out)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            yield
        finally:
            try:
                proc.wait(timeout=seconds + 30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# -- the share-link benchmark ----------------------------------------------------------------

@dataclass
class Load:
    """CPU seconds spent in a measured window: by the server, by the load generator, by the whole machine."""

    seconds: float = 0.0
    server: float = 0.0
    generator: float = 0.0  # wrk (a reaped child) or this process
    machine: float = 0.0  # every CPU, every process (/proc/stat)
    steal: float = 0.0  # taken by the hypervisor

    @property
    def others(self) -> float:
        """What other processes on the machine used meanwhile (noise for every figure)."""
        return max(0.0, self.machine - self.server - self.generator)

    def __add__(self, other: Load) -> Load:
        return Load(self.seconds + other.seconds, self.server + other.server, self.generator + other.generator,
                    self.machine + other.machine, self.steal + other.steal)

    def cores(self, value: float) -> str:
        return f"{value / self.seconds:.2f}" if self.seconds else "-"


def machine_cpu() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine since boot."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return 0.0, 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tick, steal / tick


@contextmanager
def metered(server: Service) -> Iterator[Load]:
    """Fill a Load with what the window between enter and exit cost."""
    load = Load()
    start = time.perf_counter()
    server0 = server.cpu()
    busy0, steal0 = machine_cpu()
    own0 = resource.getrusage(resource.RUSAGE_SELF)
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    yield load
    own1 = resource.getrusage(resource.RUSAGE_SELF)
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy1, steal1 = machine_cpu()
    load.server = server.cpu() - server0
    load.seconds = time.perf_counter() - start
    load.generator = sum(getattr(b, f) - getattr(a, f) for a, b in ((own0, own1), (kids0, kids1))
                         for f in ("ru_utime", "ru_stime"))
    load.machine = busy1 - busy0
    load.steal = steal1 - steal0


@dataclass
class ShareResult:
    liveloop: list[WrkResult]  # one per round
    bare: list[WrkResult]
    clicks: int  # click rows the measured rounds added to the events table
    liveloop_load: Load
    bare_load: Load

    @staticmethod
    def rate(runs: list[WrkResult]) -> float:
        seconds = sum(r.seconds for r in runs)
        return sum(r.requests for r in runs) / seconds if seconds else 0.0

    @property
    def ratio(self) -> float:
        base = self.rate(self.bare)
        return self.rate(self.liveloop) / base if base else 0.0

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.liveloop)

    @staticmethod
    def p99(runs: list[WrkResult]) -> float:
        return max(r.p99_ms for r in runs)  # the worst round: a target is met only if every round meets it

    @staticmethod
    def p50(runs: list[WrkResult]) -> float:
        return statistics.median(r.p50_ms for r in runs)


def bench_share(work: Path, wrk: str, plan: Plan, profiler: Profiler) -> ShareResult:
    db = work / "share.db"
    url = f"sqlite:///{db}"
    _tenant, key = create_tenant(url)
    log = work / "wrk.log"
    script = work / "share.lua"
    clicks_sql = "SELECT count(*) FROM events WHERE type = 'click'"
    with Service.liveloop(url, work / "share-server.log") as server, Service.bare(work / "bare-server.log") as bare:
        now = time.time_ns() // 1_000_000
        codes = set_up_campaign(server, key, "bench-share", starts_at=now + 7 * DAY_MS,
                                ends_at=now + 3650 * DAY_MS)
        script.write_text(share_script(codes))  # the bare app answers the same requests
        for target in (bare, server):
            run_wrk(wrk, target.url, script, connections=CONNECTIONS, seconds=plan.warmup_seconds, log=log)
        time.sleep(0.5)  # the warm-up's last clicks reach the log
        before = count_rows(db, clicks_sql)
        # Rounds alternate between the two servers so that a change in the machine's other load
        # (a neighbour's test run, say) falls on both alike. The idle server meanwhile costs nothing.
        runs: dict[str, list[WrkResult]] = {"bare": [], "liveloop": []}
        loads = {"bare": Load(), "liveloop": Load()}
        for round_no in range(plan.share_rounds):
            for name, target in (("bare", bare), ("liveloop", server)):
                profiling = name == "liveloop" and round_no == 0
                with metered(target) as load, profiler.attach(target.pid, "share-link", plan.share_seconds,
                                                              enabled=profiling):
                    runs[name].append(run_wrk(wrk, target.url, script, connections=CONNECTIONS,
                                              seconds=plan.share_seconds, log=log))
                loads[name] = loads[name] + load
    # The server has stopped: every click it answered (or was still answering) is committed.
    clicks = count_rows(db, clicks_sql) - before
    return ShareResult(runs["liveloop"], runs["bare"], clicks, loads["liveloop"], loads["bare"])


# -- the ingestion benchmark -----------------------------------------------------------------

@dataclass
class PostResult:
    batches: int = 0
    events: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    failures: list = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0


def post_request(port: int, key: str, body: bytes) -> bytes:
    """A complete HTTP/1.1 request, built once so the load generator only writes bytes."""
    head = (f"POST /v1/events HTTP/1.1\r\nHost: {HOST}:{port}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return status, await reader.readexactly(int(value))
    raise RuntimeError("response without content-length")


def post_batches(port: int, requests: list[tuple[int, bytes]], *, clients: int, max_seconds: float) -> PostResult:
    """Send pre-built (events, request) pairs over `clients` keep-alive connections until done or out of time."""
    import orjson

    result = PostResult()
    pending = iter(requests)

    async def client(deadline: float) -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            for count, request in pending:
                if time.perf_counter() > deadline:
                    return
                sent = time.perf_counter()
                writer.write(request)
                status, body = await _read_response(reader)
                result.latencies_ms.append((time.perf_counter() - sent) * 1000)
                result.batches += 1
                result.events += count
                if status != 200:
                    result.failures.append((status, body[:300]))
                    continue
                reply = orjson.loads(body)
                result.accepted += reply["accepted"]
                result.duplicates += reply["duplicates"]
                result.rejected += len(reply["rejected"])
        finally:
            writer.close()

    async def run() -> None:
        start = time.perf_counter()
        await asyncio.gather(*(client(start + max_seconds) for _ in range(clients)))
        result.seconds = time.perf_counter() - start

    asyncio.run(run())
    return result


@dataclass
class IngestResult:
    posted: PostResult
    raw_runs: list[Rate]  # the baseline, run twice on fresh files
    stored: dict[str, int]  # rows per table after the run (warm-up included)
    warmup_events: int
    load: Load
    batches_built: int

    @property
    def raw(self) -> Rate:
        return max(self.raw_runs, key=lambda r: r.per_second)  # noise only ever slows a run down

    @property
    def rate(self) -> float:
        return self.posted.accepted / self.posted.seconds if self.posted.seconds else 0.0

    @property
    def ratio(self) -> float:
        return self.rate / self.raw.per_second if self.raw.per_second else 0.0

    @property
    def stored_events(self) -> int:
        """Event rows the measured run added."""
        return self.stored["events"] - self.warmup_events


def bench_ingest(work: Path, plan: Plan, profiler: Profiler) -> IngestResult:
    import orjson

    db = work / "ingest.db"
    url = f"sqlite:///{db}"
    tenant_id, key = create_tenant(url)
    campaign = "bench-ingest"
    warmup_batches = 2
    with Service.liveloop(url, work / "ingest-server.log") as server:
        now = time.time_ns() // 1_000_000
        starts_at = now - 2 * HOUR_MS  # reservations before it; joins and orders in the live, now
        codes = set_up_campaign(server, key, campaign, starts_at=starts_at, ends_at=now + 3650 * DAY_MS)
        stream = generate_events(plan.ingest_events + warmup_batches * BATCH, codes=codes, starts_at=starts_at,
                                 now=now)
        requests = []
        for i in range(0, len(stream), BATCH):
            chunk = stream[i:i + BATCH]
            body = orjson.dumps({"events": [api_event(ev, campaign) for ev in chunk]})
            requests.append((len(chunk), post_request(server.port, key, body)))
        warm = post_batches(server.port, requests[:warmup_batches], clients=1, max_seconds=60)
        if warm.failures or warm.accepted != warm.events:
            raise RuntimeError(f"ingestion warm-up failed: {warm.failures[:1]}, {warm.accepted} of {warm.events} "
                               f"accepted (server log: {server.log})")
        with metered(server) as load, profiler.attach(server.pid, "ingestion", plan.ingest_max_seconds):
            posted = post_batches(server.port, requests[warmup_batches:], clients=plan.clients,
                                  max_seconds=plan.ingest_max_seconds)
    stored = {table: count_rows(db, f"SELECT count(*) FROM {table}")
              for table in ("events", "users", "rewards", "reward_changes")}
    # The baseline inserts the very rows liveloop stored (warm-up included), so both tables end the same size.
    sent = warm.events + posted.events
    rows = [event_row(ev, tenant_id=tenant_id, campaign_id=campaign, received_at=now) for ev in stream[:sent]]
    raw_runs = [raw_sqlite_inserts(work / f"raw-{i}.db", rows) for i in range(2)]
    return IngestResult(posted, raw_runs, stored, warm.accepted, load, len(requests) - warmup_batches)


# -- the report ------------------------------------------------------------------------------

def machine() -> dict[str, str]:
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        cpuinfo = ""
    model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if ln.startswith("model name")),
                 platform.processor() or "unknown")
    wrk = shutil.which("wrk")
    wrk_version = ""
    if wrk:
        wrk_version = subprocess.run([wrk, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
        wrk_version = wrk_version.split(" Copyright")[0].strip()
    import uvicorn

    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": model,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "uvicorn": uvicorn.__version__,
        "wrk": wrk_version or "not installed",
    }


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def rows_of(share: ShareResult | None, ingest: IngestResult | None) -> list[tuple[str, str, str, str, str, str]]:
    """(figure, liveloop, baseline, ratio, target, verdict) for each figure measured."""
    rows = []
    if share is not None:
        lv, base = share.liveloop, share.bare
        rows.append(("share link: requests/s", f"{share.rate(lv):,.0f}", f"{share.rate(base):,.0f} (bare ASGI 302)",
                     f"{share.ratio:.2f}", f">= {SHARE_RATIO_TARGET}", _verdict(share.ratio >= SHARE_RATIO_TARGET)))
        p99 = share.p99(lv)
        rows.append((f"share link: p99 latency @{CONNECTIONS} conns", f"{p99:.2f} ms", f"{share.p99(base):.2f} ms",
                     "", f"< {SHARE_P99_TARGET_MS:g} ms", _verdict(p99 < SHARE_P99_TARGET_MS)))
        rows.append((f"share link: p50 latency @{CONNECTIONS} conns", f"{share.p50(lv):.2f} ms",
                     f"{share.p50(base):.2f} ms", "", "", ""))
        extra = share.clicks - share.requests
        errors = sum(sum(r.errors.values()) for r in lv)
        ok = 0 <= extra <= CONNECTIONS * len(lv) and errors == 0
        rows.append(("share link: click rows vs wrk responses", f"{share.clicks:,} clicks",
                     f"{share.requests:,} responses", f"{share.clicks / share.requests:.4f}" if share.requests else "",
                     f"equal (+ <= {CONNECTIONS} in flight per run)", _verdict(ok)))
    if ingest is not None:
        rows.append((f"ingestion: events/s (batches of {BATCH})", f"{ingest.rate:,.0f}",
                     f"{ingest.raw.per_second:,.0f} rows/s (raw sqlite3)", f"{ingest.ratio:.3f}",
                     f">= {INGEST_RATIO_TARGET}", _verdict(ingest.ratio >= INGEST_RATIO_TARGET)))
        rows.append(("ingestion: absolute events/s", f"{ingest.rate:,.0f}", "", "", f">= {INGEST_RATE_TARGET:,}",
                     _verdict(ingest.rate >= INGEST_RATE_TARGET)))
        lat = ingest.posted.latencies_ms
        rows.append(("ingestion: batch latency p50 / p99", f"{percentile(lat, 50):.0f} / {percentile(lat, 99):.0f} ms",
                     "", "", "", ""))
        p = ingest.posted
        ok = (not p.failures and p.accepted == p.events and p.duplicates == 0 and p.rejected == 0
              and ingest.stored_events == p.accepted)
        rows.append(("ingestion: event rows vs accepted", f"{ingest.stored_events:,} rows",
                     f"{p.accepted:,} accepted of {p.events:,} sent", "", "equal, none rejected", _verdict(ok)))
    return rows


def notes_of(share: ShareResult | None, ingest: IngestResult | None, plan: Plan) -> list[str]:
    notes = []
    if share is not None:
        lv, base = share.liveloop, share.bare
        ll, bl = share.liveloop_load, share.bare_load
        rounds = ", ".join(f"{a.rps:,.0f} / {b.rps:,.0f}" for a, b in zip(lv, base, strict=True))
        notes.append(
            f"Share link: `wrk -t1 -c{CONNECTIONS} -d{plan.share_seconds}s --latency` with one Lua script cycling "
            f"through {INVITES} invite codes (each request with one of {len(AGENTS)} phone browsers' User-Agents), "
            f"{plan.share_rounds} rounds alternating bare app / liveloop after a "
            f"{plan.warmup_seconds} s warm-up of each; requests/s per round (liveloop / bare): {rounds}; p99 is the "
            f"worst round's, p50 the median round's. CPU in cores (server / wrk / other processes on the machine): "
            f"liveloop {ll.cores(ll.server)} / {ll.cores(ll.generator)} / {ll.cores(ll.others)}, bare "
            f"{bl.cores(bl.server)} / {bl.cores(bl.generator)} / {bl.cores(bl.others)}. wrk errors: liveloop "
            f"{_errors(lv)}, bare {_errors(base)}. Click rows are counted with sqlite3 after the server stopped.")
    if ingest is not None:
        p, load, stored = ingest.posted, ingest.load, ingest.stored
        raws = ", ".join(f"{r.per_second:,.0f}" for r in ingest.raw_runs)
        notes.append(
            f"Ingestion: {p.events:,} events in {p.batches:,} POSTs of {BATCH} over {plan.clients} keep-alive "
            f"connections in {p.seconds:.1f} s (cap {plan.ingest_max_seconds:g} s, {ingest.batches_built:,} batches "
            f"pre-built); campaign rules: double-sided reservation_referral (capped at 50), milestones on "
            f"reservations and joins, order_commission with a 7-day hold, budget. Rows in the database afterwards: "
            f"{', '.join(f'{t} {n:,}' for t, n in stored.items())}. CPU in cores (server / load generator / other "
            f"processes): {load.cores(load.server)} / {load.cores(load.generator)} / {load.cores(load.others)}. "
            f"Raw baseline (best of 2 runs: {raws} rows/s): {ingest.raw.count:,} rows, one transaction per "
            f"{BATCH}, pragmas {ingest.raw.detail.get('pragmas')} (synchronous 1 = NORMAL).")
    notes.append("The load generators (wrk; this process for ingestion, sending pre-built requests on raw asyncio "
                 "sockets) run on the same machine as the servers and take CPU from them; on a 2-core machine "
                 "that matters. The ratios are the figures to compare across machines.")
    loads = [x for x in ((share.liveloop_load, share.bare_load) if share else ()) + ((ingest.load,) if ingest else ())]
    busiest = max((x.others / x.seconds for x in loads if x.seconds), default=0.0)
    if busiest > 0.2:
        notes.append(f"WARNING: other processes used up to {busiest:.2f} cores during a measured run; "
                     "the figures of this run are disturbed. Run again on a quiet machine.")
    return notes


def _errors(runs: list[WrkResult]) -> str:
    total: dict[str, int] = {}
    for run in runs:
        for name, count in run.errors.items():
            total[name] = total.get(name, 0) + count
    return ", ".join(f"{k} {v}" for k, v in total.items() if v) or "none"


def print_report(rows, notes, info: dict[str, str], plan: Plan) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"liveloop bench ({plan.name})")
    for name in ("figure", "liveloop", "baseline", "ratio", "target", "verdict"):
        table.add_column(name, justify="left" if name in ("figure", "baseline", "target") else "right")
    for row in rows:
        style = "red" if row[5] == "NOT met" else ("green" if row[5] == "met" else None)
        table.add_row(*row[:5], f"[{style}]{row[5]}[/]" if style else row[5])
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)  # a log or a pipe: no wrapping of the table
    console.print(table)
    for note in notes:
        console.print(f"- {note}", highlight=False)
    console.print(f"machine: {info['nproc']} x {info['cpu']}, {info['python']}, SQLite {info['sqlite']}, "
                  f"{info['wrk']}", highlight=False)


def markdown(rows, notes, info: dict[str, str], plan: Plan, command: str, when: str) -> str:
    lines = [
        _RESULTS_START,
        "<!-- written by `make bench` (bench/hotpaths.py); everything between these markers is replaced "
        "on each run -->",
        "",
        f"Measured {when} with `{command}` ({plan.name} run).",
        "",
        "| machine | |",
        "|---|---|",
        f"| CPUs (nproc) | {info['nproc']} |",
        f"| CPU model | {info['cpu']} |",
        f"| Python | {info['python']} |",
        f"| OS | {info['os']} |",
        f"| SQLite | {info['sqlite']} |",
        f"| uvicorn | {info['uvicorn']} (loop=auto: uvloop, http=auto: httptools) |",
        f"| load generator | {info['wrk']} (share link); raw asyncio sockets in the bench process (ingestion) |",
        "",
        "| figure | liveloop | baseline | ratio | target | verdict |",
        "|---|---|---|---|---|---|",
        *(f"| {' | '.join(cell or ' ' for cell in row)} |" for row in rows),
        "",
        *(f"- {note}" for note in notes),
        _RESULTS_END,
    ]
    return "\n".join(lines)


def write_markdown(path: Path, results: str) -> None:
    """Replace the results block of `path`, keeping what people wrote around it."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        text = ""
    if _RESULTS_START in text and _RESULTS_END in text:
        head, rest = text.split(_RESULTS_START, 1)
        tail = rest.split(_RESULTS_END, 1)[1]
        text = head + results + tail
    else:
        text = ("# Benchmarks\n\nSPEC.md section 8, measured by `make bench` as ratios against baselines measured "
                "in the same run on the same machine.\n\n" + results + "\n" + (f"\n{text}" if text else ""))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
