"""Fixed-window counters for rate limits, shared by every API process: one row per limit, key
and window, counted by an atomic upsert (INSERT … ON CONFLICT DO UPDATE … RETURNING), so N
processes racing on one key count exactly N. Keys are keyed hashes, never an address or an
e-mail in clear."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, PrimaryKeyConstraint, String
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class RateLimitBucket(SQLModel, table=True):
    __tablename__ = "rate_limit_bucket"
    __table_args__ = (
        PrimaryKeyConstraint("name", "key", "window_start", name="pk_rate_limit_bucket"),
        Index("ix_rate_limit_bucket_expires_at", "expires_at"),
    )

    name: str = Field(sa_column=Column(String(40), nullable=False))  # e.g. "code_check"
    key: str = Field(sa_column=Column(String(64), nullable=False))  # HMAC of ip or identifier
    window_start: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    count: int = 0
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
