"""What every console page needs: the operator's session and language, forms and their CSRF token."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qsl, urlencode

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from liveloop.console import operators
from liveloop.console.operators import Session
from liveloop.console.pages import HEADERS, render
from liveloop.console.texts import pick
from liveloop.events.live import LiveCampaign
from liveloop.i18n import format as fmt
from liveloop.kit import clock
from liveloop.kit.errors import NotFound
from liveloop.kit.times import parse_iso
from liveloop.settings import Settings
from liveloop.tenants.auth import ACTOR

SESSION_COOKIE = "liveloop_console"
LOGIN_CSRF_COOKIE = "liveloop_login_csrf"
LANG_COOKIE = "liveloop_console_lang"


def secure(settings: Settings) -> bool:
    return settings.base_url.startswith("https://")


def lang_of(request: Request) -> str:
    return pick(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


async def session_of(request: Request, db) -> Session | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    now = clock.now_ms()
    session = await db.read(lambda conn: operators.session_for(conn, token, now=now))
    if session is not None:
        request.scope[ACTOR] = (session.operator.tenant_id, f"operator:{session.operator.id}")  # for the audit
    return session


def to_login(request: Request, settings: Settings) -> Response:
    """Back to the login page; a cookie that named no live session is cleared."""
    expired = SESSION_COOKIE in request.cookies
    response = RedirectResponse("/console/login" + ("?expired=1" if expired else ""), status_code=303,
                                headers=HEADERS)
    if expired:
        response.delete_cookie(SESSION_COOKIE, path="/console", secure=secure(settings), httponly=True,
                               samesite="lax")
    return response


async def read_form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body (the app has already bounded its size); a field given
    several times (checkboxes) keeps each value, joined by newlines."""
    out: dict[str, str] = {}
    for key, value in parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True):
        out[key] = f"{out[key]}\n{value}" if key in out else value
    return out


def csrf_ok(form: dict[str, str], expected: str | None) -> bool:
    given = form.get("csrf", "")
    return bool(expected) and bool(given) and secrets.compare_digest(given.encode(), expected.encode())


def refused(request: Request, session: Session | None = None) -> Response:
    return render("refused.html", lang=lang_of(request), here="/console/campaigns", status=403, session=session)


def not_found(request: Request, session: Session) -> Response:
    return render("not_found.html", lang=lang_of(request), here="/console/campaigns", status=404, session=session)


async def campaign_or_none(campaigns, session: Session, cid: str) -> LiveCampaign | None:
    """The operator's tenant's campaign `cid` (its live state), or None."""
    try:
        return await campaigns.get(session.operator.tenant_id, cid)
    except NotFound:
        return None


async def operator_session(request: Request, db, settings: Settings, *, form: dict[str, str] | None = None,
                           fragment: bool = False) -> Session | Response:
    """The signed-in operator's session, or the answer that says why not: the sign-in page (a bare 401 for
    a `fragment` that htmx polls), or 403 for a `form` without the session's CSRF token."""
    session = await session_of(request, db)
    if session is None:
        return Response(status_code=401) if fragment else to_login(request, settings)
    if form is not None and not csrf_ok(form, session.csrf):
        return refused(request, session)
    return session


async def operator_campaign(request: Request, db, campaigns, settings: Settings, cid: str, *,
                            form: dict[str, str] | None = None,
                            fragment: bool = False) -> tuple[Session, LiveCampaign] | Response:
    """The preamble of every campaign page: `operator_session`, then the operator's tenant's campaign
    `cid`, or the not-found page (a bare 404 for a `fragment`) when the tenant has no such campaign."""
    session = await operator_session(request, db, settings, form=form, fragment=fragment)
    if isinstance(session, Response):
        return session
    live = await campaign_or_none(campaigns, session, cid)
    if live is None:
        return Response(status_code=404) if fragment else not_found(request, session)
    return session, live


PAGE_PARAMS = ("cursor", "before")  # where a cursor-paged list is: after `cursor`, or just before `before`


def page_position(request: Request, prefix: str = "") -> dict[str, str]:
    """The page of a cursor-paged list the request asks for: {"cursor": c}, {"before": c} or {} (the first).
    A page with two lists names each one's parameters with a `prefix` ("groups_cursor")."""
    for name in PAGE_PARAMS:
        value = request.query_params.get(prefix + name)
        if value:
            return {name: value[:200]}
    return {}


def pager(path: str, keep: dict[str, str], *, next_cursor: str | None, previous_cursor: str | None,
          prefix: str = "") -> dict:
    """Links to a list's neighbouring pages (None where there is none), keeping the list's filters `keep`
    (on a page with two lists, the other list's position) and naming its parameters with `prefix`."""
    def link(name: str, cursor: str | None) -> str | None:
        return None if cursor is None else f"{path}?{urlencode({**keep, prefix + name: cursor})}"

    return {"next": link("cursor", next_cursor), "previous": link("before", previous_cursor)}


def instant_text(text: str | None, tz: str, lang: str) -> str:
    """An API time (ISO 8601) as the operator reads it, in the campaign's zone; "" for none."""
    return fmt.instant(parse_iso(text, field="at"), tz, lang) if text else ""
