"""Viewer tokens (minted by the shop back end) and the viewer widget script."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib.resources import files
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from liveloop.deps import Campaigns, Db, SettingsDep, SigningDep, component
from liveloop.flash.service import FlashDeals
from liveloop.i18n.stream import viewer_locale
from liveloop.i18n.widget import widget_texts
from liveloop.kit import clock
from liveloop.kit.errors import LiveloopError
from liveloop.kit.times import iso
from liveloop.realtime import tokens
from liveloop.realtime.schemas import ViewerProgressRead, ViewerTokenCreate, ViewerTokenRead
from liveloop.reports import viewer as viewer_view
from liveloop.tenants.auth import current_tenant
from liveloop.tenants.service import Tenant
from liveloop.users import repository as users_repository
from liveloop.users import service as users_service

router = APIRouter(tags=["realtime"])
Deals = Annotated[FlashDeals, component("flash_deals")]


@router.post("/v1/campaigns/{cid}/viewer-tokens", status_code=201, response_model=ViewerTokenRead,
             summary="A short-lived token for one viewer's stream and presence beats")
async def create_viewer_token(
    cid: str, body: ViewerTokenCreate, campaigns: Campaigns, db: Db, signing: SigningDep,
    tenant: Annotated[Tenant, Depends(current_tenant)],
) -> dict:
    live = await campaigns.get(tenant.id, cid)
    now = clock.now_ms()
    # A user first seen in a viewer token is created implicitly, in the campaign's market.
    await db.write(lambda conn: users_service.ensure(conn, tenant_id=tenant.id, user_id=body.user_id,
                                                     market=live.body["market"], now=now), isolated=True)
    token, expires_at = tokens.sign(signing.key, tenant_id=tenant.id, campaign_id=cid, user_id=body.user_id,
                                    ttl_seconds=body.ttl_seconds, now=now)
    return {"token": token, "expires_at": iso(expires_at)}


VIEWER_CORS = {"Access-Control-Allow-Origin": "*", "Cache-Control": "no-store"}


@router.get("/v1/viewer/progress", response_model=ViewerProgressRead,
            summary="The viewer's standing now, for the widget: rank, next milestone, rewards, draw entries, "
                    "open group buys, running flash deals, share apps (viewer token)")
async def viewer_progress(campaigns: Campaigns, db: Db, signing: SigningDep, settings: SettingsDep, deals: Deals,
                          token: Annotated[str | None, Query(max_length=2000)] = None) -> Response:
    """Read by the widget across origins with its viewer token (no API key): CORS for any origin."""
    now = clock.now_ms()
    try:
        viewer = tokens.verify(signing.key, token, now=now)
        live = await campaigns.get(viewer.tenant_id, viewer.campaign_id)
    except LiveloopError as exc:
        return JSONResponse(exc.body(), status_code=exc.status, headers=VIEWER_CORS)
    market = live.body["market"]
    people = await db.read(lambda conn: users_repository.names_and_locales(
        conn, tenant_id=viewer.tenant_id, user_ids=[viewer.user_id]))
    tag = viewer_locale(people.get(viewer.user_id, (None, None))[1], market)
    body = viewer_view.viewer_progress(live.state, market=market, user_id=viewer.user_id, tag=tag, now=now,
                                        base_url=settings.base_url)
    body["flash_deals"] = await deals.running_for(viewer.tenant_id, live.state, viewer.user_id, now=now)
    return JSONResponse(body, headers=VIEWER_CORS)


_I18N_SLOT = "{/* liveloop:i18n */}"


def widget_script() -> bytes:
    """static/liveloop.js with its texts, for every language, taken from the gettext catalogues."""
    template = files("liveloop").joinpath("static/liveloop.js").read_text("utf-8")
    if template.count(_I18N_SLOT) != 1:
        raise RuntimeError(f"static/liveloop.js must hold {_I18N_SLOT} exactly once")
    # Every language in one script: the widget picks its language in the page (data-lang, <html lang>),
    # so one variant per URL keeps CDN caching and the ETag simple (under 1 KB per language).
    texts = json.dumps(widget_texts(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    texts = texts.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")  # line breaks to pre-2019 JS
    return template.replace(_I18N_SLOT, texts).encode()


@lru_cache(maxsize=1)
def _widget() -> tuple[bytes, str]:
    script = widget_script()
    return script, '"' + hashlib.sha256(script).hexdigest()[:32] + '"'


@router.get("/widget/liveloop.js", summary="The viewer widget: one <script> tag on the live page",
            response_class=Response, responses={200: {"content": {"text/javascript": {}}}})
async def widget(request: Request) -> Response:
    script, etag = _widget()
    headers = {
        "ETag": etag,
        # Short enough for a fix to reach every live page within minutes; the ETag makes re-checks cheap.
        "Cache-Control": "public, max-age=300, stale-while-revalidate=86400",
        "Access-Control-Allow-Origin": "*",
        "X-Content-Type-Options": "nosniff",
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(script, media_type="text/javascript; charset=utf-8", headers=headers)
