"""/console: the operators' web console (server-rendered pages, SPEC.md section 15).

Operators log in with an email and password (`liveloop operator add`); a session is an HttpOnly,
SameSite=Lax cookie whose token is stored hashed in the database (console/operators.py), so every
process knows it and logging out ends it everywhere. Every form carries a CSRF token: the session's,
or before login a double-submit cookie's; a post without it is refused with 403. The browser gets
no API key: the room view reads the room stream with a room token minted here.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
from decimal import Decimal
from html import escape
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from liveloop.campaigns import service as campaigns_service
from liveloop.console import (
    campaign_form,
    clip_pages,
    list_pages,
    operators,
    queries,
    review_pages,
    social_pages,
    webhook_pages,
)
from liveloop.console.operators import Session
from liveloop.console.pages import HEADERS, STATIC, render, static_file
from liveloop.console.texts import CONSOLE_LANGS, gettext
from liveloop.console.web import (
    LANG_COOKIE,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    csrf_ok,
    here,
    lang_of,
    not_found,
    operator_campaign,
    operator_session,
    page_position,
    pager,
    read_form,
    refused,
    secure,
)
from liveloop.deps import Campaigns, Db, Fx, SettingsDep, SigningDep, component
from liveloop.draws import periods as draw_periods
from liveloop.draws.notices import rule_periods
from liveloop.draws.runner import DrawRunner
from liveloop.engine.model import DrawRule
from liveloop.i18n import format as fmt
from liveloop.invites.repository import holder_times, holders
from liveloop.kit import clock
from liveloop.kit.errors import LiveloopError
from liveloop.kit.times import parse_iso
from liveloop.realtime.room_tokens import sign_room_token
from liveloop.realtime.tokens import MAX_TTL_SECONDS, MIN_TTL_SECONDS
from liveloop.reports import views as report_views
from liveloop.settings import Settings
from liveloop.tenants.auth import ACTOR
from liveloop.tenants.service import get_tenant
from liveloop.users.repository import display_names

router = APIRouter(include_in_schema=False)
router.include_router(webhook_pages.router)
router.include_router(clip_pages.router)
router.include_router(review_pages.router)
router.include_router(social_pages.router)

# -- log in and out -------------------------------------------------------------------------------

@router.get("/console")
async def console_home() -> Response:
    return RedirectResponse("/console/campaigns", status_code=303, headers=HEADERS)


def _login_page(request: Request, settings: Settings, *, status: int = 200, error: str | None = None,
                email: str = "", headers: dict | None = None) -> Response:
    lang = lang_of(request)
    notice = None
    if request.query_params.get("expired"):
        notice = gettext(lang, "login.expired")
    elif request.query_params.get("out"):
        notice = gettext(lang, "login.signed_out")
    csrf = secrets.token_urlsafe(32)
    response = render("login.html", lang=lang, here="/console/login", status=status, csrf=csrf, error=error,
                      email=email, notice=notice, headers=headers)
    response.set_cookie(LOGIN_CSRF_COOKIE, csrf, path="/console/login", httponly=True, samesite="strict",
                        secure=secure(settings))
    return response


@router.get("/console/login")
async def login_page(request: Request, settings: SettingsDep) -> Response:
    return _login_page(request, settings)


@router.post("/console/login")
async def login(request: Request, db: Db, settings: SettingsDep) -> Response:
    form = await read_form(request)
    if not csrf_ok(form, request.cookies.get(LOGIN_CSRF_COOKIE)):
        return refused(request)
    lang = lang_of(request)
    email = form.get("email", "")[:320]
    key = operators.failure_key(email, request.client.host if request.client else "")
    now = clock.now_ms()
    wait_ms = await db.read(lambda conn: operators.retry_after_ms(conn, key=key, now=now))
    if wait_ms > 0:
        seconds = -(-wait_ms // 1000)
        return _login_page(request, settings, status=429, email=email, headers={"Retry-After": str(seconds)},
                           error=gettext(lang, "login.too_many", minutes=-(-seconds // 60)))
    found = await db.read(lambda conn: operators.find_operator(conn, email))
    password = form.get("password", "")
    if not await run_in_threadpool(operators.password_matches, found, password):
        await db.write(lambda conn: operators.record_failure(conn, key=key, now=now))
        return _login_page(request, settings, status=401, email=email, error=gettext(lang, "login.failed"))
    operator = found[0]

    def open_(conn):
        operators.clear_failures(conn, key=key)
        return operators.open_session(conn, operator=operator, now=now)

    token, _session_ = await db.write(open_)
    request.scope[ACTOR] = (operator.tenant_id, f"operator:{operator.id}")  # the login, for the audit
    response = RedirectResponse("/console/campaigns", status_code=303, headers=HEADERS)
    response.set_cookie(SESSION_COOKIE, token, max_age=operators.SESSION_SECONDS, path="/console", httponly=True,
                        samesite="lax", secure=secure(settings))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console/login")
    return response


@router.post("/console/logout")
async def logout(request: Request, db: Db, settings: SettingsDep) -> Response:
    session = await operator_session(request, db, settings, form=await read_form(request))
    if isinstance(session, Response):
        return session
    token = request.cookies[SESSION_COOKIE]
    await db.write(lambda conn: operators.close_session(conn, token))
    response = RedirectResponse("/console/login?out=1", status_code=303, headers=HEADERS)
    response.delete_cookie(SESSION_COOKIE, path="/console", secure=secure(settings), httponly=True, samesite="lax")
    return response


@router.get("/console/lang/{lang}")
async def choose_language(lang: str, request: Request, settings: SettingsDep) -> Response:
    """Remembers the operator's language (a preference, not a state change: no CSRF token)."""
    target = request.query_params.get("next", "/console/campaigns")
    if not target.startswith("/console") or target.startswith("//"):
        target = "/console/campaigns"
    response = RedirectResponse(target, status_code=303, headers=HEADERS)
    if lang in CONSOLE_LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, path="/console", samesite="lax",
                            secure=secure(settings))
    return response


