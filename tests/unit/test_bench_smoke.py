"""`make bench`'s own parts on a small scale: the event stream, the raw SQLite baseline, and the observability
section with tiny sizes (its servers and wrk)."""

from __future__ import annotations

import sqlite3
from collections import Counter
from types import SimpleNamespace

import pytest

from bench import hotpaths as bench
from liveloop.events.models import events
from liveloop.events.validate import parse_event

NOW = 1_900_000_000_000
STARTS_AT = NOW - 2 * bench.HOUR_MS
CODES = [f"code{i:03d}" for i in range(20)]


def _rows(count: int) -> list[dict]:
    stream = bench.generate_events(count, codes=CODES, starts_at=STARTS_AT, now=NOW)
    return [bench.event_row(ev, tenant_id="tn_bench", campaign_id="c1", received_at=NOW) for ev in stream]


def test_rows_have_exactly_the_columns_of_the_events_table():
    columns = {c.name for c in events.columns} - {"seq"}  # seq is the autoincrement key
    rows = _rows(2_000)

    assert len(rows) == 2_000
    assert set(bench.EVENT_COLUMNS) == columns
    assert all(set(row) == columns for row in rows)
    assert len({row["id"] for row in rows}) == len(rows)


def test_the_stream_is_a_realistic_mix():
    rows = _rows(2_000)
    by_viewer: dict[str, Counter] = {}
    for row in rows:
        by_viewer.setdefault(row["user_id"], Counter())[row["type"]] += 1
    viewers = list(by_viewer.values())[:-1]  # the last viewer may be cut short by the count
    reservations = [row for row in rows if row["type"] == "reservation"]

    # Each viewer reserves once, joins at most once, and orders at most once, only after joining.
    assert all(v["reservation"] == 1 and v["room_join"] <= 1 and v["order_paid"] <= v["room_join"] for v in viewers)
    # The proportions the generator promises (nine in ten through a code, three in four join, a quarter
    # of those order), within about four standard deviations.
    referred = sum(row["ref"] is not None for row in reservations) / len(reservations)
    joined = sum(v["room_join"] for v in viewers) / len(viewers)
    ordered = sum(v["order_paid"] for v in viewers) / sum(v["room_join"] for v in viewers)
    assert abs(referred - 0.9) < 0.035 and abs(joined - 0.75) < 0.05 and abs(ordered - 0.25) < 0.06
    assert {row["ref"] for row in reservations} - {None} <= set(CODES)
    # Reservations count before the live starts, joins and orders during it.
    assert all(row["at"] < STARTS_AT for row in rows if row["type"] == "reservation")
    assert all(STARTS_AT <= row["at"] <= NOW for row in rows if row["type"] != "reservation")
    assert all(500 <= row["amount"] < 25_000 and row["currency"] == bench.CURRENCY
               for row in rows if row["type"] == "order_paid")


def test_posted_events_parse_to_the_rows_the_baseline_inserts():
    # The baseline must insert what liveloop would store for the same events.
    stream = bench.generate_events(300, codes=CODES, starts_at=STARTS_AT, now=NOW)
    for ev in stream:
        inp, parsed = parse_event(bench.api_event(ev, "c1"), now=NOW, future_tolerance_ms=5 * 60_000)
        row = bench.event_row(ev, tenant_id="tn_bench", campaign_id="c1", received_at=NOW)
        assert (inp.campaign_id, parsed.id, parsed.type, parsed.user_id, parsed.at, parsed.ref, inp.device_id,
                inp.ip, parsed.order_id, parsed.amount, parsed.currency) == (
            row["campaign_id"], row["id"], row["type"], row["user_id"], row["at"], row["ref"], row["device_id"],
            row["ip"], row["order_id"], row["amount"], row["currency"])


def test_raw_sqlite_baseline_stores_every_row_with_the_server_pragmas(tmp_path, monkeypatch):
    rows = _rows(1_200)

    # The bench's clock, read before the first batch and after the last.
    ticks = iter([100.0, 102.5])
    monkeypatch.setattr(bench, "time", SimpleNamespace(perf_counter=lambda: next(ticks)))
    rate = bench.raw_sqlite_inserts(tmp_path / "raw.db", rows, batch=500)

    assert (rate.count, rate.seconds, rate.per_second) == (1_200, 2.5, 480.0)
    assert rate.detail["pragmas"] == {"journal_mode": "wal", "synchronous": 1}
    with sqlite3.connect(tmp_path / "raw.db") as conn:
        stored = conn.execute("SELECT count(*), count(DISTINCT id), sum(type = 'order_paid') FROM events").fetchone()
    assert stored == (1_200, 1_200, sum(row["type"] == "order_paid" for row in rows))


def test_the_report_keeps_what_people_wrote_around_the_results(tmp_path):
    def results(note: str) -> str:
        info = dict.fromkeys(("nproc", "cpu", "python", "os", "sqlite", "uvicorn", "wrk"), "?")
        return bench.markdown([("share link", "1", "2", "0.5", ">= 0.3", "met")], [note], info, bench.QUICK,
                              "make bench", "today")

    path = tmp_path / "benchmarks.md"
    bench.write_markdown(path, results("old figures"))
    path.write_text(path.read_text() + "\n## Where the time goes\n\nhand-written analysis\n")

    bench.write_markdown(path, results("new figures"))

    text = path.read_text()
    assert text.count("new figures") == 1
    assert "old figures" not in text
    assert text.endswith("\n## Where the time goes\n\nhand-written analysis\n")


