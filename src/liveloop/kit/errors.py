"""Domain errors: each carries its HTTP status and is rendered by one handler (app.py)."""

from __future__ import annotations


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
    status = 429
    code = "too_many_requests"
