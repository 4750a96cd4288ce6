"""The console's webhook pages: endpoints (list, add, rotate the secret, stop sending) and their
deliveries (filter by status, one message's attempts and body, send again now), through
webhooks/service.py as `/v1/webhook-endpoints` does."""

from __future__ import annotations

import json
import re
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from liveloop.console.operators import Session
from liveloop.console.pages import HEADERS, render
from liveloop.console.web import here, lang_of, not_found, operator_session, read_form
from liveloop.deps import Db, SettingsDep, component
from liveloop.i18n import format as fmt
from liveloop.kit import clock
from liveloop.kit.errors import LiveloopError, NotFound
from liveloop.kit.times import parse_iso
from liveloop.validation_messages import field_and_message
from liveloop.webhooks import service
from liveloop.webhooks.outbox import TYPES
from liveloop.webhooks.schemas import WebhookEndpointCreate
from liveloop.webhooks.worker import WebhookWorker

router = APIRouter(include_in_schema=False)
Worker = Annotated[WebhookWorker, component("webhooks")]

ENDPOINT_ID = re.compile(r"^ep_[0-9a-f]{24}$")
MESSAGE_ID = re.compile(r"^msg_[0-9a-f]{24}$")
PAGE = 50


def _when(text: str | None, lang: str) -> str:
    return fmt.instant(parse_iso(text, field="at"), "UTC", lang) if text else ""


async def _endpoints_page(request: Request, session: Session, db, *, status: int = 200, form: dict | None = None,
                          errors: dict | None = None, secret: dict | None = None) -> Response:
    tenant_id = session.operator.tenant_id
    lang = lang_of(request)
    endpoints = await db.read(lambda conn: service.list_endpoints(conn, tenant_id=tenant_id))
    for ep in endpoints:
        ep["created"] = _when(ep["created_at"], lang)
    return render("webhooks.html", lang=lang, here="/console/webhooks", session=session, status=status,
                  endpoints=endpoints, types=TYPES, form=form or {}, errors=errors or {}, secret=secret,
                  deleted=request.query_params.get("deleted"))


@router.get("/console/webhooks")
async def endpoints_page(request: Request, db: Db, settings: SettingsDep) -> Response:
    session = await operator_session(request, db, settings)
    if isinstance(session, Response):
        return session
    return await _endpoints_page(request, session, db)


@router.post("/console/webhooks")
async def create_endpoint(request: Request, db: Db, settings: SettingsDep, worker: Worker) -> Response:
    raw = await read_form(request)
    session = await operator_session(request, db, settings, form=raw)
    if isinstance(session, Response):
        return session
    events = [e for e in raw.get("events", "").split("\n") if e]
    form = {"url": raw.get("url", "").strip(), "description": raw.get("description", "").strip(), "events": events}
    body = {"url": form["url"], "events": events or None, "description": form["description"] or None}
    errors: dict[str, list[str]] = {}
    try:
        parsed = WebhookEndpointCreate.model_validate(body)
        await service.check_url(parsed.url, allow_private=settings.webhooks_allow_private)
    except ValidationError as exc:
        for field, message in (field_and_message(e) for e in exc.errors()):
            errors.setdefault((field or "url").split(".")[0], []).append(message)
    except LiveloopError as exc:
        if exc.status >= 500:
            raise
        errors.setdefault(exc.field or "url", []).append(exc.message)
    if errors:
        return await _endpoints_page(request, session, db, status=422, form=form, errors=errors)
    tenant_id = session.operator.tenant_id
    now = clock.now_ms()
    created = await db.write(lambda conn: service.create_endpoint(
        conn, tenant_id=tenant_id, url=parsed.url, events=parsed.events, description=parsed.description, now=now),
        isolated=True)
    await worker.endpoint_created()
    return await _endpoints_page(request, session, db, status=201,
                                 secret={"id": created["id"], "url": created["url"], "secret": created["secret"],
                                         "rotated": False})


@router.post("/console/webhooks/{endpoint_id}/rotate")
async def rotate(endpoint_id: str, request: Request, db: Db, settings: SettingsDep) -> Response:
    session = await operator_session(request, db, settings, form=await read_form(request))
    if isinstance(session, Response):
        return session
    if not ENDPOINT_ID.match(endpoint_id):
        return not_found(request, session)
    tenant_id = session.operator.tenant_id
    now = clock.now_ms()

    def rotate_(conn) -> tuple[dict, dict]:
        answer = service.rotate(conn, tenant_id=tenant_id, endpoint_id=endpoint_id, now=now)
        return answer, service.get_endpoint(conn, tenant_id=tenant_id, endpoint_id=endpoint_id)

    try:
        answer, endpoint = await db.write(rotate_, isolated=True)
    except NotFound:
        return not_found(request, session)
    lang = lang_of(request)
    return await _endpoints_page(request, session, db, secret={
        "id": endpoint_id, "url": endpoint["url"], "secret": answer["secret"], "rotated": True,
        "until": _when(answer["previous_secret_expires_at"], lang)})


