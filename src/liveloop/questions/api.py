from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from liveloop.deps import Campaigns, Db, SigningDep, component
from liveloop.events.live import refuse_cancelled
from liveloop.kit import clock
from liveloop.questions import service
from liveloop.questions.schemas import QuestionCreate, QuestionRead, QuestionsRead, ViewerQuestion
from liveloop.realtime.room import RoomHub
from liveloop.realtime.tokens import verify
from liveloop.tenants.auth import current_tenant
from liveloop.tenants.service import Tenant

router = APIRouter(tags=["questions"])
Room = Annotated[RoomHub, component("room")]


async def _ask(db, campaigns, room: RoomHub, tenant_id: str, campaign_id: str, user_id: str, text: str) -> dict:
    live = await campaigns.get(tenant_id, campaign_id)
    refuse_cancelled(live)
    now = clock.now_ms()
    priority = service.holds(live.state, user_id, service.PRIORITY, now)
    asked = await db.write(lambda conn: service.ask(conn, tenant_id=tenant_id, campaign_id=campaign_id,
                                                    user_id=user_id, text=text, priority=priority, now=now),
                           isolated=True)
    room.touch(tenant_id, campaign_id)  # the queue's head may have changed
    return asked


@router.post("/v1/questions", status_code=201, response_model=QuestionRead,
             summary="A viewer asks the host a question, with their viewer token")
async def ask_as_viewer(body: ViewerQuestion, db: Db, campaigns: Campaigns, signing: SigningDep, room: Room) -> dict:
    """401 for a missing, expired or forged token; 422 for an empty text or one of 2,000 characters or more.
    Holders of the `priority_question` privilege come first in the host's queue."""
    viewer = verify(signing.key, body.token, now=clock.now_ms())
    return await _ask(db, campaigns, room, viewer.tenant_id, viewer.campaign_id, viewer.user_id, body.text)


@router.post("/v1/campaigns/{cid}/questions", status_code=201, response_model=QuestionRead,
             summary="Ask the host a question on a viewer's behalf")
async def ask(cid: str, body: QuestionCreate, db: Db, campaigns: Campaigns, room: Room,
              tenant: Annotated[Tenant, Depends(current_tenant)]) -> dict:
    return await _ask(db, campaigns, room, tenant.id, cid, body.user_id, body.text)


@router.get("/v1/campaigns/{cid}/questions", response_model=QuestionsRead,
            summary="The host's queue: priority_question holders first, then by time")
async def list_questions(cid: str, db: Db, campaigns: Campaigns, tenant: Annotated[Tenant, Depends(current_tenant)],
                         status: Literal["open", "answered"] = "open",
                         limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict:
    await campaigns.get(tenant.id, cid)  # 404 for another tenant's campaign
    found = await db.read(lambda conn: service.queue(conn, tenant_id=tenant.id, campaign_id=cid, status=status,
                                                     limit=limit))
    return {"questions": found}


@router.post("/v1/campaigns/{cid}/questions/{qid}/answer", response_model=QuestionRead,
             summary="Mark a question answered (it leaves the queue)")
async def answer(cid: str, qid: str, db: Db, campaigns: Campaigns, room: Room,
                 tenant: Annotated[Tenant, Depends(current_tenant)]) -> dict:
    """409 `question.answered` when it was answered already."""
    await campaigns.get(tenant.id, cid)
    now = clock.now_ms()
    done = await db.write(lambda conn: service.answer(conn, tenant_id=tenant.id, campaign_id=cid, question_id=qid,
                                                      now=now), isolated=True)
    room.touch(tenant.id, cid)
    return done
