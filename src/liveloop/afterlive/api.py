"""After the live: each sharer's report (API) and results page (`/t/{token}`, no login) (SPEC 12)."""

from __future__ import annotations

import math
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from liveloop.afterlive import page
from liveloop.afterlive.schemas import SharerReportRead
from liveloop.afterlive.service import SharerReports
from liveloop.afterlive.tokens import read_page_token
from liveloop.campaigns.follow_ups import next_lives
from liveloop.clips import service as clips_service
from liveloop.deps import Campaigns, Db, SettingsDep, SigningDep, component
from liveloop.events.live import LiveCampaign
from liveloop.invites import service as invites_service
from liveloop.kit import clock
from liveloop.kit.db.database import Database
from liveloop.kit.errors import NotFound, Unauthorized
from liveloop.kit.ids import USER_ID_PATTERN
from liveloop.kit.ratelimit import RateLimiter
from liveloop.kit.times import parse_iso
from liveloop.markets.catalogue import get_market
from liveloop.sharelink.targets import ShareTarget, ShareTargets
from liveloop.tenants.auth import current_tenant
from liveloop.tenants.service import Tenant
from liveloop.users import service as users_service

router = APIRouter(tags=["after the live"])
Reports = Annotated[SharerReports, component("sharer_reports")]
ShareTargetsDep = Annotated[ShareTargets, component("share_targets")]
Limits = Annotated[RateLimiter, component("limits")]


@router.get("/v1/campaigns/{cid}/sharers/{uid}/report", response_model=SharerReportRead,
            summary="What a user's sharing achieved, with a thank-you in their language and their page's link")
async def sharer_report(cid: str, uid: Annotated[str, Path(pattern=USER_ID_PATTERN)], campaigns: Campaigns,
                        reports: Reports, tenant: Annotated[Tenant, Depends(current_tenant)]) -> dict:
    live = await campaigns.get(tenant.id, cid)
    [report] = await reports.reports(live.state, live.body, [uid], now=clock.now_ms())
    return report


def _html(body: bytes, status: int, nonce: str, *, retry_after: int | None = None) -> Response:
    # The token is in the URL: no Referer may carry it to the shop's (or an image host's) logs.
    extra = {"retry-after": str(retry_after)} if retry_after is not None else {}
    return Response(body, status_code=status, media_type="text/html; charset=utf-8", headers={
        **extra,
        "cache-control": "no-store",
        "referrer-policy": "no-referrer",
        "x-robots-tag": "noindex",
        "x-content-type-options": "nosniff",
        "content-security-policy": (f"default-src 'none'; img-src https:; style-src 'nonce-{nonce}'; "
                                    f"script-src 'nonce-{nonce}'; base-uri 'none'; form-action 'none'; "
                                    "frame-ancestors 'none'"),
    })


@router.get("/t/{token:path}", include_in_schema=False)
async def results_page(token: str, request: Request, campaigns: Campaigns, db: Db, reports: Reports,
                       signing: SigningDep, settings: SettingsDep, share_targets: ShareTargetsDep,
                       limits: Limits) -> Response:
    nonce = secrets.token_urlsafe(16)
    now = clock.now_ms()
    # Per client address, like the share link: each view costs queries, and forged tokens cost guesses.
    client = request.client
    if client is not None and not limits.allow("results_page", client.host, now):
        return _html(page.too_many_page(request.headers.get("accept-language"), nonce), 429, nonce,
                     retry_after=max(1, math.ceil(limits.retry_after(now))))  # whole seconds, as every 429
    try:
        grant = read_page_token(signing.key, token, now=now)
        live = await campaigns.get(grant.tenant_id, grant.campaign_id)
    except (Unauthorized, NotFound):
        return _html(page.not_found_page(request.headers.get("accept-language"), nonce), 404, nonce)
    tenant_id, user_id, body = grant.tenant_id, grant.user_id, live.body
    [report] = await reports.reports(live.state, body, [user_id], now=now)
    profile, clips, ahead = await db.read(lambda conn: (
        users_service.get(conn, tenant_id=tenant_id, user_id=user_id) or {},
        clips_service.list_clips(conn, tenant_id=tenant_id, campaign_id=body["id"]),
        next_lives(conn, tenant_id=tenant_id, campaign_id=body["id"], now=now)))
    following = await campaigns.get_uncaught(tenant_id, ahead[0]["id"]) if ahead else None
    codes = await _share_codes(db, share_targets, tenant_id, user_id, live, clips, following, now=now)
    base = settings.base_url
    shown = [page.Clip(clip["title"], clip.get("thumbnail_url"), f"{base}/s/{codes[clip['id']]}") for clip in clips]
    next_live = None
    if following is not None:
        nxt = following.body
        next_live = page.NextLive(nxt["title"], parse_iso(nxt["starts_at"], field="starts_at"), nxt["landing_url"],
                                  f"{base}/s/{codes[None]}")
    try:
        tz = get_market(profile.get("market") or body["market"]).timezone
    except NotFound:
        tz = body["timezone"]
    html = page.results_page(report, campaign=body, tz=tz, clips=shown, next_live=next_live, nonce=nonce)
    return _html(html, 200, nonce)


async def _share_codes(db: Database, share_targets: ShareTargets, tenant_id: str, user_id: str, live: LiveCampaign,
                       clips: list[dict], following: LiveCampaign | None, *, now: int) -> dict[str | None, str]:
    """The sharer's codes for each clip (by clip id) and for the next live (None), made on first view.

    Made here rather than with the report: a sharer who never opens the page holds no extra codes.
    The same codes come back on every view (one per user and clip, and per user in the next live).
    """
    def make(conn) -> dict[str | None, str]:
        codes: dict[str | None, str] = {}
        for clip in clips:
            codes[clip["id"]], _clip = clips_service.invite(
                conn, tenant_id=tenant_id, campaign_id=live.body["id"], market=live.body["market"],
                clip_id=clip["id"], user_id=user_id, now=now)
        if following is not None:
            codes[None], _created = invites_service.create(
                conn, tenant_id=tenant_id, campaign_id=following.body["id"], market=following.body["market"],
                user_id=user_id, channel="", code=None, now=now)
        return codes

    if not clips and following is None:
        return {}
    codes = await db.write(make, isolated=True)
    # Durable now: the engines and the share link know them before anyone can click.
    for clip in clips:
        live.state.codes[codes[clip["id"]]] = user_id
        share_targets.remember(ShareTarget(codes[clip["id"]], tenant_id, live.body["id"], user_id, clip["url"]))
    if following is not None:
        following.state.codes[codes[None]] = user_id
        share_targets.remember(ShareTarget(codes[None], tenant_id, following.body["id"], user_id))
    return codes
