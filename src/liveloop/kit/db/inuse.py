"""Who holds an SQLite database file: a lock file beside it (`<file>.lock`).

Every `liveloop serve` on an SQLite file holds a shared lock on it for as long as it runs. `liveloop
demo`, which deletes its file to start afresh, first takes the lock exclusively, without waiting, and
refuses when it cannot: a server whose file is deleted under it goes on acknowledging writes into a
file nobody will ever read again. These are POSIX record locks: the system drops them when the
process ends, however it ends (kill -9 included), and an exclusive one turns shared without ever
being let go, so no other demo can slip in between.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import sqlalchemy as sa

try:
    import fcntl
except ImportError:  # not a POSIX system: nothing is locked
    fcntl = None


class InUse(Exception):
    """Another process holds the database file."""


class DatabaseLock:
    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + ".lock")
        self._fd: int | None = None

    def exclusive(self) -> None:
        """Hold the file alone, or raise InUse at once."""
        if fcntl is None:
            return
        try:
            fcntl.lockf(self._open(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EAGAIN):
                raise InUse(str(self.path)) from None
            raise

    def shared(self) -> None:
        """Hold the file beside other servers; waits while a demo holds it alone to start afresh."""
        if fcntl is None:
            return
        fcntl.lockf(self._open(), fcntl.LOCK_SH)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _open(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        return self._fd


def sqlite_lock(database_url: str) -> DatabaseLock | None:
    """The lock of an SQLite database file; None for PostgreSQL or an in-memory database."""
    url = sa.engine.make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return DatabaseLock(Path(url.database))
