"""A decision on a request (결정): the outcome, the legal grounds, per-category results.

A re-decision after an objection adds a new row; the newest is the one in force.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, ForeignKey, Index, String
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class Decision(SQLModel, table=True):
    __tablename__ = "decision"
    __table_args__ = (Index("ix_decision_request_id_decided_at", "request_id", "decided_at"),)

    id: str = Field(primary_key=True, max_length=32)
    request_id: str = Field(
        sa_column=Column(String(32), ForeignKey("request.id", ondelete="CASCADE"), nullable=False)
    )
    outcome: str = Field(max_length=20)  # granted | partially_granted | refused
    grounds: list[str] = Field(sa_column=Column(JSON, nullable=False))
    items: list[dict] = Field(
        sa_column=Column(JSON, nullable=False)
    )  # [{category, result, grounds}]
    explanation_enc: str | None = None  # None once the request is purged
    decided_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    decided_by: str = Field(max_length=80)
    # Until when the subject may object (이의제기), from the objection window setting.
    objection_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
