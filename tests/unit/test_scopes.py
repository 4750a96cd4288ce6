"""Every route an API key opens declares the scope it needs (tenants/scopes.py)."""

from __future__ import annotations

from liveloop.app import create_app
from liveloop.settings import Settings
from liveloop.tenants.scopes import ADMIN, READ, ROUTE_SCOPES, WRITE, required_scope

# Routes under /v1 that no API key opens: a viewer token, a provider's signature.
NOT_BY_KEY = {("GET", "/v1/stream"), ("GET", "/v1/viewer/progress"), ("POST", "/v1/presence"),
              ("POST", "/v1/questions"),
              ("POST", "/v1/integrations/agora/{integration_id}"),
              ("POST", "/v1/integrations/livekit/{integration_id}")}


def test_every_v1_route_declares_its_scope(tmp_path):
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}"))
    routes = {(method.upper(), path) for path, item in app.api.openapi()["paths"].items() if path.startswith("/v1/")
              for method in item}
    undeclared = sorted(routes - NOT_BY_KEY - ROUTE_SCOPES.keys())
    assert undeclared == [], f"declare these routes' scopes in tenants/scopes.py: {undeclared}"


def test_reads_writes_and_management():
    assert required_scope("GET", "/v1/campaigns/{cid}/rewards") == READ
    assert required_scope("HEAD", "/v1/campaigns/{cid}/rewards") == READ
    assert required_scope("POST", "/v1/events") == WRITE
    assert required_scope("POST", "/v1/campaigns") == ADMIN
    assert required_scope("GET", "/v1/users/{uid}/export") == ADMIN
    assert required_scope("POST", "/v1/something-new") == ADMIN  # undeclared: fail closed
