"""The assembled result of a granted access request (열람 결과): what the systems returned,
with what Decree 41① lists beside it. Encrypted; destroyed after RIGHTSDESK_RESULT_TTL_DAYS."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, String
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class AccessResult(SQLModel, table=True):
    __tablename__ = "access_result"

    id: str = Field(primary_key=True, max_length=32)
    request_id: str = Field(
        sa_column=Column(
            String(32),
            ForeignKey("request.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,  # one result per request, whoever assembles it first
        )
    )
    generated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    content_enc: str | None = None  # the result JSON, encrypted; erased when destroyed
    destroyed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
