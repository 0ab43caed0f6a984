"""Idempotency keys of integration writes (IETF httpapi Idempotency-Key draft).

The unique (client_id, key) constraint decides which of several parallel calls with one key
does the work, across every API process; the others find its row. `in_flight` rows carry a
claim token and a lease, so a call that died mid-way does not block its key for 24 hours."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class IdempotencyKey(SQLModel, table=True):
    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("client_id", "key", name="uq_idempotency_key_client_key"),)

    id: str = Field(primary_key=True, max_length=32)
    client_id: str = Field(
        sa_column=Column(
            String(32), ForeignKey("api_client.id", ondelete="CASCADE"), nullable=False
        )
    )
    key: str = Field(max_length=255)
    # SHA-256 of the canonical JSON of the body: the same key with another body is refused.
    fingerprint: str = Field(max_length=64)
    state: str = Field(max_length=12)  # in_flight | done
    claim_token: str | None = Field(default=None, max_length=32)
    locked_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    response_status: int | None = None
    response_enc: str | None = None  # the first response's body, replayed (encrypted)
    request_id: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
