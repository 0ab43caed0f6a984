"""A deadline reminder sent to staff: one row per request, kind and deadline, so each is sent
once however many workers run (the unique constraint decides who sends it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class Reminder(SQLModel, table=True):
    __tablename__ = "reminder"
    __table_args__ = (UniqueConstraint("request_id", "kind", "due_at"),)

    id: str = Field(primary_key=True, max_length=32)
    request_id: str = Field(
        sa_column=Column(String(32), ForeignKey("request.id", ondelete="CASCADE"), nullable=False)
    )
    kind: str = Field(max_length=16)  # e.g. due_in_3, due_in_1, overdue
    # The deadline it was about: an extension moves due_at, and the reminders start again.
    due_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    sent_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
