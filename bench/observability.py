"""What metrics and JSON request logs cost the hot paths (issue 19: under 5 % of throughput).

Two servers run side by side, each on its own copy of one prepared SQLite database:

- "off": `liveloop serve` without observability: no request layer (no request id, no request
  counts, no request lines), every prometheus-client increment, observation and gauge change made a
  no-op (this module's `serve` entry point, run as `python -m bench.observability serve ...`), and
  the log at `warning`;
- "on": `liveloop serve` as deployed: metrics collected (and scraped once per round, with the
  token), one JSON request line per request at `info`, written to a file.

They are loaded in alternating rounds with the same load: share links by wrk as in
`bench/hotpaths.py`, each round on a fresh pair of servers and fresh copies of the database, off
first in one round and on first in the next (`bench_share` says why); ingestion by the same round
of pre-built batches of 500 to each server, both kept for the run, so both databases grow alike
and round i of one compares with round i of the other. The figures are the medians of the rounds
and the ratio on / off; the spread of the per-round ratios is reported beside them, since the
machine is shared with other people's work. The server's CPU time
per request (or per event) is given too: it is less sensitive to the neighbours than throughput.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from bench.hotpaths import (
    BATCH,
    BIN,
    CONNECTIONS,
    DAY_MS,
    HOUR_MS,
    Load,
    Service,
    WrkResult,
    api_event,
    count_rows,
    create_tenant,
    free_port,
    generate_events,
    metered,
    post_batches,
    post_request,
    run_wrk,
    set_up_campaign,
    share_script,
)

TARGET = 0.95  # issue 19: observability costs under 5 % of throughput
TOKEN = "bench-metrics-token"
MODES = ("off", "on")
# Both servers take no campaign snapshots: under this load each would take one every 30 s in a child
# process that imports liveloop and loads the whole campaign, seconds of the machine's CPU landing on
# whichever round is running (seen: five servers side by side fell to a third of their rate while
# their children ran), a cost that is not observability's.
_BOTH = {"LIVELOOP_SNAPSHOT_EVERY_EVENTS": "0"}
ENV = {
    "off": {**_BOTH, "LIVELOOP_LOG_LEVEL": "warning", "LIVELOOP_LOG_FORMAT": "text", "LIVELOOP_ACCESS_LOG": "false"},
    "on": {**_BOTH, "LIVELOOP_LOG_LEVEL": "info", "LIVELOOP_LOG_FORMAT": "json", "LIVELOOP_ACCESS_LOG": "true",
           "LIVELOOP_METRICS_TOKEN": TOKEN},
}


@dataclass(frozen=True)
class ObsPlan:
    name: str
    rounds: int  # of each mode, alternating
    share_seconds: int
    warmup_seconds: int
    events_per_round: int  # a multiple of BATCH
    invites: int = 1000
    clients: int = 4


FULL = ObsPlan("full", rounds=7, share_seconds=5, warmup_seconds=2, events_per_round=30_000)
QUICK = ObsPlan("quick", rounds=3, share_seconds=2, warmup_seconds=1, events_per_round=10_000)


@dataclass
class Round:
    mode: str
    index: int
    rate: float  # requests/s or events/s
    count: int  # requests answered or events accepted
    load: Load
    loop_seconds: float = 0.0  # CPU time of the server's main thread, which runs the event loop

    @property
    def cpu_us(self) -> float:
        """Server CPU time per request or event, in microseconds (all its threads)."""
        return self.load.server / self.count * 1e6 if self.count else 0.0

    @property
    def loop_us(self) -> float:
        """Event-loop CPU time per request or event, in microseconds: what bounds the throughput."""
        return self.loop_seconds / self.count * 1e6 if self.count else 0.0

    @property
    def others(self) -> float:
        return self.load.others / self.load.seconds if self.load.seconds else 0.0


@dataclass
class Section:
    """One hot path measured off and on: its rounds, and what was counted to check both did their work."""

    name: str
    unit: str
    rounds: list[Round] = field(default_factory=list)
    checks: dict[str, int] = field(default_factory=dict)

    def of(self, mode: str) -> list[Round]:
        return [r for r in self.rounds if r.mode == mode]

    def median(self, mode: str, what: str = "rate") -> float:
        return statistics.median(getattr(r, what) for r in self.of(mode))

    def ratio(self, what: str = "rate") -> float:
        off = self.median("off", what)
        return self.median("on", what) / off if off else 0.0

    def pair_ratios(self) -> list[float]:
        """on / off of each round: round i of one against round i of the other."""
        return [on.rate / off.rate for off, on in zip(self.of("off"), self.of("on"), strict=True) if off.rate]


@dataclass
class ObservabilityResult:
    plan: ObsPlan
    share: Section | None = None
    ingest: Section | None = None


def loop_cpu(pid: int) -> float:
    """User + system CPU time of a process's main thread (the event loop; the writer has its own)."""
    fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the servers -----------------------------------------------------------------------------

