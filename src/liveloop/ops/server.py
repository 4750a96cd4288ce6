"""`liveloop serve`: the app under uvicorn, with the process-level parts of operating it.

The metrics port is prometheus-client's own HTTP server, in a thread of its own: scrapes are answered
even while the event loop is busy, and never pass through the public app.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import uvicorn
from prometheus_client import start_http_server
from uvicorn.config import STARTUP_FAILURE

from liveloop.ops import metrics
from liveloop.ops.requests import Requests

if TYPE_CHECKING:
    from liveloop.app import Liveloop
    from liveloop.settings import Settings


def serve(app: Liveloop, settings: Settings, *, access_log: bool, log_level: str) -> None:
    """Serve `app` until SIGTERM or SIGINT."""
    if settings.metrics_port is not None:
        start_http_server(settings.metrics_port, addr=settings.metrics_host or settings.host,
                          registry=metrics.REGISTRY)
    config = uvicorn.Config(Requests(app, route_of=app.route_of), host=settings.host, port=settings.port,
                            access_log=access_log, loop="auto", http="auto", log_level=log_level,
                            # open viewer streams would otherwise hold a shutdown for their whole lifetime
                            timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    if not server.started:
        sys.exit(STARTUP_FAILURE)
