"""The only module that reads the wall clock; everything else is handed `now`."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def now() -> datetime:
    return datetime.now(UTC)


def monotonic() -> float:
    return time.monotonic()
