"""Request log lines are kept and written together about ten times a second (ops/requests.py `Requests.tally`,
`RequestLines`): every line arrives, in order, with its fields; a notable event is written at once, after them."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import random
import threading
import time
from collections.abc import Iterator

import orjson
import pytest

from liveloop.ops import logging as ops_logging
from liveloop.ops.context import Request
from liveloop.ops.requests import RequestLines, Requests

FIELDS = {"time", "level", "logger", "message", "request_id", "tenant_id", "method", "route", "status", "duration_ms"}


class Stream(io.BytesIO):
    """A binary stream that counts its writes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, data) -> int:
        self.writes += 1
        return super().write(data)

    def lines(self) -> list[dict]:
        return [orjson.loads(line) for line in self.getvalue().splitlines()]


def layer(stream: Stream, *, json: bool = True) -> Requests:
    """The request layer, writing its lines to `stream` (no app behind it: requests are only answered)."""
    return Requests(None, route_of=lambda scope: "unused", lines=RequestLines(json=json, stream=stream))


def add(lines: Requests, request: Request, method: str, route: str, seconds: float) -> None:
    lines.answered(method, route, request.status, time.perf_counter() - seconds, request.id, request.tenant_id)


@contextlib.contextmanager
def records_to(stream: Stream, lines: Requests, name: str, monkeypatch) -> Iterator[logging.Logger]:
    """A logger whose records go to `stream` in JSON, through the process's handler, after `lines`'
    waiting request lines (as ops/logging.py `configure` and ops/server.py set it up)."""
    handler = ops_logging.Handler()
    handler.setFormatter(ops_logging.JsonFormatter())
    handler.setStream(io.TextIOWrapper(stream, write_through=True))
    monkeypatch.setattr(ops_logging, "_HANDLER", handler)
    ops_logging.write_before_records(lines.tally)
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield logger
    finally:
        logger.removeHandler(handler)


def served(number: int, *, status: int = 200, tenant: str | None = "tn_1") -> Request:
    request = Request(f"req-{number}")
    request.tenant_id, request.status = tenant, status
    return request


def test_lines_wait_for_the_interval_then_arrive_together_in_order_with_their_fields():
    stream = Stream()
    lines = layer(stream)
    seen: dict[str, int] = {}

    slack_ms: list[float] = []  # what each request's answer took beyond its 1.23 ms, measured around it

    async def scenario() -> None:
        for i in range(300):
            before = time.perf_counter()
            add(lines, served(i, status=302 if i % 2 else 404, tenant=None if i % 3 else "tn_1"), "GET", "/s/{code}",
                      0.00123)
            slack_ms.append((time.perf_counter() - before) * 1000)
            if i % 50 == 0:
                await asyncio.sleep(0)  # other turns of the loop: nothing written yet
        seen["before"] = stream.writes
        await asyncio.sleep(Requests.TALLY_SECONDS * 3)
        seen["after"] = stream.writes

    asyncio.run(scenario())
    assert seen == {"before": 0, "after": 1}
    written = stream.lines()
    assert [line["request_id"] for line in written] == [f"req-{i}" for i in range(300)]
    for i, line in enumerate(written):
        status = 302 if i % 2 else 404
        assert set(line) == FIELDS
        assert (line["level"], line["logger"]) == ("info", "liveloop.request")
        assert line["message"] == f"GET /s/{{code}} {status}"
        assert (line["method"], line["route"], line["status"]) == ("GET", "/s/{code}", status)
        # 1.23 ms and the time between the call's two clock readings (a few µs, more on a loaded machine: CI
        # saw 5.31 ms), which the test measures around the call; the line's rounding is to 0.01 ms.
        assert 1.23 - 0.005 <= line["duration_ms"] <= 1.23 + slack_ms[i] + 0.005
        assert line["tenant_id"] == (None if i % 3 else "tn_1")
        assert line["time"].endswith("Z")


def test_text_lines_are_batched_alike():
    stream = Stream()
    lines = layer(stream, json=False)

    async def scenario() -> None:
        for i in range(3):
            add(lines, served(i), "POST", "/v1/events", 0.05)
        await asyncio.sleep(Requests.TALLY_SECONDS * 3)

    asyncio.run(scenario())
    text = stream.getvalue().decode().splitlines()
    assert stream.writes == 1 and len(text) == 3
    assert all(" INFO liveloop.request: POST /v1/events 200 50." in line for line in text)
    assert all(float(line.split(" 200 ")[1].split(" ms ")[0]) == pytest.approx(50, abs=2) for line in text)
    assert [line.split("request_id=")[1] for line in text] == [f"req-{i} tenant_id=tn_1" for i in range(3)]


