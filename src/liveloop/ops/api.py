"""GET /metrics for Prometheus, kept off the public API, and GET /readyz (docs/operations.md)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from liveloop.deps import SettingsDep, component
from liveloop.kit.errors import Unauthorized
from liveloop.ops import metrics
from liveloop.ops.readiness import Readiness

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


@router.get("/readyz")
async def readyz(readiness: Annotated[Readiness, component("readiness")]) -> JSONResponse:
    """200 when this process should get traffic; 503 with the reasons while it should not."""
    reasons = await readiness.reasons()
    if reasons:
        return JSONResponse({"ready": False, "reasons": reasons}, 503)
    return JSONResponse({"ready": True})
