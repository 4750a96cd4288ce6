"""Cross-origin answers for the viewer-token routes the widget calls from the shop's page.

The widget runs on the merchant's origin and authenticates with its viewer token, never a cookie, so
any origin may call these routes and read their answers, errors included (the widget shows a 422's
message next to the question box). Their JSON bodies need a preflight: it is answered here, before
the framework (which knows no OPTIONS routes). The hot paths (stream, presence) answer CORS themselves.
"""

from __future__ import annotations

from liveloop.kit.asgi import send_response
from liveloop.realtime.stream import CORS

VIEWER_ROUTES = frozenset({"/v1/questions"})
_ALLOW_ORIGIN = CORS[0][0]
_PREFLIGHT = [
    *CORS,
    (b"access-control-allow-methods", b"POST, OPTIONS"),
    (b"access-control-allow-headers", b"content-type"),
    (b"access-control-max-age", b"86400"),
]


def is_viewer_route(path: str) -> bool:
    return path in VIEWER_ROUTES


async def preflight(send) -> None:
    await send_response(send, 204, b"", b"text/plain", _PREFLIGHT)


def with_cors(send):
    """`send` adding the viewer CORS headers to the response's start, whichever handler answers."""
    async def wrapped(message: dict) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers") or ())
            if not any(name.lower() == _ALLOW_ORIGIN for name, _ in headers):
                headers.extend(CORS)
            message = {**message, "headers": headers}
        await send(message)
    return wrapped
