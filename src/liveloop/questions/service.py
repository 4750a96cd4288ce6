"""Questions to the host, with a queue where holders of the `priority_question` privilege come first.

Questions change no reward, so they are rows of their own rather than logged events: every process
reads the same queue from the database. Whether a question has priority is decided when it is
asked, from the asker's rewards in the campaign's state (an available `privilege` named
`priority_question`).
"""

from __future__ import annotations

import re
import secrets

import sqlalchemy as sa

from liveloop.engine.state import CampaignState
from liveloop.kit.db import keyset
from liveloop.kit.db.database import Database
from liveloop.kit.errors import Conflict, Invalid, NotFound
from liveloop.kit.times import iso
from liveloop.questions.models import questions

PRIORITY = "priority_question"
q = questions.c


def holds(state: CampaignState, user_id: str, privilege: str, now: int) -> bool:
    """Whether the user holds an available `privilege` reward of that name in the campaign."""
    return any(r.spec.kind == "privilege" and r.spec.name == privilege and r.status_at(now) == "available"
               for r in state.rewards_by_user.get(user_id, ()))


def _read(row) -> dict:
    """A question (a result row's mapping) as the API shows it."""
    return {"id": row["id"], "user_id": row["user_id"], "text": row["text"], "priority": bool(row["priority"]),
            "asked_at": iso(row["asked_at"]), "status": row["status"],
            "answered_at": iso(row["answered_at"]) if row["answered_at"] is not None else None}


_COLUMNS = (q.id, q.user_id, q.text, q.priority, q.asked_at, q.status, q.answered_at)


def ask(conn: sa.Connection, *, tenant_id: str, campaign_id: str, user_id: str, text: str, priority: bool,
        now: int) -> dict:
    qid = "q_" + secrets.token_hex(8)
    conn.execute(questions.insert().values(tenant_id=tenant_id, campaign_id=campaign_id, id=qid, user_id=user_id,
                                           text=text, priority=priority, status="open", asked_at=now))
    return get(conn, tenant_id=tenant_id, campaign_id=campaign_id, question_id=qid)


def get(conn: sa.Connection, *, tenant_id: str, campaign_id: str, question_id: str) -> dict:
    row = conn.execute(sa.select(*_COLUMNS).where(q.tenant_id == tenant_id, q.campaign_id == campaign_id,
                                                  q.id == question_id)).mappings().first()
    if row is None:
        raise NotFound(f"question {question_id!r} not found", code="question.not_found")
    return _read(row)


def queue(conn: sa.Connection, *, tenant_id: str, campaign_id: str, status: str, limit: int) -> list[dict]:
    """Open questions: priority first, then by time. Answered ones: the latest answered first."""
    query = sa.select(*_COLUMNS).where(q.tenant_id == tenant_id, q.campaign_id == campaign_id, q.status == status)
    if status == "open":
        query = query.order_by(q.priority.desc(), q.asked_at, q.id)
    else:
        query = query.order_by(q.answered_at.desc(), q.id)
    return [_read(row) for row in conn.execute(query.limit(limit)).mappings()]


_OPEN_ORDER = ((q.priority, True), (q.asked_at, False), (q.id, False))  # the host's queue: priority, then time
_CURSOR = re.compile(r"^(0|1)\.([0-9]{1,16})\.(q_[0-9a-f]{16})$")


def open_page(conn: sa.Connection, *, tenant_id: str, campaign_id: str, limit: int, cursor: str | None = None,
              before: str | None = None) -> dict:
    """A page of the open queue in its order: the first `limit`, those after `cursor`, or those just before
    `before`; `next_cursor` and `previous_cursor` lead to the neighbouring pages, `open` counts them all."""
    where = (q.tenant_id == tenant_id, q.campaign_id == campaign_id, q.status == "open")
    given = before if before is not None else cursor
    found = keyset.page(conn, sa.select(*_COLUMNS).where(*where), _OPEN_ORDER, limit=limit,
                        position_of=lambda row: (row["priority"], row["asked_at"], row["id"]),
                        at=_read_cursor(given) if given is not None else None, backward=before is not None)
    count = conn.execute(sa.select(sa.func.count()).select_from(questions).where(*where)).scalar_one()
    return {"questions": [_read(row) for row in found.rows], "open": count,
            "next_cursor": _cursor(found.next), "previous_cursor": _cursor(found.previous)}


def _cursor(position: tuple | None) -> str | None:
    return None if position is None else f"{int(bool(position[0]))}.{position[1]}.{position[2]}"


def _read_cursor(cursor: str) -> tuple[bool, int, str]:
    match = _CURSOR.match(cursor)
    if match is None:
        raise Invalid("cursor is not one this console gave", field="cursor")
    return match[1] == "1", int(match[2]), match[3]


def answer(conn: sa.Connection, *, tenant_id: str, campaign_id: str, question_id: str, now: int) -> dict:
    found = get(conn, tenant_id=tenant_id, campaign_id=campaign_id, question_id=question_id)
    if found["status"] != "open":
        raise Conflict(f"question {question_id!r} was answered at {found['answered_at']}",
                       code="question.answered")
    conn.execute(questions.update().where(q.tenant_id == tenant_id, q.campaign_id == campaign_id,
                                          q.id == question_id).values(status="answered", answered_at=now))
    return get(conn, tenant_id=tenant_id, campaign_id=campaign_id, question_id=question_id)


def head_reader(db: Database):
    """For the room stream: `{"question": the queue's head or None, "open_questions": n}`."""

    async def head(tenant_id: str, campaign_id: str) -> dict:
        def read(conn: sa.Connection) -> dict:
            first = queue(conn, tenant_id=tenant_id, campaign_id=campaign_id, status="open", limit=1)
            count = conn.execute(sa.select(sa.func.count()).select_from(questions).where(
                q.tenant_id == tenant_id, q.campaign_id == campaign_id, q.status == "open")).scalar_one()
            return {"question": first[0] if first else None, "open_questions": count}

        return await db.read(read)

    return head