def test_the_circle_leaderboard_bench_runs_through_the_engine_and_the_circle_part_alone(tmp_path):
    from bench.circles import CirclesPlan, bench_circles, circles_notes, circles_rows
    from bench.live import LIVE_QUICK, live_markdown, write_live_markdown

    result = bench_circles(circles=500, seconds=0.2)
    for run in (result.engine, result.alone):
        assert run.ticks > 0 and run.updates > 0 and len(run.top_ns) == run.ticks == len(run.rank_ns)
    rows = circles_rows(result)
    assert len(rows) == 10 and "500 circles" in rows[0][0]
    out = tmp_path / "benchmarks.md"
    write_live_markdown(out, "circles", live_markdown("circles", "Circles", rows,
                                                      circles_notes(result, CirclesPlan("t", 500, 0.2)),
                                                      LIVE_QUICK, "make bench", "now"))
    assert "<!-- bench:circles:start -->" in out.read_text() and "circle part alone" in out.read_text()


def test_the_observability_section_runs_both_servers_alternately_and_checks_their_work(tmp_path):
    # Tiny sizes, real servers: each round of each mode is run, "on" logs and counts every answer,
    # "off" logs none, and the report block is written. Timing is make bench's business, not asserted.
    import shutil

    from bench import observability

    wrk = shutil.which("wrk")
    if wrk is None:
        pytest.skip("wrk is not installed (apt-get install wrk; .ci/run installs it)")
    plan = observability.ObsPlan("tiny", rounds=2, share_seconds=1, warmup_seconds=1, events_per_round=1_000,
                                 invites=20, clients=2)
    result = observability.bench_observability(tmp_path, plan, wrk)

    # The share link's rounds alternate which mode goes first (each round a fresh pair of servers).
    assert [(r.mode, r.index) for r in result.share.rounds] == [("off", 0), ("on", 0), ("on", 1), ("off", 1)]
    assert [(r.mode, r.index) for r in result.ingest.rounds] == [("off", 0), ("on", 0), ("off", 1), ("on", 1)]
    for section in (result.share, result.ingest):
        assert all(r.count > 0 and r.rate > 0 for r in section.rounds)
        assert len(section.pair_ratios()) == 2
    assert result.ingest.checks["request lines (on)"] == result.ingest.checks["batches (each)"] == 4
    assert result.ingest.checks["request lines (off)"] == result.share.checks["request lines (off)"] == 0
    rows = observability.rows_of(result)
    assert [row[3] for row in rows if "logged and counted" in row[0]] == ["met", "met"]
    output = tmp_path / "benchmarks.md"
    output.write_text("# Benchmarks\n\n<!-- bench:results:start -->\n<!-- bench:results:end -->\n\nhand-written\n")
    observability.report(result, output=output, command="make bench", when="today")
    text = output.read_text()
    assert text.count("<!-- bench:observability:start -->") == 1 and text.endswith("hand-written\n")
    assert "Metrics and JSON logs (issue 19)" in text


def test_the_share_link_check_fails_a_server_that_logged_or_recorded_too_little_or_too_much():
    # The counts include the warm-ups' answers, and allow one unread answer per connection per wrk run.
    from bench import observability

    def complete(**changed) -> bool:
        checks = {"counted by /metrics (on)": 1_000, "answered (on)": 1_000, "answered (off)": 1_100,
                  "answered in warm-ups (on)": 300, "answered in warm-ups (off)": 320, "wrk runs (each)": 4,
                  "request lines (on)": 1_310, "request lines (off)": 0, "click rows (on)": 1_300,
                  "click rows (off)": 1_420}
        section = observability.Section("share link", "requests/s", checks={**checks, **changed})
        return observability._complete(section)

    slack = observability.CONNECTIONS * 4
    assert complete()
    assert complete(**{"request lines (on)": 1_300 + slack, "click rows (off)": 1_420 + slack})
    assert not complete(**{"request lines (on)": 1_299})  # a warm-up's answer not logged
    assert not complete(**{"request lines (on)": 1_301 + slack})
    assert not complete(**{"click rows (on)": 1_000})  # only the measured answers recorded
    assert not complete(**{"click rows (off)": 1_419})
    assert not complete(**{"counted by /metrics (on)": 999})
    assert not complete(**{"request lines (off)": 1})


def test_the_redis_board_bench_reads_while_the_writer_writes_and_counts_only_what_reached_redis(monkeypatch):
    # bench-scaleout's leaderboard figure on a small board: the writer keeps to its schedule (exactly
    # seconds x rate entries, counted only once written to Redis), the reads fall in its window, and the
    # keys are gone afterwards.
    import redis

    from bench import scaleout
    from tests.support import redis_env

    url = redis_env()["LIVELOOP_REDIS_URL"]
    for name, value in (("BOARD_USERS", 5_000), ("BOARD_WRITES_PER_SECOND", 2_000), ("BOARD_WRITE_BATCH", 100),
                        ("BOARD_SECONDS", 1.0), ("BOARD_READS_PER_SECOND", 200.0)):
        monkeypatch.setattr(scaleout, name, value)
    with redis.Redis.from_url(url) as client:
        before = set(client.scan_iter("liveloop:lb:{tn_bench_*"))

        board = scaleout.redis_board(url)

        assert set(client.scan_iter("liveloop:lb:{tn_bench_*")) == before  # its board's keys are gone
    assert board["writes_per_second"] == 2_000  # 20 writes of 100 in 1 s, each acknowledged by Redis
    assert board["unanswered"] == 0
    assert 150 <= board["reads"] <= 201  # paced at 200 a second over the writer's second
    assert board["p50_ms"] <= board["p99_ms"]
