"""CPU per event of the loop thread's share of ingestion, in one process: no HTTP, no store.

The bench's stream and full rule set (bench/hotpaths.py), decoded in batches of 500 by the fast
path (`decode_batch`), each event parsed (`parse_event`) and applied to one campaign's state, with
the collector set as `liveloop serve` sets it. What is left of the per-event cost on the event
loop (HTTP, the gate, rows for the writer, committed effects) is not here; the writer is not here.

    .venv/bin/python -m bench.engine_cpu [--events N] [--repeat R] [--profile FILE] [--no-gc | --gc-young N]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import time

import msgspec

from bench.hotpaths import api_event, campaign_body, generate_events
from liveloop.campaigns.service import to_config
from liveloop.engine.state import CampaignState
from liveloop.events.validate import decode_batch, parse_event
from liveloop.kit.times import DAY_MS

NOW = 1_800_000_000_000
CODES = 2_000


def _bodies(count: int) -> list[bytes]:
    starts = NOW - 3_600_000
    events = [api_event(ev, "c1") for ev in generate_events(count, codes=[f"code{i}" for i in range(CODES)],
                                                             starts_at=starts, now=NOW)]
    return [msgspec.json.encode({"events": events[i:i + 500]}) for i in range(0, len(events), 500)]


def _run(bodies: list[bytes]) -> int:
    body = campaign_body("c1", starts_at=NOW - 3_600_000, ends_at=NOW + DAY_MS) | {"currency": "SGD"}
    state = CampaignState(to_config("t1", body), {f"code{i}": f"u{i}" for i in range(CODES)})
    effects = 0
    for batch in bodies:
        for raw in decode_batch(batch) or []:
            _inp, ev = parse_event(raw, now=NOW, future_tolerance_ms=300_000)
            effects += len(state.apply(ev, NOW))
    return effects


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", help="write a cProfile of one run to FILE and print its top entries")
    parser.add_argument("--no-gc", action="store_true", help="collector off (what the collector costs)")
    parser.add_argument("--gc-young", type=int, default=5_000, help="the youngest generation's threshold")
    args = parser.parse_args()
    bodies = _bodies(args.events)
    if args.no_gc:
        gc.disable()
    else:
        gc.set_threshold(args.gc_young, 20, 100)  # 5,000 as cli.serve
        gc.freeze()
    if args.profile:
        cProfile.runctx("_run(bodies)", globals(), {"bodies": bodies}, args.profile)
        pstats.Stats(args.profile).sort_stats("tottime").print_stats(20)
        return
    times = []
    for _ in range(args.repeat):
        started = time.process_time()
        _run(bodies)
        times.append((time.process_time() - started) / args.events * 1e6)
    print(f"{args.events} events, CPU per event (us): min {min(times):.2f}, runs "
          + ", ".join(f"{t:.2f}" for t in times))


if __name__ == "__main__":
    main()
