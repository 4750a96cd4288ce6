"""Keyset pages (kit/db/keyset.py) as the console pages the review queue and the host's questions: forward
through every page, back through every page, the same rows as one long read, on SQLite and PostgreSQL."""

from __future__ import annotations

import orjson
import pytest

from liveloop.fraud import repository as reviews
from liveloop.fraud.models import fraud_reviews
from liveloop.kit.db.dialect import create_engine
from liveloop.kit.db.migrate import upgrade
from liveloop.questions import service as questions


def _walk(read, limit: int) -> tuple[list[list[str]], list[list[str]]]:
    """Every page read forward from the first, then every page read back from the last."""
    forward, page = [], read(limit=limit)
    while True:
        forward.append(page["ids"])
        if page["next"] is None:
            break
        assert len(forward) < 100, "paging forward does not end"
        page = read(limit=limit, cursor=page["next"])
    backward = [page["ids"]]
    while page["previous"] is not None:
        assert len(backward) < 100, "paging back does not end"
        page = read(limit=limit, before=page["previous"])
        backward.append(page["ids"])
    return forward, backward[::-1]


@pytest.fixture
def engine(new_database):
    url = new_database("keyset")
    upgrade(url)
    return create_engine(url)


def test_reviews_page_forward_and_back_through_ties_of_risk(engine):
    risks = [100, 60, 60, 60, 90, 60, 30, 60, 100, 60, 60]  # many ties: the id decides among them
    rows = [{"id": f"rv_{i:024x}", "tenant_id": "t", "campaign_id": "c", "referrer": "r", "referee": f"f{i}",
             "risk": risk, "signals": orjson.dumps([]).decode(), "status": "open", "opened_at": i}
            for i, risk in enumerate(risks)]
    with engine.begin() as conn:
        conn.execute(fraud_reviews.insert(), rows)
        everything = [r["id"] for r in reviews.page(conn, tenant_id="t", campaign_id="c", status="open", limit=100,
                                                   cursor=None)[0]]

        def read(*, limit, cursor=None, before=None):
            found, next_cursor, previous = reviews.page(conn, tenant_id="t", campaign_id="c", status="open",
                                                        limit=limit, cursor=cursor, before=before)
            return {"ids": [r["id"] for r in found], "next": next_cursor, "previous": previous}

        for limit in (1, 3, 4, 11):
            forward, backward = _walk(read, limit)
            assert [i for p in forward for i in p] == everything
            assert backward == forward, limit
            assert all(len(p) == limit for p in forward[:-1])
        assert read(limit=3)["previous"] is None
        # A page whose rows were all decided meanwhile still leads back.
        second = read(limit=3, cursor=read(limit=3)["next"])
        conn.execute(fraud_reviews.update().where(fraud_reviews.c.id.in_(second["ids"])).values(status="approved"))
        emptied = read(limit=3, cursor=read(limit=3)["next"])
        assert emptied["ids"] == everything[6:9] and emptied["previous"] is not None
        assert read(limit=3, before=emptied["previous"])["ids"] == everything[:3]


def test_the_open_questions_page_forward_and_back_priority_first(engine):
    with engine.begin() as conn:
        for i in range(17):  # priority askers among them, several asked in the same millisecond
            questions.ask(conn, tenant_id="t", campaign_id="c", user_id=f"u{i}", text="?", priority=i % 4 == 0,
                          now=1_000 + i // 3)
        everything = [q["id"] for q in questions.queue(conn, tenant_id="t", campaign_id="c", status="open",
                                                       limit=100)]

        def read(*, limit, cursor=None, before=None):
            page = questions.open_page(conn, tenant_id="t", campaign_id="c", limit=limit, cursor=cursor,
                                       before=before)
            assert page["open"] == 17
            return {"ids": [q["id"] for q in page["questions"]], "next": page["next_cursor"],
                    "previous": page["previous_cursor"]}

        for limit in (1, 4, 5, 17):
            forward, backward = _walk(read, limit)
            assert [i for p in forward for i in p] == everything
            assert backward == forward, limit
        with pytest.raises(Exception, match="cursor"):
            read(limit=4, cursor="1.2.q_nothex")
