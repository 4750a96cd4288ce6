"""A batch's event ids are checked against the log before the campaign's lock is taken
(events/ingest.py), so that the lock is held for less. An event that another process logs between
that check and the lock must still be found a duplicate: two processes on one PostgreSQL database,
in one event loop, the second logging the first's event at exactly that moment."""

from __future__ import annotations

import pytest

from liveloop.events.models import events
from tests.two_processes import NOW, reservation, two_processes

pytestmark = pytest.mark.service


def test_an_event_logged_by_another_process_after_the_check_is_a_duplicate_under_the_lock():
    with two_processes() as (loop, a, b):
        checked = a.ingestor._store.logged_ids
        asked = []

        async def check_then_let_b_log_it(tenant_id, ids):
            found = await checked(tenant_id, ids)
            if not asked:  # the check before the lock: b logs the same event right after it
                result = await b.ingestor.ingest("t1", [reservation("e1", "budi")], now=NOW)
                assert result.accepted == 1
            asked.append(list(ids))
            return found

        a.ingestor._store.logged_ids = check_then_let_b_log_it
        result = loop.run_until_complete(a.ingestor.ingest("t1", [reservation("e1", "budi"),
                                                                  reservation("e2", "ani")], now=NOW))
        assert (result.accepted, result.duplicates, result.rejected) == (1, 1, [])
        assert len(asked) == 2  # asked again under the lock: the campaign had caught up with b's event
        ids = loop.run_until_complete(a.db.read(
            lambda conn: [row.id for row in conn.execute(events.select().order_by(events.c.seq))]))
        assert ids.count("e1") == 1 and "e2" in ids
