"""POST /v1/events: batch ingestion. A bare ASGI handler on the hot path."""

from __future__ import annotations

from liveloop.events.ingest import Ingestor
from liveloop.events.validate import decode_batch, split_batch
from liveloop.kit import clock
from liveloop.kit.asgi import header, read_body, send_error, send_json
from liveloop.kit.db.writer import WriterFailed
from liveloop.kit.errors import BadRequest, LiveloopError, MethodNotAllowed, TooLarge, Unavailable
from liveloop.tenants.auth import ApiKeys
from liveloop.tenants.scopes import WRITE


class EventsEndpoint:
    def __init__(self, api_keys: ApiKeys, ingestor: Ingestor, *, max_body_bytes: int, max_batch_events: int) -> None:
        self._api_keys = api_keys
        self._ingestor = ingestor
        self._max_body_bytes = max_body_bytes
        self._max_batch_events = max_batch_events

    async def __call__(self, scope, receive, send) -> None:
        try:
            if scope["method"] != "POST":
                raise MethodNotAllowed("use POST")
            tenant = await self._api_keys.tenant(header(scope, b"authorization") or None, need=WRITE)
            body = await read_body(scope, receive, self._max_body_bytes)
            batch = _decode(body)
            if len(batch) > self._max_batch_events:
                raise TooLarge(f"at most {self._max_batch_events} events per batch", field="events")
            result = await self._ingestor.ingest(tenant.id, batch, now=clock.now_ms())
        except LiveloopError as exc:
            await send_error(send, exc)
            return
        except WriterFailed:
            await send_error(send, Unavailable("the batch was not stored; send it again"))
            return
        await send_json(send, 200, result.as_dict())


def _decode(body: bytes) -> list:
    try:
        batch = decode_batch(body)
        return batch if batch is not None else split_batch(body)
    except RecursionError:
        # msgspec follows nesting with the interpreter's stack: deeper than it is no event's shape.
        raise BadRequest("body is nested too deeply to be a batch of events") from None
