"""An objection (이의제기, PIPA Art. 38(5)) to a refusal or partial grant, a rejection (identity
or authority not confirmed), or an extension."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, String
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class Objection(SQLModel, table=True):
    __tablename__ = "objection"

    id: str = Field(primary_key=True, max_length=32)
    request_id: str = Field(
        sa_column=Column(
            String(32), ForeignKey("request.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    kind: str = Field(
        default="decision",
        sa_column=Column(String(16), nullable=False, server_default="decision"),
    )  # decision | rejection | extension: what is objected to
    decision_id: str | None = Field(
        default=None,
        sa_column=Column(String(32), ForeignKey("decision.id", ondelete="CASCADE")),
    )
    extension_id: str | None = Field(
        default=None,
        sa_column=Column(String(32), ForeignKey("extension.id", ondelete="CASCADE")),
    )
    reason_enc: str | None = None  # None once the request is purged
    filed_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    resolved_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