def test_a_burst_is_written_before_the_interval_ends(monkeypatch):
    monkeypatch.setattr(Requests, "MAX_PENDING", 100)
    stream = Stream()
    lines = layer(stream)

    async def scenario() -> int:
        for i in range(250):
            add(lines, served(i), "GET", "/healthz", 0.001)
        return stream.writes

    assert asyncio.run(scenario()) == 2
    lines.tally()
    assert [line["request_id"] for line in stream.lines()] == [f"req-{i}" for i in range(250)]


def test_a_notable_event_is_written_at_once_after_the_lines_before_it(monkeypatch):
    stream = Stream()
    lines = layer(stream)
    with records_to(stream, lines, "liveloop.test.notable", monkeypatch) as logger:
        async def scenario() -> None:
            add(lines, served(1), "POST", "/v1/events", 0.2)
            add(lines, served(2), "POST", "/v1/events", 0.2)
            logger.error("the writer failed", extra={"event": "writer_failed", "jobs": 2})
            add(lines, served(3), "GET", "/healthz", 0.001)
            await asyncio.sleep(Requests.TALLY_SECONDS * 3)

        asyncio.run(scenario())
    written = stream.lines()
    assert [line.get("request_id") or line["event"] for line in written] == ["req-1", "req-2", "writer_failed", "req-3"]
    assert written[2]["jobs"] == 2 and written[2]["level"] == "error"


def test_tallies_from_other_threads_lose_nothing_and_keep_the_order(monkeypatch):
    """Two threads tally in a loop while the event loop answers requests and tallies on a burst too."""
    monkeypatch.setattr(Requests, "MAX_PENDING", 50)
    stream = Stream()
    lines = layer(stream)
    done = threading.Event()
    failures: list[BaseException] = []
    writers: set[str] = set()
    write = stream.write

    def noting_the_writer(data) -> int:
        writers.add(threading.current_thread().name)
        return write(data)

    monkeypatch.setattr(stream, "write", noting_the_writer)

    def tallier() -> None:
        try:
            while not done.is_set():
                lines.tally()
        except BaseException as failure:  # noqa: BLE001 - the test's own finding
            failures.append(failure)

    threads = [threading.Thread(target=tallier, name=f"tallier-{n}") for n in range(2)]

    async def scenario() -> None:
        for thread in threads:
            thread.start()
        for i in range(20_000):
            add(lines, served(i), "GET", "/s/{code}", 0.0004)
            if i % 500 == 0:
                await asyncio.sleep(0)
        done.set()
        for thread in threads:
            thread.join()
        await asyncio.sleep(Requests.TALLY_SECONDS * 3)

    asyncio.run(scenario())
    assert failures == []
    assert writers & {"tallier-0", "tallier-1"}  # the other threads did write lines
    assert [line["request_id"] for line in stream.lines()] == [f"req-{i}" for i in range(20_000)]


def test_a_tally_that_finds_nothing_left_once_it_has_the_lock_returns():
    """Two tallies both see requests waiting while a third holds the lock (writing slowly): the first to
    get the lock takes them, the other finds nothing and returns."""
    class SlowStream(Stream):
        def __init__(self) -> None:
            super().__init__()
            self.release = threading.Event()

        def write(self, data) -> int:
            if self.writes == 0:
                self.release.wait(10)
            return super().write(data)

    stream = SlowStream()
    lines = layer(stream)
    failures: list[BaseException] = []

    def tally() -> None:
        try:
            lines.tally()
        except BaseException as failure:  # noqa: BLE001 - the test's own finding
            failures.append(failure)

    async def answer(numbers) -> None:
        for i in numbers:
            add(lines, served(i), "GET", "/s/{code}", 0.001)

    asyncio.run(answer(range(3)))
    slow = threading.Thread(target=tally)
    slow.start()
    while not stream.release.is_set() and lines._answered:
        time.sleep(0.001)  # until the slow tally took the first three
    asyncio.run(answer(range(3, 5)))
    waiting = [threading.Thread(target=tally) for _ in range(2)]
    for thread in waiting:
        thread.start()
    time.sleep(0.2)  # both checked that requests wait, and wait for the lock
    stream.release.set()
    for thread in (slow, *waiting):
        thread.join()
    assert failures == []
    assert [line["request_id"] for line in stream.lines()] == [f"req-{i}" for i in range(5)]


def test_without_an_event_loop_a_request_is_tallied_at_once():
    stream = Stream()
    lines = layer(stream)
    add(lines, served(1), "GET", "/s/{code}", 0.001)
    add(lines, served(2), "GET", "/s/{code}", 0.001)
    assert [line["request_id"] for line in stream.lines()] == ["req-1", "req-2"]


