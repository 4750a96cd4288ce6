"""The console's clips page and the campaign after its live: the clips sharers pass on (added and
listed through clips/service.py as `/v1/campaigns/{cid}/clips` does), and each sharer's report: when
it is due, whom it was sent to, and the thank-you page it links to."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from liveloop.afterlive import plan
from liveloop.afterlive.service import SharerReports
from liveloop.afterlive.sharers import sharers
from liveloop.campaigns import service as campaigns_service
from liveloop.clips import service as clips_service
from liveloop.clips.schemas import ClipCreate
from liveloop.console import list_pages
from liveloop.console.operators import Session
from liveloop.console.pages import HEADERS, render
from liveloop.console.web import (
    here,
    lang_of,
    operator_campaign,
    page_position,
    pager,
    read_form,
)
from liveloop.deps import Campaigns, Db, SettingsDep, component
from liveloop.events.live import LiveCampaign
from liveloop.i18n import format as fmt
from liveloop.kit import clock
from liveloop.kit.errors import LiveloopError
from liveloop.kit.times import parse_iso
from liveloop.tenants.service import get_tenant
from liveloop.users.repository import display_names
from liveloop.validation_messages import field_and_message

router = APIRouter(include_in_schema=False)
Reports = Annotated[SharerReports, component("sharer_reports")]
CLIP_FIELDS = ("id", "title", "url", "thumbnail_url")
SHARERS_PAGE = 50  # sharers a page shows; the others a page at a time


async def _page(request: Request, session: Session, live: LiveCampaign, db, reports: SharerReports, *,
                status: int = 200, form: dict | None = None, errors: dict | None = None) -> Response:
    tenant_id = session.operator.tenant_id
    state = live.state
    cid = state.config.id
    now = clock.now_ms()
    lang = lang_of(request)
    body = live.body
    tz = body["timezone"]
    who = sharers(state)
    # The sharers are the live state's (sorted by user id): a keyset page of them, by the user id at its edge.
    shown = list_pages.page([{"user_id": uid} for uid in who], key="user_id", limit=SHARERS_PAGE,
                            position=page_position(request))
    page_ids = [row["user_id"] for row in shown.rows]

    def read(conn) -> tuple[list[dict], dict | None, dict[str, str | None]]:
        return (clips_service.list_clips(conn, tenant_id=tenant_id, campaign_id=cid),
                plan.sharer_reports_sent(conn, tenant_id=tenant_id, campaign_id=cid),
                display_names(conn, tenant_id=tenant_id, user_ids=page_ids))

    clips, job, names = await db.read(read)
    for clip in clips:
        clip["added"] = fmt.instant(parse_iso(clip["created_at"], field="created_at"), tz, lang)
    served = job["served"] if job else {}
    due = plan.report_due(body)
    rows = [{"user_id": uid, "name": names.get(uid), "clicks": state.referrers[uid].clicks,
             "referees": state.referrers[uid].referees,
             "sent": fmt.instant(served[uid], tz, lang) if uid in served else None,
             "page_url": reports.page_url(state, uid, now=now)} for uid in page_ids]
    after = {
        "status": campaigns_service.status(body, now),
        "ends": fmt.instant(plan.ends_at(body), tz, lang),
        "due": fmt.instant(due, tz, lang),
        "due_passed": now >= due,
        "job": None if job is None else {"status": job["status"], "failures": job["failures"],
                                         "last_error": job["last_error"]},
        "sharers": len(who), "sent": len(served), "rows": rows,
    }
    return render("clips.html", lang=lang, here=here(request), session=session, status=status, campaign=body,
                  clips=clips, after=after, form=form or {}, errors=errors or {},
                  pages=pager(f"/console/campaigns/{quote(cid, safe='')}/clips", {},
                              next_cursor=shown.next[0] if shown.next else None,
                              previous_cursor=shown.previous[0] if shown.previous else None),
                  added=request.query_params.get("added"))


@router.get("/console/campaigns/{cid}/clips")
async def clips_page(cid: str, request: Request, db: Db, campaigns: Campaigns, reports: Reports,
                     settings: SettingsDep) -> Response:
    found = await operator_campaign(request, db, campaigns, settings, cid)
    if isinstance(found, Response):
        return found
    session, live = found
    return await _page(request, session, live, db, reports)


@router.post("/console/campaigns/{cid}/clips")
async def add_clip(cid: str, request: Request, db: Db, campaigns: Campaigns, reports: Reports,
                   settings: SettingsDep) -> Response:
    """Adds a clip as POST /v1/campaigns/{cid}/clips does; a refusal is shown on the field it is about."""
    raw = await read_form(request)
    found = await operator_campaign(request, db, campaigns, settings, cid, form=raw)
    if isinstance(found, Response):
        return found
    session, live = found
    form = {k: raw.get(k, "").strip() for k in CLIP_FIELDS}
    tenant_id = session.operator.tenant_id
    errors: dict[str, list[str]] = {}
    try:
        body = ClipCreate.model_validate({k: v for k, v in form.items() if v or k != "thumbnail_url"})
        tenant = await db.read(lambda conn: get_tenant(conn, tenant_id))
        clips_service.check(body, allowed_hosts=tenant.allowed_hosts)
        now = clock.now_ms()
        await db.write(lambda conn: clips_service.create(conn, tenant_id=tenant_id, campaign_id=cid, body=body,
                                                         now=now), isolated=True)
    except ValidationError as exc:
        for field, message in (field_and_message(e) for e in exc.errors()):
            errors.setdefault((field or "id").split(".")[0], []).append(message)
    except LiveloopError as exc:
        if exc.status >= 500:
            raise
        errors.setdefault(exc.field if exc.field in CLIP_FIELDS else "id", []).append(exc.message)
    if errors:
        return await _page(request, session, live, db, reports, status=422, form=form, errors=errors)
    return RedirectResponse(f"/console/campaigns/{quote(cid, safe='')}/clips?{urlencode({'added': form['id']})}",
                            status_code=303, headers=HEADERS)
