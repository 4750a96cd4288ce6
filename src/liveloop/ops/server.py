"""`liveloop serve`: the app under uvicorn, with the process-level parts of operating it.

Graceful shutdown (SIGTERM, or Ctrl+C): the process stops accepting connections, ends the open
streams with a hint to reconnect within a few seconds (the load balancer sends them to another
process), answers the requests in flight once their writes are durable, then stops its components
(buffered share-link clicks are written, then the database is closed) and exits. It exits within
LIVELOOP_SHUTDOWN_SECONDS whatever happens: three quarters of it are given to requests in flight,
and a watchdog ends the process when the whole is spent. Nothing acknowledged is lost either way:
a batch is answered only once durable, and a click only counts as answered once its redirect left.

The metrics port is prometheus-client's own HTTP server, in a thread of its own: scrapes are answered
even while the event loop is busy, and never pass through the public app.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import uvicorn
from prometheus_client import start_http_server
from uvicorn.config import STARTUP_FAILURE

from liveloop import __version__
from liveloop.ops import metrics, proxies
from liveloop.ops.logging import write_before_records
from liveloop.ops.requests import RequestLines, Requests
from liveloop.ops.serving import DirectAnswers, http_protocol

if TYPE_CHECKING:
    from liveloop.app import Liveloop
    from liveloop.settings import Settings

log = logging.getLogger("liveloop.server")

OVERDUE = 70  # the exit status when the watchdog ends a shutdown that overran its time


class GracefulServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, *, end_streams: Callable[[], int], shutdown_seconds: float,
                 requests: Requests) -> None:
        super().__init__(config)
        self._end_streams = end_streams
        self._shutdown_seconds = shutdown_seconds
        self._requests = requests
        self._signalled_at: float | None = None

    def handle_exit(self, sig: int, frame) -> None:
        if self._signalled_at is None:
            self._signalled_at = time.monotonic()
            watchdog = threading.Timer(self._shutdown_seconds, self._overdue)
            watchdog.daemon = True
            watchdog.start()
        super().handle_exit(sig, frame)

    async def shutdown(self, sockets=None) -> None:
        # Stop accepting first, so that the viewers told to reconnect cannot come back here.
        for server in self.servers:
            server.close()
        streams = self._end_streams()
        log.info("shutting down: no new connections, %d streams ended", streams,
                 extra={"event": "shutdown_started", "streams": streams})
        await super().shutdown(sockets)
        self._requests.tally()  # the last requests' lines, before the line that ends the log
        waited = time.monotonic() - (self._signalled_at or time.monotonic())
        log.info("shut down in %.1f s", waited, extra={"event": "shutdown_finished", "seconds": round(waited, 1)})
        # uvicorn raises the signal again once served, which would end the process with it: a complete
        # shutdown exits with status 0 instead.
        self._captured_signals.clear()

    def _overdue(self) -> None:
        try:
            log.error("shutdown took over %g s: exiting now", self._shutdown_seconds,
                      extra={"event": "shutdown_overdue"})
            self._requests.tally()
        finally:
            os._exit(OVERDUE)  # whatever the log did


def serve(app: Liveloop, settings: Settings) -> None:
    """Serve `app` until SIGTERM or SIGINT (logging is configured: ops/logging.py `configure`)."""
    if settings.metrics_port is not None:
        start_http_server(settings.metrics_port, addr=settings.metrics_host or settings.host,
                          registry=metrics.REGISTRY)
    lines = RequestLines(json=settings.log_format == "json") if settings.access_log and RequestLines.wanted() else None
    trusted = proxies.parse(settings.trusted_proxies)
    served = Requests(proxies.behind(app, trusted), route_of=app.route_of, lines=lines,
                      proxies=proxies.TrustedProxies(trusted))
    if lines is not None:
        write_before_records(served.tally)
    direct = DirectAnswers(app.answer_now, app.answers_now_under, served, proxies.ClientAddress(trusted))
    config = uvicorn.Config(served, host=settings.host, port=settings.port, loop="auto",
                            http=http_protocol(settings.header_timeout_seconds, direct),
                            log_config=None, access_log=False, log_level=settings.log_level.lower(),
                            proxy_headers=False,  # applied above, from the listed proxies only
                            timeout_graceful_shutdown=settings.shutdown_seconds * 0.75)
    server = GracefulServer(config, end_streams=app.components.begin_shutdown,
                            shutdown_seconds=settings.shutdown_seconds, requests=served)
    log.info("liveloop %s serving on %s:%d", __version__, settings.host, settings.port,
             extra={"event": "started", "version": __version__, "pid": os.getpid()})
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        served.tally()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
