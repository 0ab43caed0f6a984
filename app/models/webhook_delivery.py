"""The webhook outbox: one row per event and endpoint, written in the business transaction
and delivered by a worker under a claim token and a lease (as notices are). The payload holds
ids, the reference, types and statuses, never personal data. The row's id is the Standard
Webhooks `webhook-id`, the same on every attempt, so receivers can drop a repeat."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String, Text
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class WebhookDelivery(SQLModel, table=True):
    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_delivery_endpoint_id_created_at", "endpoint_id", "created_at"),
    )

    id: str = Field(primary_key=True, max_length=32)
    endpoint_id: str = Field(
        sa_column=Column(
            String(32), ForeignKey("webhook_endpoint.id", ondelete="CASCADE"), nullable=False
        )
    )
    event_type: str = Field(max_length=40)
    request_id: str | None = Field(default=None, max_length=32, index=True)
    payload: str = Field(sa_column=Column(Text, nullable=False))  # the JSON body, as signed
    status: str = Field(default="pending", max_length=12)  # pending | delivered | failed
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=200)
    claim_token: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
