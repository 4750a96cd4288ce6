"""create_app(settings): the one place where liveloop is wired together."""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from liveloop import __version__
from liveloop.afterlive.api import router as afterlive_router
from liveloop.api_docs import add_docs
from liveloop.audit.api import router as audit_router
from liveloop.audit.recorder import AuditRecorder
from liveloop.campaigns.api import router as campaigns_router
from liveloop.circles.api import router as circles_router
from liveloop.clips.api import router as clips_router
from liveloop.components import Components, build_components, running
from liveloop.console.api import router as console_router
from liveloop.draws.api import router as draws_router
from liveloop.events.api import EventsEndpoint
from liveloop.flash.api import router as flash_router
from liveloop.fraud.api import router as fraud_router
from liveloop.fx.api import router as fx_router
from liveloop.groups.api import router as groups_router
from liveloop.integrations.api import router as integrations_router
from liveloop.integrations.webhooks import WebhookEndpoint
from liveloop.invites.api import router as invites_router
from liveloop.kit.asgi import read_body, replay, send_error
from liveloop.kit.db.writer import WriterFailed
from liveloop.kit.errors import LiveloopError, TooLarge
from liveloop.kit.limits import MAX_SEGMENT_BODY_BYTES
from liveloop.leaderboards.api import router as leaderboards_router
from liveloop.markets.api import router as markets_router
from liveloop.openapi_extra import add_hot_path_docs
from liveloop.ops.api import router as ops_router
from liveloop.privacy.api import router as privacy_router
from liveloop.questions.api import router as questions_router
from liveloop.realtime.api import router as realtime_router
from liveloop.realtime.room_stream import RoomStream, add_room_stream_docs, is_room_stream
from liveloop.realtime.room_tokens import router as room_tokens_router
from liveloop.realtime.stream import ViewerStream
from liveloop.realtime.viewer_cors import is_viewer_route, preflight, with_cors
from liveloop.reports.api import router as reports_router
from liveloop.rewards.api import router as rewards_router
from liveloop.rooms.api import router as rooms_router
from liveloop.rooms.presence import PresenceEndpoint
from liveloop.rooms.receiver import RoomReceiver
from liveloop.rooms.sweeper import PresenceSweeper
from liveloop.segments.api import router as segments_router
from liveloop.settings import Settings
from liveloop.sharelink.api import SHARE_ROUTE, ShareLink, redirect_head
from liveloop.tenants.api import router as api_keys_router
from liveloop.tenants.auth import current_tenant
from liveloop.users.api import router as users_router
from liveloop.validation_messages import field_and_message
from liveloop.webhooks.api import router as webhooks_router

_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
                 409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "invalid"}


def create_app(settings: Settings | None = None) -> Liveloop:
    settings = settings or Settings()
    c = build_components(settings)
    sweeper = PresenceSweeper(c.campaigns, c.ingestor, c.presence, timeout_seconds=settings.presence_timeout_seconds,
                              sweep_seconds=settings.presence_sweep_seconds)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        async with running(c, sweeper):
            yield

    api = FastAPI(
        title="liveloop",
        version=__version__,
        summary="Referral (fission) engine for cross-border live shopping",
        lifespan=lifespan,
        docs_url=None,  # api_docs serves it without a CDN
    )
    api.state.components = c
    _install_error_handlers(api)
    for router in (campaigns_router, users_router, invites_router, reports_router, leaderboards_router,
                   rewards_router, realtime_router, room_tokens_router, draws_router, integrations_router,
                   rooms_router, fx_router, webhooks_router, clips_router, afterlive_router, console_router,
                   api_keys_router, audit_router, privacy_router,
                   circles_router, groups_router, segments_router, questions_router,
                   flash_router, fraud_router):
        api.include_router(router)
    api.include_router(markets_router, dependencies=[Depends(current_tenant)])
    api.include_router(ops_router)

    @api.get("/healthz", include_in_schema=False)
    async def healthz() -> dict:
        return {"ok": True, "version": __version__}

    add_hot_path_docs(api)
    add_room_stream_docs(api)
    add_docs(api)
    return Liveloop(api, HotPaths(
        share=ShareLink(c.share_targets, c.campaigns, c.ingestor, c.limits, base_url=settings.base_url),
        events=EventsEndpoint(c.api_keys, c.ingestor, max_body_bytes=settings.max_body_bytes,
                              max_batch_events=settings.max_batch_events),
        stream=ViewerStream(c.hub, c.campaigns, c.limits, c.signing,
                            max_per_address=settings.max_streams_per_address),
        presence=PresenceEndpoint(c.campaigns, c.ingestor, c.presence, c.limits, c.signing,
                                  timeout_seconds=settings.presence_timeout_seconds),
        room=RoomStream(c.room, c.campaigns, c.api_keys, c.signing),
        webhooks=WebhookEndpoint(c.db, RoomReceiver(c.rooms, c.campaigns, c.ingestor), c.agora_clock),
        audit=AuditRecorder(c.db),
    ))


