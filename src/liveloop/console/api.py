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
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from liveloop.console import campaign_form, operators, queries
from liveloop.console.operators import Session
from liveloop.console.pages import HEADERS, STATIC, render, static_file
from liveloop.console.texts import CONSOLE_LANGS, gettext, pick
from liveloop.deps import Campaigns, Db, Fx, SettingsDep, SigningDep, component
from liveloop.draws import periods as draw_periods
from liveloop.draws.notices import rule_periods
from liveloop.draws.runner import DrawRunner
from liveloop.engine.model import DrawRule
from liveloop.i18n import format as fmt
from liveloop.invites.service import holders
from liveloop.kit import clock
from liveloop.kit.errors import LiveloopError, NotFound
from liveloop.kit.times import parse_iso
from liveloop.realtime.room_tokens import sign_room_token
from liveloop.realtime.tokens import MAX_TTL_SECONDS, MIN_TTL_SECONDS
from liveloop.reports import views as report_views
from liveloop.settings import Settings
from liveloop.tenants.auth import ACTOR
from liveloop.users.service import display_names

router = APIRouter(include_in_schema=False)

SESSION_COOKIE = "liveloop_console"
LOGIN_CSRF_COOKIE = "liveloop_login_csrf"
LANG_COOKIE = "liveloop_console_lang"


def _secure(settings: Settings) -> bool:
    return settings.base_url.startswith("https://")