def server(mode: str, database_url: str, log: Path) -> Service:
    port = free_port()
    if mode == "off":
        argv = [sys.executable, "-m", "bench.observability", "serve"]
    else:
        argv = [str(BIN / "liveloop"), "serve"]
    service = Service([*argv, "--database-url", database_url, "--port", str(port), "--no-migrate"], port, log,
                      "/healthz")
    service.extra_env = ENV[mode]
    return service


def serve(argv: list[str]) -> None:
    """`liveloop serve` with observability off: no request layer and every metric change a no-op."""
    import prometheus_client.metrics as prometheus

    from liveloop import cli
    from liveloop.ops import server as ops_server

    def nothing(*_args, **_kwargs) -> None:
        return None

    for kind, names in ((prometheus.Counter, ("inc",)), (prometheus.Gauge, ("inc", "dec", "set")),
                        (prometheus.Histogram, ("observe",))):
        for name in names:
            setattr(kind, name, nothing)
    ops_server.Requests = lambda app, **_options: app  # no request id, no request counts, no request lines
    # The share links the HTTP protocol answers itself: without the request layer either.
    direct = ops_server.DirectAnswers

    def unobserved(answer_now, under, _requests, client_of):
        return direct(answer_now, under, None, client_of)

    ops_server.DirectAnswers = unobserved
    cli.app(["serve", *argv], prog_name="liveloop")


def prepare(work: Path, name: str, *, invites: int, starts_at: int, ends_at: int) -> tuple[str, str, list[str]]:
    """A database with a tenant, the bench's campaign and its invite codes, copied once per mode:
    (tenant id, API key, codes)."""
    template = work / f"{name}-template.db"
    url = f"sqlite:///{template}"
    tenant_id, key = create_tenant(url)
    with Service.liveloop(url, work / f"{name}-setup.log") as setup:
        codes = set_up_campaign(setup, key, f"bench-{name}", starts_at=starts_at, ends_at=ends_at, invites=invites)
    conn = sqlite3.connect(template)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    for mode in MODES:
        shutil.copyfile(template, work / f"{name}-{mode}.db")
    return tenant_id, key, codes


def scrape(service: Service, route: str) -> int:
    """Answers to `route` that the server's /metrics counted."""
    import httpx

    text = httpx.get(f"{service.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30).text
    prefix = f'liveloop_responses_total{{route="{route}",'
    return int(sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix)))


def request_lines(log: Path, route: str) -> int:
    """JSON request lines for `route` in a server's log."""
    count = 0
    with open(log, "rb") as lines:
        for line in lines:
            if line.startswith(b"{") and b'"liveloop.request"' in line and orjson.loads(line)["route"] == route:
                count += 1
    return count


# -- the two hot paths -----------------------------------------------------------------------

