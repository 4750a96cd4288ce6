"""What routes receive: typed components as FastAPI dependencies (`campaigns: Campaigns`).

The components are built once by app.create_app and kept on the app's state; these aliases are
the only code that reads them from there.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from liveloop.draws.runner import DrawRunner
from liveloop.events.gate import LocalGate, SharedGate
from liveloop.events.ingest import Ingestor
from liveloop.fx.service import TenantRates
from liveloop.kit.db.database import Database
from liveloop.rooms.directory import Rooms
from liveloop.settings import Settings
from liveloop.sharelink.targets import ShareTargets
from liveloop.tenants.signing import Signing


def _campaigns(request: Request) -> LocalGate | SharedGate:
    return request.app.state.components.campaigns


def _db(request: Request) -> Database:
    return request.app.state.components.db


def _draws(request: Request) -> DrawRunner:
    return request.app.state.components.draws


def _fx(request: Request) -> TenantRates:
    return request.app.state.components.fx


def _ingestor(request: Request) -> Ingestor:
    return request.app.state.components.ingestor


def _rooms(request: Request) -> Rooms:
    return request.app.state.components.rooms


def _share_targets(request: Request) -> ShareTargets:
    return request.app.state.components.share_targets


def _settings(request: Request) -> Settings:
    return request.app.state.components.settings


def _signing(request: Request) -> Signing:
    return request.app.state.components.signing


Campaigns = Annotated[LocalGate | SharedGate, Depends(_campaigns)]
Db = Annotated[Database, Depends(_db)]
Draws = Annotated[DrawRunner, Depends(_draws)]
Fx = Annotated[TenantRates, Depends(_fx)]
IngestorDep = Annotated[Ingestor, Depends(_ingestor)]
RoomsDep = Annotated[Rooms, Depends(_rooms)]
SettingsDep = Annotated[Settings, Depends(_settings)]
ShareTargetsDep = Annotated[ShareTargets, Depends(_share_targets)]
SigningDep = Annotated[Signing, Depends(_signing)]
