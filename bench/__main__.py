"""`make bench`: the hot paths of SPEC.md section 8, then the live room, each against its baseline or target."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench.circles import run_circles
from bench.coldstart import TARGET_SECONDS as COLDSTART_TARGET
from bench.coldstart import run_coldstart
from bench.fraud import bench_fraud
from bench.fraud import notes_of as fraud_notes
from bench.fraud import rows_of as fraud_rows
from bench.hotpaths import (
    FULL,
    QUICK,
    ROOT,
    Profiler,
    bench_ingest,
    bench_share,
    ensure_wrk,
    machine,
    markdown,
    notes_of,
    print_report,
    rows_of,
    serve_bare,
    write_markdown,
)
from bench.live import run_live
from bench.observability import FULL as OBS_FULL
from bench.observability import QUICK as OBS_QUICK
from bench.observability import bench_observability
from bench.observability import report as observability_report
from bench.webhooks import bench_webhooks
from bench.webhooks import notes_of as webhook_notes
from bench.webhooks import rows_of as webhook_rows


def default_output() -> Path:
    if (ROOT / "pyproject.toml").exists():
        return ROOT / "docs" / "benchmarks.md"
    return Path.cwd() / "docs" / "benchmarks.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="short runs (about 25 s), indicative only; writes no docs unless --output")
    parser.add_argument("--only", choices=("share", "ingest", "webhooks", "fraud", "leaderboard", "streams",
                                           "circles", "observability", "coldstart"),
                        help="run one benchmark (leaderboard and streams: bench/live.py; circles: a circle "
                        "leaderboard of 100,000 circles, bench/circles.py; observability: what metrics and JSON "
                        "logs cost, bench/observability.py; coldstart: a campaign of 1,000,000 logged events "
                        "restarted with and without a snapshot, bench/coldstart.py, not in a full run: it takes "
                        "several minutes)")
    parser.add_argument("--output", type=Path, help="markdown report to update (default: docs/benchmarks.md "
                        "for a full run of both benchmarks)")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="sample the servers with py-spy during the measured runs (collapsed stacks in DIR)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary databases and logs")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 when a target is not met")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return 0
    if args.only in ("leaderboard", "streams"):
        return _live_only(args, argv)
    if args.only == "circles":
        return _circles_only(args, argv)
    if args.only == "coldstart":
        output = args.output or (None if args.quick else default_output())
        results = run_coldstart(quick=args.quick, output=output, command=command_of(argv), keep=args.keep)
        met = all(b.best(True).first_read_seconds < COLDSTART_TARGET for b in results)
        return 1 if args.strict and not met else 0
    if args.only == "observability":
        return _observability(args, argv, output=args.output or (None if args.quick else default_output()))

    plan = QUICK if args.quick else FULL
    profiler = Profiler(args.profile)
    wrk = ensure_wrk() if args.only in (None, "share") else None
    info = machine()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    work = Path(tempfile.mkdtemp(prefix="liveloop-bench-"))
    print(f"liveloop bench ({plan.name}); databases and logs in {work}", flush=True)
    share = ingest = hooks = fraud = None
    try:
        if args.only in (None, "share"):
            print("share link: bare ASGI app and liveloop, alternating rounds ...", flush=True)
            share = bench_share(work, wrk, plan, profiler)
        if args.only in (None, "ingest"):
            print("ingestion: liveloop over HTTP, then the raw sqlite3 baseline ...", flush=True)
            ingest = bench_ingest(work, plan, profiler)
        if args.only in (None, "webhooks"):
            hooks = bench_webhooks(work, quick=args.quick)
        if args.only in (None, "fraud"):
            fraud = bench_fraud(work, quick=args.quick)
    except BaseException:
        print(f"bench failed; databases and server logs kept in {work}", file=sys.stderr, flush=True)
        raise
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    rows = (rows_of(share, ingest) + (webhook_rows(hooks) if hooks is not None else [])
            + (fraud_rows(fraud) if fraud is not None else []))
    notes = (notes_of(share, ingest, plan) + (webhook_notes(hooks) if hooks is not None else [])
             + (fraud_notes(fraud) if fraud is not None else []))
    if args.profile is not None:
        notes.append(f"py-spy sampled the servers during this run (profiles in {args.profile}); its cost is "
                     "counted as load generator CPU and lowers the figures a little.")
    print_report(rows, notes, info, plan)
    output = args.output or (default_output() if plan is FULL and args.only is None else None)
    if output is not None:
        command = "make bench" + (f" BENCH_ARGS='{' '.join(argv or sys.argv[1:])}'" if (argv or sys.argv[1:]) else "")
        write_markdown(output, markdown(rows, notes, info, plan, command, when))
        print(f"wrote {output}")
    live = []
    if args.only is None:
        live = run_live(None, quick=args.quick, output=output, command=command_of(argv), when=when, keep=args.keep)
        live += run_circles(quick=args.quick, output=output, command=command_of(argv), when=when)
        if _observability(args, argv, output=output):
            live.append(("observability", "", "", "NOT met"))
    failed = any(row[5] == "NOT met" for row in rows) or any(row[3] == "NOT met" for row in live)
    return 1 if args.strict and failed else 0


def _observability(args: argparse.Namespace, argv: list[str] | None, *, output: Path | None) -> int:
    """What metrics and JSON request logs cost the share link and ingestion (own block of the docs)."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    work = Path(tempfile.mkdtemp(prefix="liveloop-bench-observability-"))
    print(f"observability: metrics and JSON logs off / on; databases and logs in {work}", flush=True)
    try:
        result = bench_observability(work, OBS_QUICK if args.quick else OBS_FULL, ensure_wrk())
    except BaseException:
        print(f"bench failed; databases and server logs kept in {work}", file=sys.stderr, flush=True)
        raise
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    rows = observability_report(result, output=output, command=command_of(argv), when=when)
    return 1 if args.strict and any(row[3] == "NOT met" for row in rows) else 0


def command_of(argv: list[str] | None) -> str:
    args = argv if argv is not None else sys.argv[1:]
    return "make bench" + (f" BENCH_ARGS='{' '.join(args)}'" if args else "")


def _live_only(args: argparse.Namespace, argv: list[str] | None) -> int:
    """`--only leaderboard` / `--only streams`: the live-room benchmarks alone (they write their own block)."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    output = args.output or (None if args.quick else default_output())
    rows = run_live(args.only, quick=args.quick, output=output, command=command_of(argv), when=when, keep=args.keep,
                    profile=args.profile)
    return 1 if args.strict and any(row[3] == "NOT met" for row in rows) else 0


def _circles_only(args: argparse.Namespace, argv: list[str] | None) -> int:
    """`--only circles`: the circle leaderboard alone (it writes its own block)."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    output = args.output or (None if args.quick else default_output())
    rows = run_circles(quick=args.quick, output=output, command=command_of(argv), when=when)
    return 1 if args.strict and any(row[3] == "NOT met" for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
