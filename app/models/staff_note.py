"""A staff member's note on a request (how identity was checked, what completion involved).
It may hold personal data, so it is stored encrypted and shown only to staff."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, String
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class StaffNote(SQLModel, table=True):
    __tablename__ = "staff_note"

    id: str = Field(primary_key=True, max_length=32)
    request_id: str = Field(
        sa_column=Column(
            String(32), ForeignKey("request.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    kind: str = Field(max_length=24)  # verification | completion
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    author: str = Field(max_length=80)  # actor label, e.g. "staff:usr_…"
    text_enc: str | None = None  # None once the request is purged
