"""OpenAPI entries for the bare ASGI hot paths, which FastAPI does not route and so cannot see."""

from __future__ import annotations

import msgspec
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from liveloop.events.ingest import BatchResult
from liveloop.events.validate import EventBatch


def add_hot_path_docs(api: FastAPI) -> None:
    def openapi() -> dict:
        if api.openapi_schema:
            return api.openapi_schema
        schema = get_openapi(title=api.title, version=api.version, summary=api.summary, routes=api.routes)
        # The structs that decode and answer a batch state its shape: no second statement here.
        _, structs = msgspec.json.schema_components([EventBatch, BatchResult],
                                                    ref_template="#/components/schemas/{name}")
        structs["EventBatch"]["properties"]["events"]["maxItems"] = api.state.components.settings.max_batch_events
        schema.setdefault("components", {}).setdefault("schemas", {}).update(structs)
        error = {"description": "error", "content": {"application/json": {"schema": {"type": "object"}}}}
        schema["paths"]["/v1/events"] = {
            "post": {
                "operationId": "ingest_events",
                "tags": ["events"],
                "summary": "Ingest a batch of events (idempotent on event id, durable before the reply)",
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/EventBatch"}}}},
                "responses": {
                    "200": {"description": "counts", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/BatchResult"}}}},
                    "400": error, "401": error, "413": error,
                },
                "security": [{"bearer": []}],
            }
        }
        schema["paths"]["/s/{code}"] = {
            "get": {
                "operationId": "share_link",
                "tags": ["share link"],
                "summary": "Share link: 302 to the landing URL with ll_ref, click recorded; previews get Open Graph",
                "parameters": [{"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "302": {"description": "redirect to the campaign's landing URL"},
                    "200": {"description": "Open Graph page for link-preview crawlers, linking on to the landing URL",
                            "content": {"text/html": {}}},
                    "404": {"description": "unknown code (HTML page)", "content": {"text/html": {}}},
                },
            }
        }
        schema["paths"]["/v1/stream"] = {
            "get": {
                "tags": ["realtime"],
                "summary": "A viewer's server-sent events: friend activity, rank, rewards, draws",
                "parameters": [
                    {"name": "token", "in": "query", "required": True, "schema": {"type": "string"},
                     "description": "a viewer token from POST /v1/campaigns/{cid}/viewer-tokens"},
                    {"name": "Last-Event-ID", "in": "header", "required": False, "schema": {"type": "string"}},
                ],
                "responses": {"200": {"description": "text/event-stream", "content": {"text/event-stream": {}}},
                              "401": error},
                "security": [],
            }
        }
        schema["paths"]["/v1/presence"] = {
            "post": {
                "operationId": "presence_beat",
                "tags": ["realtime"],
                "summary": "A viewer's heartbeat (the first one in the live window is a room join)",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["token"],
                    "properties": {"token": {"type": "string"}, "ref": {"type": "string"}}}}}},
                "responses": {"200": {"description": "ok"}, "400": error, "401": error, "413": error,
                              "422": error},
                "security": [],
            }
        }
        for provider, auth in (("agora", "Agora-Signature-V2: hex HMAC-SHA256 of the raw body with the secret"),
                               ("livekit", "Authorization: a JWT signed with the API secret, its sha256 claim the "
                                           "body's hash")):
            schema["paths"][f"/v1/integrations/{provider}/{{integration_id}}"] = {
                "post": {
                    "tags": ["integrations"],
                    "summary": f"{provider.capitalize()} webhook: room joins and leaves ({auth})",
                    "parameters": [{"name": "integration_id", "in": "path", "required": True,
                                    "schema": {"type": "string"}}],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
                    "responses": {"200": {"description": "stored (or a duplicate, or ignored)"}, "400": error,
                                  "401": error, "404": error, "413": error},
                    "security": [],
                }
            }
        _add_links(schema)
        schema.setdefault("components", {})["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        schema["security"] = [{"bearer": []}]
        api.openapi_schema = schema
        return schema

    api.openapi = openapi  # type: ignore[method-assign]


_CAMPAIGN = "$response.body#/id"
_IN_CAMPAIGN = {"cid": _CAMPAIGN}
_FIRST_RULE = {"cid": _CAMPAIGN, "rule_id": "$response.body#/rules/0/id"}
# OpenAPI links: where the ids an answer holds lead (a client's next calls; stateful fuzzing follows
# them). (method, path, status) -> {name: (method, path, parameters, request body or None)}.
LINKS = {
    ("post", "/v1/campaigns", "201"): {
        "GetCampaign": ("get", "/v1/campaigns/{cid}", _IN_CAMPAIGN, None),
        "UpdateCampaign": ("patch", "/v1/campaigns/{cid}", _IN_CAMPAIGN, None),
        "CancelCampaign": ("post", "/v1/campaigns/{cid}/cancel", _IN_CAMPAIGN, None),
        "CreateInvite": ("post", "/v1/campaigns/{cid}/invites", _IN_CAMPAIGN, None),
        "SendEvents": ("post", "/v1/events", {}, {"events": [{"campaign_id": _CAMPAIGN}]}),
        "GetProgress": ("get", "/v1/campaigns/{cid}/users/{uid}/progress", _IN_CAMPAIGN, None),
        "GetLeaderboard": ("get", "/v1/campaigns/{cid}/leaderboard", _IN_CAMPAIGN, None),
        "GetRewards": ("get", "/v1/campaigns/{cid}/rewards", _IN_CAMPAIGN, None),
        "GetReport": ("get", "/v1/campaigns/{cid}/report", _IN_CAMPAIGN, None),
        "CreateViewerToken": ("post", "/v1/campaigns/{cid}/viewer-tokens", _IN_CAMPAIGN, None),
        "CreateRoomToken": ("post", "/v1/campaigns/{cid}/room-tokens", _IN_CAMPAIGN, None),
        "MapRoomUser": ("put", "/v1/campaigns/{cid}/room-users/{provider_uid}", _IN_CAMPAIGN, None),
        "GetDraw": ("get", "/v1/campaigns/{cid}/draws/{rule_id}", _FIRST_RULE, None),
        "RunDraw": ("post", "/v1/campaigns/{cid}/draws/{rule_id}/run", _FIRST_RULE, None),
        "EnterDraw": ("post", "/v1/campaigns/{cid}/draws/{rule_id}/entries", _FIRST_RULE, None),
        "GetDrawEntrants": ("get", "/v1/campaigns/{cid}/draws/{rule_id}/entrants", _FIRST_RULE, None),
        "CreateClip": ("post", "/v1/campaigns/{cid}/clips", _IN_CAMPAIGN, None),
        "ListClips": ("get", "/v1/campaigns/{cid}/clips", _IN_CAMPAIGN, None),
        "GetSharerReport": ("get", "/v1/campaigns/{cid}/sharers/{uid}/report", _IN_CAMPAIGN, None),
    },
    ("post", "/v1/campaigns/{cid}/clips", "201"): {
        "CreateClipInvite": ("post", "/v1/campaigns/{cid}/clips/{clip_id}/invites",
                             {"cid": "$request.path.cid", "clip_id": "$response.body#/id"}, None),
    },
    ("post", "/v1/campaigns/{cid}/clips/{clip_id}/invites", "201"): {
        "FollowClipLink": ("get", "/s/{code}", {"code": "$response.body#/code"}, None),
    },
    ("post", "/v1/campaigns/{cid}/invites", "201"): {
        "FollowShareLink": ("get", "/s/{code}", {"code": "$response.body#/code"}, None),
        "SendReferredEvents": ("post", "/v1/events", {}, {"events": [
            {"campaign_id": "$request.path.cid", "ref": "$response.body#/code"}]}),
        "GetReferrerProgress": ("get", "/v1/campaigns/{cid}/users/{uid}/progress",
                                {"cid": "$request.path.cid", "uid": "$response.body#/user_id"}, None),
    },
    ("post", "/v1/campaigns/{cid}/viewer-tokens", "201"): {
        "Beat": ("post", "/v1/presence", {}, {"token": "$response.body#/token"}),
    },
    ("post", "/v1/integrations", "201"): {
        "UpdateIntegration": ("put", "/v1/integrations/{integration_id}", {"integration_id": "$response.body#/id"},
                              None),
    },
}


def _add_links(schema: dict) -> None:
    paths = schema["paths"]
    for (method, path, status), links in LINKS.items():
        response = paths[path][method]["responses"].setdefault(status, {"description": "created"})
        out = response.setdefault("links", {})
        for name, (target_method, target_path, parameters, body) in links.items():
            link: dict = {"operationId": paths[target_path][target_method]["operationId"], "parameters": parameters}
            if body is not None:
                link["requestBody"] = body
            out[name] = link