def bench_share(work: Path, wrk: str, plan: ObsPlan) -> Section:
    """Each round starts a fresh pair of servers, each on a fresh copy of the prepared database.

    A server kept for the whole run biases every round the same way: some processes run a few %
    faster or slower for their whole life (seen: a run whose "off" server was faster throughout gave
    every round under the others' median). Fresh copies of the database keep the rounds alike: a server
    started on a database that earlier rounds filled with clicks would still be loading its campaign
    (replaying every click) during its round. The order alternates from round to round (off first, then
    on first), so that neither mode always follows the other.
    """
    now = time.time_ns() // 1_000_000
    _tenant, _key, codes = prepare(work, "share", invites=plan.invites, starts_at=now + 7 * DAY_MS,
                                   ends_at=now + 3650 * DAY_MS)
    script = work / "observability-share.lua"
    script.write_text(share_script(codes))
    wrk_log = work / "observability-wrk.log"
    section = Section("share link", "requests/s")
    clicks_sql = "SELECT count(*) FROM events WHERE type = 'click'"
    logs = {mode: work / f"share-{mode}-server.log" for mode in MODES}
    counted_on = 0
    clicks = {mode: 0 for mode in MODES}
    warmed = {mode: 0 for mode in MODES}  # answered during the warm-ups, also logged and recorded
    for index in range(plan.rounds):
        databases = {mode: work / f"share-{mode}-round{index + 1}.db" for mode in MODES}
        for mode in MODES:
            shutil.copyfile(work / f"share-{mode}.db", databases[mode])
        servers = {mode: server(mode, f"sqlite:///{databases[mode]}", logs[mode]) for mode in MODES}
        with servers["off"] as off, servers["on"] as on:
            started = {"off": off, "on": on}
            for mode, target in started.items():  # loads the campaign and warms the process before its round
                warmed[mode] += run_wrk(wrk, target.url, script, connections=CONNECTIONS, seconds=plan.warmup_seconds,
                                        log=wrk_log).requests
            counted_before = scrape(on, "/s/{code}")
            order = MODES if index % 2 == 0 else MODES[::-1]
            for mode in order:
                target = started[mode]
                loop0 = loop_cpu(target.pid)
                with metered(target) as load:
                    run: WrkResult = run_wrk(wrk, target.url, script, connections=CONNECTIONS,
                                             seconds=plan.share_seconds, log=wrk_log)
                section.rounds.append(Round(mode, index, run.rps, run.requests, load, loop_cpu(target.pid) - loop0))
                if sum(run.errors.values()):
                    raise RuntimeError(f"wrk errors against the {mode} server: {run.errors} (log: {wrk_log})")
            counted_on += scrape(on, "/s/{code}") - counted_before
        for mode in MODES:
            clicks[mode] += count_rows(databases[mode], clicks_sql)
            for leftover in databases[mode].parent.glob(databases[mode].name + "*"):
                leftover.unlink()
    answered = {mode: sum(r.count for r in section.of(mode)) for mode in MODES}
    section.checks.update({
        "counted by /metrics (on)": counted_on,
        "answered (on)": answered["on"], "answered (off)": answered["off"],
        "answered in warm-ups (on)": warmed["on"], "answered in warm-ups (off)": warmed["off"],
        "wrk runs (each)": 2 * plan.rounds,
        "request lines (on)": request_lines(logs["on"], "/s/{code}"),
        "request lines (off)": request_lines(logs["off"], "/s/{code}"),
        "click rows (on)": clicks["on"],
        "click rows (off)": clicks["off"],
    })
    return section


