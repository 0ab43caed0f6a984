"""Documents a requester files: a power of attorney (위임장), identity or relationship proof.

The bytes are sealed with a key of their own (AES-256-GCM), and that key is sealed with the
key ring. Destruction erases both (crypto-shredding): what a backup or a freed database page
may still hold cannot be opened without the document key, which no longer exists.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, LargeBinary, String
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class Document(SQLModel, table=True):
    __tablename__ = "document"

    id: str = Field(primary_key=True, max_length=32)
    request_id: str = Field(
        sa_column=Column(
            String(32), ForeignKey("request.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    kind: str = Field(max_length=24)  # power_of_attorney | identity_proof | relationship_proof
    content_type: str = Field(max_length=40)  # decided by magic bytes, never by the client
    size: int
    filename_enc: str | None = None
    key_enc: str | None = None  # the document key, sealed with the ring; None once destroyed
    content_enc: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    uploaded_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    uploaded_by: str = Field(max_length=80)
    destroyed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
