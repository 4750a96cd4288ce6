"""Webhook endpoints and deliveries as the API takes and shows them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from liveloop.kit.fields import Lines
from liveloop.webhooks.outbox import TYPES

EventType = Literal[TYPES]  # type: ignore[valid-type]


class WebhookEndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[str, Field(min_length=8, max_length=2048, pattern=r"^[\x21-\x7e]+$",
                              description="https, on a public address (see LIVELOOP_WEBHOOKS_ALLOW_PRIVATE)")]
    events: Annotated[list[EventType], Field(min_length=1, max_length=len(TYPES))] | None = Field(
        default=None, description="the message types to send; every type when omitted")
    description: Lines(500) | None = None


class WebhookEndpointRead(BaseModel):
    id: str
    url: str
    events: list[str] | None
    description: str | None
    created_at: str
    secret: str | None = Field(default=None, description="shown at creation and at rotation only")


class WebhookEndpointList(BaseModel):
    endpoints: list[WebhookEndpointRead]


class SecretRotated(BaseModel):
    id: str
    secret: str
    previous_secret_expires_at: str


class AttemptRead(BaseModel):
    at: str
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryRead(BaseModel):
    message_id: str
    type: str
    status: Literal["pending", "succeeded", "failed"]
    created_at: str
    next_attempt_at: str | None
    attempts: list[AttemptRead]


class DeliveryList(BaseModel):
    deliveries: list[DeliveryRead]
    next_cursor: str | None


class RetryRead(BaseModel):
    message_id: str
    status: Literal["pending"]

