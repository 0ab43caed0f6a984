"""A hold (policy Art. 3): a category kept past a deletion or suspension while an
investigation or a debt lasts; set and released by staff."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, String
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class Hold(SQLModel, table=True):
    __tablename__ = "hold"

    id: str = Field(primary_key=True, max_length=32)
    request_id: str = Field(
        sa_column=Column(
            String(32), ForeignKey("request.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    category: str = Field(max_length=40)
    kind: str = Field(max_length=16)  # investigation | debt (the profile's retention rules)
    note_enc: str | None = None  # may name the case or the debtor: encrypted
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    created_by: str = Field(max_length=80)
    released_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    released_by: str | None = Field(default=None, max_length=80)
