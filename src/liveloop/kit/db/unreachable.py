"""A database that cannot be reached, as the client sees it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from liveloop.kit.errors import Unavailable


@contextmanager
def unreachable_as_unavailable() -> Iterator[None]:
    """A database that cannot be reached is a 503 the client retries, not a server error."""
    try:
        yield
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        raise Unavailable("the database is unreachable at the moment; nothing was stored, retry") from exc
