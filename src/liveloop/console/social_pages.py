"""The host's question queue in the console's room view (questions/service.py, as
`/v1/campaigns/{cid}/questions` does), and a campaign's group buys and circles (groups/ and
circles/ services, read only)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from liveloop.circles.service import Circles
from liveloop.console import list_pages
from liveloop.console.pages import HEADERS, render
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
from liveloop.groups.service import Groups
from liveloop.kit import clock
from liveloop.kit.errors import Invalid, LiveloopError, NotFound
from liveloop.questions import service as questions
from liveloop.realtime.room import RoomHub
from liveloop.users.repository import display_names

router = APIRouter(include_in_schema=False)
Room = Annotated[RoomHub, component("room")]
GroupsDep = Annotated[Groups, component("groups")]
CirclesDep = Annotated[Circles, component("circles")]

QUESTIONS_PAGE = 20  # questions the room view lists; the others a page at a time
SOCIAL_PAGE = 50  # group buys, and circles, a page shows; the others a page at a time


async def question_queue(db, tenant_id: str, cid: str, tz: str, lang: str, position: dict[str, str]) -> dict:
    """A page of the open questions, priority holders first, with the askers' names (the room view's block):
    the first, or the one `position` (console/web.py page_position) names. A position this console did not
    give reads as the first page (the block is polled: it must always answer)."""
    def read(conn) -> dict:
        try:
            return questions.open_page(conn, tenant_id=tenant_id, campaign_id=cid, limit=QUESTIONS_PAGE, **position)
        except Invalid:
            return questions.open_page(conn, tenant_id=tenant_id, campaign_id=cid, limit=QUESTIONS_PAGE)

    found = await db.read(read)
    shown = found["questions"]
    askers = sorted({q["user_id"] for q in shown})
    names = await db.read(lambda conn: display_names(conn, tenant_id=tenant_id, user_ids=askers)) if askers else {}
    for q in shown:
        q["name"] = names.get(q["user_id"]) or q["user_id"]
        q["asked"] = instant_text(q["asked_at"], tz, lang)
    path = f"/console/campaigns/{quote(cid, safe='')}"
    at = f"?{urlencode(position)}" if position else ""
    return {"items": shown, "open": found["open"], "poll": f"{path}/questions{at}", "at": at,
            "pages": pager(f"{path}/questions", {}, next_cursor=found["next_cursor"],
                           previous_cursor=found["previous_cursor"]),
            "room_pages": pager(f"{path}/room", {}, next_cursor=found["next_cursor"],
                                previous_cursor=found["previous_cursor"])}


@router.get("/console/campaigns/{cid}/questions")
async def questions_block(cid: str, request: Request, db: Db, campaigns: Campaigns, settings: SettingsDep) -> Response:
    """The room view's question queue (the page asked for), polled by htmx like the viewers in the room."""
    found = await operator_campaign(request, db, campaigns, settings, cid, fragment=True)
    if isinstance(found, Response):
        return found
    session, live = found
    lang = lang_of(request)
    return render("questions.html", lang=lang, here=here(request), session=session, campaign=live.body,
                  questions=await question_queue(db, session.operator.tenant_id, cid, live.body["timezone"], lang,
                                                 page_position(request)))


@router.post("/console/campaigns/{cid}/questions/{qid}/answer")
async def answer_question(cid: str, qid: str, request: Request, db: Db, campaigns: Campaigns, room: Room,
                          settings: SettingsDep) -> Response:
    """Marks a question answered as POST /v1/campaigns/{cid}/questions/{qid}/answer does; htmx gets the
    queue's page back, a plain form post goes back to the room view. Answered already: the page without it."""
    found = await operator_campaign(request, db, campaigns, settings, cid, form=await read_form(request))
    if isinstance(found, Response):
        return found
    session, live = found
    tenant_id = session.operator.tenant_id
    now = clock.now_ms()
    try:
        await db.write(lambda conn: questions.answer(conn, tenant_id=tenant_id, campaign_id=cid, question_id=qid,
                                                     now=now), isolated=True)
    except NotFound:
        return not_found(request, session)
    except LiveloopError as exc:
        if exc.status != 409:
            raise
    room.touch(tenant_id, cid)
    position = page_position(request)
    room_url = f"/console/campaigns/{quote(cid, safe='')}/room" + (f"?{urlencode(position)}" if position else "")
    if request.headers.get("hx-request") != "true":
        return RedirectResponse(room_url, status_code=303, headers=HEADERS)
    lang = lang_of(request)
    return render("questions.html", lang=lang, here=room_url, session=session, campaign=live.body,
                  questions=await question_queue(db, tenant_id, cid, live.body["timezone"], lang, position))


# -- group buys and circles -----------------------------------------------------------------------------

@router.get("/console/campaigns/{cid}/social")
async def social_page(cid: str, request: Request, db: Db, campaigns: Campaigns, groups: GroupsDep,
                      circles: CirclesDep, settings: SettingsDep) -> Response:
    found = await operator_campaign(request, db, campaigns, settings, cid)
    if isinstance(found, Response):
        return found
    session, live = found
    tenant_id = session.operator.tenant_id
    lang = lang_of(request)
    tz = live.body["timezone"]
    all_groups = await groups.all(tenant_id, cid)
    all_circles = await circles.all(tenant_id, cid)
    # Two lists on one page, each paged by its own parameters (groups_cursor, circles_before, ...): the rows are
    # the live state's, so each page is a keyset over the service's order (console/list_pages.py).
    at_groups, at_circles = page_position(request, "groups_"), page_position(request, "circles_")
    group_page = list_pages.page(all_groups, key="id", limit=SOCIAL_PAGE, position=at_groups)
    circle_page = list_pages.page(all_circles, key="id", limit=SOCIAL_PAGE, position=at_circles)
    shown_groups, shown_circles = group_page.rows, circle_page.rows
    people = sorted({g["leader"] for g in shown_groups} | {c["owner"] for c in shown_circles})
    names = await db.read(lambda conn: display_names(conn, tenant_id=tenant_id, user_ids=people)) if people else {}
    for g in shown_groups:
        g["leader_name"] = names.get(g["leader"])
        g["ends"] = instant_text(g["ended_at"] or g["expires_at"], tz, lang)
    for c in shown_circles:
        c["owner_name"] = names.get(c["owner"])
    path = f"/console/campaigns/{quote(cid, safe='')}/social"

    def pages(found, prefix: str, other: dict[str, str], other_prefix: str) -> dict:
        return pager(path, {other_prefix + k: v for k, v in other.items()}, prefix=prefix,
                     next_cursor=found.next[0] if found.next else None,
                     previous_cursor=found.previous[0] if found.previous else None)

    return render("social.html", lang=lang, here=here(request), session=session, campaign=live.body,
                  groups=shown_groups, circles=shown_circles,
                  group_count=len(all_groups), circle_count=len(all_circles),
                  group_pages=pages(group_page, "groups_", at_circles, "circles_"),
                  circle_pages=pages(circle_page, "circles_", at_groups, "groups_"))
