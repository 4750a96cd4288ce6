"""Validating incoming events one by one: a bad event is rejected alone, with a clear error."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import msgspec

from liveloop.engine.model import EVENT_TYPES, Event
from liveloop.kit.errors import BadRequest, Invalid
from liveloop.kit.ids import printable
from liveloop.kit.limits import AMOUNT_INT_DIGITS
from liveloop.kit.money import AMOUNT_PATTERN, check_currency, to_minor
from liveloop.kit.times import YEAR_RULE, year_in_range


class OrderFields(msgspec.Struct):
    id: str
    amount: str | int | None = None
    currency: str | None = None
    sku: str | None = None
    group_id: str | None = None  # a group buy's id (POST /v1/campaigns/{cid}/groups)


class EventFields(msgspec.Struct):
    """An event's fields with their types only: the slow path decodes each event with it and then
    checks every field itself (`parse_event`), to say what is wrong in its own words."""

    id: str
    type: str
    campaign_id: str
    user_id: str
    at: str
    ref: str | None = None
    device_id: str | None = None
    ip: str | None = None
    order: OrderFields | None = None


def _sized(limit: int, pattern: str | None = None) -> object:
    """Text of 1 to `limit` characters, checked by msgspec while it decodes."""
    return Annotated[str, msgspec.Meta(min_length=1, max_length=limit, pattern=pattern)]


# What POST /v1/events takes, as OpenAPI documents it (openapi_extra.py generates the schema from
# EventBatch): the fast path decodes with these structs, so the documented shape is the one checked.
# They are only ever stricter than `parse_event`: a batch they refuse goes the per-event way and
# gets the same errors as before.
_Amount = (Annotated[str, msgspec.Meta(pattern=AMOUNT_PATTERN, description="a decimal string")]
           | Annotated[int, msgspec.Meta(ge=0, lt=10**AMOUNT_INT_DIGITS)])
_Currency = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]
_At = Annotated[str, msgspec.Meta(description="ISO 8601 with offset; at most 5 minutes in the future",
                                  extra_json_schema={"format": "date-time"})]


class OrderIn(OrderFields):
    id: _sized(128)  # type: ignore[valid-type]
    amount: _Amount | None = None
    currency: _Currency | None = None
    sku: _sized(128) | None = None  # type: ignore[valid-type]
    group_id: _sized(64) | None = None  # type: ignore[valid-type]


# An EventIn's text fields are known to pass `_text`, so `parse_event` skips it. Lengths are
# checked by msgspec. Control characters need no check at all when the body has no backslash, no
# DEL byte and no 0xC2 byte: JSON refuses raw C0 control characters in strings (msgspec too), so
# only an escape could have made one, and a raw C1 control (U+0080..U+009F) is 0xC2 and one more
# byte in UTF-8.
class EventIn(EventFields):
    """One event of a batch; an order event (`order_paid`, `order_refunded`) carries its order."""

    id: _sized(128)  # type: ignore[valid-type]
    type: Literal[EVENT_TYPES]  # type: ignore[valid-type]
    campaign_id: _sized(64)  # type: ignore[valid-type]
    user_id: _sized(128)  # type: ignore[valid-type]
    at: _At
    ref: _sized(64) | None = None  # type: ignore[valid-type]
    device_id: _sized(128) | None = None  # type: ignore[valid-type]
    ip: _sized(64) | None = None  # type: ignore[valid-type]
    order: OrderIn | None = None


# For bodies with escapes: the same, with the control characters checked by msgspec too (slower:
# a regular expression per field). \Z, not $: "$" also matches before a trailing newline.
_PRINTABLE = r"^[^\x00-\x1f\x7f-\x9f]*\Z"


class EscapedOrderIn(OrderIn):
    id: _sized(128, _PRINTABLE)  # type: ignore[valid-type]


class EscapedEventIn(EventIn):
    id: _sized(128, _PRINTABLE)  # type: ignore[valid-type]
    campaign_id: _sized(64, _PRINTABLE)  # type: ignore[valid-type]
    user_id: _sized(128, _PRINTABLE)  # type: ignore[valid-type]
    ref: _sized(64, _PRINTABLE) | None = None  # type: ignore[valid-type]
    device_id: _sized(128, _PRINTABLE) | None = None  # type: ignore[valid-type]
    ip: _sized(64, _PRINTABLE) | None = None  # type: ignore[valid-type]
    order: EscapedOrderIn | None = None


class EventBatch(msgspec.Struct):
    events: list[EventIn]


class EscapedBatch(msgspec.Struct):
    events: list[EscapedEventIn]


class RawBatchIn(msgspec.Struct):
    """The slow path's view: each event kept as its JSON text, decoded on its own by `parse_event`."""

    events: list[msgspec.Raw]


