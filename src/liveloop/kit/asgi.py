"""Bare ASGI helpers for the hot paths (share link, ingestion), which skip the framework."""

from __future__ import annotations

import orjson

from liveloop.kit.errors import LiveloopError, TooLarge


def header(scope: dict, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return ""


async def send_response(send, status: int, body: bytes, content_type: bytes, extra: list | None = None) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if extra:
        headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_json(send, status: int, payload: object) -> None:
    await send_response(send, status, orjson.dumps(payload), b"application/json")


async def send_error(send, exc: LiveloopError, extra: list | None = None) -> None:
    """A domain error in the SPEC's shape, with the headers it carries (a 429's `Retry-After`)."""
    headers = [*exc.headers(), *(extra or ())]
    await send_response(send, exc.status, orjson.dumps(exc.body()), b"application/json", headers)


async def read_body(scope: dict, receive, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes `limit` bytes (or declares more)."""
    declared = header(scope, b"content-length")
    # ASCII digits only ("²" is a digit to str.isdigit), and no int() of thousands of them.
    if declared.isascii() and declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
        raise TooLarge(f"body over {limit} bytes")
    chunks = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise LiveloopError("client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"body over {limit} bytes")
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def replay(body: bytes, receive):
    """A `receive` that hands the app a body already read, then passes on (disconnects)."""
    sent = False

    async def again() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again