def test_json_lines_are_the_bytes_orjson_writes_for_each_request():
    # The encoder reuses the parts of a line that repeat; each line must still be exactly the object's JSON.
    rng = random.Random(19)
    stream = Stream()
    methods = ["GET", "POST", 'WEIRD"\\', *(f"M{i}" for i in range(1_500))]  # past the cache's bound
    taken = []
    for i in range(5_000):
        request = served(i, status=rng.choice([200, 302, 404, 429, 499, 503]),
                         tenant=rng.choice([None, "tn_1", 'tn_"quoted"', f"tn_{i}"]))
        request.id = rng.choice([f"req-{i}", f"nginx.{i}:a-b_c"])
        taken.append((i * 0.0007, request, rng.choice(methods), rng.choice(["/s/{code}", "unmatched"]),
                      rng.choice([0.0, 0.000004, 0.00123, 0.5, 12.3456, rng.random()])))
    offset = 1_796_000_000.0  # from the performance counter's times to the wall clock's
    RequestLines(json=True, stream=stream).write(
        [field for at, r, method, route, seconds in taken
         for field in (at, r.id, r.tenant_id, method, route, r.status, seconds)], offset)
    stamp = ops_logging.Stamp()
    expected = [orjson.dumps({
        "time": stamp(at + offset), "level": "info", "logger": "liveloop.request",
        "message": f"{method} {route} {r.status}", "request_id": r.id, "tenant_id": r.tenant_id, "method": method,
        "route": route, "status": r.status, "duration_ms": round(seconds * 1000, 2)})
        for at, r, method, route, seconds in taken]
    assert stream.getvalue().split(b"\n") == [*expected, b""]


def test_a_record_logged_during_a_tally_on_its_thread_does_not_wait_for_it(monkeypatch):
    """A garbage collection during a tally may run a finalizer that logs: the record is written at once,
    rather than wait for the tally it interrupted (which would never end)."""
    stream = Stream()
    lines = layer(stream)
    with records_to(stream, lines, "liveloop.test.finalizer", monkeypatch) as logger:
        logged = []
        write = stream.write

        def write_logging_once(data) -> int:
            if not logged:  # as a finalizer would, from inside the tally's write
                logged.append(True)
                logger.warning("a connection was not closed", extra={"event": "finalizer"})
            return write(data)

        monkeypatch.setattr(stream, "write", write_logging_once)

        async def scenario() -> None:
            for i in range(3):
                add(lines, served(i), "GET", "/s/{code}", 0.001)
            lines.tally()

        asyncio.run(scenario())
    written = stream.lines()
    assert [line.get("request_id") or line["event"] for line in written] == ["finalizer", "req-0", "req-1", "req-2"]


@pytest.mark.parametrize("answered_meanwhile", [False, True])
def test_a_record_logged_during_another_threads_tally_comes_after_its_lines_and_waits_for_no_lock(
        monkeypatch, answered_meanwhile):
    """Thread A tallies (a scrape of /metrics) and a finalizer there logs, while thread B logs a record. B's
    record comes after the lines A's tally took, so B waits for that tally; but not while holding the
    handler's lock, which A's record needs (the two would wait for each other for good). With a request
    answered meanwhile, B has lines of its own to write first."""
    stream = Stream()
    lines = layer(stream)
    with records_to(stream, lines, "liveloop.test.two_threads", monkeypatch) as logger:
        async def answer() -> None:
            for i in range(3):
                add(lines, served(i), "GET", "/s/{code}", 0.001)

        asyncio.run(answer())  # the loop ends before its tally is due: the three lines wait
        tallying = threading.Event()
        write = stream.write

        def write_logging_once(data) -> int:
            if not tallying.is_set():  # A, inside its tally: B starts logging, then A's finalizer logs
                if answered_meanwhile:
                    add(lines, served(3), "GET", "/s/{code}", 0.001)
                tallying.set()
                time.sleep(0.3)
                logger.warning("a connection was not closed", extra={"event": "finalizer"})
            return write(data)

        monkeypatch.setattr(stream, "write", write_logging_once)
        scrape = threading.Thread(target=lines.tally, daemon=True)
        notable = threading.Thread(target=lambda: logger.warning("outage", extra={"event": "outage"}), daemon=True)
        scrape.start()
        assert tallying.wait(10)
        notable.start()
        scrape.join(10)
        notable.join(10)
        stuck = scrape.is_alive() or notable.is_alive()
        if stuck:  # free the handler's lock the stuck threads hold, or logging's shutdown waits at exit
            for handler in logger.handlers:
                handler.lock = threading.RLock()
        assert not stuck, "the two threads wait for each other"
    written = [line.get("request_id") or line["event"] for line in stream.lines()]
    assert written == ["finalizer", "req-0", "req-1", "req-2", *(["req-3"] if answered_meanwhile else []), "outage"]