_TYPES = frozenset(EVENT_TYPES)
_plain_decoder = msgspec.json.Decoder(EventBatch)
_escaped_decoder = msgspec.json.Decoder(EscapedBatch)
_raw_decoder = msgspec.json.Decoder(RawBatchIn)
_event_decoder = msgspec.json.Decoder(EventFields)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def decode_batch(body: bytes) -> list | None:
    """The fast path: a well-formed batch decoded and its text fields checked in one pass, in C.

    None when some event does not fit the shape; the caller then decodes the plain JSON and
    validates event by event, so that a bad event is rejected alone.
    """
    plain = b"\\" not in body and b"\x7f" not in body and b"\xc2" not in body
    try:
        return (_plain_decoder if plain else _escaped_decoder).decode(body).events
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None  # the slow path says what is wrong, with the same errors


def split_batch(body: bytes) -> list[msgspec.Raw]:
    """The slow path: a batch's events as raw JSON each, so that `parse_event` judges each alone.

    An event msgspec cannot hold (a number out of range, a value of the wrong type) is then that
    event's error; only a body that is not JSON, or not `{"events": [...]}`, fails the batch.
    """
    try:
        return _raw_decoder.decode(body).events
    except msgspec.ValidationError:
        raise BadRequest('body must be {"events": [...]}', field="events") from None
    except msgspec.DecodeError as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from None


def _text(value: str | None, field: str, limit: int, *, required: bool = True) -> None:
    if value is None:
        if required:
            raise Invalid(f"{field} is required", field=field)
        return
    if not value or len(value) > limit:
        raise Invalid(f"{field} must be 1 to {limit} characters", field=field)
    if not printable(value):
        raise Invalid(f"{field} must not contain control characters", field=field)


def parse_event(raw: object, *, now: int, future_tolerance_ms: int) -> tuple[EventFields, Event]:
    """One raw JSON event to the engine's Event; raises a LiveloopError naming the bad field."""
    checked = isinstance(raw, EventIn)
    if isinstance(raw, EventFields):
        inp = raw
    elif isinstance(raw, msgspec.Raw):
        try:
            inp = _event_decoder.decode(raw)
        except msgspec.ValidationError as exc:
            raise Invalid(str(exc), field=_field_of(str(exc))) from None
    elif isinstance(raw, dict):
        try:
            inp = msgspec.convert(raw, EventFields)
        except msgspec.ValidationError as exc:
            raise Invalid(str(exc), field=_field_of(str(exc))) from None
    else:
        raise Invalid("an event is a JSON object", field=None)
    if not checked:
        _text(inp.id, "id", 128)
    if inp.type not in _TYPES:
        raise Invalid(f"type must be one of {', '.join(EVENT_TYPES)}", field="type")
    if not checked:
        _text(inp.campaign_id, "campaign_id", 64)
        _text(inp.user_id, "user_id", 128)
        _text(inp.ref, "ref", 64, required=False)
        _text(inp.device_id, "device_id", 128, required=False)
        _text(inp.ip, "ip", 64, required=False)
    try:
        moment = datetime.fromisoformat(inp.at)
    except ValueError:
        raise Invalid(f"at is not an ISO 8601 date-time: {inp.at!r}", field="at") from None
    if moment.tzinfo is None:
        raise Invalid("at needs a UTC offset or Z", field="at")
    if not year_in_range(moment):
        raise Invalid(YEAR_RULE, field="at")
    at = (moment - _EPOCH) // _MS  # kit.times.to_ms, without making a timedelta per event
    if at > now + future_tolerance_ms:
        raise Invalid("at lies more than 5 minutes in the future", code="future_event", field="at")
    order_id = amount = currency = sku = group_id = None
    if inp.type in ("order_paid", "order_refunded"):
        order = inp.order
        if order is None:
            raise Invalid(f"an {inp.type} event needs an order", field="order")
        if not checked:
            _text(order.id, "order.id", 128)
            _text(order.sku, "order.sku", 128, required=False)
            _text(order.group_id, "order.group_id", 64, required=False)
        order_id = order.id
        if inp.type == "order_paid":
            sku, group_id = order.sku, order.group_id
        if inp.type == "order_paid" or order.amount is not None:
            currency = check_currency(order.currency, field="order.currency")
            if order.amount is None:
                raise Invalid("order.amount is required", field="order.amount")
            amount = to_minor(order.amount, currency, field="order.amount")
    return inp, Event(inp.id, inp.type, inp.user_id, at, inp.ref, order_id, amount, currency, None, group_id, sku)


_AT_PATH = re.compile(r"at `\$\.([^`]+)`")
_MISSING = re.compile(r"missing required field `([^`]+)`")


def _field_of(message: str) -> str | None:
    # msgspec says "Expected `str`, got `int` - at `$.order.amount`" or "Object missing required
    # field `user_id` - at `$.order`"; report the field as "order.amount" or "order.user_id".
    path = _AT_PATH.search(message)
    missing = _MISSING.search(message)
    parts = [p for p in (path.group(1) if path else None, missing.group(1) if missing else None) if p]
    return ".".join(parts) or None
