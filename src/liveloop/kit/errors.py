"""Domain errors: each carries its HTTP status and is rendered by one handler (app.py)."""

from __future__ import annotations

import math


class LiveloopError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}

    def headers(self) -> list[tuple[bytes, bytes]]:
        """Response headers that go with the error: none, but a 429's `Retry-After`."""
        return []


class BadRequest(LiveloopError):
    status = 400
    code = "bad_request"


class Unauthorized(LiveloopError):
    status = 401
    code = "unauthorized"


class NotFound(LiveloopError):
    status = 404
    code = "not_found"


class Conflict(LiveloopError):
    status = 409
    code = "conflict"


class TooLarge(LiveloopError):
    status = 413
    code = "too_large"


class Invalid(LiveloopError):
    status = 422
    code = "invalid"


class Unavailable(LiveloopError):
    status = 503
    code = "unavailable"


class MethodNotAllowed(LiveloopError):
    status = 405
    code = "method_not_allowed"


class TooManyRequests(LiveloopError):
    """A limit was reached. Every 429 says in how many seconds (at least one) to try again
    (SPEC section 14), so whoever raises it must know: there is no default."""

    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: float, code: str | None = None, field: str | None = None):
        super().__init__(message, code=code, field=field)
        self.retry_after = max(1, math.ceil(retry_after))

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [(b"retry-after", str(self.retry_after).encode())]


class Forbidden(LiveloopError):
    status = 403
    code = "forbidden"
