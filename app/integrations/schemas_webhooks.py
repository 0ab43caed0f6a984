"""Bodies and views of webhook endpoints and their deliveries (staff, CPO only)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.core.validation import Line, StrictBody
from app.events.record import EVENT_TYPES

EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]


class WebhookCreate(StrictBody):
    url: Line(2048) = Field(
        description="Where events are POSTed: an `https://` URL on the public internet (private, "
        "loopback and link-local addresses are refused, and `http://` in production, unless "
        "RIGHTSDESK_WEBHOOK_ALLOW_PRIVATE is set).",
        examples=["https://hooks.example.com/rights-desk"],
    )
    events: list[EventType] = Field(
        min_length=1,
        max_length=20,
        description="The event types to send: " + ", ".join(f"`{e}`" for e in EVENT_TYPES) + ".",
    )
    system: Line(40) | None = Field(
        None,
        description="A processor's or system's endpoint (a key of the profile's `processors` or "
        "`systems`): it gets only the task events of that system and the request events of "
        "requests with a task of that system. Without it, every subscribed event.",
    )
    description: Line(200) | None = None


class WebhookPublic(BaseModel):
    id: str
    url: str
    events: list[str]
    system: str | None
    description: str | None
    active: bool = Field(description="False once the receiver answered 410 Gone.")
    disabled_reason: str | None
    created_at: datetime
    # While set (and in the future), deliveries carry a signature by the previous secret too.
    previous_secret_until: datetime | None


class WebhookCreated(WebhookPublic):
    secret: str = Field(
        description="The signing secret (`whsec_…`), shown only now: verify each delivery with "
        "it and the `standardwebhooks` library."
    )


class WebhookList(BaseModel):
    items: list[WebhookPublic]
    next_cursor: str | None


class SecretRotated(BaseModel):
    id: str
    secret: str = Field(description="The new signing secret (`whsec_…`), shown only now.")
    previous_secret_until: datetime | None = Field(
        description="Until then every delivery carries two signatures (`v1,<new> v1,<old>`), so "
        "receivers can switch over."
    )


class DeliveryPublic(BaseModel):
    id: str = Field(description="The `webhook-id` header: the same on every attempt.")
    event_type: str
    request_id: str | None
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status_code: int | None
    last_error: str | None = Field(description="Why the last attempt failed (never a body).")
    next_attempt_at: datetime | None = Field(description="When it is tried next (pending only).")
    created_at: datetime
    delivered_at: datetime | None


class DeliveryList(BaseModel):
    items: list[DeliveryPublic]
    next_cursor: str | None
