"""Which scope each API route needs: `read`, `write` or `admin` (SPEC section 14).

Every route authenticated by an API key is declared here, by method and path template; a route
missing from the table needs `admin` (fail closed), and tests/unit/test_scopes.py fails until it is
declared. `admin` allows everything; `read` and `write` are separate (a key that ingests events and
reads progress holds both).
"""

from __future__ import annotations

READ = "read"
WRITE = "write"
ADMIN = "admin"
SCOPES = (READ, WRITE, ADMIN)

# What a viewer's actions reach liveloop by: the shop back end's everyday calls.
_WRITE = {
    ("POST", "/v1/events"),
    ("PUT", "/v1/users/{uid}"),
    ("POST", "/v1/campaigns/{cid}/invites"),
    ("POST", "/v1/campaigns/{cid}/viewer-tokens"),
    ("POST", "/v1/campaigns/{cid}/clips/{clip_id}/invites"),
    ("POST", "/v1/campaigns/{cid}/draws/{rule_id}/entries"),
    ("PUT", "/v1/campaigns/{cid}/room-users/{provider_uid}"),
    ("POST", "/v1/campaigns/{cid}/questions"),
    ("POST", "/v1/campaigns/{cid}/groups"),
    ("POST", "/v1/campaigns/{cid}/circles"),
    ("POST", "/v1/campaigns/{cid}/circles/{circle_id}/members"),
    ("POST", "/v1/campaigns/{cid}/questions/{qid}/answer"),  # the host's tool, as the live goes on
}

# Reads, and what only computes or shows (a room token shows the room on the host's overlay).
_READ = {
    ("GET", "/v1/campaigns"),
    ("GET", "/v1/campaigns/{cid}"),
    ("GET", "/v1/campaigns/{cid}/users/{uid}/progress"),
    ("GET", "/v1/campaigns/{cid}/report"),
    ("GET", "/v1/campaigns/{cid}/leaderboard"),
    ("GET", "/v1/campaigns/{cid}/rewards"),
    ("GET", "/v1/campaigns/{cid}/room-stream"),
    ("POST", "/v1/campaigns/{cid}/room-tokens"),
    ("GET", "/v1/campaigns/{cid}/draws/{rule_id}"),
    ("GET", "/v1/campaigns/{cid}/draws/{rule_id}/entrants"),
    ("GET", "/v1/campaigns/{cid}/room-users/{provider_uid}"),
    ("GET", "/v1/fx-rates"),
    ("GET", "/v1/webhook-endpoints"),
    ("GET", "/v1/webhook-endpoints/{endpoint_id}/deliveries"),
    ("GET", "/v1/campaigns/{cid}/clips"),
    ("GET", "/v1/campaigns/{cid}/sharers/{uid}/report"),
    ("GET", "/v1/markets"),
    ("GET", "/v1/markets/{code}"),
    ("GET", "/v1/markets/{code}/calendar"),
    ("POST", "/v1/schedule/suggest"),
    ("GET", "/v1/campaigns/{cid}/circles/{circle_id}"),
    ("GET", "/v1/campaigns/{cid}/groups/{gid}"),
    ("GET", "/v1/campaigns/{cid}/questions"),
    ("GET", "/v1/campaigns/{cid}/flash-deals"),
    ("GET", "/v1/segments/{sid}"),
    ("GET", "/v1/campaigns/{cid}/reviews"),
    ("GET", "/v1/blocklist"),
}

# Management: declared so that the table names every route, though a missing one needs admin too.
# Reading keys, the audit and a user's export are admin: they are about access and personal data.
_ADMIN = {
    ("POST", "/v1/campaigns"),
    ("PATCH", "/v1/campaigns/{cid}"),
    ("POST", "/v1/campaigns/{cid}/cancel"),
    ("POST", "/v1/campaigns/{cid}/draws/{rule_id}/run"),
    ("POST", "/v1/integrations"),
    ("PUT", "/v1/integrations/{integration_id}"),
    ("PUT", "/v1/fx-rates"),
    ("POST", "/v1/webhook-endpoints"),
    ("DELETE", "/v1/webhook-endpoints/{endpoint_id}"),
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/rotate"),
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/deliveries/{msg_id}/retry"),
    ("POST", "/v1/campaigns/{cid}/clips"),
    ("POST", "/v1/api-keys"),
    ("GET", "/v1/api-keys"),
    ("DELETE", "/v1/api-keys/{key_id}"),
    ("GET", "/v1/audit"),
    ("GET", "/v1/users/{uid}/export"),
    ("DELETE", "/v1/users/{uid}"),
    ("POST", "/v1/campaigns/{cid}/flash-deals"),
    ("PUT", "/v1/segments/{sid}"),
    ("POST", "/v1/segments/{sid}/members"),
    ("POST", "/v1/campaigns/{cid}/reviews/decisions"),
    ("PUT", "/v1/blocklist"),
}

ROUTE_SCOPES: dict[tuple[str, str], str] = (
    {route: READ for route in _READ} | {route: WRITE for route in _WRITE} | {route: ADMIN for route in _ADMIN}
)


def required_scope(method: str, path: str) -> str:
    """The scope a call of `method path` (a route's path template) needs."""
    return ROUTE_SCOPES.get(("GET" if method == "HEAD" else method, path), ADMIN)
