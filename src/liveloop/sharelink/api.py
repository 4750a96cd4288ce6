"""GET /s/{code}: the share link. A bare ASGI handler: it is the hottest path liveloop has."""

from __future__ import annotations

import itertools
import secrets

from liveloop.engine.model import Event
from liveloop.events.gate import CampaignGate
from liveloop.events.ingest import Ingestor
from liveloop.kit import clock
from liveloop.kit.asgi import header, send_response
from liveloop.kit.errors import NotFound, Unavailable
from liveloop.kit.ids import CODE
from liveloop.kit.ratelimit import RateLimiter
from liveloop.ops.context import note_tenant
from liveloop.sharelink.pages import is_link_preview, not_found_page, preview_page
from liveloop.sharelink.targets import ShareTargets, with_ref

_HTML = b"text/html; charset=utf-8"
_NO_STORE = [(b"cache-control", b"no-store"), (b"referrer-policy", b"no-referrer")]


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
        body = live.body
        cached = self._locations.get(code)
        if cached is not None and cached[0] is body:
            location = cached[1]
        else:
            # A clip's link lands on its clip. A cancelled campaign's links still lead to its page,
            # without attributing anybody.
            landing = target.landing or body["landing_url"]
            location = with_ref(landing, None if live.state.config.cancelled else code).encode()
            self._locations[code] = (body, location)
        if is_link_preview(header(scope, b"user-agent")):
            url = f"{self._base_url}/s/{code}"
            page = preview_page(live.body, url, location.decode(), header(scope, b"accept-language"))
            await send_response(send, 200, page, _HTML)
            return
        if scope["method"] == "GET" and not live.state.config.cancelled:
            now = clock.now_ms()
            client = scope.get("client")
            if client and not self._limits.allow("share", client[0], now):
                # over the limit: the viewer still gets where they are going, the click is not counted
                await send_response(send, 302, b"", b"text/plain", [(b"location", location), *_NO_STORE])
                return
            event = Event(f"{self._click_prefix}{next(self._click_seq)}", "click", None, now, code)
            self._ingestor.record_click(target.tenant_id, live, event, ip=client[0] if client else None, now=now)
        await send_response(send, 302, b"", b"text/plain", [(b"location", location), *_NO_STORE])
