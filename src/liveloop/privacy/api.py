"""A user's data on request: export (GET /v1/users/{uid}/export) and erasure (DELETE /v1/users/{uid})."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse

from liveloop.deps import component
from liveloop.kit.errors import NotFound
from liveloop.kit.ids import USER_ID_PATTERN
from liveloop.privacy.service import Privacy
from liveloop.tenants.auth import current_tenant
from liveloop.tenants.service import Tenant

router = APIRouter(tags=["privacy"])
PrivacyDep = Annotated[Privacy, component("privacy")]
TenantDep = Annotated[Tenant, Depends(current_tenant)]
UserId = Annotated[str, Path(pattern=USER_ID_PATTERN)]


@router.get("/v1/users/{uid}/export", summary="Everything held about a user (data subject access)",
            responses={404: {"description": "the tenant holds nothing about this user"}})
async def export_user(uid: UserId, privacy: PrivacyDep, tenant: TenantDep) -> dict:
    """`{user_id, profile, campaigns: [{campaign_id, referrer, events, invites, rewards}], exported_at}`:
    the profile (market, locale, display name, consents) and, per campaign, the user's events with
    their device ids and IP addresses (while kept), invite codes, referrer and rewards."""
    exported = await privacy.export(tenant.id, uid)
    if exported is None:
        raise NotFound(f"no user {uid!r}")
    return exported


@router.delete("/v1/users/{uid}", status_code=202, summary="Erase a user",
               responses={404: {"description": "the tenant never knew this user"}})
async def erase_user(uid: UserId, privacy: PrivacyDep, tenant: TenantDep) -> JSONResponse:
    """The profile (display name, locale, consents, email hash), device ids and IP addresses are
    removed; in the event log, the ledger and the leaderboards the user_id becomes the answer's
    `pseudonym`. Budget used, reward amounts and every other user's metrics, ranks and rewards do
    not change. Erasing the same user again answers the same; a later event with this user_id
    starts a new user. See docs/privacy.md."""
    erased = await privacy.erase(tenant.id, uid)
    if erased is None:
        raise NotFound(f"no user {uid!r}")
    return JSONResponse({"erased": True, "pseudonym": erased.pseudonym, "campaigns": sorted(erased.campaigns)},
                        status_code=202)
