"""What the request layer costs the share link, counted in CPU instructions by valgrind (issue 19).

Throughput on a shared 2-core machine moves from one round to the next by more than the few µs that
metrics and request lines cost a share-link click (docs/benchmarks.md, "Metrics and JSON logs"). An
instruction count does not move with the neighbours: valgrind's callgrind counts what the server
executes, whatever else the machine runs, so two runs of the same code agree within a few %.

Two measurements:

- **servers**: `liveloop serve` with observability off and on, as `bench/observability.py` starts
  them, each under callgrind with instrumentation switched on only while wrk loads it (after its
  start and a warm-up): instructions of the whole process (event loop and writer) per answered
  share-link request.
- **parts**: the request layer alone, in one process without HTTP: the share-link benchmark's bare
  ASGI 302 (`bench/hotpaths.py` `bare_app`), the same app behind `ops/requests.py` `Requests`
  without request lines, and with JSON request lines written to a null stream; 20,000 calls each.
  The differences are the layer's and the line's own cost.

    .venv/bin/python -m bench.instructions                 # both (about 3 minutes)
    .venv/bin/python -m bench.instructions --only parts    # about 20 s

Needs valgrind (Debian's package) and wrk, as the share-link benchmark does.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.hotpaths import DAY_MS, WrkResult, bare_app, run_wrk, share_script
from bench.observability import MODES, prepare, server

CALLS = 20_000
PARTS = ("bare", "layer", "lines")


def _totals(out: Path) -> int:
    """Instructions callgrind counted, over every file it wrote for the process."""
    total = 0
    for path in out.parent.glob(out.name + "*"):
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("totals:"):
                total += int(line.split()[1])
    return total


def one_server(work: Path, mode: str, wrk: str, script: Path, *, seconds: int) -> tuple[int, int]:
    """(instructions, requests answered) of one server while wrk loads it for `seconds`."""
    db = work / f"share-{mode}-counted.db"
    shutil.copyfile(work / f"share-{mode}.db", db)
    service = server(mode, f"sqlite:///{db}", work / f"{mode}-counted.log")
    out = work / f"callgrind-{mode}.out"
    service.argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                    *service.argv]
    service.start_seconds = service.stop_seconds = 600  # several times slower under valgrind; the count is
    # written when the process exits
    with service:
        run_wrk(wrk, service.url, script, connections=10, seconds=5, log=work / "wrk.log")  # warm-up, not counted
        subprocess.run(["callgrind_control", "-i", "on", str(service.pid)], check=True, capture_output=True)
        run: WrkResult = run_wrk(wrk, service.url, script, connections=10, seconds=seconds, log=work / "wrk.log")
        subprocess.run(["callgrind_control", "-i", "off", str(service.pid)], check=True, capture_output=True)
    if sum(run.errors.values()):
        raise RuntimeError(f"wrk errors against the {mode} server: {run.errors}")
    return _totals(out), run.requests


def servers(work: Path, *, rounds: int, seconds: int) -> dict[str, list[float]]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is needed (apt install wrk)")
    now = time.time_ns() // 1_000_000
    _tenant, _key, codes = prepare(work, "share", invites=1000, starts_at=now + 7 * DAY_MS,
                                   ends_at=now + 3650 * DAY_MS)
    script = work / "share.lua"
    script.write_text(share_script(codes))
    per_request: dict[str, list[float]] = {mode: [] for mode in MODES}
    for index in range(rounds):
        for mode in MODES:
            print(f"instructions: {mode} server under valgrind, round {index + 1} ...", flush=True)
            instructions, requests = one_server(work, mode, wrk, script, seconds=seconds)
            per_request[mode].append(instructions / requests)
    return per_request


# -- the layer alone, in one process -------------------------------------------------------------

class _Null(io.RawIOBase):
    def write(self, data) -> int:
        return len(data)


def _route_of(scope: dict) -> str:
    return "/s/{code}" if scope["path"].startswith("/s/") else "unmatched"


def run_part(name: str) -> None:
    """`CALLS` requests through one part (run under valgrind by `parts`)."""
    from liveloop.ops.requests import RequestLines, Requests

    app = {"bare": bare_app,
           "layer": Requests(bare_app, route_of=_route_of, lines=None),
           "lines": Requests(bare_app, route_of=_route_of, lines=RequestLines(json=True, stream=_Null()))}[name]

    async def send(_message) -> None:
        return None

    async def receive() -> dict:
        return {"type": "http.request"}

    async def calls() -> None:
        scope = {"type": "http", "method": "GET", "path": "/s/abc", "headers": [], "client": ("127.0.0.1", 1)}
        for _ in range(CALLS):
            await app(scope, receive, send)

    asyncio.run(calls())


def parts(work: Path) -> dict[str, int]:
    counts = {}
    for name in PARTS:
        out = work / f"callgrind-part-{name}.out"
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-m",
                        "bench.instructions", "--part", name], check=True, capture_output=True,
                       cwd=Path(__file__).resolve().parent.parent)
        counts[name] = _totals(out)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("servers", "parts"))
    parser.add_argument("--rounds", type=int, default=2, help="servers: rounds of off and on (default 2)")
    parser.add_argument("--seconds", type=int, default=10, help="servers: wrk's counted seconds (default 10)")
    parser.add_argument("--part", choices=PARTS, help=argparse.SUPPRESS)  # one part, run under valgrind
    args = parser.parse_args(argv)
    if args.part:
        run_part(args.part)
        return 0
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is needed (apt install valgrind)")
    with tempfile.TemporaryDirectory(prefix="liveloop-instructions-") as tmp:
        work = Path(tmp)
        if args.only in (None, "parts"):
            counts = parts(work)
            bare = counts["bare"]
            print(f"parts ({CALLS:,} calls each, instructions per call, the bare app's subtracted): "
                  f"request layer {(counts['layer'] - bare) / CALLS:,.0f}, "
                  f"its JSON request line {(counts['lines'] - counts['layer']) / CALLS:,.0f}")
        if args.only in (None, "servers"):
            per_request = servers(work, rounds=args.rounds, seconds=args.seconds)
            off, on = min(per_request["off"]), min(per_request["on"])
            rounds = ", ".join(f"{mode} " + " / ".join(f"{v:,.0f}" for v in values)
                               for mode, values in per_request.items())
            print(f"servers (instructions per share-link request, whole process; min of the rounds): off {off:,.0f}, "
                  f"on {on:,.0f}, on / off {on / off:.3f}, off / on {off / on:.3f} (rounds: {rounds})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
