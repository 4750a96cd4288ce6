"""Log lines: for people (`text`) or one JSON object per line (`json`), LIVELOOP_LOG_FORMAT, at LIVELOOP_LOG_LEVEL.

Every line has `time` (UTC, milliseconds), `level`, `logger` and `message`; a line written while a
request is served has its `request_id`; notable events (writer failures, outages and recoveries,
replays, shutdown) name themselves in `event` and add their own fields, given as `extra=` to the
logging call. docs/operations.md lists them. No personal data is logged: no display name, email or
client address, and requests are named by their route template, never by a path or query (share
codes, viewer tokens).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable

import orjson

from liveloop.ops.context import current_request_id

FORMATS = ("text", "json")
LEVELS = ("debug", "info", "warning", "error", "critical")

# What every LogRecord has; anything else on a record was given as `extra=` and is a field of the line.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "color_message"}


class Stamp:
    """ISO 8601 UTC times with milliseconds: the date and time of day formatted once per second, the whole
    once per millisecond (request lines come many to a millisecond under load)."""

    __slots__ = ("_second", "_prefix", "_milli", "_text")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""
        self._milli = -1
        self._text = ""

    def __call__(self, at: float) -> str:
        milli = int(at * 1000)
        if milli == self._milli:
            return self._text
        second = milli // 1000
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        self._milli = milli
        self._text = text = f"{self._prefix}.{milli % 1000:03d}Z"
        return text


def fields_of(record: logging.LogRecord) -> dict:
    """A record's own fields: its `extra=` values and the request it was written for."""
    fields = {key: value for key, value in vars(record).items() if key not in _STANDARD}
    request_id = current_request_id()
    if request_id is not None:
        fields.setdefault("request_id", request_id)
    return fields


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._stamp = Stamp()

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": self._stamp(record.created), "level": record.levelname.lower(), "logger": record.name,
                "message": record.getMessage(), **fields_of(record)}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._stamp = Stamp()

    def format(self, record: logging.LogRecord) -> str:
        line = f"{self._stamp(record.created)} {record.levelname} {record.name}: {record.getMessage()}"
        fields = fields_of(record)
        if fields:
            line += " " + " ".join(f"{key}={value}" for key, value in fields.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class Handler(logging.StreamHandler):
    """Standard error, after whatever waits to be written before any record (the buffered request lines)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.before: Callable[[], None] | None = None

    def handle(self, record: logging.LogRecord) -> bool:
        before = self.before
        if before is not None:
            # Before taking the handler's lock, not under it: `before` may wait for a tally on another
            # thread, and a finalizer that logs during that tally needs the lock.
            before()
        return super().handle(record)


_HANDLER: Handler | None = None


def write_before_records(flush: Callable[[], None] | None) -> None:
    """`flush` writes what must precede any record in the log: a record is then written at once, in order."""
    if _HANDLER is not None:
        _HANDLER.before = flush


def configure(log_format: str, level: str) -> None:
    """Every logger of the process (uvicorn's included) writes through one handler on stderr."""
    if log_format not in FORMATS:
        raise ValueError(f"LIVELOOP_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {log_format!r}")
    if level.lower() not in LEVELS:
        raise ValueError(f"LIVELOOP_LOG_LEVEL must be one of {', '.join(LEVELS)}, not {level!r}")
    global _HANDLER
    handler = _HANDLER = Handler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        named = logging.getLogger(name)
        named.handlers.clear()
        named.propagate = True
