"""One-time codes that prove the filer holds the e-mail address. Only an HMAC of the code is
stored; a code dies after its time, its wrong tries, or its one use."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class VerificationCode(SQLModel, table=True):
    __tablename__ = "verification_code"
    __table_args__ = (
        Index("ix_verification_code_request_id_created_at", "request_id", "created_at"),
    )

    id: str = Field(primary_key=True, max_length=32)
    request_id: str = Field(
        sa_column=Column(String(32), ForeignKey("request.id", ondelete="CASCADE"), nullable=False)
    )
    code_hash: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    attempts: int = 0
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
