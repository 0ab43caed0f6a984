"""The monthly review of the access record (접속기록 점검, PIPC safety-measures standard:
at least once a month): who reviewed which month, when, and what they noted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class AuditReview(SQLModel, table=True):
    __tablename__ = "audit_review"

    id: str = Field(primary_key=True, max_length=32)
    month: str = Field(sa_column=Column(String(7), nullable=False, unique=True))  # YYYY-MM
    reviewed_by: str = Field(max_length=80)
    reviewed_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    note_enc: str | None = None  # may name people: encrypted
