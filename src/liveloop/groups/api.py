from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from liveloop.deps import component
from liveloop.groups.schemas import GroupCreate, GroupRead
from liveloop.groups.service import Groups
from liveloop.kit import clock
from liveloop.tenants.auth import current_tenant
from liveloop.tenants.service import Tenant

router = APIRouter(tags=["group buys"])
GroupsDep = Annotated[Groups, component("groups")]


@router.post("/v1/campaigns/{cid}/groups", status_code=201, response_model=GroupRead,
             summary="Open a group buy led by a user, with its share link")
async def open_group(cid: str, body: GroupCreate, groups: GroupsDep,
                     tenant: Annotated[Tenant, Depends(current_tenant)]) -> dict:
    """Members join by paying with `order.group_id` = the group's id and `order.sku` = the rule's sku
    within `window_minutes` of its creation. 422 `group.not_a_group_buy` (or `group.unknown_rule`) for
    a rule that is not a group buy; 409 `group.already_open` while the leader has an open group of the rule."""
    return await groups.open(tenant.id, cid, rule_id=body.rule_id, user_id=body.user_id, now=clock.now_ms())


@router.get("/v1/campaigns/{cid}/groups/{gid}", response_model=GroupRead, summary="A group buy")
async def get_group(cid: str, gid: str, groups: GroupsDep, tenant: Annotated[Tenant, Depends(current_tenant)]) -> dict:
    return await groups.get(tenant.id, cid, gid)
