"""GET /s/{code}: the share link. A bare ASGI handler: it is the hottest path liveloop has."""

from __future__ import annotations

import itertools
import secrets

from liveloop.engine.model import Event
from liveloop.events.gate import CampaignGate
from liveloop.events.ingest import Ingestor
from liveloop.events.live import LiveCampaign
from liveloop.kit import clock
from liveloop.kit.asgi import header, send_response
from liveloop.kit.errors import NotFound, Unavailable
from liveloop.kit.ids import CODE
from liveloop.kit.ratelimit import RateLimiter
from liveloop.ops.context import note_tenant
from liveloop.sharelink.pages import is_link_preview, not_found_page, preview_page
from liveloop.sharelink.targets import ShareTarget, ShareTargets, with_ref

_HTML = b"text/html; charset=utf-8"
_NO_STORE = [(b"cache-control", b"no-store"), (b"referrer-policy", b"no-referrer")]
SHARE_ROUTE = "/s/{code}"
# The header lines of the redirect as uvicorn writes those `send_response` gives it, for the answers
# written straight by the HTTP protocol (`redirect_now`; tests/e2e/test_share_direct.py compares both).
_REDIRECT_HEAD = b"content-type: text/plain\r\ncontent-length: 0\r\nlocation: "
_REDIRECT_TAIL = b"\r\n" + b"".join(name + b": " + value + b"\r\n" for name, value in _NO_STORE)


def redirect_head(location: bytes) -> bytes:
    return _REDIRECT_HEAD + location + _REDIRECT_TAIL


class ShareLink:
    def __init__(self, targets: ShareTargets, campaigns: CampaignGate, ingestor: Ingestor, limits: RateLimiter, *,
                 base_url: str) -> None:
        self._targets = targets
        self._campaigns = campaigns
        self._ingestor = ingestor
        self._limits = limits
        self._base_url = base_url
        # code -> (the campaign body it was made from, Location): a changed campaign is a new body.
        self._locations: dict[str, tuple[dict, bytes]] = {}
        # Click ids: unique per process start without a system call per click.
        self._click_prefix = f"clk_{secrets.token_hex(6)}_"
        self._click_seq = itertools.count()

    async def __call__(self, scope, receive, send) -> None:
        code = scope["path"][3:]
        if scope["method"] not in ("GET", "HEAD"):
            await send_response(send, 405, b"", b"text/plain", [(b"allow", b"GET, HEAD")])
            return
        try:
            # Only a code that could exist is looked up: no NUL byte or the like reaches the database.
            target = await self._targets.get(code) if CODE.match(code) else None
            if target is None:
                raise NotFound("no such code")
            note_tenant(target.tenant_id)
            # Not caught up here (the hot path): another process's change to the campaign reaches
            # this one's loaded state through the gate's fan-out, within moments.
            live = await self._campaigns.get_uncaught(target.tenant_id, target.campaign_id)
        except NotFound:
            await send_response(send, 404, not_found_page(header(scope, b"accept-language")), _HTML, _NO_STORE)
            return
        except Unavailable:
            # the database is briefly away and this code is not cached: ask the browser to retry
            await send_response(send, 503, b"", b"text/plain", [(b"retry-after", b"2"), *_NO_STORE])
            return
        location = self._location(code, target, live)
        if is_link_preview(header(scope, b"user-agent")):
            url = f"{self._base_url}/s/{code}"
            page = preview_page(live.body, url, location.decode(), header(scope, b"accept-language"))
            await send_response(send, 200, page, _HTML)
            return
        if scope["method"] == "GET" and not live.state.config.cancelled:
            client = scope.get("client")
            self._count(target, live, code, client[0] if client else None)
        await send_response(send, 302, b"", b"text/plain", [(b"location", location), *_NO_STORE])

    def redirect_now(self, code: str, user_agent: str, client: str | None) -> tuple[str, bytes] | None:
        """A GET's redirect found and its click counted without waiting for anything: (tenant id, Location).

        The common case: the code is in memory, its campaign loaded and not cancelled, and a person,
        not a link-preview crawler, asks. The HTTP protocol then answers before any ASGI task exists
        (ops/serving.py). None: the request goes through `__call__`, which answers everything else.
        """
        target = self._targets.cached(code)
        if target is None:
            return None
        live = self._campaigns.peek(target.tenant_id, target.campaign_id)
        if live is None or live.state.config.cancelled or is_link_preview(user_agent):
            return None
        location = self._location(code, target, live)
        self._count(target, live, code, client)
        return target.tenant_id, location

    def _location(self, code: str, target: ShareTarget, live: LiveCampaign) -> bytes:
        body = live.body
        cached = self._locations.get(code)
        if cached is not None and cached[0] is body:
            return cached[1]
        # A clip's link lands on its clip. A cancelled campaign's links still lead to its page,
        # without attributing anybody.
        landing = target.landing or body["landing_url"]
        location = with_ref(landing, None if live.state.config.cancelled else code).encode()
        self._locations[code] = (body, location)
        return location

    def _count(self, target: ShareTarget, live: LiveCampaign, code: str, client: str | None) -> None:
        """Record the click, unless this address is over the share link's rate limit (the viewer still
        gets where they are going; the click is not counted)."""
        now = clock.now_ms()
        if client and not self._limits.allow("share", client, now):
            return
        event = Event(f"{self._click_prefix}{next(self._click_seq)}", "click", None, now, code)
        self._ingestor.record_click(target.tenant_id, live, event, ip=client, now=now)