def bench_ingest(work: Path, plan: ObsPlan) -> Section:
    now = time.time_ns() // 1_000_000
    starts_at = now - 2 * HOUR_MS
    _tenant, key, codes = prepare(work, "ingest", invites=plan.invites, starts_at=starts_at,
                                  ends_at=now + 3650 * DAY_MS)
    campaign = "bench-ingest"
    warmup = 2
    per_round = plan.events_per_round // BATCH
    stream = generate_events((warmup + plan.rounds * per_round) * BATCH, codes=codes, starts_at=starts_at, now=now)
    bodies = [orjson.dumps({"events": [api_event(ev, campaign) for ev in stream[i:i + BATCH]]})
              for i in range(0, len(stream), BATCH)]
    section = Section("ingestion", "events/s")
    logs = {mode: work / f"ingest-{mode}-server.log" for mode in MODES}
    servers = {mode: server(mode, f"sqlite:///{work / f'ingest-{mode}.db'}", logs[mode]) for mode in MODES}
    with servers["off"] as off, servers["on"] as on:
        for target in (off, on):
            warm = post_batches(target.port, [(BATCH, post_request(target.port, key, b)) for b in bodies[:warmup]],
                                clients=1, max_seconds=120)
            if warm.failures or warm.accepted != warm.events:
                raise RuntimeError(f"ingestion warm-up failed: {warm.failures[:1]} (log: {target.log})")
        counted_before = scrape(on, "/v1/events")
        for index in range(plan.rounds):
            chunk = bodies[warmup + index * per_round:warmup + (index + 1) * per_round]
            for mode, target in (("off", off), ("on", on)):
                requests = [(BATCH, post_request(target.port, key, body)) for body in chunk]
                loop0 = loop_cpu(target.pid)
                with metered(target) as load:
                    posted = post_batches(target.port, requests, clients=plan.clients, max_seconds=600)
                loop = loop_cpu(target.pid) - loop0
                if posted.failures or posted.accepted != posted.events:
                    raise RuntimeError(f"ingestion ({mode}) failed: {posted.failures[:1]}, {posted.accepted} of "
                                       f"{posted.events} accepted (log: {target.log})")
                section.rounds.append(Round(mode, index, posted.accepted / posted.seconds, posted.accepted, load, loop))
            section.checks["counted by /metrics (on)"] = scrape(on, "/v1/events") - counted_before
    section.checks.update({
        "batches (each)": plan.rounds * per_round,
        "request lines (on)": request_lines(logs["on"], "/v1/events") - warmup,
        "request lines (off)": request_lines(logs["off"], "/v1/events"),
        "event rows (on)": count_rows(work / "ingest-on.db", "SELECT count(*) FROM events"),
        "event rows (off)": count_rows(work / "ingest-off.db", "SELECT count(*) FROM events"),
    })
    return section


def bench_observability(work: Path, plan: ObsPlan, wrk: str | None) -> ObservabilityResult:
    result = ObservabilityResult(plan)
    if wrk is not None:
        print(f"observability: share link, {plan.rounds} rounds of off / on ...", flush=True)
        result.share = bench_share(work, wrk, plan)
    print(f"observability: ingestion, {plan.rounds} rounds of off / on ...", flush=True)
    result.ingest = bench_ingest(work, plan)
    return result


# -- the report ------------------------------------------------------------------------------

def _complete(section: Section) -> bool:
    """Each server did its work: every answer counted and logged by "on", nothing logged by "off".

    Share link: wrk counts the answers it read; when it stops, up to one request per connection may have
    been answered (logged, recorded) without being read, hence the slack of CONNECTIONS per wrk run."""
    c = section.checks
    if section.name == "share link":
        slack = CONNECTIONS * c["wrk runs (each)"]

        def within(value: int, answered: int) -> bool:
            return answered <= value <= answered + slack

        everything = {mode: c[f"answered ({mode})"] + c[f"answered in warm-ups ({mode})"] for mode in MODES}
        return (c["request lines (off)"] == 0 and within(c["request lines (on)"], everything["on"])
                and within(c["counted by /metrics (on)"], c["answered (on)"])
                and within(c["click rows (on)"], everything["on"]) and within(c["click rows (off)"], everything["off"]))
    return (c["request lines (off)"] == 0 and c["request lines (on)"] == c["batches (each)"]
            and c["counted by /metrics (on)"] == c["batches (each)"] and c["event rows (on)"] == c["event rows (off)"])


def rows_of(result: ObservabilityResult) -> list[tuple[str, str, str, str]]:
    """(figure, measured, target, verdict)."""
    rows = []
    for section in (result.share, result.ingest):
        if section is None:
            continue
        ratio = section.ratio()
        pairs = section.pair_ratios()
        rows.append((f"{section.name} with metrics + JSON logs: {section.unit}, median on / off",
                     f"{section.median('on'):,.0f} / {section.median('off'):,.0f} = {ratio:.3f} "
                     f"(rounds {min(pairs):.3f} to {max(pairs):.3f})", f">= {TARGET}",
                     "met" if ratio >= TARGET else "NOT met"))
        per = "request" if section.name == "share link" else "event"
        for what, name in (("loop_us", "event-loop CPU"), ("cpu_us", "server CPU (all threads)")):
            rows.append((f"{section.name}: {name} per {per}, median on / off",
                         f"{section.median('on', what):.1f} / {section.median('off', what):.1f} µs = "
                         f"{section.ratio(what):.3f}", "", ""))
        checks = ", ".join(f"{name} {value:,}" for name, value in section.checks.items())
        rows.append((f"{section.name}: answers logged and counted", checks, "all (on), none logged (off)",
                     "met" if _complete(section) else "NOT met"))
    return rows


