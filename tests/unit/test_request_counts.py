"""Requests counted in plain Python and exposed as a Prometheus histogram and counter (ops/metrics.py)."""

from __future__ import annotations

import asyncio
import bisect
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liveloop.ops import metrics
from liveloop.ops.context import current_request_id
from liveloop.ops.requests import STREAMS, RequestLines, Requests
from tests.support import Scrape


def test_latency_buckets_are_cumulative_and_answers_counted_by_status():
    seen_ids: list[str | None] = []

    async def app(scope, receive, send) -> None:
        if scope["path"] == "/slow":
            await asyncio.sleep(0.03)
        seen_ids.append(current_request_id())
        headers = [(b"content-type", b"text/plain")]
        await send({"type": "http.response.start", "status": 404 if scope["path"] == "/gone" else 200,
                    "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        assert headers == [(b"content-type", b"text/plain")]  # a shared header list is left alone

    sent: list[dict] = []

    async def send(message) -> None:
        sent.append(message)

    async def receive() -> dict:
        return {"type": "http.disconnect"}

    served = Requests(app, route_of=lambda scope: "/test/{kind}", lines=None)

    async def scenario() -> None:
        for path in ("/fast", "/fast", "/gone", "/slow"):
            await served({"type": "http", "path": path, "method": "GET", "headers": []}, receive, send)

    asyncio.run(scenario())
    found = Scrape(metrics.render().decode())
    route = {"route": "/test/{kind}"}
    assert found.value("liveloop_request_seconds_count", **route) == 4
    assert found.value("liveloop_request_seconds_bucket", le="0.025", **route) == 3
    assert found.value("liveloop_request_seconds_bucket", le="0.05", **route) == 4
    assert found.value("liveloop_request_seconds_bucket", le="+Inf", **route) == 4
    assert found.value("liveloop_request_seconds_sum", **route) >= 0.03
    assert found.value("liveloop_responses_total", status="200", **route) == 3
    assert found.value("liveloop_responses_total", status="404", **route) == 1
    # Each request had its own id, returned as X-Request-Id.
    returned = [dict(m["headers"])[b"x-request-id"].decode() for m in sent if m["type"] == "http.response.start"]
    assert returned == seen_ids and len(set(returned)) == 4


def _expected(requests: list[tuple[str, int, float]]) -> dict[str, tuple[list[int], float, dict[int, int]]]:
    """Each route's buckets, sum and answers, counted one request at a time."""
    found: dict[str, tuple[list[int], float, dict[int, int]]] = {}
    for route, status, seconds in requests:
        buckets, total, answers = found.get(route) or ([0] * (len(metrics.LATENCY) + 1), 0.0, {})
        if route not in STREAMS:
            buckets[bisect.bisect_left(metrics.LATENCY, seconds)] += 1
            total += seconds
        answers[status] = answers.get(status, 0) + 1
        found[route] = (buckets, total, answers)
    return found


latencies = st.one_of(st.sampled_from(metrics.LATENCY), st.floats(min_value=0, max_value=30, allow_nan=False))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["/s/{code}", "/v1/events", "/v1/stream"]),
                          st.sampled_from([200, 302, 404, 499]), latencies), min_size=1, max_size=300),
       st.booleans())
def test_a_tally_counts_as_counting_each_request_would(requests, one_route):
    """A tally of one route (counted with C-level steps) or of several (one by one) gives the counts each
    request would have added; a latency on a bound belongs to that bound's bucket."""
    if one_route:
        requests = [("/s/{code}", status, seconds) for _route, status, seconds in requests]
    layer = Requests(None, route_of=lambda scope: "unused", lines=None)
    layer._routes = {}  # this test's own counts, not the process's

    async def answer_all() -> None:
        for route, status, seconds in requests:
            layer.answered("GET", route, status, 0.0, "req", None)
            layer._answered[-1] = seconds  # the duration, exactly

    asyncio.run(answer_all())
    layer.tally()
    counted = {route: (stats.buckets, stats.sum, stats.answers) for route, stats in layer._routes.items()}
    expected = _expected(requests)
    assert counted.keys() == expected.keys()
    for route, (buckets, total, answers) in counted.items():
        assert (buckets, answers) == (expected[route][0], expected[route][2])
        assert total == pytest.approx(expected[route][1], rel=1e-9, abs=1e-12)


def test_a_scrape_counts_the_requests_even_when_their_lines_cannot_be_written():
    class Closed(io.RawIOBase):
        def write(self, data) -> int:
            raise BrokenPipeError("standard error is gone")

    layer = Requests(None, route_of=lambda scope: "unused", lines=RequestLines(json=True, stream=Closed()))

    async def answer() -> None:
        layer.answered("GET", "/test/closed-stderr", 302, 0.0, "req-1", None)

    asyncio.run(answer())
    found = Scrape(metrics.render().decode())
    assert found.value("liveloop_responses_total", route="/test/closed-stderr", status="302") == 1
