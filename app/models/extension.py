"""A postponement (연기) of a request's deadline: an event with a reason and a new date."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, String
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class Extension(SQLModel, table=True):
    __tablename__ = "extension"

    id: str = Field(primary_key=True, max_length=32)
    request_id: str = Field(
        sa_column=Column(
            String(32), ForeignKey("request.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    previous_due_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    new_due_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    reason_enc: str | None = None  # None once the request is purged
    extended_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    extended_by: str = Field(max_length=80)
