"""What routes receive: typed components as FastAPI dependencies (`campaigns: Campaigns`).

The components are built once by app.create_app (liveloop/components.py) and kept on the app's
state; `component(name)` is the only code that reads them from there. A domain declares the alias
of its own component next to its routes (e.g. draws/api.py `Draws`), so this module depends on
none of them; the aliases here are the ones many domains share.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from liveloop.events.gate import LocalGate, SharedGate
from liveloop.fx.service import TenantRates
from liveloop.kit.db.database import Database
from liveloop.settings import Settings
from liveloop.tenants.signing import Signing


def component(name: str) -> Any:
    """A FastAPI dependency on the named component of the running app."""

    def provide(request: Request) -> Any:
        return getattr(request.app.state.components, name)

    return Depends(provide)


Campaigns = Annotated[LocalGate | SharedGate, component("campaigns")]
Db = Annotated[Database, component("db")]
Fx = Annotated[TenantRates, component("fx")]
SettingsDep = Annotated[Settings, component("settings")]
SigningDep = Annotated[Signing, component("signing")]