@dataclass(frozen=True, slots=True)
class HotPaths:
    """The bare ASGI handlers of the hot paths (CONVENTIONS.md point 9)."""

    share: ShareLink
    events: EventsEndpoint
    stream: ViewerStream
    presence: PresenceEndpoint
    room: RoomStream
    webhooks: WebhookEndpoint
    audit: AuditRecorder  # around the management API, not the hot paths


class Liveloop:
    """The ASGI app: hot paths go straight to bare handlers, everything else to FastAPI."""

    def __init__(self, api: FastAPI, hot: HotPaths) -> None:
        self.api = api
        self.components: Components = api.state.components
        self.state = api.state
        self._share = hot.share
        self._events = hot.events
        self._stream = hot.stream
        self._presence = hot.presence
        self._room = hot.room
        self._webhooks = hot.webhooks
        self._audit = hot.audit
        self._max_body_bytes = self.components.settings.max_body_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path.startswith("/s/"):
                await self._share(scope, receive, send)
                return
            if path == "/v1/events":
                await self._events(scope, receive, send)
                return
            if path == "/v1/stream":
                await self._stream(scope, receive, send)
                return
            if path == "/v1/presence":
                await self._presence(scope, receive, send)
                return
            if is_room_stream(path):
                await self._room(scope, receive, send)
                return
            if WebhookEndpoint.handles(path):
                await self._webhooks(scope, receive, send)
                return
            if is_viewer_route(path):
                if scope["method"] == "OPTIONS":
                    await preflight(send)
                    return
                send = with_cors(send)
            # Every other endpoint too reads at most the body limit, in chunks, before parsing anything.
            try:
                limit = MAX_SEGMENT_BODY_BYTES if path.startswith("/v1/segments/") else self._max_body_bytes
                body = await read_body(scope, receive, limit)
            except TooLarge as exc:
                await send_error(send, exc)
                return
            except LiveloopError:
                return  # the client went away
            receive = replay(body, receive)
            await self._audit(self.api, scope, receive, send)
            return
        await self.api(scope, receive, send)

    # The paths `answer_now` may answer: the protocol asks it about no other (ops/serving.py).
    answers_now_under = b"/s/"

    def answer_now(self, path: str, user_agent: str, client: str | None) -> tuple[str, str, bytes] | None:
        """A GET answered without awaiting anything, before any ASGI task exists (ops/serving.py): (route,
        tenant id, the answer's own header lines) of a 302. Only a share link's common case is; None
        for everything else, which `__call__` answers."""
        if not path.startswith("/s/"):
            return None
        found = self._share.redirect_now(path[3:], user_agent, client)
        if found is None:
            return None
        tenant_id, location = found
        return SHARE_ROUTE, tenant_id, redirect_head(location)

    def route_of(self, scope: dict) -> str:
        """The template of the route that answered `scope` (once answered): for request logs and metrics."""
        path = scope["path"]
        if path.startswith("/s/"):
            return SHARE_ROUTE
        if path in ("/v1/events", "/v1/stream", "/v1/presence"):
            return path
        if is_room_stream(path):
            return "/v1/campaigns/{cid}/room-stream"
        if WebhookEndpoint.handles(path):
            return "/v1/integrations/{provider}/{integration_id}"
        route = scope.get("route")
        return route.path if route is not None else "unmatched"


def _install_error_handlers(api: FastAPI) -> None:
    @api.exception_handler(LiveloopError)
    async def _domain(_request: Request, exc: LiveloopError) -> JSONResponse:
        headers = {name.decode(): value.decode() for name, value in exc.headers()}
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    @api.exception_handler(WriterFailed)
    async def _writer(_request: Request, _exc: WriterFailed) -> JSONResponse:
        body = {"error": {"code": "unavailable", "message": "nothing was stored; send the request again",
                          "field": None}}
        return JSONResponse(body, status_code=503)

    @api.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        if first.get("type") == "json_invalid":
            return JSONResponse(
                {"error": {"code": "bad_request", "message": "body is not valid JSON", "field": None}}, 400
            )
        field, message = field_and_message(first)
        return JSONResponse(
            {"error": {"code": "invalid", "message": f"{field}: {message}" if field else message, "field": field}},
            422,
        )

    @api.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "error")
        return JSONResponse({"error": {"code": code, "message": str(exc.detail), "field": None}}, exc.status_code)
