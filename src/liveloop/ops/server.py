"""`liveloop serve`: the app under uvicorn, with the process-level parts of operating it.

The metrics port is prometheus-client's own HTTP server, in a thread of its own: scrapes are answered
even while the event loop is busy, and never pass through the public app.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING

import uvicorn
from prometheus_client import start_http_server
from uvicorn.config import STARTUP_FAILURE

from liveloop import __version__
from liveloop.ops import metrics
from liveloop.ops.requests import RequestLines, Requests

if TYPE_CHECKING:
    from liveloop.app import Liveloop
    from liveloop.settings import Settings

log = logging.getLogger("liveloop.server")


def serve(app: Liveloop, settings: Settings) -> None:
    """Serve `app` until SIGTERM or SIGINT (logging is configured: ops/logging.py `configure`)."""
    if settings.metrics_port is not None:
        start_http_server(settings.metrics_port, addr=settings.metrics_host or settings.host,
                          registry=metrics.REGISTRY)
    lines = RequestLines(json=settings.log_format == "json") if settings.access_log and RequestLines.wanted() else None
    config = uvicorn.Config(Requests(app, route_of=app.route_of, lines=lines), host=settings.host,
                            port=settings.port, loop="auto", http="auto", log_config=None, access_log=False,
                            log_level=settings.log_level.lower(),
                            # open viewer streams would otherwise hold a shutdown for their whole lifetime
                            timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    log.info("liveloop %s serving on %s:%d", __version__, settings.host, settings.port,
             extra={"event": "started", "version": __version__, "pid": os.getpid()})
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        if lines is not None:
            lines.flush()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
