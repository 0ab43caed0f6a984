"""What happened to a request, in order: shown to the subject and to staff. No personal data."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class TimelineEvent(SQLModel, table=True):
    __tablename__ = "timeline_event"
    __table_args__ = (Index("ix_timeline_event_request_id_at", "request_id", "at"),)

    id: str = Field(primary_key=True, max_length=32)
    request_id: str = Field(
        sa_column=Column(String(32), ForeignKey("request.id", ondelete="CASCADE"), nullable=False)
    )
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    kind: str = Field(max_length=40)
    from_status: str | None = Field(default=None, max_length=24)
    to_status: str | None = Field(default=None, max_length=24)
    actor: str = Field(max_length=80)
    note: str | None = Field(default=None, max_length=2000)
