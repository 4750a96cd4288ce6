"""A database that cannot be reached, as the client sees it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from liveloop.kit.errors import Unavailable
from liveloop.ops import metrics

log = logging.getLogger("liveloop.database")

_away = False  # this process last found the database unreachable (the outage and recovery are logged once)


@contextmanager
def unreachable_as_unavailable() -> Iterator[None]:
    """A database that cannot be reached is a 503 the client retries, not a server error."""
    global _away
    try:
        yield
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        if not _away:
            _away = True
            metrics.DATABASE_UP.set(0)
            log.warning("the database is unreachable (%s); requests that need it answer 503",
                        exc.__class__.__name__, extra={"event": "database_away"})
        raise Unavailable("the database is unreachable at the moment; nothing was stored, retry") from exc
    if _away:
        _away = False
        metrics.DATABASE_UP.set(1)
        log.warning("the database is reachable again", extra={"event": "database_back"})