def notes_of(result: ObservabilityResult) -> list[str]:
    plan = result.plan
    notes = []
    for section in (result.share, result.ingest):
        if section is None:
            continue
        rounds = ", ".join(f"{off.rate:,.0f} / {on.rate:,.0f}"
                           for off, on in zip(section.of("off"), section.of("on"), strict=True))
        busiest = max(r.others for r in section.rounds)
        if section.name == "share link":
            how = (f"`wrk -t1 -c{CONNECTIONS} -d{plan.share_seconds}s` cycling through {plan.invites} invite codes; "
                   f"each round a fresh pair of servers on fresh copies of the prepared database, each warmed up "
                   f"for {plan.warmup_seconds} s, measured off first in odd rounds and on first in even ones")
        else:
            how = (f"alternating off / on, {plan.events_per_round:,} events per round in POSTs of {BATCH} over "
                   f"{plan.clients} keep-alive "
                   f"connections, the same batches to both servers (each on its own copy of the database, which grow "
                   f"alike), after 2 warm-up batches")
        notes.append(f"{section.name.capitalize()}: {plan.rounds} rounds of each; {how}. "
                     f"{section.unit} per round (off / on): {rounds}. Other processes on the machine used up to "
                     f"{busiest:.2f} cores during a round.")
    notes.append("Off: `liveloop serve` without the request layer (no request id, no request counts or lines) and "
                 "with every prometheus-client change a no-op (bench/observability.py `serve`), log at warning. On: "
                 "`liveloop serve` with LIVELOOP_LOG_FORMAT=json, LIVELOOP_LOG_LEVEL=info (one line per request, "
                 "written to a file) and /metrics scraped with its token between rounds. Both on SQLite, without "
                 "campaign snapshots (LIVELOOP_SNAPSHOT_EVERY_EVENTS=0: not observability's cost, and noise), on the "
                 "same 2-core machine as the load generators.")
    notes.append("The machine is shared: a neighbour's burst during one round moves that round's figure by more than "
                 "the cost measured here, which is why rounds alternate and medians are compared; the per-round "
                 "ratios show the spread. CPU per request or event counts the server's own CPU time only.")
    return notes


def markdown(result: ObservabilityResult, rows, notes, command: str, when: str) -> str:
    from bench.hotpaths import machine

    info = machine()
    return "\n".join([
        "<!-- bench:observability:start -->",
        "<!-- written by `make bench` (bench/observability.py); everything between these markers is replaced "
        "when this benchmark runs again -->",
        "",
        "### Metrics and JSON logs (issue 19)",
        "",
        f"Measured {when} with `{command}` ({result.plan.name} run) on {info['nproc']} x {info['cpu']}, "
        f"{info['python']}.",
        "",
        "| figure | measured | target | verdict |",
        "|---|---|---|---|",
        *(f"| {' | '.join(cell or ' ' for cell in row)} |" for row in rows),
        "",
        *(f"- {note}" for note in notes),
        "<!-- bench:observability:end -->",
    ])


def report(result: ObservabilityResult, *, output: Path | None, command: str, when: str) -> list[tuple[str, ...]]:
    from bench.live import print_live, write_live_markdown

    rows, notes = rows_of(result), notes_of(result)
    print_live(rows, notes)
    if output is not None:
        write_live_markdown(output, "observability", markdown(result, rows, notes, command, when))
        print(f"wrote {output}")
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] != ["serve"]:
        raise SystemExit("usage: python -m bench.observability serve [liveloop serve options]")
    serve(sys.argv[2:])
