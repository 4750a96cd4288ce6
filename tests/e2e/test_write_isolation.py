"""A tenant whose batches cannot be stored never fails another tenant's writes (real server, both backends).

The database itself refuses the poisoned tenant's rows (a trigger stands in for any value a column
cannot hold); its batches are refused with a 503 while the other tenant's, sent at the same time
and committed in the same groups, all succeed and its campaign's state is never rebuilt.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

from liveloop.kit.db.dialect import create_engine
from tests.e2e.helpers import campaign, during, event, post_ok
from tests.support import Server, create_tenant

SQLITE_TRIGGER = ["""
CREATE TRIGGER poison BEFORE INSERT ON events WHEN substr(NEW.user_id, 1, 6) = 'poison'
BEGIN SELECT RAISE(ABORT, 'poisoned row'); END
"""]
POSTGRESQL_TRIGGER = ["""
CREATE FUNCTION poison() RETURNS trigger AS $$
BEGIN
  IF left(NEW.user_id, 6) = 'poison' THEN RAISE EXCEPTION 'poisoned row'; END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql
""", "CREATE TRIGGER poison BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION poison()"]

BATCHES = 40  # per sender
SIZE = 20


def poison_rows(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in POSTGRESQL_TRIGGER if engine.dialect.name == "postgresql" else SQLITE_TRIGGER:
            conn.exec_driver_sql(statement)
    engine.dispose()


def test_a_tenant_whose_writes_fail_does_not_fail_another(new_database, tmp_path):
    url = new_database("isolation")
    healthy_key = create_tenant(url, "healthy")  # migrates the database
    poisoned_key = create_tenant(url, "poisoned")
    poison_rows(url)
    log = tmp_path / "server.log"
    srv = Server(url, log_path=log).start()
    try:
        with srv.client(healthy_key) as healthy, srv.client(poisoned_key) as poisoned:
            post_ok(healthy, "/v1/campaigns", campaign("shop-h"))
            post_ok(poisoned, "/v1/campaigns", campaign("shop-p"))
        counter = itertools.count()

        def send(key: str, cid: str, user: str) -> list[int]:
            statuses = []
            with srv.client(key) as c:
                for _ in range(BATCHES):
                    n = next(counter)
                    batch = [event(f"e{n}-{i}", "click", cid, f"{user}{i}", during(1)) for i in range(SIZE)]
                    response = c.post("/v1/events", json={"events": batch})
                    statuses.append(response.status_code)
                    if response.status_code == 200:
                        assert response.json()["accepted"] == SIZE, response.text
            return statuses

        with ThreadPoolExecutor(max_workers=8) as pool:
            healthy_runs = [pool.submit(send, healthy_key, "shop-h", "viewer") for _ in range(5)]
            poisoned_runs = [pool.submit(send, poisoned_key, "shop-p", "poison") for _ in range(3)]
            healthy_statuses = [s for run in healthy_runs for s in run.result()]
            poisoned_statuses = [s for run in poisoned_runs for s in run.result()]

        assert set(poisoned_statuses) == {503}  # the poisoned batches are refused, with "send it again"
        assert healthy_statuses.count(200) == len(healthy_statuses), sorted(set(healthy_statuses))
        with srv.client(healthy_key) as c:
            clicks = c.get("/v1/campaigns/shop-h/report").json()["funnel"]["clicks"]
            assert clicks == 5 * BATCHES * SIZE
    finally:
        srv.stop()
    rebuilt = [line for line in log.read_text().splitlines() if "rebuilt from the log" in line]
    assert rebuilt and all("/shop-p" in line for line in rebuilt), rebuilt
    assert not any("shop-h" in line or "every campaign" in line for line in rebuilt)