def _lang(request: Request) -> str:
    return pick(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def _here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


async def _session(request: Request, db) -> Session | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    now = clock.now_ms()
    session = await db.read(lambda conn: operators.session_for(conn, token, now=now))
    if session is not None:
        request.scope[ACTOR] = (session.operator.tenant_id, f"operator:{session.operator.id}")  # for the audit
    return session


def _to_login(request: Request, settings: Settings) -> Response:
    """Back to the login page; a cookie that named no live session is cleared."""
    expired = SESSION_COOKIE in request.cookies
    response = RedirectResponse("/console/login" + ("?expired=1" if expired else ""), status_code=303,
                                headers=HEADERS)
    if expired:
        response.delete_cookie(SESSION_COOKIE, path="/console", secure=_secure(settings), httponly=True,
                               samesite="lax")
    return response


async def _form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body (the app has already bounded its size)."""
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))


def _csrf_ok(form: dict[str, str], expected: str | None) -> bool:
    given = form.get("csrf", "")
    return bool(expected) and bool(given) and secrets.compare_digest(given.encode(), expected.encode())


def _refused(request: Request, session: Session | None = None) -> Response:
    return render("refused.html", lang=_lang(request), here="/console/campaigns", status=403, session=session)


# -- log in and out -------------------------------------------------------------------------------

@router.get("/console")
async def console_home() -> Response:
    return RedirectResponse("/console/campaigns", status_code=303, headers=HEADERS)


def _login_page(request: Request, settings: Settings, *, status: int = 200, error: str | None = None,
                email: str = "", headers: dict | None = None) -> Response:
    lang = _lang(request)
    notice = None
    if request.query_params.get("expired"):
        notice = gettext(lang, "login.expired")
    elif request.query_params.get("out"):
        notice = gettext(lang, "login.signed_out")
    csrf = secrets.token_urlsafe(32)
    response = render("login.html", lang=lang, here="/console/login", status=status, csrf=csrf, error=error,
                      email=email, notice=notice, headers=headers)
    response.set_cookie(LOGIN_CSRF_COOKIE, csrf, path="/console/login", httponly=True, samesite="strict",
                        secure=_secure(settings))
    return response


@router.get("/console/login")
async def login_page(request: Request, settings: SettingsDep) -> Response:
    return _login_page(request, settings)


@router.post("/console/login")
async def login(request: Request, db: Db, settings: SettingsDep) -> Response:
    form = await _form(request)
    if not _csrf_ok(form, request.cookies.get(LOGIN_CSRF_COOKIE)):
        return _refused(request)
    lang = _lang(request)
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
                        samesite="lax", secure=_secure(settings))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console/login")
    return response


@router.post("/console/logout")
async def logout(request: Request, db: Db, settings: SettingsDep) -> Response:
    session = await _session(request, db)
    if session is None:
        return _to_login(request, settings)
    if not _csrf_ok(await _form(request), session.csrf):
        return _refused(request, session)
    token = request.cookies[SESSION_COOKIE]
    await db.write(lambda conn: operators.close_session(conn, token))
    response = RedirectResponse("/console/login?out=1", status_code=303, headers=HEADERS)
    response.delete_cookie(SESSION_COOKIE, path="/console", secure=_secure(settings), httponly=True, samesite="lax")
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
                            secure=_secure(settings))
    return response


@router.get("/console/static/{name}")
async def static(name: str) -> Response:
    if name not in STATIC:
        return Response(status_code=404)
    return Response(static_file(name), media_type=STATIC[name],
                    headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"})


# -- campaigns --------------------------------------------------------------------------------------

@router.get("/console/campaigns")
async def campaigns_page(request: Request, db: Db, settings: SettingsDep) -> Response:
    session = await _session(request, db)
    if session is None:
        return _to_login(request, settings)
    now = clock.now_ms()
    tenant_id = session.operator.tenant_id
    found = await db.read(lambda conn: queries.campaigns_by_status(conn, tenant_id=tenant_id, now=now))
    lang = _lang(request)
    sections = [(status, [_row(c, lang) for c in found[status]]) for status in queries.STATUSES]
    return render("campaigns.html", lang=lang, here=_here(request), session=session, sections=sections,
                  created=request.query_params.get("created"))


def _row(body: dict, lang: str) -> dict:
    """A campaign as the list shows it: its window in its own time zone, written the operator's way."""
    def when(field: str) -> str:
        return fmt.instant(parse_iso(body[field], field=field), body["timezone"], lang)

    return {"id": body["id"], "title": body["title"], "market": body["market"], "starts": when("starts_at"),
            "ends": when("ends_at")}


def _new_page(request: Request, session: Session, *, form: dict, errors: dict, general: list,
              status: int = 200) -> Response:
    return render("new_campaign.html", lang=_lang(request), here="/console/campaigns/new", session=session,
                  status=status, form=form, errors=errors, general=general, markets=campaign_form.markets())


@router.get("/console/campaigns/new")
async def new_campaign_page(request: Request, db: Db, settings: SettingsDep) -> Response:
    session = await _session(request, db)
    if session is None:
        return _to_login(request, settings)
    return _new_page(request, session, form={}, errors={}, general=[])


@router.post("/console/campaigns")
async def create_campaign(request: Request, db: Db, campaigns: Campaigns, fx: Fx, settings: SettingsDep) -> Response:
    session = await _session(request, db)
    if session is None:
        return _to_login(request, settings)
    raw = await _form(request)
    if not _csrf_ok(raw, session.csrf):
        return _refused(request, session)
    form = {k: v for k, v in raw.items() if k in campaign_form.FIELDS}
    tenant_id = session.operator.tenant_id
    tenant = await db.read(lambda conn: queries.tenant(conn, tenant_id))
    try:
        stored = await campaign_form.create(db, campaigns, fx, tenant, form)
    except campaign_form.Refused as exc:
        return _new_page(request, session, form=form, errors=exc.by_field, general=exc.general, status=422)
    return RedirectResponse(f"/console/campaigns?created={stored['id']}", status_code=303, headers=HEADERS)


# -- a live campaign's room -------------------------------------------------------------------------

CHART_MINUTES = 30  # the joins-per-minute chart's span


async def _live_or_404(campaigns, session: Session, cid: str):
    try:
        return await campaigns.get(session.operator.tenant_id, cid)
    except NotFound:
        return None


def _not_found(request: Request, session: Session) -> Response:
    return render("not_found.html", lang=_lang(request), here="/console/campaigns", status=404, session=session)


@router.get("/console/campaigns/{cid}/room")
async def room_page(cid: str, request: Request, db: Db, campaigns: Campaigns, signing: SigningDep,
                    settings: SettingsDep) -> Response:
    session = await _session(request, db)
    if session is None:
        return _to_login(request, settings)
    live = await _live_or_404(campaigns, session, cid)
    if live is None:
        return _not_found(request, session)
    now = clock.now_ms()
    tenant_id = session.operator.tenant_id
    # The page reads the room stream itself, with a token for this room only, valid as long as the session.
    ttl = max(MIN_TTL_SECONDS, min(MAX_TTL_SECONDS, (session.expires_at - now) // 1000))
    token, _expires = sign_room_token(signing.key, tenant_id=tenant_id, campaign_id=cid, ttl_seconds=ttl, now=now)
    since = now // 60_000 * 60_000 - (CHART_MINUTES - 1) * 60_000
    joins = await db.read(lambda conn: queries.joins_per_minute(conn, tenant_id=tenant_id, campaign_id=cid,
                                                                since=since))
    lang = _lang(request)
    names = ("room.status.connecting", "room.status.live", "room.status.lost", "room.no_name", "room.no_draws",
             "room.clicks", "room.joins", "room.reservations", "room.orders", "room.joins_per_minute")
    return render("room.html", lang=lang, here=_here(request), session=session, campaign=live.body,
                  stream_url=f"/v1/campaigns/{quote(cid, safe='')}/room-stream?token={token}",
                  k_factor=await _k_factor(db, live, tenant_id, cid),
                  seed={"since": since, "minutes": CHART_MINUTES, "joins": {str(m): n for m, n in joins.items()}},
                  texts={name: gettext(lang, name) for name in names})


async def _k_factor(db, live, tenant_id: str, cid: str) -> str:
    inviters = await db.read(lambda conn: holders(conn, tenant_id=tenant_id, campaign_id=cid))
    return f"{live.state.referred.users / inviters:.2f}" if inviters else "–"


@router.get("/console/campaigns/{cid}/k-factor")
async def k_factor(cid: str, request: Request, db: Db, campaigns: Campaigns, settings: SettingsDep) -> Response:
    """The room view's K-factor, polled by htmx (it needs the invite holders, which the stream does not carry)."""
    session = await _session(request, db)
    if session is None:
        return Response(status_code=401)
    live = await _live_or_404(campaigns, session, cid)
    if live is None:
        return Response(status_code=404)
    value = await _k_factor(db, live, session.operator.tenant_id, cid)
    return HTMLResponse(escape(value), headers=HEADERS)


# -- draws ------------------------------------------------------------------------------------------

DrawsDep = Annotated[DrawRunner, component("draws")]


async def _draws_page(request: Request, session: Session, live, db, draws: DrawRunner, signing, settings: Settings, *,
                      status: int = 200, error: str | None = None, ran: tuple[str, str] | None = None) -> Response:
    """Each draw rule's periods: window, status, the seed hash committed to, and the result once run."""
    lang = _lang(request)
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
    return render("draws.html", lang=lang, here=_here(request), session=session, status=status, campaign=live.body,
                  rules=rules, error=error, ran=ran, base_url=settings.base_url)


@router.get("/console/campaigns/{cid}/draws")
async def draws_page(cid: str, request: Request, db: Db, campaigns: Campaigns, draws: DrawsDep,
                     signing: SigningDep, settings: SettingsDep) -> Response:
    session = await _session(request, db)
    if session is None:
        return _to_login(request, settings)
    live = await _live_or_404(campaigns, session, cid)
    if live is None:
        return _not_found(request, session)
    ran = (request.query_params.get("period", ""), request.query_params.get("rule", "")) \
        if request.query_params.get("ran") else None
    return await _draws_page(request, session, live, db, draws, signing, settings, ran=ran)


@router.post("/console/campaigns/{cid}/draws/{rule_id}/run")
async def run_draw(cid: str, rule_id: str, request: Request, db: Db, campaigns: Campaigns, draws: DrawsDep,
                   signing: SigningDep, settings: SettingsDep) -> Response:
    """Runs a period as POST /v1/campaigns/{cid}/draws/{rule_id}/run does (the same runner)."""
    session = await _session(request, db)
    if session is None:
        return _to_login(request, settings)
    form = await _form(request)
    if not _csrf_ok(form, session.csrf):
        return _refused(request, session)
    live = await _live_or_404(campaigns, session, cid)
    if live is None:
        return _not_found(request, session)
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
    session = await _session(request, db)
    if session is None:
        return _to_login(request, settings)
    live = await _live_or_404(campaigns, session, cid)
    if live is None:
        return _not_found(request, session)
    tenant_id = session.operator.tenant_id
    referrers = list(live.state.referrers)

    def people(conn) -> tuple[dict[str, str | None], int]:
        return (display_names(conn, tenant_id=tenant_id, user_ids=referrers),
                holders(conn, tenant_id=tenant_id, campaign_id=cid))

    names, inviters = await db.read(people)
    report = report_views.report(live.state, names=names, inviters=inviters)
    lang = _lang(request)

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
    return render("report.html", lang=lang, here=_here(request), session=session, campaign=live.body, report=report,
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


async def _referrer_rows(db, live, tenant_id: str, cid: str) -> tuple[list[dict], str]:
    referrers = list(live.state.referrers)
    names = await db.read(lambda conn: display_names(conn, tenant_id=tenant_id, user_ids=referrers))
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

    return sorted(rows, key=value, reverse=descending)


@router.get("/console/campaigns/{cid}/referrers")
async def referrers_page(cid: str, request: Request, db: Db, campaigns: Campaigns, settings: SettingsDep) -> Response:
    session = await _session(request, db)
    if session is None:
        return _to_login(request, settings)
    live = await _live_or_404(campaigns, session, cid)
    if live is None:
        return _not_found(request, session)
    rows, currency = await _referrer_rows(db, live, session.operator.tenant_id, cid)
    key = request.query_params.get("sort", "rank")
    key = key if key in _SORTABLE else "rank"
    descending = request.query_params.get("dir", "asc" if key in ("rank", "display_name") else "desc") == "desc"
    lang = _lang(request)
    return render("referrers.html", lang=lang, here=_here(request), session=session, campaign=live.body,
                  rows=_sorted(rows, key, descending), columns=REFERRER_COLUMNS, sort=key, descending=descending,
                  currency=currency, gmv=lambda value: fmt.money(value, currency, lang))


def _csv_cell(value) -> str:
    """A cell a spreadsheet shows as text: one starting like a formula gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@router.get("/console/campaigns/{cid}/referrers.csv")
async def referrers_csv(cid: str, request: Request, db: Db, campaigns: Campaigns, settings: SettingsDep) -> Response:
    session = await _session(request, db)
    if session is None:
        return _to_login(request, settings)
    live = await _live_or_404(campaigns, session, cid)
    if live is None:
        return _not_found(request, session)
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
