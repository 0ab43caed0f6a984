"""Webhook endpoints registered by the CPO: where events about requests and tasks are sent.

The signing secret is kept encrypted (it must be read to sign). After a rotation the previous
secret signs beside the new one until `previous_secret_until`, so receivers can switch over."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoint"

    id: str = Field(primary_key=True, max_length=32)
    url: str = Field(max_length=2048)
    events: list[str] = Field(sa_column=Column(JSON, nullable=False))
    # A processor's endpoint: only its system's tasks, and the requests they belong to.
    system: str | None = Field(default=None, max_length=40, index=True)
    description: str | None = Field(default=None, max_length=200)
    secret_enc: str
    previous_secret_enc: str | None = None
    previous_secret_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    active: bool = True
    disabled_reason: str | None = Field(default=None, max_length=80)  # e.g. "410 Gone"
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    created_by: str = Field(max_length=80)
