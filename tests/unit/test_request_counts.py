"""Requests counted in plain Python and exposed as a Prometheus histogram and counter (ops/metrics.py)."""

from __future__ import annotations

import asyncio

from liveloop.ops import metrics
from liveloop.ops.context import current_request_id
from liveloop.ops.requests import Requests
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
