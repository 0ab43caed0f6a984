"""The transmission log (전송 내역, PIPA Art. 35-2): every transmission of a subject's data,
kept 3 years (pipa.md). No personal data: which request, when, to whom (the subject), in what
format, which categories, and the SHA-256 of what was sent, so the transfer can be proven."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, ForeignKey, String
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class TransmissionLog(SQLModel, table=True):
    __tablename__ = "transmission_log"

    id: str = Field(primary_key=True, max_length=32)
    request_id: str = Field(
        sa_column=Column(
            String(32), ForeignKey("request.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    actor: str = Field(max_length=80)
    recipient: str = Field(max_length=16)  # subject (to a third party: not offered yet)
    format: str = Field(max_length=8)  # json | csv | zip
    categories: list[str] = Field(sa_column=Column(JSON, nullable=False))
    sha256: str = Field(max_length=64)
    size: int
    # Kept until (at least) this moment: 3 years from the transmission.
    keep_until: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
