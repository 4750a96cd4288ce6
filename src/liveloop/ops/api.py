"""GET /metrics for Prometheus, kept off the public API (docs/operations.md)."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response
from starlette.exceptions import HTTPException

from liveloop.deps import SettingsDep
from liveloop.kit.errors import Unauthorized
from liveloop.ops import metrics

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
def prometheus_metrics(request: Request, settings: SettingsDep) -> Response:
    """Served only when LIVELOOP_METRICS_TOKEN is set, to requests bearing it; otherwise the path does not
    exist. A plain function: FastAPI runs it in a worker thread, so rendering never holds the event loop."""
    token = settings.metrics_token
    if not token:
        raise HTTPException(404, "Not Found")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Unauthorized("metrics need Authorization: Bearer <LIVELOOP_METRICS_TOKEN>")
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)
