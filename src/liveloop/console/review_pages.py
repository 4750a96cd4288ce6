"""The console's review queue: referrals held for review, highest risk first, approved or denied one at
a time or in bulk, through fraud/service.py Reviews as `/v1/campaigns/{cid}/reviews` does. A decision
is the operator's: `decided_by` and the audit log's actor are `operator:<id>`."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from liveloop.console.operators import Session
from liveloop.console.pages import HEADERS, render
from liveloop.console.texts import gettext
from liveloop.console.web import (
    here,
    instant_text,
    lang_of,
    not_found,
    operator_campaign,
    page_position,
    pager,
    read_form,
)
from liveloop.deps import Campaigns, Db, SettingsDep, component
from liveloop.fraud.service import Decision, Reviews
from liveloop.fraud.signals import WEIGHTS, explain
from liveloop.kit import clock
from liveloop.kit.errors import LiveloopError
from liveloop.users.repository import display_names

router = APIRouter(include_in_schema=False)
ReviewsDep = Annotated[Reviews, component("reviews")]

REVIEW_STATUSES = ("open", "approved", "denied")
REVIEWS_PAGE = 50  # reviews a page shows; the others a page at a time, by the API's cursor
NOTE_MAX = 1000


def _signal_texts(signal: dict, lang: str) -> dict:
    """A signal as the operator reads it: its name and detail in their language, each value (an id, an
    address, a domain, a count) isolated so it keeps its own direction inside a right-to-left sentence.
    A detail not written from signals.DETAILS (an older wording) is shown as the API gives it."""
    code = signal["code"]
    explained = explain(signal["detail"])
    name = gettext(lang, f"signal.{code}") if code in WEIGHTS else code
    if explained is None:
        return {"code": code, "name": name, "text": signal["detail"], "translated": False}
    key, values = explained
    text = gettext(lang, f"signal.detail.{key}", **{k: f"\u2068{v}\u2069" for k, v in values.items()})
    return {"code": code, "name": name, "text": text, "translated": True}


def _shown(request: Request) -> str:
    shown = request.query_params.get("status")
    return shown if shown in REVIEW_STATUSES else "open"


def _where(request: Request) -> dict[str, str]:
    """The list the operator is on: its filter (when not the open reviews) and its page."""
    shown = _shown(request)
    return {**({"status": shown} if shown != "open" else {}), **page_position(request)}


async def _reviews_page(request: Request, session: Session, live, db, reviews: Reviews, *, status: int = 200,
                        errors: list[str] | None = None, note: str = "") -> Response:
    tenant_id = session.operator.tenant_id
    cid = live.state.config.id
    lang = lang_of(request)
    tz = live.body["timezone"]
    shown = _shown(request)
    position = page_position(request)
    try:
        page = await reviews.page(tenant_id, cid, status=shown, limit=REVIEWS_PAGE, cursor=position.get("cursor"),
                                  before=position.get("before"))
    except LiveloopError as exc:  # a cursor this console did not give
        if exc.status >= 500:
            raise
        return not_found(request, session)
    rows = page["reviews"]
    people = sorted({u for r in rows for u in (r["referrer"], r["referee"])})
    names = await db.read(lambda conn: display_names(conn, tenant_id=tenant_id, user_ids=people)) if people else {}
    for r in rows:
        r["referrer_name"] = names.get(r["referrer"])
        r["referee_name"] = names.get(r["referee"])
        r["opened"] = instant_text(r["opened_at"], tz, lang)
        r["decided"] = instant_text(r["decided_at"], tz, lang)
        r["signals"] = [_signal_texts(signal, lang) for signal in r["signals"]]
    path = f"/console/campaigns/{quote(cid, safe='')}/reviews"
    where = _where(request)
    return render("reviews.html", lang=lang, here=here(request), session=session, status=status,
                  campaign=live.body, reviews=rows, current=shown, statuses=REVIEW_STATUSES, errors=errors or [],
                  note=note, decided=request.query_params.get("decided"),
                  action=f"{path}/decisions" + (f"?{urlencode(where)}" if where else ""),
                  pages=pager(path, {"status": shown} if shown != "open" else {},
                              next_cursor=page["next_cursor"], previous_cursor=page["previous_cursor"]))


@router.get("/console/campaigns/{cid}/reviews")
async def reviews_page(cid: str, request: Request, db: Db, campaigns: Campaigns, reviews: ReviewsDep,
                       settings: SettingsDep) -> Response:
    found = await operator_campaign(request, db, campaigns, settings, cid)
    if isinstance(found, Response):
        return found
    session, live = found
    return await _reviews_page(request, session, live, db, reviews)


@router.post("/console/campaigns/{cid}/reviews/decisions")
async def decide(cid: str, request: Request, db: Db, campaigns: Campaigns, reviews: ReviewsDep,
                 settings: SettingsDep) -> Response:
    """One review (a row's button: `decide=approve:<id>`) or the checked ones (`decide=approve`, `id`
    given once per checkbox), with the optional note; decided by the operator, as the audit log says."""
    form = await read_form(request)
    found = await operator_campaign(request, db, campaigns, settings, cid, form=form)
    if isinstance(found, Response):
        return found
    session, live = found
    lang = lang_of(request)
    note = form.get("note", "").strip()
    decision, _, one = form.get("decide", "").partition(":")
    ids = [one] if one else [i for i in form.get("id", "").split("\n") if i]
    errors: list[str] = []
    if decision not in ("approve", "deny"):
        errors.append(gettext(lang, "reviews.bad_decision"))
    elif not ids:
        errors.append(gettext(lang, "reviews.none_selected"))
    elif len(note) > NOTE_MAX:
        errors.append(gettext(lang, "reviews.note_too_long", max=NOTE_MAX))
    if errors:
        return await _reviews_page(request, session, live, db, reviews, status=422, errors=errors, note=note)
    decisions = [Decision(i, rid[:64], decision) for i, rid in enumerate(ids[:1000])]
    try:
        answer = await reviews.decide(session.operator.tenant_id, cid, decisions, note=note or None,
                                      decided_by=f"operator:{session.operator.id}", now=clock.now_ms())
    except LiveloopError as exc:
        if exc.status >= 500:
            raise
        return await _reviews_page(request, session, live, db, reviews, status=exc.status, errors=[exc.message],
                                   note=note)
    if answer["rejected"]:
        return await _reviews_page(request, session, live, db, reviews, status=422, note=note,
                                   errors=[r["error"]["message"] for r in answer["rejected"]])
    # Back to the page the operator was on (the queue's position is a row's, so it holds as rows leave it).
    query = urlencode({"decided": answer["decided"], **_where(request)})
    back = f"/console/campaigns/{quote(cid, safe='')}/reviews?{query}"
    return RedirectResponse(back, status_code=303, headers=HEADERS)
