"""The request being served, as log lines see it: its id, and its tenant once some handler knows it.

Each request runs in a task of its own, which copies the context: what is set here stays with the
request, the code it awaits and the worker threads it hands work to.
"""

from __future__ import annotations

from contextvars import ContextVar


class Request:
    __slots__ = ("id", "tenant_id", "status")

    def __init__(self, request_id: str) -> None:
        self.id = request_id
        self.tenant_id: str | None = None
        self.status: int | None = None


CURRENT: ContextVar[Request | None] = ContextVar("liveloop_request", default=None)


def note_tenant(tenant_id: str) -> None:
    """The request being served acts for this tenant (an API key, a viewer or room token, a share code)."""
    request = CURRENT.get()
    if request is not None:
        request.tenant_id = tenant_id


def current_request_id() -> str | None:
    request = CURRENT.get()
    return request.id if request is not None else None