@router.get("/console/static/{name}")
async def static(name: str) -> Response:
    if name not in STATIC:
        return Response(status_code=404)
    return Response(static_file(name), media_type=STATIC[name],
                    headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"})


# -- campaigns --------------------------------------------------------------------------------------

LIST_STATUSES = ("live", "scheduled", "ended", "cancelled")
LIST_PAGE = 50  # campaigns a section shows; more a page at a time (the API's cursor)


@router.get("/console/campaigns")
async def campaigns_page(request: Request, db: Db, settings: SettingsDep) -> Response:
    """The tenant's campaigns by status, each section a page of `GET /v1/campaigns?status=` (the same service);
    `?status=X&cursor=C` shows the next page of one section."""
    session = await operator_session(request, db, settings)
    if isinstance(session, Response):
        return session
    now = clock.now_ms()
    tenant_id = session.operator.tenant_id
    only = request.query_params.get("status")
    statuses = (only,) if only in LIST_STATUSES else LIST_STATUSES
    cursor = request.query_params.get("cursor") if only in LIST_STATUSES else None

    def pages(conn) -> dict[str, dict]:
        return {status: campaigns_service.page(conn, tenant_id=tenant_id, status_is=status, limit=LIST_PAGE,
                                               cursor=cursor, now=now) for status in statuses}

    try:
        found = await db.read(pages)
    except LiveloopError as exc:
        if exc.status >= 500:
            raise
        return not_found(request, session)
    lang = lang_of(request)
    sections = [{"status": status, "rows": [_row(c, lang) for c in found[status]["campaigns"]],
                 "more": found[status]["next_cursor"]}
                for status in statuses if status != "cancelled" or found[status]["campaigns"]]
    return render("campaigns.html", lang=lang, here=here(request), session=session, sections=sections,
                  paged=cursor is not None, created=request.query_params.get("created"))


def _row(body: dict, lang: str) -> dict:
    """A campaign as the list shows it: its window in its own time zone, written the operator's way."""
    def when(field: str) -> str:
        return fmt.instant(parse_iso(body[field], field=field), body["timezone"], lang)

    return {"id": body["id"], "title": body["title"], "market": body["market"], "starts": when("starts_at"),
            "ends": when("ends_at")}


def _new_page(request: Request, session: Session, *, form: dict, errors: dict, general: list,
              status: int = 200) -> Response:
    return render("new_campaign.html", lang=lang_of(request), here="/console/campaigns/new", session=session,
                  status=status, form=form, errors=errors, general=general, markets=campaign_form.markets())


@router.get("/console/campaigns/new")
async def new_campaign_page(request: Request, db: Db, settings: SettingsDep) -> Response:
    session = await operator_session(request, db, settings)
    if isinstance(session, Response):
        return session
    return _new_page(request, session, form={}, errors={}, general=[])


@router.post("/console/campaigns")
async def create_campaign(request: Request, db: Db, campaigns: Campaigns, fx: Fx, settings: SettingsDep) -> Response:
    raw = await read_form(request)
    session = await operator_session(request, db, settings, form=raw)
    if isinstance(session, Response):
        return session
    form = {k: v for k, v in raw.items() if k in campaign_form.FIELDS}
    tenant_id = session.operator.tenant_id
    tenant = await db.read(lambda conn: get_tenant(conn, tenant_id))
    try:
        stored = await campaign_form.create(db, campaigns, fx, tenant, form)
    except campaign_form.Refused as exc:
        return _new_page(request, session, form=form, errors=exc.by_field, general=exc.general, status=422)
    return RedirectResponse(f"/console/campaigns?created={stored['id']}", status_code=303, headers=HEADERS)


# -- a live campaign's room -------------------------------------------------------------------------

CHART_MINUTES = 30  # the joins-per-minute chart's span
K_STEP_MS = 5 * 60_000  # the K-factor chart: one point per 5 minutes since the campaign's start,
K_POINTS = 36  # the last 3 hours of them at most


@router.get("/console/campaigns/{cid}/room")
async def room_page(cid: str, request: Request, db: Db, campaigns: Campaigns, signing: SigningDep,
                    settings: SettingsDep) -> Response:
    found = await operator_campaign(request, db, campaigns, settings, cid)
    if isinstance(found, Response):
        return found
    session, live = found
    now = clock.now_ms()
    tenant_id = session.operator.tenant_id
    # The page reads the room stream itself, with a token for this room only, valid as long as the session.
    ttl = max(MIN_TTL_SECONDS, min(MAX_TTL_SECONDS, (session.expires_at - now) // 1000))
    token, _expires = sign_room_token(signing.key, tenant_id=tenant_id, campaign_id=cid, ttl_seconds=ttl, now=now)
    since = now // 60_000 * 60_000 - (CHART_MINUTES - 1) * 60_000
    joins = await db.read(lambda conn: queries.joins_per_minute(conn, tenant_id=tenant_id, campaign_id=cid,
                                                                since=since))
    k_seed = await _k_seed(db, live, tenant_id, cid, now)
    lang = lang_of(request)
    names = ("room.status.connecting", "room.status.live", "room.status.lost", "room.no_name", "room.no_draws",
             "room.clicks", "room.joins", "room.reservations", "room.orders", "room.joins_per_minute",
             "room.k_factor")
    return render("room.html", lang=lang, here=here(request), session=session, campaign=live.body,
                  stream_url=f"/v1/campaigns/{quote(cid, safe='')}/room-stream?token={token}",
                  k_factor=await _k_factor(db, live, tenant_id, cid), viewers=await _viewers(db, live, tenant_id),
                  questions=await social_pages.question_queue(db, tenant_id, cid, live.body["timezone"], lang,
                                                              page_position(request)),
                  seed={"since": since, "minutes": CHART_MINUTES, "joins": {str(m): n for m, n in joins.items()},
                        "k": k_seed},
                  texts={name: gettext(lang, name) for name in names})


VIEWERS_SHOWN = 12  # names the room view lists next to the count


async def _viewers(db, live, tenant_id: str) -> dict:
    """Viewers in the room now (open presences of the campaign's state): how many, and the first few by name."""
    present = sorted(live.state.present)
    shown = present[:VIEWERS_SHOWN]
    names = await db.read(lambda conn: display_names(conn, tenant_id=tenant_id, user_ids=shown)) if shown else {}
    return {"count": len(present), "names": [names.get(u) or u for u in shown],
            "more": len(present) - len(shown)}


@router.get("/console/campaigns/{cid}/viewers")
async def viewers(cid: str, request: Request, db: Db, campaigns: Campaigns, settings: SettingsDep) -> Response:
    """The room view's viewers in the room, polled by htmx (presence changes reach no stream message)."""
    found = await operator_campaign(request, db, campaigns, settings, cid, fragment=True)
    if isinstance(found, Response):
        return found
    session, live = found
    return render("viewers.html", lang=lang_of(request), here=here(request), session=session,
                  campaign=live.body, viewers=await _viewers(db, live, session.operator.tenant_id))


async def _k_seed(db, live, tenant_id: str, cid: str, now: int) -> dict:
    """The K-factor chart's history, read from the log once when the page opens (the page then moves its last
    point with the 10-second poll): 5-minute periods from the campaign's start, the last K_POINTS of them."""
    start = live.state.config.starts_at // K_STEP_MS * K_STEP_MS
    current = now // K_STEP_MS * K_STEP_MS
    since = max(start, current - (K_POINTS - 1) * K_STEP_MS) if start <= current else current
    points = (current - since) // K_STEP_MS + 1

    def read(conn) -> tuple[list[int], list[int]]:
        return (queries.referred_times(conn, tenant_id=tenant_id, campaign_id=cid),
                holder_times(conn, tenant_id=tenant_id, campaign_id=cid))

    referred, held = await db.read(read)
    return {"since": since, "step": K_STEP_MS, "points": K_POINTS,
            "values": queries.k_series(referred, held, since=since, step=K_STEP_MS, points=points)}


async def _k_factor(db, live, tenant_id: str, cid: str) -> str:
    inviters = await db.read(lambda conn: holders(conn, tenant_id=tenant_id, campaign_id=cid))
    return f"{live.state.referred.users / inviters:.2f}" if inviters else "–"


@router.get("/console/campaigns/{cid}/k-factor")
async def k_factor(cid: str, request: Request, db: Db, campaigns: Campaigns, settings: SettingsDep) -> Response:
    """The room view's K-factor, polled by htmx (it needs the invite holders, which the stream does not carry)."""
    found = await operator_campaign(request, db, campaigns, settings, cid, fragment=True)
    if isinstance(found, Response):
        return found
    session, live = found
    value = await _k_factor(db, live, session.operator.tenant_id, cid)
    return HTMLResponse(escape(value), headers=HEADERS)


# -- draws ------------------------------------------------------------------------------------------

DrawsDep = Annotated[DrawRunner, component("draws")]


async def _draws_page(request: Request, session: Session, live, db, draws: DrawRunner, signing, settings: Settings, *,
                      status: int = 200, error: str | None = None, ran: tuple[str, str] | None = None) -> Response:
    """Each draw rule's periods: window, status, the seed hash committed to, and the result once run."""
    lang = lang_of(request)
    tenant_id = session.operator.tenant_id
    cid = live.state.config.id
    tz = live.body["timezone"]
    now = clock.now_ms()
    rules = []
    for rule in (r for r in live.state.config.rules if isinstance(r, DrawRule)):
        results = await draws.results(tenant_id, cid, rule.id)
        winners = sorted({u for r in results.values() for u in r.winners})
        names = await db.read(lambda conn, ids=winners: display_names(conn, tenant_id=tenant_id, user_ids=ids)) \
            if winners else {}
        periods = []
        for p in rule_periods(live, rule):
            result = results.get(p.name)
            periods.append({
                "name": p.name, "status": p.status(now),
                "window": f"{fmt.instant(p.starts_at, tz, lang)} – {fmt.instant(p.ends_at, tz, lang)}",
                "seed_hash": draw_periods.seed_hash(draw_periods.seed(
                    signing.key, tenant_id=tenant_id, campaign_id=cid, rule_id=rule.id, period=p.name)),
                "result": None if result is None else {
                    "seed": result.seed, "entrants": result.entrants, "entrants_hash": result.entrants_hash,
                    "winners": [names.get(u) or u for u in result.winners]},
            })
        rules.append({"id": rule.id, "winners": rule.winners, "periods": periods})
    return render("draws.html", lang=lang, here=here(request), session=session, status=status, campaign=live.body,
                  rules=rules, error=error, ran=ran, base_url=settings.base_url)


@router.get("/console/campaigns/{cid}/draws")
async def draws_page(cid: str, request: Request, db: Db, campaigns: Campaigns, draws: DrawsDep,
                     signing: SigningDep, settings: SettingsDep) -> Response:
    found = await operator_campaign(request, db, campaigns, settings, cid)
    if isinstance(found, Response):
        return found
    session, live = found
    ran = (request.query_params.get("period", ""), request.query_params.get("rule", "")) \
        if request.query_params.get("ran") else None
    return await _draws_page(request, session, live, db, draws, signing, settings, ran=ran)


@router.post("/console/campaigns/{cid}/draws/{rule_id}/run")
async def run_draw(cid: str, rule_id: str, request: Request, db: Db, campaigns: Campaigns, draws: DrawsDep,
                   signing: SigningDep, settings: SettingsDep) -> Response:
    """Runs a period as POST /v1/campaigns/{cid}/draws/{rule_id}/run does (the same runner)."""
    form = await read_form(request)
    found = await operator_campaign(request, db, campaigns, settings, cid, form=form)
    if isinstance(found, Response):
        return found
    session, live = found
    period = form.get("period") or None
    try:
        await draws.run(session.operator.tenant_id, cid, rule_id, period, secret=signing.key, now=clock.now_ms())
    except LiveloopError as exc:
        if exc.status >= 500:
            raise
        return await _draws_page(request, session, live, db, draws, signing, settings, status=exc.status,
                                 error=exc.message)
    query = urlencode({"ran": 1, "rule": rule_id, "period": period or "campaign"})
    return RedirectResponse(f"/console/campaigns/{quote(cid, safe='')}/draws?{query}", status_code=303,
                            headers=HEADERS)


# -- the post-live report ---------------------------------------------------------------------------

REWARD_STATUSES = ("available", "pending", "declined", "void")
FUNNEL = (("clicks", "room.clicks"), ("users", "report.users"), ("reservations", "room.reservations"),
          ("joins", "room.joins"), ("orders", "room.orders"))


@router.get("/console/campaigns/{cid}/report")
async def report_page(cid: str, request: Request, db: Db, campaigns: Campaigns, settings: SettingsDep) -> Response:
    """The campaign's report as GET /v1/campaigns/{cid}/report gives it, with charts."""
    found = await operator_campaign(request, db, campaigns, settings, cid)
    if isinstance(found, Response):
        return found
    session, live = found
    tenant_id = session.operator.tenant_id
    referrers = list(live.state.referrers)

    def people(conn) -> tuple[dict[str, str | None], int]:
        return (display_names(conn, tenant_id=tenant_id, user_ids=referrers),
                holders(conn, tenant_id=tenant_id, campaign_id=cid))

    names, inviters = await db.read(people)
    report = report_views.report(live.state, names=names, inviters=inviters)
    lang = lang_of(request)

    def t(msgid: str, **values) -> str:
        return gettext(lang, msgid, **values)

    currency = report["currency"]
    budget = report["budget"]
    charts = {
        "funnel": {"labels": [t(label) for _key, label in FUNNEL],
                   "series": [{"label": t("report.referred"), "data": [report["referred"][k] for k, _ in FUNNEL]},
                              {"label": t("report.organic"), "data": [report["organic"][k] for k, _ in FUNNEL]}]},
        "rewards": {"labels": [t(f"reward.status.{s}") for s in REWARD_STATUSES],
                    "data": [report["rewards"].get(s, 0) for s in REWARD_STATUSES]},
    }
    used = fmt.money(budget["used"] or "0", currency, lang)
    return render("report.html", lang=lang, here=here(request), session=session, campaign=live.body, report=report,
                  charts=charts, watch_minutes=report["room"]["watch_seconds"] // 60,
                  budget_text=t("report.budget", used=used, total=fmt.money(budget["total"], currency, lang))
                  if budget["total"] is not None else t("report.no_budget", used=used),
                  gmv=lambda value: fmt.money(value, currency, lang))


# -- referrers --------------------------------------------------------------------------------------

# Sortable columns and their headings; rank sorts up, the counts down, unless the operator flips them.
REFERRER_COLUMNS = (("rank", "room.rank"), ("display_name", "room.name"), ("clicks", "room.clicks"),
                    ("referees", "report.referees"), ("joins", "room.joins"), ("reservations", "room.reservations"),
                    ("orders", "room.orders"), ("gmv", "room.gmv"), ("rewards", "referrers.rewards"))
_SORTABLE = {key for key, _label in REFERRER_COLUMNS}


REFERRERS_PAGE = 50  # referrers a page shows; the others a page at a time


async def _referrer_rows(db, live, tenant_id: str, cid: str, *, named: bool = True) -> tuple[list[dict], str]:
    """The campaign's referrers as the report counts them; with their display names unless not `named`."""
    referrers = list(live.state.referrers)
    names = await db.read(lambda conn: display_names(conn, tenant_id=tenant_id, user_ids=referrers)) \
        if named and referrers else {}
    report = report_views.report(live.state, names=names, inviters=0)
    return report["referrers"], report["currency"]


def _sorted(rows: list[dict], key: str, descending: bool) -> list[dict]:
    def value(row: dict):
        v = row[key]
        if key == "gmv":
            return Decimal(v or "0")
        if key == "display_name":
            return (v or row["user_id"]).casefold()
        return v if v is not None else float("inf")

    # The user id breaks ties (and orders the same way as the column), so the order is total: pages by keyset.
    return sorted(rows, key=lambda row: (value(row), row["user_id"]), reverse=descending)


@router.get("/console/campaigns/{cid}/referrers")
async def referrers_page(cid: str, request: Request, db: Db, campaigns: Campaigns, settings: SettingsDep) -> Response:
    found = await operator_campaign(request, db, campaigns, settings, cid)
    if isinstance(found, Response):
        return found
    session, live = found
    tenant_id = session.operator.tenant_id
    key = request.query_params.get("sort", "rank")
    key = key if key in _SORTABLE else "rank"
    descending = request.query_params.get("dir", "asc" if key in ("rank", "display_name") else "desc") == "desc"
    # Names are read for every referrer only to sort by them; else for the page shown.
    rows, currency = await _referrer_rows(db, live, tenant_id, cid, named=key == "display_name")
    shown = list_pages.page(_sorted(rows, key, descending), key="user_id", limit=REFERRERS_PAGE,
                            position=page_position(request))
    if key != "display_name" and shown.rows:
        ids = [row["user_id"] for row in shown.rows]
        names = await db.read(lambda conn: display_names(conn, tenant_id=tenant_id, user_ids=ids))
        for row in shown.rows:
            row["display_name"] = names.get(row["user_id"])
    lang = lang_of(request)
    path = f"/console/campaigns/{quote(cid, safe='')}/referrers"
    return render("referrers.html", lang=lang, here=here(request), session=session, campaign=live.body,
                  rows=shown.rows, columns=REFERRER_COLUMNS, sort=key, descending=descending,
                  pages=pager(path, {"sort": key, "dir": "desc" if descending else "asc"},
                              next_cursor=shown.next[0] if shown.next else None,
                              previous_cursor=shown.previous[0] if shown.previous else None),
                  currency=currency, gmv=lambda value: fmt.money(value, currency, lang))


def _csv_cell(value) -> str:
    """A cell a spreadsheet shows as text: one starting like a formula gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@router.get("/console/campaigns/{cid}/referrers.csv")
async def referrers_csv(cid: str, request: Request, db: Db, campaigns: Campaigns, settings: SettingsDep) -> Response:
    found = await operator_campaign(request, db, campaigns, settings, cid)
    if isinstance(found, Response):
        return found
    session, live = found
    rows, currency = await _referrer_rows(db, live, session.operator.tenant_id, cid)
    out = io.StringIO()
    writer = csv.writer(out)
    fields = ("rank", "user_id", "display_name", "clicks", "referees", "joins", "reservations", "orders", "gmv",
              "rewards")
    writer.writerow([*fields, "currency"])
    for row in rows:
        writer.writerow([_csv_cell(row[f]) for f in fields] + [currency])
    filename = re.sub(r"[^A-Za-z0-9_.-]", "_", cid)
    return Response(out.getvalue().encode("utf-8-sig"), media_type="text/csv; charset=utf-8",
                    headers={**HEADERS, "Content-Disposition": f'attachment; filename="referrers-{filename}.csv"'})