@router.post("/console/webhooks/{endpoint_id}/delete")
async def delete(endpoint_id: str, request: Request, db: Db, settings: SettingsDep, worker: Worker) -> Response:
    session = await operator_session(request, db, settings, form=await read_form(request))
    if isinstance(session, Response):
        return session
    if not ENDPOINT_ID.match(endpoint_id):
        return not_found(request, session)
    tenant_id = session.operator.tenant_id
    now = clock.now_ms()
    try:
        await db.write(lambda conn: service.delete_endpoint(conn, tenant_id=tenant_id, endpoint_id=endpoint_id,
                                                            now=now), isolated=True)
    except NotFound:
        return not_found(request, session)
    await worker.endpoint_deleted()
    return RedirectResponse("/console/webhooks?deleted=1", status_code=303, headers=HEADERS)


# -- deliveries ----------------------------------------------------------------------------------

def _attempt_rows(delivery: dict, lang: str) -> None:
    for attempt in delivery["attempts"]:
        attempt["when"] = attempt["at"]  # to the second, as the API gives it: attempts are seconds apart
    delivery["created"] = _when(delivery["created_at"], lang)
    delivery["next"] = _when(delivery["next_attempt_at"], lang)
    delivery["last"] = delivery["attempts"][-1] if delivery["attempts"] else None


@router.get("/console/webhooks/{endpoint_id}/deliveries")
async def deliveries_page(endpoint_id: str, request: Request, db: Db, settings: SettingsDep) -> Response:
    session = await operator_session(request, db, settings)
    if isinstance(session, Response):
        return session
    status = request.query_params.get("status") or None
    status = status if status in service.DELIVERY_STATUSES else None
    cursor = request.query_params.get("cursor") or None
    tenant_id = session.operator.tenant_id
    if not ENDPOINT_ID.match(endpoint_id):
        return not_found(request, session)

    def read(conn) -> tuple[dict, dict]:
        return (service.get_endpoint(conn, tenant_id=tenant_id, endpoint_id=endpoint_id),
                service.deliveries(conn, tenant_id=tenant_id, endpoint_id=endpoint_id, status=status, limit=PAGE,
                                   cursor=cursor))

    try:
        endpoint, page = await db.read(read)
    except LiveloopError as exc:
        if exc.status >= 500:
            raise
        return not_found(request, session)
    lang = lang_of(request)
    for delivery in page["deliveries"]:
        _attempt_rows(delivery, lang)
    return render("deliveries.html", lang=lang, here=here(request), session=session, endpoint=endpoint,
                  deliveries=page["deliveries"], next_cursor=page["next_cursor"], current=status,
                  statuses=service.DELIVERY_STATUSES)


@router.get("/console/webhooks/{endpoint_id}/deliveries/{message_id}")
async def delivery_page(endpoint_id: str, message_id: str, request: Request, db: Db,
                        settings: SettingsDep) -> Response:
    session = await operator_session(request, db, settings)
    if isinstance(session, Response):
        return session
    if not ENDPOINT_ID.match(endpoint_id) or not MESSAGE_ID.match(message_id):
        return not_found(request, session)
    tenant_id = session.operator.tenant_id

    def read(conn) -> tuple[dict, dict]:
        return (service.get_endpoint(conn, tenant_id=tenant_id, endpoint_id=endpoint_id),
                service.delivery(conn, tenant_id=tenant_id, endpoint_id=endpoint_id, message_id=message_id))

    try:
        endpoint, delivery = await db.read(read)
    except NotFound:
        return not_found(request, session)
    lang = lang_of(request)
    _attempt_rows(delivery, lang)
    return render("delivery.html", lang=lang, here=here(request), session=session, endpoint=endpoint,
                  delivery=delivery, body=json.dumps(delivery["body"], indent=2, ensure_ascii=False),
                  retried=request.query_params.get("retried"))


@router.post("/console/webhooks/{endpoint_id}/deliveries/{message_id}/retry")
async def retry(endpoint_id: str, message_id: str, request: Request, db: Db, settings: SettingsDep,
                worker: Worker) -> Response:
    session = await operator_session(request, db, settings, form=await read_form(request))
    if isinstance(session, Response):
        return session
    if not ENDPOINT_ID.match(endpoint_id) or not MESSAGE_ID.match(message_id):
        return not_found(request, session)
    tenant_id = session.operator.tenant_id
    now = clock.now_ms()
    try:
        await db.write(lambda conn: service.retry(conn, tenant_id=tenant_id, endpoint_id=endpoint_id,
                                                  message_id=message_id, now=now), isolated=True)
    except NotFound:
        return not_found(request, session)
    worker.poke()
    return RedirectResponse(f"/console/webhooks/{endpoint_id}/deliveries/{message_id}?retried=1", status_code=303,
                            headers=HEADERS)
