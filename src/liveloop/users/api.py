from __future__ import annotations

from typing import Annotated

from babel import Locale, UnknownLocaleError
from fastapi import APIRouter, Depends, Path, Response

from liveloop.deps import Db
from liveloop.kit import clock
from liveloop.kit.errors import Invalid, NotFound
from liveloop.kit.ids import USER_ID_PATTERN
from liveloop.markets.catalogue import get_market
from liveloop.tenants.auth import current_tenant
from liveloop.tenants.service import Tenant
from liveloop.users import service
from liveloop.users.schemas import UserRead, UserUpdate

router = APIRouter(tags=["users"])


@router.put("/v1/users/{uid}", response_model=UserRead, summary="Create or update a viewer",
            responses={201: {"model": UserRead, "description": "the user was created"}})
async def put_user(
    uid: Annotated[str, Path(pattern=USER_ID_PATTERN)],
    body: UserUpdate,
    db: Db,
    response: Response,
    tenant: Annotated[Tenant, Depends(current_tenant)],
) -> dict:
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if "market" in changes:
        try:
            changes["market"] = get_market(changes["market"]).code
        except NotFound:
            raise Invalid(f"unknown market {changes['market']!r}", field="market") from None
    if "locale" in changes:
        try:
            Locale.parse(changes["locale"].replace("-", "_"))
        except (UnknownLocaleError, ValueError):
            raise Invalid(f"unknown locale {changes['locale']!r}", field="locale") from None
    now = clock.now_ms()
    user, created = await db.write(
        lambda conn: service.upsert(conn, tenant_id=tenant.id, user_id=uid, changes=changes, default_market=None,
                                    now=now),
        isolated=True,
    )
    response.status_code = 201 if created else 200
    return user
