"""Staff sessions: one row per log-in, for the API (refresh tokens) and the console (a cookie)
alike. A session slides while it is used — each refresh moves `last_used_at` — up to
`ends_at` (the absolute limit), and ends at once on log-out, deactivation, role change or a
password reset (`ended_at`, `ended_reason`). Only a keyed hash of the current secret (the
refresh token, or the console's cookie) is kept, never the secret itself (PIPC
safety-measures standard: authentication secrets stored one-way)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class StaffSession(SQLModel, table=True):
    __tablename__ = "staff_session"
    __table_args__ = (Index("ix_staff_session_user_id_ended_at", "user_id", "ended_at"),)

    id: str = Field(primary_key=True, max_length=32)
    user_id: str = Field(sa_column=Column(String(32), ForeignKey("staff_user.id"), nullable=False))
    kind: str = Field(max_length=8)  # api (refresh tokens) | console (a cookie)
    # HMAC-SHA256 (hex) of the current secret; replaced on every rotation, compared and set
    # in one statement so that a spent secret can never rotate twice.
    secret_hash: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    last_used_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    ends_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))  # absolute limit
    ended_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    # logout | idle | expired | refresh_token_reuse | deactivated | role_changed |
    # password_reset
    ended_reason: str | None = Field(default=None, max_length=32)
